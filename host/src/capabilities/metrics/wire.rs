//! The Prometheus HTTP API's JSON, as documented for `/api/v1/query` and
//! `/api/v1/query_range`: an envelope `{"status", "data", "errorType",
//! "error", "warnings"}` whose `data` is `{"resultType", "result"}`.
//! Sample values are strings (`"0.25"`, `"NaN"`, `"+Inf"`, `"-Inf"`) next
//! to a float Unix time in seconds.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Labels, Sample, Series};

/// The envelope of every answer, success or error.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// `success` or `error`.
    pub status: String,
    /// The result, on success.
    #[serde(default)]
    pub data: Option<Data>,
    /// `bad_data`, `execution`, `timeout`, `canceled`, `internal`,
    /// `unavailable`, ... on error.
    #[serde(default, rename = "errorType")]
    pub error_type: Option<String>,
    /// The error message, on error.
    #[serde(default)]
    pub error: Option<String>,
    /// Warnings that came with a result.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// `data`: the result, tagged by `resultType`.
#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub enum Data {
    /// An instant vector.
    Vector(Vec<VectorSample>),
    /// A scalar: `[time, "value"]`.
    Scalar(Value),
    /// A range vector.
    Matrix(Vec<MatrixSeries>),
    /// A string: `[time, "text"]`.
    String(Value),
}

/// `[<unix time in seconds>, "<value>"]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Value(pub f64, pub String);

/// One element of a vector: float samples have `value`, native histograms
/// `histogram`.
#[derive(Debug, Deserialize)]
pub struct VectorSample {
    /// The series' labels.
    #[serde(default)]
    pub metric: BTreeMap<String, String>,
    /// A float sample.
    #[serde(default)]
    pub value: Option<Value>,
    /// A native histogram sample.
    #[serde(default)]
    pub histogram: Option<serde_json::Value>,
}

/// One series of a matrix.
#[derive(Debug, Deserialize)]
pub struct MatrixSeries {
    /// The series' labels.
    #[serde(default)]
    pub metric: BTreeMap<String, String>,
    /// Float samples, oldest first.
    #[serde(default)]
    pub values: Vec<Value>,
    /// Native histogram samples.
    #[serde(default)]
    pub histograms: Vec<serde_json::Value>,
}

/// Why a successful answer cannot be handed to a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// A result type the interface does not carry, or a value that is not
    /// a number; the text says which and what to do.
    Unsupported(String),
    /// More values than `max`.
    TooLarge,
}

/// A sample value as Prometheus writes it.
pub fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok().filter(|v: &f64| v.is_finite()),
    }
}

/// Seconds (as Prometheus writes times) to milliseconds.
pub fn millis(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

fn point(v: &Value) -> Result<(i64, f64), Unusable> {
    let value = parse_value(&v.1)
        .ok_or_else(|| Unusable::Unsupported(format!("sample value {:?} is not a number", v.1)))?;
    Ok((millis(v.0), value))
}

const HISTOGRAMS: &str = "the answer holds native histograms, which the metrics interface \
                          does not carry; reduce them to floats (histogram_quantile, \
                          histogram_count, histogram_sum)";

/// An instant query's data as samples: a vector, or a scalar as one sample
/// without labels. At most `max` samples.
pub fn samples(data: Data, max: usize) -> Result<Vec<Sample>, Unusable> {
    match data {
        Data::Vector(items) => {
            if items.len() > max {
                return Err(Unusable::TooLarge);
            }
            items
                .into_iter()
                .map(|item| {
                    let value = item.value.as_ref().ok_or_else(|| {
                        Unusable::Unsupported(if item.histogram.is_some() {
                            HISTOGRAMS.to_owned()
                        } else {
                            "a vector element has no value".to_owned()
                        })
                    })?;
                    let (time_ms, value) = point(value)?;
                    Ok(Sample {
                        labels: item.metric,
                        time_ms,
                        value,
                    })
                })
                .collect()
        }
        Data::Scalar(v) => {
            let (time_ms, value) = point(&v)?;
            Ok(vec![Sample {
                labels: Labels::new(),
                time_ms,
                value,
            }])
        }
        Data::String(_) => Err(Unusable::Unsupported(
            "the query's result is a string, not numbers".to_owned(),
        )),
        Data::Matrix(_) => Err(Unusable::Unsupported(
            "an instant query answered a range vector; use a range query, or an instant \
             expression (drop the [range] selector or wrap it in a function such as rate)"
                .to_owned(),
        )),
    }
}

/// A range query's data as series. At most `max` values in all.
pub fn series(data: Data, max: usize) -> Result<Vec<Series>, Unusable> {
    let Data::Matrix(items) = data else {
        return Err(Unusable::Unsupported(
            "a range query answered something other than a matrix".to_owned(),
        ));
    };
    let total: usize = items.iter().map(|s| s.values.len()).sum();
    if total > max {
        return Err(Unusable::TooLarge);
    }
    items
        .into_iter()
        .map(|item| {
            if !item.histograms.is_empty() {
                return Err(Unusable::Unsupported(HISTOGRAMS.to_owned()));
            }
            Ok(Series {
                labels: item.metric,
                points: item.values.iter().map(point).collect::<Result<_, _>>()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(json: &str) -> Envelope {
        serde_json::from_str(json).expect("valid envelope")
    }

    #[test]
    fn vectors_and_scalars_become_samples_with_prometheus_values() {
        let e = envelope(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"job":"payments","code":"500"},"value":[1700000000.5,"0.25"]},
                {"metric":{},"value":[1700000000.5,"NaN"]},
                {"metric":{"le":"+Inf"},"value":[1700000000.5,"+Inf"]},
                {"metric":{},"value":[1700000000.5,"-Inf"]}]}}"#,
        );
        let s = samples(e.data.expect("data"), 10).expect("samples");
        assert_eq!(s[0].time_ms, 1_700_000_000_500);
        assert_eq!(s[0].value, 0.25);
        assert_eq!(
            s[0].labels.keys().collect::<Vec<_>>(),
            ["code", "job"],
            "labels come sorted by name"
        );
        assert!(s[1].value.is_nan());
        assert_eq!(s[2].value, f64::INFINITY);
        assert_eq!(s[3].value, f64::NEG_INFINITY);

        let e = envelope(
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.123,"1"]}}"#,
        );
        let s = samples(e.data.expect("data"), 10).expect("samples");
        assert_eq!(
            s,
            [Sample {
                labels: Labels::new(),
                time_ms: 1_700_000_000_123,
                value: 1.0
            }]
        );
    }

    #[test]
    fn strings_histograms_and_oversized_answers_are_refused() {
        let e = envelope(r#"{"status":"success","data":{"resultType":"string","result":[1,"a"]}}"#);
        assert!(matches!(
            samples(e.data.expect("data"), 10),
            Err(Unusable::Unsupported(m)) if m.contains("string")
        ));
        let e = envelope(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{},"histogram":[1,{"count":"2","sum":"3","buckets":[]}]}]}}"#,
        );
        assert!(matches!(
            samples(e.data.expect("data"), 10),
            Err(Unusable::Unsupported(m)) if m.contains("native histograms")
        ));
        let e = envelope(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
                {"metric":{"a":"1"},"values":[[1,"1"],[2,"2"]]},
                {"metric":{"a":"2"},"values":[[1,"1"],[2,"2"]]}]}}"#,
        );
        assert_eq!(series(e.data.expect("data"), 3), Err(Unusable::TooLarge));
    }

    #[test]
    fn matrices_become_series_oldest_first() {
        let e = envelope(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
                {"metric":{"stage":"dev"},"values":[[10,"0.5"],[25.25,"NaN"]]}]}}"#,
        );
        let s = series(e.data.expect("data"), 10).expect("series");
        assert_eq!(s[0].labels["stage"], "dev");
        assert_eq!(s[0].points[0], (10_000, 0.5));
        assert_eq!(s[0].points[1].0, 25_250);
        assert!(s[0].points[1].1.is_nan());
    }

    #[test]
    fn errors_carry_their_type() {
        let e = envelope(
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}"#,
        );
        assert_eq!(e.error_type.as_deref(), Some("bad_data"));
        assert!(e.data.is_none());
        assert_eq!(parse_value("lots"), None);
        assert_eq!(parse_value("1e3"), Some(1000.0));
    }
}
