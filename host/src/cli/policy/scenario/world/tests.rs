//! The scenario world against small hand-built data.

use super::*;
use crate::runtime::{ChangeOrigin, Trailer};

fn deploy(commit: &str, time: i64, to: &str) -> Deployment {
    Deployment {
        commit: commit.into(),
        time,
        author: "ci".into(),
        from_version: None,
        to_version: to.into(),
        subject: String::new(),
        trailers: Vec::<Trailer>::new(),
        digest: None,
        origin: ChangeOrigin::BatonCommit,
        merge_request: None,
    }
}

fn data() -> Arc<WorldData> {
    Arc::new(WorldData {
        stages: vec![
            StageData {
                name: "dev".into(),
                version: None,
                targets: vec![String::new()],
                history: vec![deploy("d3", 300, "v3"), deploy("d2", 200, "v2")],
            },
            StageData {
                name: "staging".into(),
                version: None,
                targets: vec![String::new()],
                history: vec![deploy("s2", 250, "v2")],
            },
        ],
        ..WorldData::default()
    })
}

fn capability(e: WorldError) -> CapabilityError {
    match e {
        WorldError::Capability(c) => c,
        WorldError::Host(h) => panic!("host error {h}"),
    }
}

#[test]
fn history_and_version_follow_the_clock() {
    let mut early = ScenarioWorld::new(data(), 250);
    assert_eq!(early.stage_version("dev", None).unwrap(), "v2");
    assert_eq!(early.stage_history("dev", 10).unwrap().len(), 1);
    let mut late = ScenarioWorld::new(data(), 300);
    assert_eq!(late.stage_version("dev", None).unwrap(), "v3");
    assert_eq!(late.stage_history("dev", 1).unwrap()[0].commit, "d3");
}

#[test]
fn version_at_a_revision_of_another_stage_is_the_one_deployed_by_then() {
    let mut w = ScenarioWorld::new(data(), 1000);
    assert_eq!(w.stage_version("dev", Some("s2")).unwrap(), "v2");
    assert_eq!(w.stage_version("dev", Some("d3")).unwrap(), "v3");
    assert_eq!(
        capability(w.stage_version("staging", Some("d2")).unwrap_err()),
        CapabilityError::NotFound("stage staging has no version at d2".into())
    );
}

#[test]
fn unknown_names_answer_like_the_live_world() {
    let mut w = ScenarioWorld::new(data(), 250);
    assert_eq!(
        capability(w.stage_history("qa", 1).unwrap_err()),
        CapabilityError::Invalid("unknown stage \"qa\"".into())
    );
    // d3 is only pushed at 300.
    assert_eq!(
        capability(w.stage_version("dev", Some("d3")).unwrap_err()),
        CapabilityError::Invalid("unknown revision d3".into())
    );
    assert_eq!(
        capability(w.application_status("payments-dev").unwrap_err()),
        CapabilityError::NotFound("application \"payments-dev\" not found".into())
    );
    assert_eq!(
        capability(w.merge_request(7).unwrap_err()),
        CapabilityError::NotFound("merge request !7 not found".into())
    );
}

#[test]
fn merge_requests_change_state_over_time() {
    let mr = MergeRequest {
        number: 4,
        url: "u".into(),
        title: "t".into(),
        state: MergeRequestState::Opened,
        source_branch: "baton/payments/staging/v2".into(),
        target_branch: "main".into(),
        labels: Vec::new(),
        merge_status: "mergeable".into(),
        merge_commit: None,
    };
    let data = Arc::new(WorldData {
        merge_requests: vec![MergeRequestData {
            base: mr,
            merge_commit: Some("m1".into()),
            opened_at: 10,
            merged_at: Some(20),
            closed_at: None,
        }],
        ..WorldData::default()
    });
    let branch = "baton/payments/staging/v2";
    let find = |now| {
        ScenarioWorld::new(data.clone(), now)
            .find_open_merge_request(branch)
            .unwrap()
    };
    assert_eq!(find(5), None);
    assert_eq!(find(15).map(|m| m.number), Some(4));
    assert_eq!(find(20), None);
    let merged = ScenarioWorld::new(data.clone(), 20)
        .merge_request(4)
        .unwrap();
    assert_eq!(merged.state, MergeRequestState::Merged);
    assert_eq!(merged.merge_commit.as_deref(), Some("m1"));
}

fn metrics_world(now: i64) -> ScenarioWorld {
    let one = |v| MetricAnswer::Samples(vec![(Vec::new(), v)]);
    let timeline = vec![
        (0, one(1.0)),
        (100, one(f64::NAN)),
        (
            200,
            MetricAnswer::Error(MetricsError::Timeout("query timed out".into())),
        ),
    ];
    let data = Arc::new(WorldData {
        metrics: Some(BTreeMap::from([("up".to_owned(), timeline)])),
        ..WorldData::default()
    });
    ScenarioWorld::new(data, now)
}

fn metrics_error(e: WorldError<MetricsError>) -> MetricsError {
    match e {
        WorldError::Capability(m) => m,
        WorldError::Host(h) => panic!("host error {h}"),
    }
}

#[test]
fn instant_queries_answer_what_holds_at_their_evaluation_time() {
    let mut w = metrics_world(150);
    let now = w.metrics_query("up", None).unwrap();
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].time, 150);
    assert!(now[0].value.is_nan());
    assert_eq!(w.metrics_query("up", Some(50)).unwrap()[0].value, 1.0);
    assert!(w.metrics_query(" up ", Some(-1)).unwrap().is_empty());
    assert_eq!(
        metrics_error(w.metrics_query("up", Some(250)).unwrap_err()),
        MetricsError::Timeout("query timed out".into())
    );
}

#[test]
fn range_queries_sample_the_timeline_every_step() {
    let mut w = metrics_world(150);
    let series = w.metrics_query_range("up", -50, 150, 50).unwrap();
    assert_eq!(series.len(), 1);
    let points: Vec<(i64, f64)> = series[0].points.iter().map(|p| (p.time, p.value)).collect();
    assert_eq!(points[..2], [(0, 1.0), (50, 1.0)]);
    assert_eq!(points.len(), 4);
    assert!(points[2..].iter().all(|(_, v)| v.is_nan()));
    assert_eq!(
        metrics_error(w.metrics_query_range("up", 0, 200, 100).unwrap_err()),
        MetricsError::Timeout("query timed out".into())
    );
    assert!(matches!(
        metrics_error(w.metrics_query_range("up", 0, 100, 0).unwrap_err()),
        MetricsError::BadQuery(m) if m.starts_with("zero or negative query resolution step")
    ));
    assert!(matches!(
        metrics_error(w.metrics_query_range("up", 0, 20_000, 1).unwrap_err()),
        MetricsError::BadQuery(m) if m.starts_with("exceeded maximum resolution of 11,000 points")
    ));
}

#[test]
fn unscripted_queries_are_a_scenario_mistake_and_no_section_denies() {
    let mut w = metrics_world(0);
    match w.metrics_query("down", None).unwrap_err() {
        WorldError::Host(h) => assert!(h.contains(r#"scripted: ["up"]"#), "{h}"),
        other => panic!("{other:?}"),
    }
    let mut none = ScenarioWorld::new(data(), 0);
    assert_eq!(
        metrics_error(none.metrics_query("up", None).unwrap_err()),
        MetricsError::Denied("no metrics: section in the scenario".into())
    );
}

#[test]
fn every_target_holds_the_stage_version() {
    let mut w = ScenarioWorld::new(data(), 250);
    let targets = w.target_versions("dev", None).unwrap();
    assert_eq!(
        targets,
        [TargetVersion {
            label: String::new(),
            version: Some("v2".into()),
            digest: None,
        }]
    );
}
