//! The per-action rules of `guardrails:`: which stages take direct commits
//! and which merge requests may auto-merge.

use super::{Refusal, brief};
use crate::config::Guardrails;
use crate::runtime::{Action, Channel};

/// Checks the channel of a write against the guardrails.
pub(super) fn check(index: usize, action: &Action, g: &Guardrails) -> Result<(), Refusal> {
    let (stage, channel) = match action {
        Action::SetVersion(s) => (&s.stage, &s.channel),
        Action::Rollback(r) => (&r.stage, &r.channel),
        _ => return Ok(()),
    };
    let refuse = |rule, detail: String| Refusal::Guardrail {
        index,
        action: brief(action),
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

fn list(stages: &[String]) -> String {
    if stages.is_empty() {
        "none".into()
    } else {
        stages.join(", ")
    }
}
