//! Versions, image digests and git ref names, validated the same way
//! whatever their source: a tag or digest on the command line,
//! `rollback --to`, or a policy's decision.
//!
//! A version is one of three forms: a tag as git refs take it (`v1.2.3`,
//! `release/2024.1`), an image digest (`sha256:` + 64 hex digits), or a
//! full image reference (`ghcr.io/acme/app:v1.2.3@sha256:...`). Whatever
//! the form, it is at most [`MAX_LEN`] bytes without control characters or
//! whitespace. A version becomes a YAML value, a commit subject, a trailer
//! and part of a merge-request branch name; the branch name encodes every
//! character a ref may not hold ([`encode_ref_component`]), reversibly, so
//! the same version always names the same branch.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// The longest version accepted, in bytes (a full image reference with a
/// registry, a path, a tag and a sha256 digest fits).
pub const MAX_LEN: usize = 256;

/// Why a version (or digest) is not usable.
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
    /// A space or other whitespace.
    #[error("it contains whitespace ({0:?})")]
    Whitespace(char),
    /// None of the three forms.
    #[error(
        "it is neither a tag usable in a git ref (no `..`, `~^:?*[\\` or quotes), a digest \
         (sha256: and 64 hex digits) nor an image reference (registry/name:tag@digest)"
    )]
    Form,
    /// Where only a digest goes.
    #[error("it is not a digest (sha256: and 64 hex digits, or sha512: and 128)")]
    NotADigest,
    /// Where only an image tag goes (a Kustomize `newTag`, the `{version}`
    /// of a value template).
    #[error("it is not an image tag (letters, digits, `_`, `.`, `-`, `+`; no `:`, `@` or `/`)")]
    NotATag,
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
    /// A component longer than a file name may be (refs are files).
    #[error("a component is {0} bytes long; at most 255")]
    LongComponent(usize),
}

/// Checks a version for every use Baton makes of it: one of the three
/// forms, within the length limit, without control characters or
/// whitespace.
pub fn check(version: &str) -> Result<(), VersionError> {
    basic(version)?;
    // The 255-byte component limit is for the branch name the version
    // goes into, which encoding changes anyway.
    let ref_safe = matches!(check_ref(version), Ok(()) | Err(RefError::LongComponent(_)));
    if is_digest(version) || ref_safe || is_reference(version) {
        Ok(())
    } else {
        Err(VersionError::Form)
    }
}

/// Checks an image digest: `sha256:` and 64 lowercase hex digits (or
/// `sha512:` and 128).
pub fn check_digest(digest: &str) -> Result<(), VersionError> {
    basic(digest)?;
    if is_digest(digest) {
        Ok(())
    } else {
        Err(VersionError::NotADigest)
    }
}

/// Checks an image tag, what a Kustomize `newTag` or the `{version}` of a
/// value template holds: a version without `:`, `@` or `/`, which would
/// change what the image reference means.
pub fn check_tag(tag: &str) -> Result<(), VersionError> {
    check(tag)?;
    if tag.contains([':', '@', '/']) {
        return Err(VersionError::NotATag);
    }
    Ok(())
}

/// Length, control characters and whitespace: what every form shares.
fn basic(value: &str) -> Result<(), VersionError> {
    if value.is_empty() {
        return Err(VersionError::Empty);
    }
    if value.len() > MAX_LEN {
        return Err(VersionError::TooLong { len: value.len() });
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(VersionError::Control(c));
    }
    if let Some(c) = value.chars().find(|c| c.is_whitespace()) {
        return Err(VersionError::Whitespace(c));
    }
    Ok(())
}

/// Whether `value` is an image digest Baton writes: `sha256:` + 64 or
/// `sha512:` + 128 lowercase hex digits (the algorithms the OCI image
/// spec registers).
pub fn is_digest(value: &str) -> bool {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    value.strip_prefix("sha256:").is_some_and(|h| hex(h, 64))
        || value.strip_prefix("sha512:").is_some_and(|h| hex(h, 128))
}

/// The reference grammar of the distribution project
/// (`github.com/distribution/reference`, `regexp.go`): an optional
/// registry host with port, a lowercase path, an optional tag, an optional
/// digest. IPv6 registry hosts are left out.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    let alnum = "[a-z0-9]+";
    let separator = "(?:[._]|__|[-]+)";
    let path_component = format!("{alnum}(?:{separator}{alnum})*");
    let domain_component = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let domain = format!("{domain_component}(?:\\.{domain_component})*(?::[0-9]+)?");
    let name = format!("(?:{domain}/)?{path_component}(?:/{path_component})*");
    // Go's `\w` is ASCII (a Unicode class repeated 127 times would also
    // cost every process milliseconds to compile).
    let tag = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
    let digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
    Regex::new(&format!("^({name})(?::({tag}))?(?:@({digest}))?$"))
        .expect("a valid regular expression")
});

/// Whether `value` is an image reference (`name[:tag][@digest]`).
pub fn is_reference(value: &str) -> bool {
    REFERENCE
        .captures(value)
        .is_some_and(|c| c.get(1).is_some_and(|name| name.len() <= 255))
}

/// The digest `value` names: the value itself when it is a digest, the
/// `@digest` part when it is an image reference with one.
pub fn digest_in(value: &str) -> Option<&str> {
    if is_digest(value) {
        return Some(value);
    }
    let digest = REFERENCE.captures(value)?.get(3)?.as_str();
    is_digest(digest).then_some(digest)
}

/// A digest as people read it: `sha256:` and the first 12 hex digits
/// (what `docker images` shows); anything else unchanged.
pub fn short_digest(digest: &str) -> &str {
    match digest.split_once(':') {
        Some((algorithm, hex)) if is_digest(digest) => {
            &digest[..algorithm.len() + 1 + 12.min(hex.len())]
        }
        _ => digest,
    }
}

/// Checks a ref name (one or more `/`-separated components) as
/// `git check-ref-format` would, plus quotes, which Baton never wants in a
/// branch name, and the 255-byte limit on a component (a ref is a file).
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
        if component.len() > 255 {
            return Err(RefError::LongComponent(component.len()));
        }
    }
    Ok(())
}

/// `version` as the last part of a branch name: every byte outside
/// `A-Z a-z 0-9 . _ + - /` becomes `%XX` (so `:` is `%3A`, `@` is `%40`,
/// `%` is `%25`), and so does whatever would still break a ref: a `/` that
/// would leave an empty component, a `.` or `-` starting a component, a
/// `.` ending one, the `.` of a `.lock` ending or of `..`. A version that
/// needs none of this (`v1.2.3`) is unchanged. [`decode_ref_component`]
/// reverses it.
pub fn encode_ref_component(version: &str) -> String {
    let bytes = version.as_bytes();
    let mut out = String::with_capacity(version.len());
    for (i, &b) in bytes.iter().enumerate() {
        // Decided on what is written so far: an escaped byte never
        // separates or ends a component.
        let component_empty = out.is_empty() || out.ends_with('/');
        let rest = &bytes[i + 1..];
        let last_in_component = rest.first().is_none_or(|&n| n == b'/');
        let keep = match b {
            b'/' => !component_empty && !last_in_component,
            b'.' => {
                let component_rest = rest.split(|&c| c == b'/').next().unwrap_or_default();
                !component_empty
                    && !last_in_component
                    && !out.ends_with('.')
                    && !component_rest.eq_ignore_ascii_case(b"lock")
            }
            b'-' => !component_empty,
            b'_' | b'+' => true,
            _ => b.is_ascii_alphanumeric(),
        };
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The version a branch-name part encodes ([`encode_ref_component`]);
/// `None` when it is not such an encoding (a stray `%`, bytes that are not
/// UTF-8).
pub fn decode_ref_component(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = encoded.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
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

    const DIGEST: &str = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";

    #[test]
    fn tags_digests_and_references_are_versions() {
        let reference = format!("ghcr.io/acme/app:v1.2.3@{DIGEST}");
        for good in [
            "v1.2.3",
            "1.0.0-rc.1",
            "release/2024.1",
            "v1+build.5",
            DIGEST,
            "docker.io/kostiscodefresh/simple-env-app:1.0",
            "image:v1.0.0",
            "localhost:5000/app:1",
            "a:b",
            reference.as_str(),
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for bad in ["v1..2", "-v1", "v1~1", "x/", "\"v1\"", "a:b:c", "App:v1"] {
            assert_eq!(check(bad), Err(VersionError::Form), "{bad:?}");
        }
        assert_eq!(check(""), Err(VersionError::Empty));
        assert_eq!(check("v1 2"), Err(VersionError::Whitespace(' ')));
        assert_eq!(check("v1\n"), Err(VersionError::Control('\n')));
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
        assert_eq!(check("v1\u{a0}"), Err(VersionError::Whitespace('\u{a0}')));
        // The longest useful reference fits.
        let path = "a".repeat(MAX_LEN - DIGEST.len() - "registry.example.com/:v1@".len());
        let reference = format!("registry.example.com/{path}:v1@{DIGEST}");
        assert_eq!(reference.len(), MAX_LEN);
        assert_eq!(check(&reference), Ok(()));
    }

    #[test]
    fn digests_and_tags_where_only_they_go() {
        assert_eq!(check_digest(DIGEST), Ok(()));
        let sha512 = format!("sha512:{}", "0".repeat(128));
        assert_eq!(check_digest(&sha512), Ok(()));
        for bad in ["v1", "sha256:abc", &DIGEST.to_uppercase(), "md5:0123"] {
            assert_eq!(check_digest(bad), Err(VersionError::NotADigest), "{bad}");
        }
        assert_eq!(check_tag("v1.2.3"), Ok(()));
        for bad in ["release/1", DIGEST, "app:v1"] {
            assert_eq!(check_tag(bad), Err(VersionError::NotATag), "{bad}");
        }
    }

    #[test]
    fn digests_are_found_and_shortened() {
        assert_eq!(digest_in(DIGEST), Some(DIGEST));
        assert_eq!(digest_in(&format!("alpine@{DIGEST}")), Some(DIGEST));
        assert_eq!(digest_in(&format!("ghcr.io/a/b:v1@{DIGEST}")), Some(DIGEST));
        assert_eq!(digest_in("ghcr.io/a/b:v1"), None);
        assert_eq!(short_digest(DIGEST), "sha256:24a0c4b4a4c0");
        assert_eq!(short_digest("v1.2.3"), "v1.2.3");
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
        assert_eq!(
            check_ref(&format!("baton/{}", "x".repeat(256))),
            Err(RefError::LongComponent(256))
        );
    }

    #[test]
    fn versions_encode_to_ref_components_and_back() {
        let cases = [
            ("v1.2.3", "v1.2.3"),
            ("release/2024.1", "release/2024.1"),
            ("v1+build.5", "v1+build.5"),
            (DIGEST, &*format!("sha256%3A{}", &DIGEST[7..])),
            ("ghcr.io/acme/app:v1", "ghcr.io/acme/app%3Av1"),
            ("alpine@sha256:ab", "alpine%40sha256%3Aab"),
            ("100%", "100%25"),
            ("-v1", "%2Dv1"),
            (".v1", "%2Ev1"),
            ("v1.", "v1%2E"),
            ("v1.lock", "v1%2Elock"),
            ("a.lock/b", "a%2Elock/b"),
            ("v1..2", "v1.%2E2"),
            ("x/", "x%2F"),
            ("/x", "%2Fx"),
            ("a//b", "a%2F/b"),
            ("@", "%40"),
            ("a@{1}", "a%40%7B1%7D"),
            ("\"v1\"", "%22v1%22"),
            ("é", "%C3%A9"),
        ];
        for (version, encoded) in cases {
            let got = encode_ref_component(version);
            assert_eq!(got, encoded, "{version}");
            assert_eq!(
                check_ref(&format!("baton/payments/prod/{got}")),
                Ok(()),
                "{version} -> {got}"
            );
            assert_eq!(decode_ref_component(&got).as_deref(), Some(version));
        }
        assert_eq!(decode_ref_component("v1%"), None);
        assert_eq!(decode_ref_component("v1%zz"), None);
        assert_eq!(decode_ref_component("%FF"), None);
    }
}
