//! `baton policy replay` on records written by real runs (the binary, git
//! over HTTP, the simulators, the default policy): they replay identically
//! and validate against `schemas/audit-record.v1.json`; a changed record
//! shows the divergence; `--policy` shows another policy's decisions; a
//! digest mismatch, an unreachable policy and unusable files are refused.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use crate::policies;
use serde_json::{Value, json};

use super::env::{APP, Env, Setup, assert_code, code, stderr, stdout};
use crate::support::{baton, record_files};

/// The records of one world's runs, under stable names in `baton-audit/`:
/// `happy-promote.json` (v1.0.1 through dev, staging MR opened),
/// `happy-advance.json` (staging merged and gated, prod MR opened) and
/// `rolled-back.json` (v1.0.2 degrades in dev and is rolled back). The
/// runs happen once per test process; the servers are gone afterwards,
/// as replay needs nothing but the records.
fn recorded() -> &'static Path {
    static RECORDED: OnceLock<PathBuf> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let env = Env::new(Setup {
            degrade: vec![("dev", r"^v1\.0\.2$")],
            ..Setup::default()
        });
        assert_code(&env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]), 0);
        env.merge("staging", "v1.0.1");
        assert_code(&env.baton(&["advance", "--app", APP]), 0);
        assert_code(&env.baton(&["promote", "--app", APP, "--tag", "v1.0.2"]), 1);

        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("replay-records-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let audit = dir.join("baton-audit");
        std::fs::create_dir_all(&audit).unwrap();
        let written = env.dir().join("baton-audit");
        for path in record_files(&written) {
            let record: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let name = match (
                record["command"]["name"].as_str().unwrap(),
                record["command"]["args"]["tag"].as_str(),
            ) {
                ("promote", Some("v1.0.1")) => "happy-promote.json",
                ("advance", None) => "happy-advance.json",
                ("promote", Some("v1.0.2")) => "rolled-back.json",
                other => panic!("unexpected run {other:?}"),
            };
            std::fs::copy(&path, audit.join(name)).unwrap();
        }
        dir
    })
}

const ALL: [&str; 3] = [
    "baton-audit/happy-promote.json",
    "baton-audit/happy-advance.json",
    "baton-audit/rolled-back.json",
];

/// Every recorded run, then `extra`.
fn all_and<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    ALL.iter().copied().chain(extra.iter().copied()).collect()
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write(path: &Path, record: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(record).unwrap()).unwrap();
}

/// A scratch directory holding copies of the recorded runs, where tests
/// may change them.
fn workdir() -> tempfile::TempDir {
    let work = tempfile::tempdir().unwrap();
    let audit = work.path().join("baton-audit");
    std::fs::create_dir_all(&audit).unwrap();
    for name in ALL {
        std::fs::copy(recorded().join(name), work.path().join(name)).unwrap();
    }
    work
}

/// `baton policy replay ARGS` in `dir`, hermetic.
fn replay(dir: &Path, args: &[&str]) -> Output {
    baton(dir)
        .args(["policy", "replay"])
        .args(args)
        .output()
        .unwrap()
}

fn json_out(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            stdout(out),
            stderr(out)
        )
    })
}

/// Snapshot filters: temp dirs, run ids, digests, SHAs, ports, the built
/// policies' location, and decision counts (how many observations a gate
/// sees depends on timing; the tests check counts against the records).
fn filtered(dir: &Path, f: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex::escape(&dir.display().to_string()), "[TMP]");
    settings.add_filter(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "[RUN]");
    settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    settings.add_filter(r"@[0-9a-f]{7}\b", "@[SHA]");
    settings.add_filter(r"\b[0-9a-f]{40}\b", "[SHA]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"/\S*/(baton_\w+\.wasm)", "[POLICIES]/$1");
    settings.add_filter(r"\b\d+ decisions", "[N] decisions");
    settings.add_filter(r"\b(decision|of) \d+\b", "$1 [SEQ]");
    settings.add_filter(r"\b\d+ same\b", "[N] same");
    settings.bind(f);
}

/// The audit record JSON Schema, compiled.
fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/audit-record.v1.json");
    let schema: Value = read(&path);
    jsonschema::validator_for(&schema).expect("the schema is a valid draft 2020-12 schema")
}

fn schema_errors(validator: &jsonschema::Validator, record: &Value) -> Vec<String> {
    validator
        .iter_errors(record)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The decision (seq) whose host calls include `function` with `request`.
fn decision_calling<'a>(record: &'a mut Value, function: &str, request: &Value) -> &'a mut Value {
    record["decisions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|d| {
            d["calls"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["function"] == function && &c["request"] == request)
        })
        .unwrap_or_else(|| panic!("no decision calls {function} {request}"))
}

#[test]
fn records_of_real_runs_replay_identically_and_match_the_schema() {
    let work = workdir();
    let validator = schema();
    let mut totals = Vec::new();
    for name in ALL {
        let record = read(&work.path().join(name));
        let errors = schema_errors(&validator, &record);
        assert!(
            errors.is_empty(),
            "{name} does not match the schema: {errors:#?}"
        );
        totals.push(record["decisions"].as_array().unwrap().len());
    }
    // The runs cover what matters: host calls, a merge request, a rollback.
    let rolled_back = read(&work.path().join("baton-audit/rolled-back.json"));
    assert_eq!(rolled_back["outcome"]["rolled_back"], true);
    assert!(
        rolled_back["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| !d["calls"].as_array().unwrap().is_empty())
    );

    let out = replay(work.path(), &ALL);
    assert_code(&out, 0);
    filtered(work.path(), || {
        insta::assert_snapshot!(stdout(&out), @r"
        baton-audit/happy-promote.json: run [RUN]: [N] decisions identical
        baton-audit/happy-advance.json: run [RUN]: [N] decisions identical
        baton-audit/rolled-back.json: run [RUN]: [N] decisions identical
        ");
    });
    assert_eq!(stderr(&out), "");

    let out = replay(work.path(), &all_and(&["--output", "json"]));
    assert_code(&out, 0);
    let report = json_out(&out);
    assert_eq!(report["mode"], "replay");
    assert_eq!(report["identical"], true);
    let records = report["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    for (record, total) in records.iter().zip(&totals) {
        assert_eq!(record["total"], *total);
        let decisions = record["decisions"].as_array().unwrap();
        assert_eq!(decisions.len(), *total);
        assert!(decisions.iter().all(|d| d["verdict"] == "identical"));
    }
}

#[test]
fn a_changed_host_call_answer_shows_the_divergence() {
    let work = workdir();
    // The rollback decision read dev's history: v1.0.2, v1.0.1, v1.0.0.
    // Make the record claim the version before v1.0.2 was v0.9.9.
    let path = work.path().join("baton-audit/rolled-back.json");
    let mut record = read(&path);
    let history = json!({ "stage": "dev", "limit": 4 });
    let decision = decision_calling(&mut record, "stage-history", &history);
    let seq = decision["seq"].clone();
    let call = decision["calls"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["request"] == history)
        .unwrap();
    let previous = call["result"]["Ok"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|d| d["to_version"] == "v1.0.1")
        .unwrap();
    previous["to_version"] = json!("v0.9.9");
    write(&path, &record);

    // Records before the changed one replay; the changed one diverges.
    let out = replay(work.path(), &ALL);
    assert_code(&out, 1);
    filtered(work.path(), || {
        insta::assert_snapshot!(stdout(&out), @r#"
        baton-audit/happy-promote.json: run [RUN]: [N] decisions identical
        baton-audit/happy-advance.json: run [RUN]: [N] decisions identical
        baton-audit/rolled-back.json: run [RUN]: decision [SEQ] of [SEQ] diverges
          event: health-observed: dev at v1.0.2 is Degraded / Synced
          result (- recorded, + replayed):
            - 1. roll back dev from v1.0.2 to v1.0.1 by direct commit
            - 2. fail: dev is Degraded at v1.0.2 (Deployment payments-dev: Deployment "payments-dev" exceeded its progress deadline); rolled back to v1.0.1
            + 1. roll back dev from v1.0.2 to v0.9.9 by direct commit
            + 2. fail: dev is Degraded at v1.0.2 (Deployment payments-dev: Deployment "payments-dev" exceeded its progress deadline); rolled back to v0.9.9
              reason: dev is Degraded at v1.0.2 (Deployment payments-dev: Deployment "payments-dev" exceeded its progress deadline)
          host calls: as recorded
        "#);
        insta::assert_snapshot!(stderr(&out), @"error: baton-audit/rolled-back.json: decision [SEQ] (health-observed: dev at v1.0.2 is Degraded / Synced) did not replay identically");
    });

    let out = replay(
        work.path(),
        &["baton-audit/rolled-back.json", "--output", "json"],
    );
    assert_code(&out, 1);
    let report = json_out(&out);
    assert_eq!(report["identical"], false);
    let diverged = report["records"][0]["decisions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    assert_eq!(diverged["seq"], seq);
    assert_eq!(diverged["verdict"], "different");
    assert!(diverged.get("calls").is_none(), "{diverged:#}");
    let rollback =
        |result: &Value| result["decision"]["actions"][0]["Rollback"]["to_version"].clone();
    assert_eq!(rollback(&diverged["recorded"]), "v1.0.1");
    assert_eq!(rollback(&diverged["actual"]), "v0.9.9");
}

#[test]
fn calls_the_record_does_not_hold_or_that_the_policy_skips_diverge() {
    let work = workdir();
    let path = work.path().join("baton-audit/happy-promote.json");
    let original = read(&path);
    let latest = json!({ "stage": "dev", "limit": 1 });

    // Without the recorded answer, the decision cannot be made again.
    let mut record = original.clone();
    decision_calling(&mut record, "stage-history", &latest)["calls"] = json!([]);
    write(&path, &record);
    let out = replay(work.path(), &["baton-audit/happy-promote.json"]);
    assert_code(&out, 1);
    filtered(work.path(), || {
        insta::assert_snapshot!(stdout(&out), @r#"
        baton-audit/happy-promote.json: run [RUN]: decision [SEQ] of [SEQ] diverges
          event: health-observed: dev at v1.0.1 is Healthy / Synced
          result (- recorded, + replayed):
            - 1. set staging to v1.0.1 by merge request [baton]
            - 2. hold: waiting for the staging merge request to be merged
            - reason: v1.0.1 is healthy in dev (Healthy / Synced @[SHA])
            + trap: host-call
          host calls (- recorded, + replayed):
            + git.stage-history {"limit":1,"stage":"dev"} (not answerable from the record)
        "#);
    });

    // A recorded call the policy does not make again is a divergence too.
    let mut record = original;
    let decision = decision_calling(&mut record, "stage-history", &latest);
    let extra = decision["calls"][0].clone();
    decision["calls"].as_array_mut().unwrap().push(extra);
    write(&path, &record);
    let out = replay(work.path(), &["baton-audit/happy-promote.json"]);
    assert_code(&out, 1);
    filtered(work.path(), || {
        insta::assert_snapshot!(stdout(&out), @r#"
        baton-audit/happy-promote.json: run [RUN]: decision [SEQ] of [SEQ] diverges
          event: health-observed: dev at v1.0.1 is Healthy / Synced
          result: as recorded
          host calls (- recorded, + replayed):
              git.stage-history {"limit":1,"stage":"dev"}
              git.target-versions {"revision":null,"stage":"dev"}
            - git.stage-history {"limit":1,"stage":"dev"}
        "#);
    });
}

#[test]
fn another_policy_is_evaluated_on_the_recorded_events() {
    // A run decided by the conservative policy: a major bump goes to dev
    // by merge request, labelled for review, and the run holds.
    let conservative = policies::CONSERVATIVE_PATH;
    let env = Env::new(Setup {
        policy: format!("  path: {conservative}\n  settings: {{ health_timeout: 20s }}\n"),
        ..Setup::default()
    });
    assert_code(&env.baton(&["promote", "--app", APP, "--tag", "v2.0.0"]), 0);
    let work = tempfile::tempdir().unwrap();
    let audit = work.path().join("baton-audit");
    std::fs::create_dir_all(&audit).unwrap();
    let written = record_files(&env.dir().join("baton-audit"));
    assert_eq!(written.len(), 1);
    std::fs::copy(&written[0], audit.join("major-bump.json")).unwrap();
    drop(env);
    let record = "baton-audit/major-bump.json";
    let errors = schema_errors(&schema(), &read(&work.path().join(record)));
    assert!(errors.is_empty(), "{errors:#?}");

    // It replays with the policy it names (a path, this time).
    let out = replay(work.path(), &[record]);
    assert_code(&out, 0);
    filtered(work.path(), || {
        insta::assert_snapshot!(stdout(&out), @"baton-audit/major-bump.json: run [RUN]: 1 decision identical");
    });

    // The default policy would have committed to dev and gated it.
    let out = replay(work.path(), &[record, "--policy", "builtin:default"]);
    assert_code(&out, 0);
    filtered(work.path(), || {
        insta::assert_snapshot!(stdout(&out), @r"
        shadow evaluation of builtin:default (sha256:[DIGEST])

        baton-audit/major-bump.json: run [RUN], decided by [POLICIES]/baton_conservative_policy.wasm (sha256:[DIGEST])
          decision [SEQ], new-version v2.0.0: different (- recorded, + shadow)
              - 1. set dev to v2.0.0 by merge request [baton, needs-review]
              - 2. hold: waiting for the dev merge request to be merged
              - reason: v2.0.0 is a new version of payments; major version bump v1.0.0 -> v2.0.0 needs review
              + 1. set dev to v2.0.0 by direct commit
              + 2. await health of dev at v2.0.0 (timeout 20s)
              + reason: v2.0.0 is a new version of payments
          1 decision: [N] same, 1 different, 0 not answerable

        1 record, 1 decision: [N] same, 1 different, 0 not answerable
        ");
    });

    let out = replay(
        work.path(),
        &[record, "--policy", "builtin:default", "--output", "json"],
    );
    assert_code(&out, 0);
    let report = json_out(&out);
    assert_eq!(report["mode"], "shadow");
    assert_eq!(report["policy"]["source"], "builtin:default");
    assert_eq!(report["identical"], false);
    let decision = &report["records"][0]["decisions"][0];
    assert_eq!(decision["verdict"], "different");
    let first = |result: &Value| result["decision"]["actions"][0]["SetVersion"]["channel"].clone();
    assert_eq!(first(&decision["actual"]), "DirectCommit");
    assert_eq!(
        first(&decision["recorded"])["MergeRequest"]["labels"],
        json!(["baton", "needs-review"])
    );

    let out = replay(
        work.path(),
        &[record, "--policy", "builtin:default", "--fail-on-diff"],
    );
    assert_code(&out, 1);
    assert_eq!(
        stderr(&out),
        "error: 1 of 1 decisions differ from the record\n"
    );
}

#[test]
fn calls_a_shadow_policy_makes_beyond_the_record_are_not_answerable() {
    let work = workdir();
    let conservative = policies::CONSERVATIVE_PATH;
    let out = replay(work.path(), &all_and(&["--policy", conservative]));
    assert_code(&out, 0);
    // How many observations a gate sees before the app is synced and
    // healthy depends on timing: leave those out of the snapshot.
    let waiting = regex::Regex::new(
        r"(?m)^  decision \d+, health-observed: .* is (Healthy / OutOfSync|Progressing / \w+): same\n",
    )
    .unwrap();
    let text = waiting.replace_all(&stdout(&out), "").into_owned();
    filtered(work.path(), || {
        insta::assert_snapshot!(text, @r#"
        shadow evaluation of [POLICIES]/baton_conservative_policy.wasm (sha256:[DIGEST])

        baton-audit/happy-promote.json: run [RUN], decided by builtin:default (sha256:[DIGEST])
          decision [SEQ], new-version v1.0.1: not answerable from the record
              the policy asked for git.stage-version {"revision":null,"stage":"dev"}
              recorded:
                1. set dev to v1.0.1 by direct commit
                2. await health of dev at v1.0.1 (timeout 20s)
                reason: v1.0.1 is a new version of payments
          decision [SEQ], health-observed: dev at v1.0.1 is Healthy / Synced: not answerable from the record
              the policy asked for git.stage-version {"revision":null,"stage":"staging"}
              recorded:
                1. set staging to v1.0.1 by merge request [baton]
                2. hold: waiting for the staging merge request to be merged
                reason: v1.0.1 is healthy in dev (Healthy / Synced @[SHA])
          [N] decisions: [N] same, 0 different, 2 not answerable

        baton-audit/happy-advance.json: run [RUN], decided by builtin:default (sha256:[DIGEST])
          decision [SEQ], stage-changed: staging v1.0.0 -> v1.0.1: same
          decision [SEQ], health-observed: staging at v1.0.1 is Healthy / Synced: not answerable from the record
              the policy asked for clock.now {}
              recorded:
                1. set prod to v1.0.1 by merge request [baton]
                2. hold: waiting for the prod merge request to be merged
                reason: v1.0.1 is healthy in staging (Healthy / Synced @[SHA])
          [N] decisions: [N] same, 0 different, 1 not answerable

        baton-audit/rolled-back.json: run [RUN], decided by builtin:default (sha256:[DIGEST])
          decision [SEQ], new-version v1.0.2: not answerable from the record
              the policy asked for git.stage-version {"revision":null,"stage":"dev"}
              recorded:
                1. set dev to v1.0.2 by direct commit
                2. await health of dev at v1.0.2 (timeout 20s)
                reason: v1.0.2 is a new version of payments
          decision [SEQ], health-observed: dev at v1.0.2 is Degraded / Synced: same
          [N] decisions: [N] same, 0 different, 1 not answerable

        3 records, [N] decisions: [N] same, 0 different, 4 not answerable
        "#);
    });

    let out = replay(
        work.path(),
        &all_and(&["--policy", conservative, "--output", "json"]),
    );
    assert_code(&out, 0);
    let report = json_out(&out);
    for (record, name) in report["records"].as_array().unwrap().iter().zip(ALL) {
        // Every recorded decision is evaluated, in order.
        let recorded = read(&work.path().join(name));
        let seqs = |decisions: &Value| -> Vec<Value> {
            decisions
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["seq"].clone())
                .collect()
        };
        assert_eq!(
            seqs(&record["decisions"]),
            seqs(&recorded["decisions"]),
            "{name}"
        );
    }
    // The conservative policy checks dev's current version on a new
    // version (for major bumps); the default policy never asked.
    let first = &report["records"][0]["decisions"][0];
    assert_eq!(first["verdict"], "unanswerable");
    assert_eq!(
        first["unanswerable"],
        json!([{ "call": "git.stage-version", "request": { "stage": "dev", "revision": null } }])
    );
    let out = replay(
        work.path(),
        &all_and(&["--policy", conservative, "--fail-on-diff"]),
    );
    assert_code(&out, 1);

    // The recorded policy itself, in shadow mode: everything is the same.
    let out = replay(
        work.path(),
        &all_and(&["--policy", "builtin:default", "--fail-on-diff"]),
    );
    assert_code(&out, 0);
    let text = stdout(&out);
    let summary = text.lines().last().unwrap();
    assert!(
        summary.starts_with("3 records, ") && summary.ends_with(" 0 different, 0 not answerable"),
        "{summary}"
    );
}

#[test]
fn a_policy_with_another_digest_is_refused() {
    let work = workdir();
    let path = work.path().join("baton-audit/happy-promote.json");
    let mut record = read(&path);
    let actual = record["policy"]["digest"].as_str().unwrap().to_owned();
    let recorded = format!("sha256:{}", "ab".repeat(32));
    record["policy"]["digest"] = json!(recorded);
    write(&path, &record);

    let out = replay(work.path(), &ALL);
    assert_code(&out, 3);
    assert_eq!(stdout(&out), "", "nothing is replayed");
    let err = stderr(&out);
    assert!(err.contains(&recorded) && err.contains(&actual), "{err}");
    let err = err.replace(&actual, "sha256:[ACTUAL]");
    filtered(work.path(), || {
        insta::assert_snapshot!(err, @r"
        error: baton-audit/happy-promote.json: the recorded policy builtin:default has digest sha256:[DIGEST], but builtin:default here has digest sha256:[ACTUAL]
        hint: to see what builtin:default would have decided on these events, run `baton policy replay --policy builtin:default ...` (shadow evaluation)
        ");
    });
    // Shadow mode evaluates the given policy whatever the record names.
    let out = replay(work.path(), &all_and(&["--policy", "builtin:default"]));
    assert_code(&out, 0);
}

#[test]
fn a_recorded_policy_path_is_found_beside_the_record_or_given() {
    let work = workdir();
    // As if baton.yaml had said `policy.path: policies/default.wasm`.
    let path = work.path().join("baton-audit/happy-promote.json");
    let mut record = read(&path);
    record["policy"]["source"] = json!("policies/default.wasm");
    write(&path, &record);
    let elsewhere = tempfile::tempdir().unwrap();
    let record_path = path.display().to_string();

    let out = replay(elsewhere.path(), &[&record_path]);
    assert_code(&out, 2);
    let err = stderr(&out).replace(&elsewhere.path().display().to_string(), "[CWD]");
    filtered(work.path(), || {
        insta::assert_snapshot!(err, @r"
        error: [TMP]/baton-audit/happy-promote.json: cannot find the recorded policy policies/default.wasm (looked for policies/default.wasm, [TMP]/policies/default.wasm)
        hint: point --policy-path at the component file; its digest must match the record
        ");
    });

    let out = replay(
        elsewhere.path(),
        &[&record_path, "--policy-path", policies::DEFAULT_PATH],
    );
    assert_code(&out, 0);

    // The default layout: baton-audit/ beside baton.yaml, where the
    // configured path resolves.
    std::fs::create_dir_all(work.path().join("policies")).unwrap();
    std::fs::copy(
        policies::DEFAULT_PATH,
        work.path().join("policies/default.wasm"),
    )
    .unwrap();
    let out = replay(elsewhere.path(), &[&record_path]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains(" decisions identical"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn unusable_files_are_usage_errors_naming_the_file() {
    let work = workdir();
    let dir = work.path();
    std::fs::write(dir.join("notes.json"), "not json").unwrap();
    let mut record = read(&dir.join(ALL[0]));
    record["schema"] = json!("baton.audit-record/v0");
    write(&dir.join("old.json"), &record);
    let mut record = read(&dir.join(ALL[0]));
    record.as_object_mut().unwrap().remove("decisions");
    write(&dir.join("partial.json"), &record);

    for (file, message) in [
        ("notes.json", "notes.json is not a valid audit record"),
        (
            "old.json",
            "old.json: unsupported audit record schema \"baton.audit-record/v0\"",
        ),
        (
            "partial.json",
            "partial.json is not a valid audit record: missing field `decisions`",
        ),
        ("missing.json", "cannot read audit record missing.json"),
    ] {
        let out = replay(dir, &[ALL[0], file]);
        assert_eq!(code(&out), 2, "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{file}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{file}: nothing is replayed");
    }
}

#[test]
fn the_schema_catches_renamed_fields() {
    let validator = schema();
    let original = read(&recorded().join("baton-audit/rolled-back.json"));
    assert!(schema_errors(&validator, &original).is_empty());

    let rename = |pointer: &str, from: &str, to: &str| {
        let mut record = original.clone();
        let object = record
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("no object at {pointer}"));
        let value = object
            .remove(from)
            .unwrap_or_else(|| panic!("no {from} at {pointer}"));
        object.insert(to.into(), value);
        record
    };
    let with_calls = original["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .position(|d| !d["calls"].as_array().unwrap().is_empty())
        .unwrap();
    let history = format!("/decisions/{with_calls}/calls/0/result/Ok/0");
    for (pointer, from, to) in [
        ("", "run_id", "runId"),
        ("/policy", "digest", "sha256"),
        ("/context", "max_health_wait", "max_health_wait_ms"),
        ("/decisions/0", "fuel_used", "fuel"),
        ("/decisions/0/event/NewVersion", "version", "tag"),
        (history.as_str(), "to_version", "version"),
        ("/gates/0/last", "health_message", "healthMessage"),
        ("/actions/0", "commit", "sha"),
        ("/outcome", "rolled_back", "rolledBack"),
    ] {
        let changed = rename(pointer, from, to);
        assert!(
            !schema_errors(&validator, &changed).is_empty(),
            "renaming {pointer}/{from} to {to} still validates"
        );
    }
    // Optional fields are absent, never null.
    let mut nulled = original.clone();
    nulled["actions"][0]["merge_request"] = Value::Null;
    assert!(!schema_errors(&validator, &nulled).is_empty());
    // A variant case with another spelling is not an event.
    let mut renamed_case = original;
    renamed_case["decisions"][0]["event"] =
        json!({ "new-version": renamed_case["decisions"][0]["event"]["NewVersion"].clone() });
    assert!(!schema_errors(&validator, &renamed_case).is_empty());
}
