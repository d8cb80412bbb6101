#!/usr/bin/env bash
# Builds the hostile JavaScript test policy into policy.wasm next to this script.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../toolchain.sh
source "$here/../toolchain.sh"
baton_js_toolchain
baton_js_types
baton_js_componentize "$here/.." hostile/app.js "$here/policy.wasm"
echo "built $here/policy.wasm" >&2
