// The component's entry point: exports default-policy.js's decide as
// baton:policy/policy. componentize-js resolves relative imports only, so
// the SDK is imported by path.

import { exportPolicy } from '../sdk/src/host.js';
import { decide } from './default-policy.js';

export const policy = exportPolicy(decide, {
  name: 'baton-default-policy-js',
  version: '0.1.0',
  description:
    'The seed GitOps flow as a policy, in JavaScript: dev by commit, staging and prod by merge request, health-gated, rollback to the last good version',
  authors: ['The Baton developers'],
});
