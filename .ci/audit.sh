#!/usr/bin/env bash
# The audit tests' tools: Debian's Chromium, which the history report test
# (tests/e2e/history_report.rs) drives headless to load the HTML report and
# take its screenshot. With BATON_REQUIRE_TOOLS=1 that test fails instead
# of skipping when Chromium is missing. Run as root on Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
    echo "--- audit: installing chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q chromium
fi
chromium --version

