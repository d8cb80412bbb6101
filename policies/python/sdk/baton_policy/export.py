"""Exporting a decide function as the component's `baton:policy/policy`.

`export` wraps a plain function `decide(ctx, event, world) -> decision`:
a raised `PolicyError` becomes the contract's `policy-error`; any other
exception is a bug, the Python counterpart of a Rust panic. Its type,
message and location are logged at `error` level as `panic: ...` (Baton
reports the call as a panic with that text) and the call traps, so a
policy that fails never yields a decision.
"""

import os
from typing import Callable, Sequence

from . import _wit
from .errors import PolicyError
from .world import HOST_WORLD

#: Prefix of the log message that reports an uncaught exception.
PANIC_PREFIX = "panic: "


def panic_text(error: BaseException) -> str:
    """`ValueError: message (at policy.py:12)`: the exception and where it
    was raised, read from the traceback without touching source files
    (there are none inside a component)."""
    text = f"{type(error).__name__}: {error}"
    # Walked by hand: the traceback module reads source lines, and a
    # component has no files (a stubbed filesystem call traps).
    tb = error.__traceback__
    if tb is not None:
        while tb.tb_next is not None:
            tb = tb.tb_next
        text += f" (at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno})"
    return text


def export(decide: Callable, name: str, version: str, description: str = "",
           authors: Sequence[str] = ()):
    """The class componentize-py exports for `baton:policy/policy`. Bind it
    to the name `Policy` in the app module:

        Policy = export(decide, name="my-policy", version="0.1.0")
    """

    class Policy(_wit.exports.Policy):
        def decide(self, context, event):
            try:
                return decide(context, event, HOST_WORLD)
            except PolicyError as e:
                raise _wit.Err(e.to_wit()) from None
            except _wit.Err:
                raise
            except BaseException as e:  # noqa: BLE001 - every other exception is a panic
                _wit.log.log(_wit.log.Level.ERROR, PANIC_PREFIX + panic_text(e))
                os.abort()

        def metadata(self):
            return _wit.types.PolicyMetadata(name, version, description, list(authors))

    return Policy
