"""pytest setup for the Python SDK and policies: the SDK, its generated
bindings and each policy directory are importable, as they are inside a
component. Run `default/build.sh` (or toolchain.sh's
`baton_python_bindings`) first so the bindings exist."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BINDINGS = os.path.join(HERE, "sdk", "bindings")

if not os.path.isdir(os.path.join(BINDINGS, "wit_world")):
    raise RuntimeError(
        f"{BINDINGS} is missing: run policies/python/default/build.sh first (it generates the bindings from wit/)"
    )

for path in (BINDINGS, os.path.join(HERE, "sdk"), os.path.join(HERE, "default")):
    if path not in sys.path:
        sys.path.insert(0, path)
