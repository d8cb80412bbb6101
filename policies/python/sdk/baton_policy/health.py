"""Reading Argo CD observations: healthy at a revision, paused canaries,
aborted rollouts, and the short description used in reasons."""

from typing import Optional

from . import _wit

_t = _wit.types
HEALTHY = _t.HealthStatus.HEALTHY
PROGRESSING = _t.HealthStatus.PROGRESSING
DEGRADED = _t.HealthStatus.DEGRADED
SUSPENDED = _t.HealthStatus.SUSPENDED
SYNCED = _t.SyncStatus.SYNCED

#: API group of Argo Rollouts resources.
ROLLOUT_GROUP = "argoproj.io"

_HEALTH_NAMES = {
    _t.HealthStatus.HEALTHY: "Healthy",
    _t.HealthStatus.PROGRESSING: "Progressing",
    _t.HealthStatus.DEGRADED: "Degraded",
    _t.HealthStatus.SUSPENDED: "Suspended",
    _t.HealthStatus.MISSING: "Missing",
    _t.HealthStatus.UNKNOWN: "Unknown",
}
_SYNC_NAMES = {
    _t.SyncStatus.SYNCED: "Synced",
    _t.SyncStatus.OUT_OF_SYNC: "OutOfSync",
    _t.SyncStatus.UNKNOWN: "Unknown",
}


def is_healthy_at(status, revision: str) -> bool:
    """Is the application Healthy and Synced at `revision`?"""
    return status.health == HEALTHY and status.sync == SYNCED and status.revision == revision


def is_healthy(status) -> bool:
    """Is the application Healthy and Synced (at the revision the host gated on)?"""
    return status.health == HEALTHY and status.sync == SYNCED


def is_syncing(status) -> bool:
    """Is a sync operation running or terminating?"""
    return status.operation_phase in (_t.OperationPhase.RUNNING, _t.OperationPhase.TERMINATING)


def sync_failed(status) -> bool:
    """Did the last sync operation fail or end with an error?"""
    return status.operation_phase in (_t.OperationPhase.FAILED, _t.OperationPhase.ERROR)


def paused_canary(status) -> Optional[object]:
    """A resource paused at a canary step (`CanaryPauseStep`, `Paused`)."""
    for r in status.resources:
        if r.health == SUSPENDED and r.message is not None and (
            "PauseStep" in r.message or "Paused" in r.message
        ):
            return r
    return None


def rollouts(status) -> list:
    """The application's Argo Rollouts `Rollout` resources."""
    return [r for r in status.resources if r.group == ROLLOUT_GROUP and r.kind == "Rollout"]


def mentions_abort(message: str) -> bool:
    """Does a health message report an aborted rollout?"""
    return "abort" in message.lower()


def aborted_rollout(status):
    """The first Rollout that is Degraded with a message mentioning an abort."""
    return next(
        (r for r in rollouts(status) if r.health == DEGRADED and r.message and mentions_abort(r.message)),
        None,
    )


def paused_rollout(status):
    """The first Rollout that is Suspended."""
    return next((r for r in rollouts(status) if r.health == SUSPENDED), None)


def degraded_resource(status):
    """The first Degraded resource, for failure reasons."""
    return next((r for r in status.resources if r.health == DEGRADED), None)


def health_name(health) -> str:
    """Argo CD's spelling of a health status (`Healthy`, `Degraded`, ...)."""
    return _HEALTH_NAMES[health]


def sync_name(sync) -> str:
    """Argo CD's spelling of a sync status (`Synced`, `OutOfSync`, `Unknown`)."""
    return _SYNC_NAMES[sync]


def describe(status) -> str:
    """Short description: `Healthy / Synced @ab12cd3`."""
    rev = status.revision[:7] if status.revision is not None else "-"
    return f"{health_name(status.health)} / {sync_name(status.sync)} @{rev}"
