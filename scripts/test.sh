#!/bin/sh
# The whole test suite: installs what is missing, builds hippod twice (a release build with
# warnings as errors, and an AddressSanitizer + UndefinedBehaviorSanitizer build), runs the
# unit and integration tests (real PostgreSQL, Prosody and ejabberd on loopback) in both, runs
# every fuzz target briefly, and ends with one line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. scripts/deps.sh
hippo_install_deps

build() { # DIR [meson options...]
    dir=$1
    shift
    if [ ! -d "$dir" ]; then
        meson setup "$dir" --werror "$@" >"$dir.setup.log" 2>&1 || {
            cat "$dir.setup.log"
            return 1
        }
    fi
    meson compile -C "$dir"
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for variant in build build-asan; do
    if [ "$variant" = build-asan ]; then
        build "$variant" -Db_sanitize=address,undefined -Db_lundef=false || status=1
    else
        build "$variant" || status=1
    fi
    meson test -C "$variant" --print-errorlogs --num-processes 2 || status=1
done
# every libFuzzer target for 20 s under ASan+UBSan (docs/reliability.md, "Fuzzing")
sh scripts/fuzz.sh 20 || status=1
/usr/bin/python3 scripts/test-summary.py build/meson-logs/testlog.json \
    build-asan/meson-logs/testlog.json build-fuzz/fuzz-testlog.json || status=1
exit $status
