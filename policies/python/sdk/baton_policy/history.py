"""Deployment history: which versions are good to go back to."""

from typing import Optional, Sequence

#: Trailer that marks a commit as a rollback of the named version.
ROLLBACK_TRAILER = "Baton-Rollback-Of"


def rolled_back_version(deployment) -> Optional[str]:
    """The version a deployment commit rolled back, if it was a rollback."""
    for t in deployment.trailers:
        if t.key.lower() == ROLLBACK_TRAILER.lower():
            return t.value
    return None


def last_good(history: Sequence, bad: str) -> Optional[str]:
    """The last good version of a stage before `bad`: walking `history`
    newest first, the first version that is not `bad` and that no newer
    entry (one seen before it in the walk) rolled back.

    An entry's own `Baton-Rollback-Of` trailer counts only for older
    entries, so the answer depends only on the entries up to it and a
    prefix of the history decides it whenever it holds it; this is the
    host's rule too. `None` when `history` holds no good version."""
    rolled_back = set()
    for d in history:
        if d.to_version != bad and d.to_version not in rolled_back:
            return d.to_version
        v = rolled_back_version(d)
        if v is not None:
            rolled_back.add(v)
    return None
