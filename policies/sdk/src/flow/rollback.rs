//! Rollbacks: to the last good version after a failed gate, or on request;
//! to the digest that version was deployed with, when one was recorded.

use super::{Flow, HISTORY_STEPS, capability, digest_deployed, with_digest};
use crate::history::last_good;
use crate::{Channel, Decision, PolicyError, RollbackRequested, Stage, World, actions};

impl<W: World + ?Sized> Flow<'_, W> {
    /// The last good version of `stage` before `bad` ([`last_good`](crate::history::last_good)) and
    /// the digest it was deployed with, if one was recorded; `None` when
    /// the history holds no good version.
    ///
    /// Reads the history with the growing limits of [`HISTORY_STEPS`] and
    /// stops at the first read that decides the answer: one that holds a
    /// good version (newer entries alone decide it), or one shorter than
    /// its limit (the history ended there).
    pub fn last_good(
        &self,
        stage: &Stage,
        bad: &str,
    ) -> Result<Option<(String, Option<String>)>, PolicyError> {
        for limit in HISTORY_STEPS {
            let history = self
                .world
                .stage_history(&stage.name, limit)
                .map_err(capability)?;
            if let Some(good) = last_good(&history, bad) {
                return Ok(Some((good.to_owned(), digest_deployed(&history, good))));
            }
            if history.len() < limit as usize {
                break;
            }
        }
        Ok(None)
    }

    /// A requested rollback goes to `--to` or the last good version; a
    /// stage already there holds.
    pub fn rollback_requested(&self, request: &RollbackRequested) -> Result<Decision, PolicyError> {
        let stage = self.stage(&request.stage)?;
        let current = self
            .world
            .stage_version(&stage.name, None)
            .map_err(capability)?;
        let (target, digest) = match &request.to_version {
            Some(v) => (v.clone(), None),
            None => match self.last_good(stage, &current)? {
                Some(found) => found,
                None => {
                    return Ok(Decision::from(vec![actions::fail(format!(
                        "cannot roll back {}: no earlier good version than {current}",
                        stage.name
                    ))]));
                }
            },
        };
        if target == current {
            return Ok(Decision::from(vec![actions::hold(format!(
                "{} is already at {target}",
                stage.name
            ))]));
        }
        let why = format!(
            "rollback of {} from {current} to {target} requested: {}",
            stage.name, request.reason
        );
        let channel = self.channel(
            stage,
            self.settings.rollback_labels_for(&stage.name),
            why.clone(),
        );
        let direct = matches!(channel, Channel::DirectCommit);
        let mut acts = vec![actions::rollback(
            &stage.name,
            &target,
            &current,
            channel,
            why.clone(),
        )];
        if direct {
            acts.push(actions::await_health(
                &stage.name,
                &target,
                self.settings.health_timeout_ms(&stage.name),
            ));
        } else {
            acts.push(actions::hold(format!(
                "waiting for the {} rollback merge request to be merged",
                stage.name
            )));
        }
        Ok(with_digest(
            Decision::from(acts).because(why),
            &target,
            digest.as_deref(),
        ))
    }

    /// Rolls `stage` back from `bad` to its last good version and fails the
    /// run for `why`; with no earlier good version, only fails.
    pub fn roll_back_and_fail(
        &self,
        stage: &Stage,
        bad: &str,
        why: String,
    ) -> Result<Decision, PolicyError> {
        let Some((good, digest)) = self.last_good(stage, bad)? else {
            return Ok(Decision::from(vec![actions::fail(format!(
                "{why}; no earlier good version of {} to roll back to",
                stage.name
            ))]));
        };
        let channel = self.channel(
            stage,
            self.settings.rollback_labels_for(&stage.name),
            why.clone(),
        );
        let decision = Decision::from(vec![
            actions::rollback(&stage.name, &good, bad, channel, why.clone()),
            actions::fail(format!("{why}; rolled back to {good}")),
        ])
        .because(why);
        Ok(with_digest(decision, &good, digest.as_deref()))
    }
}

#[cfg(test)]
mod tests;
