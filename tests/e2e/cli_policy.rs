//! `baton policy inspect` and `baton policy eval` through the real binary.

use crate::policies;

use crate::support::baton;

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn imports(report: &serde_json::Value) -> Vec<String> {
    report["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Exactly Baton's interfaces plus the WASI subset a Rust guest needs.
fn assert_only_offered(imports: &[String]) {
    let baton: Vec<_> = imports
        .iter()
        .filter(|i| i.starts_with("baton:policy/"))
        .collect();
    assert_eq!(
        baton,
        [
            "baton:policy/types@0.2.0",
            "baton:policy/git@0.2.0",
            "baton:policy/argocd@0.2.0",
            "baton:policy/forge@0.2.0",
            "baton:policy/clock@0.2.0",
            "baton:policy/log@0.2.0"
        ]
    );
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

#[test]
fn inspect_builtin_default_as_json() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["policy", "inspect", "builtin:default", "--output", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
        stderr.contains(r#"no recorded answer for git.stage-history {"limit":200,"stage":"dev"}"#),
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
