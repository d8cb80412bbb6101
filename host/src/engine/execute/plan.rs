//! What a write starts from: the stage, the branch tip fetched for this
//! run, the version (and digest) the stage holds there (its first
//! target's, and whether every further target holds the write's value
//! already), the digest the write carries, and the branch names involved;
//! and the sentences that describe a write for people.

use super::Write;
use crate::capabilities::git::{FieldError, ReadError, mr_branch_name, rollback_branch_name};
use crate::config::StageConfig;
use crate::engine::audit::Status;
use crate::engine::digest;
use crate::engine::state::{Engine, RunState, Stop};
use crate::runtime::Channel;

/// One write, resolved against the env repo.
pub(super) struct Plan {
    /// The stage written.
    pub stage: StageConfig,
    /// The tracked branch's tip.
    pub tip: String,
    /// The version the stage holds there; `None` when its file is missing.
    pub previous: Option<String>,
    /// The digest the stage's field holds there, if it holds one.
    pub previous_digest: Option<String>,
    /// The digest this write carries ([`Engine::write_digest`]).
    pub digest: Option<String>,
    /// The further targets of a multi-target stage that do not hold the
    /// write's version (and digest) yet, by label.
    pub further_behind: Vec<String>,
    /// The tracked branch.
    pub branch: String,
    /// The merge-request branch for this change.
    pub mr_branch: String,
}

impl Engine {
    /// Resolves `w` (whose action gave `given` as its digest) against the
    /// env repo.
    pub(super) fn plan(
        &self,
        st: &RunState,
        w: &Write<'_>,
        given: Option<&str>,
    ) -> Result<Plan, Stop> {
        let stage = self.stage(w.stage)?.clone();
        let tip = self.tip()?;
        let previous = self
            .systems
            .repo
            .with(|repo| match digest::value_at(repo, &tip, &stage.location) {
                // A field not in its value template's shape yet (a bare tag
                // before a digest was pinned) is written over: the write
                // gives it that shape.
                Err(ReadError::Field(FieldError::Value { .. })) => Ok(None),
                other => other,
            })
            .map_err(|e| Stop::caused(Status::UsageError, &e))?;
        let digest = self.write_digest(st, &stage, w.version, given)?;
        let mut further_behind = Vec::new();
        for target in stage.further_targets() {
            let held = self
                .systems
                .repo
                .with(
                    |repo| match digest::value_at(repo, &tip, &target.location) {
                        Err(ReadError::Field(FieldError::Value { .. })) => Ok(None),
                        other => other,
                    },
                )
                .map_err(|e| Stop::caused(Status::UsageError, &e))?;
            let holds = held.is_some_and(|v| {
                v.version == w.version
                    && (!target.location.field.value.holds_digest() || v.digest == digest)
            });
            if !holds {
                further_behind.push(target.label.clone());
            }
        }
        let (previous, previous_digest) = match previous {
            Some(value) => (Some(value.version), value.digest),
            None => (None, None),
        };
        Ok(Plan {
            mr_branch: match w.rollback_of {
                Some(_) => rollback_branch_name(&self.app, w.stage, w.version),
                None => mr_branch_name(&self.app, w.stage, w.version),
            },
            branch: self.systems.repo.branch(),
            stage,
            tip,
            previous,
            previous_digest,
            digest,
            further_behind,
        })
    }
}

impl Plan {
    fn from(&self) -> &str {
        self.previous.as_deref().unwrap_or("(none)")
    }

    /// Every target of the stage holds the version already, and the
    /// digest too where its field holds one.
    pub(super) fn unchanged(&self, w: &Write<'_>) -> bool {
        self.previous.as_deref() == Some(w.version)
            && (!self.stage.location.field.value.holds_digest()
                || self.previous_digest == self.digest)
            && self.further_behind.is_empty()
    }

    /// `prod/eu.yaml helm:image.tag, prod/us.yaml helm:image.tag`: every
    /// target's file and field.
    fn fields(&self) -> String {
        self.stage
            .targets
            .iter()
            .map(|t| format!("{} {}", t.location.file, t.location.field))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// ` (digest sha256:…)` when the write carries a digest that is not
    /// the version itself.
    fn digest_note(&self, w: &Write<'_>) -> String {
        match &self.digest {
            Some(d) if d != w.version => format!(" (digest {d})"),
            _ => String::new(),
        }
    }

    /// The stage already holds the version.
    pub(super) fn already_there(&self, w: &Write<'_>) -> String {
        format!(
            "{} is already at {}{} on {}",
            w.stage,
            w.version,
            self.digest_note(w),
            self.branch
        )
    }

    /// What `--dry-run` would have done.
    pub(super) fn would(&self, w: &Write<'_>) -> String {
        match w.channel {
            Channel::DirectCommit => format!(
                "would commit {} {} -> {}{} ({}) to {}",
                w.stage,
                self.from(),
                w.version,
                self.digest_note(w),
                self.fields(),
                self.branch
            ),
            Channel::MergeRequest(o) => format!(
                "would push {} ({} {} -> {}{}) and open a merge request into {}{}",
                self.mr_branch,
                w.stage,
                self.from(),
                w.version,
                self.digest_note(w),
                self.branch,
                if o.auto_merge { ", merged at once" } else { "" }
            ),
        }
    }

    /// A direct commit landed.
    pub(super) fn committed(&self, w: &Write<'_>, sha: &str) -> String {
        format!(
            "committed {} to {}: {} {} -> {}{}",
            short(sha),
            self.branch,
            w.stage,
            self.from(),
            w.version,
            self.digest_note(w)
        )
    }

    /// A merge request was opened or reused.
    pub(super) fn opened(&self, w: &Write<'_>, verb: &str, number: u64, url: &str) -> String {
        format!(
            "{verb} merge request #{number} {url} ({} {} -> {}{})",
            w.stage,
            self.from(),
            w.version,
            self.digest_note(w)
        )
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
