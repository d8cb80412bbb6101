"""The generated bindings, imported in one place.

`componentize-py bindings` writes the `wit_world` package from the
repository's `wit/` directory (see `policies/python/toolchain.sh`); inside a
component, componentize-py provides the same modules. Everything else in the
SDK names generated types only through this module, so moving to a new
contract version is a regeneration plus edits to `actions.py`, `events.py`
and `testing.py`.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import argocd, clock, forge, git, log, types

#: Version of the WIT package these bindings were generated from.
WIT_VERSION = "0.2.0"

__all__ = ["Err", "exports", "argocd", "clock", "forge", "git", "log", "types", "WIT_VERSION"]
