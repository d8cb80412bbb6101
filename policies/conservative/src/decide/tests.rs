//! Every brake of the conservative policy, and that the rest is the
//! default flow.

use super::*;
use baton_policy::calendar::{DAY_MS, days_from_civil};
use baton_policy::testing::{FakeWorld, app_status, context, deployment, health_observed};
use baton_policy::{Action, Deployment, GateTimeout, HealthStatus, NewVersion};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const SETTINGS: &str = r#"{"prod_window": {"days": ["mon..fri"], "start": "09:00", "end": "16:00",
    "utc_offset": "+01:00"}, "staging_soak": "2h", "mr_labels": ["promo"], "health_timeout": "5m"}"#;

/// UTC epoch milliseconds of a local time at +01:00.
fn at(y: i64, m: u32, d: u32, h: i64, min: i64) -> i64 {
    days_from_civil(y, m, d) * DAY_MS + h * HOUR + min * MIN - HOUR
}

fn deploy(to: &str, time: i64) -> Deployment {
    Deployment {
        time,
        ..deployment(to, None)
    }
}

/// dev and staging hold v1.4.0 (staging since Monday), prod v1.3.0; the clock
/// is `now`.
fn world(now: i64) -> FakeWorld {
    let mut w = FakeWorld {
        now,
        ..FakeWorld::default()
    };
    for (stage, version) in [("dev", "v1.4.0"), ("staging", "v1.4.0"), ("prod", "v1.3.0")] {
        w.versions.insert(stage.into(), version.into());
        w.histories
            .insert(stage.into(), vec![deploy(version, at(2024, 6, 10, 10, 0))]);
    }
    w
}

/// `version` reached staging at `time`.
fn staged(mut w: FakeWorld, version: &str, time: i64) -> FakeWorld {
    w.histories.insert(
        "staging".into(),
        vec![
            deploy(version, time),
            deploy("v1.4.0", at(2024, 6, 10, 10, 0)),
        ],
    );
    w
}

fn healthy(stage: &str, version: &str) -> Event {
    Event::HealthObserved(health_observed(
        stage,
        version,
        60_000,
        app_status(&format!("payments-{stage}"), HealthStatus::Healthy),
    ))
}

fn new_version(version: &str) -> Event {
    Event::NewVersion(NewVersion {
        version: version.into(),
        digest: None,
    })
}

fn decide(event: &Event, world: &FakeWorld) -> Vec<Action> {
    ConservativePolicy::decide(&context(SETTINGS), event, world)
        .unwrap()
        .actions
}

fn held(acts: &[Action]) -> &str {
    match acts {
        [Action::Hold(reason)] => reason,
        other => panic!("expected one hold, got {other:?}"),
    }
}

/// The merge request's stage and labels, for `[set-version by MR, hold]`.
fn merge_request(acts: &[Action]) -> (&str, &[String]) {
    match acts {
        [Action::SetVersion(set), Action::Hold(_)] => match &set.channel {
            Channel::MergeRequest(mr) => (set.stage.as_str(), mr.labels.as_slice()),
            other => panic!("expected a merge request, got {other:?}"),
        },
        other => panic!("expected a merge request and a hold, got {other:?}"),
    }
}

const WED_NOON: (i64, u32, u32, i64, i64) = (2024, 6, 12, 12, 0);

fn wed_noon() -> i64 {
    let (y, m, d, h, min) = WED_NOON;
    at(y, m, d, h, min)
}

#[test]
fn a_minor_version_goes_to_dev_by_commit_like_the_default_policy() {
    let acts = decide(&new_version("v1.5.0"), &world(wed_noon()));
    assert_eq!(
        acts,
        vec![
            actions::commit("dev", "v1.5.0", "v1.5.0 is a new version of payments"),
            actions::await_health("dev", "v1.5.0", 300_000),
        ]
    );
}

#[test]
fn a_first_deployment_is_not_a_major_bump() {
    let mut w = world(wed_noon());
    w.versions.remove("dev");
    let acts = decide(&new_version("v2.0.0"), &w);
    assert!(matches!(
        acts.as_slice(),
        [Action::SetVersion(set), Action::AwaitHealth(_)] if set.channel == Channel::DirectCommit
    ));
}

#[test]
fn a_major_bump_to_dev_goes_by_merge_request_with_needs_review() {
    let acts = decide(&new_version("v2.0.0"), &world(wed_noon()));
    assert_eq!(
        merge_request(&acts),
        (
            "dev",
            &["promo".to_string(), "needs-review".to_string()][..]
        )
    );
    match &acts[0] {
        Action::SetVersion(set) => assert_eq!(
            set.reason,
            "v2.0.0 is a new version of payments; major version bump v1.4.0 -> v2.0.0 needs review"
        ),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        acts[1],
        actions::hold("waiting for the dev merge request to be merged")
    );
}

#[test]
fn versions_that_are_not_semver_need_review() {
    let mut w = world(wed_noon());
    w.versions.insert("dev".into(), "latest".into());
    let acts = decide(&new_version("v1.5.0"), &w);
    assert_eq!(merge_request(&acts).1, ["promo", "needs-review"]);
}

#[test]
fn the_review_label_is_configurable_and_not_doubled() {
    let settings = r#"{"review_label": "promo", "mr_labels": ["promo"]}"#;
    let acts = ConservativePolicy::decide(
        &context(settings),
        &new_version("v2.0.0"),
        &world(wed_noon()),
    )
    .unwrap()
    .actions;
    assert_eq!(merge_request(&acts).1, ["promo"]);
}

#[test]
fn prod_opens_at_nine_and_closes_at_four() {
    // v1.5.0 reached staging on Tuesday: the soak is long done.
    let soaked = |now| staged(world(now), "v1.5.0", at(2024, 6, 11, 10, 0));
    let event = healthy("staging", "v1.5.0");

    let before = decide(&event, &soaked(at(2024, 6, 12, 8, 59)));
    assert_eq!(
        held(&before),
        "prod changes only Mon-Fri 09:00-16:00 UTC+01:00; \
         next opening Wed 2024-06-12 09:00 UTC+01:00 (in 1m)"
    );
    for open in [at(2024, 6, 12, 9, 0), at(2024, 6, 12, 15, 59)] {
        let acts = decide(&event, &soaked(open));
        assert_eq!(merge_request(&acts), ("prod", &["promo".to_string()][..]));
    }
    let after = decide(&event, &soaked(at(2024, 6, 12, 16, 0)));
    assert_eq!(
        held(&after),
        "prod changes only Mon-Fri 09:00-16:00 UTC+01:00; \
         next opening Thu 2024-06-13 09:00 UTC+01:00 (in 17h)"
    );
}

#[test]
fn the_weekend_holds_until_monday() {
    let saturday = at(2024, 6, 15, 12, 0);
    let w = staged(world(saturday), "v1.5.0", at(2024, 6, 11, 10, 0));
    let acts = decide(&healthy("staging", "v1.5.0"), &w);
    assert_eq!(
        held(&acts),
        "prod changes only Mon-Fri 09:00-16:00 UTC+01:00; \
         next opening Mon 2024-06-17 09:00 UTC+01:00 (in 1d21h)"
    );
}

#[test]
fn prod_waits_for_the_staging_soak_time() {
    let event = healthy("staging", "v1.5.0");
    let deployed = at(2024, 6, 12, 10, 0);
    let early = staged(world(deployed + 30 * MIN), "v1.5.0", deployed);
    assert_eq!(
        held(&decide(&event, &early)),
        "v1.5.0 has soaked in staging for 30m of 2h; 1h30m to go \
         (ready Wed 2024-06-12 12:00 UTC+01:00)"
    );
    let exactly = staged(world(deployed + 2 * HOUR), "v1.5.0", deployed);
    assert_eq!(merge_request(&decide(&event, &exactly)).0, "prod");
}

#[test]
fn a_soak_that_ends_after_closing_names_the_next_opening() {
    // Friday 15:30, staging since 15:00: the soak ends after the window closes.
    let w = staged(
        world(at(2024, 6, 14, 15, 30)),
        "v1.5.0",
        at(2024, 6, 14, 15, 0),
    );
    assert_eq!(
        held(&decide(&healthy("staging", "v1.5.0"), &w)),
        "v1.5.0 has soaked in staging for 30m of 2h; 1h30m to go (ready Fri 2024-06-14 17:00 \
         UTC+01:00, outside the prod window: earliest Mon 2024-06-17 09:00 UTC+01:00)"
    );
}

#[test]
fn a_closed_window_and_a_short_soak_are_both_reported() {
    // Friday 16:30, staging since 16:00.
    let w = staged(
        world(at(2024, 6, 14, 16, 30)),
        "v1.5.0",
        at(2024, 6, 14, 16, 0),
    );
    assert_eq!(
        held(&decide(&healthy("staging", "v1.5.0"), &w)),
        "v1.5.0 has soaked in staging for 30m of 2h; 1h30m to go (ready Fri 2024-06-14 18:00 \
         UTC+01:00, outside the prod window: earliest Mon 2024-06-17 09:00 UTC+01:00); \
         prod changes only Mon-Fri 09:00-16:00 UTC+01:00; next opening Mon 2024-06-17 09:00 \
         UTC+01:00 (in 2d16h30m)"
    );
}

#[test]
fn a_version_that_left_staging_does_not_go_to_prod() {
    let w = staged(world(wed_noon()), "v1.6.0", at(2024, 6, 11, 10, 0));
    assert_eq!(
        held(&decide(&healthy("staging", "v1.5.0"), &w)),
        "staging holds v1.6.0, not v1.5.0; v1.5.0 must soak there for 2h before prod"
    );
}

#[test]
fn no_soak_when_turned_off() {
    let settings = r#"{"staging_soak": 0, "prod_window": {"days": ["mon..sun"], "end": "24:00", "start": "00:00"}}"#;
    let now = at(2024, 6, 15, 23, 0);
    let w = staged(world(now), "v1.5.0", now);
    let acts = ConservativePolicy::decide(&context(settings), &healthy("staging", "v1.5.0"), &w)
        .unwrap()
        .actions;
    assert_eq!(merge_request(&acts), ("prod", &["baton".to_string()][..]));
}

#[test]
fn a_major_bump_to_prod_needs_review() {
    let w = staged(world(wed_noon()), "v2.0.0", at(2024, 6, 11, 10, 0));
    let acts = decide(&healthy("staging", "v2.0.0"), &w);
    assert_eq!(
        merge_request(&acts),
        (
            "prod",
            &["promo".to_string(), "needs-review".to_string()][..]
        )
    );
}

#[test]
fn earlier_stages_ignore_the_prod_window() {
    let saturday = at(2024, 6, 15, 12, 0);
    let acts = decide(&healthy("dev", "v1.5.0"), &world(saturday));
    assert_eq!(
        merge_request(&acts),
        ("staging", &["promo".to_string()][..])
    );
}

#[test]
fn rollbacks_are_never_held() {
    let saturday = at(2024, 6, 15, 12, 0);
    let mut w = world(saturday);
    w.histories.insert(
        "prod".into(),
        vec![deploy("v1.5.0", saturday - HOUR), deploy("v1.3.0", 0)],
    );
    let acts = decide(
        &Event::GateTimeout(GateTimeout {
            stage: "prod".into(),
            version: "v1.5.0".into(),
            commit: "abc".into(),
            targets: Vec::new(),
            elapsed: 300_000,
            last_status: None,
        }),
        &w,
    );
    match acts.as_slice() {
        [Action::Rollback(r), Action::Fail(_)] => {
            assert_eq!(
                (r.stage.as_str(), r.to_version.as_str()),
                ("prod", "v1.3.0")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_named_zone_follows_summer_time() {
    let settings = r#"{"prod_window": {"time_zone": "Europe/Berlin"}}"#;
    // Wed 2024-06-12 08:30 +01:00 is 09:30 in Berlin (CEST, +02:00): open.
    let now = at(2024, 6, 12, 8, 30);
    let w = staged(world(now), "v1.5.0", at(2024, 6, 11, 10, 0));
    let acts = ConservativePolicy::decide(&context(settings), &healthy("staging", "v1.5.0"), &w)
        .unwrap()
        .actions;
    assert_eq!(merge_request(&acts).0, "prod");
}

#[test]
fn invalid_settings_refuse_every_decision() {
    let err = ConservativePolicy::decide(
        &context(r#"{"prod_window": {"start": "nine"}}"#),
        &new_version("v1.5.0"),
        &world(wed_noon()),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PolicyError::InvalidSettings(
            "settings.prod_window.start: nine is not a time like 09:00".into()
        )
    );
}

#[test]
fn an_observation_of_another_version_keeps_waiting() {
    let mut w = staged(world(wed_noon()), "v1.5.0", at(2024, 6, 11, 10, 0));
    w.versions.insert("staging".into(), "v1.4.0".into());
    let mut event = healthy("staging", "v1.5.0");
    if let Event::HealthObserved(observed) = &mut event {
        observed.status.revision = Some("0ld0ld0ld".into());
    }
    let d = ConservativePolicy::decide(&context(SETTINGS), &event, &w).unwrap();
    assert!(d.actions.is_empty(), "{d:?}");
    assert_eq!(
        d.reasons,
        ["staging: Argo CD is at 0ld0ld0 which holds v1.4.0, not v1.5.0 at abc; waiting"]
    );
}

#[test]
fn a_reconcile_resumes_a_held_prod_promotion_once_the_window_opens() {
    // Staging got v1.5.0 on Tuesday; prod still holds v1.3.0.
    let reconcile = Event::Reconcile(baton_policy::Reconcile {
        stage: "staging".into(),
        version: Some("v1.5.0".into()),
        digest: None,
        commit: Some("c-v1.5.0".into()),
        origin: baton_policy::ChangeOrigin::BatonMergeRequest,
    });
    let saturday = at(2024, 6, 15, 12, 0);
    let mut w = staged(world(saturday), "v1.5.0", at(2024, 6, 11, 10, 0));
    w.versions.insert("staging".into(), "v1.5.0".into());
    // The scheduled run asks again: staging is gated, whatever the hour...
    assert_eq!(
        decide(&reconcile, &w),
        vec![actions::await_health("staging", "v1.5.0", 300_000)]
    );
    // ...and its pass holds while the window is closed...
    assert_eq!(
        held(&decide(&healthy("staging", "v1.5.0"), &w)),
        "prod changes only Mon-Fri 09:00-16:00 UTC+01:00; \
         next opening Mon 2024-06-17 09:00 UTC+01:00 (in 1d21h)"
    );
    // ...and opens the prod merge request in the first run after it opens.
    w.now = at(2024, 6, 17, 9, 0);
    assert_eq!(
        decide(&reconcile, &w),
        vec![actions::await_health("staging", "v1.5.0", 300_000)]
    );
    let acts = decide(&healthy("staging", "v1.5.0"), &w);
    assert_eq!(merge_request(&acts), ("prod", &["promo".to_string()][..]));
}
