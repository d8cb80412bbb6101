#!/usr/bin/env bash
# Builds the hostile Python test policy into policy.wasm next to this script.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../toolchain.sh
source "$here/../toolchain.sh"
baton_python_toolchain
baton_python_bindings
baton_python_componentize app "$here/policy.wasm" "$here"
echo "built $here/policy.wasm" >&2
