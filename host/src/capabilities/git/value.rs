//! What a stage's field holds, and how its version is read back: the
//! version itself (`{version}`, the default), only an image digest
//! (`{digest}`), or a value template with literal text around either or
//! both (`ghcr.io/acme/app:{version}`, `ghcr.io/acme/app@{digest}`,
//! `ghcr.io/acme/app:{version}@{digest}`).
//!
//! Writing renders the template; reading matches it back, so the stage's
//! version (and digest) comes out of the same text Baton wrote. A field
//! that holds only a digest has the digest as its version.

use std::fmt;
use std::str::FromStr;

use crate::version::{self, Shown, VersionError};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Text written as is.
    Text(String),
    /// `{version}`.
    Version,
    /// `{digest}`.
    Digest,
}

/// A parsed value template (`value:` of a stage in `baton.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueTemplate {
    parts: Vec<Part>,
}

/// A stage's version and digest, as its field holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageValue {
    /// The version: the `{version}` part, or the digest when the field
    /// holds only a digest.
    pub version: String,
    /// The image digest, when the field holds one.
    pub digest: Option<String>,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Neither placeholder appears.
    #[error("it must contain {{version}} or {{digest}}")]
    NoPlaceholder,
    /// A placeholder appears twice.
    #[error("{{{0}}} appears more than once")]
    Repeated(&'static str),
    /// Two placeholders touch, so the value could not be read back.
    #[error("{{version}} and {{digest}} must be separated by text (e.g. `@`)")]
    Adjacent,
    /// A brace that is not one of the two placeholders.
    #[error("only {{version}} and {{digest}} may appear in braces")]
    Brace,
}

/// Why a value cannot be written to, or read from, a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The field holds a digest and the write has none.
    #[error("the value `{template}` holds a digest and none was given for version {}", Shown(.version))]
    NeedsDigest {
        /// The template.
        template: String,
        /// The version being written.
        version: String,
    },
    /// The field holds only a digest, which is then the stage's version,
    /// and the write names another version.
    #[error(
        "the field holds only a digest, so a version written there is its digest; version {} \
         is not digest {}",
        Shown(.version),
        Shown(.digest)
    )]
    NotTheDigest {
        /// The version asked for.
        version: String,
        /// The digest asked for.
        digest: String,
    },
    /// The version does not fit where it goes.
    #[error("version {} does not fit `{template}`: {reason}", Shown(.version))]
    Version {
        /// The template.
        template: String,
        /// The version.
        version: String,
        /// What is wrong with it.
        reason: VersionError,
    },
    /// The digest is not one.
    #[error("digest {} does not fit `{template}`: {reason}", Shown(.digest))]
    Digest {
        /// The template.
        template: String,
        /// The digest.
        digest: String,
        /// What is wrong with it.
        reason: VersionError,
    },
    /// The field's text does not match the template.
    #[error("{} does not match the value template `{template}`", Shown(.found))]
    Mismatch {
        /// The template.
        template: String,
        /// What the field holds.
        found: String,
    },
}

impl ValueTemplate {
    /// `{version}`: the field holds the version.
    pub fn version() -> Self {
        Self {
            parts: vec![Part::Version],
        }
    }

    /// `{digest}`: the field holds only a digest.
    pub fn digest() -> Self {
        Self {
            parts: vec![Part::Digest],
        }
    }

    /// The template has `{version}`.
    pub fn holds_version(&self) -> bool {
        self.parts.contains(&Part::Version)
    }

    /// The template has `{digest}`.
    pub fn holds_digest(&self) -> bool {
        self.parts.contains(&Part::Digest)
    }

    /// The field holds a digest and no version: the digest is the stage's
    /// version.
    pub fn digest_only(&self) -> bool {
        self.holds_digest() && !self.holds_version()
    }

    /// A single placeholder, no text around it.
    fn bare(&self) -> bool {
        self.parts.len() == 1
    }

    /// The field's text for `version` (and `digest`, where the template
    /// holds one). A `{version}` inside text must be an image tag (a bare
    /// `{version}` is written as given: versions are checked where they
    /// come from); a field holding only a digest takes the digest, or the
    /// version when it is one.
    pub fn render(&self, version: &str, digest: Option<&str>) -> Result<String, ValueError> {
        let digest = self.digest_to_write(version, digest)?;
        if self.holds_version() && !self.bare() {
            version::check_tag(version).map_err(|reason| ValueError::Version {
                template: self.to_string(),
                version: version.to_owned(),
                reason,
            })?;
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Version => out.push_str(version),
                Part::Digest => out.push_str(digest.unwrap_or_default()),
            }
        }
        Ok(out)
    }

    /// The digest a write puts in the field (`None` when the template has
    /// no `{digest}`), checked.
    fn digest_to_write<'a>(
        &self,
        version: &'a str,
        digest: Option<&'a str>,
    ) -> Result<Option<&'a str>, ValueError> {
        if !self.holds_digest() {
            return Ok(None);
        }
        let digest = match digest {
            Some(d) if self.digest_only() && d != version => {
                return Err(ValueError::NotTheDigest {
                    version: version.to_owned(),
                    digest: d.to_owned(),
                });
            }
            Some(d) => d,
            None if self.digest_only() => version,
            None => {
                return Err(ValueError::NeedsDigest {
                    template: self.to_string(),
                    version: version.to_owned(),
                });
            }
        };
        version::check_digest(digest).map_err(|reason| ValueError::Digest {
            template: self.to_string(),
            digest: digest.to_owned(),
            reason,
        })?;
        Ok(Some(digest))
    }

    /// The version and digest the field's text `raw` holds. A bare
    /// `{version}` is read as written (its digest is the `@digest` of an
    /// image reference, if any); an empty field holds the empty version.
    pub fn read(&self, raw: &str) -> Result<StageValue, ValueError> {
        if self.bare() && (raw.is_empty() || self.holds_version()) {
            return Ok(StageValue {
                version: raw.to_owned(),
                digest: version::digest_in(raw).map(str::to_owned),
            });
        }
        let mismatch = || ValueError::Mismatch {
            template: self.to_string(),
            found: raw.to_owned(),
        };
        let (version, digest) = self.captures(raw).ok_or_else(mismatch)?;
        if version.is_some_and(str::is_empty) || digest.is_some_and(|d| !version::is_digest(d)) {
            return Err(mismatch());
        }
        let digest = digest.map(str::to_owned);
        Ok(StageValue {
            version: match version {
                Some(v) => v.to_owned(),
                None => digest.clone().unwrap_or_default(),
            },
            digest,
        })
    }

    /// The text each placeholder matches in `raw`, if `raw` has the
    /// template's shape: literal text in place, a placeholder running to
    /// the next text (to the end for the last part).
    fn captures<'a>(&self, raw: &'a str) -> Option<(Option<&'a str>, Option<&'a str>)> {
        let (mut version, mut digest) = (None, None);
        let mut rest = raw;
        for (i, part) in self.parts.iter().enumerate() {
            let slot = match part {
                Part::Text(text) => {
                    rest = rest.strip_prefix(text.as_str())?;
                    continue;
                }
                Part::Version => &mut version,
                Part::Digest => &mut digest,
            };
            let end = match self.parts.get(i + 1) {
                None => rest.len(),
                Some(Part::Text(next)) if i + 2 == self.parts.len() => {
                    rest.strip_suffix(next.as_str())?.len()
                }
                Some(Part::Text(next)) => rest.find(next.as_str())?,
                // Parsing refuses adjacent placeholders.
                Some(_) => return None,
            };
            *slot = Some(&rest[..end]);
            rest = &rest[end..];
        }
        rest.is_empty().then_some((version, digest))
    }
}

impl FromStr for ValueTemplate {
    type Err = TemplateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let (part, len) = if let Some(after) = rest.strip_prefix("{version}") {
                (Part::Version, rest.len() - after.len())
            } else if let Some(after) = rest.strip_prefix("{digest}") {
                (Part::Digest, rest.len() - after.len())
            } else if rest.starts_with(['{', '}']) {
                return Err(TemplateError::Brace);
            } else {
                let end = rest.find(['{', '}']).unwrap_or(rest.len());
                (Part::Text(rest[..end].to_owned()), end)
            };
            if matches!(part, Part::Version | Part::Digest) && parts.contains(&part) {
                return Err(TemplateError::Repeated(match part {
                    Part::Version => "version",
                    _ => "digest",
                }));
            }
            if !matches!(part, Part::Text(_))
                && matches!(parts.last(), Some(Part::Version | Part::Digest))
            {
                return Err(TemplateError::Adjacent);
            }
            parts.push(part);
            rest = &rest[len..];
        }
        let template = Self { parts };
        if !template.holds_version() && !template.holds_digest() {
            return Err(TemplateError::NoPlaceholder);
        }
        Ok(template)
    }
}

impl fmt::Display for ValueTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(text) => f.write_str(text)?,
                Part::Version => f.write_str("{version}")?,
                Part::Digest => f.write_str("{digest}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";
    const D2: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

    fn t(text: &str) -> ValueTemplate {
        text.parse().expect(text)
    }

    #[test]
    fn parses_and_prints_templates() {
        for text in [
            "{version}",
            "{digest}",
            "ghcr.io/acme/app:{version}",
            "ghcr.io/acme/app@{digest}",
            "ghcr.io/acme/app:{version}@{digest}",
            "registry:5000/app:{version}-linux",
        ] {
            assert_eq!(t(text).to_string(), text);
        }
        assert_eq!(
            "app".parse::<ValueTemplate>(),
            Err(TemplateError::NoPlaceholder)
        );
        assert_eq!(
            "".parse::<ValueTemplate>(),
            Err(TemplateError::NoPlaceholder)
        );
        assert_eq!(
            "{version}-{version}".parse::<ValueTemplate>(),
            Err(TemplateError::Repeated("version"))
        );
        assert_eq!(
            "{version}{digest}".parse::<ValueTemplate>(),
            Err(TemplateError::Adjacent)
        );
        assert_eq!(
            "app:{tag}".parse::<ValueTemplate>(),
            Err(TemplateError::Brace)
        );
        assert_eq!(
            "app:}{version}".parse::<ValueTemplate>(),
            Err(TemplateError::Brace)
        );
    }

    #[test]
    fn renders_and_reads_back() {
        let both = t("ghcr.io/acme/app:{version}@{digest}");
        let text = both.render("v1.2.3", Some(D1)).expect("renders");
        assert_eq!(text, format!("ghcr.io/acme/app:v1.2.3@{D1}"));
        assert_eq!(
            both.read(&text),
            Ok(StageValue {
                version: "v1.2.3".into(),
                digest: Some(D1.into())
            })
        );
        let tag = t("ghcr.io/acme/app:{version}");
        assert_eq!(
            tag.render("v2", Some(D1)).as_deref(),
            Ok("ghcr.io/acme/app:v2")
        );
        assert_eq!(
            tag.read("ghcr.io/acme/app:v2")
                .map(|v| v.version)
                .as_deref(),
            Ok("v2")
        );
        let pinned = t("ghcr.io/acme/app@{digest}");
        assert_eq!(
            pinned.render(D1, None).as_deref(),
            Ok(&*format!("ghcr.io/acme/app@{D1}"))
        );
        assert_eq!(
            pinned.read(&format!("ghcr.io/acme/app@{D2}")),
            Ok(StageValue {
                version: D2.into(),
                digest: Some(D2.into())
            })
        );
    }

    #[test]
    fn bare_fields_hold_anything_a_version_can_be() {
        let plain = ValueTemplate::version();
        let reference = format!("ghcr.io/acme/app:v1@{D1}");
        assert_eq!(
            plain.render(&reference, None).as_deref(),
            Ok(reference.as_str())
        );
        assert_eq!(
            plain.read(&reference).map(|v| v.digest),
            Ok(Some(D1.to_owned()))
        );
        assert_eq!(plain.read("v1").map(|v| v.digest), Ok(None));
        let digest = ValueTemplate::digest();
        assert_eq!(digest.render(D1, Some(D1)).as_deref(), Ok(D1));
        assert_eq!(
            digest.read(""),
            Ok(StageValue {
                version: String::new(),
                digest: None
            })
        );
    }

    #[test]
    fn refuses_what_would_not_read_back() {
        let both = t("ghcr.io/acme/app:{version}@{digest}");
        assert!(matches!(
            both.render("v1", None),
            Err(ValueError::NeedsDigest { .. })
        ));
        assert!(matches!(
            both.render("app:v1", Some(D1)),
            Err(ValueError::Version {
                reason: VersionError::NotATag,
                ..
            })
        ));
        assert!(matches!(
            both.render("v1", Some("sha256:abc")),
            Err(ValueError::Digest {
                reason: VersionError::NotADigest,
                ..
            })
        ));
        assert!(matches!(
            ValueTemplate::digest().render("v1.2.3", Some(D1)),
            Err(ValueError::NotTheDigest { .. })
        ));
        assert!(matches!(
            ValueTemplate::digest().render("v1.2.3", None),
            Err(ValueError::Digest { .. })
        ));
        for found in [
            "docker.io/acme/app:v1",
            "ghcr.io/acme/app:v1",
            "ghcr.io/acme/app:@sha256:00",
            "ghcr.io/acme/app:v1@latest",
        ] {
            let err = both.read(found).expect_err(found);
            assert_eq!(
                err.to_string(),
                format!(
                    "{found:?} does not match the value template `ghcr.io/acme/app:{{version}}@{{digest}}`"
                )
            );
        }
        assert!(ValueTemplate::digest().read("latest").is_err());
    }
}
