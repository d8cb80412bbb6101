// Reading `policy.settings` (a JSON object) with errors that name the
// setting, and durations such as `90s`, `10m`, `1h30m`, as bigint
// milliseconds. Error texts are the Rust SDK's, word for word.

import { InvalidSettings } from './errors.js';

const U64_MAX = 2n ** 64n - 1n;
const UNITS = { ms: 1n, s: 1000n, m: 60000n, h: 3600000n, d: 86400000n };
const isDigit = (c) => c >= '0' && c <= '9';

function parseU64(text) {
  if (!/^\+?[0-9]+$/.test(text)) return null;
  const n = BigInt(text);
  return n <= U64_MAX ? n : null;
}

/** Compact JSON, as serde_json prints a value. */
export function toJson(value) {
  return JSON.stringify(value);
}

function invalid(key, value, expected) {
  return new InvalidSettings(`settings.${key}: ${value} is not ${expected}`);
}

/** Parses `500ms`, `90s`, `10m`, `1h30m`, `2d`; a bare number is seconds. `null` if not a duration. */
export function parseDurationMs(text) {
  text = text.trim();
  if (!text) return null;
  const secs = parseU64(text);
  if (secs !== null) return secs * 1000n <= U64_MAX ? secs * 1000n : null;
  let total = 0n;
  let rest = text;
  while (rest) {
    let digits = 0;
    while (digits < rest.length && isDigit(rest[digits])) digits++;
    if (digits === 0) return null;
    const n = parseU64(rest.slice(0, digits));
    if (n === null) return null;
    rest = rest.slice(digits);
    let unitLen = 0;
    while (unitLen < rest.length && !isDigit(rest[unitLen])) unitLen++;
    const factor = UNITS[rest.slice(0, unitLen)];
    if (factor === undefined) return null;
    total += n * factor;
    if (total > U64_MAX) return null;
    rest = rest.slice(unitLen);
  }
  return total;
}

/** `1h30m`, `45s`, `500ms` below one second; rounds up to whole seconds. */
export function formatDurationMs(ms) {
  ms = BigInt(ms);
  if (ms < 1000n) return `${ms}ms`;
  let secs = (ms + 999n) / 1000n;
  let text = '';
  for (const [unit, size] of [['d', 86400n], ['h', 3600n], ['m', 60n], ['s', 1n]]) {
    if (secs >= size) {
      text += `${secs / size}${unit}`;
      secs %= size;
    }
  }
  return text;
}

/** Rewrites an error about `settings.<key>` into one about `settings.<section>.<key>`. */
export function nestError(err, section) {
  if (err instanceof InvalidSettings) {
    return new InvalidSettings(err.message.replace('settings.', `settings.${section}.`));
  }
  return err;
}

const isMapping = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Parsed policy settings; keys are visited in sorted order, like the Rust SDK. */
export class Settings {
  constructor(values) {
    this.values = values;
  }

  /** Parses the context's settings string. */
  static parse(text) {
    if (!text.trim()) return new Settings({});
    let value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new InvalidSettings(`settings are not JSON: ${e.message}`);
    }
    if (value === null) return new Settings({});
    if (!isMapping(value)) throw new InvalidSettings(`settings must be a mapping, got ${toJson(value)}`);
    return new Settings(value);
  }

  /** Keys present, sorted. */
  keys() {
    return Object.keys(this.values).sort();
  }

  /** A raw value by key. */
  get(key) {
    return this.values[key];
  }

  #value(key) {
    const v = Object.hasOwn(this.values, key) ? this.values[key] : null;
    return v === undefined ? null : v;
  }

  /** A duration in bigint milliseconds: whole seconds as a number, or text like `90s`. */
  durationMs(key) {
    const v = this.#value(key);
    if (v === null) return null;
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= 0) {
        const ms = BigInt(v) * 1000n;
        return ms > U64_MAX ? U64_MAX : ms;
      }
      throw invalid(key, toJson(v), 'a whole number of seconds');
    }
    if (typeof v === 'string') {
      const ms = parseDurationMs(v);
      if (ms === null) throw invalid(key, v, 'a duration like 90s, 10m or 1h30m');
      return ms;
    }
    throw invalid(key, toJson(v), 'a duration');
  }

  /** A boolean. */
  bool(key) {
    const v = this.#value(key);
    if (v === null || typeof v === 'boolean') return v;
    throw invalid(key, toJson(v), 'true or false');
  }

  /** A string. */
  string(key) {
    const v = this.#value(key);
    if (v === null || typeof v === 'string') return v;
    throw invalid(key, toJson(v), 'a string');
  }

  /** A list of strings. */
  strings(key) {
    const v = this.#value(key);
    if (v === null) return null;
    if (!Array.isArray(v)) throw invalid(key, toJson(v), 'a list of strings');
    for (const item of v) if (typeof item !== 'string') throw invalid(key, toJson(item), 'a list of strings');
    return [...v];
  }

  /** A nested mapping (e.g. per-stage overrides), as settings. */
  section(key) {
    const v = this.#value(key);
    if (v === null) return null;
    if (!isMapping(v)) throw invalid(key, toJson(v), 'a mapping');
    return new Settings(v);
  }

  /** Refuses keys outside `known`, so a misspelt setting is an error. */
  rejectUnknown(known) {
    const key = this.keys().find((k) => !known.includes(k));
    if (key !== undefined) {
      throw new InvalidSettings(`settings.${key}: not a setting of this policy (known: ${known.join(', ')})`);
    }
  }
}
