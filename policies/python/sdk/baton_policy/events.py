"""Reading events and the context without naming generated classes.

`kind(event)` gives the contract's case name (`new-version`, ...) and
`payload(event)` its record. A case this SDK does not know (one added by a
later contract version) has kind `None`: policies treat it as "nothing to
do".
"""

from typing import Optional

from . import _wit

_t = _wit.types

_KINDS = {
    _t.Event_NewVersion: "new-version",
    _t.Event_StageChanged: "stage-changed",
    _t.Event_HealthObserved: "health-observed",
    _t.Event_GateTimeout: "gate-timeout",
    _t.Event_RollbackRequested: "rollback-requested",
    _t.Event_Reconcile: "reconcile",
}

#: Every event kind this SDK knows, in contract order.
KINDS = tuple(_KINDS.values())


def kind(event) -> Optional[str]:
    """The event's case name, or `None` for a case this SDK does not know."""
    return _KINDS.get(type(event))


def payload(event):
    """The event's record (`new-version`, `health-observed`, ...)."""
    return getattr(event, "value", None)


def stage(ctx, name: str):
    """The stage called `name`, if configured."""
    return next((s for s in ctx.stages if s.name == name), None)


def next_stage(ctx, name: str):
    """The stage after `name` in promotion order."""
    names = [s.name for s in ctx.stages]
    if name not in names:
        return None
    at = names.index(name) + 1
    return ctx.stages[at] if at < len(ctx.stages) else None


def first_stage(ctx):
    """The first stage (where new versions enter)."""
    return ctx.stages[0] if ctx.stages else None
