//! `baton reconcile` (and its alias `baton advance --all`) through the real
//! binary: a promotion that stopped resumes without a push, idempotently;
//! a prod promotion held by the conservative policy's window resumes in
//! the first run after the window opens; the dry run plans and holds
//! without writing.

use std::time::{SystemTime, UNIX_EPOCH};

use super::env::{APP, Env, Setup, assert_code, stdout};
use crate::policies;

fn reconcile(env: &Env) -> std::process::Output {
    env.baton(&["reconcile", "--app", APP])
}

#[test]
fn a_promotion_that_stopped_resumes_once_and_only_once() {
    let env = Env::new(Setup::default());
    assert_code(&env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]), 0);
    // The staging MR is merged but the env repo's pipeline never ran advance.
    env.merge("staging", "v1.0.1");

    let out = reconcile(&env);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.starts_with("baton reconcile --app payments\n"),
        "{text}"
    );
    assert!(
        text.contains("[done] set prod to v1.0.1 by merge request"),
        "{text}"
    );
    assert!(
        text.contains("held: waiting for the prod merge request to be merged"),
        "{text}"
    );
    let (commits, mrs) = (env.commit_count(), env.merge_requests().len());
    assert_eq!(mrs, 2);
    // One decision per stage: dev has nothing to resume (staging holds
    // v1.0.1), staging resumes, prod is the last stage.
    let record = env
        .audit_records()
        .into_iter()
        .find(|r| r["command"]["name"] == "reconcile")
        .expect("a reconcile record");
    let reconciled: Vec<&str> = record["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["event"]["Reconcile"]["stage"].as_str())
        .collect();
    assert_eq!(reconciled, ["dev", "staging", "prod"]);
    let dev = &record["decisions"][0];
    assert_eq!(dev["event"]["Reconcile"]["version"], "v1.0.1");
    assert_eq!(dev["event"]["Reconcile"]["origin"], "BatonCommit");

    // Again, through the alias: the open prod MR is reused, nothing new.
    let out = env.baton(&["advance", "--app", APP, "--all"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("[unchanged] set prod to v1.0.1 by merge request"),
        "{text}"
    );
    assert_eq!(env.commit_count(), commits);
    assert_eq!(env.merge_requests().len(), mrs);

    // The dry run plans the gate and writes nothing.
    let before = env.fingerprint();
    let out = env.baton(&["reconcile", "--app", APP, "--dry-run"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("[plan] await health of staging at v1.0.1"),
        "{text}"
    );
    assert_eq!(env.fingerprint(), before);
}

/// `mon`, `tue`, ... for `days` days from today (UTC).
fn weekday(days: u64) -> &'static str {
    let today = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    // 1970-01-01 was a Thursday.
    ["thu", "fri", "sat", "sun", "mon", "tue", "wed"][((today + days) % 7) as usize]
}

fn conservative(window: &str) -> String {
    format!(
        "  path: {}\n  settings: {{ health_timeout: 20s, staging_soak: 0, prod_window: {window} }}\n",
        policies::CONSERVATIVE_PATH
    )
}

#[test]
fn a_prod_promotion_held_by_the_window_resumes_after_it_opens() {
    // Closed: a day three days away, so the test never straddles it.
    let closed = format!(
        "{{ days: [{}], start: \"00:00\", end: \"24:00\" }}",
        weekday(3)
    );
    let env = Env::new(Setup {
        policy: conservative(&closed),
        ..Setup::default()
    });
    assert_code(&env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]), 0);
    env.merge("staging", "v1.0.1");
    let out = env.baton(&["advance", "--app", APP]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("held: prod changes only"),
        "{}",
        stdout(&out)
    );
    assert_eq!(env.merge_requests().len(), 1);

    // A scheduled run while the window is still closed holds again.
    let out = reconcile(&env);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("held: prod changes only"),
        "{}",
        stdout(&out)
    );
    assert_eq!(env.merge_requests().len(), 1);

    // The window opens (every day, all day): the next run resumes.
    let config = env.dir().join("baton.yaml");
    let yaml = std::fs::read_to_string(&config).unwrap();
    let open = "{ days: [mon..sun], start: \"00:00\", end: \"24:00\" }";
    std::fs::write(&config, yaml.replace(&closed, open)).unwrap();
    let out = reconcile(&env);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("[done] set prod to v1.0.1 by merge request"),
        "{}",
        stdout(&out)
    );
    let mrs = env.merge_requests();
    assert_eq!(mrs.len(), 2);
    assert_eq!(mrs[1].source_branch, "baton/payments/prod/v1.0.1");
}
