"""The standard promotion flow as reusable steps: the reference policy's
decisions (the Rust SDK's `baton_policy::flow`), rule for rule and word for
word.

- A new version goes to the first stage by direct commit when the
  guardrails allow it (a merge request otherwise), then its health is
  gated; later stages always get a merge request.
- A healthy stage promotes the version to the next stage; the last stage
  completes the promotion; a healthy rollback ends the run.
- A stage changed in the env repo is gated the same way.
- A failed gate (Degraded, still Progressing when that is not allowed, or a
  timeout) rolls the stage back to its last good version and fails.
- A stage with several targets passes only when every target is Healthy and
  Synced at the gated commit; it waits while any has no observation or is
  not there yet, and any failing target fails it, named in the reason.
- A requested rollback goes to the given version or the last good one.
- An event of a kind this SDK does not know is "nothing to do".

`Flow.decide` is the whole reference policy; a policy that changes a rule
handles the events it cares about and composes the steps for the rest.
"""

import copy
from dataclasses import dataclass
from typing import List, Optional, Tuple

from . import _wit, actions, events
from .errors import CapabilityError, InvalidEvent, PolicyError, capability
from .health import (DEGRADED, PROGRESSING, SYNCED, degraded_resource, describe, is_healthy,
                     is_syncing, paused_canary, sync_failed)
from .history import last_good, rolled_back_version
from .settings import Settings, nest_error

#: How many deployments to read, at most, when looking for the last good
#: version.
HISTORY_DEPTH = 200

#: The growing limits `Flow.last_good` reads a stage's history with, up to
#: `HISTORY_DEPTH`. The answer is almost always one or two deployments back,
#: and a stage's deployments can be thousands of commits apart in a large
#: env repo, where the host walks and fetches history on demand: a short
#: read first spares it the whole depth.
HISTORY_STEPS = (4, 16, 64, HISTORY_DEPTH)


class FlowSettings:
    """Settings of the standard flow: `health_timeout`,
    `progressing_is_waiting`, `mr_labels`, `rollback_labels`, and per stage
    `stages.<name>.health_timeout`, `stages.<name>.mr_labels` and
    `stages.<name>.rollback_labels` (a stage's own labels replace the
    general ones)."""

    #: Default gate timeout: ten minutes.
    DEFAULT_HEALTH_TIMEOUT_MS = 10 * 60 * 1000
    #: The top-level keys these settings read.
    KEYS = ("health_timeout", "stages", "progressing_is_waiting", "mr_labels", "rollback_labels")

    def __init__(self, health_timeout_ms: int, stage_timeouts: List[Tuple[str, int]],
                 progressing_is_waiting: bool, mr_labels: List[str], rollback_labels: List[str],
                 stage_mr_labels: Optional[List[Tuple[str, List[str]]]] = None,
                 stage_rollback_labels: Optional[List[Tuple[str, List[str]]]] = None):
        self.health_timeout = health_timeout_ms
        self.stage_timeouts = stage_timeouts
        self.progressing_is_waiting = progressing_is_waiting
        self.mr_labels = mr_labels
        self.rollback_labels = rollback_labels
        self.stage_mr_labels = stage_mr_labels or []
        self.stage_rollback_labels = stage_rollback_labels or []

    @classmethod
    def parse(cls, text: str) -> "FlowSettings":
        """Parses and validates the context's settings, default gate timeout."""
        return cls.from_settings(Settings.parse(text), cls.DEFAULT_HEALTH_TIMEOUT_MS)

    @classmethod
    def from_settings(cls, s: Settings, default_health_timeout_ms: int) -> "FlowSettings":
        """Reads the flow's keys; other keys are left to the policy."""
        stage_timeouts = []
        stage_mr_labels = []
        stage_rollback_labels = []
        stages = s.section("stages")
        if stages is not None:
            for name in stages.keys():
                stage = stages.section(name) or Settings({})
                try:
                    ms = stage.duration_ms("health_timeout")
                    mr = stage.strings("mr_labels")
                    rollback = stage.strings("rollback_labels")
                except PolicyError as e:
                    raise nest_error(e, f"stages.{name}") from None
                if ms is not None:
                    stage_timeouts.append((name, ms))
                if mr is not None:
                    stage_mr_labels.append((name, mr))
                if rollback is not None:
                    stage_rollback_labels.append((name, rollback))
        health_timeout = s.duration_ms("health_timeout")
        progressing = s.bool("progressing_is_waiting")
        mr_labels = s.strings("mr_labels")
        rollback_labels = s.strings("rollback_labels")
        return cls(
            default_health_timeout_ms if health_timeout is None else health_timeout,
            stage_timeouts,
            True if progressing is None else progressing,
            ["baton"] if mr_labels is None else mr_labels,
            ["baton", "rollback"] if rollback_labels is None else rollback_labels,
            stage_mr_labels,
            stage_rollback_labels,
        )

    def mr_labels_for(self, stage: str) -> List[str]:
        """Labels of a merge request promoting to `stage`: its own
        `stages.<name>.mr_labels`, else `mr_labels`."""
        return _own(self.stage_mr_labels, stage, self.mr_labels)

    def rollback_labels_for(self, stage: str) -> List[str]:
        """Labels of a merge request rolling `stage` back: its own
        `stages.<name>.rollback_labels`, else `rollback_labels`."""
        return _own(self.stage_rollback_labels, stage, self.rollback_labels)

    def health_timeout_ms(self, stage: str) -> int:
        """Gate timeout for `stage`."""
        for name, ms in self.stage_timeouts:
            if name == stage:
                return ms
        return self.health_timeout

    def health_timeouts(self) -> List[Tuple[str, int]]:
        """Every configured gate timeout with its settings key."""
        return [("health_timeout", self.health_timeout)] + [
            (f"stages.{stage}.health_timeout", ms) for stage, ms in self.stage_timeouts
        ]


def _own(per_stage: List[Tuple[str, List[str]]], stage: str, general: List[str]) -> List[str]:
    """`stage`'s own entry of a per-stage list, else `general`."""
    for name, labels in per_stage:
        if name == stage:
            return labels
    return general


@dataclass
class Verdict:
    """What one health observation means for its gate: `kind` is `healthy`
    (with `text` describing the observation), `waiting` or `failed` (with
    the reason)."""

    kind: str
    text: str

    @staticmethod
    def healthy(seen: str) -> "Verdict":
        return Verdict("healthy", seen)

    @staticmethod
    def waiting(why: str) -> "Verdict":
        return Verdict("waiting", why)

    @staticmethod
    def failed(why: str) -> "Verdict":
        return Verdict("failed", why)


@dataclass
class AfterHealthy:
    """What follows a stage that passed its gate: `decision` ends the run
    (a healthy rollback, or the last stage), else the version moves on to
    `next` for `reason`."""

    decision: Optional[object] = None
    next: Optional[object] = None
    reason: str = ""


def digest_deployed(history, version: str) -> Optional[str]:
    """The digest the newest deployment of `version` in `history` (newest
    first) set, if it recorded one."""
    return next((d.digest for d in history if d.to_version == version), None)


def with_digest(decision, version: str, digest: Optional[str]):
    """`decision` with `digest` on every set-version and rollback to
    `version` that gives none: digests travel with their versions."""
    if digest is None:
        return decision
    for action in decision.actions:
        v = action.value
        if isinstance(action, _wit.types.Action_SetVersion) and v.version == version \
                and v.digest is None:
            v.digest = digest
        elif isinstance(action, _wit.types.Action_Rollback) and v.to_version == version \
                and v.to_digest is None:
            v.to_digest = digest
    return decision


def short(commit: str) -> str:
    """The first 7 characters of a commit id, as git shows it."""
    return commit[:7]


def _describe_or_none(status) -> str:
    """A status described, or what a timeout says without one."""
    return describe(status) if status is not None else "no observation at the expected revision"


def _sync_verdict(who: str, observed) -> Optional[Verdict]:
    """The sync rule for one application's observation, naming `who`."""
    status = observed.status
    if status.sync == SYNCED and not is_syncing(status):
        return None
    if status.sync != SYNCED and sync_failed(status):
        message = status.operation_message if status.operation_message is not None else "no message from Argo CD"
        return Verdict.failed(f"the sync of {who} to {observed.version} failed: {message}")
    return Verdict.waiting(f"{who}: {describe(status)}; waiting for the sync")


def _latest(targets, target):
    """The latest observation of `target` among `targets` (by label, else
    by application), if one arrived."""
    found = next((t for t in targets if target.label and t.label == target.label), None)
    if found is None:
        found = next((t for t in targets if t.argocd_app == target.argocd_app), None)
    return found.status if found is not None else None


def _target_name(stage, target) -> str:
    """How reasons name a target: `prod/us (payments-prod-us)`."""
    if not target.label:
        return f"{stage.name} ({target.argocd_app})"
    return f"{stage.name}/{target.label} ({target.argocd_app})"


def _short_name(target) -> str:
    """A target's label, or its application when it has none."""
    return target.label or target.argocd_app


class Flow:
    """The standard flow for one decision: context, world and settings."""

    def __init__(self, ctx, world, settings: FlowSettings):
        self.ctx = ctx
        self.world = world
        self.settings = settings

    def decide(self, event):
        """The reference policy's answer to `event`."""
        kind, p = events.kind(event), events.payload(event)
        if kind == "new-version":
            return with_digest(self.new_version(p.version), p.version, p.digest)
        if kind == "stage-changed":
            return self.stage_changed(p)
        if kind == "health-observed":
            return self.health_observed(p)
        if kind == "gate-timeout":
            return self.gate_timeout(p)
        if kind == "rollback-requested":
            return self.rollback_requested(p)
        if kind == "reconcile":
            return self.reconcile(p)
        return actions.nothing(f"{type(event).__name__} is not an event this policy acts on; nothing to do")

    def stage(self, name: str):
        """The stage called `name`; an event naming another stage is invalid."""
        stage = events.stage(self.ctx, name)
        if stage is None:
            raise InvalidEvent(f"app {self.ctx.app} has no stage {name}")
        return stage

    def first_stage(self):
        """The first stage, where new versions enter."""
        stage = events.first_stage(self.ctx)
        if stage is None:
            raise InvalidEvent(f"app {self.ctx.app} has no stages")
        return stage

    def channel(self, stage, labels, description: str):
        """Direct commits only where allowed and only for the first stage."""
        first = events.first_stage(self.ctx)
        if first is not None and first.name == stage.name and stage.direct_commit_allowed:
            return actions.direct_commit()
        return actions.merge_request_channel(actions.mr_options(description, labels))

    def promote(self, stage, version: str, channel, reason: str):
        """Sets `stage` to `version`, then gates it (direct commit) or holds
        until a person merges (merge request)."""
        acts = [actions.set_version(stage.name, version, channel, reason)]
        if actions.is_direct(channel):
            acts.append(actions.await_health(stage.name, version, self.settings.health_timeout_ms(stage.name)))
        else:
            acts.append(actions.hold(f"waiting for the {stage.name} merge request to be merged"))
        return actions.decision(acts, [reason])

    def new_version(self, version: str):
        """A new version goes to the first stage."""
        first = self.first_stage()
        reason = f"{version} is a new version of {self.ctx.app}"
        labels = self.settings.mr_labels_for(first.name)
        return self.promote(first, version, self.channel(first, labels, reason), reason)

    def stage_changed(self, changed):
        """A changed stage is gated; a change that arrived outside Baton
        fails the run instead (`out_of_band`)."""
        stage = self.stage(changed.stage)
        if changed.origin == _wit.types.ChangeOrigin.OUT_OF_BAND:
            return self.out_of_band(changed)
        timeout = self.settings.health_timeout_ms(stage.name)
        if changed.is_rollback:
            why = f"{stage.name} was rolled back to {changed.to_version}; gating it"
        else:
            before = changed.from_version if changed.from_version is not None else "(none)"
            why = f"{stage.name} changed {before} -> {changed.to_version}; gating it"
        return actions.decision([actions.await_health(stage.name, changed.to_version, timeout)], [why])

    def out_of_band(self, changed):
        """A stage changed outside Baton: nothing is gated or promoted on it,
        and the run fails with a reason that names the change."""
        before = changed.from_version if changed.from_version is not None else "(none)"
        why = (f"{changed.stage} changed {before} -> {changed.to_version} out of band "
               f"(commit {changed.commit[:12]}: neither a Baton commit nor a merge request "
               f"Baton opened); not gating or promoting it: review the change, then promote "
               f"through Baton")
        return actions.decision([actions.fail(why)], [why])

    def reconcile(self, reconcile):
        """A reconciled stage resumes the promotion of the version it holds
        when there is one to resume (`nothing_to_resume`): it is gated
        again, and a healthy verdict promotes to the next stage as after
        any gate."""
        stage = self.stage(reconcile.stage)
        if reconcile.version is None:
            return actions.nothing(f"{stage.name} holds no version; nothing to reconcile")
        version = reconcile.version
        why = self.nothing_to_resume(stage, version, reconcile.commit)
        if why is not None:
            return actions.nothing(why)
        nxt = events.next_stage(self.ctx, stage.name)
        next_name = nxt.name if nxt is not None else "the next stage"
        timeout = self.settings.health_timeout_ms(stage.name)
        return actions.decision(
            [actions.await_health(stage.name, version, timeout)],
            [f"reconciling {stage.name}: {next_name} lacks {version}; "
             f"gating {stage.name} at {version} to resume the promotion"],
        )

    def nothing_to_resume(self, stage, version: str, commit: Optional[str]) -> Optional[str]:
        """Why `stage`, holding `version` since `commit` (its newest
        deployment), has no promotion to resume, if it has none: it is the
        last stage; its newest deployment was a rollback; the next stage
        already holds `version`; or the next stage changed since `commit`."""
        nxt = events.next_stage(self.ctx, stage.name)
        if nxt is None:
            return f"{version} is in {stage.name}, the last stage; nothing to resume"
        try:
            latest = self.world.stage_history(stage.name, 1)
        except CapabilityError as e:
            raise capability(e) from None
        bad = rolled_back_version(latest[0]) if latest else None
        if bad is not None:
            return f"{stage.name} is at {version} after rolling back {bad}; nothing to resume"
        now = self.version_of(nxt, None)
        if now == version:
            return f"{nxt.name} already holds {version}; nothing to resume"
        if commit is not None:
            then = self.version_of(nxt, commit)
            if then != now:
                def show(v):
                    return v if v is not None else "(none)"
                return (f"{nxt.name} changed since {stage.name} got {version} "
                        f"({show(then)} -> {show(now)}); nothing to resume")
        return None

    def version_of(self, stage, revision: Optional[str]) -> Optional[str]:
        """The version `stage` holds at `revision` (the tip when None);
        None when it holds none there."""
        try:
            return self.world.stage_version(stage.name, revision)
        except CapabilityError as e:
            if e.kind == "not-found":
                return None
            raise capability(e) from None

    def off_version(self, stage, observed, who: Optional[str] = None) -> Optional[str]:
        """Why an observation says nothing about the gated version, if it
        does not (Argo CD at another commit that does not hold it); the
        reason names `who` (default: the stage)."""
        who = stage.name if who is None else who
        revision = observed.status.revision
        if revision is None:
            return f"{who}: Argo CD reports no synced revision yet; waiting for {short(observed.commit)}"
        if revision == observed.commit:
            return None
        try:
            version = self.world.stage_version(stage.name, revision)
        except CapabilityError as e:
            return f"{who}: cannot tell which version revision {short(revision)} holds ({e.debug()}); waiting"
        if version == observed.version:
            return None
        return (f"{who}: Argo CD is at {short(revision)} which holds {version}, "
                f"not {observed.version} at {short(observed.commit)}; waiting")

    def sync_verdict(self, stage, observed) -> Optional[Verdict]:
        """A failed sync fails; not Synced or still syncing waits."""
        return _sync_verdict(stage.name, observed)

    def verdict(self, stage, observed) -> Verdict:
        """The sync rule, then: Degraded fails; Healthy passes; Progressing
        waits unless `progressing_is_waiting` is false; the rest waits. A
        stage with several targets is judged target by target
        (`targets_verdict`)."""
        if len(stage.targets) > 1:
            return self.targets_verdict(stage, observed)
        return self._verdict_of(stage.name, observed)

    def _verdict_of(self, who: str, observed) -> Verdict:
        synced = _sync_verdict(who, observed)
        if synced is not None:
            return synced
        status = observed.status
        seen = describe(status)
        degraded = degraded_resource(status)
        if status.health == DEGRADED or degraded is not None:
            if degraded is not None:
                message = degraded.message if degraded.message is not None else "degraded"
                detail = f" ({degraded.kind} {degraded.name}: {message})"
            elif status.health_message is not None:
                detail = f" ({status.health_message})"
            else:
                detail = ""
            return Verdict.failed(f"{who} is Degraded at {observed.version}{detail}")
        if is_healthy(status):
            return Verdict.healthy(seen)
        if status.health != PROGRESSING or self.settings.progressing_is_waiting:
            paused = paused_canary(status)
            if paused is not None:
                return Verdict.waiting(f"{who}: canary {paused.name} paused ({seen}); waiting")
            return Verdict.waiting(f"{who}: {seen}; waiting")
        return Verdict.failed(f"{who} is still Progressing and progressing_is_waiting is false")

    def targets_verdict(self, stage, observed) -> Verdict:
        """A stage with several targets, from each target's latest
        observation: the first target that fails fails the stage (naming
        it); else the first not there yet keeps it waiting; else every
        target is Healthy and Synced and the stage passes."""
        waiting = None
        seen = []
        for target in stage.targets:
            who = _target_name(stage, target)
            status = _latest(observed.targets, target)
            if status is None:
                verdict = Verdict.waiting(f"{who}: no observation at {short(observed.commit)} yet; waiting")
            else:
                one = copy.copy(observed)
                one.status = status
                why = self.off_version(stage, one, who)
                verdict = Verdict.waiting(why) if why is not None else self._verdict_of(who, one)
            if verdict.kind == "failed":
                return verdict
            if verdict.kind == "waiting":
                if waiting is None:
                    waiting = verdict.text
            else:
                seen.append(f"{_short_name(target)}: {verdict.text}")
        if waiting is not None:
            return Verdict.waiting(waiting)
        return Verdict.healthy("; ".join(seen))

    def health_observed(self, observed):
        """Keep waiting when the observation is not about the gated version,
        else act on the verdict (a stage with several targets checks each
        target's observation in its verdict)."""
        stage = self.stage(observed.stage)
        if len(stage.targets) <= 1:
            why = self.off_version(stage, observed)
            if why is not None:
                return actions.nothing(why)
        return self.act_on(stage, observed.version, self.verdict(stage, observed))

    def act_on(self, stage, version: str, verdict: Verdict):
        """Promote on Healthy, keep waiting, or roll back and fail."""
        if verdict.kind == "healthy":
            after = self.after_healthy(stage, version, verdict.text)
            if after.decision is not None:
                return after.decision
            channel = self.channel(after.next, self.settings.mr_labels_for(after.next.name), after.reason)
            decision = self.promote(after.next, version, channel, after.reason)
            return with_digest(decision, version, self.digest_held(stage, version))
        if verdict.kind == "waiting":
            return actions.nothing(verdict.text)
        return self.roll_back_and_fail(stage, version, verdict.text)

    def after_healthy(self, stage, version: str, seen: str) -> AfterHealthy:
        """The end of the run after a rollback or at the last stage, else
        the next stage."""
        try:
            latest = self.world.stage_history(stage.name, 1)
        except CapabilityError as e:
            raise capability(e) from None
        bad = rolled_back_version(latest[0]) if latest else None
        if bad is not None:
            return AfterHealthy(decision=actions.decision(
                [actions.hold(f"{stage.name} is healthy at {version} after rolling back {bad}")]))
        nxt = events.next_stage(self.ctx, stage.name)
        if nxt is None:
            return AfterHealthy(decision=actions.decision(
                [actions.hold(f"{version} is healthy in {stage.name}; promotion of {self.ctx.app} complete")],
                [seen]))
        return AfterHealthy(next=nxt, reason=f"{version} is healthy in {stage.name} ({seen})")

    def gate_timeout(self, timeout):
        """A gate that ran out of time rolls its stage back and fails."""
        stage = self.stage(timeout.stage)
        if len(stage.targets) > 1:
            last = "; ".join(
                f"{_short_name(t)}: {_describe_or_none(_latest(timeout.targets, t))}"
                for t in stage.targets)
        else:
            last = _describe_or_none(timeout.last_status)
        why = (f"{stage.name} not healthy at {timeout.version} within "
               f"{timeout.elapsed // 1000}s (last: {last})")
        return self.roll_back_and_fail(stage, timeout.version, why)

    def last_good(self, stage, bad: str) -> Optional[Tuple[str, Optional[str]]]:
        """The last good version of `stage` before `bad` (`history.last_good`)
        and the digest it was deployed with, if one was recorded; `None` when
        the history holds no good version.

        Reads the history with the growing limits of `HISTORY_STEPS` and
        stops at the first read that decides the answer: one that holds a
        good version (newer entries alone decide it), or one shorter than
        its limit (the history ended there)."""
        for limit in HISTORY_STEPS:
            try:
                history = self.world.stage_history(stage.name, limit)
            except CapabilityError as e:
                raise capability(e) from None
            good = last_good(history, bad)
            if good is not None:
                return good, digest_deployed(history, good)
            if len(history) < limit:
                break
        return None

    def rollback_requested(self, request):
        """A requested rollback goes to `--to` or the last good version; a
        stage already there holds."""
        stage = self.stage(request.stage)
        try:
            current = self.world.stage_version(stage.name, None)
        except CapabilityError as e:
            raise capability(e) from None
        target, digest = request.to_version, None
        if target is None:
            found = self.last_good(stage, current)
            if found is None:
                return actions.decision([actions.fail(
                    f"cannot roll back {stage.name}: no earlier good version than {current}")])
            target, digest = found
        if target == current:
            return actions.decision([actions.hold(f"{stage.name} is already at {target}")])
        why = f"rollback of {stage.name} from {current} to {target} requested: {request.reason}"
        channel = self.channel(stage, self.settings.rollback_labels_for(stage.name), why)
        acts = [actions.rollback(stage.name, target, current, channel, why)]
        if actions.is_direct(channel):
            acts.append(actions.await_health(stage.name, target, self.settings.health_timeout_ms(stage.name)))
        else:
            acts.append(actions.hold(f"waiting for the {stage.name} rollback merge request to be merged"))
        return with_digest(actions.decision(acts, [why]), target, digest)

    def roll_back_and_fail(self, stage, bad: str, why: str):
        """Rolls `stage` back from `bad` to its last good version and fails
        for `why`; with no earlier good version, only fails."""
        found = self.last_good(stage, bad)
        if found is None:
            return actions.decision([actions.fail(
                f"{why}; no earlier good version of {stage.name} to roll back to")])
        good, digest = found
        channel = self.channel(stage, self.settings.rollback_labels_for(stage.name), why)
        decision = actions.decision(
            [actions.rollback(stage.name, good, bad, channel, why),
             actions.fail(f"{why}; rolled back to {good}")],
            [why])
        return with_digest(decision, good, digest)

    def digest_held(self, stage, version: str) -> Optional[str]:
        """The digest `stage` holds with `version` at the branch tip, when
        the host knows one."""
        try:
            targets = self.world.target_versions(stage.name, None)
        except CapabilityError:
            return None
        return next((t.digest for t in targets
                     if t.version == version and t.digest is not None), None)
