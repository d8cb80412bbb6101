"""A scripted world and record builders for plain pytest, without Wasm.

The builders take keyword arguments with defaults, so tests never spell out
the contract's records (a field added by a later contract version gets its
default here).
"""

from typing import Dict, List, Optional, Sequence, Tuple

from . import _wit
from .errors import CapabilityError

_t = _wit.types

_HEALTH = {h.name.lower().replace("_", "-"): h for h in _t.HealthStatus}
_SYNC = {s.name.lower().replace("_", "-"): s for s in _t.SyncStatus}
_PHASE = {p.name.lower(): p for p in _t.OperationPhase}
_MR_STATE = {s.name.lower(): s for s in _t.MergeRequestState}
_ORIGIN = {o.name.lower().replace("_", "-"): o for o in _t.ChangeOrigin}


def _health(name):
    return None if name is None else _HEALTH[name.lower()]


def stage(name: str, direct_commit_allowed: bool = False, auto_merge_allowed: bool = False,
          file: Optional[str] = None, field: str = "helm:image.tag", argocd_app: Optional[str] = None,
          app: str = "payments", targets: Sequence = ()):
    """A stage as `baton.yaml` would configure it; with `targets`, its
    file, field and application are the first target's."""
    targets = list(targets)
    first = targets[0] if targets else None
    return _t.Stage(
        name,
        first.file if first else file if file is not None else f"overlays/{name}/values.yaml",
        first.field if first else field,
        first.argocd_app if first else argocd_app if argocd_app is not None else f"{app}-{name}",
        direct_commit_allowed,
        auto_merge_allowed,
        targets,
    )


def target(stage: str, label: str, app: str = "payments", field: str = "helm:image.tag"):
    """Target `label` of `stage`: `overlays/<stage>-<label>/values.yaml`,
    deployed by `<app>-<stage>-<label>`."""
    return _t.Target(label, f"overlays/{stage}-{label}/values.yaml", field, f"{app}-{stage}-{label}")


def target_status(target, status=None):
    """`target`'s latest observation during a gate (`None`: none yet)."""
    return _t.TargetStatus(target.label, target.argocd_app, status)


def context(stages: Sequence, settings: str = "{}", app: str = "payments", run_id: str = "run-1",
            max_health_wait: int = 1_800_000, dry_run: bool = False):
    """The context of a decide call."""
    return _t.Context(app, list(stages), settings, run_id, max_health_wait, dry_run)


def trailer(key: str, value: str):
    """A commit trailer."""
    return _t.Trailer(key, value)


def deployment(to_version: str, commit: Optional[str] = None, time: int = 0, author: str = "ci",
               from_version: Optional[str] = None, subject: str = "",
               trailers: Sequence[Tuple[str, str]] = (), digest: Optional[str] = None,
               origin: str = "baton-commit", merge_request: Optional[int] = None):
    """A deployment (a commit that changed a stage's version)."""
    return _t.Deployment(
        commit if commit is not None else f"c-{to_version}",
        time, author, from_version, to_version, subject,
        [trailer(k, v) for k, v in trailers],
        digest, _ORIGIN[origin], merge_request,
    )


def resource(kind: str, name: str, health: Optional[str] = None, message: Optional[str] = None,
             group: str = "", namespace: str = "payments", sync: str = "synced"):
    """One resource of an application."""
    return _t.ResourceHealth(group, kind, namespace, name, _health(health), message, _SYNC[sync])


def app_status(health: str = "healthy", sync: str = "synced", revision: Optional[str] = "abc",
               app: str = "payments-dev", health_message: Optional[str] = None,
               operation_phase: Optional[str] = None, operation_message: Optional[str] = None,
               reconciled_at: Optional[int] = None, resources: Sequence = ()):
    """An Argo CD observation; statuses by their contract names (`out-of-sync`)."""
    return _t.AppStatus(
        app, _HEALTH[health], health_message, _SYNC[sync], revision,
        None if operation_phase is None else _PHASE[operation_phase],
        operation_message, reconciled_at, list(resources),
    )


def merge_request(number: int, source_branch: str, state: str = "opened", url: str = "",
                  title: str = "", target_branch: str = "main", labels: Sequence[str] = (),
                  merge_status: str = "mergeable", merge_commit: Optional[str] = None):
    """A merge request as the forge reports it."""
    return _t.MergeRequest(number, url, title, _MR_STATE[state], source_branch, target_branch,
                           list(labels), merge_status, merge_commit)


def new_version(version: str, digest: Optional[str] = None):
    """A `new-version` event."""
    return _t.Event_NewVersion(_t.NewVersion(version, digest))


def stage_changed(stage: str, to_version: str, from_version: Optional[str] = None,
                  commit: str = "abc", is_rollback: bool = False, digest: Optional[str] = None,
                  origin: str = "baton-commit"):
    """A `stage-changed` event."""
    return _t.Event_StageChanged(_t.StageChanged(stage, from_version, to_version, commit,
                                                 is_rollback, digest, _ORIGIN[origin]))


def health_observed(stage: str, version: str, status, commit: str = "abc", elapsed: int = 1000,
                    targets: Sequence = ()):
    """A `health-observed` event (`targets`: each target's latest
    observation, see `target_status`)."""
    return _t.Event_HealthObserved(_t.HealthObserved(stage, version, commit, elapsed, status,
                                                     list(targets)))


def gate_timeout(stage: str, version: str, last_status=None, commit: str = "abc", elapsed: int = 300_000,
                 targets: Sequence = ()):
    """A `gate-timeout` event."""
    return _t.Event_GateTimeout(_t.GateTimeout(stage, version, commit, elapsed, last_status,
                                               list(targets)))


def reconcile(stage: str, version: Optional[str], commit: Optional[str] = "abc",
              digest: Optional[str] = None, origin: str = "baton-commit"):
    """A `reconcile` event."""
    return _t.Event_Reconcile(_t.Reconcile(stage, version, digest, commit, _ORIGIN[origin]))


def rollback_requested(stage: str, to_version: Optional[str] = None, reason: str = ""):
    """A `rollback-requested` event."""
    return _t.Event_RollbackRequested(_t.RollbackRequested(stage, to_version, reason))


class FakeWorld:
    """A world whose answers the test sets up. Unknown lookups answer
    `not-found`, like the host does."""

    def __init__(self):
        #: Files by `(path, revision)`; revision `""` is the branch tip.
        self.files: Dict[Tuple[str, str], bytes] = {}
        #: Stage versions (at any revision).
        self.versions: Dict[str, str] = {}
        #: Stage histories, newest first.
        self.histories: Dict[str, List] = {}
        #: The `stage_history` calls made, as `(stage, limit)`, in order:
        #: how deep a policy read.
        self.history_reads: List[Tuple[str, int]] = []
        #: Argo CD statuses by application name.
        self.statuses: Dict[str, object] = {}
        #: Merge requests.
        self.merge_requests: List = []
        #: The clock.
        self.time = 0
        #: Messages the policy logged, as `(level, message)`.
        self.logs: List[Tuple[str, str]] = []

    def read_file(self, path, revision=None):
        try:
            return self.files[(path, revision or "")]
        except KeyError:
            raise CapabilityError("not-found", f"file {path}") from None

    def stage_version(self, stage, revision=None):
        try:
            return self.versions[stage]
        except KeyError:
            raise CapabilityError("not-found", f"stage {stage}") from None

    def stage_history(self, stage, limit):
        self.history_reads.append((stage, limit))
        return list(self.histories.get(stage, []))[:limit]

    def target_versions(self, stage, revision=None):
        """One target holding the stage's version, with the digest of its
        newest deployment of that version (if it recorded one)."""
        version = self.versions.get(stage)
        digest = next((d.digest for d in self.histories.get(stage, [])
                       if d.to_version == version), None)
        return [_t.TargetVersion("", version, digest)]

    def application_status(self, app):
        try:
            return self.statuses[app]
        except KeyError:
            raise CapabilityError("not-found", f"application {app}") from None

    def find_open_merge_request(self, source_branch):
        opened = _t.MergeRequestState.OPENED
        return next((mr for mr in self.merge_requests
                     if mr.source_branch == source_branch and mr.state == opened), None)

    def merge_request(self, number):
        for mr in self.merge_requests:
            if mr.number == number:
                return mr
        raise CapabilityError("not-found", f"merge request !{number}")

    def now(self):
        return self.time

    def log(self, level, message):
        self.logs.append((level, message))
