//! Settings of the standard promotion flow (gate timeouts, labels), shared
//! by every policy built on [`Flow`](super::Flow).
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `health_timeout` | `10m` | how long a gate waits for Healthy and Synced |
//! | `progressing_is_waiting` | `true` | whether `Progressing` keeps a gate waiting (else it fails) |
//! | `mr_labels` | `[baton]` | labels of promotion merge requests |
//! | `rollback_labels` | `[baton, rollback]` | labels of rollback merge requests |
//! | `stages.<name>.health_timeout` | `health_timeout` | one stage's gate timeout |
//! | `stages.<name>.mr_labels` | `mr_labels` | labels of the merge requests promoting to that stage |
//! | `stages.<name>.rollback_labels` | `rollback_labels` | labels of that stage's rollback merge requests |
//!
//! A stage's own labels replace the general ones (list the general ones
//! again to keep them). Other keys under `stages.<name>` are left to the
//! policy (the SLO policy's `bake`, for example).

use crate::PolicyError;
use crate::settings::{Settings, nest_error};

/// Settings of the standard flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSettings {
    health_timeout_ms: u64,
    stage_timeouts: Vec<(String, u64)>,
    /// Whether `Progressing` keeps a gate waiting (`true`) or fails it.
    pub progressing_is_waiting: bool,
    /// Labels of promotion merge requests (stages without their own; see
    /// [`FlowSettings::mr_labels_for`]).
    pub mr_labels: Vec<String>,
    /// Labels of rollback merge requests (stages without their own; see
    /// [`FlowSettings::rollback_labels_for`]).
    pub rollback_labels: Vec<String>,
    /// `stages.<name>.mr_labels`, by stage.
    stage_mr_labels: Vec<(String, Vec<String>)>,
    /// `stages.<name>.rollback_labels`, by stage.
    stage_rollback_labels: Vec<(String, Vec<String>)>,
}

impl FlowSettings {
    /// Default gate timeout: ten minutes.
    pub const DEFAULT_HEALTH_TIMEOUT_MS: u64 = 10 * 60 * 1000;

    /// The top-level keys these settings read, for policies that refuse
    /// unknown keys ([`Settings::reject_unknown`]).
    pub const KEYS: &'static [&'static str] = &[
        "health_timeout",
        "stages",
        "progressing_is_waiting",
        "mr_labels",
        "rollback_labels",
    ];

    /// Parses and validates the settings JSON from the context, with the
    /// default gate timeout.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        Self::from_settings(&Settings::parse(json)?, Self::DEFAULT_HEALTH_TIMEOUT_MS)
    }

    /// Reads the flow's keys from parsed settings; `health_timeout` falls
    /// back to `default_health_timeout_ms`. Other keys are left to the
    /// policy.
    pub fn from_settings(
        s: &Settings,
        default_health_timeout_ms: u64,
    ) -> Result<Self, PolicyError> {
        let mut stage_timeouts = Vec::new();
        let mut stage_mr_labels = Vec::new();
        let mut stage_rollback_labels = Vec::new();
        if let Some(stages) = s.section("stages")? {
            for name in stages.keys() {
                let stage = stages.section(&name)?.unwrap_or(Settings::parse("{}")?);
                let nest = |e| nest_error(e, &format!("stages.{name}"));
                if let Some(ms) = stage.duration_ms("health_timeout").map_err(nest)? {
                    stage_timeouts.push((name.clone(), ms));
                }
                if let Some(labels) = stage.strings("mr_labels").map_err(nest)? {
                    stage_mr_labels.push((name.clone(), labels));
                }
                if let Some(labels) = stage.strings("rollback_labels").map_err(nest)? {
                    stage_rollback_labels.push((name.clone(), labels));
                }
            }
        }
        Ok(Self {
            health_timeout_ms: s
                .duration_ms("health_timeout")?
                .unwrap_or(default_health_timeout_ms),
            stage_timeouts,
            progressing_is_waiting: s.bool("progressing_is_waiting")?.unwrap_or(true),
            mr_labels: s
                .strings("mr_labels")?
                .unwrap_or_else(|| vec!["baton".into()]),
            rollback_labels: s
                .strings("rollback_labels")?
                .unwrap_or_else(|| vec!["baton".into(), "rollback".into()]),
            stage_mr_labels,
            stage_rollback_labels,
        })
    }

    /// Labels of a merge request promoting to `stage`: the stage's
    /// `stages.<name>.mr_labels`, else `mr_labels`.
    pub fn mr_labels_for(&self, stage: &str) -> &[String] {
        own(&self.stage_mr_labels, stage).unwrap_or(&self.mr_labels)
    }

    /// Labels of a merge request rolling `stage` back: the stage's
    /// `stages.<name>.rollback_labels`, else `rollback_labels`.
    pub fn rollback_labels_for(&self, stage: &str) -> &[String] {
        own(&self.stage_rollback_labels, stage).unwrap_or(&self.rollback_labels)
    }

    /// Gate timeout for `stage`.
    pub fn health_timeout_ms(&self, stage: &str) -> u64 {
        self.stage_timeouts
            .iter()
            .find(|(name, _)| name == stage)
            .map_or(self.health_timeout_ms, |(_, ms)| *ms)
    }

    /// Every configured gate timeout: the general one, then each stage's
    /// override with its settings key (for checks across all of them).
    pub fn health_timeouts(&self) -> Vec<(String, u64)> {
        let mut all = vec![("health_timeout".to_string(), self.health_timeout_ms)];
        all.extend(
            self.stage_timeouts
                .iter()
                .map(|(stage, ms)| (format!("stages.{stage}.health_timeout"), *ms)),
        );
        all
    }
}

/// `stage`'s own entry in a per-stage list.
fn own<'s>(per_stage: &'s [(String, Vec<String>)], stage: &str) -> Option<&'s [String]> {
    per_stage
        .iter()
        .find(|(name, _)| name == stage)
        .map(|(_, labels)| labels.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_absent_keys() {
        let s = FlowSettings::parse("{}").unwrap();
        assert_eq!(s.health_timeout_ms("dev"), 600_000);
        assert!(s.progressing_is_waiting);
        assert_eq!(s.mr_labels, ["baton"]);
        assert_eq!(s.rollback_labels, ["baton", "rollback"]);
    }

    #[test]
    fn a_stage_s_own_labels_replace_the_general_ones() {
        let s = FlowSettings::parse(
            r#"{"mr_labels": ["promo"], "stages": {
                "prod": {"mr_labels": ["promo", "prod"], "rollback_labels": ["prod-rollback"]},
                "staging": {"health_timeout": "5m"}}}"#,
        )
        .unwrap();
        assert_eq!(s.mr_labels_for("prod"), ["promo", "prod"]);
        assert_eq!(s.mr_labels_for("staging"), ["promo"]);
        assert_eq!(s.rollback_labels_for("prod"), ["prod-rollback"]);
        assert_eq!(s.rollback_labels_for("staging"), ["baton", "rollback"]);
        let empty = FlowSettings::parse(r#"{"stages": {"prod": {"mr_labels": []}}}"#).unwrap();
        assert!(empty.mr_labels_for("prod").is_empty());
        assert_eq!(empty.mr_labels_for("dev"), ["baton"]);
    }

    #[test]
    fn a_stage_label_error_names_its_path() {
        let err =
            FlowSettings::parse(r#"{"stages": {"prod": {"mr_labels": "prod"}}}"#).unwrap_err();
        assert_eq!(
            err,
            PolicyError::InvalidSettings(
                "settings.stages.prod.mr_labels: \"prod\" is not a list of strings".into()
            )
        );
    }

    #[test]
    fn policies_choose_their_own_default_timeout() {
        let s = FlowSettings::from_settings(&Settings::parse("{}").unwrap(), 3_600_000).unwrap();
        assert_eq!(s.health_timeout_ms("dev"), 3_600_000);
        let set = Settings::parse(r#"{"health_timeout": "5m"}"#).unwrap();
        let s = FlowSettings::from_settings(&set, 3_600_000).unwrap();
        assert_eq!(s.health_timeout_ms("dev"), 300_000);
    }

    #[test]
    fn every_timeout_is_listed_with_its_key() {
        let s = FlowSettings::parse(
            r#"{"health_timeout":"5m","stages":{"prod":{"health_timeout":"1h"}}}"#,
        )
        .unwrap();
        assert_eq!(
            s.health_timeouts(),
            vec![
                ("health_timeout".to_string(), 300_000),
                ("stages.prod.health_timeout".to_string(), 3_600_000),
            ]
        );
    }
}
