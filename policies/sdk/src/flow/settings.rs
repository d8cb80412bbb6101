//! Settings of the standard promotion flow (gate timeouts, labels), shared
//! by every policy built on [`Flow`](super::Flow).

use crate::PolicyError;
use crate::settings::{Settings, nest_error};

/// Settings of the standard flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSettings {
    health_timeout_ms: u64,
    stage_timeouts: Vec<(String, u64)>,
    /// Whether `Progressing` keeps a gate waiting (`true`) or fails it.
    pub progressing_is_waiting: bool,
    /// Labels of promotion merge requests.
    pub mr_labels: Vec<String>,
    /// Labels of rollback merge requests.
    pub rollback_labels: Vec<String>,
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
        if let Some(stages) = s.section("stages")? {
            for name in stages.keys() {
                let stage = stages.section(&name)?.unwrap_or(Settings::parse("{}")?);
                if let Some(ms) = stage
                    .duration_ms("health_timeout")
                    .map_err(|e| nest_error(e, &format!("stages.{name}")))?
                {
                    stage_timeouts.push((name, ms));
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
        })
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
