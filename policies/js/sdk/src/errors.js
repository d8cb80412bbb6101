// Errors a policy answers with, and capability errors it receives. A
// policy throws a PolicyError subclass; the export wrapper hands its
// `payload` to the host as the contract's `policy-error`. Capability
// calls throw CapabilityError, whose text is the Rust SDK's
// (`CapabilityError::NotFound("stage dev")`) so reasons read the same in
// every language.

/** `text` quoted the way Rust's `{:?}` quotes a string. */
export function rustDebugStr(text) {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\0') out += '\\0';
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += ch;
  }
  return out + '"';
}

/**
 * Why a policy could not decide; throw one of the subclasses. `payload` is
 * an own property: componentize-js hands a thrown error's own `payload` to
 * the host as the result's error value.
 */
export class PolicyError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = new.target.name;
    /** The contract's variant case, e.g. `invalid-settings`. */
    this.kind = new.target.kind;
    /** The contract's `policy-error` value. */
    this.payload = { tag: this.kind, val: message };
  }
  static kind = 'other';
}

/** `policy.settings` are invalid; the text names the setting. */
export class InvalidSettings extends PolicyError {
  static kind = 'invalid-settings';
}

/** The event makes no sense to this policy (e.g. an unknown stage). */
export class InvalidEvent extends PolicyError {
  static kind = 'invalid-event';
}

/** A capability call failed and the policy cannot go on. */
export class CapabilityFailed extends PolicyError {
  static kind = 'capability';
}

/** Anything else. */
export class OtherError extends PolicyError {}

const CAPABILITY_NAMES = {
  'not-found': 'NotFound',
  denied: 'Denied',
  unavailable: 'Unavailable',
  invalid: 'Invalid',
};

/** A capability call failed: `kind` is `not-found`, `denied`, `unavailable` or `invalid`. */
export class CapabilityError extends Error {
  constructor(kind, message) {
    if (!(kind in CAPABILITY_NAMES)) throw new TypeError(`unknown capability error kind ${kind}`);
    super(message);
    this.name = 'CapabilityError';
    this.kind = kind;
    this.detail = message;
  }
  /** The Rust SDK's text: `CapabilityError::NotFound("x")`. */
  debug() {
    return `CapabilityError::${CAPABILITY_NAMES[this.kind]}(${rustDebugStr(this.detail)})`;
  }
  toString() {
    return this.debug();
  }
}

/** A capability error the policy cannot handle, as its policy error. */
export function capability(err) {
  return new CapabilityFailed(err.debug());
}
