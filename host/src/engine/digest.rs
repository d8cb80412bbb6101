//! The image digest that goes with a stage's version. Where the stage's
//! field holds a digest (`kustomize:<image>:digest`, `helm:image.digest`, a
//! value template with `{digest}`, an image reference with `@sha256:…`)
//! the field is the truth; elsewhere the `Baton-Digest` trailer of the
//! commit that carried the version is. Also what `baton promote --tag
//! --digest` asks for.

use crate::capabilities::git::{
    DIGEST, EnvRepo, HistoryEntry, ReadError, StageField, StageValue, read_value,
};
use crate::config::StageConfig;
use crate::version::{self, Shown};

/// How many deployments of a stage are searched for the digest a version
/// was deployed with.
pub(super) const HISTORY_DEPTH: usize = 200;

/// The version and digest `stage` holds at `rev`; `None` when its file
/// does not exist there.
pub(super) fn value_at(
    repo: &EnvRepo,
    rev: &str,
    stage: &StageField,
) -> Result<Option<StageValue>, ReadError> {
    let Some(bytes) = repo.read_file(rev, &stage.file)? else {
        return Ok(None);
    };
    read_value(&stage.file, &stage.field, &bytes)
        .map(Some)
        .map_err(ReadError::from)
}

/// The digest a deployment set: the field's at the entry's commit, else
/// the `Baton-Digest` trailer of `carrier`, the commit that carried the
/// change (the entry itself, or a merged branch's commit). Only a template
/// holding both a version and a digest needs the file read again: anywhere
/// else the digest is in the version itself (a digest, or an image
/// reference's `@digest`) or nowhere in the field.
pub(super) fn deployed(
    repo: &EnvRepo,
    stage: &StageField,
    entry: &HistoryEntry,
    carrier: &HistoryEntry,
) -> Option<String> {
    let template = &stage.field.value;
    let held = if template.holds_version() && template.holds_digest() {
        value_at(repo, &entry.commit, stage)
            .ok()
            .flatten()
            .and_then(|v| v.digest)
    } else {
        entry
            .new
            .as_deref()
            .and_then(version::digest_in)
            .map(str::to_owned)
    };
    held.or_else(|| {
        carrier
            .trailer(DIGEST)
            .filter(|d| version::is_digest(d))
            .map(str::to_owned)
    })
}

/// The digest `stage` holds at `rev` with `value` (read there): the
/// field's, else the one its newest deployment recorded, when that
/// deployment set this version.
pub(super) fn held(
    repo: &mut EnvRepo,
    rev: &str,
    stage: &StageField,
    value: &StageValue,
) -> Result<Option<String>, ReadError> {
    if value.digest.is_some() {
        return Ok(value.digest.clone());
    }
    let newest = repo.history(rev, stage, Some(1))?;
    let Some(entry) = newest.first() else {
        return Ok(None);
    };
    if entry.new.as_deref() != Some(value.version.as_str()) {
        return Ok(None);
    }
    let arrived = super::arrival::from_git(repo, stage, entry)?;
    Ok(deployed(repo, stage, entry, &arrived.carrier))
}

/// The digest `stage` was last deployed with at `version`, searching its
/// newest [`HISTORY_DEPTH`] deployments at `rev`.
pub(super) fn deployed_with(
    repo: &mut EnvRepo,
    rev: &str,
    stage: &StageField,
    version: &str,
) -> Result<Option<String>, ReadError> {
    let history = repo.history(rev, stage, Some(HISTORY_DEPTH))?;
    for entry in history.iter().filter(|e| e.new.as_deref() == Some(version)) {
        let arrived = super::arrival::from_git(repo, stage, entry)?;
        if let Some(digest) = deployed(repo, stage, entry, &arrived.carrier) {
            return Ok(Some(digest));
        }
    }
    Ok(None)
}

/// The new version `baton promote` announces, from `--tag` and
/// `--digest`. Where the app's stages hold only a digest, the digest is the
/// version (`--tag` may be left out, or be the digest itself); elsewhere
/// `--tag` is needed and `--digest` goes with it. The error names the
/// option.
pub(super) fn promoted(
    stages: &[StageConfig],
    tag: Option<&str>,
    digest: Option<&str>,
) -> Result<(String, Option<String>), String> {
    if let Some(d) = digest {
        version::check_digest(d)
            .map_err(|e| format!("--digest {} is not usable: {e}", Shown(d)))?;
    }
    if let Some(t) = tag {
        version::check(t)
            .map_err(|e| format!("--tag {} is not a usable version: {e}", Shown(t)))?;
    }
    let digest_only = stages
        .first()
        .is_some_and(|s| s.location.field.value.digest_only());
    let fields = || {
        stages
            .iter()
            .map(|s| format!("{} {}", s.name, s.location.field))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (tag, digest) {
        (None, None) => Err("give --tag, --digest or both".into()),
        (Some(t), Some(d)) if digest_only && t != d => Err(format!(
            "--tag {} and --digest {}: the stages hold only a digest ({}), so the digest is the \
             version; leave --tag out",
            Shown(t),
            Shown(d),
            fields()
        )),
        (Some(t), None) if digest_only && !version::is_digest(t) => Err(format!(
            "--tag {}: the stages hold only a digest ({}); promote with --digest sha256:...",
            Shown(t),
            fields()
        )),
        (None, Some(d)) if !digest_only => Err(format!(
            "--digest {} needs --tag: the stages hold a version ({})",
            Shown(d),
            fields()
        )),
        (Some(t), _) if digest_only => Ok((t.to_owned(), Some(t.to_owned()))),
        (None, Some(d)) => Ok((d.to_owned(), Some(d.to_owned()))),
        (Some(t), d) => Ok((t.to_owned(), d.map(str::to_owned))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::git::FieldSpec;

    const D: &str = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";

    fn stages(field: &str) -> Vec<StageConfig> {
        ["dev", "prod"]
            .into_iter()
            .map(|name| {
                let location = StageField {
                    file: format!("{name}.yaml"),
                    field: field.parse::<FieldSpec>().expect("valid"),
                };
                StageConfig::single(name, location, name)
            })
            .collect()
    }

    #[test]
    fn tag_and_digest_go_together_where_stages_hold_versions() {
        let s = stages("helm:image.tag");
        assert_eq!(
            promoted(&s, Some("v1"), Some(D)),
            Ok(("v1".into(), Some(D.into())))
        );
        assert_eq!(promoted(&s, Some("v1"), None), Ok(("v1".into(), None)));
        let err = promoted(&s, None, Some(D)).expect_err("needs a tag");
        assert!(err.contains("needs --tag"), "{err}");
        let err = promoted(&s, Some("v1"), Some("sha256:abc")).expect_err("bad digest");
        assert!(
            err.starts_with("--digest \"sha256:abc\" is not usable: it is not a digest"),
            "{err}"
        );
        assert!(promoted(&s, None, None).is_err());
    }

    #[test]
    fn the_digest_is_the_version_where_stages_hold_only_digests() {
        let s = stages("kustomize:alpine:digest");
        assert_eq!(promoted(&s, None, Some(D)), Ok((D.into(), Some(D.into()))));
        assert_eq!(promoted(&s, Some(D), None), Ok((D.into(), Some(D.into()))));
        assert_eq!(
            promoted(&s, Some(D), Some(D)),
            Ok((D.into(), Some(D.into())))
        );
        let err = promoted(&s, Some("v1"), Some(D)).expect_err("tag is not the digest");
        assert!(err.contains("leave --tag out"), "{err}");
        let err = promoted(&s, Some("v1"), None).expect_err("no digest");
        assert!(err.contains("promote with --digest"), "{err}");
    }
}
