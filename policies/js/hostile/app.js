// The hostile JavaScript policy's entry point.

import { exportPolicy } from '../sdk/src/host.js';
import { decide } from './misbehave.js';

export const policy = exportPolicy(decide, {
  name: 'baton-hostile-js',
  version: '0.1.0',
  description: 'Test policy that misbehaves on purpose; settings.mode picks how',
});
