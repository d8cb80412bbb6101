//! The default policy's settings, validated once per decision.

use baton_policy::PolicyError;
use baton_policy::settings::Settings;

/// Default gate timeout: ten minutes.
const DEFAULT_HEALTH_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// Settings of the default policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySettings {
    health_timeout_ms: u64,
    stage_timeouts: Vec<(String, u64)>,
    /// Whether `Progressing` keeps a gate waiting (`true`) or fails it.
    pub progressing_is_waiting: bool,
    /// Labels of promotion merge requests.
    pub mr_labels: Vec<String>,
    /// Labels of rollback merge requests.
    pub rollback_labels: Vec<String>,
}

impl PolicySettings {
    /// Parses and validates the settings JSON from the context.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        let s = Settings::parse(json)?;
        let mut stage_timeouts = Vec::new();
        if let Some(stages) = s.section("stages")? {
            for name in stages.keys() {
                let stage = stages.section(&name)?.unwrap_or(Settings::parse("{}")?);
                if let Some(ms) = stage
                    .duration_ms("health_timeout")
                    .map_err(|e| nest(e, &name))?
                {
                    stage_timeouts.push((name, ms));
                }
            }
        }
        Ok(Self {
            health_timeout_ms: s
                .duration_ms("health_timeout")?
                .unwrap_or(DEFAULT_HEALTH_TIMEOUT_MS),
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
}

fn nest(err: PolicyError, stage: &str) -> PolicyError {
    match err {
        PolicyError::InvalidSettings(msg) => PolicyError::InvalidSettings(msg.replacen(
            "settings.",
            &format!("settings.stages.{stage}."),
            1,
        )),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let s = PolicySettings::parse(
            r#"{"health_timeout":"5m","stages":{"prod":{"health_timeout":"30m"}},"mr_labels":["promo"]}"#,
        )
        .unwrap();
        assert_eq!(s.health_timeout_ms("dev"), 300_000);
        assert_eq!(s.health_timeout_ms("prod"), 1_800_000);
        assert_eq!(s.mr_labels, vec!["promo".to_string()]);
        assert!(s.progressing_is_waiting);
        assert_eq!(
            PolicySettings::parse("{}").unwrap().health_timeout_ms("x"),
            600_000
        );
    }

    #[test]
    fn stage_errors_name_the_path() {
        let err =
            PolicySettings::parse(r#"{"stages":{"prod":{"health_timeout":"later"}}}"#).unwrap_err();
        assert_eq!(
            err,
            PolicyError::InvalidSettings(
                "settings.stages.prod.health_timeout: later is not a duration like 90s, 10m or 1h30m"
                    .into()
            )
        );
    }
}
