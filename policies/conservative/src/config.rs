//! The conservative policy's settings: the standard flow's, plus the prod
//! window, the soak time and the review label. Validated once per decision;
//! unknown keys are refused, because a misspelt brake is no brake.

use baton_policy::calendar::{HOUR_MS, Window, Zone};
use baton_policy::flow::FlowSettings;
use baton_policy::settings::{Settings, nest_error};
use baton_policy::{Context, PolicyError, Stage};

/// Default minimum time in the stage before prod: two hours.
const DEFAULT_SOAK_MS: u64 = 2 * 60 * 60 * 1000;

/// This policy's own top-level keys (the flow's are added).
const OWN_KEYS: &[&str] = &["prod_stage", "prod_window", "staging_soak", "review_label"];

/// Settings of the conservative policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ConservativeSettings {
    /// Gate timeouts and labels, as in the default policy.
    pub flow: FlowSettings,
    /// When prod may change.
    pub window: Window,
    /// The prod stage by name; `None` is the last stage.
    prod_stage: Option<String>,
    /// Minimum time the stage before prod must have held a version before
    /// the prod merge request; 0 turns the check off.
    pub staging_soak_ms: u64,
    /// Label added to merge requests of major version bumps.
    pub review_label: String,
}

impl ConservativeSettings {
    /// Parses and validates the settings JSON from the context.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        let s = Settings::parse(json)?;
        s.reject_unknown(&[FlowSettings::KEYS, OWN_KEYS].concat())?;
        let review_label = s
            .string("review_label")?
            .unwrap_or_else(|| "needs-review".into());
        if review_label.trim().is_empty() {
            return Err(PolicyError::InvalidSettings(
                "settings.review_label: must not be empty".into(),
            ));
        }
        let window = match s.section("prod_window")? {
            Some(section) => Window::from_settings(&section, &office_hours(Zone::utc()))
                .map_err(|e| nest_error(e, "prod_window"))?,
            None => office_hours(Zone::utc()),
        };
        Ok(Self {
            flow: FlowSettings::from_settings(&s, FlowSettings::DEFAULT_HEALTH_TIMEOUT_MS)?,
            window,
            prod_stage: s.string("prod_stage")?,
            staging_soak_ms: s.duration_ms("staging_soak")?.unwrap_or(DEFAULT_SOAK_MS),
            review_label,
        })
    }

    /// The prod stage of `ctx`: `prod_stage`, else the last stage (`None`
    /// only for an app without stages).
    pub fn prod_stage<'c>(&self, ctx: &'c Context) -> Result<Option<&'c Stage>, PolicyError> {
        match &self.prod_stage {
            None => Ok(ctx.stages.last()),
            Some(name) => ctx.stage(name).map(Some).ok_or_else(|| {
                let stages: Vec<&str> = ctx.stages.iter().map(|s| s.name.as_str()).collect();
                PolicyError::InvalidSettings(format!(
                    "settings.prod_stage: {name} is not a stage of {} (stages: {})",
                    ctx.app,
                    stages.join(", ")
                ))
            }),
        }
    }
}

/// Monday to Friday, 09:00 to 16:00.
fn office_hours(zone: Zone) -> Window {
    Window {
        days: [true, true, true, true, true, false, false],
        start_ms: 9 * HOUR_MS,
        end_ms: 16 * HOUR_MS,
        zone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_policy::testing::{context, stage};

    fn error(json: &str) -> String {
        match ConservativeSettings::parse(json) {
            Err(PolicyError::InvalidSettings(msg)) => msg,
            other => panic!("expected invalid settings, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_office_hours_in_utc_two_hours_of_soak() {
        let s = ConservativeSettings::parse("{}").unwrap();
        assert_eq!(s.window.describe(), "Mon-Fri 09:00-16:00 UTC");
        assert_eq!(s.staging_soak_ms, 7_200_000);
        assert_eq!(s.review_label, "needs-review");
        assert_eq!(s.flow, FlowSettings::parse("{}").unwrap());
    }

    #[test]
    fn a_full_configuration() {
        let s = ConservativeSettings::parse(
            r#"{"prod_window": {"days": ["mon..thu"], "start": "08:30", "end": "24:00",
                "time_zone": "Europe/Berlin"},
                "staging_soak": "1h30m", "review_label": "major", "mr_labels": ["promo"],
                "prod_stage": "live"}"#,
        )
        .unwrap();
        assert_eq!(s.window.describe(), "Mon-Thu 08:30-24:00 Europe/Berlin");
        assert_eq!(s.staging_soak_ms, 5_400_000);
        assert_eq!(s.review_label, "major");
        assert_eq!(s.flow.mr_labels, ["promo"]);
        assert_eq!(s.prod_stage.as_deref(), Some("live"));
    }

    #[test]
    fn days_by_name_range_or_wrapping_range() {
        let days = |list: &str| {
            ConservativeSettings::parse(&format!(r#"{{"prod_window": {{"days": {list}}}}}"#))
                .map(|s| s.window.days)
        };
        assert_eq!(
            days(r#"["mon", "Wednesday", "FRI"]"#),
            Ok([true, false, true, false, true, false, false])
        );
        assert_eq!(
            days(r#"["fri..mon"]"#),
            Ok([true, false, false, false, true, true, true])
        );
        assert_eq!(
            days(r#"["tue..tue"]"#),
            Ok([false, true, false, false, false, false, false])
        );
    }

    #[test]
    fn errors_name_the_key() {
        for (json, message) in [
            (
                r#"{"staging_sok": "2h"}"#,
                "settings.staging_sok: not a setting of this policy (known: health_timeout, stages, \
                 progressing_is_waiting, mr_labels, rollback_labels, prod_stage, prod_window, \
                 staging_soak, review_label)",
            ),
            (
                r#"{"staging_soak": "a while"}"#,
                "settings.staging_soak: a while is not a duration like 90s, 10m or 1h30m",
            ),
            (
                r#"{"prod_window": {"start": "9am"}}"#,
                "settings.prod_window.start: 9am is not a time like 09:00",
            ),
            (
                r#"{"prod_window": {"end": "24:30"}}"#,
                "settings.prod_window.end: 24:30 is not a time like 16:00",
            ),
            (
                r#"{"prod_window": {"start": "16:00", "end": "09:00"}}"#,
                "settings.prod_window.end: must be after start (09:00 is not after 16:00; \
                 a window cannot span midnight)",
            ),
            (
                r#"{"prod_window": {"days": ["mon..fry"]}}"#,
                "settings.prod_window.days: mon..fry is not a day (mon, tue, wed, thu, fri, sat, \
                 sun) or a range like mon..fri",
            ),
            (
                r#"{"prod_window": {"days": []}}"#,
                "settings.prod_window.days: no day given, so the window would never open",
            ),
            (
                r#"{"prod_window": {"utc_offset": "CET"}}"#,
                "settings.prod_window.utc_offset: CET is not an offset like +01:00 or -05:30",
            ),
            (
                r#"{"prod_window": {"utc_offset": "+01:00", "time_zone": "Europe/Paris"}}"#,
                "settings.prod_window.utc_offset: set utc_offset or time_zone, not both",
            ),
            (
                r#"{"prod_window": {"timezone": "Europe/Paris"}}"#,
                "settings.prod_window.timezone: not a setting of this policy (known: days, start, \
                 end, utc_offset, time_zone)",
            ),
            (
                r#"{"prod_window": "weekdays"}"#,
                "settings.prod_window: \"weekdays\" is not a mapping",
            ),
            (
                r#"{"review_label": " "}"#,
                "settings.review_label: must not be empty",
            ),
        ] {
            assert_eq!(error(json), message, "{json}");
        }
        assert!(
            error(r#"{"prod_window": {"time_zone": "Mars/Olympus"}}"#).starts_with(
                "settings.prod_window.time_zone: Mars/Olympus is not a built-in zone (known: UTC, \
                 Europe/London,"
            )
        );
    }

    #[test]
    fn prod_stage_must_exist() {
        let ctx = Context {
            stages: vec![stage("dev", true), stage("prod", false)],
            ..context("{}")
        };
        let last = ConservativeSettings::parse("{}").unwrap();
        assert_eq!(
            last.prod_stage(&ctx).unwrap().map(|s| s.name.as_str()),
            Some("prod")
        );
        let named = ConservativeSettings::parse(r#"{"prod_stage": "live"}"#).unwrap();
        assert_eq!(
            named.prod_stage(&ctx),
            Err(PolicyError::InvalidSettings(
                "settings.prod_stage: live is not a stage of payments (stages: dev, prod)".into()
            ))
        );
    }
}
