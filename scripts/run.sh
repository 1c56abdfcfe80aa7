#!/bin/sh
# Runs hippod's main job on a private stack: a throwaway PostgreSQL and a private Prosody on
# loopback ports in a temp dir, the migrations, demo users (passwords printed) and a demo post,
# then hippod in the foreground. Ctrl-C stops everything it started.
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh

say() { printf 'run.sh: %s\n' "$*"; }

# Runs "$@" with its output kept in a log that is shown only if it fails, printing a line at
# every tenth of ninja's "[done/total]" steps, so that the first build (about a minute on
# 2 cores) does not look like a hang. In the foreground, so that Ctrl-C stops it; the status
# goes through a file because POSIX sh has no pipefail.
quiet_with_progress() {
    log=$(mktemp)
    status=$(mktemp)
    { rc=0; "$@" || rc=$?; echo "$rc" >"$status"; } 2>&1 | awk -v out="$log" '
        { print > out }
        match($0, /^\[[0-9]+\/[0-9]+\]/) {
            split(substr($0, 2, RLENGTH - 2), n, "/")
            tenth = int(n[1] * 10 / n[2])
            if (tenth > shown && tenth < 10) {
                shown = tenth
                printf "run.sh:   ... %d%% %s\n", tenth * 10, substr($0, 1, RLENGTH)
                fflush()
            }
        }'
    rc=$(cat "$status" 2>/dev/null || echo 1)
    if [ "$rc" != 0 ]; then
        cat "$log" >&2
        say "FAILED ($rc): $*" >&2
    fi
    rm -f "$log" "$status"
    [ "$rc" = 0 ] || exit 1
}

say "checking the Debian packages hippod needs"
hippo_install_deps
if [ ! -d build ]; then
    say "first run: configuring build/ (meson setup)"
    quiet_with_progress meson setup build
    say "first run: compiling hippod and hippoctl (about a minute; later runs are quick)"
else
    say "compiling what changed in build/"
fi
quiet_with_progress meson compile -C build
say "built; starting PostgreSQL, Prosody and hippod"
exec /usr/bin/python3 scripts/demo.py --build-dir build "$@"
