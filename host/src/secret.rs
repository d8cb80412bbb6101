//! A credential read from the environment. It cannot be printed: `Debug` and
//! `Display` show `<redacted>`, so a token never reaches logs, errors, audit
//! records, commit messages or MR texts by accident.

use std::fmt;

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
        std::env::var(name).ok().filter(|v| !v.is_empty()).map(Self)
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
    fn never_prints_the_value() {
        let s = Secret::new("glpat-123");
        assert_eq!(format!("{s} {s:?}"), "<redacted> Secret(<redacted>)");
        assert_eq!(
            s.redact("token glpat-123 rejected"),
            "token <redacted> rejected"
        );
    }
}
