//! The promotion flow end to end: the real binary, real git over HTTP, the
//! Argo CD and GitLab simulators, the default policy.

use baton::sim::argocd::HealthStep;

use super::env::{APP, Env, Setup, assert_code, stderr, stdout};

fn promote(env: &Env, tag: &str) -> std::process::Output {
    env.baton(&["promote", "--app", APP, "--tag", tag])
}

fn advance(env: &Env) -> std::process::Output {
    env.baton(&["advance", "--app", APP])
}

/// Promotes `tag`, which must end held at the staging merge request.
fn promote_to_staging_mr(env: &Env, tag: &str) {
    let out = promote(env, tag);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("held: waiting for the staging merge request to be merged"),
        "{text}"
    );
}

fn trailers(env: &Env, rev: &str) -> String {
    env.git(&["log", "-1", "--format=%(trailers:only,unfold)", rev])
}

#[test]
fn happy_path_to_prod() {
    let env = Env::new(Setup::default());

    promote_to_staging_mr(&env, "v1.0.1");
    // dev: one direct commit, byte-exact edit, provenance trailers.
    assert_eq!(
        env.file("dev"),
        "# Helm values for payments in dev\nreplicaCount: 1\nimage:\n  repository: registry.example.com/acme/payments\n  tag: \"v1.0.1\" # set by Baton"
    );
    assert_eq!(
        env.git(&["log", "-1", "--format=%s", "main"]),
        "dev(payments): v1.0.1"
    );
    let t = trailers(&env, "main");
    assert!(t.contains("Baton-Policy: sha256:"), "{t}");
    assert!(t.contains("Baton-Run: "), "{t}");
    assert!(!t.contains("Baton-Rollback-Of"), "{t}");
    // staging: an MR with Baton's title, labels and description.
    let mrs = env.merge_requests();
    assert_eq!(mrs.len(), 1);
    let mr = &mrs[0];
    assert_eq!(mr.title, "staging(payments): v1.0.1");
    assert_eq!(mr.source_branch, "baton/payments/staging/v1.0.1");
    assert_eq!(mr.target_branch, "main");
    assert_eq!(mr.labels, ["baton"]);
    assert!(
        mr.description.contains("`v1.0.0` -> `v1.0.1`"),
        "{}",
        mr.description
    );
    assert!(
        mr.description.contains("Baton-Policy: sha256:"),
        "{}",
        mr.description
    );
    assert!(env.file("staging").contains("tag: \"v1.0.0\""));

    env.merge("staging", "v1.0.1");
    let out = advance(&env);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("held: waiting for the prod merge request to be merged"),
        "{}",
        stdout(&out)
    );
    let mrs = env.merge_requests();
    assert_eq!(mrs.len(), 2);
    assert_eq!(mrs[1].title, "prod(payments): v1.0.1");

    env.merge("prod", "v1.0.1");
    let out = advance(&env);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("promotion of payments complete"),
        "{}",
        stdout(&out)
    );
    for stage in ["dev", "staging", "prod"] {
        assert!(env.file(stage).contains("tag: \"v1.0.1\""), "{stage}");
    }

    // One audit record per run, each with the policy's calls and decisions.
    let records = env.audit_records();
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(r["schema"], "baton.audit-record/v1");
        assert_eq!(r["outcome"]["status"], "held");
        assert!(
            r["policy"]["digest"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
        assert!(!r["decisions"].as_array().unwrap().is_empty());
    }
    let promote_record = records
        .iter()
        .find(|r| r["command"]["name"] == "promote")
        .unwrap();
    let gate = &promote_record["gates"][0];
    assert_eq!(gate["stage"], "dev");
    assert_eq!(gate["result"], "decided");
    assert_eq!(gate["last"]["health"], "Healthy");
    // The MR and merge commits never carry a token either.
    let log = env.git(&["log", "--all", "--format=%B"]);
    env.assert_no_token(&log, "commit messages");
    for mr in env.merge_requests() {
        env.assert_no_token(&mr.description, "an MR description");
    }
}

#[test]
fn a_push_that_returns_after_argo_cd_reconciled_it_still_passes_the_gate() {
    let env = Env::new(Setup::default());
    // The server runs a hook after the branch moved and before the push
    // returns: Argo CD (polling every 100 ms) syncs and reports Healthy in
    // that time, and does not reconcile the app again on its own.
    let hook = env.bare.join("hooks/post-receive");
    std::fs::write(&hook, "#!/bin/sh\nsleep 2\n").unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    promote_to_staging_mr(&env, "v1.0.1");
    let record = env.audit_records().pop().unwrap();
    assert_eq!(record["gates"][0]["result"], "decided", "{record:#}");
    assert!(record["gates"][0]["observations"].as_u64().unwrap() >= 1);
}

#[test]
fn dev_degrades_and_is_rolled_back_by_commit() {
    let env = Env::new(Setup {
        degrade: vec![("dev", r"^v1\.0\.2$")],
        ..Setup::default()
    });
    let out = promote(&env, "v1.0.2");
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("dev is Degraded at v1.0.2"), "{err}");
    assert!(err.contains("rolled back to v1.0.0"), "{err}");
    assert!(env.file("dev").contains("tag: \"v1.0.0\""));
    assert_eq!(
        env.git(&["log", "-1", "--format=%s", "main"]),
        "rollback dev(payments): v1.0.0"
    );
    let t = trailers(&env, "main");
    assert!(t.contains("Baton-Rollback-Of: v1.0.2"), "{t}");
    // No MR was opened for a stage that never became healthy.
    assert!(env.merge_requests().is_empty());
    let records = env.audit_records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["outcome"]["status"], "failed");
    assert_eq!(records[0]["outcome"]["exit_code"], 1);
    assert_eq!(records[0]["outcome"]["rolled_back"], true);
}

#[test]
fn staging_degrades_after_merge_and_gets_a_rollback_mr() {
    let env = Env::new(Setup {
        degrade: vec![("staging", r"^v1\.0\.3$")],
        ..Setup::default()
    });
    assert_code(&promote(&env, "v1.0.3"), 0);
    env.merge("staging", "v1.0.3");
    let out = advance(&env);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("staging is Degraded at v1.0.3"),
        "{}",
        stderr(&out)
    );
    // Staging only changes through MRs: the rollback is an MR too.
    let mrs = env.merge_requests();
    assert_eq!(mrs.len(), 2, "{mrs:?}");
    let rollback = &mrs[1];
    assert_eq!(rollback.title, "rollback staging(payments): v1.0.0");
    assert_eq!(
        rollback.source_branch,
        "baton/payments/staging/rollback-v1.0.0"
    );
    assert_eq!(rollback.labels, ["baton", "rollback"]);
    assert!(
        rollback.description.contains("v1.0.3"),
        "{}",
        rollback.description
    );
    let t = trailers(&env, "baton/payments/staging/rollback-v1.0.0");
    assert!(t.contains("Baton-Rollback-Of: v1.0.3"), "{t}");
    // main still has the bad version until the rollback MR is merged.
    assert!(env.file("staging").contains("v1.0.3"));
}

#[test]
fn gate_timeout_rolls_back() {
    let env = Env::new(Setup {
        script: vec![(
            "dev",
            vec![HealthStep {
                health: "Progressing".into(),
                message: Some("Waiting for rollout to finish".into()),
                workload_health: None,
                workload_message: None,
                hold_ms: 0,
            }],
        )],
        policy: "  path: builtin:default\n  settings: { health_timeout: 2s }\n".into(),
        ..Setup::default()
    });
    let out = promote(&env, "v1.0.1");
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("dev not healthy at v1.0.1 within 2s"), "{err}");
    assert!(env.file("dev").contains("v1.0.0"));
    let record = &env.audit_records()[0];
    assert_eq!(record["gates"][0]["result"], "timed_out");
    assert_eq!(record["gates"][0]["timeout_ms"], 2000);
    assert!(
        record["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["event"].get("GateTimeout").is_some())
    );
}

#[test]
fn rerunning_a_promotion_changes_nothing() {
    let env = Env::new(Setup::default());
    assert_code(&promote(&env, "v1.0.1"), 0);
    let commits = env.commit_count();
    let refs = env.git(&["for-each-ref"]);
    let out = promote(&env, "v1.0.1");
    assert_code(&out, 0);
    assert_eq!(env.commit_count(), commits);
    assert_eq!(env.git(&["for-each-ref"]), refs);
    let mrs = env.merge_requests();
    assert_eq!(mrs.len(), 1, "a second MR was opened: {mrs:?}");
    let text = stdout(&out);
    assert!(
        text.contains("[unchanged] set dev to v1.0.1 by direct commit"),
        "{text}"
    );
    assert!(
        text.contains("[unchanged] set staging to v1.0.1 by merge request"),
        "{text}"
    );
    assert!(text.contains("reused merge request #1"), "{text}");
}

#[test]
fn dry_run_writes_nothing() {
    let env = Env::new(Setup::default());
    let before = env.fingerprint();
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1", "--dry-run"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("would commit dev v1.0.0 -> v1.0.1"), "{text}");
    assert!(
        text.contains("would wait up to 20s for payments-dev"),
        "{text}"
    );
    assert!(text.contains("planned: planned only (--dry-run)"), "{text}");
    assert_eq!(env.fingerprint(), before);
    assert!(!env.dir().join("baton-audit").exists());
}

#[test]
fn guardrail_refusal_writes_nothing() {
    let env = Env::new(Setup {
        policy: format!(
            "  path: {}\n  settings: {{ mode: direct-to-last-stage }}\n",
            crate::policies::HOSTILE_MISBEHAVE_PATH
        ),
        ..Setup::default()
    });
    // The policy imports metrics (for other modes); the run ends before
    // any query, so the server is never asked.
    crate::metrics::configure_metrics(&env, "http://127.0.0.1:9");
    let before = env.fingerprint();
    let out = promote(&env, "v1.0.1");
    assert_code(&out, 5);
    let err = stderr(&out);
    assert!(
        err.contains("refused by guardrail direct_commit_stages: stage prod may only change through a merge request"),
        "{err}"
    );
    assert_eq!(env.fingerprint(), before);
    let record = &env.audit_records()[0];
    assert_eq!(record["actions"][0]["status"], "refused");
    // A file policy is recorded where it was found, for replay from anywhere.
    assert_eq!(
        record["policy"]["resolved"],
        crate::policies::HOSTILE_MISBEHAVE_PATH
    );
}

#[test]
fn policy_trap_writes_nothing() {
    let env = Env::new(Setup {
        policy: format!(
            "  path: {}\n  settings: {{ mode: panic }}\n",
            crate::policies::HOSTILE_MISBEHAVE_PATH
        ),
        ..Setup::default()
    });
    // The policy imports metrics (for other modes); the run ends before
    // any query, so the server is never asked.
    crate::metrics::configure_metrics(&env, "http://127.0.0.1:9");
    let before = env.fingerprint();
    let out = promote(&env, "v1.0.1");
    assert_code(&out, 3);
    assert!(
        stderr(&out).contains("policy bug: stage table is empty for payments"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.fingerprint(), before);
    let record = &env.audit_records()[0];
    assert_eq!(record["outcome"]["status"], "policy_error");
    assert_eq!(record["decisions"][0]["result"]["trap"]["kind"], "panic");
}

#[test]
fn argo_unreachable_is_exit_4() {
    let env = Env::new(Setup {
        argocd_unreachable: true,
        ..Setup::default()
    });
    let before = env.fingerprint();
    let out = promote(&env, "v1.0.1");
    assert_code(&out, 4);
    assert!(
        stderr(&out).contains(
            "before writing anything: the Argo CD application payments-dev of stage dev cannot be read"
        ),
        "{}",
        stderr(&out)
    );
    // Checked before the first write: dev is not left changed and ungated.
    assert_eq!(env.fingerprint(), before);
    let record = &env.audit_records()[0];
    assert_eq!(record["outcome"]["status"], "external_error");
    assert_eq!(record["gates"], serde_json::json!([]));
    assert_eq!(record["actions"][0]["status"], "refused");
}

#[test]
fn unknown_stage_and_bad_tag_are_usage_errors() {
    let env = Env::new(Setup::default());
    let before = env.fingerprint();
    let out = env.baton(&["rollback", "--app", APP, "--stage", "qa"]);
    assert_code(&out, 2);
    assert!(
        stderr(&out).contains("app payments has no stage \"qa\" (stages: dev, staging, prod)"),
        "{}",
        stderr(&out)
    );
    let out = env.baton(&["advance", "--app", APP, "--since", "0123abcd"]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("--since:"), "{}", stderr(&out));
    let out = promote(&env, "v1 2");
    assert_code(&out, 2);
    assert!(
        stderr(&out).contains("\"v1 2\" is not a usable version"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.fingerprint(), before);
}

#[test]
fn json_output_lists_actions_gates_and_the_record() {
    let env = Env::new(Setup::default());
    let out = env.baton(&[
        "promote", "--app", APP, "--tag", "v1.0.1", "--output", "json",
    ]);
    assert_code(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["outcome"], "held");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["command"], "promote");
    assert!(
        json["policy_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let dev_commit = env.git(&["rev-parse", "main"]);
    assert_eq!(json["actions"][0]["commit"], dev_commit.as_str());
    assert_eq!(json["actions"][0]["previous"], "v1.0.0");
    assert_eq!(json["actions"][0]["status"], "done");
    assert_eq!(json["gates"][0]["commit"], dev_commit.as_str());
    assert_eq!(json["gates"][0]["last"]["health"], "Healthy");
    assert_eq!(json["gates"][0]["last"]["sync"], "Synced");
    let mr = &json["actions"][2]["merge_request"];
    assert_eq!(mr["number"], 1);
    assert!(
        mr["url"]
            .as_str()
            .unwrap()
            .ends_with("/acme/gitops-env/-/merge_requests/1")
    );
    let record = json["audit_record"].as_str().unwrap();
    assert!(env.dir().join(record).is_file(), "{record}");
}

#[test]
fn rollback_command_picks_the_last_good_version_or_the_given_one() {
    let env = Env::new(Setup::default());
    assert_code(&promote(&env, "v1.0.1"), 0);
    let out = env.baton(&[
        "rollback",
        "--app",
        APP,
        "--stage",
        "dev",
        "--reason",
        "error rate",
    ]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("held: dev is healthy at v1.0.0 after rolling back v1.0.1"),
        "{}",
        stdout(&out)
    );
    assert!(env.file("dev").contains("tag: \"v1.0.0\""));
    assert!(trailers(&env, "main").contains("Baton-Rollback-Of: v1.0.1"));

    // prod only changes through a merge request, rollback or not.
    let out = env.baton(&[
        "rollback", "--app", APP, "--stage", "prod", "--to", "v0.9.9",
    ]);
    assert_code(&out, 0);
    let mr = env
        .merge_requests()
        .into_iter()
        .find(|m| m.source_branch == "baton/payments/prod/rollback-v0.9.9")
        .expect("rollback MR for prod");
    assert_eq!(mr.title, "rollback prod(payments): v0.9.9");
    assert!(env.file("prod").contains("tag: \"v1.0.0\""));
}

#[test]
fn a_missing_token_is_a_configuration_error() {
    let env = Env::new(Setup::default());
    let out = crate::support::baton(env.dir())
        .args(["promote", "--app", APP, "--tag", "v1.0.1"])
        .env("ENV_REPO_TOKEN", super::env::REPO_TOKEN)
        .env("GITLAB_TOKEN", super::env::FORGE_TOKEN)
        .output()
        .unwrap();
    assert_code(&out, 2);
    assert!(
        stderr(&out).contains(
            "baton.yaml:7: argocd.token_env: environment variable ARGOCD_TOKEN is not set"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_run_cancelled_mid_gate_converges_when_run_again() {
    let slow = vec![
        HealthStep {
            health: "Progressing".into(),
            message: None,
            workload_health: None,
            workload_message: None,
            hold_ms: 4000,
        },
        HealthStep {
            health: "Healthy".into(),
            message: None,
            workload_health: None,
            workload_message: None,
            hold_ms: 0,
        },
    ];
    let env = Env::new(Setup {
        script: vec![("dev", slow)],
        ..Setup::default()
    });
    let start = env.git(&["rev-parse", "main"]);
    let child = crate::support::baton(env.dir())
        .args(["promote", "--app", APP, "--tag", "v1.0.1", "--cache-dir"])
        .arg(env.dir().join("cache"))
        .env("ENV_REPO_TOKEN", super::env::REPO_TOKEN)
        .env("ARGOCD_TOKEN", super::env::ARGO_TOKEN)
        .env("GITLAB_TOKEN", super::env::FORGE_TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the dev commit: the gate is running from then on.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while env.git(&["rev-parse", "main"]) == start {
        assert!(std::time::Instant::now() < deadline, "no dev commit");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("cancelled while waiting for payments-dev"),
        "{}",
        stderr(&out)
    );
    let record = &env.audit_records()[0];
    assert_eq!(record["outcome"]["status"], "cancelled");
    assert_eq!(record["gates"][0]["result"], "cancelled");
    assert!(env.merge_requests().is_empty());

    let commits = env.commit_count();
    let out = promote(&env, "v1.0.1");
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("[unchanged] set dev to v1.0.1"),
        "{}",
        stdout(&out)
    );
    // Only the staging MR branch is new; dev was not committed twice.
    assert_eq!(env.commit_count(), commits + 1);
    assert_eq!(env.merge_requests().len(), 1);
}

#[test]
fn status_shows_every_stage() {
    let env = Env::new(Setup::default());
    assert_code(&promote(&env, "v1.0.1"), 0);
    let out = env.baton(&["status", "--app", APP]);
    assert_code(&out, 0);
    let text = stdout(&out);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b[0-9a-f]{7,40}\b", "[sha]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "[host]");
    settings.bind(|| {
        insta::assert_snapshot!(text, @r"
        payments on main @[sha]
        STAGE    VERSION  ARGO CD                    ROLLBACK TARGET  OPEN MERGE REQUESTS
        dev      v1.0.1   Healthy / Synced @[sha]  v1.0.0           -
        staging  v1.0.0   Healthy / Synced @[sha]  -                #1 v1.0.1 http://[host]/acme/gitops-env/-/merge_requests/1
        prod     v1.0.0   Healthy / Synced @[sha]  -                -
        ");
    });
    let out = env.baton(&["status", "--app", APP, "--output", "json"]);
    assert_code(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["stages"][0]["version"], "v1.0.1");
    assert_eq!(json["stages"][0]["rollback_target"], "v1.0.0");
    assert_eq!(
        json["stages"][1]["open_merge_requests"][0]["version"],
        "v1.0.1"
    );
}

#[test]
fn the_demo_runs_end_to_end() {
    let home = tempfile::tempdir().unwrap();
    let tmp = home.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = crate::support::baton(home.path())
        .arg("demo")
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("1. App repo CI, tag v1.0.1 pushed"), "{text}");
    assert!(
        text.contains("held: waiting for the staging merge request to be merged"),
        "{text}"
    );
    assert!(
        text.contains("held: v1.0.1 is healthy in prod; promotion of payments complete"),
        "{text}"
    );
    assert!(text.contains("failed: dev is Degraded at v1.0.2"), "{text}");
    assert!(
        text.contains("v1.0.1 is in prod; v1.0.2 was rolled back in dev"),
        "{text}"
    );
    let dev_row = text
        .lines()
        .find(|l| l.trim_start().starts_with("dev "))
        .expect("status row for dev");
    assert!(dev_row.contains("v1.0.1"), "{dev_row}");
    // Without --keep nothing is left behind.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);

    let out = crate::support::baton(home.path())
        .args(["demo", "--keep"])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_code(&out, 0);
    let kept = stderr(&out);
    let path = kept
        .lines()
        .find_map(|l| l.strip_prefix("kept "))
        .expect("kept path");
    let audit = std::path::Path::new(path).join("audit");
    assert_eq!(crate::support::record_files(&audit).len(), 5);
}

#[test]
fn advance_gates_the_pushed_range_from_ci_commit_before_sha() {
    let env = Env::new(Setup::default());
    let seed = env.git(&["rev-parse", "main"]);
    assert_code(&promote(&env, "v1.0.1"), 0);
    env.merge("staging", "v1.0.1");

    // GitLab's all-zero value (a new branch) is ignored: first parent only.
    let zeros = "0".repeat(40);
    let out = env.baton_with(
        &["advance", "--app", APP],
        &[("CI_COMMIT_BEFORE_SHA", zeros.as_str())],
    );
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("await health of staging at v1.0.1"), "{text}");
    assert!(!text.contains("await health of dev"), "{text}");

    // A push that carried both changes gates both stages, in stage order.
    let out = env.baton_with(
        &["advance", "--app", APP],
        &[("CI_COMMIT_BEFORE_SHA", seed.as_str())],
    );
    assert_code(&out, 0);
    let text = stdout(&out);
    let dev = text.find("await health of dev at v1.0.1").expect(&text);
    let staging = text.find("await health of staging at v1.0.1").expect(&text);
    assert!(dev < staging, "{text}");
    // Re-running changes nothing: the prod MR is reused, not duplicated.
    let prod: Vec<_> = env
        .merge_requests()
        .into_iter()
        .filter(|m| m.source_branch == "baton/payments/prod/v1.0.1")
        .collect();
    assert_eq!(prod.len(), 1);
}
