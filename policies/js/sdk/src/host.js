// The component side: the world as the host provides it and the export of
// a decide function. Only meaningful inside a component (componentize-js
// resolves the `baton:policy/...` imports); decision logic and its unit
// tests use index.js and testing.js, never this module.

import { applicationStatus } from 'baton:policy/argocd@0.2.0';
import { now } from 'baton:policy/clock@0.2.0';
import { findOpen, get } from 'baton:policy/forge@0.2.0';
import { readFile, stageHistory, stageVersion, targetVersions } from 'baton:policy/git@0.2.0';
import { log } from 'baton:policy/log@0.2.0';

import { CapabilityError, PolicyError } from './errors.js';

/** Prefix of the log message that reports an uncaught exception. */
export const PANIC_PREFIX = 'panic: ';

function call(fn, ...args) {
  try {
    return fn(...args);
  } catch (e) {
    const p = e?.payload;
    if (p && typeof p.tag === 'string') throw new CapabilityError(p.tag, String(p.val));
    throw e;
  }
}

/** The world as the host provides it; failed calls throw CapabilityError. */
export const hostWorld = Object.freeze({
  readFile: (path, revision) => call(readFile, path, revision ?? undefined),
  stageVersion: (stage, revision) => call(stageVersion, stage, revision ?? undefined),
  stageHistory: (stage, limit) => call(stageHistory, stage, limit),
  targetVersions: (stage, revision) => call(targetVersions, stage, revision ?? undefined),
  applicationStatus: (app) => call(applicationStatus, app),
  findOpenMergeRequest: (sourceBranch) => call(findOpen, sourceBranch),
  mergeRequest: (number) => call(get, BigInt(number)),
  now: () => now(),
  log: (level, message) => log(level, message),
});

/** `TypeError: message (at app.js:12:5)`: the exception and where it was thrown. */
export function panicText(error) {
  if (!(error instanceof Error)) return `uncaught ${typeof error}: ${String(error)}`;
  let text = `${error.name}: ${error.message}`;
  const frame = (error.stack ?? '').split('\n').find((l) => l.includes('@') || l.includes(' at '));
  if (frame) {
    const where = frame.includes('@') ? frame.slice(frame.lastIndexOf('@') + 1) : frame.trim().replace(/^at /, '');
    text += ` (at ${where.split('/').pop()})`;
  }
  return text;
}

/**
 * The `baton:policy/policy` export for a plain `decide(ctx, event, world)`:
 * a thrown PolicyError becomes the contract's `policy-error`; any other
 * exception is the counterpart of a Rust panic: it is logged at `error`
 * level as `panic: ...` (Baton reports the call as a panic with that text)
 * and the call traps, so a failing policy never yields a decision.
 *
 *     export const policy = exportPolicy(decide, { name: 'my-policy', version: '0.1.0' });
 */
export function exportPolicy(decide, { name, version, description = '', authors = [] }) {
  return {
    decide(context, event) {
      try {
        return decide(context, event, hostWorld);
      } catch (e) {
        if (e instanceof PolicyError) throw e;
        log('error', PANIC_PREFIX + panicText(e));
        throw e;
      }
    },
    metadata() {
      return { name, version, description, authors: [...authors] };
    },
  };
}
