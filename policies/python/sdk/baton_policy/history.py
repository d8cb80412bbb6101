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
    """The newest version in `history` (newest first) that is not `bad` and
    that no commit rolled back; `None` when there is none."""
    rolled_back = {v for v in (rolled_back_version(d) for d in history) if v is not None}
    for d in history:
        if d.to_version != bad and d.to_version not in rolled_back:
            return d.to_version
    return None
