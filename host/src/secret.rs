//! A credential read from the environment. It cannot be printed: `Debug` and
//! `Display` show `<redacted>`, so a token never reaches logs, errors, audit
//! records, commit messages or MR texts by accident.
//!
//! A remote system may still echo a token back (a forge's error body, a git
//! server's `ERR` line), and not necessarily the token that system was given.
//! So every token read from the environment is also registered process-wide,
//! and [`redact_all`] removes all of them from any text on its way out:
//! stdout, stderr and the audit record.

use std::borrow::Cow;
use std::fmt;
use std::sync::Mutex;

/// Every token read from the environment by this process.
static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Replaces every registered token in `text` with `<redacted>`, in its raw
/// form and as JSON would escape it.
pub fn redact_all(text: &str) -> Cow<'_, str> {
    let known = KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = Cow::Borrowed(text);
    for token in known.iter() {
        let escaped = serde_json::to_string(token).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        for form in [token.as_str(), escaped] {
            if !form.is_empty() && out.contains(form) {
                out = Cow::Owned(out.replace(form, "<redacted>"));
            }
        }
    }
    out
}

fn register(token: &str) {
    if token.is_empty() {
        return;
    }
    let mut known = KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !known.iter().any(|t| t == token) {
        known.push(token.to_owned());
        // Longest first, so a token containing another is removed whole.
        known.sort_by_key(|t| std::cmp::Reverse(t.len()));
    }
}

/// A token or password. Use [`Secret::expose`] only at the point where the
/// value goes onto the wire (an HTTP header, a `GIT_CONFIG_VALUE_n`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for the transport layer only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads the secret from the environment variable `name`; `None` when it
    /// is unset or empty.
    pub fn from_env(name: &str) -> Option<Self> {
        let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
        register(&value);
        Some(Self(value))
    }

    /// Replaces every occurrence of the secret in `text` with `<redacted>`,
    /// for output that may echo it back (git's stderr, a server's error body).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.0, "<redacted>")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_read_is_redacted_everywhere() {
        register("tok-a\"b");
        register("glpat-registered");
        assert_eq!(
            redact_all("got glpat-registered and {\"t\":\"tok-a\\\"b\"}"),
            "got <redacted> and {\"t\":\"<redacted>\"}"
        );
        assert!(matches!(redact_all("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("glpat-123");
        assert_eq!(format!("{s} {s:?}"), "<redacted> Secret(<redacted>)");
        assert_eq!(
            s.redact("token glpat-123 rejected"),
            "token <redacted> rejected"
        );
    }
}
