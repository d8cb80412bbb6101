#!/usr/bin/env bash
# Policies in Python and JavaScript: installs the pinned toolchains (cached
# under target/polyglot), builds both ports of the default policy and the
# hostile test policies, runs their unit tests (pytest, node --test) and
# the default scenario suite against each port with `baton policy test`.
# Needs python3 (with venv) and node/npm; expects to run from a clone.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 --version
node --version

echo "--- polyglot: build (installs componentize-py and componentize-js/jco when missing)"
bash policies/python/default/build.sh
bash policies/python/hostile/build.sh
bash policies/js/default/build.sh
bash policies/js/hostile/build.sh

echo "--- polyglot: unit tests"
source policies/python/toolchain.sh
"$BATON_PY_VENV/bin/pytest" -q policies/python
node --test policies/js/sdk/test/ policies/js/default/

echo "--- polyglot: the default scenario suite against each port"
cargo build -p baton
for port in policies/python/default/policy.wasm policies/js/default/policy.wasm; do
    target/debug/baton policy test "$port" policies/default/scenarios \
        --cache-dir target/polyglot/compiled
done
