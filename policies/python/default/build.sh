#!/usr/bin/env bash
# Builds the Python port of the default policy into policy.wasm next to
# this script, installing the pinned componentize-py first when missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../toolchain.sh
source "$here/../toolchain.sh"
baton_python_toolchain
baton_python_bindings
baton_python_componentize app "$here/policy.wasm" "$here"
echo "built $here/policy.wasm" >&2
