//! The canary policy's settings: the standard flow's, with a longer default
//! gate timeout, plus `max_pause`. Unknown keys are refused.

use baton_policy::PolicyError;
use baton_policy::flow::FlowSettings;
use baton_policy::settings::{Settings, format_duration_ms};

/// Default gate timeout: one hour, room for a canary's pause steps.
const DEFAULT_HEALTH_TIMEOUT_MS: u64 = 60 * 60 * 1000;

/// Default limit of pause time: thirty minutes.
const DEFAULT_MAX_PAUSE_MS: u64 = 30 * 60 * 1000;

/// Settings of the canary policy.
#[derive(Debug, Clone, PartialEq)]
pub struct CanarySettings {
    /// Gate timeouts and labels, as in the default policy.
    pub flow: FlowSettings,
    /// How long a gate may see a paused Rollout before it fails.
    pub max_pause_ms: u64,
}

impl CanarySettings {
    /// Parses and validates the settings JSON from the context.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        let s = Settings::parse(json)?;
        s.reject_unknown(&[FlowSettings::KEYS, &["max_pause"]].concat())?;
        let flow = FlowSettings::from_settings(&s, DEFAULT_HEALTH_TIMEOUT_MS)?;
        let max_pause_ms = s.duration_ms("max_pause")?.unwrap_or(DEFAULT_MAX_PAUSE_MS);
        // The limit must fall inside the gate, or the gate's timeout would
        // always answer first and the limit would mean nothing.
        if let Some((key, timeout)) = flow
            .health_timeouts()
            .into_iter()
            .find(|(_, timeout)| *timeout <= max_pause_ms)
        {
            return Err(PolicyError::InvalidSettings(format!(
                "settings.max_pause: {} must be shorter than {key} ({})",
                format_duration_ms(max_pause_ms),
                format_duration_ms(timeout)
            )));
        }
        Ok(Self { flow, max_pause_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_leave_room_for_pauses() {
        let s = CanarySettings::parse("{}").unwrap();
        assert_eq!(s.max_pause_ms, 1_800_000);
        assert_eq!(s.flow.health_timeout_ms("prod"), 3_600_000);
        assert_eq!(s.flow.mr_labels, ["baton"]);
    }

    #[test]
    fn max_pause_and_flow_settings() {
        let s = CanarySettings::parse(
            r#"{"max_pause": "10m", "health_timeout": "20m", "progressing_is_waiting": false}"#,
        )
        .unwrap();
        assert_eq!(s.max_pause_ms, 600_000);
        assert_eq!(s.flow.health_timeout_ms("dev"), 1_200_000);
        assert!(!s.flow.progressing_is_waiting);
    }

    #[test]
    fn errors_name_the_key() {
        for (json, message) in [
            (
                r#"{"max_pause": "forever"}"#,
                "settings.max_pause: forever is not a duration like 90s, 10m or 1h30m",
            ),
            (
                r#"{"max_pause": "30m", "health_timeout": "10m"}"#,
                "settings.max_pause: 30m must be shorter than health_timeout (10m)",
            ),
            (
                r#"{"stages": {"prod": {"health_timeout": "30m"}}}"#,
                "settings.max_pause: 30m must be shorter than stages.prod.health_timeout (30m)",
            ),
            (
                r#"{"max_paus": "10m"}"#,
                "settings.max_paus: not a setting of this policy (known: health_timeout, stages, \
                 progressing_is_waiting, mr_labels, rollback_labels, max_pause)",
            ),
        ] {
            assert_eq!(
                CanarySettings::parse(json),
                Err(PolicyError::InvalidSettings(message.into())),
                "{json}"
            );
        }
    }
}
