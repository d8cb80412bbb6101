//! The conservative policy's settings: the standard flow's, plus the prod
//! window, the soak time and the review label. Validated once per decision;
//! unknown keys are refused, because a misspelt brake is no brake.

use baton_policy::flow::FlowSettings;
use baton_policy::settings::{Settings, nest_error};
use baton_policy::{Context, PolicyError, Stage};

use crate::window::Window;
use crate::zone::Zone;

/// Default minimum time in the stage before prod: two hours.
const DEFAULT_SOAK_MS: u64 = 2 * 60 * 60 * 1000;

/// This policy's own top-level keys (the flow's are added).
const OWN_KEYS: &[&str] = &["prod_stage", "prod_window", "staging_soak", "review_label"];

/// Keys of `prod_window`.
const WINDOW_KEYS: &[&str] = &["days", "start", "end", "utc_offset", "time_zone"];

const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

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
            Some(section) => parse_window(&section).map_err(|e| nest_error(e, "prod_window"))?,
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
        start_ms: 9 * 3_600_000,
        end_ms: 16 * 3_600_000,
        zone,
    }
}

/// Reads `prod_window`; errors name keys relative to it.
fn parse_window(s: &Settings) -> Result<Window, PolicyError> {
    s.reject_unknown(WINDOW_KEYS)?;
    let default = office_hours(Zone::utc());
    let zone = match (s.string("utc_offset")?, s.string("time_zone")?) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::InvalidSettings(
                "settings.utc_offset: set utc_offset or time_zone, not both".into(),
            ));
        }
        (Some(offset), None) => Zone::fixed(&offset).ok_or_else(|| {
            invalid("utc_offset", &offset, "an offset like +01:00 or -05:30")
        })?,
        (None, Some(name)) => Zone::named(&name).ok_or_else(|| {
            PolicyError::InvalidSettings(format!(
                "settings.time_zone: {name} is not a built-in zone (known: {}); set utc_offset instead",
                Zone::known_names().join(", ")
            ))
        })?,
        (None, None) => Zone::utc(),
    };
    let days = match s.strings("days")? {
        Some(names) => parse_days(&names)?,
        None => default.days,
    };
    let start_ms = match s.string("start")? {
        Some(text) => {
            parse_time(&text, false).ok_or_else(|| invalid("start", &text, "a time like 09:00"))?
        }
        None => default.start_ms,
    };
    let end_ms = match s.string("end")? {
        Some(text) => {
            parse_time(&text, true).ok_or_else(|| invalid("end", &text, "a time like 16:00"))?
        }
        None => default.end_ms,
    };
    if end_ms <= start_ms {
        return Err(PolicyError::InvalidSettings(format!(
            "settings.end: must be after start ({} is not after {}; a window cannot span midnight)",
            hhmm(end_ms),
            hhmm(start_ms)
        )));
    }
    Ok(Window {
        days,
        start_ms,
        end_ms,
        zone,
    })
}

/// Day names (`mon`, `Monday`) and ranges (`mon..fri`, wrapping `fri..mon`).
fn parse_days(names: &[String]) -> Result<[bool; 7], PolicyError> {
    let mut days = [false; 7];
    for name in names {
        let (first, last) = match name.split_once("..") {
            Some((a, b)) => (day_index(a), day_index(b)),
            None => (day_index(name), day_index(name)),
        };
        let (Some(first), Some(last)) = (first, last) else {
            return Err(invalid(
                "days",
                name,
                "a day (mon, tue, wed, thu, fri, sat, sun) or a range like mon..fri",
            ));
        };
        let mut day = first;
        loop {
            days[day] = true;
            if day == last {
                break;
            }
            day = (day + 1) % 7;
        }
    }
    if days.iter().any(|d| *d) {
        Ok(days)
    } else {
        Err(PolicyError::InvalidSettings(
            "settings.days: no day given, so prod could never change".into(),
        ))
    }
}

/// Index (Monday = 0) of `mon`, `Mon`, `monday`, ...
fn day_index(name: &str) -> Option<usize> {
    let name = name.trim().to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|full| name.len() >= 3 && full.starts_with(name.as_str()))
}

/// `HH:MM` as milliseconds after midnight; `24:00` only as an end.
fn parse_time(text: &str, is_end: bool) -> Option<i64> {
    let (hours, minutes) = text.trim().split_once(':')?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
    let valid = (hours < 24 && minutes < 60) || (is_end && hours == 24 && minutes == 0);
    valid.then_some((hours * 60 + minutes) * 60_000)
}

fn hhmm(ms: i64) -> String {
    let minutes = ms / 60_000;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn invalid(key: &str, value: &str, expected: &str) -> PolicyError {
    PolicyError::InvalidSettings(format!("settings.{key}: {value} is not {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let days =
            |list: &[&str]| parse_days(&list.iter().map(|d| d.to_string()).collect::<Vec<_>>());
        assert_eq!(
            days(&["mon", "Wednesday", "FRI"]),
            Ok([true, false, true, false, true, false, false])
        );
        assert_eq!(
            days(&["fri..mon"]),
            Ok([true, false, false, false, true, true, true])
        );
        assert_eq!(
            days(&["tue..tue"]),
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
                "settings.prod_window.days: no day given, so prod could never change",
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
        let stage = |name: &str| Stage {
            name: name.into(),
            file: String::new(),
            field: String::new(),
            argocd_app: String::new(),
            direct_commit_allowed: false,
            auto_merge_allowed: false,
            targets: Vec::new(),
        };
        let ctx = Context {
            app: "payments".into(),
            stages: vec![stage("dev"), stage("prod")],
            settings: String::new(),
            run_id: String::new(),
            max_health_wait: 0,
            dry_run: false,
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
