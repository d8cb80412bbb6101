"""baton-policy: write Baton promotion policies in Python.

A Baton policy is a WebAssembly component that decides, event by event, how
an application version moves through its stages. The host (`baton`) calls
`decide(ctx, event, world)`; the policy reads the world (git history, Argo
CD status, merge requests, the clock) and answers with a decision: actions
the host checks against its guardrails and then executes.

Build a policy with componentize-py (`build.sh` next to each policy pins
it); test its logic natively with `testing.FakeWorld` and plain pytest.

Modules: `actions` (constructors), `events` (event and context accessors),
`flow` (the reference policy as steps), `health`, `history` (last good
version), `settings` (settings and durations), `errors`, `world`,
`testing`, `display` (actions as `baton` prints them), `export`.
"""

from . import actions, display, events, flow, health, history, settings, testing
from ._wit import WIT_VERSION
from .errors import (CapabilityError, CapabilityFailed, InvalidEvent, InvalidSettings, Other,
                     PolicyError)
from .export import export
from .flow import Flow, FlowSettings
from .world import HOST_WORLD, World

__all__ = [
    "actions", "display", "events", "flow", "health", "history", "settings", "testing",
    "WIT_VERSION", "CapabilityError", "CapabilityFailed", "InvalidEvent", "InvalidSettings",
    "Other", "PolicyError", "export", "Flow", "FlowSettings", "HOST_WORLD", "World",
]
