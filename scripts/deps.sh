#!/bin/sh
# Installs what hippod needs to build and test (Debian 12), or, when not root, prints the
# exact apt-get line to run. Sourced by scripts/test.sh and scripts/run.sh.
# The last line: what tests/integration/test_deployment.py and test_debian_package.py need
# (systemd-sysusers and systemd-analyze, curl as in docs/deployment.md, the package build and
# lintian).
HIPPO_PACKAGES="libstrophe-dev libpq-dev libssl-dev libevent-dev libxml2-dev libinih-dev \
libcmocka-dev meson ninja-build pkg-config gcc postgresql prosody ejabberd python3-slixmpp \
libxml2-utils clang libclang-rt-14-dev prosody-modules \
systemd curl dpkg-dev build-essential debhelper lintian"

hippo_missing_packages() {
    missing=""
    for p in $HIPPO_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    echo "$missing"
}

hippo_install_deps() {
    missing=$(hippo_missing_packages)
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages:$missing" >&2
        echo "run as root:" >&2
        echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y$missing" >&2
        exit 1
    fi
    echo "installing:$missing"
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
}
