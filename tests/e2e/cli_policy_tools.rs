//! `baton policy test` and `baton policy diff` through the real binary: the
//! scenario suites of the default, conservative and canary policies, a
//! failing expectation with its diff, the JUnit report, unusable scenarios,
//! and a diff against a hostile policy.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::policies;

use crate::engine::env::{stderr, stdout};
use crate::support::{baton, json};

/// The default policy's scenario suite in the repository.
fn default_suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/default/scenarios")
}

/// The scenario suite of the policy crate `policies/<name>` in the repository.
fn suite_of(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policies")
        .join(name)
        .join("scenarios")
}

/// Snapshot filters: temp dirs, digests, sizes, timings, WASI patch versions.
fn filtered(home: &Path, f: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex::escape(&home.display().to_string()), "[TMP]");
    settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    settings.add_filter(r"\(\d+ ms\)", "([TIME] ms)");
    settings.add_filter(
        r"/\S*/baton_hostile_foreign_import\.wasm",
        "[POLICIES]/baton_hostile_foreign_import.wasm",
    );
    settings.add_filter(r"(wasi:[a-z-]+/[a-z-]+)@0\.2\.\d+\b", "$1@0.2.x");
    settings.bind(f);
}

/// A copy of the suite's degraded scenario whose first expectation names
/// the wrong rollback target.
fn broken_scenario(dir: &Path) -> PathBuf {
    let original = std::fs::read_to_string(default_suite().join("04-degraded.yaml")).unwrap();
    let right = "- roll back dev from v1.2.5 to v1.2.4 by direct commit";
    assert!(original.contains(right), "the suite changed: {original}");
    let broken = original.replacen(
        right,
        "- roll back dev from v1.2.5 to v1.2.3 by direct commit",
        1,
    );
    let path = dir.join("04-degraded-changed.yaml");
    std::fs::write(&path, broken).unwrap();
    path
}

#[test]
fn the_default_policy_passes_its_scenario_suite() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["policy", "test", "builtin:default"])
        .arg(default_suite())
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(!text.contains("FAIL"), "{text}");
    let summary = text.lines().last().unwrap();
    assert!(
        summary.starts_with("ok: 48 passed, 0 failed; 48 cases in 17 scenario files ("),
        "{summary}"
    );

    // Through the compile cache: the first run fills it, the second reads it.
    let cache = home.path().join("cache");
    for _ in 0..2 {
        let out = baton(home.path())
            .args([
                "policy",
                "test",
                "builtin:default",
                "--output",
                "json",
                "--cache-dir",
            ])
            .arg(&cache)
            .arg(default_suite())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(json(&out)["passed"], 48);
    }
    let compiled: Vec<_> = std::fs::read_dir(cache.join("policies"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(compiled.len(), 1, "{compiled:?}");
    assert!(compiled[0].ends_with(".cwasm"), "{compiled:?}");

    let out = baton(home.path())
        .args(["policy", "test", "builtin:default", "--output", "json"])
        .arg(default_suite())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(
        (report["passed"].as_u64(), report["failed"].as_u64()),
        (Some(48), Some(0))
    );
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 17);
    // Files run in name order; each case carries its decision.
    assert!(
        scenarios[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("01-dev-happy-path.yaml")
    );
    let first = &scenarios[0]["cases"][0];
    assert_eq!(first["actual"]["kind"], "decision");
    assert_eq!(
        first["actual"]["actions"],
        serde_json::json!([
            "set dev to v1.2.4 by direct commit",
            "await health of dev at v1.2.4 (timeout 300s)"
        ])
    );
    assert_eq!(
        first["actual"]["decision"]["actions"][1]["AwaitHealth"]["timeout"],
        300_000
    );
    // An expected error and the policy error it met, each under its own key.
    let invalid = scenarios
        .iter()
        .find(|s| s["name"] == "invalid events")
        .unwrap();
    assert_eq!(
        invalid["cases"][0]["expected"],
        serde_json::json!({"kind": "error", "error":
            {"kind": "invalid-event", "message": "app payments has no stage qa"}})
    );
    assert_eq!(
        invalid["cases"][0]["actual"],
        serde_json::json!({"kind": "policy-error", "variant": "invalid-event",
            "message": "app payments has no stage qa"})
    );
}

/// Runs the suite `name` against the component at `policy` and checks that
/// every one of `cases` cases in `files` files passes, in text and in JSON.
fn assert_suite_passes(policy: &str, name: &str, cases: u64, files: usize) {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["policy", "test", policy])
        .arg(suite_of(name))
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(!text.contains("FAIL"), "{text}");
    let summary = text.lines().last().unwrap();
    let expected =
        format!("ok: {cases} passed, 0 failed; {cases} cases in {files} scenario files (");
    assert!(summary.starts_with(&expected), "{summary}");

    let out = baton(home.path())
        .args(["policy", "test", policy, "--output", "json"])
        .arg(suite_of(name))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(
        (report["passed"].as_u64(), report["failed"].as_u64()),
        (Some(cases), Some(0))
    );
    assert_eq!(report["scenarios"].as_array().unwrap().len(), files);
}

#[test]
fn the_conservative_policy_passes_its_scenario_suite() {
    assert_suite_passes(policies::CONSERVATIVE_PATH, "conservative", 33, 11);
}

#[test]
fn the_canary_policy_passes_its_scenario_suite() {
    assert_suite_passes(policies::CANARY_PATH, "canary", 18, 7);
}

#[test]
fn a_changed_expectation_fails_with_exit_1_and_a_diff() {
    let home = tempfile::tempdir().unwrap();
    let scenario = broken_scenario(home.path());
    let out = baton(home.path())
        .args(["policy", "test", "builtin:default"])
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stderr(&out), "error: 1 of 2 scenario cases failed\n");
    let text = stdout(&out);
    filtered(home.path(), || insta::assert_snapshot!(text));
}

#[test]
fn junit_report_is_well_formed_and_carries_the_failure() {
    let home = tempfile::tempdir().unwrap();
    let scenario = broken_scenario(home.path());
    let report = home.path().join("reports/junit.xml");
    std::fs::create_dir_all(report.parent().unwrap()).unwrap();
    let out = baton(home.path())
        .args(["policy", "test", "builtin:default", "--junit"])
        .arg(&report)
        .arg(default_suite().join("01-dev-happy-path.yaml"))
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let xml = std::fs::read_to_string(&report).unwrap();
    assert_well_formed(&xml);
    assert!(
        xml.contains(
            "<testsuites name=\"baton policy test\" tests=\"5\" failures=\"1\" errors=\"0\""
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<testsuite name=\"degraded rolls back and fails\""),
        "{xml}"
    );
    // The failing case carries the diff, escaped.
    let failure = xml
        .split("<failure ")
        .nth(1)
        .and_then(|f| f.split("</failure>").next())
        .unwrap_or_else(|| panic!("no failure element: {xml}"));
    assert!(
        failure.contains("- roll back dev from v1.2.5 to v1.2.3 by direct commit\n+ roll back dev from v1.2.5 to v1.2.4 by direct commit"),
        "{failure}"
    );
    assert!(
        failure.contains("(Deployment payments: Deployment &quot;payments&quot; exceeded"),
        "{failure}"
    );
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
}

/// Checks what a JUnit consumer needs: the declaration, balanced elements,
/// quoted attributes, and no raw `<` or stray `&` in text or attributes.
fn assert_well_formed(xml: &str) {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .unwrap_or_else(|| panic!("no XML declaration: {xml}"));
    let entities = |text: &str| {
        for (i, _) in text.match_indices('&') {
            let rest = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| rest.starts_with(e)),
                "unescaped & in {text:?}"
            );
        }
    };
    let mut open: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        entities(&rest[..lt]);
        let end = rest[lt..].find('>').expect("tag closes") + lt;
        let tag = &rest[lt + 1..end];
        assert!(!tag.contains('<'), "raw < inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else {
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            while !attrs.trim().is_empty() {
                let (key, value) = attrs.trim_start().split_once("=\"").expect("key=\"value\"");
                assert!(
                    !key.is_empty() && !key.contains(' '),
                    "attribute name {key:?}"
                );
                let close = value.find('"').expect("closing quote");
                entities(&value[..close]);
                attrs = &value[close + 1..];
            }
            if !self_closing {
                open.push(name.to_owned());
            }
        }
        rest = &rest[end + 1..];
    }
    entities(rest);
    assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
    assert!(open.is_empty(), "unclosed elements: {open:?}");
}

#[test]
fn an_unreadable_scenario_exits_2_naming_file_and_field() {
    let home = tempfile::tempdir().unwrap();
    let context =
        "context:\n  app: payments\n  stages:\n    - { name: dev, argocd_app: payments-dev }\n";
    let bad_time = home.path().join("bad-time.yaml");
    std::fs::write(
        &bad_time,
        format!("{context}steps:\n  - at: soon\n    event: {{ new-version: {{ version: v1 }} }}\n    expect: nothing\n"),
    )
    .unwrap();
    let out = baton(home.path())
        .args(["policy", "test", "builtin:default"])
        .arg(&bad_time)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: invalid scenario file {}: steps[0].at: invalid value: string \"soon\"",
            bad_time.display()
        )),
        "{err}"
    );
    assert!(err.contains("at line 6 column 9"), "{err}");

    // A reference that does not resolve: no observation to take.
    let no_observation = home.path().join("no-observation.yaml");
    std::fs::write(
        &no_observation,
        format!(
            "{context}steps:\n  - event: {{ health-observed: {{ stage: dev, version: v1, commit: c1, status: argocd }} }}\n    expect: nothing\n"
        ),
    )
    .unwrap();
    let out = baton(home.path())
        .args(["policy", "test", "builtin:default"])
        .arg(&no_observation)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: invalid scenario file {}: steps[0].event.health-observed.status: \
             no Argo CD observation of payments-dev at or before 0s in argocd.payments-dev\n",
            no_observation.display()
        )
    );

    // A directory without scenarios, and a path that does not exist.
    let out = baton(home.path())
        .args(["policy", "test", "builtin:default", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: cannot read scenario nowhere: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_policy_that_cannot_load_exits_3() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["policy", "test", policies::HOSTILE_FOREIGN_IMPORT_PATH])
        .arg(default_suite().join("01-dev-happy-path.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out)
            .contains("imports interfaces Baton does not offer: acme:exfil/http-client@1.0.0"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn diff_shows_a_foreign_capability_and_the_refusal() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args([
            "policy",
            "diff",
            "builtin:default",
            policies::HOSTILE_FOREIGN_IMPORT_PATH,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    filtered(home.path(), || insta::assert_snapshot!(text));

    let out = baton(home.path())
        .args([
            "policy",
            "diff",
            "builtin:default",
            policies::HOSTILE_FOREIGN_IMPORT_PATH,
        ])
        .args(["--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["identical"], false);
    let changes = &report["changes"];
    assert_eq!(changes["digest"]["changed"], true);
    assert_eq!(changes["wit_version"]["changed"], false);
    assert_eq!(changes["wit_version"]["new"], "0.2.0");
    let added: Vec<_> = changes["imports"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i["provider"].as_str().unwrap()))
        .collect();
    assert_eq!(added, [("acme:exfil/http-client@1.0.0", "other")]);
    // The component imports only what it calls: `git`, which the default
    // policy reads and this one never does, is reported as removed.
    let removed: Vec<_> = changes["imports"]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(removed, ["baton:policy/git@0.2.0"]);
    assert_eq!(
        changes["exports"]["unchanged"],
        serde_json::json!(["baton:policy/policy@0.2.0"])
    );
    assert_eq!(changes["metadata"]["name"]["old"], "baton-default-policy");
    assert_eq!(changes["metadata"]["name"]["new"], serde_json::Value::Null);
    assert_eq!(report["old"]["refused"], serde_json::Value::Null);
    assert!(
        report["new"]["refused"]
            .as_str()
            .unwrap()
            .contains("imports interfaces Baton does not offer"),
        "{report}"
    );
}

#[test]
fn diff_of_the_same_component_is_identical() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args([
            "policy",
            "diff",
            "builtin:default",
            policies::DEFAULT_PATH,
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["identical"], true);
    let changes = &report["changes"];
    for list in ["added", "removed", "version_changed"] {
        assert_eq!(
            changes["imports"][list],
            serde_json::json!([]),
            "imports {list}"
        );
        assert_eq!(
            changes["exports"][list],
            serde_json::json!([]),
            "exports {list}"
        );
    }
    assert_eq!(changes["metadata"]["version"]["changed"], false);
}

/// A scenario on the reference context: dev (direct commits), staging and
/// prod, a five-minute gate; `rest` holds `env_repo`, `argocd` and `steps`.
fn scenario(dir: &Path, name: &str, rest: &str) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        "context:\n  app: payments\n  stages:\n    \
         - {{ name: dev, argocd_app: payments-dev, direct_commit_allowed: true }}\n    \
         - {{ name: staging, argocd_app: payments-staging }}\n    \
         - {{ name: prod, argocd_app: payments-prod }}\n  \
         settings: {{ health_timeout: 5m }}\n\
         clock: {{ start: 2025-03-03T10:00:00Z }}\n{rest}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn test_one(home: &Path, policy: &str, path: &Path) -> Output {
    baton(home)
        .args(["policy", "test", policy])
        .arg(path)
        .output()
        .unwrap()
}

/// Days in times, `excludes:` alone and with `contains:`: a dev history a
/// day old rolls back to its last good version, and never by merge request.
const ROLLBACK_STEPS: &str = r#"env_repo:
  stages:
    dev:
      history:
        - { commit: c3, time: -10m, to_version: v3 }
        - { commit: c2, time: -1d, to_version: v2 }
        - { commit: c1, time: -2d12h, to_version: v1 }
argocd:
  payments-dev:
    - { at: -5m, health: Degraded, health_message: CrashLoopBackOff, revision: c3 }
steps:
  - name: a Degraded dev never rolls back by merge request
    event: { health-observed: { stage: dev, version: v3, status: argocd } }
    expect:
      excludes: ["* by merge request*"]
  - name: it rolls back to v2 and fails, and does not promote
    event: { health-observed: { stage: dev, version: v3, status: argocd } }
    expect:
      contains: ["roll back dev from v3 to v2 by direct commit"]
      excludes: ["set staging to *", "hold: *"]
"#;

#[test]
fn scenarios_take_days_and_assert_absent_actions() {
    let home = tempfile::tempdir().unwrap();
    let ok = scenario(home.path(), "days.yaml", ROLLBACK_STEPS);
    let out = test_one(home.path(), "builtin:default", &ok);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("ok: 2 passed, 0 failed; 2 cases in 1 scenario file"),
        "{}",
        stdout(&out)
    );

    // An excluded action the policy does decide fails the case and is
    // marked `!`.
    let present = scenario(
        home.path(),
        "present.yaml",
        &ROLLBACK_STEPS.replace(
            "excludes: [\"set staging to *\", \"hold: *\"]",
            "excludes: [\"fail: *\"]",
        ),
    );
    let out = test_one(home.path(), "builtin:default", &present);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let failure = [
        "  FAIL  2. it rolls back to v2 and fails, and does not promote",
        "          expected to contain, in order (- missing), and none of the excluded (! present):",
        "            roll back dev from v3 to v2 by direct commit",
        "          ! fail: dev is Degraded at v3 (CrashLoopBackOff); rolled back to v2",
    ]
    .join("\n");
    assert!(text.contains(&failure), "{text}");

    // An empty exclusion list could never fail: it is refused.
    let empty = scenario(
        home.path(),
        "empty.yaml",
        "steps:\n  - event: { new-version: { version: v1 } }\n    expect: { excludes: [] }\n",
    );
    let out = test_one(home.path(), "builtin:default", &empty);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: invalid scenario file {}: steps[0].expect.excludes: list at least one \
             action that must not be decided\n",
            empty.display()
        )
    );
}

/// A decision without actions told apart by its reason.
const WAITING_STEP: &str = r#"argocd:
  payments-dev:
    - { at: -1m, health: Progressing, revision: c1 }
env_repo:
  stages:
    dev:
      history:
        - { commit: c1, time: -5m, to_version: v1 }
steps:
  - name: dev is still progressing
    event: { health-observed: { stage: dev, version: v1, status: argocd } }
    expect:
      actions: []
      reasons: ["dev: Progressing*; waiting"]
"#;

#[test]
fn reasons_tell_one_empty_decision_from_another() {
    let home = tempfile::tempdir().unwrap();
    let ok = scenario(home.path(), "waiting.yaml", WAITING_STEP);
    let out = test_one(home.path(), "builtin:default", &ok);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // The same empty decision for another reason fails, naming the reason.
    let other = scenario(
        home.path(),
        "other.yaml",
        &WAITING_STEP.replace("dev: Progressing*; waiting", "dev: Degraded*"),
    );
    let out = test_one(home.path(), "builtin:default", &other);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("          - reason: dev: Degraded*\n"),
        "{}",
        stdout(&out)
    );

    // Reasons go with actions, contains or excludes: never alone or with
    // an error.
    for (expect, message) in [
        (
            "{ reasons: [x] }",
            "steps[0].expect.reasons: give reasons with actions (`actions: []` for a decision \
             without actions), contains or excludes",
        ),
        (
            "{ error: { kind: trap }, reasons: [x] }",
            "steps[0].expect.reasons: an error has no reasons: give reasons with actions, \
             contains or excludes",
        ),
    ] {
        let file = scenario(
            home.path(),
            "refused.yaml",
            &format!(
                "steps:\n  - event: {{ new-version: {{ version: v1 }} }}\n    expect: {expect}\n"
            ),
        );
        let out = test_one(home.path(), "builtin:default", &file);
        assert_eq!(out.status.code(), Some(2), "{expect}");
        assert_eq!(
            stderr(&out),
            format!(
                "error: invalid scenario file {}: {message}\n",
                file.display()
            ),
            "{expect}"
        );
    }
}

#[test]
fn steps_out_of_time_order_are_refused_naming_the_step() {
    let home = tempfile::tempdir().unwrap();
    let path = scenario(
        home.path(),
        "order.yaml",
        "steps:\n  - at: 1d\n    event: { new-version: { version: v1 } }\n    expect: nothing\n  \
         - at: 2h\n    event: { new-version: { version: v2 } }\n    expect: nothing\n",
    );
    let out = test_one(home.path(), "builtin:default", &path);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: invalid scenario file {}: steps[1].at: 7200s is earlier than the previous \
             step (86400s); steps run in time order\n",
            path.display()
        )
    );
}

#[test]
fn an_auto_merge_request_reads_as_the_readme_says() {
    // The hostile policy asks for prod by auto-merged merge request (the
    // host's guardrails would refuse it; `policy test` shows the decision).
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("auto-merge.yaml");
    std::fs::write(
        &path,
        "context:\n  app: payments\n  stages:\n    - { name: dev, argocd_app: payments-dev }\n    \
         - { name: prod, argocd_app: payments-prod, auto_merge_allowed: true }\n  \
         settings: { bad: auto-merge-prod }\n\
         steps:\n  - event: { new-version: { version: v2 } }\n    \
         expect:\n      actions: [\"set prod to v2 by merge request (auto-merge)\"]\n",
    )
    .unwrap();
    let out = test_one(home.path(), policies::HOSTILE_BAD_DECISIONS_PATH, &path);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
