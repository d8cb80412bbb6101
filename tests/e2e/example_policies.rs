//! The example policies (conservative, canary) as compiled components in the
//! real runtime: their metadata, and decisions on scripted host answers.

use crate::policies;
use baton::runtime::{
    Action, AppStatus, Channel, Context, Decision, Event, HealthObserved, HealthStatus,
    LoadedPolicy, NewVersion, RecordedWorld, ResourceHealth, ScriptedAnswer, SyncStatus,
};
use serde_json::json;

use crate::support::{load, test_limits, three_stages};

/// Sat 2024-06-15 12:00 at +01:00.
const SATURDAY_NOON: i64 = 1_718_449_200_000;
/// Tue 2024-06-11 10:00 at +01:00.
const TUESDAY_TEN: i64 = 1_718_096_400_000;

/// The three stages with an hour's health wait.
fn context(settings: serde_json::Value) -> Context {
    Context {
        max_health_wait: 3_600_000,
        ..three_stages(settings.to_string())
    }
}

fn answer(call: &str, request: serde_json::Value, result: serde_json::Value) -> ScriptedAnswer {
    ScriptedAnswer {
        call: call.into(),
        request: Some(request),
        result,
    }
}

fn deployment(version: &str, time: i64) -> serde_json::Value {
    json!({
        "commit": format!("c-{version}"), "time": time, "author": "ci <ci@example.com>",
        "from_version": null, "to_version": version,
        "subject": format!("payments: {version}"), "trailers": [],
    })
}

fn observed(stage: &str, version: &str, elapsed: u64, status: AppStatus) -> Event {
    Event::HealthObserved(HealthObserved {
        stage: stage.into(),
        version: version.into(),
        commit: "abc1234".into(),
        targets: Vec::new(),
        elapsed,
        status,
    })
}

fn status(health: HealthStatus, resources: Vec<ResourceHealth>) -> AppStatus {
    AppStatus {
        app: "payments-prod".into(),
        health,
        health_message: None,
        sync: SyncStatus::Synced,
        revision: Some("abc1234".into()),
        operation_phase: None,
        operation_message: None,
        reconciled_at: None,
        resources,
    }
}

/// Decides with scripted answers; every answer must have been asked for.
fn decide(
    policy: &LoadedPolicy,
    ctx: &Context,
    event: &Event,
    answers: &[ScriptedAnswer],
) -> (Decision, Vec<String>) {
    let world = RecordedWorld::from_script(answers);
    let (decided, _) = policy.decide(Box::new(world), ctx, event);
    let calls = decided.calls.iter().map(|c| c.name()).collect();
    let decision = decided.result.expect("no trap").expect("no policy error");
    (decision, calls)
}

fn check_metadata(policy: &LoadedPolicy, name: &str) {
    assert_eq!(policy.metadata.name, name);
    assert_eq!(policy.metadata.version, "0.1.0");
    assert_eq!(policy.metadata.authors, ["The Baton developers"]);
    assert!(!policy.metadata.description.is_empty());
    assert_eq!(policy.wit_version, "0.2.0");
}

#[test]
fn conservative_policy_holds_prod_outside_its_window_by_the_host_clock() {
    let policy = load(policies::CONSERVATIVE_PATH, test_limits());
    check_metadata(&policy, "baton-conservative-policy");
    assert!(policy.metadata.description.contains("needs-review"));

    let ctx = context(json!({
        "prod_window": { "days": ["mon..fri"], "start": "09:00", "end": "16:00", "utc_offset": "+01:00" },
        "staging_soak": "2h",
    }));
    let history = json!({ "Ok": [deployment("v1.5.0", TUESDAY_TEN)] });
    let staging_history = json!({ "stage": "staging", "limit": 1 });
    let answers = [
        answer(
            "git.stage-history",
            staging_history.clone(),
            history.clone(),
        ),
        answer("clock.now", json!({}), json!(SATURDAY_NOON)),
        answer("git.stage-history", staging_history, history),
    ];
    let event = observed(
        "staging",
        "v1.5.0",
        60_000,
        status(HealthStatus::Healthy, Vec::new()),
    );
    let (decision, calls) = decide(&policy, &ctx, &event, &answers);
    assert_eq!(
        decision.actions,
        [Action::Hold(
            "prod changes only Mon-Fri 09:00-16:00 UTC+01:00; \
             next opening Mon 2024-06-17 09:00 UTC+01:00 (in 1d21h)"
                .into()
        )]
    );
    assert_eq!(
        calls,
        ["git.stage-history", "clock.now", "git.stage-history"]
    );
}

#[test]
fn conservative_policy_sends_a_major_bump_to_dev_for_review() {
    let policy = load(policies::CONSERVATIVE_PATH, test_limits());
    let answers = [answer(
        "git.stage-version",
        json!({ "stage": "dev", "revision": null }),
        json!({ "Ok": "v1.4.0" }),
    )];
    let event = Event::NewVersion(NewVersion {
        version: "v2.0.0".into(),
        digest: None,
    });
    let (decision, _) = decide(&policy, &context(json!({})), &event, &answers);
    match decision.actions.as_slice() {
        [Action::SetVersion(set), Action::Hold(hold)] => {
            assert_eq!(
                (set.stage.as_str(), set.version.as_str()),
                ("dev", "v2.0.0")
            );
            match &set.channel {
                Channel::MergeRequest(mr) => assert_eq!(mr.labels, ["baton", "needs-review"]),
                other => panic!("expected a merge request, got {other:?}"),
            }
            assert_eq!(hold, "waiting for the dev merge request to be merged");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn canary_policy_waits_through_a_pause_up_to_its_limit_then_rolls_back() {
    let policy = load(policies::CANARY_PATH, test_limits());
    check_metadata(&policy, "baton-canary-policy");

    let ctx = context(json!({ "max_pause": "30m" }));
    // Argo CD's report of a Rollout at a canary pause step (argo-cd
    // resource_customizations/argoproj.io/Rollout: Suspended, CanaryPauseStep).
    let paused = status(
        HealthStatus::Suspended,
        vec![ResourceHealth {
            group: "argoproj.io".into(),
            kind: "Rollout".into(),
            namespace: "payments".into(),
            name: "payments".into(),
            health: Some(HealthStatus::Suspended),
            message: Some("CanaryPauseStep".into()),
            sync: SyncStatus::Synced,
        }],
    );

    let within = observed("prod", "v2", 10 * 60_000, paused.clone());
    let (decision, calls) = decide(&policy, &ctx, &within, &[]);
    assert!(decision.actions.is_empty(), "{decision:?}");
    assert!(calls.is_empty(), "{calls:?}");

    let over = observed("prod", "v2", 31 * 60_000, paused);
    let answers = [answer(
        "git.stage-history",
        json!({ "stage": "prod", "limit": 4 }),
        json!({ "Ok": [deployment("v2", TUESDAY_TEN), deployment("v1", 0)] }),
    )];
    let (decision, _) = decide(&policy, &ctx, &over, &answers);
    match decision.actions.as_slice() {
        [Action::Rollback(rollback), Action::Fail(reason)] => {
            assert_eq!(
                (rollback.to_version.as_str(), rollback.rollback_of.as_str()),
                ("v1", "v2")
            );
            assert!(matches!(rollback.channel, Channel::MergeRequest(_)));
            assert_eq!(
                reason,
                "prod: Rollout payments still paused (CanaryPauseStep) at v2 after 31m, \
                 over max_pause 30m; rolled back to v1"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}
