//! A policy built for contract 0.1.0 drives the engine: the real binary,
//! git over HTTP, the Argo CD and GitLab simulators. Its audit records are
//! written in the current contract's shape, match the schema, and replay
//! identically.

use std::path::Path;

use serde_json::Value;

use super::env::{APP, Env, Setup, assert_code, stderr, stdout};
use crate::policies;
use crate::support::{baton, record_files};

/// The audit record JSON Schema, compiled.
fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/audit-record.v1.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid schema")
}

fn schema_errors(validator: &jsonschema::Validator, record: &Value) -> Vec<String> {
    validator
        .iter_errors(record)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Every host call of a record, across its decisions.
fn calls<'a>(record: &'a Value, function: &str) -> Vec<&'a Value> {
    record["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["calls"].as_array().unwrap())
        .filter(|c| c["function"] == function)
        .collect()
}

#[test]
fn a_0_1_policy_promotes_through_the_engine_and_its_records_replay() {
    let env = Env::new(Setup {
        policy: format!("  path: {}\n", policies::FIXTURE_CONTRACT_0_1_PATH),
        ..Setup::default()
    });

    // dev by direct commit, gated, then the staging merge request.
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("held: waiting for the staging merge request to be merged"),
        "{}",
        stdout(&out)
    );
    assert!(env.file("dev").contains("tag: \"v1.0.1\" # set by Baton"));
    let t = env.git(&["log", "-1", "--format=%(trailers:only,unfold)", "main"]);
    assert!(t.contains("Baton-Run: "), "{t}");
    let mrs = env.merge_requests();
    assert_eq!(mrs.len(), 1);
    assert_eq!(mrs[0].title, "staging(payments): v1.0.1");
    assert_eq!(mrs[0].labels, ["baton"]);
    assert!(
        mrs[0]
            .description
            .contains("Promoted by the contract 0.1 fixture policy."),
        "{}",
        mrs[0].description
    );

    // staging merged: advance gates it and opens the prod merge request.
    env.merge("staging", "v1.0.1");
    let out = env.baton(&["advance", "--app", APP]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("held: waiting for the prod merge request to be merged"),
        "{}",
        stdout(&out)
    );
    assert_eq!(env.merge_requests().len(), 2);

    let records = env.audit_records();
    assert_eq!(records.len(), 2);
    let validator = schema();
    for record in &records {
        assert_eq!(record["policy"]["wit_version"], "0.1.0");
        assert_eq!(record["policy"]["name"], "baton-fixture-contract-0-1");
        let errors = schema_errors(&validator, record);
        assert!(errors.is_empty(), "{errors:#?}");
        // The context is recorded in the current shape: one target each.
        for stage in record["context"]["stages"].as_array().unwrap() {
            assert_eq!(stage["targets"][0]["argocd_app"], stage["argocd_app"]);
        }
    }
    let promote = records
        .iter()
        .find(|r| r["command"]["name"] == "promote")
        .unwrap();
    assert_eq!(
        promote["decisions"][0]["event"]["NewVersion"],
        serde_json::json!({ "version": "v1.0.1", "digest": null })
    );
    assert_eq!(
        promote["decisions"][0]["logs"][0]["message"],
        "v1.0.1 enters dev"
    );
    // The policy's history reads are recorded as the host answered them,
    // with the 0.2 fields the policy never saw.
    let dev_history = calls(promote, "stage-history");
    assert!(!dev_history.is_empty());
    assert_eq!(dev_history[0]["result"]["Ok"][0]["origin"], "BatonCommit");

    // The merged change arrived by Baton's merge request: the event says
    // so, and the history entry carries the MR commit's trailers under
    // the merge commit's id.
    let advance = records
        .iter()
        .find(|r| r["command"]["name"] == "advance")
        .unwrap();
    let changed = &advance["decisions"][0]["event"]["StageChanged"];
    assert_eq!(changed["stage"], "staging");
    assert_eq!(changed["origin"], "BatonMergeRequest");
    let staging = calls(advance, "stage-history")
        .into_iter()
        .find(|c| c["request"]["stage"] == "staging")
        .expect("the gate reads staging's history");
    let newest = &staging["result"]["Ok"][0];
    assert_eq!(newest["origin"], "BatonMergeRequest");
    assert_eq!(newest["merge_request"], env.merge_requests()[0].iid);
    assert_eq!(newest["subject"], "staging(payments): v1.0.1");
    assert!(
        newest["trailers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "Baton-Run"),
        "{newest}"
    );
    let merge_commit = env.git(&["rev-parse", "main"]);
    assert_eq!(newest["commit"], merge_commit);

    // Metrics calls (none here: the fixture cannot import metrics) fit the
    // schema with NaN and the infinities as Prometheus writes them.
    let mut with_metrics = promote.clone();
    let metric_calls = serde_json::json!([
        { "interface": "metrics", "function": "query",
          "request": { "promql": "up", "time": null },
          "result": { "Ok": [{ "labels": [{ "name": "job", "value": "api" }],
                               "time": 1, "value": "NaN" }] } },
        { "interface": "metrics", "function": "query-range",
          "request": { "promql": "up", "start": 0, "end": 60000, "step": 30000 },
          "result": { "Ok": [{ "labels": [], "points": [
              { "time": 0, "value": "+Inf" }, { "time": 30000, "value": 0.5 }] }] } },
        { "interface": "metrics", "function": "query",
          "request": { "promql": "up", "time": 5 },
          "result": { "Err": { "Denied": "no metrics: section in baton.yaml" } } }
    ]);
    with_metrics["decisions"][0]["calls"] = metric_calls;
    let errors = schema_errors(&validator, &with_metrics);
    assert!(errors.is_empty(), "{errors:#?}");
    with_metrics["decisions"][0]["calls"][0]["result"]["Ok"][0]["value"] = "lots".into();
    assert!(!schema_errors(&validator, &with_metrics).is_empty());

    // Both records replay identically against the 0.1 component.
    let dir = env.dir().join("baton-audit");
    let paths = record_files(&dir);
    let out = baton(env.dir())
        .args(["policy", "replay"])
        .args(&paths)
        .output()
        .unwrap();
    assert_code(&out, 0);
    let text = stdout(&out);
    assert_eq!(
        text.lines()
            .filter(|l| l.ends_with("decisions identical") || l.ends_with("decision identical"))
            .count(),
        2,
        "{text}\n{}",
        stderr(&out)
    );
}
