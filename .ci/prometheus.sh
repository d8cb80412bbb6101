#!/usr/bin/env bash
# The real Prometheus the metrics tests start on loopback (tests/e2e/metrics.rs):
# Debian's `prometheus` package, at the pinned version when the archive
# still has it, else the archive's candidate (said so on stderr). Nothing
# is started here: each test runs its own server with a temporary storage
# directory. Run as root (CI is); a no-op when prometheus is installed.
set -euo pipefail

PINNED="2.42.0+ds-5+deb12u1"

if command -v prometheus >/dev/null 2>&1; then
    prometheus --version 2>&1 | head -n 1
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if apt-cache madison prometheus | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -qxF "$PINNED"; then
    package="prometheus=$PINNED"
else
    echo "prometheus $PINNED is not in the archive; installing its candidate" >&2
    package="prometheus"
fi
# policy-rc.d 101: the package's own service must not start (the tests
# start their own servers; one on :9090 would only be in the way).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    created_policy=1
fi
apt-get install -y -qq --no-install-recommends "$package"
if [ "$created_policy" = 1 ]; then
    rm -f "$policy"
fi
prometheus --version 2>&1 | head -n 1
