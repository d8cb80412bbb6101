// The JavaScript default policy, natively: the Rust default policy's unit
// tests, rule for rule.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InvalidEvent } from '../sdk/src/index.js';
import { texts } from '../sdk/src/display.js';
import * as t from '../sdk/src/testing.js';
import { decide } from './default-policy.js';

const ctx = (settings = '{"health_timeout":"5m","mr_labels":["promo"]}') =>
  t.context([t.stage('dev', { directCommitAllowed: true }), t.stage('staging'), t.stage('prod')], { settings });

function world(...entries) {
  const w = new t.FakeWorld();
  for (const stage of ['dev', 'staging', 'prod']) {
    w.histories.set(stage, entries.map(([v, r]) => t.deployment(v, { trailers: r ? [['Baton-Rollback-Of', r]] : [] })));
  }
  return w;
}

const observed = (stage, health = 'healthy', status = {}) => t.healthObserved(stage, 'v2', t.appStatus({ health, ...status }));

test('a new version goes to dev by commit, then health', () => {
  assert.deepEqual(texts(decide(ctx(), t.newVersion('v2'), world())), ['set dev to v2 by direct commit', 'await health of dev at v2 (timeout 300s)']);
});

test('healthy dev opens the staging merge request', () => {
  assert.deepEqual(texts(decide(ctx(), observed('dev'), world(['v2'], ['v1']))), [
    'set staging to v2 by merge request [promo]',
    'hold: waiting for the staging merge request to be merged',
  ]);
});

test('a paused canary waits, an aborted rollout rolls back and fails', () => {
  const w = world(['v2'], ['v1']);
  const rollout = (health, message) => [t.resource('Rollout', 'payments', { health, message, group: 'argoproj.io' })];
  const paused = decide(ctx(), observed('dev', 'suspended', { resources: rollout('suspended', 'CanaryPauseStep') }), w);
  assert.deepEqual(paused.reasons, ['dev: canary payments paused (Suspended / Synced @abc); waiting']);
  assert.deepEqual(texts(decide(ctx(), observed('dev', 'degraded', { resources: rollout('degraded', 'RolloutAborted: metric failed') }), w)), [
    'roll back dev from v2 to v1 by direct commit',
    'fail: dev is Degraded at v2 (Rollout payments: RolloutAborted: metric failed); rolled back to v1',
  ]);
});

test('degraded staging rolls back by merge request, skipping rolled-back versions', () => {
  const w = world(['v2'], ['v1', 'v1.5'], ['v1.5'], ['v1']);
  assert.equal(texts(decide(ctx(), observed('staging', 'degraded'), w))[0], 'roll back staging from v2 to v1 by merge request [baton, rollback]');
});

test('a changed stage is gated; unknown stages and bad settings are policy errors', () => {
  const d = decide(ctx(), t.stageChanged('staging', 'v2', { fromVersion: 'v1' }), world());
  assert.deepEqual([texts(d), d.reasons], [['await health of staging at v2 (timeout 300s)'], ['staging changed v1 -> v2; gating it']]);
  assert.throws(() => decide(ctx(), observed('qa'), world()), new InvalidEvent('app payments has no stage qa'));
  assert.throws(() => decide(ctx('{"health_timeout": "soon"}'), t.newVersion('v1'), world()), { payload: { tag: 'invalid-settings', val: 'settings.health_timeout: soon is not a duration like 90s, 10m or 1h30m' } });
});
