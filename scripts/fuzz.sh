#!/bin/sh
# Runs every libFuzzer target of fuzz/ for SECONDS each (default 20, what CI runs; 600 is the
# long run), one after the other, starting from the committed seeds (fuzz/corpus/TARGET) and
# what earlier runs on this machine found (build-fuzz/corpus/TARGET). Installs what is
# missing and configures build-fuzz (clang, libFuzzer, ASan + UBSan) when it does not exist.
# Prints one line per target (executions, coverage: cov = edges, ft = features, and any
# crash file) and exits non-zero when a target crashed, leaked, hung or broke an invariant.
# See docs/reliability.md, "Fuzzing".
set -u
cd "$(dirname "$0")/.." || exit 1
seconds=${1:-20}
case $seconds in
'' | *[!0-9]*)
    echo "usage: sh scripts/fuzz.sh [SECONDS per target]" >&2
    exit 2
    ;;
esac
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
hippo_install_deps

targets="room_history music_track user_iq post_text guid push_select config rsm dispatch"
n_targets=9
build="build-fuzz"

configure() {
    log=$(mktemp)
    CC=clang meson setup "$build" --werror -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false -Dintegration=false >"$log" 2>&1 || {
        cat "$log"
        rm -f "$log"
        return 1
    }
    mv "$log" "$build/setup.log"
}

compile() {
    names=""
    for t in $targets; do
        names="$names fuzz/fuzz_$t"
    done
    # shellcheck disable=SC2086
    meson compile -C "$build" $names >"$build/fuzz-compile.log" 2>&1 || {
        cat "$build/fuzz-compile.log"
        return 1
    }
}

# The value after "KEY: " in the last status line of LOG ("#N DONE cov: 12 ft: 34 ...").
status_value() { # LOG KEY
    grep -E '^#[0-9]+' "$1" | tail -1 | sed -n "s/.* $2: \([0-9]*\).*/\1/p"
}

executions() { # LOG
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -1)
    [ -n "$n" ] || n=$(grep -E '^#[0-9]+' "$1" | tail -1 | sed 's/^#\([0-9]*\).*/\1/')
    echo "${n:-0}"
}

total=0
failed=0
run() { # TARGET
    t=$1
    corpus=$build/corpus/$t
    artifacts=$build/artifacts/$t
    log=$build/fuzz-$t.log
    mkdir -p "$corpus" "$artifacts"
    dict=""
    [ -f "fuzz/dict/$t.dict" ] && dict="-dict=fuzz/dict/$t.dict"
    # shellcheck disable=SC2086
    "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 $dict -artifact_prefix="$artifacts/" "$corpus" "fuzz/corpus/$t" \
        >"$log" 2>&1
    rc=$?
    n=$(executions "$log")
    total=$((total + n))
    line=$(printf '%-13s %11s execs  cov %5s  ft %6s' "$t" "$n" "$(status_value "$log" cov)" \
        "$(status_value "$log" ft)")
    if [ $rc -eq 0 ]; then
        echo "$line  ok"
        echo "{\"name\": \"fuzz/$t\", \"result\": \"OK\"}" >>"$testlog"
        return
    fi
    failed=$((failed + 1))
    echo "{\"name\": \"fuzz/$t\", \"result\": \"FAIL\"}" >>"$testlog"
    crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    why=$(grep -E 'invariant violated|runtime error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' \
        "$log" | head -1)
    echo "$line  FAILED (exit $rc): ${why:-see the log}; input ${crash:-none}; log $log"
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if [ ! -d "$build" ]; then
    configure || exit 1
fi
compile || exit 1
# one line per target in meson's testlog.json form, for scripts/test-summary.py
testlog=$build/fuzz-testlog.json
: >"$testlog"
echo "fuzzing each target for ${seconds}s ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores)"
for t in $targets; do
    run "$t"
done
echo "fuzz: $total executions, $failed of $n_targets targets failed"
[ $failed -eq 0 ]
