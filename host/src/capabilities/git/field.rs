//! Where a stage's version lives inside its YAML file: the `FieldSpec`
//! grammar (`helm:`, `kustomize:`, `argocd:`, `yaml:`), its parser, the
//! generic path (`Vec<Segment>`) every kind resolves to, and what the
//! field holds there ([`ValueTemplate`]: the version, a digest, or a
//! template around them).

use std::fmt;
use std::str::FromStr;

use super::value::{StageValue, ValueError, ValueTemplate};
use crate::version;

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence item by position.
    Index(usize),
    /// The sequence item (a mapping) whose `key` is the scalar `value`.
    Select {
        /// Key inside the item, e.g. `name`.
        key: String,
        /// The value it must have.
        value: String,
    },
}

/// The key of a Kustomize `images[]` entry a field edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KustomizeKey {
    /// `newTag` (the default).
    NewTag,
    /// `newName`.
    NewName,
    /// `digest`.
    Digest,
}

impl KustomizeKey {
    /// The key as written in `kustomization.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewTag => "newTag",
            Self::NewName => "newName",
            Self::Digest => "digest",
        }
    }
}

/// The field kinds Baton understands, see [`FieldSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// `helm:<dotted.path>` into a Helm values file, e.g. `helm:image.tag`.
    Helm(Vec<String>),
    /// `kustomize:<image>`: the `images[]` entry named `<image>`, key
    /// `newTag`; `kustomize:<image>:newName` edits `newName` and
    /// `kustomize:<image>:digest` edits `digest` instead (nothing else of
    /// the entry is touched).
    Kustomize {
        /// The image name as written in `images[].name`.
        image: String,
        /// The key edited.
        key: KustomizeKey,
    },
    /// `argocd:targetRevision` (`spec.source.targetRevision`) or
    /// `argocd:sources[N].targetRevision` (`spec.sources[N].targetRevision`).
    ArgoCd {
        /// `None` for `spec.source`, `Some(n)` for `spec.sources[n]`.
        source: Option<usize>,
    },
    /// `yaml:<path>`: any path, with `[N]` and `[key=value]` selectors.
    Yaml(Vec<Segment>),
}

/// A parsed field specification: a [`FieldKind`] plus an optional document
/// selector for multi-document files, written `<kind>[<N>]:...`
/// (e.g. `yaml[1]:spec.replicas`), and what the field holds
/// ([`FieldSpec::value`]). `Display` prints the canonical field text, which
/// parses back to the same kind and document; the value template is not
/// part of that text (it is a stage's `value:` in `baton.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// What the field is.
    pub kind: FieldKind,
    /// Zero-based document index in a `---`-separated file; `None` requires
    /// the file to hold exactly one document.
    pub document: Option<usize>,
    /// What the field holds: parsing sets [`FieldSpec::default_value`];
    /// [`FieldSpec::with_value`] sets a template.
    pub value: ValueTemplate,
}

/// Why a field specification string is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid field spec `{spec}`: {reason}")]
pub struct FieldSpecError {
    /// The text that failed to parse.
    pub spec: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FieldSpec {
    /// What a field of `kind` holds unless a template says otherwise: only
    /// a digest for `kustomize:<image>:digest` and for any path whose last
    /// key is `digest` (Helm's `image.digest`), else the version.
    pub fn default_value(kind: &FieldKind) -> ValueTemplate {
        let digest = match kind {
            FieldKind::Kustomize { key, .. } => *key == KustomizeKey::Digest,
            FieldKind::Helm(keys) => keys.last().is_some_and(|k| k == "digest"),
            FieldKind::Yaml(path) => {
                matches!(path.last(), Some(Segment::Key(k)) if k == "digest")
            }
            FieldKind::ArgoCd { .. } => false,
        };
        if digest {
            ValueTemplate::digest()
        } else {
            ValueTemplate::version()
        }
    }

    /// The same field holding `value`.
    pub fn with_value(self, value: ValueTemplate) -> Self {
        Self { value, ..self }
    }

    /// The field's text for `version` and `digest`: the value template
    /// rendered, and a Kustomize `newTag` checked to be an image tag.
    pub fn render(&self, version: &str, digest: Option<&str>) -> Result<String, ValueError> {
        let tag_only = matches!(
            self.kind,
            FieldKind::Kustomize {
                key: KustomizeKey::NewTag,
                ..
            }
        );
        if tag_only && self.value == ValueTemplate::version() {
            version::check_tag(version).map_err(|reason| ValueError::Version {
                template: format!("{}", self.value),
                version: version.to_owned(),
                reason,
            })?;
        }
        self.value.render(version, digest)
    }

    /// The version and digest in the field's text `raw`.
    pub fn read(&self, raw: &str) -> Result<StageValue, ValueError> {
        self.value.read(raw)
    }

    /// The generic path this field resolves to.
    pub fn path(&self) -> Vec<Segment> {
        match &self.kind {
            FieldKind::Helm(keys) => keys.iter().cloned().map(Segment::Key).collect(),
            FieldKind::Kustomize { image, key } => vec![
                Segment::Key("images".into()),
                Segment::Select {
                    key: "name".into(),
                    value: image.clone(),
                },
                Segment::Key(key.as_str().into()),
            ],
            FieldKind::ArgoCd { source: None } => vec![
                Segment::Key("spec".into()),
                Segment::Key("source".into()),
                Segment::Key("targetRevision".into()),
            ],
            FieldKind::ArgoCd { source: Some(n) } => vec![
                Segment::Key("spec".into()),
                Segment::Key("sources".into()),
                Segment::Index(*n),
                Segment::Key("targetRevision".into()),
            ],
            FieldKind::Yaml(path) => path.clone(),
        }
    }
}

impl FromStr for FieldSpec {
    type Err = FieldSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |reason| FieldSpecError {
            spec: spec.to_owned(),
            reason,
        };
        let (head, rest) = spec
            .split_once(':')
            .ok_or_else(|| err("expected `<kind>:<path>`"))?;
        let (kind_name, document) = match head.split_once('[') {
            Some((name, idx)) => {
                let idx = idx
                    .strip_suffix(']')
                    .and_then(|i| i.parse::<usize>().ok())
                    .ok_or_else(|| err("document selector must be `<kind>[N]`"))?;
                (name, Some(idx))
            }
            None => (head, None),
        };
        if rest.is_empty() {
            return Err(err("empty path"));
        }
        let kind = match kind_name {
            "helm" => {
                let keys: Vec<String> = rest.split('.').map(str::to_owned).collect();
                if keys.iter().any(String::is_empty) {
                    return Err(err("empty key in dotted path"));
                }
                FieldKind::Helm(keys)
            }
            "kustomize" => {
                let (image, key) = [
                    KustomizeKey::NewName,
                    KustomizeKey::Digest,
                    KustomizeKey::NewTag,
                ]
                .into_iter()
                .find_map(|key| {
                    let image = rest.strip_suffix(key.as_str())?.strip_suffix(':')?;
                    Some((image, key))
                })
                .unwrap_or((rest, KustomizeKey::NewTag));
                if image.is_empty() {
                    return Err(err("empty image name"));
                }
                FieldKind::Kustomize {
                    image: image.to_owned(),
                    key,
                }
            }
            "argocd" => {
                if rest == "targetRevision" {
                    FieldKind::ArgoCd { source: None }
                } else {
                    let n = rest
                        .strip_prefix("sources[")
                        .and_then(|r| r.strip_suffix("].targetRevision"))
                        .and_then(|n| n.parse::<usize>().ok())
                        .ok_or_else(|| {
                            err("argocd fields are `targetRevision` or `sources[N].targetRevision`")
                        })?;
                    FieldKind::ArgoCd { source: Some(n) }
                }
            }
            "yaml" => FieldKind::Yaml(parse_path(rest).map_err(err)?),
            _ => return Err(err("kind must be helm, kustomize, argocd or yaml")),
        };
        Ok(Self {
            value: Self::default_value(&kind),
            kind,
            document,
        })
    }
}

/// Parses `a.b[name=x].c[0]` into segments.
fn parse_path(text: &str) -> Result<Vec<Segment>, &'static str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or("unclosed `[`")?;
            let inner = &after[..end];
            out.push(match inner.split_once('=') {
                Some((k, v)) if !k.is_empty() => Segment::Select {
                    key: k.to_owned(),
                    value: v.to_owned(),
                },
                Some(_) => return Err("empty key in `[key=value]`"),
                None => Segment::Index(inner.parse().map_err(|_| "`[...]` needs N or key=value")?),
            });
            rest = &after[end + 1..];
            if let Some(r) = rest.strip_prefix('.') {
                if r.is_empty() {
                    return Err("path ends with `.`");
                }
                rest = r;
            } else if !rest.is_empty() && !rest.starts_with('[') {
                return Err("expected `.` or `[` after `]`");
            }
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            if end == 0 {
                return Err("empty key in path");
            }
            out.push(Segment::Key(rest[..end].to_owned()));
            rest = &rest[end..];
            if let Some(r) = rest.strip_prefix('.') {
                if r.is_empty() {
                    return Err("path ends with `.`");
                }
                rest = r;
            }
        }
    }
    Ok(out)
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(k) => f.write_str(k),
            Self::Index(i) => write!(f, "[{i}]"),
            Self::Select { key, value } => write!(f, "[{key}={value}]"),
        }
    }
}

/// Formats a segment list the way `yaml:` paths are written.
pub(crate) fn display_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for (i, seg) in path.iter().enumerate() {
        if i > 0 && matches!(seg, Segment::Key(_)) {
            out.push('.');
        }
        out.push_str(&seg.to_string());
    }
    out
}

impl fmt::Display for FieldSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            FieldKind::Helm(_) => "helm",
            FieldKind::Kustomize { .. } => "kustomize",
            FieldKind::ArgoCd { .. } => "argocd",
            FieldKind::Yaml(_) => "yaml",
        };
        f.write_str(kind)?;
        if let Some(d) = self.document {
            write!(f, "[{d}]")?;
        }
        f.write_str(":")?;
        match &self.kind {
            FieldKind::Helm(keys) => f.write_str(&keys.join(".")),
            FieldKind::Kustomize { image, key } => {
                f.write_str(image)?;
                if *key != KustomizeKey::NewTag {
                    write!(f, ":{}", key.as_str())?;
                }
                Ok(())
            }
            FieldKind::ArgoCd { source: None } => f.write_str("targetRevision"),
            FieldKind::ArgoCd { source: Some(n) } => write!(f, "sources[{n}].targetRevision"),
            FieldKind::Yaml(path) => f.write_str(&display_path(path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        for text in [
            "helm:image.tag",
            "kustomize:ghcr.io/akuity/guestbook",
            "kustomize:registry:5000/app:newName",
            "kustomize:alpine:digest",
            "kustomize:registry:5000/app:digest",
            "argocd:targetRevision",
            "argocd:sources[2].targetRevision",
            "yaml:a.b[name=x].c",
            "yaml:a.b[0].c[1][k=v]",
            "yaml[1]:spec.template.spec.containers[name=web].image",
            "helm[0]:image.tag",
        ] {
            let spec: FieldSpec = text.parse().expect(text);
            assert_eq!(spec.to_string(), text);
            assert_eq!(spec.to_string().parse::<FieldSpec>(), Ok(spec));
        }
    }

    #[test]
    fn resolves_paths() {
        let spec: FieldSpec = "kustomize:app:newName".parse().expect("valid");
        assert_eq!(display_path(&spec.path()), "images[name=app].newName");
        let spec: FieldSpec = "argocd:sources[1].targetRevision".parse().expect("valid");
        assert_eq!(display_path(&spec.path()), "spec.sources[1].targetRevision");
        let spec: FieldSpec = "kustomize:app:newTag".parse().expect("valid");
        assert_eq!(spec.to_string(), "kustomize:app");
        let spec: FieldSpec = "kustomize:alpine:digest".parse().expect("valid");
        assert_eq!(display_path(&spec.path()), "images[name=alpine].digest");
        let spec: FieldSpec = "kustomize:registry:5000/app".parse().expect("valid");
        assert_eq!(
            display_path(&spec.path()),
            "images[name=registry:5000/app].newTag"
        );
    }

    #[test]
    fn digest_fields_hold_only_a_digest_by_default() {
        for text in [
            "kustomize:alpine:digest",
            "helm:image.digest",
            "yaml:a[0].digest",
        ] {
            let spec: FieldSpec = text.parse().expect(text);
            assert!(spec.value.digest_only(), "{text}");
        }
        for text in [
            "kustomize:alpine",
            "helm:image.tag",
            "helm:digest.tag",
            "argocd:targetRevision",
        ] {
            let spec: FieldSpec = text.parse().expect(text);
            assert_eq!(spec.value, ValueTemplate::version(), "{text}");
        }
    }

    #[test]
    fn kustomize_new_tag_takes_only_tags() {
        let spec: FieldSpec = "kustomize:alpine".parse().expect("valid");
        assert_eq!(spec.render("3.7", None).as_deref(), Ok("3.7"));
        let pinned = format!("alpine@sha256:{}", "0".repeat(64));
        let err = spec.render(&pinned, None).expect_err("not a tag");
        assert!(err.to_string().contains("is not an image tag"), "{err}");
        let template = "ghcr.io/acme/app:{version}".parse().expect("valid");
        let spec: FieldSpec = "yaml:spec.image"
            .parse::<FieldSpec>()
            .expect("valid")
            .with_value(template);
        assert_eq!(
            spec.render("v2", None).as_deref(),
            Ok("ghcr.io/acme/app:v2")
        );
        assert_eq!(spec.to_string(), "yaml:spec.image");
    }

    #[test]
    fn rejects_bad_specs() {
        for text in [
            "image.tag",
            "helm:",
            "helm:a..b",
            "nope:x",
            "yaml:a[",
            "yaml:a[x]",
            "argocd:spec",
        ] {
            let err = text.parse::<FieldSpec>().expect_err(text);
            assert!(err.to_string().contains(text), "{err}");
        }
    }
}
