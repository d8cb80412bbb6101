"""Actions as text, exactly as `baton` prints them (`set dev to v1 by
direct commit`), for tests and logs."""

from . import _wit

_t = _wit.types


def channel_text(channel) -> str:
    """`by direct commit` or `by merge request [labels] (auto-merge)`."""
    if isinstance(channel, _t.Channel_DirectCommit):
        return "by direct commit"
    mr = channel.value
    text = "by merge request"
    if mr.labels:
        text += " [" + ", ".join(mr.labels) + "]"
    if mr.auto_merge:
        text += " (auto-merge)"
    return text


def action_text(action) -> str:
    """One action as `baton` prints it."""
    v = action.value
    if isinstance(action, _t.Action_SetVersion):
        digest = f" ({v.digest})" if v.digest is not None else ""
        return f"set {v.stage} to {v.version}{digest} {channel_text(v.channel)}"
    if isinstance(action, _t.Action_AwaitHealth):
        return f"await health of {v.stage} at {v.version} (timeout {v.timeout // 1000}s)"
    if isinstance(action, _t.Action_Hold):
        return f"hold: {v}"
    if isinstance(action, _t.Action_Rollback):
        digest = f" ({v.to_digest})" if v.to_digest is not None else ""
        return (f"roll back {v.stage} from {v.rollback_of} to {v.to_version}{digest} "
                f"{channel_text(v.channel)}")
    if isinstance(action, _t.Action_Fail):
        return f"fail: {v}"
    return repr(action)


def texts(decision) -> list:
    """Every action of a decision as text."""
    return [action_text(a) for a in decision.actions]
