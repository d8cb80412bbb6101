//! `baton policy inspect` and `baton policy eval` through the real binary.

use crate::policies;

use crate::engine::env::assert_code;
use crate::support::{baton, json};

fn imports(report: &serde_json::Value) -> Vec<String> {
    report["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Baton's interfaces `baton` exactly, and otherwise only the WASI subset
/// a Rust guest carries.
fn assert_imports(imports: &[String], baton: &[&str]) {
    let ours: Vec<_> = imports
        .iter()
        .filter(|i| i.starts_with("baton:policy/"))
        .collect();
    assert_eq!(ours, baton);
    for i in imports.iter().filter(|i| !i.starts_with("baton:policy/")) {
        let allowed = [
            "wasi:cli/",
            "wasi:io/",
            "wasi:clocks/",
            "wasi:filesystem/",
            "wasi:random/",
        ];
        assert!(
            allowed.iter().any(|p| i.starts_with(p)),
            "unexpected import {i}"
        );
    }
}

/// What the default policy imports of Baton's: the types, and `git`, the
/// only capability the reference flow calls (health comes with the events).
const DEFAULT_IMPORTS: [&str; 2] = ["baton:policy/types@0.2.0", "baton:policy/git@0.2.0"];

fn assert_only_offered(imports: &[String]) {
    assert_imports(imports, &DEFAULT_IMPORTS);
}

#[test]
fn inspect_builtin_default_as_json() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["policy", "inspect", "builtin:default", "--output", "json"])
        .output()
        .unwrap();
    assert_code(&out, 0);
    let report = json(&out);
    assert_eq!(report["policy"], "builtin:default");
    assert_eq!(report["wit"]["version"], "0.2.0");
    assert_eq!(report["wit"]["host_version"], "0.2.0");
    assert_eq!(
        report["wit"]["host_versions"],
        serde_json::json!(["0.1.0", "0.2.0"])
    );
    assert_eq!(report["wit"]["world"], "promotion-policy");
    assert_eq!(report["metadata"]["name"], "baton-default-policy");
    assert!(report["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_only_offered(&imports(&report));
    let exports: Vec<_> = report["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].clone())
        .collect();
    assert_eq!(exports, ["baton:policy/policy@0.2.0"]);
}

#[test]
fn inspect_a_policy_file_matches_the_builtin() {
    let home = tempfile::tempdir().unwrap();
    let file = baton(home.path())
        .args([
            "policy",
            "inspect",
            policies::DEFAULT_PATH,
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    let builtin = baton(home.path())
        .args(["policy", "inspect", "builtin:default", "--output", "json"])
        .output()
        .unwrap();
    let (file, builtin) = (json(&file), json(&builtin));
    assert_eq!(file["digest"], builtin["digest"]);
    assert_eq!(file["imports"], builtin["imports"]);
    assert_only_offered(&imports(&file));
}

#[test]
fn inspect_text_lists_grants() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["policy", "inspect", "builtin:default"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    settings.add_filter(r"size:        \d+ bytes", "size:        [SIZE] bytes");
    settings.add_filter(r"(wasi:[a-z-]+/[a-z-]+)@0\.2\.\d+\b", "$1@0.2.x");
    settings.add_filter(r"(?m)^toolchain:   .*$", "toolchain:   [TOOLCHAIN]");
    settings.bind(|| insta::assert_snapshot!(text));
}

#[test]
fn inspect_refuses_a_pinned_digest_mismatch_with_exit_3() {
    let home = tempfile::tempdir().unwrap();
    let pin = "1".repeat(64);
    let out = baton(home.path())
        .args(["policy", "inspect", "builtin:default", "--sha256", &pin])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("pins sha256:{pin}")), "{stderr}");
}

#[test]
fn inspect_a_missing_file_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["policy", "inspect", "nope.wasm"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: cannot read policy ./nope.wasm: "),
        "{stderr}"
    );
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const CONTEXT: &str = r#"
app: payments
stages:
  - { name: dev, argocd_app: payments-dev, direct_commit_allowed: true }
  - { name: staging, argocd_app: payments-staging }
  - { name: prod, argocd_app: payments-prod }
settings: { health_timeout: 5m }
"#;

#[test]
fn eval_new_version_commits_to_dev_and_awaits_health() {
    let home = tempfile::tempdir().unwrap();
    let ctx = write(home.path(), "ctx.yaml", CONTEXT);
    let event = write(
        home.path(),
        "event.json",
        r#"{"NewVersion": {"version": "v1.2.3"}}"#,
    );
    let out = baton(home.path())
        .args(["policy", "eval", "builtin:default", "--context"])
        .arg(&ctx)
        .arg("--event")
        .arg(&event)
        .args(["--output", "json"])
        .output()
        .unwrap();
    assert_code(&out, 0);
    let report = json(&out);
    let actions = &report["outcome"]["decision"]["actions"];
    assert_eq!(
        actions[0]["SetVersion"],
        serde_json::json!({"stage": "dev", "version": "v1.2.3", "channel": "DirectCommit",
            "reason": "v1.2.3 is a new version of payments", "digest": null})
    );
    assert_eq!(
        actions[1]["AwaitHealth"],
        serde_json::json!({"stage": "dev", "version": "v1.2.3", "timeout": 300000})
    );
}

#[test]
fn eval_answers_host_calls_from_the_script_and_names_a_missing_one() {
    let home = tempfile::tempdir().unwrap();
    let ctx = write(home.path(), "ctx.yaml", CONTEXT);
    let event = write(
        home.path(),
        "event.yaml",
        "GateTimeout: { stage: dev, version: v2, commit: abc, elapsed: 600000, last_status: null }\n",
    );
    // Without answers the policy's history lookup has nothing to read.
    let out = baton(home.path())
        .args(["policy", "eval", "builtin:default", "--context"])
        .arg(&ctx)
        .arg("--event")
        .arg(&event)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(r#"no recorded answer for git.stage-history {"limit":4,"stage":"dev"}"#),
        "{stderr}"
    );

    let answers = write(
        home.path(),
        "answers.yaml",
        r#"
- call: git.stage-history
  result:
    Ok:
      - { commit: c2, time: 2, author: ci, from_version: v1, to_version: v2, subject: "dev(payments): v2", trailers: [] }
      - { commit: c1, time: 1, author: ci, from_version: null, to_version: v1, subject: "dev(payments): v1", trailers: [] }
"#,
    );
    let out = baton(home.path())
        .args(["policy", "eval", "builtin:default", "--context"])
        .arg(&ctx)
        .arg("--event")
        .arg(&event)
        .arg("--host-responses")
        .arg(&answers)
        .output()
        .unwrap();
    assert_code(&out, 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("1. roll back dev from v2 to v1 by direct commit\n"),
        "{text}"
    );
    assert!(
        text.contains("2. fail: dev not healthy at v2 within 600s"),
        "{text}"
    );
    assert!(text.contains("host calls:\n  git.stage-history"), "{text}");
}

/// `policy eval CONTEXT EVENT [--host-responses FILE]` in `dir`: exit code,
/// stdout, stderr.
fn eval(
    dir: &std::path::Path,
    policy: &str,
    event: &str,
    answers: Option<&str>,
) -> (Option<i32>, String, String) {
    let ctx = write(dir, "ctx.yaml", CONTEXT);
    let event = write(dir, "event.yaml", event);
    let mut cmd = baton(dir);
    cmd.args(["policy", "eval", policy, "--context"])
        .arg(&ctx)
        .arg("--event")
        .arg(&event);
    if let Some(answers) = answers {
        cmd.arg("--host-responses")
            .arg(write(dir, "answers.yaml", answers));
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn eval_reads_events_in_the_scenario_syntax_with_its_defaults() {
    let home = tempfile::tempdir().unwrap();
    let decision = "decision:\n  1. set dev to v1.2.3 by direct commit\n  \
                    2. await health of dev at v1.2.3 (timeout 300s)\n";
    // Scenario syntax (digest defaults to none), and the contract's own
    // form with and without its optional fields, decide alike.
    for event in [
        "{ new-version: { version: v1.2.3 } }\n",
        "new-version:\n  version: v1.2.3\n  digest: null\n",
        r#"{"NewVersion": {"version": "v1.2.3"}}"#,
        r#"{"NewVersion": {"version": "v1.2.3", "digest": null}}"#,
    ] {
        let (code, stdout, stderr) = eval(home.path(), "builtin:default", event, None);
        assert_eq!(code, Some(0), "{event}: {stderr}");
        assert!(stdout.contains(decision), "{event}: {stdout}");
    }

    // A gate timeout with `elapsed` as a duration and `last_status` written
    // out; the history the rollback needs comes from the script.
    let answers = r#"
- call: git.stage-history
  request: { stage: dev, limit: 4 }
  result:
    Ok:
      - { commit: c2, time: 2, author: ci, from_version: v1, to_version: v2, subject: "dev(payments): v2", trailers: [], origin: BatonCommit }
      - { commit: c1, time: 1, author: ci, to_version: v1, subject: "dev(payments): v1", trailers: [], origin: BatonCommit }
"#;
    let (code, stdout, stderr) = eval(
        home.path(),
        "builtin:default",
        "gate-timeout: { stage: dev, version: v2, commit: c2, elapsed: 10m, \
         last_status: { health: Progressing, revision: c2 } }\n",
        Some(answers),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(
            "  1. roll back dev from v2 to v1 by direct commit\n  2. fail: dev not healthy at \
             v2 within 600s (last: Progressing / Synced @c2)"
        ),
        "{stdout}"
    );
}

#[test]
fn eval_names_what_a_scenario_default_cannot_supply() {
    let home = tempfile::tempdir().unwrap();
    for (event, message) in [
        (
            "{ health-observed: { stage: dev, version: v2, status: { health: Healthy } } }",
            "error: invalid event file ./event.yaml: health-observed.commit: give the commit: \
             policy eval has no deployment history to take it from\n",
        ),
        (
            "{ health-observed: { stage: dev, version: v2, commit: c2, status: argocd } }",
            "error: invalid event file ./event.yaml: health-observed.status: `argocd` reads a \
             scenario's argocd section, which policy eval has none of; write the observation, \
             e.g. { health: Healthy, revision: 9c41d07e2b66 }\n",
        ),
        (
            "{ new-version: { version: v2 }, reconcile: { stage: dev } }",
            "error: invalid event file ./event.yaml: give exactly one of new-version, \
             stage-changed, health-observed, gate-timeout, rollback-requested, reconcile \
             (found new-version, reconcile)\n",
        ),
    ] {
        let (code, _, stderr) = eval(home.path(), "builtin:default", event, None);
        assert_eq!(code, Some(2), "{event}: {stderr}");
        assert_eq!(
            stderr.replace(&home.path().display().to_string(), "."),
            message,
            "{event}"
        );
    }
    let (code, _, stderr) = eval(
        home.path(),
        "builtin:default",
        "{ new-version: { verison: v2 } }",
        None,
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("unknown field `verison`, expected `version` or `digest`"),
        "{stderr}"
    );
}

#[test]
fn eval_host_responses_take_ok_or_a_bare_value_for_every_call() {
    let home = tempfile::tempdir().unwrap();
    // The conservative policy reads the clock before opening prod's
    // merge request: Monday 2025-03-03 10:00 UTC is inside its window.
    let conservative = policies::CONSERVATIVE_PATH;
    let event = "health-observed: { stage: staging, version: v1.2.3, commit: c3, \
                 status: { health: Healthy, revision: c3 } }\n";
    let history = "[{ commit: c3, time: 1740960000000, author: ci, from_version: v1.2.2, \
                   to_version: v1.2.3, subject: s, trailers: [], origin: BatonMergeRequest }]";
    for (now, version) in [
        ("{ Ok: 1740996000000 }", "{ Ok: v1.2.2 }"),
        ("1740996000000", "v1.2.2"),
    ] {
        let answers = format!(
            "- {{ call: git.stage-history, result: {{ Ok: {history} }} }}\n\
             - {{ call: clock.now, result: {now} }}\n\
             - {{ call: git.stage-history, result: {history} }}\n\
             - {{ call: git.stage-version, request: {{ stage: prod, revision: null }}, result: {version} }}\n"
        );
        let (code, stdout, stderr) = eval(home.path(), conservative, event, Some(&answers));
        assert_eq!(code, Some(0), "{answers}: {stderr}");
        assert!(
            stdout.contains("  1. set prod to v1.2.3 by merge request [baton]\n"),
            "{answers}: {stdout}"
        );
        assert!(
            stdout.contains("  clock.now {} -> 1740996000000\n"),
            "{stdout}"
        );
    }
}

#[test]
fn each_policy_imports_only_the_capabilities_it_calls() {
    let home = tempfile::tempdir().unwrap();
    let inspect = |policy: &str| {
        let out = baton(home.path())
            .args(["policy", "inspect", policy, "--output", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{policy}: {out:?}");
        imports(&json(&out))
    };
    let types = "baton:policy/types@0.2.0";
    let git = "baton:policy/git@0.2.0";
    let clock = "baton:policy/clock@0.2.0";
    let metrics = "baton:policy/metrics@0.2.0";
    // The canary policy judges the health the events carry: like the
    // default, it never reads the clock, Argo CD, the forge or metrics.
    assert_imports(&inspect("builtin:default"), &[types, git]);
    assert_imports(&inspect(policies::CANARY_PATH), &[types, git]);
    // The prod window reads the host clock.
    assert_imports(&inspect(policies::CONSERVATIVE_PATH), &[types, git, clock]);
    // The bake reads the clock and Prometheus.
    assert_imports(&inspect("builtin:slo"), &[types, git, clock, metrics]);
}

#[test]
fn diff_shows_a_policy_that_starts_reading_the_clock() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args([
            "policy",
            "diff",
            "builtin:default",
            policies::CONSERVATIVE_PATH,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let added: Vec<&str> = text.lines().filter(|l| l.starts_with("  + ")).collect();
    assert_eq!(added.len(), 1, "{text}");
    assert!(
        added[0].starts_with("  + baton:policy/clock@0.2.0 ")
            && added[0].ends_with("the host's time, recorded for replay"),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("  - ")), "{text}");

    let out = baton(home.path())
        .args(["policy", "diff", "--output", "json"])
        .args(["builtin:default", policies::CONSERVATIVE_PATH])
        .output()
        .unwrap();
    let imports = &json(&out)["changes"]["imports"];
    assert_eq!(
        imports["added"][0]["name"],
        serde_json::json!("baton:policy/clock@0.2.0")
    );
    assert_eq!(imports["added"].as_array().unwrap().len(), 1);
    assert_eq!(imports["removed"], serde_json::json!([]));
}
