//! The last-good lookup reads as little history as decides it, and the
//! rollback rules hold on the part it reads.

use super::*;
use crate::flow::FlowSettings;
use crate::testing::{FakeWorld, context, deployment, rollback_requested, stage};
use crate::{Action, Context, Deployment, Event};

fn ctx() -> Context {
    Context {
        stages: vec![stage("dev", true), stage("prod", false)],
        ..context("{}")
    }
}

fn settings() -> FlowSettings {
    FlowSettings::parse(r#"{"health_timeout": "5m", "rollback_labels": []}"#)
        .expect("valid settings")
}

/// A world in which `dev` has `history` (newest first).
fn world(history: Vec<Deployment>) -> FakeWorld {
    let mut w = FakeWorld::default();
    w.histories.insert("dev".into(), history);
    w
}

fn reads(w: &FakeWorld) -> Vec<(String, u32)> {
    w.history_reads.borrow().clone()
}

fn dev_reads(limits: &[u32]) -> Vec<(String, u32)> {
    limits.iter().map(|l| ("dev".to_owned(), *l)).collect()
}

fn last_good_of(w: &FakeWorld, bad: &str) -> Option<(String, Option<String>)> {
    let (ctx, s) = (ctx(), settings());
    Flow::new(&ctx, w, &s)
        .last_good(&ctx.stages[0], bad)
        .expect("the history reads")
}

#[test]
fn the_previous_deployment_takes_one_short_read() {
    let mut v1 = deployment("v1", None);
    v1.digest = Some("sha256:v1".into());
    let mut history = vec![deployment("v2", None), v1];
    history.extend((0..300).map(|i| deployment(&format!("old{i}"), None)));
    let w = world(history);
    assert_eq!(
        last_good_of(&w, "v2"),
        Some(("v1".into(), Some("sha256:v1".into())))
    );
    assert_eq!(reads(&w), dev_reads(&[4]));
}

#[test]
fn a_requested_rollback_reads_the_same_way() {
    let mut w = world(vec![deployment("v2", None), deployment("v1", None)]);
    w.versions.insert("dev".into(), "v2".into());
    let (ctx, s) = (ctx(), settings());
    let Event::RollbackRequested(request) = rollback_requested("dev", None) else {
        unreachable!("rollback_requested builds a rollback request")
    };
    let decision = Flow::new(&ctx, &w, &s)
        .rollback_requested(&request)
        .expect("a decision");
    assert!(
        matches!(&decision.actions[0], Action::Rollback(r) if r.to_version == "v1"),
        "{decision:?}"
    );
    assert_eq!(reads(&w), dev_reads(&[4]));
}

#[test]
fn an_answer_five_deployments_back_takes_a_second_read() {
    // v3 was deployed again and again, and failed each time.
    let mut history: Vec<_> = (0..4).map(|_| deployment("v3", None)).collect();
    history.extend([deployment("v2", None), deployment("v1", None)]);
    let w = world(history);
    assert_eq!(last_good_of(&w, "v3"), Some(("v2".into(), None)));
    assert_eq!(reads(&w), dev_reads(&[4, 16]));
}

#[test]
fn the_reads_stop_where_the_history_ends() {
    let w = world(vec![deployment("v2", None)]);
    assert_eq!(last_good_of(&w, "v2"), None);
    assert_eq!(reads(&w), dev_reads(&[4]));
    // Exactly as long as a limit: the next read finds it ended.
    let w = world((0..16).map(|_| deployment("v2", None)).collect());
    assert_eq!(last_good_of(&w, "v2"), None);
    assert_eq!(reads(&w), dev_reads(&[4, 16, 64]));
}

#[test]
fn the_reads_stop_at_the_history_depth() {
    let w = world((0..500).map(|_| deployment("v2", None)).collect());
    assert_eq!(last_good_of(&w, "v2"), None);
    assert_eq!(reads(&w), dev_reads(&HISTORY_STEPS));
    assert_eq!(HISTORY_STEPS.last(), Some(&crate::flow::HISTORY_DEPTH));
}

#[test]
fn a_newer_rollback_of_the_candidate_skips_it() {
    // v2 was rolled back to v1; a rollback from v1 goes to v0, not v2.
    let w = world(vec![
        deployment("v1", Some("v2")),
        deployment("v2", None),
        deployment("v0", None),
    ]);
    assert_eq!(last_good_of(&w, "v1"), Some(("v0".into(), None)));
}

#[test]
fn an_older_rollback_of_the_same_version_does_not() {
    // v2 was rolled back once, then deployed again (fixed) before v3.
    let w = world(vec![
        deployment("v3", None),
        deployment("v2", None),
        deployment("v1", Some("v2")),
        deployment("v2", None),
        deployment("v1", None),
    ]);
    assert_eq!(last_good_of(&w, "v3"), Some(("v2".into(), None)));
    assert_eq!(reads(&w), dev_reads(&[4]));
}
