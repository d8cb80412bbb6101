// Deployment history: which versions are good to go back to.

/** Trailer that marks a commit as a rollback of the named version. */
export const ROLLBACK_TRAILER = 'Baton-Rollback-Of';

/** The version a deployment commit rolled back, if it was a rollback. */
export function rolledBackVersion(deployment) {
  const t = deployment.trailers.find((t) => t.key.toLowerCase() === ROLLBACK_TRAILER.toLowerCase());
  return t?.value;
}

/**
 * The newest version in `history` (newest first) that is not `bad` and that
 * no commit rolled back; `undefined` when there is none.
 */
export function lastGood(history, bad) {
  const rolledBack = new Set(history.map(rolledBackVersion).filter((v) => v != null));
  return history.map((d) => d.toVersion).find((v) => v !== bad && !rolledBack.has(v));
}
