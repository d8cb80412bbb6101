// The JS SDK natively: settings, history, health and the flow's rules,
// against a FakeWorld; actions are compared as `baton` prints them.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CapabilityError, Flow, FlowSettings, InvalidEvent, InvalidSettings, actions, events } from '../src/index.js';
import { texts } from '../src/display.js';
import { describe, isHealthyAt, pausedRollout } from '../src/health.js';
import { lastGood } from '../src/history.js';
import { Settings, formatDurationMs, parseDurationMs } from '../src/settings.js';
import * as t from '../src/testing.js';

const ctx = (settings = '{"health_timeout": "5m", "mr_labels": [], "rollback_labels": []}') =>
  t.context([t.stage('dev', { directCommitAllowed: true }), t.stage('staging', { directCommitAllowed: true }), t.stage('prod')], { settings });

function world(...entries) {
  const w = new t.FakeWorld();
  for (const stage of ['dev', 'staging', 'prod']) {
    w.histories.set(stage, entries.map(([v, r]) => t.deployment(v, { trailers: r ? [['Baton-Rollback-Of', r]] : [] })));
  }
  return w;
}

const flow = (w, c = ctx()) => new Flow(c, w, FlowSettings.parse(c.settings));
const observed = (stage, health = 'healthy', status = {}) =>
  events.payload(t.healthObserved(stage, 'v2', t.appStatus({ health, app: `payments-${stage}`, ...status })));

test('durations parse and format like the Rust SDK', () => {
  assert.equal(parseDurationMs('10m'), 600000n);
  assert.equal(parseDurationMs('1h30m'), 5400000n);
  assert.equal(parseDurationMs('45'), 45000n);
  assert.equal(parseDurationMs('10 minutes'), null);
  assert.equal(parseDurationMs('m'), null);
  assert.equal(formatDurationMs(93784000n), '1d2h3m4s');
  assert.equal(formatDurationMs(1200n), '2s');
});

test('settings errors name the setting', () => {
  const s = Settings.parse('{"health_timeout": "soon", "flag": 1, "labels": ["a", 2]}');
  assert.throws(() => s.durationMs('health_timeout'), new InvalidSettings('settings.health_timeout: soon is not a duration like 90s, 10m or 1h30m'));
  assert.throws(() => s.bool('flag'), { message: 'settings.flag: 1 is not true or false' });
  assert.throws(() => s.strings('labels'), { message: 'settings.labels: 2 is not a list of strings' });
  assert.throws(() => Settings.parse('[1, 2]'), { message: 'settings must be a mapping, got [1,2]' });
  assert.throws(() => FlowSettings.parse('{"stages":{"prod":{"health_timeout":"later"}}}'), {
    message: 'settings.stages.prod.health_timeout: later is not a duration like 90s, 10m or 1h30m',
  });
  const fs = FlowSettings.parse('{"health_timeout":"5m","stages":{"prod":{"health_timeout":"30m"}}}');
  assert.deepEqual(fs.healthTimeouts(), [['health_timeout', 300000n], ['stages.prod.health_timeout', 1800000n]]);
  assert.deepEqual([fs.mrLabels, fs.rollbackLabels, fs.progressingIsWaiting], [['baton'], ['baton', 'rollback'], true]);
});

test('last good skips rolled-back versions', () => {
  const h = world(['v3'], ['v1', 'v2'], ['v2'], ['v1']).histories.get('dev');
  assert.equal(lastGood(h, 'v3'), 'v1');
  assert.equal(lastGood(world(['v1']).histories.get('dev'), 'v1'), undefined);
  // Only a newer rollback rules a version out: v2 rolled back to v1 is not
  // good again, a v2 deployed again after its rollback is.
  assert.equal(lastGood(world(['v1', 'v2'], ['v2'], ['v0']).histories.get('dev'), 'v1'), 'v0');
  assert.equal(lastGood(world(['v3'], ['v2'], ['v1', 'v2'], ['v2'], ['v1']).histories.get('dev'), 'v3'), 'v2');
});

test('health helpers', () => {
  const status = t.appStatus({ revision: '0123456789abcdef' });
  assert.ok(isHealthyAt(status, '0123456789abcdef'));
  assert.equal(describe(status), 'Healthy / Synced @0123456');
  const paused = t.appStatus({ health: 'suspended', resources: [t.resource('Rollout', 'p', { health: 'suspended', message: 'CanaryPauseStep', group: 'argoproj.io' })] });
  assert.equal(pausedRollout(paused).name, 'p');
});

test('the flow: new version, promotion, verdicts, rollbacks', () => {
  assert.deepEqual(texts(flow(world()).decide(t.newVersion('v2'))), ['set dev to v2 by direct commit', 'await health of dev at v2 (timeout 300s)']);
  const f = flow(world(['v2'], ['v1']));
  assert.deepEqual(texts(f.healthObserved(observed('dev'))), ['set staging to v2 by merge request', 'hold: waiting for the staging merge request to be merged']);
  const dev = f.stage('dev');
  assert.deepEqual(f.verdict(dev, observed('dev', 'progressing')), { kind: 'waiting', text: 'dev: Progressing / Synced @abc; waiting' });
  assert.equal(f.verdict(dev, observed('dev', 'degraded', { sync: 'out-of-sync' })).kind, 'waiting');
  assert.deepEqual(texts(f.gateTimeout(events.payload(t.gateTimeout('dev', 'v2')))), [
    'roll back dev from v2 to v1 by direct commit',
    'fail: dev not healthy at v2 within 300s (last: no observation at the expected revision); rolled back to v1',
  ]);
  assert.deepEqual(texts(flow(world(['v2'])).healthObserved(observed('prod'))), ['hold: v2 is healthy in prod; promotion of payments complete']);
});

test('observations of another version keep waiting, naming capability errors like Rust', () => {
  const w = world(['v2'], ['v1']);
  const f = flow(w);
  w.versions.set('dev', 'v1');
  const d = f.healthObserved(observed('dev', 'degraded', { revision: 'older1234' }));
  assert.deepEqual(d, actions.nothing('dev: Argo CD is at older12 which holds v1, not v2 at abc; waiting'));
  w.versions.delete('dev');
  assert.equal(f.offVersion(f.stage('dev'), observed('dev', 'healthy', { revision: 'older1234' })),
    'dev: cannot tell which version revision older12 holds (CapabilityError::NotFound("stage dev")); waiting');
});

test('errors and unknown event kinds', () => {
  assert.throws(() => flow(world()).decide(t.healthObserved('qa', 'v2', t.appStatus())), new InvalidEvent('app payments has no stage qa'));
  assert.throws(() => flow(world()).decide(t.rollbackRequested('dev')), { message: 'CapabilityError::NotFound("stage dev")', payload: { tag: 'capability', val: 'CapabilityError::NotFound("stage dev")' } });
  assert.equal(new CapabilityError('denied', 'a "b"').debug(), 'CapabilityError::Denied("a \\"b\\"")');
  assert.deepEqual(flow(world()).decide({ tag: 'a-later-event', val: {} }), actions.nothing('a-later-event is not an event this policy acts on; nothing to do'));
});

test("a stage's own labels go on its merge requests", () => {
  const c = ctx('{"mr_labels": ["promo"], "stages": {"prod": {"mr_labels": ["promo", "prod"], "rollback_labels": ["prod-rollback"]}}}');
  const f = flow(world(['v2'], ['v1']), c);
  assert.equal(texts(f.healthObserved(observed('dev')))[0], 'set staging to v2 by merge request [promo]');
  assert.equal(texts(f.healthObserved(observed('staging')))[0], 'set prod to v2 by merge request [promo, prod]');
  assert.equal(texts(f.healthObserved(observed('prod', 'degraded')))[0], 'roll back prod from v2 to v1 by merge request [prod-rollback]');
  const s = FlowSettings.parse(c.settings);
  assert.deepEqual([s.mrLabelsFor('dev'), s.rollbackLabelsFor('dev')], [['promo'], ['baton', 'rollback']]);
  assert.throws(() => FlowSettings.parse('{"stages": {"prod": {"mr_labels": "prod"}}}'), {
    message: 'settings.stages.prod.mr_labels: "prod" is not a list of strings',
  });
});

/** prod deployed in `eu` and `us`. */
const twoRegions = () =>
  t.context(
    [t.stage('dev', { directCommitAllowed: true }), t.stage('staging'), t.stage('prod', { targets: [t.target('prod', 'eu'), t.target('prod', 'us')] })],
    { settings: '{"health_timeout": "5m", "mr_labels": [], "rollback_labels": []}' },
  );

/** prod at v2 with each region's latest observation (`undefined`: none). */
function prodObserved({ eu, us } = {}) {
  const [euTarget, usTarget] = [t.target('prod', 'eu'), t.target('prod', 'us')];
  const euStatus = eu && t.appStatus({ health: eu, app: euTarget.argocdApp });
  const usStatus = us && t.appStatus({ health: us, app: usTarget.argocdApp });
  return t.healthObserved('prod', 'v2', usStatus ?? euStatus, {
    targets: [t.targetStatus(euTarget, euStatus), t.targetStatus(usTarget, usStatus)],
  });
}

test('a stage with several targets passes only when every target is healthy', () => {
  const f = flow(world(['v2'], ['v1']), twoRegions());
  const onlyEu = f.decide(prodObserved({ eu: 'healthy' }));
  assert.deepEqual(texts(onlyEu), []);
  assert.deepEqual(onlyEu.reasons, ['prod/us (payments-prod-us): no observation at abc yet; waiting']);
  assert.deepEqual(f.decide(prodObserved({ eu: 'healthy', us: 'progressing' })).reasons, [
    'prod/us (payments-prod-us): Progressing / Synced @abc; waiting',
  ]);
  assert.deepEqual(texts(f.decide(prodObserved({ eu: 'healthy', us: 'healthy' }))), [
    'hold: v2 is healthy in prod; promotion of payments complete',
  ]);
  const why = 'prod/us (payments-prod-us) is Degraded at v2';
  for (const event of [prodObserved({ eu: 'healthy', us: 'degraded' }), prodObserved({ us: 'degraded' })]) {
    assert.deepEqual(texts(f.decide(event)), ['roll back prod from v2 to v1 by merge request', `fail: ${why}; rolled back to v1`]);
  }
});

test('a timeout of a stage with several targets says what each showed', () => {
  const f = flow(world(['v2'], ['v1']), twoRegions());
  const observedEvent = events.payload(prodObserved({ eu: 'healthy' }));
  const timeout = t.gateTimeout('prod', 'v2', { lastStatus: observedEvent.status, targets: observedEvent.targets });
  assert.equal(
    texts(f.decide(timeout))[1],
    'fail: prod not healthy at v2 within 300s (last: eu: Healthy / Synced @abc; us: no observation at the expected revision); rolled back to v1',
  );
});
