//! The bake: checks while it runs, the window once it is over, breaches,
//! missing data, outages and bad queries, and the flow around it.

use super::*;
use baton_policy::testing::{FakeWorld, app_status, context, deployment, health_observed};
use baton_policy::{Action, Channel, MetricLabel, MetricsError, NewVersion, Point, Sample, Series};

const MIN: u64 = 60_000;
const NOW: i64 = 1_741_251_600_000;
const ERRORS: &str = r#"errors{stage="dev"}"#;
const LATENCY: &str = r#"p95{stage="dev"}"#;

fn ctx(extra: &str) -> Context {
    let settings = format!(
        r#"{{"bake": "10m", "interval": "1m",
            "error_ratio": {{"query": "errors{{stage=\"{{stage}}\"}}", "max": 0.05}},
            "p95_latency": {{"query": "p95{{stage=\"{{stage}}\"}}", "max": 0.5}}{extra}}}"#
    );
    Context {
        max_health_wait: 3_600_000,
        ..context(&settings)
    }
}

fn sample(value: f64) -> Sample {
    Sample {
        labels: Vec::new(),
        time: NOW,
        value,
    }
}

fn series(values: &[f64]) -> Series {
    Series {
        labels: vec![MetricLabel {
            name: "pod".into(),
            value: "payments-1".into(),
        }],
        points: values
            .iter()
            .zip(0..)
            .map(|(value, i)| Point {
                time: NOW - 10 * MIN as i64 + i * MIN as i64,
                value: *value,
            })
            .collect(),
    }
}

/// Every stage went v1 -> v2; dev's indicators answer `errors` and
/// `latency` now, and over the window.
fn world(errors: f64, latency: f64, window: &[f64]) -> FakeWorld {
    let mut w = FakeWorld::with_history(&[("v2", None), ("v1", None)]);
    w.now = NOW;
    w.metrics.insert(ERRORS.into(), Ok(vec![sample(errors)]));
    w.metrics.insert(LATENCY.into(), Ok(vec![sample(latency)]));
    w.metric_ranges
        .insert(ERRORS.into(), Ok(vec![series(window)]));
    w.metric_ranges
        .insert(LATENCY.into(), Ok(vec![series(&[0.2, 0.3])]));
    w
}

fn healthy(elapsed: u64) -> Event {
    Event::HealthObserved(health_observed(
        "dev",
        "v2",
        elapsed,
        app_status("payments-dev", HealthStatus::Healthy),
    ))
}

fn decide(world: &FakeWorld, event: &Event) -> Decision {
    SloPolicy::decide(&ctx(""), event, world).expect("a decision")
}

fn rolled_back(d: &Decision) -> &str {
    match d.actions.as_slice() {
        [Action::Rollback(r), Action::Fail(reason)] => {
            assert_eq!(
                (
                    r.stage.as_str(),
                    r.to_version.as_str(),
                    r.rollback_of.as_str()
                ),
                ("dev", "v1", "v2")
            );
            assert_eq!(r.channel, Channel::DirectCommit);
            reason
        }
        other => panic!("expected a rollback and a fail, got {other:?}"),
    }
}

#[test]
fn a_healthy_stage_bakes_and_asks_to_be_checked_again() {
    let w = world(0.01, 0.2, &[]);
    let d = decide(&w, &healthy(2 * MIN));
    assert!(d.actions.is_empty(), "{d:?}");
    assert_eq!(d.recheck_after, Some(MIN));
    assert_eq!(
        d.reasons,
        [
            "dev at v2: Healthy / Synced @abc; baking, 2m of 10m: error_ratio 0.01 (max 0.05), \
          p95_latency 0.2 (max 0.5); checking again in 1m"
        ]
    );
    // Near the end the next check is the end of the bake.
    let d = decide(&w, &healthy(10 * MIN - 20_000));
    assert_eq!(d.recheck_after, Some(20_000));
}

#[test]
fn a_breach_during_the_bake_rolls_back_at_once() {
    let w = world(0.31, 0.2, &[]);
    let d = decide(&w, &healthy(3 * MIN));
    assert_eq!(
        rolled_back(&d),
        "dev at v2: error_ratio is 0.31, above its maximum 0.05, 3m into the 10m bake \
         (errors{stage=\"dev\"}); rolled back to v1"
    );
    let mut w = world(0.01, f64::INFINITY, &[]);
    w.metrics.insert(
        LATENCY.into(),
        Ok(vec![Sample {
            labels: vec![MetricLabel {
                name: "route".into(),
                value: "/pay".into(),
            }],
            ..sample(f64::INFINITY)
        }]),
    );
    assert!(
        rolled_back(&decide(&w, &healthy(MIN)))
            .starts_with("dev at v2: p95_latency{route=\"/pay\"} is +Inf, above its maximum 0.5")
    );
}

#[test]
fn a_clean_window_moves_the_version_on() {
    let w = world(0.01, 0.2, &[0.01, 0.02, f64::NAN, 0.04]);
    let d = decide(&w, &healthy(10 * MIN));
    match d.actions.as_slice() {
        [Action::SetVersion(s), Action::Hold(_)] => {
            assert_eq!((s.stage.as_str(), s.version.as_str()), ("staging", "v2"));
            assert_eq!(
                s.reason,
                "v2 is healthy in dev (Healthy / Synced @abc; clean 10m bake: error_ratio at \
                 most 0.04 (max 0.05), p95_latency at most 0.3 (max 0.5))"
            );
        }
        other => panic!("expected the staging merge request, got {other:?}"),
    }
    assert_eq!(d.recheck_after, None);
}

#[test]
fn a_spike_between_checks_is_found_in_the_window() {
    let w = world(0.01, 0.2, &[0.01, 0.2, 0.01]);
    assert_eq!(
        rolled_back(&decide(&w, &healthy(11 * MIN))),
        "dev at v2: error_ratio{pod=\"payments-1\"} reached 0.2, above its maximum 0.05, \
         2m into the gate (errors{stage=\"dev\"}); rolled back to v1"
    );
}

#[test]
fn a_bake_without_data_is_not_clean_unless_the_settings_say_so() {
    let w = world(f64::NAN, 0.2, &[f64::NAN]);
    let d = decide(&w, &healthy(MIN));
    assert!(d.actions.is_empty());
    assert!(d.reasons[0].contains("error_ratio: no data yet"), "{d:?}");
    assert_eq!(
        rolled_back(&decide(&w, &healthy(10 * MIN))),
        "dev at v2: no error_ratio data during the 10m bake, so it cannot be called clean \
         (no_data: fail) (errors{stage=\"dev\"}); rolled back to v1"
    );
    let pass = SloPolicy::decide(&ctx(r#", "no_data": "pass""#), &healthy(10 * MIN), &w)
        .expect("a decision");
    assert!(
        matches!(pass.actions.as_slice(), [Action::SetVersion(s), _] if s.stage == "staging"),
        "{pass:?}"
    );
}

#[test]
fn an_unreachable_prometheus_keeps_the_gate_waiting() {
    let mut w = world(0.01, 0.2, &[0.01]);
    let down = Err(MetricsError::Unreachable("connection refused".into()));
    w.metrics.insert(ERRORS.into(), down.clone());
    w.metric_ranges.insert(
        ERRORS.into(),
        Err(MetricsError::Timeout("after 30s".into())),
    );
    let d = decide(&w, &healthy(MIN));
    assert!(d.actions.is_empty());
    assert!(
        d.reasons[0].contains("error_ratio: cannot be read now (connection refused)"),
        "{d:?}"
    );
    let d = decide(&w, &healthy(10 * MIN));
    assert!(d.actions.is_empty());
    assert_eq!(d.recheck_after, Some(MIN));
    assert!(
        d.reasons[0].contains("the 10m bake is over but error_ratio cannot be read (after 30s)"),
        "{d:?}"
    );
}

#[test]
fn a_query_prometheus_refuses_is_a_settings_error() {
    let mut w = world(0.01, 0.2, &[]);
    w.metrics.insert(
        LATENCY.into(),
        Err(MetricsError::BadQuery(
            "1:4: parse error: unexpected }".into(),
        )),
    );
    assert_eq!(
        SloPolicy::decide(&ctx(""), &healthy(MIN), &w),
        Err(PolicyError::InvalidSettings(
            "settings.p95_latency.query: Prometheus refused p95{stage=\"dev\"}: 1:4: parse \
             error: unexpected }"
                .into()
        ))
    );
}

#[test]
fn health_before_the_bake_is_the_flows() {
    let w = world(0.9, 9.0, &[]);
    let progressing = Event::HealthObserved(health_observed(
        "dev",
        "v2",
        MIN,
        app_status("payments-dev", HealthStatus::Progressing),
    ));
    let d = decide(&w, &progressing);
    assert!(d.actions.is_empty());
    assert_eq!(d.recheck_after, None, "Argo CD will report the change");
    let degraded = Event::HealthObserved(health_observed(
        "dev",
        "v2",
        MIN,
        app_status("payments-dev", HealthStatus::Degraded),
    ));
    assert!(rolled_back(&decide(&w, &degraded)).starts_with("dev is Degraded at v2"));
}

#[test]
fn a_healthy_rollback_is_not_baked() {
    let mut w = world(0.9, 9.0, &[]);
    w.histories.insert(
        "dev".into(),
        vec![
            deployment("v1", Some("v2")),
            deployment("v2", None),
            deployment("v1", None),
        ],
    );
    let observed = Event::HealthObserved(health_observed(
        "dev",
        "v1",
        MIN,
        app_status("payments-dev", HealthStatus::Healthy),
    ));
    let d = decide(&w, &observed);
    assert!(
        matches!(d.actions.as_slice(), [Action::Hold(h)] if h == "dev is healthy at v1 after rolling back v2"),
        "{d:?}"
    );
}

#[test]
fn a_gate_that_times_out_in_its_bake_says_so() {
    let w = world(0.01, 0.2, &[]);
    let timeout = Event::GateTimeout(GateTimeout {
        stage: "dev".into(),
        version: "v2".into(),
        commit: "abc".into(),
        elapsed: 30 * MIN,
        last_status: Some(app_status("payments-dev", HealthStatus::Healthy)),
        targets: Vec::new(),
    });
    assert_eq!(
        rolled_back(&decide(&w, &timeout)),
        "dev at v2 was Healthy but its 10m bake did not complete within the gate's 1800s (the \
         indicators could not be read); rolled back to v1"
    );
}

#[test]
fn new_versions_get_a_gate_longer_than_the_bake() {
    let w = world(0.01, 0.2, &[]);
    let d = decide(
        &w,
        &Event::NewVersion(NewVersion {
            version: "v3".into(),
            digest: None,
        }),
    );
    assert!(
        matches!(d.actions.as_slice(), [Action::SetVersion(_), Action::AwaitHealth(a)] if a.timeout == 30 * MIN),
        "{d:?}"
    );
}

#[test]
fn a_bake_longer_than_the_hosts_cap_is_refused() {
    let w = world(0.01, 0.2, &[]);
    let ctx = Context {
        max_health_wait: 5 * MIN,
        ..ctx("")
    };
    assert!(matches!(
        SloPolicy::decide(&ctx, &healthy(MIN), &w),
        Err(PolicyError::InvalidSettings(m)) if m.contains("guardrails.max_health_wait (5m)")
    ));
}
