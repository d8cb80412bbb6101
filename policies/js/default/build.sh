#!/usr/bin/env bash
# Builds the JavaScript port of the default policy into policy.wasm next to
# this script, installing the pinned componentize-js and jco first when
# missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../toolchain.sh
source "$here/../toolchain.sh"
baton_js_toolchain
baton_js_types
baton_js_componentize "$here/.." default/app.js "$here/policy.wasm"
echo "built $here/policy.wasm" >&2
