// A scripted world and record builders for node:test, without Wasm. The
// builders take options with defaults, so tests never spell out the
// contract's records (a field added by a later contract version gets its
// default here). Numbers the contract carries as u64/s64 are bigints.

import { CapabilityError } from './errors.js';

/** A stage as `baton.yaml` would configure it; with `targets`, its file, field and application are the first target's. */
export function stage(name, { directCommitAllowed = false, autoMergeAllowed = false, file, field = 'helm:image.tag', argocdApp, app = 'payments', targets = [] } = {}) {
  const [first] = targets;
  return {
    name,
    file: first?.file ?? file ?? `overlays/${name}/values.yaml`,
    field: first?.field ?? field,
    argocdApp: first?.argocdApp ?? argocdApp ?? `${app}-${name}`,
    directCommitAllowed,
    autoMergeAllowed,
    targets: [...targets],
  };
}

/** Target `label` of `stage`: `overlays/<stage>-<label>/values.yaml`, deployed by `<app>-<stage>-<label>`. */
export function target(stage, label, { app = 'payments', field = 'helm:image.tag' } = {}) {
  return { label, file: `overlays/${stage}-${label}/values.yaml`, field, argocdApp: `${app}-${stage}-${label}` };
}

/** `target`'s latest observation during a gate (`undefined`: none yet). */
export function targetStatus(target, status) {
  return { label: target.label, argocdApp: target.argocdApp, status };
}

/** The context of a decide call. */
export function context(stages, { settings = '{}', app = 'payments', runId = 'run-1', maxHealthWait = 1800000n, dryRun = false } = {}) {
  return { app, stages: [...stages], settings, runId, maxHealthWait: BigInt(maxHealthWait), dryRun };
}

/** A deployment (a commit that changed a stage's version); trailers as `[key, value]` pairs. */
export function deployment(toVersion, { commit, time = 0n, author = 'ci', fromVersion, subject = '', trailers = [], digest, origin = 'baton-commit', mergeRequest } = {}) {
  return {
    commit: commit ?? `c-${toVersion}`,
    time: BigInt(time),
    author,
    fromVersion,
    toVersion,
    subject,
    trailers: trailers.map(([key, value]) => ({ key, value })),
    digest,
    origin,
    mergeRequest: mergeRequest === undefined ? undefined : BigInt(mergeRequest),
  };
}

/** One resource of an application. */
export function resource(kind, name, { health, message, group = '', namespace = 'payments', sync = 'synced' } = {}) {
  return { group, kind, namespace, name, health, message, sync };
}

/** An Argo CD observation; statuses by their contract names (`out-of-sync`). */
export function appStatus({ health = 'healthy', sync = 'synced', revision = 'abc', app = 'payments-dev', healthMessage, operationPhase, operationMessage, reconciledAt, resources = [] } = {}) {
  return { app, health, healthMessage, sync, revision: revision ?? undefined, operationPhase, operationMessage, reconciledAt, resources: [...resources] };
}

/** A merge request as the forge reports it. */
export function mergeRequest(number, sourceBranch, { state = 'opened', url = '', title = '', targetBranch = 'main', labels = [], mergeStatus = 'mergeable', mergeCommit } = {}) {
  return { number: BigInt(number), url, title, state, sourceBranch, targetBranch, labels: [...labels], mergeStatus, mergeCommit };
}

/** A `new-version` event. */
export function newVersion(version, { digest } = {}) {
  return { tag: 'new-version', val: { version, digest } };
}

/** A `stage-changed` event. */
export function stageChanged(stage, toVersion, { fromVersion, commit = 'abc', isRollback = false, digest, origin = 'baton-commit' } = {}) {
  return { tag: 'stage-changed', val: { stage, fromVersion, toVersion, commit, isRollback, digest, origin } };
}

/** A `health-observed` event (`targets`: each target's latest observation, see `targetStatus`). */
export function healthObserved(stage, version, status, { commit = 'abc', elapsed = 1000n, targets = [] } = {}) {
  return { tag: 'health-observed', val: { stage, version, commit, elapsed: BigInt(elapsed), status, targets: [...targets] } };
}

/** A `gate-timeout` event. */
export function gateTimeout(stage, version, { lastStatus, commit = 'abc', elapsed = 300000n, targets = [] } = {}) {
  return { tag: 'gate-timeout', val: { stage, version, commit, elapsed: BigInt(elapsed), lastStatus, targets: [...targets] } };
}

/** A `reconcile` event. */
export function reconcile(stage, version, { commit = 'abc', digest, origin = 'baton-commit' } = {}) {
  return { tag: 'reconcile', val: { stage, version, digest, commit, origin } };
}

/** A `rollback-requested` event. */
export function rollbackRequested(stage, { toVersion, reason = '' } = {}) {
  return { tag: 'rollback-requested', val: { stage, toVersion, reason } };
}

/** A world whose answers the test sets up; unknown lookups answer `not-found`, like the host. */
export class FakeWorld {
  constructor() {
    /** Files by `path@revision` (revision '' is the branch tip). */
    this.files = new Map();
    /** Stage versions (at any revision). */
    this.versions = new Map();
    /** Stage histories, newest first. */
    this.histories = new Map();
    /** The `stageHistory` calls made, as `[stage, limit]`, in order: how deep a policy read. */
    this.historyReads = [];
    /** Argo CD statuses by application name. */
    this.statuses = new Map();
    /** Merge requests. */
    this.mergeRequests = [];
    /** The clock. */
    this.time = 0n;
    /** Messages the policy logged, as `[level, message]`. */
    this.logs = [];
  }
  readFile(path, revision) {
    const key = `${path}@${revision ?? ''}`;
    if (!this.files.has(key)) throw new CapabilityError('not-found', `file ${path}`);
    return this.files.get(key);
  }
  stageVersion(stage) {
    if (!this.versions.has(stage)) throw new CapabilityError('not-found', `stage ${stage}`);
    return this.versions.get(stage);
  }
  stageHistory(stage, limit) {
    this.historyReads.push([stage, limit]);
    return (this.histories.get(stage) ?? []).slice(0, limit);
  }
  /** One target holding the stage's version, with the digest of its newest deployment of it. */
  targetVersions(stage) {
    const version = this.versions.get(stage);
    const digest = (this.histories.get(stage) ?? []).find((d) => d.toVersion === version)?.digest;
    return [{ label: '', version, digest }];
  }
  applicationStatus(app) {
    if (!this.statuses.has(app)) throw new CapabilityError('not-found', `application ${app}`);
    return this.statuses.get(app);
  }
  findOpenMergeRequest(sourceBranch) {
    return this.mergeRequests.find((mr) => mr.sourceBranch === sourceBranch && mr.state === 'opened');
  }
  mergeRequest(number) {
    const mr = this.mergeRequests.find((m) => m.number === BigInt(number));
    if (!mr) throw new CapabilityError('not-found', `merge request !${number}`);
    return mr;
  }
  now() {
    return this.time;
  }
  log(level, message) {
    this.logs.push([level, message]);
  }
}
