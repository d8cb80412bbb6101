// The last-good lookup reads as little history as decides it, and the
// rollback rules hold on the part it reads.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Flow, FlowSettings, HISTORY_DEPTH, HISTORY_STEPS, events } from '../src/index.js';
import { texts } from '../src/display.js';
import * as t from '../src/testing.js';

/** A world in which `dev` has `history` (newest first). */
function world(...history) {
  const w = new t.FakeWorld();
  w.histories.set('dev', history);
  return w;
}

const deploy = (version, { rolledBack, digest } = {}) =>
  t.deployment(version, { trailers: rolledBack ? [['Baton-Rollback-Of', rolledBack]] : [], digest });
const repeat = (n, version) => Array.from({ length: n }, () => deploy(version));

function flow(w) {
  const c = t.context([t.stage('dev', { directCommitAllowed: true }), t.stage('prod')], {
    settings: '{"health_timeout": "5m", "rollback_labels": []}',
  });
  return new Flow(c, w, FlowSettings.parse(c.settings));
}

function lastGoodOf(w, bad) {
  const f = flow(w);
  return f.lastGood(f.stage('dev'), bad);
}

const devReads = (...limits) => limits.map((limit) => ['dev', limit]);

test('the previous deployment takes one short read', () => {
  const old = Array.from({ length: 300 }, (_, i) => deploy(`old${i}`));
  const w = world(deploy('v2'), deploy('v1', { digest: 'sha256:v1' }), ...old);
  assert.deepEqual(lastGoodOf(w, 'v2'), ['v1', 'sha256:v1']);
  assert.deepEqual(w.historyReads, devReads(4));
});

test('a requested rollback reads the same way', () => {
  const w = world(deploy('v2'), deploy('v1'));
  w.versions.set('dev', 'v2');
  const d = flow(w).rollbackRequested(events.payload(t.rollbackRequested('dev', { reason: 'operator request' })));
  assert.equal(texts(d)[0], 'roll back dev from v2 to v1 by direct commit');
  assert.deepEqual(w.historyReads, devReads(4));
});

test('an answer five deployments back takes a second read', () => {
  // v3 was deployed again and again, and failed each time.
  const w = world(...repeat(4, 'v3'), deploy('v2'), deploy('v1'));
  assert.deepEqual(lastGoodOf(w, 'v3'), ['v2', undefined]);
  assert.deepEqual(w.historyReads, devReads(4, 16));
});

test('the reads stop where the history ends', () => {
  const short = world(deploy('v2'));
  assert.equal(lastGoodOf(short, 'v2'), undefined);
  assert.deepEqual(short.historyReads, devReads(4));
  // Exactly as long as a limit: the next read finds it ended.
  const even = world(...repeat(16, 'v2'));
  assert.equal(lastGoodOf(even, 'v2'), undefined);
  assert.deepEqual(even.historyReads, devReads(4, 16, 64));
});

test('the reads stop at the history depth', () => {
  const w = world(...repeat(500, 'v2'));
  assert.equal(lastGoodOf(w, 'v2'), undefined);
  assert.deepEqual(w.historyReads, devReads(...HISTORY_STEPS));
  assert.equal(HISTORY_STEPS.at(-1), HISTORY_DEPTH);
});

test('a newer rollback of the candidate skips it', () => {
  // v2 was rolled back to v1; a rollback from v1 goes to v0, not v2.
  const w = world(deploy('v1', { rolledBack: 'v2' }), deploy('v2'), deploy('v0'));
  assert.deepEqual(lastGoodOf(w, 'v1'), ['v0', undefined]);
});

test('an older rollback of the same version does not', () => {
  // v2 was rolled back once, then deployed again (fixed) before v3.
  const w = world(deploy('v3'), deploy('v2'), deploy('v1', { rolledBack: 'v2' }), deploy('v2'), deploy('v1'));
  assert.deepEqual(lastGoodOf(w, 'v3'), ['v2', undefined]);
  assert.deepEqual(w.historyReads, devReads(4));
});
