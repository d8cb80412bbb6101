//! Where a stage's version lives inside its YAML file: the `FieldSpec`
//! grammar (`helm:`, `kustomize:`, `argocd:`, `yaml:`), its parser, and the
//! generic path (`Vec<Segment>`) every kind resolves to.

use std::fmt;
use std::str::FromStr;

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

/// The field kinds Baton understands, see [`FieldSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// `helm:<dotted.path>` into a Helm values file, e.g. `helm:image.tag`.
    Helm(Vec<String>),
    /// `kustomize:<image>`: the `images[]` entry named `<image>`, key
    /// `newTag`; `kustomize:<image>:newName` edits `newName` instead.
    Kustomize {
        /// The image name as written in `images[].name`.
        image: String,
        /// `true` for `newName`, `false` for `newTag`.
        new_name: bool,
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
/// (e.g. `yaml[1]:spec.replicas`). `Display` prints the canonical text, which
/// parses back to the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// What the field is.
    pub kind: FieldKind,
    /// Zero-based document index in a `---`-separated file; `None` requires
    /// the file to hold exactly one document.
    pub document: Option<usize>,
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
    /// The generic path this field resolves to.
    pub fn path(&self) -> Vec<Segment> {
        match &self.kind {
            FieldKind::Helm(keys) => keys.iter().cloned().map(Segment::Key).collect(),
            FieldKind::Kustomize { image, new_name } => vec![
                Segment::Key("images".into()),
                Segment::Select {
                    key: "name".into(),
                    value: image.clone(),
                },
                Segment::Key(if *new_name { "newName" } else { "newTag" }.into()),
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
            "kustomize" => match rest.strip_suffix(":newName") {
                Some(image) if !image.is_empty() => FieldKind::Kustomize {
                    image: image.to_owned(),
                    new_name: true,
                },
                Some(_) => return Err(err("empty image name")),
                None => FieldKind::Kustomize {
                    image: rest.strip_suffix(":newTag").unwrap_or(rest).to_owned(),
                    new_name: false,
                },
            },
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
        Ok(Self { kind, document })
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
            FieldKind::Kustomize { image, new_name } => {
                f.write_str(image)?;
                if *new_name {
                    f.write_str(":newName")?;
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
