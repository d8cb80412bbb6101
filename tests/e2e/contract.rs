//! Contract versions: the version is written the same everywhere it is
//! written; a policy built for 0.1.0 loads, is inspected and compared as
//! such, sees the 0.2 world projected down (a multi-target stage refused,
//! a reconcile as stage-changed); metric answers (NaN and infinities
//! included) reach a 0.2 policy from scenarios and scripts.

use std::path::{Path, PathBuf};

use baton::runtime::{ContractVersion, WIT_VERSION, WIT_VERSIONS};

use crate::engine::env::{assert_code, stderr, stdout};
use crate::policies;
use crate::support::{baton, json, load, test_limits};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The version in a `world.wit`'s `package baton:policy@X;` line.
fn package_version(world: &Path) -> String {
    let text = read(world);
    let line = text
        .lines()
        .find(|l| l.starts_with("package baton:policy@"))
        .unwrap_or_else(|| panic!("{} declares no baton:policy package", world.display()));
    line.trim_start_matches("package baton:policy@")
        .trim_end_matches(';')
        .to_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_contract_version_is_written_the_same_everywhere() {
    let wit = repo().join("wit");
    // The current contract: wit/, the host's constant, the SDK's constant.
    assert_eq!(package_version(&wit.join("world.wit")), WIT_VERSION);
    assert_eq!(ContractVersion::CURRENT.as_str(), WIT_VERSION);
    let sdk = read(&repo().join("policies/sdk/src/lib.rs"));
    assert!(
        sdk.contains(&format!("pub const WIT_VERSION: &str = \"{WIT_VERSION}\";")),
        "policies/sdk/src/lib.rs does not say WIT_VERSION = {WIT_VERSION}"
    );
    // Every older version the host implements has its frozen copy, and
    // every frozen copy is of a version the host implements.
    let older: Vec<&str> = WIT_VERSIONS
        .iter()
        .filter(|v| **v != ContractVersion::CURRENT)
        .map(|v| v.as_str())
        .collect();
    for version in &older {
        let frozen = wit.join("compat").join(version).join("world.wit");
        assert_eq!(&package_version(&frozen), version, "{}", frozen.display());
    }
    let mut frozen: Vec<String> = std::fs::read_dir(wit.join("compat"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    frozen.sort();
    assert_eq!(frozen, older);
    // The built components say the same.
    let default = load(policies::DEFAULT_PATH, test_limits());
    assert_eq!(default.wit_version, WIT_VERSION);
    assert_eq!(default.contract, ContractVersion::CURRENT);
    let fixture = load(policies::FIXTURE_CONTRACT_0_1_PATH, test_limits());
    assert_eq!(fixture.wit_version, "0.1.0");
    assert_eq!(fixture.contract, ContractVersion::V0_1);
}

#[test]
fn inspect_names_the_contract_each_policy_was_built_for() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["policy", "inspect", policies::FIXTURE_CONTRACT_0_1_PATH])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "contract:    baton:policy@0.1.0 world promotion-policy (host implements 0.1.0, 0.2.0)\n"
        ),
        "{text}"
    );

    let out = baton(home.path())
        .args(["policy", "inspect", "--output", "json"])
        .arg(policies::FIXTURE_CONTRACT_0_1_PATH)
        .output()
        .unwrap();
    let report = json(&out);
    assert_eq!(report["wit"]["version"], "0.1.0");
    assert_eq!(
        report["wit"]["host_versions"],
        serde_json::json!(["0.1.0", "0.2.0"])
    );
    assert_eq!(report["metadata"]["name"], "baton-fixture-contract-0-1");
    // It imports only what it calls, all of it from 0.1.0.
    let baton_imports: Vec<&str> = report["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .filter(|n| n.starts_with("baton:"))
        .collect();
    assert_eq!(
        baton_imports,
        [
            "baton:policy/types@0.1.0",
            "baton:policy/git@0.1.0",
            "baton:policy/log@0.1.0"
        ]
    );
    assert_eq!(report["exports"][0]["name"], "baton:policy/policy@0.1.0");

    let out = baton(home.path())
        .args(["policy", "inspect", "builtin:default", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(json(&out)["wit"]["version"], "0.2.0");
}

#[test]
fn diff_shows_the_contract_change_from_the_0_1_fixture_to_the_default() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["policy", "diff", policies::FIXTURE_CONTRACT_0_1_PATH])
        .arg("builtin:default")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("contract:    baton:policy@0.1.0 -> baton:policy@0.2.0\n"),
        "{text}"
    );
    assert!(
        text.contains("  ~ baton:policy/git@0.1.0 -> baton:policy/git@0.2.0\n"),
        "{text}"
    );
    // The fixture logs; the default policy does not, so imports no `log`.
    assert!(text.contains("  - baton:policy/log@0.1.0"), "{text}");
    assert!(
        text.contains("  ~ baton:policy/policy@0.1.0 -> baton:policy/policy@0.2.0\n"),
        "{text}"
    );

    let out = baton(home.path())
        .args(["policy", "diff", "--output", "json"])
        .arg(policies::FIXTURE_CONTRACT_0_1_PATH)
        .arg("builtin:default")
        .output()
        .unwrap();
    let report = json(&out);
    assert_eq!(
        report["changes"]["wit_version"],
        serde_json::json!({ "changed": true, "old": "0.1.0", "new": "0.2.0" })
    );
}

const TWO_REGIONS: &str = r#"
app: payments
stages:
  - { name: dev, argocd_app: payments-dev, direct_commit_allowed: true }
  - name: prod
    targets:
      - { label: eu, file: prod/eu.yaml, field: "helm:image.tag", argocd_app: payments-prod-eu }
      - { label: us, file: prod/us.yaml, field: "helm:image.tag", argocd_app: payments-prod-us }
"#;

#[test]
fn a_multi_target_stage_is_refused_for_a_0_1_policy_naming_stage_and_version() {
    let home = tempfile::tempdir().unwrap();
    let ctx = write(home.path(), "ctx.yaml", TWO_REGIONS);
    let event = write(home.path(), "event.yaml", "NewVersion: { version: v2 }\n");
    let eval = |policy: &str| {
        baton(home.path())
            .args(["policy", "eval", policy, "--context"])
            .arg(&ctx)
            .arg("--event")
            .arg(&event)
            .output()
            .unwrap()
    };
    let out = eval(policies::FIXTURE_CONTRACT_0_1_PATH);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(
            "stage prod has 2 targets (eu, us), but the policy was built for \
             baton:policy@0.1.0, which has one target per stage"
        ),
        "{}",
        stderr(&out)
    );
    // A 0.2 policy is given the same context.
    let out = eval("builtin:default");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1. set dev to v2 by direct commit\n"),
        "{}",
        stdout(&out)
    );
}

const RECONCILE: &str = r#"
name: reconcile
context:
  app: payments
  stages:
    - { name: dev, argocd_app: payments-dev, direct_commit_allowed: true }
    - { name: staging, argocd_app: payments-staging }
    - { name: prod, argocd_app: payments-prod }
  settings: { health_timeout: 5m }
env_repo:
  stages:
    staging:
      history:
        - { commit: m2, time: -1h, to_version: v2, merge_request: 7 }
        - { commit: m1, time: -48h, to_version: v1 }
    prod:
      history:
        - { commit: p1, time: -72h, to_version: v1 }
steps:
  - name: a scheduled run looks at staging again
    event: { reconcile: { stage: staging } }
    expect:
      actions:
        - await health of staging at v2 (timeout 300s)
"#;

#[test]
fn a_reconcile_reaches_a_0_1_policy_as_stage_changed_and_a_0_2_policy_as_itself() {
    let home = tempfile::tempdir().unwrap();
    let scenario = write(home.path(), "reconcile.yaml", RECONCILE);
    for policy in [policies::FIXTURE_CONTRACT_0_1_PATH, "builtin:default"] {
        let out = baton(home.path())
            .args(["policy", "test", policy])
            .arg(&scenario)
            .args(["--output", "json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{policy}: {}", stdout(&out));
        let report = json(&out);
        let case = &report["scenarios"][0]["cases"][0];
        assert_eq!(case["passed"], true, "{policy}: {case}");
    }
}

const METRICS: &str = r#"
name: metrics probe
context:
  app: payments
  stages:
    - { name: dev, argocd_app: payments-dev }
  settings: { mode: metrics, promql: "sum(rate(errors[5m]))" }
clock: { start: 2025-03-03T10:00:00Z }
metrics:
  "sum(rate(errors[5m]))":
    - { at: -10m, value: 0.01 }
    - at: -1m
      samples:
        - { labels: { region: eu }, value: "NaN" }
        - { labels: { region: us }, value: "+Inf" }
    - { at: 5m, error: { unreachable: "dial tcp 127.0.0.1:9090: connection refused" } }
steps:
  - name: answers hold by evaluation time, NaN and infinities included
    event: { new-version: { version: v2 } }
    expect:
      actions:
        - "hold: query=Ok([NaN, inf]) range=Ok([[0.01], [NaN, NaN], [inf, inf]])"
  - name: an outage answers the WIT error
    at: 6m
    event: { new-version: { version: v3 } }
    expect:
      actions:
        - "hold: query=Err(*Unreachable*connection refused*) range=Err(*Unreachable*)"
"#;

#[test]
fn scenarios_script_metric_answers_by_promql_and_time() {
    let home = tempfile::tempdir().unwrap();
    let scenario = write(home.path(), "metrics.yaml", METRICS);
    let out = baton(home.path())
        .args(["policy", "test", policies::HOSTILE_MISBEHAVE_PATH])
        .arg(&scenario)
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("ok: 2 passed, 0 failed"),
        "{}",
        stdout(&out)
    );

    // Without a metrics: section every query is denied, as with no
    // metrics: in baton.yaml; a query the section does not script is a
    // mistake in the scenario, named.
    let denied = METRICS
        .split("metrics:\n  \"sum")
        .next()
        .unwrap()
        .to_owned()
        + "steps:\n  - event: { new-version: { version: v2 } }\n    expect: { contains: [\"hold: query=Err(*no metrics: section in the scenario*\"] }\n";
    let scenario = write(home.path(), "denied.yaml", &denied);
    let out = baton(home.path())
        .args(["policy", "test", policies::HOSTILE_MISBEHAVE_PATH])
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    let unscripted = METRICS.replace("promql: \"sum(rate(errors[5m]))\"", "promql: \"up\"");
    let scenario = write(home.path(), "unscripted.yaml", &unscripted);
    let out = baton(home.path())
        .args(["policy", "test", policies::HOSTILE_MISBEHAVE_PATH])
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(
            "no scripted answer for metrics query \"up\" in the scenario's metrics: section"
        ),
        "{}",
        stdout(&out)
    );
}

#[test]
fn scripted_metric_values_keep_nan_through_eval_and_its_json() {
    let home = tempfile::tempdir().unwrap();
    let ctx = write(
        home.path(),
        "ctx.yaml",
        "app: payments\nstages: [{ name: dev }]\nsettings: { mode: metrics, promql: up }\n",
    );
    let event = write(home.path(), "event.yaml", "NewVersion: { version: v2 }\n");
    let answers = write(
        home.path(),
        "answers.yaml",
        r#"
- { call: clock.now, result: 1000000 }
- call: metrics.query
  request: { promql: up, time: null }
  result: { Ok: [{ labels: [], time: 1000000, value: "NaN" }] }
- call: metrics.query-range
  result: { Ok: [{ labels: [{ name: job, value: api }], points: [{ time: 940000, value: "-Inf" }, { time: 1000000, value: 2 }] }] }
"#,
    );
    let out = baton(home.path())
        .args([
            "policy",
            "eval",
            policies::HOSTILE_MISBEHAVE_PATH,
            "--context",
        ])
        .arg(&ctx)
        .arg("--event")
        .arg(&event)
        .arg("--host-responses")
        .arg(&answers)
        .args(["--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(
        report["outcome"]["decision"]["actions"][0]["Hold"],
        "query=Ok([NaN]) range=Ok([[-inf, 2.0]])"
    );
    let calls = report["host_calls"].as_array().unwrap();
    assert_eq!(calls[1]["interface"], "metrics");
    assert_eq!(calls[1]["result"]["Ok"][0]["value"], "NaN");
    assert_eq!(calls[2]["result"]["Ok"][0]["points"][0]["value"], "-Inf");
    assert_eq!(calls[2]["result"]["Ok"][0]["points"][1]["value"], 2.0);

    // A policy that queries metrics shows it in its imports.
    let out = baton(home.path())
        .args(["policy", "inspect", policies::HOSTILE_MISBEHAVE_PATH])
        .output()
        .unwrap();
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("baton:policy/metrics@0.2.0 "))
        .unwrap_or_else(|| panic!("no metrics import: {text}"));
    assert!(
        line.ends_with(
            "read-only PromQL queries against the configured Prometheus, recorded for replay"
        ),
        "{line}"
    );
}

#[test]
fn a_record_with_nan_metric_answers_replays_identically() {
    use baton::engine::audit::{
        AuditRecord, CommandInfo, ConfigInfo, DecisionRecord, OutcomeRecord, PolicyInfo, RepoInfo,
        SCHEMA, Status,
    };
    use baton::runtime::{
        Context, Event, NewVersion, RecordedWorld, ScriptedAnswer, Stage, Target,
    };

    let home = tempfile::tempdir().unwrap();
    let policy = load(policies::HOSTILE_MISBEHAVE_PATH, test_limits());
    let stage = Stage {
        name: "dev".into(),
        file: "dev.yaml".into(),
        field: "helm:image.tag".into(),
        argocd_app: "payments-dev".into(),
        direct_commit_allowed: true,
        auto_merge_allowed: false,
        targets: vec![Target {
            label: String::new(),
            file: "dev.yaml".into(),
            field: "helm:image.tag".into(),
            argocd_app: "payments-dev".into(),
        }],
    };
    let ctx = Context {
        app: "payments".into(),
        stages: vec![stage],
        settings: r#"{"mode":"metrics","promql":"up"}"#.into(),
        run_id: "r-nan".into(),
        max_health_wait: 60_000,
        dry_run: false,
    };
    let event = Event::NewVersion(NewVersion {
        version: "v2".into(),
        digest: None,
    });
    let answer = |call: &str, result: serde_json::Value| ScriptedAnswer {
        call: call.into(),
        request: None,
        result,
    };
    let script = [
        answer("clock.now", serde_json::json!(1_000_000)),
        answer(
            "metrics.query",
            serde_json::json!({ "Ok": [{ "labels": [], "time": 1_000_000, "value": "NaN" }] }),
        ),
        answer(
            "metrics.query-range",
            serde_json::json!({ "Ok": [{ "labels": [], "points": [
                { "time": 880_000, "value": "+Inf" }, { "time": 940_000, "value": "-Inf" }] }] }),
        ),
    ];
    let (decided, _) = policy.decide(Box::new(RecordedWorld::from_script(&script)), &ctx, &event);
    let decision = decided
        .result
        .as_ref()
        .expect("no trap")
        .as_ref()
        .expect("decides");
    assert_eq!(
        decision.actions[0].to_string(),
        "hold: query=Ok([NaN]) range=Ok([[inf, -inf]])"
    );
    let record = AuditRecord {
        schema: SCHEMA.into(),
        run_id: ctx.run_id.clone(),
        baton_version: "test".into(),
        command: CommandInfo {
            name: "promote".into(),
            app: "payments".into(),
            args: serde_json::Map::new(),
        },
        started_at: "2025-03-03T10:00:00Z".into(),
        finished_at: "2025-03-03T10:00:01Z".into(),
        duration_ms: 1000,
        dry_run: false,
        policy: PolicyInfo {
            source: policies::HOSTILE_MISBEHAVE_PATH.into(),
            digest: policy.digest.to_string(),
            wit_version: policy.wit_version.clone(),
            name: policy.metadata.name.clone(),
            version: policy.metadata.version.clone(),
            resolved: Some(policies::HOSTILE_MISBEHAVE_PATH.into()),
        },
        config: ConfigInfo {
            path: "baton.yaml".into(),
            digest: format!("sha256:{}", "0".repeat(64)),
        },
        env_repo: RepoInfo {
            url: "https://git.example/env.git".into(),
            branch: "main".into(),
            tip_at_start: String::new(),
        },
        context: ctx.clone(),
        decisions: vec![DecisionRecord::new(1, event, &decided)],
        actions: Vec::new(),
        gates: Vec::new(),
        outcome: OutcomeRecord {
            status: Status::Held,
            exit_code: 0,
            message: "held".into(),
            rolled_back: false,
        },
        ci: None,
        commit_author: None,
        arrivals: Vec::new(),
        merge_requests: Vec::new(),
        integrity: None,
    };
    let path = home.path().join("nan.json");
    record.write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#""value": "NaN""#), "{text}");
    assert!(text.contains(r#""value": "+Inf""#), "{text}");

    let out = baton(home.path())
        .args(["policy", "replay"])
        .arg(&path)
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert!(
        stdout(&out).ends_with("run r-nan: 1 decision identical\n"),
        "{}",
        stdout(&out)
    );
}
