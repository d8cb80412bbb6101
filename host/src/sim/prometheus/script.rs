//! What the simulator answers: per PromQL text, a timeline of scripted
//! answers (a value, samples with labels, a scalar, or an API error), read
//! from YAML and evaluated at a query's time. Offsets count from the
//! simulator's start (`-10m` is before it).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::config::duration_units;

/// The labels of one sample.
pub type SimLabels = BTreeMap<String, String>;

/// One scripted answer, holding from `at` until the next: exactly one of
/// `value`, `samples`, `scalar`, `error`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedAnswer {
    /// From when it holds, as an offset from the simulator's start
    /// (`90s`, `-10m`, `1h`); absent: from the beginning of time.
    #[serde(default)]
    pub at: Option<Offset>,
    /// One sample without labels (what `sum(...)` answers).
    #[serde(default)]
    pub value: Option<SimValue>,
    /// A vector: samples with their labels (`[]`: no series).
    #[serde(default)]
    pub samples: Option<Vec<SimSample>>,
    /// A scalar result.
    #[serde(default)]
    pub scalar: Option<SimValue>,
    /// The query fails as Prometheus fails it.
    #[serde(default)]
    pub error: Option<SimError>,
}

/// One sample of a scripted vector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSample {
    /// The series' labels.
    #[serde(default)]
    pub labels: SimLabels,
    /// Its value.
    pub value: SimValue,
}

/// A scripted API error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimError {
    /// Prometheus' `errorType`.
    #[serde(rename = "type")]
    pub error_type: ErrorType,
    /// The `error` text.
    pub message: String,
}

/// Prometheus' `errorType`s, with the status code each is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// 400: a bad parameter or a query that does not parse.
    BadData,
    /// 422: the expression cannot be evaluated.
    Execution,
    /// 503: the query timed out.
    Timeout,
    /// 503: the query was cancelled.
    Canceled,
    /// 500: an internal error.
    Internal,
    /// 503: the server cannot answer now.
    Unavailable,
}

impl ErrorType {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadData => "bad_data",
            Self::Execution => "execution",
            Self::Timeout => "timeout",
            Self::Canceled => "canceled",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    /// The HTTP status Prometheus sends it with.
    pub fn status(self) -> u16 {
        match self {
            Self::BadData => 400,
            Self::Execution => 422,
            Self::Internal => 500,
            Self::Timeout | Self::Canceled | Self::Unavailable => 503,
        }
    }
}

/// A sample value: a number, or `"NaN"`, `"+Inf"`, `"-Inf"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimValue(pub f64);

impl<'de> Deserialize<'de> for SimValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(v) => Ok(Self(v)),
            Raw::Text(t) => match t.as_str() {
                "NaN" => Ok(Self(f64::NAN)),
                "+Inf" | "Inf" => Ok(Self(f64::INFINITY)),
                "-Inf" => Ok(Self(f64::NEG_INFINITY)),
                other => other.parse().map(Self).map_err(|_| {
                    de::Error::custom(format!(
                        "{other:?} is not a number, \"NaN\", \"+Inf\" or \"-Inf\""
                    ))
                }),
            },
        }
    }
}

/// An offset from the simulator's start, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset(pub i64);

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(i64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(s) => Ok(Self(s.saturating_mul(1000))),
            Raw::Text(t) => parse_offset(&t).map(Self).ok_or_else(|| {
                de::Error::custom(format!("{t:?} is not an offset like 90s, -10m or 1h30m"))
            }),
        }
    }
}

/// `90s`, `-10m`, `1h30m`, `500ms` in milliseconds.
pub fn parse_offset(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, body) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    parse_duration_ms(body).map(|ms| sign * ms)
}

/// `90s`, `1m`, `1h30m`, `500ms`, or a number of seconds (fractions
/// allowed), in milliseconds: Prometheus' duration syntax and the float
/// seconds its API also takes.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        return secs.is_finite().then(|| (secs * 1000.0).round() as i64);
    }
    let mut total: i64 = 0;
    for (n, unit) in duration_units(text)? {
        let factor = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        let n = i64::try_from(n).ok()?;
        total = total.checked_add(n.checked_mul(factor)?)?;
    }
    Some(total)
}

/// An answer as the simulator serves it.
#[derive(Debug, Clone, PartialEq)]
pub enum SimAnswer {
    /// A vector of samples (possibly empty).
    Vector(Vec<(SimLabels, f64)>),
    /// A scalar.
    Scalar(f64),
    /// An API error.
    Error(ErrorType, String),
}

impl SimAnswer {
    /// One sample without labels.
    pub fn value(v: f64) -> Self {
        Self::Vector(vec![(SimLabels::new(), v)])
    }
}

impl ScriptedAnswer {
    /// The answer it scripts; an error naming `where_` unless exactly one
    /// kind is given.
    pub fn answer(&self, where_: &str) -> Result<SimAnswer, String> {
        match (&self.value, &self.samples, &self.scalar, &self.error) {
            (Some(v), None, None, None) => Ok(SimAnswer::value(v.0)),
            (None, Some(samples), None, None) => Ok(SimAnswer::Vector(
                samples
                    .iter()
                    .map(|s| (s.labels.clone(), s.value.0))
                    .collect(),
            )),
            (None, None, Some(v), None) => Ok(SimAnswer::Scalar(v.0)),
            (None, None, None, Some(e)) => Ok(SimAnswer::Error(e.error_type, e.message.clone())),
            _ => Err(format!(
                "{where_}: give exactly one of value, samples, scalar, error"
            )),
        }
    }
}

/// The answer holding at `at` in a timeline sorted by time.
pub fn holding(timeline: &[(i64, SimAnswer)], at: i64) -> Option<&SimAnswer> {
    timeline
        .iter()
        .rev()
        .find(|(from, _)| *from <= at)
        .map(|(_, answer)| answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_durations() {
        assert_eq!(parse_offset("-10m"), Some(-600_000));
        assert_eq!(parse_offset("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration_ms("15"), Some(15_000));
        assert_eq!(parse_duration_ms("0.5"), Some(500));
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("soon"), None);
        assert_eq!(parse_duration_ms(""), None);
    }

    #[test]
    fn scripts_read_every_kind_of_answer() {
        let yaml = r#"
- { at: -10m, value: 0.01 }
- at: 2m
  samples:
    - { labels: { code: "500" }, value: "NaN" }
- { at: 3m, scalar: "+Inf" }
- { at: 4m, error: { type: bad_data, message: "parse error" } }
"#;
        let script: Vec<ScriptedAnswer> = yaml_serde::from_str(yaml).expect("valid script");
        let answers: Vec<SimAnswer> = script
            .iter()
            .map(|a| a.answer("q").expect("one kind"))
            .collect();
        assert_eq!(answers[0], SimAnswer::value(0.01));
        assert!(matches!(&answers[1], SimAnswer::Vector(v) if v[0].1.is_nan()));
        assert_eq!(answers[2], SimAnswer::Scalar(f64::INFINITY));
        assert_eq!(
            answers[3],
            SimAnswer::Error(ErrorType::BadData, "parse error".into())
        );
        assert_eq!(script[0].at, Some(Offset(-600_000)));
        let both: Vec<ScriptedAnswer> =
            yaml_serde::from_str("- { value: 1, scalar: 2 }").expect("parses");
        assert!(both[0].answer("queries.up[0]").is_err());
    }
}
