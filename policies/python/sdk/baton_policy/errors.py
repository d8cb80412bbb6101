"""Errors a policy answers with, and capability errors it receives.

A policy raises a `PolicyError` subclass; the export wrapper turns it into
the contract's `policy-error`. Capability calls raise `CapabilityError`,
whose text is the Rust SDK's (`CapabilityError::NotFound("stage dev")`) so
decisions and reasons read the same whatever language made them.
"""

from . import _wit


def rust_debug_str(text: str) -> str:
    """`text` quoted the way Rust's `{:?}` quotes a string."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\0":
            out.append("\\0")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class PolicyError(Exception):
    """Why a policy could not decide. Raise one of the subclasses."""

    #: The contract's variant case, e.g. `invalid-settings`.
    kind = "other"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.message == other.message  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.kind, self.message))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def to_wit(self):
        """The contract's `policy-error` value."""
        cases = {
            "invalid-settings": _wit.types.PolicyError_InvalidSettings,
            "invalid-event": _wit.types.PolicyError_InvalidEvent,
            "capability": _wit.types.PolicyError_Capability,
            "other": _wit.types.PolicyError_Other,
        }
        return cases[self.kind](self.message)


class InvalidSettings(PolicyError):
    """`policy.settings` are invalid; the text names the setting."""

    kind = "invalid-settings"


class InvalidEvent(PolicyError):
    """The event makes no sense to this policy (e.g. an unknown stage)."""

    kind = "invalid-event"


class CapabilityFailed(PolicyError):
    """A capability call failed and the policy cannot go on."""

    kind = "capability"


class Other(PolicyError):
    """Anything else."""

    kind = "other"


class CapabilityError(Exception):
    """A capability call failed; `kind` is `not-found`, `denied`,
    `unavailable` or `invalid`."""

    _NAMES = {
        "not-found": "NotFound",
        "denied": "Denied",
        "unavailable": "Unavailable",
        "invalid": "Invalid",
    }

    def __init__(self, kind: str, message: str):
        if kind not in self._NAMES:
            raise ValueError(f"unknown capability error kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CapabilityError) and (self.kind, self.message) == (
            other.kind,
            other.message,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.message))

    def debug(self) -> str:
        """The Rust SDK's text for this error: `CapabilityError::NotFound("x")`."""
        return f"CapabilityError::{self._NAMES[self.kind]}({rust_debug_str(self.message)})"

    def __str__(self) -> str:
        return self.debug()

    @classmethod
    def from_wit(cls, value) -> "CapabilityError":
        """From the contract's `capability-error` value."""
        cases = {
            _wit.types.CapabilityError_NotFound: "not-found",
            _wit.types.CapabilityError_Denied: "denied",
            _wit.types.CapabilityError_Unavailable: "unavailable",
            _wit.types.CapabilityError_Invalid: "invalid",
        }
        kind = cases.get(type(value), "unavailable")
        return cls(kind, getattr(value, "value", repr(value)))


def capability(err: CapabilityError) -> CapabilityFailed:
    """A capability error the policy cannot handle, as its policy error."""
    return CapabilityFailed(err.debug())
