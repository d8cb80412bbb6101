//! The guardrails read from the env repo's history: a version reaches a
//! stage only after the stage before it held it (`guardrails.promotion_order`),
//! and a rollback only goes to a version the stage itself held. The host
//! reads the history; nothing the policy says about it is trusted. An
//! operator's explicit `baton rollback --to` is exempt, and the exemption
//! is recorded.

use super::{Refusal, brief};
use crate::config::{Guardrails, PromotionOrder};
use crate::runtime::{Action, Context, Decision};

/// Where a version stands in a stage's deployment history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The stage holds it now.
    Now,
    /// The stage held it before, and no later commit rolled it back.
    Before,
    /// The stage held it, and a later commit rolled it back.
    RolledBack,
    /// The stage never held it.
    Never,
}

/// The stage histories a check reads (the engine answers from the env repo).
pub trait StageHistory {
    /// Where `version` stands in `stage`'s history.
    fn held(&mut self, stage: &str, version: &str) -> Result<Held, String>;

    /// Whether `stage`'s newest deployment set `version` ([`Held::Now`]);
    /// a history that can answer from the newest deployment alone should
    /// (a version never held would otherwise be looked for in all of it).
    fn holds_now(&mut self, stage: &str, version: &str) -> Result<bool, String> {
        Ok(self.held(stage, version)? == Held::Now)
    }
}

/// What a history check knows besides the decision.
pub struct HistoryCheck<'a> {
    /// The app's stages.
    pub ctx: &'a Context,
    /// The guardrails.
    pub guardrails: &'a Guardrails,
    /// `baton rollback --stage S --to V`, when the operator named a target.
    pub operator_target: Option<(&'a str, &'a str)>,
}

/// An action let through by an exemption: its 1-based index and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    /// 1-based position in the decision.
    pub index: usize,
    /// The rule that did not apply.
    pub rule: &'static str,
    /// Why.
    pub detail: String,
}

/// A refusal, or the error reading the history.
#[derive(Debug)]
pub enum HistoryError {
    /// A guardrail refused an action.
    Refused(Refusal),
    /// The env repo could not be read.
    Read(String),
}

impl HistoryCheck<'_> {
    /// Checks every write of `decision` against the stages' histories;
    /// returns the exemptions applied.
    pub fn check(
        &self,
        decision: &Decision,
        history: &mut dyn StageHistory,
    ) -> Result<Vec<Exemption>, HistoryError> {
        let mut exemptions = Vec::new();
        for (i, action) in decision.actions.iter().enumerate() {
            let index = i + 1;
            let (stage, version, rule) = match action {
                Action::SetVersion(s) => (&s.stage, &s.version, "promotion_order"),
                Action::Rollback(r) => (&r.stage, &r.to_version, "rollback_target"),
                _ => continue,
            };
            if self.operator_target == Some((stage.as_str(), version.as_str())) {
                exemptions.push(Exemption {
                    index,
                    rule,
                    detail: format!(
                        "{version} was named by the operator (baton rollback --to); not checked \
                         against history"
                    ),
                });
                continue;
            }
            let refusal = match rule {
                "promotion_order" => self.promotion_order(stage, version, history)?,
                _ => rollback_target(stage, version, history)?,
            };
            if let Some(detail) = refusal {
                return Err(HistoryError::Refused(Refusal::Guardrail {
                    index,
                    action: brief(action),
                    rule,
                    detail,
                }));
            }
        }
        Ok(exemptions)
    }

    /// A stage after the first gets only what the stage before it held.
    fn promotion_order(
        &self,
        stage: &str,
        version: &str,
        history: &mut dyn StageHistory,
    ) -> Result<Option<String>, HistoryError> {
        if self.guardrails.promotion_order == PromotionOrder::Off {
            return Ok(None);
        }
        let stages = &self.ctx.stages;
        let Some(at) = stages
            .iter()
            .position(|s| s.name == stage)
            .filter(|&i| i > 0)
        else {
            return Ok(None);
        };
        // Re-running a promotion that already landed writes nothing.
        if history
            .holds_now(stage, version)
            .map_err(HistoryError::Read)?
        {
            return Ok(None);
        }
        let previous = &stages[at - 1].name;
        Ok(match read(history, previous, version)? {
            Held::Now | Held::Before => None,
            Held::RolledBack => Some(format!(
                "{version} was rolled back in {previous}, the stage before {stage}"
            )),
            Held::Never => Some(format!(
                "{previous}, the stage before {stage}, never held {version}"
            )),
        })
    }
}

/// A rollback goes to a version the stage itself held.
fn rollback_target(
    stage: &str,
    version: &str,
    history: &mut dyn StageHistory,
) -> Result<Option<String>, HistoryError> {
    Ok(match read(history, stage, version)? {
        Held::Never => Some(format!(
            "{stage} never held {version}, so it cannot be rolled back to it"
        )),
        _ => None,
    })
}

fn read(history: &mut dyn StageHistory, stage: &str, version: &str) -> Result<Held, HistoryError> {
    history.held(stage, version).map_err(HistoryError::Read)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::runtime::{Channel, Rollback, SetVersion, Stage};

    struct Fake(HashMap<(&'static str, &'static str), Held>);

    impl StageHistory for Fake {
        fn held(&mut self, stage: &str, version: &str) -> Result<Held, String> {
            Ok(self
                .0
                .iter()
                .find(|((s, v), _)| *s == stage && *v == version)
                .map_or(Held::Never, |(_, h)| *h))
        }
    }

    fn ctx() -> Context {
        let stage = |name: &str| Stage {
            name: name.into(),
            file: format!("{name}.yaml"),
            field: "helm:image.tag".into(),
            argocd_app: name.into(),
            direct_commit_allowed: true,
            auto_merge_allowed: false,
            targets: Vec::new(),
        };
        Context {
            app: "payments".into(),
            stages: vec![stage("dev"), stage("staging"), stage("prod")],
            settings: "{}".into(),
            run_id: "r".into(),
            max_health_wait: 1,
            dry_run: false,
        }
    }

    fn guardrails(order: PromotionOrder) -> Guardrails {
        Guardrails {
            direct_commit_stages: vec!["dev".into()],
            auto_merge_stages: vec![],
            max_health_wait: Duration::from_secs(60),
            promotion_order: order,
        }
    }

    fn set(stage: &str, version: &str) -> Decision {
        Decision {
            actions: vec![Action::SetVersion(SetVersion {
                stage: stage.into(),
                version: version.into(),
                channel: Channel::DirectCommit,
                reason: "r".into(),
                digest: None,
            })],
            reasons: vec![],
            recheck_after: None,
        }
    }

    fn rollback(stage: &str, to: &str) -> Decision {
        Decision {
            actions: vec![Action::Rollback(Rollback {
                stage: stage.into(),
                to_version: to.into(),
                rollback_of: "v9".into(),
                channel: Channel::DirectCommit,
                reason: "r".into(),
                to_digest: None,
            })],
            reasons: vec![],
            recheck_after: None,
        }
    }

    fn refused(r: Result<Vec<Exemption>, HistoryError>) -> String {
        match r {
            Err(HistoryError::Refused(Refusal::Guardrail { rule, detail, .. })) => {
                format!("{rule}: {detail}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_stage_gets_only_what_the_stage_before_it_held() {
        let ctx = ctx();
        let g = guardrails(PromotionOrder::Strict);
        let check = HistoryCheck {
            ctx: &ctx,
            guardrails: &g,
            operator_target: None,
        };
        let mut h = Fake(HashMap::from([
            (("dev", "v2"), Held::Now),
            (("staging", "v1"), Held::Before),
            (("staging", "v3"), Held::RolledBack),
        ]));
        assert_eq!(check.check(&set("dev", "v7"), &mut h).unwrap(), vec![]);
        assert_eq!(check.check(&set("staging", "v2"), &mut h).unwrap(), vec![]);
        assert_eq!(check.check(&set("prod", "v1"), &mut h).unwrap(), vec![]);
        assert_eq!(
            refused(check.check(&set("prod", "v2"), &mut h)),
            "promotion_order: staging, the stage before prod, never held v2"
        );
        assert_eq!(
            refused(check.check(&set("prod", "v3"), &mut h)),
            "promotion_order: v3 was rolled back in staging, the stage before prod"
        );
        let off = guardrails(PromotionOrder::Off);
        let lax = HistoryCheck {
            guardrails: &off,
            ..check
        };
        assert_eq!(lax.check(&set("prod", "v2"), &mut h).unwrap(), vec![]);
    }

    #[test]
    fn rollbacks_go_to_versions_the_stage_held_unless_the_operator_named_one() {
        let ctx = ctx();
        let g = guardrails(PromotionOrder::Strict);
        let mut h = Fake(HashMap::from([(("prod", "v1"), Held::Before)]));
        let check = HistoryCheck {
            ctx: &ctx,
            guardrails: &g,
            operator_target: None,
        };
        assert_eq!(
            check.check(&rollback("prod", "v1"), &mut h).unwrap(),
            vec![]
        );
        assert_eq!(
            refused(check.check(&rollback("prod", "v0"), &mut h)),
            "rollback_target: prod never held v0, so it cannot be rolled back to it"
        );
        let operator = HistoryCheck {
            operator_target: Some(("prod", "v0")),
            ..check
        };
        let exempt = operator.check(&rollback("prod", "v0"), &mut h).unwrap();
        assert_eq!(exempt.len(), 1);
        assert_eq!(exempt[0].rule, "rollback_target");
    }
}
