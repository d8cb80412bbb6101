//! Metrics answers as the audit record (and `--host-responses`, and replay)
//! writes them. WIT `f64` carries NaN and the infinities, JSON numbers do
//! not: a value is a JSON number when finite and otherwise the string
//! Prometheus itself writes (`"NaN"`, `"+Inf"`, `"-Inf"`), so every answer
//! round-trips through the record bit for bit.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{MetricLabel, MetricsError, Point, Sample, Series};

/// serde `with` module for a metric value (see the module docs). Reading
/// also accepts any number written as a string, as Prometheus sends them.
pub mod value {
    use serde::de::{self, Deserializer, Visitor};
    use serde::ser::Serializer;

    /// Writes a finite value as a number, NaN and the infinities as
    /// `"NaN"`, `"+Inf"`, `"-Inf"`.
    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_nan() {
            serializer.serialize_str("NaN")
        } else if value.is_infinite() {
            serializer.serialize_str(if *value > 0.0 { "+Inf" } else { "-Inf" })
        } else {
            serializer.serialize_f64(*value)
        }
    }

    /// Reads a number, or a string holding one (`"NaN"`, `"+Inf"`,
    /// `"-Inf"`, `"Inf"`, `"0.25"`).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        struct ValueVisitor;
        impl Visitor<'_> for ValueVisitor {
            type Value = f64;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number, or \"NaN\", \"+Inf\" or \"-Inf\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
                Ok(v)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
                parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }

    /// A value as Prometheus writes it.
    pub fn parse(text: &str) -> Option<f64> {
        match text.trim() {
            "NaN" => Some(f64::NAN),
            "+Inf" | "Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            other => other.parse().ok().filter(|v: &f64| v.is_finite()),
        }
    }
}

/// A [`Sample`] in the record.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleRecord {
    labels: Vec<MetricLabel>,
    time: i64,
    #[serde(with = "value")]
    value: f64,
}

/// A [`Point`] in the record.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PointRecord {
    time: i64,
    #[serde(with = "value")]
    value: f64,
}

/// A [`Series`] in the record.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeriesRecord {
    labels: Vec<MetricLabel>,
    points: Vec<PointRecord>,
}

impl From<&Sample> for SampleRecord {
    fn from(s: &Sample) -> Self {
        Self {
            labels: s.labels.clone(),
            time: s.time,
            value: s.value,
        }
    }
}

impl From<SampleRecord> for Sample {
    fn from(s: SampleRecord) -> Self {
        Self {
            labels: s.labels,
            time: s.time,
            value: s.value,
        }
    }
}

impl From<&Series> for SeriesRecord {
    fn from(s: &Series) -> Self {
        Self {
            labels: s.labels.clone(),
            points: s
                .points
                .iter()
                .map(|p| PointRecord {
                    time: p.time,
                    value: p.value,
                })
                .collect(),
        }
    }
}

impl From<SeriesRecord> for Series {
    fn from(s: SeriesRecord) -> Self {
        Self {
            labels: s.labels,
            points: s
                .points
                .into_iter()
                .map(|p| Point {
                    time: p.time,
                    value: p.value,
                })
                .collect(),
        }
    }
}

fn to_json<R: Serialize>(answer: Result<Vec<R>, &MetricsError>) -> Value {
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_value(answer)
        .unwrap_or_else(|e| serde_json::json!({ "unserializable": e.to_string() }))
}

/// An instant query's answer in the record's form: `{"Ok": [samples]}` or
/// `{"Err": {"BadQuery": "..."}}`.
pub fn samples_to_json(answer: &Result<Vec<Sample>, MetricsError>) -> Value {
    to_json(
        answer
            .as_ref()
            .map(|samples| samples.iter().map(SampleRecord::from).collect()),
    )
}

/// A range query's answer in the record's form.
pub fn series_to_json(answer: &Result<Vec<Series>, MetricsError>) -> Value {
    to_json(
        answer
            .as_ref()
            .map(|series| series.iter().map(SeriesRecord::from).collect()),
    )
}

/// Reads an instant query's answer: the record's `{"Ok": ...}` /
/// `{"Err": ...}` form, or a bare list of samples for Ok.
pub fn samples_from_json(
    value: Value,
) -> Result<Result<Vec<Sample>, MetricsError>, serde_json::Error> {
    from_json::<SampleRecord, Sample>(value)
}

/// Reads a range query's answer, like [`samples_from_json`].
pub fn series_from_json(
    value: Value,
) -> Result<Result<Vec<Series>, MetricsError>, serde_json::Error> {
    from_json::<SeriesRecord, Series>(value)
}

fn from_json<R, T>(value: Value) -> Result<Result<Vec<T>, MetricsError>, serde_json::Error>
where
    R: serde::de::DeserializeOwned + Into<T>,
{
    let answer = match serde_json::from_value::<Result<Vec<R>, MetricsError>>(value.clone()) {
        Ok(answer) => answer,
        Err(_) => Ok(serde_json::from_value::<Vec<R>>(value)?),
    };
    Ok(answer.map(|list| list.into_iter().map(Into::into).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(value: f64) -> Sample {
        Sample {
            labels: vec![MetricLabel {
                name: "job".into(),
                value: "payments".into(),
            }],
            time: 1_700_000_000_000,
            value,
        }
    }

    #[test]
    fn nan_and_infinities_round_trip_as_prometheus_strings() {
        let answer = Ok(vec![
            sample(f64::NAN),
            sample(f64::INFINITY),
            sample(f64::NEG_INFINITY),
            sample(0.25),
        ]);
        let json = samples_to_json(&answer);
        let text = json.to_string();
        assert_eq!(
            text,
            r#"{"Ok":[{"labels":[{"name":"job","value":"payments"}],"time":1700000000000,"value":"NaN"},{"labels":[{"name":"job","value":"payments"}],"time":1700000000000,"value":"+Inf"},{"labels":[{"name":"job","value":"payments"}],"time":1700000000000,"value":"-Inf"},{"labels":[{"name":"job","value":"payments"}],"time":1700000000000,"value":0.25}]}"#
        );
        let back = samples_from_json(serde_json::from_str(&text).unwrap())
            .unwrap()
            .unwrap();
        assert!(back[0].value.is_nan());
        assert_eq!(back[1].value, f64::INFINITY);
        assert_eq!(back[2].value, f64::NEG_INFINITY);
        assert_eq!(back[3], sample(0.25));
    }

    #[test]
    fn errors_and_series_round_trip() {
        let err: Result<Vec<Series>, MetricsError> =
            Err(MetricsError::BadQuery("parse error at char 4".into()));
        let json = series_to_json(&err);
        assert_eq!(
            json.to_string(),
            r#"{"Err":{"BadQuery":"parse error at char 4"}}"#
        );
        assert_eq!(series_from_json(json).unwrap(), err);

        let ok = Ok(vec![Series {
            labels: Vec::new(),
            points: vec![
                Point {
                    time: 1,
                    value: 0.5,
                },
                Point {
                    time: 2,
                    value: f64::NEG_INFINITY,
                },
            ],
        }]);
        let back = series_from_json(series_to_json(&ok)).unwrap();
        assert_eq!(back, ok);
    }

    #[test]
    fn a_bare_list_reads_as_ok_and_strings_as_numbers() {
        let json = serde_json::json!([{ "labels": [], "time": 5, "value": "1.5" }]);
        let samples = samples_from_json(json).unwrap().unwrap();
        assert_eq!(samples[0].value, 1.5);
        let bad = serde_json::json!([{ "labels": [], "time": 5, "value": "lots" }]);
        assert!(samples_from_json(bad).is_err());
    }
}
