#!/bin/sh
# Runs hippod's main job on a private stack: a throwaway PostgreSQL and a private Prosody on
# loopback ports in a temp dir, the migrations, demo users (passwords printed) and a demo post,
# then hippod in the foreground. Ctrl-C stops everything it started.
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh
hippo_install_deps
[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null
exec /usr/bin/python3 scripts/demo.py --build-dir build "$@"
