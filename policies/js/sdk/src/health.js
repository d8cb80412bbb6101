// Reading Argo CD observations: healthy at a revision, paused canaries,
// aborted rollouts, and the short description used in reasons.

/** API group of Argo Rollouts resources. */
export const ROLLOUT_GROUP = 'argoproj.io';

const HEALTH_NAMES = {
  healthy: 'Healthy',
  progressing: 'Progressing',
  degraded: 'Degraded',
  suspended: 'Suspended',
  missing: 'Missing',
  unknown: 'Unknown',
};
const SYNC_NAMES = { synced: 'Synced', 'out-of-sync': 'OutOfSync', unknown: 'Unknown' };

/** Is the application Healthy and Synced at `revision`? */
export function isHealthyAt(status, revision) {
  return status.health === 'healthy' && status.sync === 'synced' && status.revision === revision;
}

/** Is the application Healthy and Synced (at the revision the host gated on)? */
export function isHealthy(status) {
  return status.health === 'healthy' && status.sync === 'synced';
}

/** Is a sync operation running or terminating? */
export function isSyncing(status) {
  return status.operationPhase === 'running' || status.operationPhase === 'terminating';
}

/** Did the last sync operation fail or end with an error? */
export function syncFailed(status) {
  return status.operationPhase === 'failed' || status.operationPhase === 'error';
}

/** A resource paused at a canary step (`CanaryPauseStep`, `Paused`). */
export function pausedCanary(status) {
  return status.resources.find(
    (r) =>
      r.health === 'suspended' &&
      r.message != null &&
      (r.message.includes('PauseStep') || r.message.includes('Paused')),
  );
}

/** The application's Argo Rollouts `Rollout` resources. */
export function rollouts(status) {
  return status.resources.filter((r) => r.group === ROLLOUT_GROUP && r.kind === 'Rollout');
}

/** Does a health message report an aborted rollout? */
export function mentionsAbort(message) {
  return message.toLowerCase().includes('abort');
}

/** The first Rollout that is Degraded with a message mentioning an abort. */
export function abortedRollout(status) {
  return rollouts(status).find((r) => r.health === 'degraded' && r.message && mentionsAbort(r.message));
}

/** The first Rollout that is Suspended. */
export function pausedRollout(status) {
  return rollouts(status).find((r) => r.health === 'suspended');
}

/** The first Degraded resource, for failure reasons. */
export function degradedResource(status) {
  return status.resources.find((r) => r.health === 'degraded');
}

/** Argo CD's spelling of a health status. */
export function healthName(health) {
  return HEALTH_NAMES[health];
}

/** Argo CD's spelling of a sync status. */
export function syncName(sync) {
  return SYNC_NAMES[sync];
}

/** Short description: `Healthy / Synced @ab12cd3`. */
export function describe(status) {
  const rev = status.revision == null ? '-' : status.revision.slice(0, 7);
  return `${healthName(status.health)} / ${syncName(status.sync)} @${rev}`;
}
