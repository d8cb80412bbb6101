// The standard promotion flow as reusable steps: the reference policy's
// decisions (the Rust SDK's `baton_policy::flow`), rule for rule and word
// for word. `Flow.decide` is the whole reference policy; a policy that
// changes a rule handles the events it cares about and composes the steps
// for the rest. An event kind this SDK does not know is "nothing to do".

import * as actions from './actions.js';
import * as events from './events.js';
import { CapabilityError, InvalidEvent, PolicyError, capability } from './errors.js';
import { degradedResource, describe, isHealthy, isSyncing, pausedCanary, syncFailed } from './health.js';
import { lastGood, rolledBackVersion } from './history.js';
import { Settings, nestError } from './settings.js';

/** How many deployments to read, at most, when looking for the last good version. */
export const HISTORY_DEPTH = 200;

/**
 * The growing limits `Flow.lastGood` reads a stage's history with, up to
 * `HISTORY_DEPTH`. The answer is almost always one or two deployments back,
 * and a stage's deployments can be thousands of commits apart in a large env
 * repo, where the host walks and fetches history on demand: a short read
 * first spares it the whole depth.
 */
export const HISTORY_STEPS = Object.freeze([4, 16, 64, HISTORY_DEPTH]);

/**
 * Settings of the standard flow (timeouts are bigint milliseconds):
 * `health_timeout`, `progressing_is_waiting`, `mr_labels`, `rollback_labels`,
 * and per stage `stages.<name>.health_timeout`, `stages.<name>.mr_labels`
 * and `stages.<name>.rollback_labels` (a stage's own labels replace the
 * general ones).
 */
export class FlowSettings {
  /** Default gate timeout: ten minutes. */
  static DEFAULT_HEALTH_TIMEOUT_MS = 600000n;
  /** The top-level keys these settings read. */
  static KEYS = Object.freeze(['health_timeout', 'stages', 'progressing_is_waiting', 'mr_labels', 'rollback_labels']);

  constructor({
    healthTimeoutMs,
    stageTimeouts,
    progressingIsWaiting,
    mrLabels,
    rollbackLabels,
    stageMrLabels = [],
    stageRollbackLabels = [],
  }) {
    this.healthTimeout = healthTimeoutMs;
    this.stageTimeouts = stageTimeouts;
    this.progressingIsWaiting = progressingIsWaiting;
    this.mrLabels = mrLabels;
    this.rollbackLabels = rollbackLabels;
    this.stageMrLabels = stageMrLabels;
    this.stageRollbackLabels = stageRollbackLabels;
  }

  /** Parses and validates the context's settings, with the default gate timeout. */
  static parse(text) {
    return FlowSettings.fromSettings(Settings.parse(text), FlowSettings.DEFAULT_HEALTH_TIMEOUT_MS);
  }

  /** Reads the flow's keys; other keys are left to the policy. */
  static fromSettings(s, defaultHealthTimeoutMs) {
    const stageTimeouts = [];
    const stageMrLabels = [];
    const stageRollbackLabels = [];
    const stages = s.section('stages');
    if (stages !== null) {
      for (const name of stages.keys()) {
        const stage = stages.section(name) ?? new Settings({});
        let ms, mr, rollback;
        try {
          ms = stage.durationMs('health_timeout');
          mr = stage.strings('mr_labels');
          rollback = stage.strings('rollback_labels');
        } catch (e) {
          throw e instanceof PolicyError ? nestError(e, `stages.${name}`) : e;
        }
        if (ms !== null) stageTimeouts.push([name, ms]);
        if (mr !== null) stageMrLabels.push([name, mr]);
        if (rollback !== null) stageRollbackLabels.push([name, rollback]);
      }
    }
    const healthTimeout = s.durationMs('health_timeout');
    const progressing = s.bool('progressing_is_waiting');
    const mrLabels = s.strings('mr_labels');
    const rollbackLabels = s.strings('rollback_labels');
    return new FlowSettings({
      healthTimeoutMs: healthTimeout ?? BigInt(defaultHealthTimeoutMs),
      stageTimeouts,
      progressingIsWaiting: progressing ?? true,
      mrLabels: mrLabels ?? ['baton'],
      rollbackLabels: rollbackLabels ?? ['baton', 'rollback'],
      stageMrLabels,
      stageRollbackLabels,
    });
  }

  /** Labels of a merge request promoting to `stage`: its own `stages.<name>.mr_labels`, else `mr_labels`. */
  mrLabelsFor(stage) {
    const found = this.stageMrLabels.find(([name]) => name === stage);
    return found ? found[1] : this.mrLabels;
  }

  /** Labels of a merge request rolling `stage` back: its own `stages.<name>.rollback_labels`, else `rollback_labels`. */
  rollbackLabelsFor(stage) {
    const found = this.stageRollbackLabels.find(([name]) => name === stage);
    return found ? found[1] : this.rollbackLabels;
  }

  /** Gate timeout for `stage`. */
  healthTimeoutMs(stage) {
    const found = this.stageTimeouts.find(([name]) => name === stage);
    return found ? found[1] : this.healthTimeout;
  }

  /** Every configured gate timeout with its settings key. */
  healthTimeouts() {
    return [
      ['health_timeout', this.healthTimeout],
      ...this.stageTimeouts.map(([stage, ms]) => [`stages.${stage}.health_timeout`, ms]),
    ];
  }
}

/** Verdicts: `{kind: 'healthy', text: seen}`, `{kind: 'waiting', text: why}`, `{kind: 'failed', text: why}`. */
export const Verdict = Object.freeze({
  healthy: (text) => ({ kind: 'healthy', text }),
  waiting: (text) => ({ kind: 'waiting', text }),
  failed: (text) => ({ kind: 'failed', text }),
});

/** The first 7 characters of a commit id, as git shows it. */
export function short(commit) {
  return commit.slice(0, 7);
}

/** A status described, or what a timeout says without one. */
function describeOrNone(status) {
  return status != null ? describe(status) : 'no observation at the expected revision';
}

/** The sync rule for one application's observation, naming `who`. */
function syncVerdictOf(who, observed) {
  const status = observed.status;
  if (status.sync === 'synced' && !isSyncing(status)) return undefined;
  if (status.sync !== 'synced' && syncFailed(status)) {
    const message = status.operationMessage ?? 'no message from Argo CD';
    return Verdict.failed(`the sync of ${who} to ${observed.version} failed: ${message}`);
  }
  return Verdict.waiting(`${who}: ${describe(status)}; waiting for the sync`);
}

/** The latest observation of `target` among `targets` (by label, else by application), if one arrived. */
function latest(targets, target) {
  const found =
    targets.find((t) => target.label !== '' && t.label === target.label) ??
    targets.find((t) => t.argocdApp === target.argocdApp);
  return found?.status ?? undefined;
}

/** How reasons name a target: `prod/us (payments-prod-us)`. */
function targetName(stage, target) {
  return target.label === ''
    ? `${stage.name} (${target.argocdApp})`
    : `${stage.name}/${target.label} (${target.argocdApp})`;
}

/** A target's label, or its application when it has none. */
function shortName(target) {
  return target.label === '' ? target.argocdApp : target.label;
}

function orCapability(call) {
  try {
    return call();
  } catch (e) {
    if (e instanceof CapabilityError) throw capability(e);
    throw e;
  }
}

/** The standard flow for one decision: context, world and settings. */
export class Flow {
  constructor(ctx, world, settings) {
    this.ctx = ctx;
    this.world = world;
    this.settings = settings;
  }

  /** The reference policy's answer to `event`. */
  decide(event) {
    const p = events.payload(event);
    switch (events.kind(event)) {
      case 'new-version':
        return withDigest(this.newVersion(p.version), p.version, p.digest);
      case 'stage-changed':
        return this.stageChanged(p);
      case 'health-observed':
        return this.healthObserved(p);
      case 'gate-timeout':
        return this.gateTimeout(p);
      case 'rollback-requested':
        return this.rollbackRequested(p);
      case 'reconcile':
        return this.reconcile(p);
      default:
        return actions.nothing(`${event?.tag} is not an event this policy acts on; nothing to do`);
    }
  }

  /** The stage called `name`; an event naming another stage is invalid. */
  stage(name) {
    const stage = events.stage(this.ctx, name);
    if (stage === undefined) throw new InvalidEvent(`app ${this.ctx.app} has no stage ${name}`);
    return stage;
  }

  /** The first stage, where new versions enter. */
  firstStage() {
    const stage = events.firstStage(this.ctx);
    if (stage === undefined) throw new InvalidEvent(`app ${this.ctx.app} has no stages`);
    return stage;
  }

  /** Direct commits only where allowed and only for the first stage. */
  channel(stage, labels, description) {
    const first = events.firstStage(this.ctx);
    if (first !== undefined && first.name === stage.name && stage.directCommitAllowed) {
      return actions.directCommit();
    }
    return actions.mergeRequestChannel(actions.mrOptions(description, labels));
  }

  /** Sets `stage` to `version`, then gates it (direct commit) or holds until merged. */
  promote(stage, version, channel, reason) {
    const acts = [actions.setVersion(stage.name, version, channel, reason)];
    if (actions.isDirect(channel)) {
      acts.push(actions.awaitHealth(stage.name, version, this.settings.healthTimeoutMs(stage.name)));
    } else {
      acts.push(actions.hold(`waiting for the ${stage.name} merge request to be merged`));
    }
    return actions.decision(acts, [reason]);
  }

  /** A new version goes to the first stage. */
  newVersion(version) {
    const first = this.firstStage();
    const reason = `${version} is a new version of ${this.ctx.app}`;
    return this.promote(first, version, this.channel(first, this.settings.mrLabelsFor(first.name), reason), reason);
  }

  /** A changed stage is gated. */
  stageChanged(changed) {
    const stage = this.stage(changed.stage);
    if (changed.origin === 'out-of-band') return this.outOfBand(changed);
    const timeout = this.settings.healthTimeoutMs(stage.name);
    const why = changed.isRollback
      ? `${stage.name} was rolled back to ${changed.toVersion}; gating it`
      : `${stage.name} changed ${changed.fromVersion ?? '(none)'} -> ${changed.toVersion}; gating it`;
    return actions.decision([actions.awaitHealth(stage.name, changed.toVersion, timeout)], [why]);
  }

  /** A stage changed outside Baton: nothing is gated or promoted on it; the run fails saying why. */
  outOfBand(changed) {
    const why =
      `${changed.stage} changed ${changed.fromVersion ?? '(none)'} -> ${changed.toVersion} out of band ` +
      `(commit ${changed.commit.slice(0, 12)}: neither a Baton commit nor a merge request Baton opened); ` +
      'not gating or promoting it: review the change, then promote through Baton';
    return actions.decision([actions.fail(why)], [why]);
  }

  /**
   * A reconciled stage resumes the promotion of the version it holds when
   * there is one to resume (`nothingToResume`): it is gated again, and a
   * healthy verdict promotes to the next stage as after any gate.
   */
  reconcile(reconcile) {
    const stage = this.stage(reconcile.stage);
    if (reconcile.version == null) return actions.nothing(`${stage.name} holds no version; nothing to reconcile`);
    const version = reconcile.version;
    const why = this.nothingToResume(stage, version, reconcile.commit ?? undefined);
    if (why !== undefined) return actions.nothing(why);
    const next = events.nextStage(this.ctx, stage.name);
    const nextName = next === undefined ? 'the next stage' : next.name;
    const timeout = this.settings.healthTimeoutMs(stage.name);
    return actions.decision(
      [actions.awaitHealth(stage.name, version, timeout)],
      [`reconciling ${stage.name}: ${nextName} lacks ${version}; gating ${stage.name} at ${version} to resume the promotion`],
    );
  }

  /**
   * Why `stage`, holding `version` since `commit` (its newest deployment),
   * has no promotion to resume, if it has none: it is the last stage; its
   * newest deployment was a rollback; the next stage already holds
   * `version`; or the next stage changed since `commit`.
   */
  nothingToResume(stage, version, commit) {
    const next = events.nextStage(this.ctx, stage.name);
    if (next === undefined) return `${version} is in ${stage.name}, the last stage; nothing to resume`;
    const latest = orCapability(() => this.world.stageHistory(stage.name, 1));
    const bad = latest.length ? rolledBackVersion(latest[0]) : undefined;
    if (bad !== undefined) return `${stage.name} is at ${version} after rolling back ${bad}; nothing to resume`;
    const now = this.versionOf(next, undefined);
    if (now === version) return `${next.name} already holds ${version}; nothing to resume`;
    if (commit !== undefined) {
      const then = this.versionOf(next, commit);
      if (then !== now) {
        const show = (v) => v ?? '(none)';
        return `${next.name} changed since ${stage.name} got ${version} (${show(then)} -> ${show(now)}); nothing to resume`;
      }
    }
    return undefined;
  }

  /** The version `stage` holds at `revision` (the tip when undefined); undefined when it holds none there. */
  versionOf(stage, revision) {
    try {
      return this.world.stageVersion(stage.name, revision);
    } catch (e) {
      if (e instanceof CapabilityError && e.kind === 'not-found') return undefined;
      if (e instanceof CapabilityError) throw capability(e);
      throw e;
    }
  }

  /** Why an observation says nothing about the gated version, if it does not; the reason names `who` (default: the stage). */
  offVersion(stage, observed, who = stage.name) {
    const revision = observed.status.revision;
    if (revision == null) {
      return `${who}: Argo CD reports no synced revision yet; waiting for ${short(observed.commit)}`;
    }
    if (revision === observed.commit) return undefined;
    let version;
    try {
      version = this.world.stageVersion(stage.name, revision);
    } catch (e) {
      if (!(e instanceof CapabilityError)) throw e;
      return `${who}: cannot tell which version revision ${short(revision)} holds (${e.debug()}); waiting`;
    }
    if (version === observed.version) return undefined;
    return (
      `${who}: Argo CD is at ${short(revision)} which holds ${version}, ` +
      `not ${observed.version} at ${short(observed.commit)}; waiting`
    );
  }

  /** A failed sync fails; not Synced or still syncing waits; `undefined` once synced. */
  syncVerdict(stage, observed) {
    return syncVerdictOf(stage.name, observed);
  }

  /**
   * Degraded fails; Healthy passes; Progressing waits unless configured otherwise. A stage with
   * several targets is judged target by target (`targetsVerdict`).
   */
  verdict(stage, observed) {
    if ((stage.targets ?? []).length > 1) return this.targetsVerdict(stage, observed);
    return this.verdictOf(stage.name, observed);
  }

  /** `verdict` of one application's observation, naming `who`. */
  verdictOf(who, observed) {
    const synced = syncVerdictOf(who, observed);
    if (synced !== undefined) return synced;
    const status = observed.status;
    const seen = describe(status);
    const degraded = degradedResource(status);
    if (status.health === 'degraded' || degraded !== undefined) {
      let detail = '';
      if (degraded !== undefined) detail = ` (${degraded.kind} ${degraded.name}: ${degraded.message ?? 'degraded'})`;
      else if (status.healthMessage != null) detail = ` (${status.healthMessage})`;
      return Verdict.failed(`${who} is Degraded at ${observed.version}${detail}`);
    }
    if (isHealthy(status)) return Verdict.healthy(seen);
    if (status.health !== 'progressing' || this.settings.progressingIsWaiting) {
      const paused = pausedCanary(status);
      if (paused !== undefined) return Verdict.waiting(`${who}: canary ${paused.name} paused (${seen}); waiting`);
      return Verdict.waiting(`${who}: ${seen}; waiting`);
    }
    return Verdict.failed(`${who} is still Progressing and progressing_is_waiting is false`);
  }

  /**
   * A stage with several targets, from each target's latest observation: the first target that
   * fails fails the stage (naming it); else the first not there yet keeps it waiting; else every
   * target is Healthy and Synced and the stage passes.
   */
  targetsVerdict(stage, observed) {
    let waiting;
    const seen = [];
    for (const target of stage.targets) {
      const who = targetName(stage, target);
      const status = latest(observed.targets ?? [], target);
      let verdict;
      if (status == null) {
        verdict = Verdict.waiting(`${who}: no observation at ${short(observed.commit)} yet; waiting`);
      } else {
        const one = { ...observed, status };
        const why = this.offVersion(stage, one, who);
        verdict = why !== undefined ? Verdict.waiting(why) : this.verdictOf(who, one);
      }
      if (verdict.kind === 'failed') return verdict;
      if (verdict.kind === 'waiting') waiting ??= verdict.text;
      else seen.push(`${shortName(target)}: ${verdict.text}`);
    }
    return waiting !== undefined ? Verdict.waiting(waiting) : Verdict.healthy(seen.join('; '));
  }

  /** Keep waiting when off version, else act on the verdict (a stage with several targets checks each in its verdict). */
  healthObserved(observed) {
    const stage = this.stage(observed.stage);
    if ((stage.targets ?? []).length <= 1) {
      const why = this.offVersion(stage, observed);
      if (why !== undefined) return actions.nothing(why);
    }
    return this.actOn(stage, observed.version, this.verdict(stage, observed));
  }

  /** Promote on Healthy, keep waiting, or roll back and fail. */
  actOn(stage, version, verdict) {
    if (verdict.kind === 'healthy') {
      const after = this.afterHealthy(stage, version, verdict.text);
      if (after.decision !== undefined) return after.decision;
      const channel = this.channel(after.next, this.settings.mrLabelsFor(after.next.name), after.reason);
      const decision = this.promote(after.next, version, channel, after.reason);
      return withDigest(decision, version, this.digestHeld(stage, version));
    }
    if (verdict.kind === 'waiting') return actions.nothing(verdict.text);
    return this.rollBackAndFail(stage, version, verdict.text);
  }

  /** `{decision}` ending the run (healthy rollback, last stage), or `{next, reason}`. */
  afterHealthy(stage, version, seen) {
    const latest = orCapability(() => this.world.stageHistory(stage.name, 1));
    const bad = latest.length ? rolledBackVersion(latest[0]) : undefined;
    if (bad != null) {
      return {
        decision: actions.decision([actions.hold(`${stage.name} is healthy at ${version} after rolling back ${bad}`)]),
      };
    }
    const next = events.nextStage(this.ctx, stage.name);
    if (next === undefined) {
      return {
        decision: actions.decision(
          [actions.hold(`${version} is healthy in ${stage.name}; promotion of ${this.ctx.app} complete`)],
          [seen],
        ),
      };
    }
    return { next, reason: `${version} is healthy in ${stage.name} (${seen})` };
  }

  /** A gate that ran out of time rolls its stage back and fails. */
  gateTimeout(timeout) {
    const stage = this.stage(timeout.stage);
    const last =
      (stage.targets ?? []).length > 1
        ? stage.targets.map((t) => `${shortName(t)}: ${describeOrNone(latest(timeout.targets ?? [], t))}`).join('; ')
        : describeOrNone(timeout.lastStatus);
    const why = `${stage.name} not healthy at ${timeout.version} within ${BigInt(timeout.elapsed) / 1000n}s (last: ${last})`;
    return this.rollBackAndFail(stage, timeout.version, why);
  }

  /**
   * The last good version of `stage` before `bad` (`history.lastGood`) and the
   * digest it was deployed with, as `[version, digest]` (digest `undefined`
   * when none was recorded); `undefined` when the history holds no good version.
   *
   * Reads the history with the growing limits of `HISTORY_STEPS` and stops at
   * the first read that decides the answer: one that holds a good version
   * (newer entries alone decide it), or one shorter than its limit (the
   * history ended there).
   */
  lastGood(stage, bad) {
    for (const limit of HISTORY_STEPS) {
      const history = orCapability(() => this.world.stageHistory(stage.name, limit));
      const good = lastGood(history, bad);
      if (good !== undefined) return [good, digestDeployed(history, good)];
      if (history.length < limit) break;
    }
    return undefined;
  }

  /** A requested rollback goes to `--to` or the last good version; a stage already there holds. */
  rollbackRequested(request) {
    const stage = this.stage(request.stage);
    const current = orCapability(() => this.world.stageVersion(stage.name, undefined));
    let target = request.toVersion;
    let digest;
    if (target == null) {
      const found = this.lastGood(stage, current);
      if (found === undefined) {
        return actions.decision([actions.fail(`cannot roll back ${stage.name}: no earlier good version than ${current}`)]);
      }
      [target, digest] = found;
    }
    if (target === current) return actions.decision([actions.hold(`${stage.name} is already at ${target}`)]);
    const why = `rollback of ${stage.name} from ${current} to ${target} requested: ${request.reason}`;
    const channel = this.channel(stage, this.settings.rollbackLabelsFor(stage.name), why);
    const acts = [actions.rollback(stage.name, target, current, channel, why)];
    if (actions.isDirect(channel)) {
      acts.push(actions.awaitHealth(stage.name, target, this.settings.healthTimeoutMs(stage.name)));
    } else {
      acts.push(actions.hold(`waiting for the ${stage.name} rollback merge request to be merged`));
    }
    return withDigest(actions.decision(acts, [why]), target, digest);
  }

  /** Rolls `stage` back from `bad` to its last good version and fails; with none, only fails. */
  rollBackAndFail(stage, bad, why) {
    const found = this.lastGood(stage, bad);
    if (found === undefined) {
      return actions.decision([actions.fail(`${why}; no earlier good version of ${stage.name} to roll back to`)]);
    }
    const [good, digest] = found;
    const channel = this.channel(stage, this.settings.rollbackLabelsFor(stage.name), why);
    const decision = actions.decision(
      [actions.rollback(stage.name, good, bad, channel, why), actions.fail(`${why}; rolled back to ${good}`)],
      [why],
    );
    return withDigest(decision, good, digest);
  }

  /** The digest `stage` holds with `version` at the branch tip, when the host knows one. */
  digestHeld(stage, version) {
    let targets;
    try {
      targets = this.world.targetVersions(stage.name, undefined);
    } catch {
      return undefined;
    }
    return targets.find((t) => t.version === version && t.digest != null)?.digest;
  }
}

/** The digest the newest deployment of `version` in `history` (newest first) set, if it recorded one. */
export function digestDeployed(history, version) {
  return history.find((d) => d.toVersion === version)?.digest ?? undefined;
}

/** `decision` with `digest` on every set-version and rollback to `version` that gives none. */
export function withDigest(decision, version, digest) {
  if (digest == null) return decision;
  for (const action of decision.actions) {
    const v = action.val;
    if (action.tag === 'set-version' && v.version === version && v.digest == null) v.digest = digest;
    if (action.tag === 'rollback' && v.toVersion === version && v.toDigest == null) v.toDigest = digest;
  }
  return decision;
}
