"""A Python policy that misbehaves on purpose, to prove the sandbox contains
it like a Rust one. `settings.mode` selects the misbehaviour: `loop`
(endless computation), `alloc` (unbounded allocation), `socket` (a TCP
connection), `file` (reading a file), `raise` (an uncaught exception).
The host's tests assert the precise error each one produces."""

import socket

from baton_policy import InvalidSettings, actions
from baton_policy.settings import Settings


def decide(ctx, event, world):
    mode = Settings.parse(ctx.settings).string("mode") or ""
    if mode == "loop":
        n = 0
        while True:
            n += 1
    if mode == "alloc":
        hoard = []
        while True:
            hoard.append(bytearray(1 << 20))
    if mode == "socket":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", 22))
        return actions.decision([actions.hold("connected")])
    if mode == "file":
        with open("/etc/passwd", "rb") as f:
            return actions.decision([actions.hold(f"read {len(f.read())} bytes")])
    if mode == "raise":
        raise ValueError(f"policy bug: stage table is empty for {ctx.app}")
    raise InvalidSettings(f"settings.mode: unknown mode {mode!r}")
