//! Reading the indicators: templates expanded for a stage's targets, the
//! instant value while the stage bakes, and the whole bake window once it
//! is over. A value above its maximum is a breach (an infinite latency
//! included: the quantile fell in the `+Inf` bucket); NaN is no data (a
//! ratio over no requests), as is an empty answer.

use baton_policy::settings::format_duration_ms;
use baton_policy::{MetricLabel, MetricsError, PolicyError, Stage, Target, World};

use crate::config::Indicator;

/// One indicator's query for one target (or for the whole stage, when the
/// template names no target).
#[derive(Debug, Clone, PartialEq)]
pub struct Query<'a> {
    /// The indicator.
    pub indicator: &'a Indicator,
    /// The expanded PromQL.
    pub promql: String,
}

/// The queries of `indicators` for `stage` of `app`: one per target when
/// a template names `{target}` or `{argocd_app}`, else one for the stage.
pub fn queries<'a>(indicators: &'a [Indicator], app: &str, stage: &Stage) -> Vec<Query<'a>> {
    let single = [Target {
        label: String::new(),
        file: stage.file.clone(),
        field: stage.field.clone(),
        argocd_app: stage.argocd_app.clone(),
    }];
    let targets: &[Target] = if stage.targets.is_empty() {
        &single
    } else {
        &stage.targets
    };
    let mut out = Vec::new();
    for indicator in indicators {
        let per_target =
            indicator.query.contains("{target}") || indicator.query.contains("{argocd_app}");
        let chosen = if per_target { targets } else { &targets[..1] };
        for target in chosen {
            let promql = expand(&indicator.query, app, &stage.name, target);
            if !out.iter().any(|q: &Query<'_>| q.promql == promql) {
                out.push(Query { indicator, promql });
            }
        }
    }
    out
}

/// Replaces the placeholders. Values are escaped for a PromQL string
/// literal, which is where a placeholder belongs (`{app="{app}"}`).
pub fn expand(template: &str, app: &str, stage: &str, target: &Target) -> String {
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    template
        .replace("{app}", &escape(app))
        .replace("{stage}", &escape(stage))
        .replace("{target}", &escape(&target.label))
        .replace("{argocd_app}", &escape(&target.argocd_app))
}

/// What one query says about the bake.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// Every value within the maximum; `worst` is the largest seen.
    Within {
        /// The largest value.
        worst: f64,
    },
    /// A value above the maximum.
    Breach {
        /// The value.
        value: f64,
        /// The series' labels, as PromQL writes them (`{code="500"}`), or
        /// empty.
        labels: String,
        /// When, in milliseconds since the epoch.
        time: i64,
    },
    /// No number to judge: no series, or only NaN.
    NoData,
    /// Prometheus could not answer now (unreachable, timed out): the
    /// check is repeated.
    Unavailable(String),
}

/// An instant reading at the host clock's now.
pub fn instant(world: &(impl World + ?Sized), query: &Query<'_>) -> Result<Reading, PolicyError> {
    match world.metrics_query(&query.promql, None) {
        Ok(samples) => Ok(judge(
            query.indicator.max,
            samples.iter().map(|s| (s.value, &s.labels[..], s.time)),
        )),
        Err(e) => unanswered(query, e),
    }
}

/// A reading of the whole window `[start, end]`, every `step`.
pub fn window(
    world: &(impl World + ?Sized),
    query: &Query<'_>,
    start: i64,
    end: i64,
    step: u64,
) -> Result<Reading, PolicyError> {
    match world.metrics_query_range(&query.promql, start, end, step) {
        Ok(series) => Ok(judge(
            query.indicator.max,
            series.iter().flat_map(|s| {
                s.points
                    .iter()
                    .map(move |p| (p.value, &s.labels[..], p.time))
            }),
        )),
        Err(e) => unanswered(query, e),
    }
}

/// The worst value against the maximum: the first breach (by value, the
/// largest), else the largest value within.
fn judge<'l>(max: f64, values: impl Iterator<Item = (f64, &'l [MetricLabel], i64)>) -> Reading {
    let mut worst: Option<(f64, &'l [MetricLabel], i64)> = None;
    for (value, labels, time) in values.filter(|(v, _, _)| !v.is_nan()) {
        if worst.is_none_or(|(w, _, _)| value > w) {
            worst = Some((value, labels, time));
        }
    }
    match worst {
        None => Reading::NoData,
        Some((value, labels, time)) if value > max => Reading::Breach {
            value,
            labels: selector(labels),
            time,
        },
        Some((worst, _, _)) => Reading::Within { worst },
    }
}

/// A failed query: a refused query is a mistake in the settings, a denial
/// a mistake in the host's configuration (both end the run as a policy
/// error: neither says anything about the version); an outage is retried.
fn unanswered(query: &Query<'_>, e: MetricsError) -> Result<Reading, PolicyError> {
    match e {
        MetricsError::BadQuery(message) => Err(PolicyError::InvalidSettings(format!(
            "settings.{}.query: Prometheus refused {}: {message}",
            query.indicator.name, query.promql
        ))),
        MetricsError::Denied(message) => Err(PolicyError::Capability(format!(
            "metrics denied for {}: {message}",
            query.indicator.name
        ))),
        MetricsError::Unreachable(message) | MetricsError::Timeout(message) => {
            Ok(Reading::Unavailable(message))
        }
    }
}

/// `{code="500",job="payments"}`, or nothing without labels.
fn selector(labels: &[MetricLabel]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A value for people: four significant decimals, `+Inf` as Prometheus
/// writes it.
pub fn show(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// `12s into the bake`, for a breach found in the window.
pub fn into_bake(time: i64, start: i64) -> String {
    format!(
        "{} into the gate",
        format_duration_ms(u64::try_from(time.saturating_sub(start)).unwrap_or(0))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_policy::testing::{FakeWorld, stage};
    use baton_policy::{Point, Sample, Series};

    fn indicator(query: &str) -> Indicator {
        Indicator {
            name: "error_ratio",
            query: query.into(),
            max: 0.1,
        }
    }

    fn label(name: &str, value: &str) -> MetricLabel {
        MetricLabel {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn templates_expand_per_target_only_when_they_name_one() {
        let target = |label: &str| Target {
            label: label.into(),
            file: format!("overlays/prod-{label}/values.yaml"),
            field: "helm:image.tag".into(),
            argocd_app: format!("payments-prod-{label}"),
        };
        let mut prod = stage("prod", false);
        prod.targets = vec![target("eu"), target("us")];
        let by_region = [indicator(
            r#"errors{app="{app}",stage="{stage}",region="{target}"}"#,
        )];
        let q: Vec<String> = queries(&by_region, "payments", &prod)
            .into_iter()
            .map(|q| q.promql)
            .collect();
        assert_eq!(
            q,
            [
                r#"errors{app="payments",stage="prod",region="eu"}"#,
                r#"errors{app="payments",stage="prod",region="us"}"#
            ]
        );
        let whole = [indicator(r#"errors{stage="{stage}"}"#)];
        assert_eq!(queries(&whole, "payments", &prod).len(), 1);
        let quoted = target("a\"b");
        assert_eq!(
            expand(r#"x{r="{target}"}"#, "p", "s", &quoted),
            r#"x{r="a\"b"}"#
        );
    }

    #[test]
    fn the_worst_value_decides_and_nan_is_no_data() {
        let mut world = FakeWorld::default();
        let q = indicator("e");
        let query = Query {
            indicator: &q,
            promql: "e".into(),
        };
        let sample = |code: &str, value: f64| Sample {
            labels: vec![label("code", code)],
            time: 5,
            value,
        };
        world.metrics.insert(
            "e".into(),
            Ok(vec![
                sample("500", 0.02),
                sample("503", 0.3),
                sample("502", f64::NAN),
            ]),
        );
        assert_eq!(
            instant(&world, &query),
            Ok(Reading::Breach {
                value: 0.3,
                labels: r#"{code="503"}"#.into(),
                time: 5
            })
        );
        world
            .metrics
            .insert("e".into(), Ok(vec![sample("500", f64::NAN)]));
        assert_eq!(instant(&world, &query), Ok(Reading::NoData));
        world.metrics.insert("e".into(), Ok(vec![]));
        assert_eq!(instant(&world, &query), Ok(Reading::NoData));
        world
            .metrics
            .insert("e".into(), Ok(vec![sample("200", f64::INFINITY)]));
        assert!(
            matches!(instant(&world, &query), Ok(Reading::Breach { value, .. }) if value.is_infinite())
        );

        world.metric_ranges.insert(
            "e".into(),
            Ok(vec![Series {
                labels: Vec::new(),
                points: vec![
                    Point {
                        time: 1,
                        value: 0.01,
                    },
                    Point {
                        time: 2,
                        value: 0.04,
                    },
                    Point {
                        time: 3,
                        value: f64::NAN,
                    },
                ],
            }]),
        );
        assert_eq!(
            window(&world, &query, 0, 3, 1),
            Ok(Reading::Within { worst: 0.04 })
        );
    }

    #[test]
    fn failed_queries_say_whose_mistake_it_is() {
        let mut world = FakeWorld::default();
        let q = indicator("e(");
        let query = Query {
            indicator: &q,
            promql: "e(".into(),
        };
        world.metrics.insert(
            "e(".into(),
            Err(MetricsError::BadQuery("1:3: parse error".into())),
        );
        assert_eq!(
            instant(&world, &query),
            Err(PolicyError::InvalidSettings(
                "settings.error_ratio.query: Prometheus refused e(: 1:3: parse error".into()
            ))
        );
        world.metrics.insert(
            "e(".into(),
            Err(MetricsError::Unreachable("connection refused".into())),
        );
        assert_eq!(
            instant(&world, &query),
            Ok(Reading::Unavailable("connection refused".into()))
        );
    }

    #[test]
    fn values_read_well() {
        assert_eq!(show(0.25), "0.25");
        assert_eq!(show(0.012345), "0.0123");
        assert_eq!(show(3.0), "3");
        assert_eq!(show(0.0), "0");
        assert_eq!(show(f64::INFINITY), "+Inf");
        assert_eq!(into_bake(12_000, 0), "12s into the gate");
    }
}
