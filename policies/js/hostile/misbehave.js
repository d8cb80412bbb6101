// A JavaScript policy that misbehaves on purpose, to prove the sandbox
// contains it like a Rust one. `settings.mode` selects the misbehaviour:
// `loop` (endless computation), `alloc` (unbounded allocation), `fetch`
// (a network request), `raise` (an uncaught exception). The host's tests
// assert the precise error each one produces.

import { InvalidSettings, actions } from '../sdk/src/index.js';
import { Settings } from '../sdk/src/settings.js';

export function decide(ctx) {
  const mode = Settings.parse(ctx.settings).string('mode') ?? '';
  switch (mode) {
    case 'loop':
      for (;;) {
        /* spin */
      }
    case 'alloc': {
      const hoard = [];
      for (;;) hoard.push(new Uint8Array(1 << 24).fill(7));
    }
    case 'fetch': {
      const sent = fetch('http://127.0.0.1:22/');
      return actions.decision([actions.hold(`fetch returned ${typeof sent}`)]);
    }
    case 'raise':
      throw new TypeError(`policy bug: stage table is empty for ${ctx.app}`);
    default:
      throw new InvalidSettings(`settings.mode: unknown mode ${JSON.stringify(mode)}`);
  }
}
