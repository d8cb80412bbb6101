// Deployment history: which versions are good to go back to.

/** Trailer that marks a commit as a rollback of the named version. */
export const ROLLBACK_TRAILER = 'Baton-Rollback-Of';

/** The version a deployment commit rolled back, if it was a rollback. */
export function rolledBackVersion(deployment) {
  const t = deployment.trailers.find((t) => t.key.toLowerCase() === ROLLBACK_TRAILER.toLowerCase());
  return t?.value;
}

/**
 * The last good version of a stage before `bad`: walking `history` newest
 * first, the first version that is not `bad` and that no newer entry (one
 * seen before it in the walk) rolled back.
 *
 * An entry's own `Baton-Rollback-Of` trailer counts only for older entries,
 * so the answer depends only on the entries up to it and a prefix of the
 * history decides it whenever it holds it; this is the host's rule too.
 * `undefined` when `history` holds no good version.
 */
export function lastGood(history, bad) {
  const rolledBack = new Set();
  for (const d of history) {
    if (d.toVersion !== bad && !rolledBack.has(d.toVersion)) return d.toVersion;
    const v = rolledBackVersion(d);
    if (v != null) rolledBack.add(v);
  }
  return undefined;
}
