//! Checks a policy's decision before anything is executed. What a policy
//! returns is untrusted input, so the host refuses, before the first
//! write:
//!
//! - an invalid decision (exit 3): an unknown stage, too many actions, the
//!   same stage set twice, a version Baton could not write, an over-long or
//!   malformed reason, title, label or description, a branch name git would
//!   refuse ([`validity`]);
//! - what `guardrails:` in `baton.yaml` does not allow (exit 5): direct
//!   commits and auto-merge outside their stages ([`rules`]), versions that
//!   skip a stage or rollbacks to versions a stage never held ([`history`],
//!   read from the env repo by the host, never from the policy).
//!
//! A refusal names the action (shortened) and the rule.

pub mod history;
mod rules;
mod validity;

use crate::config::Guardrails;
use crate::runtime::{Action, Context, Decision};

pub use history::{Exemption, Held, HistoryCheck, HistoryError, StageHistory};

/// Bounds on what one decision may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionLimits {
    /// Actions per decision.
    pub max_actions: usize,
    /// Bytes of any reason (action reasons, hold and fail texts, the
    /// decision's reasons).
    pub max_text: usize,
    /// Characters of a merge request title.
    pub max_title: usize,
    /// Characters of the policy's part of a merge request description (the
    /// forge's limit less what Baton adds).
    pub max_description: usize,
    /// Labels per merge request.
    pub max_labels: usize,
}

impl DecisionLimits {
    /// What Baton adds to a description: versions, links, digests, run id.
    const HOST_TEXT: usize = 4096;

    /// The limits for a forge whose descriptions hold at most
    /// `description_limit` characters (GitLab 1,000,000; GitHub 65,536).
    pub fn for_forge(description_limit: usize) -> Self {
        Self {
            max_description: description_limit.saturating_sub(Self::HOST_TEXT),
            ..Self::default()
        }
    }
}

impl Default for DecisionLimits {
    fn default() -> Self {
        Self {
            max_actions: 64,
            max_text: 4096,
            max_title: 255,
            max_description: 65_536 - Self::HOST_TEXT,
            max_labels: 20,
        }
    }
}

/// Why a decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The action names a stage the app does not have (an invalid decision:
    /// a policy error, exit 3).
    #[error(
        "action {index} ({action}) names stage {stage:?}, which app {app} does not have (stages: {known})"
    )]
    UnknownStage {
        /// 1-based position in the decision.
        index: usize,
        /// The action, described.
        action: String,
        /// The unknown stage.
        stage: String,
        /// The app.
        app: String,
        /// Configured stages.
        known: String,
    },
    /// The decision (or one action, when `index` is not 0) is not one Baton
    /// can carry out (exit 3).
    #[error("invalid decision: {}{detail}", at(*.index, .action))]
    Invalid {
        /// 1-based position in the decision; 0 for the whole decision.
        index: usize,
        /// The action, described (empty for the whole decision).
        action: String,
        /// What is wrong.
        detail: String,
    },
    /// A guardrail refused the action (exit 5).
    #[error("action {index} ({action}) refused by guardrail {rule}: {detail}")]
    Guardrail {
        /// 1-based position in the decision.
        index: usize,
        /// The action, described.
        action: String,
        /// The rule, as named in `baton.yaml`.
        rule: &'static str,
        /// Why it does not fit.
        detail: String,
    },
}

fn at(index: usize, action: &str) -> String {
    if index == 0 {
        String::new()
    } else {
        format!("action {index} ({action}): ")
    }
}

impl Refusal {
    /// Is this a guardrail refusal (exit 5) rather than an invalid decision?
    pub fn is_guardrail(&self) -> bool {
        matches!(self, Self::Guardrail { .. })
    }
}

/// An action as a refusal names it: its usual text, cut short when a
/// policy made it huge.
pub(crate) fn brief(action: &Action) -> String {
    const MAX: usize = 200;
    let text = action.to_string();
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// `action` with every text cut to at most 4 KiB, for the audit record and
/// the output: a refused action may carry megabytes a policy made up.
/// Actions within the limits come back unchanged.
pub(crate) fn bounded(action: &Action) -> Action {
    const MAX: usize = 4096;
    let cut = |s: &String| -> String {
        if s.len() <= MAX {
            return s.clone();
        }
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes)", &s[..end], s.len())
    };
    let channel = |c: &crate::runtime::Channel| match c {
        crate::runtime::Channel::MergeRequest(o) => {
            crate::runtime::Channel::MergeRequest(crate::runtime::MergeRequestOptions {
                title: o.title.as_ref().map(cut),
                description: cut(&o.description),
                labels: o.labels.iter().take(64).map(cut).collect(),
                ..o.clone()
            })
        }
        other => other.clone(),
    };
    match action {
        Action::SetVersion(s) => Action::SetVersion(crate::runtime::SetVersion {
            stage: cut(&s.stage),
            version: cut(&s.version),
            channel: channel(&s.channel),
            reason: cut(&s.reason),
            digest: s.digest.as_ref().map(cut),
        }),
        Action::Rollback(r) => Action::Rollback(crate::runtime::Rollback {
            stage: cut(&r.stage),
            to_version: cut(&r.to_version),
            rollback_of: cut(&r.rollback_of),
            channel: channel(&r.channel),
            reason: cut(&r.reason),
            to_digest: r.to_digest.as_ref().map(cut),
        }),
        Action::AwaitHealth(a) => Action::AwaitHealth(crate::runtime::AwaitHealth {
            stage: cut(&a.stage),
            version: cut(&a.version),
            ..a.clone()
        }),
        Action::Hold(reason) => Action::Hold(cut(reason)),
        Action::Fail(reason) => Action::Fail(cut(reason)),
    }
}

/// Checks every action of `decision` with the default limits; the first
/// refusal is returned.
pub fn check(decision: &Decision, ctx: &Context, guardrails: &Guardrails) -> Result<(), Refusal> {
    check_with(decision, ctx, guardrails, &DecisionLimits::default())
}

/// Checks `decision` as a whole, then each action: a known stage, valid
/// values, then the guardrails' rules.
pub fn check_with(
    decision: &Decision,
    ctx: &Context,
    guardrails: &Guardrails,
    limits: &DecisionLimits,
) -> Result<(), Refusal> {
    validity::check_decision(decision, limits)?;
    for (i, action) in decision.actions.iter().enumerate() {
        let index = i + 1;
        if let Some(stage) = stage_of(action) {
            known_stage(index, action, stage, ctx)?;
        }
        validity::check_action(index, action, &ctx.app, limits)?;
        rules::check(index, action, guardrails)?;
    }
    Ok(())
}

/// The stage an action names, if any.
pub(crate) fn stage_of(action: &Action) -> Option<&str> {
    match action {
        Action::SetVersion(s) => Some(&s.stage),
        Action::Rollback(r) => Some(&r.stage),
        Action::AwaitHealth(a) => Some(&a.stage),
        Action::Hold(_) | Action::Fail(_) => None,
    }
}

fn known_stage(index: usize, action: &Action, stage: &str, ctx: &Context) -> Result<(), Refusal> {
    if ctx.stages.iter().any(|s| s.name == stage) {
        return Ok(());
    }
    Err(Refusal::UnknownStage {
        index,
        action: brief(action),
        stage: stage.chars().take(64).collect(),
        app: ctx.app.clone(),
        known: ctx
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}
