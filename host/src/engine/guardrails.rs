//! Checks a policy's decision before anything is executed: every action
//! must name a configured stage, and the host's guardrails bound what any
//! policy may ask for. A refusal names the action and the rule.

use crate::config::Guardrails;
use crate::runtime::{Action, Channel, Context, Decision};

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

impl Refusal {
    /// Is this a guardrail refusal (exit 5) rather than an invalid decision?
    pub fn is_guardrail(&self) -> bool {
        matches!(self, Self::Guardrail { .. })
    }
}

/// Checks every action of `decision`; the first refusal is returned.
pub fn check(decision: &Decision, ctx: &Context, guardrails: &Guardrails) -> Result<(), Refusal> {
    for (i, action) in decision.actions.iter().enumerate() {
        check_action(i + 1, action, ctx, guardrails)?;
    }
    Ok(())
}

fn check_action(
    index: usize,
    action: &Action,
    ctx: &Context,
    g: &Guardrails,
) -> Result<(), Refusal> {
    let stage = match action {
        Action::SetVersion(s) => Some((&s.stage, &s.channel)),
        Action::Rollback(r) => Some((&r.stage, &r.channel)),
        Action::AwaitHealth(a) => {
            known_stage(index, action, &a.stage, ctx)?;
            None
        }
        Action::Hold(_) | Action::Fail(_) => None,
    };
    let Some((stage, channel)) = stage else {
        return Ok(());
    };
    known_stage(index, action, stage, ctx)?;
    let refuse = |rule, detail: String| Refusal::Guardrail {
        index,
        action: action.to_string(),
        rule,
        detail,
    };
    match channel {
        Channel::DirectCommit if !g.direct_commit_stages.contains(stage) => Err(refuse(
            "direct_commit_stages",
            format!(
                "stage {stage} may only change through a merge request (direct commits allowed for: {})",
                list(&g.direct_commit_stages)
            ),
        )),
        Channel::MergeRequest(mr) if mr.auto_merge && !g.auto_merge_stages.contains(stage) => {
            Err(refuse(
                "auto_merge_stages",
                format!(
                    "merge requests for stage {stage} may not auto-merge (allowed for: {})",
                    list(&g.auto_merge_stages)
                ),
            ))
        }
        _ => Ok(()),
    }
}

fn known_stage(index: usize, action: &Action, stage: &str, ctx: &Context) -> Result<(), Refusal> {
    if ctx.stages.iter().any(|s| s.name == stage) {
        return Ok(());
    }
    Err(Refusal::UnknownStage {
        index,
        action: action.to_string(),
        stage: stage.to_owned(),
        app: ctx.app.clone(),
        known: ctx
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn list(stages: &[String]) -> String {
    if stages.is_empty() {
        "none".into()
    } else {
        stages.join(", ")
    }
}
