//! What a write puts in its stage's field: the version and the digest that
//! goes with it. The digest is the action's own (`set-version.digest`,
//! `rollback.to-digest`); failing that, the version itself where the field
//! holds only a digest; the one `baton promote --digest` gave with this
//! version; or, where the field needs one, the digest the stage (or the
//! stage before it) was deployed with at this version. Every write of a
//! decision is checked to fit its stage's fields (every target's) before
//! any of it runs, so a digest missing for
//! `ghcr.io/acme/app:{version}@{digest}` or a tag that is not one is an
//! invalid decision, not a half-written run.

use crate::config::StageConfig;
use crate::engine::digest;
use crate::engine::guardrails::{Refusal, brief};
use crate::engine::state::{Engine, RunState, Stop};
use crate::runtime::{Action, Decision, Event};
use crate::version;

/// The digest an action gives with its version.
pub(super) fn given_digest(action: &Action) -> Option<&str> {
    match action {
        Action::SetVersion(s) => s.digest.as_deref(),
        Action::Rollback(r) => r.to_digest.as_deref(),
        _ => None,
    }
}

impl Engine {
    /// The digest a write of `version` to `stage` carries (see the module
    /// documentation), `None` when there is none to carry.
    pub(super) fn write_digest(
        &self,
        st: &RunState,
        stage: &StageConfig,
        version: &str,
        given: Option<&str>,
    ) -> Result<Option<String>, Stop> {
        if let Some(d) = given {
            return Ok(Some(d.to_owned()));
        }
        // The targets of a stage all hold a version or all only a digest
        // (the configuration checks it); one may need a digest where the
        // others do not.
        let template = &stage.location.field.value;
        if template.digest_only() {
            return Ok(version::is_digest(version).then(|| version.to_owned()));
        }
        if let Some(d) = promoted_digest(st, version) {
            return Ok(Some(d));
        }
        if !stage
            .targets
            .iter()
            .any(|t| t.location.field.value.holds_digest())
        {
            return Ok(None);
        }
        let tip = self.tip()?;
        let at = self.stages.iter().position(|s| s.name == stage.name);
        let before = at.and_then(|i| i.checked_sub(1)).map(|i| &self.stages[i]);
        for s in std::iter::once(stage).chain(before) {
            let found = self
                .systems
                .repo
                .with(|repo| digest::deployed_with(repo, &tip, &s.location, version))
                .map_err(|e| Stop::external(crate::report::error_chain(&e)))?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Checks that every write of `decision` fits its stage's field (with
    /// the digest it would carry); the refusal's text when one does not.
    pub(in crate::engine) fn check_values(
        &self,
        st: &RunState,
        decision: &Decision,
    ) -> Result<Option<String>, Stop> {
        for (i, action) in decision.actions.iter().enumerate() {
            let (stage, version) = match action {
                Action::SetVersion(s) => (&s.stage, &s.version),
                Action::Rollback(r) => (&r.stage, &r.to_version),
                _ => continue,
            };
            let stage = self.stage(stage)?;
            let digest = self.write_digest(st, stage, version, given_digest(action))?;
            for target in &stage.targets {
                let Err(reason) = target.location.field.render(version, digest.as_deref()) else {
                    continue;
                };
                let which = if stage.is_multi_target() {
                    format!(" target {}", target.label)
                } else {
                    String::new()
                };
                return Ok(Some(
                    Refusal::Invalid {
                        index: i + 1,
                        action: brief(action),
                        detail: format!(
                            "stage {}{which} cannot hold it ({} {}): {reason}",
                            stage.name, target.location.file, target.location.field
                        ),
                    }
                    .to_string(),
                ));
            }
        }
        Ok(None)
    }
}

/// The digest `baton promote` gave with `version` in this run.
fn promoted_digest(st: &RunState, version: &str) -> Option<String> {
    st.decisions.iter().find_map(|d| match &d.event {
        Event::NewVersion(n) if n.version == version => n.digest.clone(),
        _ => None,
    })
}
