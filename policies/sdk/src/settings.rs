//! Reading `policy.settings` (a JSON object) with clear errors.

use crate::PolicyError;
use serde_json::{Map, Value};

/// Parsed policy settings.
pub struct Settings(Map<String, Value>);

impl Settings {
    /// Parses the context's settings string.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        if json.trim().is_empty() {
            return Ok(Self(Map::new()));
        }
        match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(Value::Null) => Ok(Self(Map::new())),
            Ok(other) => Err(PolicyError::InvalidSettings(format!(
                "settings must be a mapping, got {other}"
            ))),
            Err(e) => Err(PolicyError::InvalidSettings(format!(
                "settings are not JSON: {e}"
            ))),
        }
    }

    /// Keys present, in order.
    pub fn keys(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    /// A raw value by key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// A duration in milliseconds: a number of seconds, or text such as
    /// `90s`, `10m`, `1h30m`, `500ms`.
    pub fn duration_ms(&self, key: &str) -> Result<Option<u64>, PolicyError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(|s| Some(s.saturating_mul(1000)))
                .ok_or_else(|| invalid(key, &n.to_string(), "a whole number of seconds")),
            Some(Value::String(s)) => parse_duration_ms(s)
                .map(Some)
                .ok_or_else(|| invalid(key, s, "a duration like 90s, 10m or 1h30m")),
            Some(other) => Err(invalid(key, &other.to_string(), "a duration")),
        }
    }

    /// A boolean.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, PolicyError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(invalid(key, &other.to_string(), "true or false")),
        }
    }

    /// A string.
    pub fn string(&self, key: &str) -> Result<Option<String>, PolicyError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid(key, &other.to_string(), "a string")),
        }
    }

    /// A list of strings.
    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>, PolicyError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(invalid(key, &other.to_string(), "a list of strings")),
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(other) => Err(invalid(key, &other.to_string(), "a list of strings")),
        }
    }

    /// A nested mapping (e.g. per-stage overrides), as settings.
    pub fn section(&self, key: &str) -> Result<Option<Settings>, PolicyError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Settings(map.clone()))),
            Some(other) => Err(invalid(key, &other.to_string(), "a mapping")),
        }
    }

    /// Refuses keys outside `known`, so a misspelt setting is an error
    /// instead of a rule silently left at its default.
    pub fn reject_unknown(&self, known: &[&str]) -> Result<(), PolicyError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(PolicyError::InvalidSettings(format!(
                "settings.{key}: not a setting of this policy (known: {})",
                known.join(", ")
            ))),
        }
    }
}

/// Rewrites an error about `settings.<key>` of a nested section into one
/// about `settings.<section>.<key>`, so it names the full path.
pub fn nest_error(err: PolicyError, section: &str) -> PolicyError {
    match err {
        PolicyError::InvalidSettings(msg) => PolicyError::InvalidSettings(msg.replacen(
            "settings.",
            &format!("settings.{section}."),
            1,
        )),
        other => other,
    }
}

/// Formats a duration the way settings write them: `1h30m`, `45s`, `2d3h`,
/// `500ms` below one second. Rounds up to whole seconds above one second, so
/// a remaining time is never understated.
pub fn format_duration_ms(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let mut secs = ms.div_ceil(1000);
    let mut text = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            text.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    text
}

fn invalid(key: &str, value: &str, expected: &str) -> PolicyError {
    PolicyError::InvalidSettings(format!("settings.{key}: {value} is not {expected}"))
}

/// Parses `500ms`, `90s`, `10m`, `1h30m`, `2h`; a bare number is seconds.
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<u64>() {
        return secs.checked_mul(1000);
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(factor)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("10m"), Some(600_000));
        assert_eq!(parse_duration_ms("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("45"), Some(45_000));
        assert_eq!(parse_duration_ms("10 minutes"), None);
        assert_eq!(parse_duration_ms("m"), None);
    }

    #[test]
    fn formatted_durations_parse_back() {
        assert_eq!(format_duration_ms(0), "0ms");
        assert_eq!(format_duration_ms(500), "500ms");
        assert_eq!(format_duration_ms(5_400_000), "1h30m");
        assert_eq!(format_duration_ms(7_200_000), "2h");
        assert_eq!(format_duration_ms(93_784_000), "1d2h3m4s");
        // Rounded up: 1.2 s left is shown as 2s, never 1s.
        assert_eq!(format_duration_ms(1_200), "2s");
        for ms in [1_000, 61_000, 5_400_000, 93_784_000] {
            assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Some(ms));
        }
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let s = Settings::parse(r#"{"health_timeout": "5m", "helth_timeout": "9m"}"#).unwrap();
        assert_eq!(
            s.reject_unknown(&["health_timeout", "helth_timeout"]),
            Ok(())
        );
        assert_eq!(
            s.reject_unknown(&["health_timeout", "mr_labels"]),
            Err(PolicyError::InvalidSettings(
                "settings.helth_timeout: not a setting of this policy (known: health_timeout, mr_labels)"
                    .into()
            ))
        );
    }

    #[test]
    fn nested_errors_name_the_whole_path() {
        let s = Settings::parse(r#"{"window": {"start": 9}}"#).unwrap();
        let window = s.section("window").unwrap().unwrap();
        let err = nest_error(window.string("start").unwrap_err(), "window");
        assert_eq!(
            err,
            PolicyError::InvalidSettings("settings.window.start: 9 is not a string".into())
        );
        let other = PolicyError::Other("x".into());
        assert_eq!(nest_error(other.clone(), "window"), other);
    }

    #[test]
    fn errors_name_the_setting() {
        let s = Settings::parse(r#"{"health_timeout": "soon"}"#).unwrap();
        let err = s.duration_ms("health_timeout").unwrap_err();
        assert_eq!(
            err,
            PolicyError::InvalidSettings(
                "settings.health_timeout: soon is not a duration like 90s, 10m or 1h30m".into()
            )
        );
    }
}
