"""Constructors for the actions a policy returns and for its decision.

The only place that builds the contract's action records: ports and
policies call these, so a new optional field in a later contract version
is one default here.
"""

from typing import Iterable, Optional, Sequence

from . import _wit

_t = _wit.types


def direct_commit():
    """The direct-commit channel (needs `guardrails.direct_commit_stages`)."""
    return _t.Channel_DirectCommit()


def mr_options(
    description: str,
    labels: Sequence[str] = (),
    title: Optional[str] = None,
    auto_merge: bool = False,
):
    """Merge request options; no title uses the host's template."""
    return _t.MergeRequestOptions(title, description, list(labels), auto_merge)


def merge_request_channel(options):
    """The merge-request channel with `options` (see `mr_options`)."""
    return _t.Channel_MergeRequest(options)


def is_direct(channel) -> bool:
    """Is `channel` a direct commit?"""
    return isinstance(channel, _t.Channel_DirectCommit)


def set_version(stage: str, version: str, channel, reason: str, digest: Optional[str] = None):
    """Set `stage` to `version` (and image `digest`, when given) through `channel`."""
    return _t.Action_SetVersion(_t.SetVersion(stage, version, channel, reason, digest))


def commit(stage: str, version: str, reason: str):
    """Set `stage` to `version` by a direct commit to the env repo branch."""
    return set_version(stage, version, direct_commit(), reason)


def merge_request(stage: str, version: str, options, reason: str):
    """Set `stage` to `version` through a merge request."""
    return set_version(stage, version, merge_request_channel(options), reason)


def await_health(stage: str, version: str, timeout_ms: int):
    """Wait until `stage` is healthy at `version`, for at most `timeout_ms`."""
    return _t.Action_AwaitHealth(_t.AwaitHealth(stage, version, timeout_ms))


def rollback(stage: str, good: str, bad: str, channel, reason: str,
             good_digest: Optional[str] = None):
    """Roll `stage` back from `bad` to `good` (and `good_digest`) through `channel`."""
    return _t.Action_Rollback(_t.Rollback(stage, good, bad, channel, reason, good_digest))


def hold(reason: str):
    """Stop successfully for now."""
    return _t.Action_Hold(reason)


def fail(reason: str):
    """Stop the run as failed."""
    return _t.Action_Fail(reason)


def decision(actions: Iterable = (), reasons: Iterable[str] = (),
             recheck_after: Optional[int] = None):
    """A decision: actions in order, and explanations for the audit record.
    With no actions in answer to a health observation, `recheck_after`
    (milliseconds) asks to be asked again even without a new observation."""
    return _t.Decision(list(actions), list(reasons), recheck_after)


def nothing(reason: str):
    """A decision with no actions, explained."""
    return decision([], [reason])
