// baton-policy: write Baton promotion policies in JavaScript.
//
// A Baton policy is a WebAssembly component that decides, event by event,
// how an application version moves through its stages. The host (`baton`)
// calls `decide(ctx, event, world)`; the policy reads the world (git
// history, Argo CD status, merge requests, the clock) and answers with a
// decision the host checks against its guardrails and executes.
//
// Decision logic imports this module; the component's entry point imports
// `host.js` (exportPolicy, hostWorld) as well. Build with componentize-js
// (`build.sh` next to each policy pins it); unit-test with node:test and
// `testing.js`'s FakeWorld. Typings for the contract are generated from
// wit/ with jco into `types/`.

export * as actions from './actions.js';
export * as display from './display.js';
export * as events from './events.js';
export * as health from './health.js';
export * as history from './history.js';
export * as settings from './settings.js';
export { CapabilityError, CapabilityFailed, InvalidEvent, InvalidSettings, OtherError, PolicyError, capability } from './errors.js';
export { Flow, FlowSettings, HISTORY_DEPTH, HISTORY_STEPS, Verdict } from './flow.js';

/** Version of the WIT package this SDK was written for. */
export const WIT_VERSION = '0.1.0';
