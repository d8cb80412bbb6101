//! The default policy's settings: those of the SDK's standard flow,
//! validated once per decision.

use baton_policy::flow::FlowSettings;
// The unit tests below name it through `use super::*`.
#[cfg(test)]
use baton_policy::PolicyError;

/// Settings of the default policy (`health_timeout`, `progressing_is_waiting`,
/// `mr_labels`, `rollback_labels`, and per stage `stages.<name>.health_timeout`,
/// `stages.<name>.mr_labels`, `stages.<name>.rollback_labels`).
pub type PolicySettings = FlowSettings;

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
