//! The `metrics:` section of a scenario: per PromQL text, a timeline of
//! scripted answers (a value, samples with labels, or a WIT
//! `metrics-error`), read in its raw form here and resolved for
//! [`super::world`], which answers queries from it by evaluation time.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::resolve::{Problem, problem};
use super::time::TimeSpec;
use super::world::MetricAnswer;
use crate::runtime::{MetricLabel, MetricsError};

/// One scripted answer of a metrics query, holding from `at` until the
/// next one: exactly one of `value`, `samples`, `error`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MetricAnswerFile {
    /// From when this answer holds; default: the clock start.
    #[serde(default)]
    pub(super) at: Option<TimeSpec>,
    /// Shorthand for one sample without labels.
    #[serde(default)]
    pub(super) value: Option<MetricValue>,
    /// Samples, each with its labels.
    #[serde(default)]
    pub(super) samples: Option<Vec<SampleFile>>,
    /// The query fails with this WIT `metrics-error`.
    #[serde(default)]
    pub(super) error: Option<MetricErrorFile>,
}

/// A metric value: a number, or `NaN`, `+Inf`, `-Inf` (as strings).
#[derive(Debug, Clone, Copy, Deserialize)]
pub(super) struct MetricValue(#[serde(with = "crate::runtime::metrics::value")] pub(super) f64);

/// One sample of a scripted answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SampleFile {
    /// Labels of the series, e.g. `{job: payments}`.
    #[serde(default)]
    pub(super) labels: BTreeMap<String, String>,
    /// The value.
    pub(super) value: MetricValue,
}

/// A WIT `metrics-error`: one key naming the case, with its message, e.g.
/// `{ unreachable: "connection refused" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct MetricErrorFile {
    #[serde(default)]
    pub(super) bad_query: Option<String>,
    #[serde(default)]
    pub(super) unreachable: Option<String>,
    #[serde(default)]
    pub(super) timeout: Option<String>,
    #[serde(default)]
    pub(super) denied: Option<String>,
}

/// One scripted metrics answer: exactly one of value, samples, error.
pub(super) fn resolve(field: &str, answer: MetricAnswerFile) -> Result<MetricAnswer, Problem> {
    let sample = |labels: BTreeMap<String, String>, value: f64| {
        let labels = labels
            .into_iter()
            .map(|(name, value)| MetricLabel { name, value })
            .collect();
        (labels, value)
    };
    match (answer.value, answer.samples, answer.error) {
        (Some(value), None, None) => Ok(MetricAnswer::Samples(vec![sample(
            BTreeMap::new(),
            value.0,
        )])),
        (None, Some(samples), None) => Ok(MetricAnswer::Samples(
            samples
                .into_iter()
                .map(|s| sample(s.labels, s.value.0))
                .collect(),
        )),
        (None, None, Some(error)) => metrics_error(&format!("{field}.error"), error),
        _ => Err(problem(field, "give exactly one of value, samples, error")),
    }
}

/// The WIT error a scripted answer names: exactly one case.
fn metrics_error(field: &str, error: MetricErrorFile) -> Result<MetricAnswer, Problem> {
    let MetricErrorFile {
        bad_query,
        unreachable,
        timeout,
        denied,
    } = error;
    let cases = [
        bad_query.map(MetricsError::BadQuery),
        unreachable.map(MetricsError::Unreachable),
        timeout.map(MetricsError::Timeout),
        denied.map(MetricsError::Denied),
    ];
    let mut given = cases.into_iter().flatten();
    match (given.next(), given.next()) {
        (Some(error), None) => Ok(MetricAnswer::Error(error)),
        _ => Err(problem(
            field,
            "give exactly one of bad-query, unreachable, timeout, denied (with its message)",
        )),
    }
}
