//! The SLO policy's settings: the standard flow's (with a longer default
//! gate timeout), the bake, how often it is checked, the indicators with
//! their PromQL templates and maxima, and what a bake without data means.
//! Unknown keys are refused, at the top and in every nested section.

use baton_policy::flow::FlowSettings;
use baton_policy::settings::{Settings, format_duration_ms, nest_error};
use baton_policy::{Context, PolicyError};
use serde_json::Value;

/// Default gate timeout: thirty minutes, room for the default bake.
const DEFAULT_HEALTH_TIMEOUT_MS: u64 = 30 * 60 * 1000;

/// Default bake: ten minutes.
const DEFAULT_BAKE_MS: u64 = 10 * 60 * 1000;

/// Default check interval: thirty seconds.
const DEFAULT_INTERVAL_MS: u64 = 30 * 1000;

/// The indicators, by settings key.
pub const INDICATORS: [&str; 2] = ["error_ratio", "p95_latency"];

/// One service level indicator: a PromQL template and the largest value
/// a clean bake may show.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    /// Its settings key: `error_ratio` or `p95_latency`.
    pub name: &'static str,
    /// PromQL with `{app}`, `{stage}`, `{target}`, `{argocd_app}`
    /// placeholders.
    pub query: String,
    /// Values above it fail the stage.
    pub max: f64,
}

/// What a bake with no data for an indicator means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoData {
    /// Not clean: the stage rolls back (the default: no evidence is not
    /// good evidence).
    Fail,
    /// Clean: for stages without traffic.
    Pass,
}

/// Settings of the SLO policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSettings {
    /// Gate timeouts and labels, as in the default policy.
    pub flow: FlowSettings,
    bake_ms: u64,
    stage_bakes: Vec<(String, u64)>,
    /// How often a baking stage is checked, and the step of the bake's
    /// final range query.
    pub interval_ms: u64,
    /// The indicators configured (at least one).
    pub indicators: Vec<Indicator>,
    /// What a bake without data means.
    pub no_data: NoData,
}

impl SloSettings {
    /// The top-level keys.
    const OWN_KEYS: &'static [&'static str] = &["bake", "interval", "no_data"];

    /// Parses and validates the settings JSON from the context.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        let s = Settings::parse(json)?;
        s.reject_unknown(&[FlowSettings::KEYS, Self::OWN_KEYS, &INDICATORS].concat())?;
        let flow = FlowSettings::from_settings(&s, DEFAULT_HEALTH_TIMEOUT_MS)?;
        let bake_ms = s.duration_ms("bake")?.unwrap_or(DEFAULT_BAKE_MS);
        let interval_ms = match s.duration_ms("interval")? {
            Some(0) => return Err(invalid("interval: 0s is not a check interval (above zero)")),
            Some(ms) => ms,
            None => DEFAULT_INTERVAL_MS,
        };
        let no_data = match s.string("no_data")?.as_deref() {
            None | Some("fail") => NoData::Fail,
            Some("pass") => NoData::Pass,
            Some(other) => {
                return Err(invalid(&format!("no_data: {other} is not fail or pass")));
            }
        };
        let mut indicators = Vec::new();
        for name in INDICATORS {
            if let Some(section) = s.section(name)? {
                indicators.push(indicator(name, &section).map_err(|e| nest_error(e, name))?);
            }
        }
        if indicators.is_empty() {
            return Err(invalid(
                "error_ratio, p95_latency: configure at least one indicator ({ query, max })",
            ));
        }
        let stage_bakes = stage_bakes(&s)?;
        let settings = Self {
            flow,
            bake_ms,
            stage_bakes,
            interval_ms,
            indicators,
            no_data,
        };
        settings.check_bakes_fit_gates()?;
        Ok(settings)
    }

    /// The bake of `stage`.
    pub fn bake_ms(&self, stage: &str) -> u64 {
        self.stage_bakes
            .iter()
            .find(|(name, _)| name == stage)
            .map_or(self.bake_ms, |(_, ms)| *ms)
    }

    /// Every bake must end inside its gate, or the gate would always time
    /// out first: checked against the policy's gate timeouts here, and
    /// against the host's `guardrails.max_health_wait` by
    /// [`Self::check_against_host`].
    fn check_bakes_fit_gates(&self) -> Result<(), PolicyError> {
        let timeouts = self.flow.health_timeouts();
        let keyed = |stage: &str, setting: &str, overridden: bool| {
            if overridden {
                format!("stages.{stage}.{setting}")
            } else {
                setting.to_owned()
            }
        };
        let mut stages: Vec<String> = self.stage_bakes.iter().map(|(s, _)| s.clone()).collect();
        for (key, _) in &timeouts {
            if let Some(stage) = key
                .strip_prefix("stages.")
                .and_then(|k| k.strip_suffix(".health_timeout"))
                && !stages.iter().any(|s| s == stage)
            {
                stages.push(stage.to_owned());
            }
        }
        let general = timeouts
            .first()
            .map_or(DEFAULT_HEALTH_TIMEOUT_MS, |(_, ms)| *ms);
        let mut pairs = vec![(
            "bake".to_owned(),
            self.bake_ms,
            "health_timeout".to_owned(),
            general,
        )];
        for stage in &stages {
            let own_bake = self.stage_bakes.iter().any(|(s, _)| s == stage);
            let own_timeout = timeouts
                .iter()
                .any(|(k, _)| *k == format!("stages.{stage}.health_timeout"));
            pairs.push((
                keyed(stage, "bake", own_bake),
                self.bake_ms(stage),
                keyed(stage, "health_timeout", own_timeout),
                self.flow.health_timeout_ms(stage),
            ));
        }
        for (bake_key, bake, timeout_key, timeout) in pairs {
            if bake >= timeout {
                return Err(invalid(&format!(
                    "{bake_key}: {} must be shorter than {timeout_key} ({})",
                    format_duration_ms(bake),
                    format_duration_ms(timeout)
                )));
            }
        }
        Ok(())
    }

    /// The host caps every gate at `guardrails.max_health_wait`: a bake
    /// that does not end before it can never complete.
    pub fn check_against_host(&self, ctx: &Context) -> Result<(), PolicyError> {
        for stage in &ctx.stages {
            let bake = self.bake_ms(&stage.name);
            if bake >= ctx.max_health_wait {
                let key = if self.stage_bakes.iter().any(|(s, _)| *s == stage.name) {
                    format!("stages.{}.bake", stage.name)
                } else {
                    "bake".to_owned()
                };
                return Err(invalid(&format!(
                    "{key}: {} must be shorter than the host's guardrails.max_health_wait ({}), \
                     which caps every gate",
                    format_duration_ms(bake),
                    format_duration_ms(ctx.max_health_wait)
                )));
            }
        }
        Ok(())
    }
}

fn invalid(message: &str) -> PolicyError {
    PolicyError::InvalidSettings(format!("settings.{message}"))
}

/// `{ query, max }` of one indicator.
fn indicator(name: &'static str, s: &Settings) -> Result<Indicator, PolicyError> {
    s.reject_unknown(&["query", "max"])?;
    let query = s
        .string("query")?
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| invalid("query: a PromQL template is required"))?;
    let max = match s.get("max") {
        Some(Value::Number(n)) => n.as_f64().filter(|m| m.is_finite() && *m >= 0.0),
        _ => None,
    }
    .ok_or_else(|| {
        invalid(&format!(
            "max: {} is not a number of at least 0",
            s.get("max")
                .map_or("(missing)".to_owned(), Value::to_string)
        ))
    })?;
    Ok(Indicator {
        name,
        query: query.trim().to_owned(),
        max,
    })
}

/// `stages.<name>.bake` overrides; a stage section holds only
/// `health_timeout` (the flow's) and `bake`.
fn stage_bakes(s: &Settings) -> Result<Vec<(String, u64)>, PolicyError> {
    let mut bakes = Vec::new();
    let Some(stages) = s.section("stages")? else {
        return Ok(bakes);
    };
    for name in stages.keys() {
        let Some(stage) = stages.section(&name)? else {
            continue;
        };
        let path = format!("stages.{name}");
        stage
            .reject_unknown(&["health_timeout", "bake"])
            .map_err(|e| nest_error(e, &path))?;
        if let Some(ms) = stage
            .duration_ms("bake")
            .map_err(|e| nest_error(e, &path))?
        {
            bakes.push((name, ms));
        }
    }
    Ok(bakes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#""error_ratio": {"query": "errors{app=\"{app}\"}", "max": 0.05}"#;

    fn parse(extra: &str) -> Result<SloSettings, PolicyError> {
        let sep = if extra.is_empty() { "" } else { ", " };
        SloSettings::parse(&format!("{{{ONE}{sep}{extra}}}"))
    }

    #[test]
    fn defaults_bake_ten_minutes_inside_a_thirty_minute_gate() {
        let s = parse("").unwrap();
        assert_eq!(s.bake_ms("dev"), 600_000);
        assert_eq!(s.flow.health_timeout_ms("dev"), 1_800_000);
        assert_eq!(s.interval_ms, 30_000);
        assert_eq!(s.no_data, NoData::Fail);
        assert_eq!(
            s.indicators,
            [Indicator {
                name: "error_ratio",
                query: "errors{app=\"{app}\"}".into(),
                max: 0.05
            }]
        );
    }

    #[test]
    fn stages_override_the_bake() {
        let s = parse(
            r#""bake": "2m", "stages": {"prod": {"bake": "20m", "health_timeout": "1h"}}, "no_data": "pass""#,
        )
        .unwrap();
        assert_eq!(s.bake_ms("dev"), 120_000);
        assert_eq!(s.bake_ms("prod"), 1_200_000);
        assert_eq!(s.no_data, NoData::Pass);
    }

    #[test]
    fn errors_name_the_key() {
        for (json, message) in [
            (
                "{}".to_owned(),
                "settings.error_ratio, p95_latency: configure at least one indicator ({ query, max })",
            ),
            (
                format!("{{{ONE}, \"bake\": \"30m\"}}"),
                "settings.bake: 30m must be shorter than health_timeout (30m)",
            ),
            (
                format!("{{{ONE}, \"stages\": {{\"prod\": {{\"bake\": \"40m\"}}}}}}"),
                "settings.stages.prod.bake: 40m must be shorter than health_timeout (30m)",
            ),
            (
                format!("{{{ONE}, \"stages\": {{\"prod\": {{\"health_timeout\": \"5m\"}}}}}}"),
                "settings.bake: 10m must be shorter than stages.prod.health_timeout (5m)",
            ),
            (
                format!("{{{ONE}, \"stages\": {{\"prod\": {{\"bak\": \"5m\"}}}}}}"),
                "settings.stages.prod.bak: not a setting of this policy (known: health_timeout, bake)",
            ),
            (
                r#"{"p95_latency": {"query": "x"}}"#.to_owned(),
                "settings.p95_latency.max: (missing) is not a number of at least 0",
            ),
            (
                r#"{"p95_latency": {"query": " ", "max": 1}}"#.to_owned(),
                "settings.p95_latency.query: a PromQL template is required",
            ),
            (
                r#"{"error_ratio": {"query": "x", "max": "5%"}}"#.to_owned(),
                "settings.error_ratio.max: \"5%\" is not a number of at least 0",
            ),
            (
                format!("{{{ONE}, \"interval\": 0}}"),
                "settings.interval: 0s is not a check interval (above zero)",
            ),
            (
                format!("{{{ONE}, \"no_data\": \"ignore\"}}"),
                "settings.no_data: ignore is not fail or pass",
            ),
        ] {
            assert_eq!(
                SloSettings::parse(&json),
                Err(PolicyError::InvalidSettings(message.into())),
                "{json}"
            );
        }
    }

    #[test]
    fn the_host_cap_must_leave_room_for_the_bake() {
        let s = parse(r#""bake": "10m""#).unwrap();
        let ctx = Context {
            max_health_wait: 300_000,
            ..baton_policy::testing::context("{}")
        };
        assert_eq!(
            s.check_against_host(&ctx),
            Err(PolicyError::InvalidSettings(
                "settings.bake: 10m must be shorter than the host's guardrails.max_health_wait \
                 (5m), which caps every gate"
                    .into()
            ))
        );
    }
}
