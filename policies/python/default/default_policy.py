"""Baton's reference policy, in Python: the seed GitOps flow.

- A new version goes to the first stage (dev) by direct commit when the
  guardrails allow it (a merge request otherwise), then its health is gated.
- A stage that is Healthy and Synced at the expected commit gets the next
  stage's merge request; the last stage completes the promotion.
- A stage changed in the env repo (a merged MR, seen by `baton advance`) is
  gated the same way.
- A gate failure (Degraded app or resource, aborted rollout, or not healthy
  within the stage's timeout) rolls the stage back to its last good version
  and fails the run.
- A requested rollback goes to `--to` or the last good version.

Settings: `health_timeout` (default `10m`), `stages.<name>.health_timeout`,
`progressing_is_waiting` (default true), `mr_labels` (default
`["baton"]`), `rollback_labels` (default `["baton", "rollback"]`).
"""

from baton_policy import Flow, FlowSettings


def decide(ctx, event, world):
    """The SDK's standard flow, with no rule changed."""
    settings = FlowSettings.parse(ctx.settings)
    return Flow(ctx, world, settings).decide(event)
