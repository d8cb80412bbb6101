//! Versions and git ref names, validated the same way whatever their
//! source: a tag on the command line, `rollback --to`, or a policy's
//! decision. A version becomes a YAML value, a commit subject, a trailer and
//! part of a merge-request branch name, so it must be short, printable and
//! usable as a git ref component.

use std::fmt;

/// The longest version accepted, in bytes.
pub const MAX_LEN: usize = 256;

/// Why a version is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Nothing at all.
    #[error("it is empty")]
    Empty,
    /// Longer than [`MAX_LEN`].
    #[error("it is too long ({len} bytes; at most {MAX_LEN})")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A control character (NUL, newline, escape, ...).
    #[error("it contains a control character ({0:?})")]
    Control(char),
    /// Not usable in a branch name.
    #[error("{0}")]
    Ref(RefError),
}

/// Why a name is not a valid git ref (the rules of `git check-ref-format`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// An empty component (`a//b`, a leading or trailing `/`).
    #[error("it has an empty path component")]
    EmptyComponent,
    /// A component starting with `.` or `-`, or ending with `.lock` or `.`.
    #[error("a component may not start with `.` or `-` or end with `.` or `.lock`")]
    BadComponent,
    /// `..`, `@{` or a lone `@`.
    #[error("it may not contain `..` or `@{{` or be `@`")]
    Sequence,
    /// Whitespace or one of `~^:?*[\` and quotes.
    #[error("it may not contain whitespace, quotes or any of `~^:?*[\\`")]
    Character,
}

/// Checks a version for every use Baton makes of it.
pub fn check(version: &str) -> Result<(), VersionError> {
    if version.is_empty() {
        return Err(VersionError::Empty);
    }
    if version.len() > MAX_LEN {
        return Err(VersionError::TooLong { len: version.len() });
    }
    if let Some(c) = version.chars().find(|c| c.is_control()) {
        return Err(VersionError::Control(c));
    }
    check_ref(version).map_err(VersionError::Ref)
}

/// Checks a ref name (one or more `/`-separated components) as
/// `git check-ref-format` would, plus quotes, which Baton never wants in a
/// branch name.
pub fn check_ref(name: &str) -> Result<(), RefError> {
    if name == "@" || name.contains("..") || name.contains("@{") {
        return Err(RefError::Sequence);
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\\"'".contains(c))
    {
        return Err(RefError::Character);
    }
    for component in name.split('/') {
        if component.is_empty() {
            return Err(RefError::EmptyComponent);
        }
        if component.starts_with(['.', '-'])
            || component.ends_with('.')
            || component.ends_with(".lock")
        {
            return Err(RefError::BadComponent);
        }
    }
    Ok(())
}

/// A value shown in an error message: quoted, and cut short when long so a
/// 10 KB value is not echoed.
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOW: usize = 64;
        if self.0.chars().count() <= SHOW {
            write!(f, "{:?}", self.0)
        } else {
            let head: String = self.0.chars().take(SHOW).collect();
            write!(f, "{head:?}... ({} bytes)", self.0.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_must_be_ref_safe() {
        for good in ["v1.2.3", "1.0.0-rc.1", "release/2024.1", "v1+build.5"] {
            assert!(check(good).is_ok(), "{good}");
        }
        for bad in [
            "", "v1 2", "v1..2", "-v1", "v1.lock", "v1~1", "a:b", "v1\n", "x/", "\"v1\"",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn limits_and_control_characters_are_named() {
        let long = "v".repeat(MAX_LEN + 1);
        assert_eq!(
            check(&long),
            Err(VersionError::TooLong { len: MAX_LEN + 1 })
        );
        assert!(check(&"v".repeat(MAX_LEN)).is_ok());
        assert_eq!(check("v1\0"), Err(VersionError::Control('\0')));
        assert_eq!(check("v1\r\n"), Err(VersionError::Control('\r')));
    }

    #[test]
    fn long_values_are_cut_short_in_messages() {
        let long = "x".repeat(10_000);
        let shown = Shown(&long).to_string();
        assert!(shown.len() < 100, "{shown}");
        assert!(shown.ends_with("(10000 bytes)"), "{shown}");
        assert_eq!(Shown("v1").to_string(), "\"v1\"");
    }

    #[test]
    fn branch_names_follow_git() {
        assert!(check_ref("baton/payments/prod/v1.2.3").is_ok());
        assert_eq!(check_ref("baton//x"), Err(RefError::EmptyComponent));
        assert_eq!(check_ref("baton/x/"), Err(RefError::EmptyComponent));
        assert_eq!(check_ref("baton/.x"), Err(RefError::BadComponent));
        assert_eq!(check_ref("baton/x.lock"), Err(RefError::BadComponent));
        assert_eq!(check_ref("v1:refs/heads/main"), Err(RefError::Character));
        assert_eq!(check_ref("a@{1}"), Err(RefError::Sequence));
    }
}
