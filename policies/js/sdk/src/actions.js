// Constructors for the actions a policy returns and for its decision: the
// only place that builds the contract's action records, so a new optional
// field in a later contract version is one default here.

/** The direct-commit channel (needs `guardrails.direct_commit_stages`). */
export function directCommit() {
  return { tag: 'direct-commit' };
}

/** Merge request options; no title uses the host's template. */
export function mrOptions(description, labels = [], { title = undefined, autoMerge = false } = {}) {
  return { title, description, labels: [...labels], autoMerge };
}

/** The merge-request channel with `options` (see `mrOptions`). */
export function mergeRequestChannel(options) {
  return { tag: 'merge-request', val: options };
}

/** Is `channel` a direct commit? */
export function isDirect(channel) {
  return channel.tag === 'direct-commit';
}

/** Set `stage` to `version` (and image `digest`, when given) through `channel`. */
export function setVersion(stage, version, channel, reason, digest = undefined) {
  return { tag: 'set-version', val: { stage, version, channel, reason, digest } };
}

/** Set `stage` to `version` by a direct commit to the env repo branch. */
export function commit(stage, version, reason) {
  return setVersion(stage, version, directCommit(), reason);
}

/** Set `stage` to `version` through a merge request. */
export function mergeRequest(stage, version, options, reason) {
  return setVersion(stage, version, mergeRequestChannel(options), reason);
}

/** Wait until `stage` is healthy at `version`, for at most `timeoutMs` (a bigint). */
export function awaitHealth(stage, version, timeoutMs) {
  return { tag: 'await-health', val: { stage, version, timeout: BigInt(timeoutMs) } };
}

/** Roll `stage` back from `bad` to `good` (and `goodDigest`) through `channel`. */
export function rollback(stage, good, bad, channel, reason, goodDigest = undefined) {
  return {
    tag: 'rollback',
    val: { stage, toVersion: good, rollbackOf: bad, channel, reason, toDigest: goodDigest },
  };
}

/** Stop successfully for now. */
export function hold(reason) {
  return { tag: 'hold', val: reason };
}

/** Stop the run as failed. */
export function fail(reason) {
  return { tag: 'fail', val: reason };
}

/**
 * A decision: actions in order, and explanations for the audit record. With
 * no actions in answer to a health observation, `recheckAfter` (milliseconds)
 * asks to be asked again even without a new observation.
 */
export function decision(actions = [], reasons = [], recheckAfter = undefined) {
  return {
    actions: [...actions],
    reasons: [...reasons],
    recheckAfter: recheckAfter === undefined ? undefined : BigInt(recheckAfter),
  };
}

/** A decision with no actions, explained. */
export function nothing(reason) {
  return decision([], [reason]);
}
