// Reading events and the context. `kind(event)` is the contract's case
// name and `payload(event)` its record; a case this SDK does not know (one
// added by a later contract version) has kind `undefined`: policies treat
// it as "nothing to do".

/** Every event kind this SDK knows, in contract order. */
export const KINDS = Object.freeze([
  'new-version',
  'stage-changed',
  'health-observed',
  'gate-timeout',
  'rollback-requested',
  'reconcile',
]);

/** The event's case name, or `undefined` for a case this SDK does not know. */
export function kind(event) {
  return KINDS.includes(event?.tag) ? event.tag : undefined;
}

/** The event's record. */
export function payload(event) {
  return event?.val;
}

/** The stage called `name`, if configured. */
export function stage(ctx, name) {
  return ctx.stages.find((s) => s.name === name);
}

/** The stage after `name` in promotion order. */
export function nextStage(ctx, name) {
  const at = ctx.stages.findIndex((s) => s.name === name);
  return at < 0 ? undefined : ctx.stages[at + 1];
}

/** The first stage (where new versions enter). */
export function firstStage(ctx) {
  return ctx.stages[0];
}
