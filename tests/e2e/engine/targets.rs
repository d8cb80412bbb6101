//! A stage that spans several clusters, through the real binary: prod is
//! deployed in `eu` and `us`, each from its own file by its own Argo CD
//! application on the simulator. One merge request changes both files in
//! one commit; after the merge `advance` gates both applications; one
//! region degrading rolls both back in one rollback merge request; `status`
//! shows each target; a policy built for contract 0.1 cannot be given the
//! stage; and `targets:` mistakes are configuration errors at their line.

use std::path::Path;

use serde_json::Value;

use super::env::{APP, Env, Setup, assert_code, stage_file, stderr, stdout};
use crate::policies;
use crate::support::{baton, git};

const REGIONS: [&str; 2] = ["eu", "us"];

fn two_regions(degrade_us: Option<&'static str>) -> Env {
    Env::new(Setup {
        prod_targets: REGIONS.to_vec(),
        degrade: degrade_us
            .map(|re| vec![("prod-us", re)])
            .unwrap_or_default(),
        ..Setup::default()
    })
}

/// The audit record JSON Schema, compiled.
fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/audit-record.v1.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid schema")
}

/// `version` through dev and staging to an open prod merge request.
fn up_to_the_prod_request(env: &Env, version: &str) {
    assert_code(&env.baton(&["promote", "--app", APP, "--tag", version]), 0);
    env.merge("staging", version);
    let out = env.baton(&["advance", "--app", APP]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains(&format!("set prod to {version} by merge request")),
        "{}",
        stdout(&out)
    );
}

/// The file of region `label` at `rev`.
fn region_file(env: &Env, rev: &str, label: &str) -> String {
    env.git(&[
        "show",
        &format!("{rev}:{}", stage_file(&format!("prod-{label}"))),
    ])
}

/// Asserts that the one commit at the tip of `branch` changes exactly the
/// files of both regions, each from `from` to `to` and nothing else.
fn one_commit_changes_both_regions(env: &Env, branch: &str, from: &str, to: &str) {
    let changed = env.git(&["show", "--name-only", "--format=", branch]);
    let mut files: Vec<&str> = changed.lines().collect();
    files.sort_unstable();
    assert_eq!(
        files,
        REGIONS.map(|l| stage_file(&format!("prod-{l}"))),
        "{changed}"
    );
    for label in REGIONS {
        let before = region_file(env, &format!("{branch}~1"), label);
        let after = region_file(env, branch, label);
        let expected = before.replace(
            &format!("tag: \"{from}\" # set by Baton"),
            &format!("tag: \"{to}\" # set by Baton"),
        );
        assert_ne!(before, expected, "{label} held {from} before");
        assert_eq!(after, expected, "{label}: only the tag changes");
    }
}

#[test]
fn prod_in_two_regions_is_promoted_by_one_merge_request_and_gated_on_both() {
    let env = two_regions(None);
    up_to_the_prod_request(&env, "v1.0.1");

    let branch = format!("baton/{APP}/prod/v1.0.1");
    let prod_mrs: Vec<_> = env
        .merge_requests()
        .into_iter()
        .filter(|m| m.source_branch.starts_with(&format!("baton/{APP}/prod/")))
        .collect();
    assert_eq!(prod_mrs.len(), 1, "{prod_mrs:?}");
    assert_eq!(prod_mrs[0].source_branch, branch);
    assert_eq!(prod_mrs[0].title, "prod(payments): v1.0.1");
    one_commit_changes_both_regions(&env, &branch, "v1.0.0", "v1.0.1");
    assert_eq!(
        env.git(&["rev-parse", &format!("{branch}~1")]),
        env.git(&["rev-parse", "main"]),
        "the request's one commit sits on main"
    );

    env.merge("prod", "v1.0.1");
    let out = env.baton(&["advance", "--app", APP]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("held: v1.0.1 is healthy in prod; promotion of payments complete"),
        "{}",
        stdout(&out)
    );

    // The gate watched both applications and handed the policy both.
    let records = env.audit_records();
    let validator = schema();
    for record in &records {
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    let gate = records
        .iter()
        .flat_map(|r| r["gates"].as_array().unwrap())
        .find(|g| g["stage"] == "prod")
        .expect("a prod gate");
    assert_eq!(gate["result"], "decided");
    let targets = gate["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{gate:#}");
    for (target, label) in targets.iter().zip(REGIONS) {
        assert_eq!(target["label"], label);
        assert_eq!(target["argocd_app"], format!("payments-prod-{label}"));
        assert_eq!(target["status"]["health"], "Healthy", "{gate:#}");
        assert_eq!(target["status"]["sync"], "Synced", "{gate:#}");
    }
    // The decision that passed saw both regions Healthy.
    let passed = records
        .iter()
        .flat_map(|r| r["decisions"].as_array().unwrap())
        .filter_map(|d| d["event"].get("HealthObserved"))
        .find(|e| {
            e["stage"] == "prod"
                && e["targets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|t| t["status"]["health"] == "Healthy")
        })
        .expect("an observation of both regions");
    assert_eq!(passed["version"], "v1.0.1");

    // status: a row per region under prod, and each target in JSON.
    let out = env.baton(&["status", "--app", APP]);
    assert_code(&out, 0);
    let text = stdout(&out);
    let prod_row = text
        .lines()
        .find(|l| l.starts_with("prod "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        prod_row.contains("v1.0.1") && prod_row.contains("2 targets"),
        "{text}"
    );
    for label in REGIONS {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("  {label} (payments-prod-{label})")))
            .unwrap_or_else(|| panic!("no {label} row in\n{text}"));
        assert!(
            row.contains("v1.0.1") && row.contains("Healthy / Synced @"),
            "{row}"
        );
    }
    let out = env.baton(&["status", "--app", APP, "--output", "json"]);
    assert_code(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let prod = &report["stages"][2];
    assert_eq!(prod["name"], "prod");
    assert_eq!(prod["version"], "v1.0.1");
    for (target, label) in prod["targets"].as_array().unwrap().iter().zip(REGIONS) {
        assert_eq!(target["label"], label);
        assert_eq!(target["version"], "v1.0.1");
        assert_eq!(
            target["file"],
            stage_file(&format!("prod-{label}")).as_str()
        );
        assert_eq!(target["argocd"]["health"], "Healthy", "{prod:#}");
    }
    // A single-target stage has its one target, unlabelled.
    assert_eq!(report["stages"][0]["targets"][0]["label"], "");
    assert_eq!(
        report["stages"][0]["targets"][0]["argocd_app"],
        "payments-dev"
    );
}

#[test]
fn one_region_degrading_rolls_both_back_in_one_merge_request() {
    let env = two_regions(Some(r"^v1\.0\.2$"));
    up_to_the_prod_request(&env, "v1.0.1");
    env.merge("prod", "v1.0.1");
    assert_code(&env.baton(&["advance", "--app", APP]), 0);
    up_to_the_prod_request(&env, "v1.0.2");
    env.merge("prod", "v1.0.2");
    for label in REGIONS {
        assert!(region_file(&env, "main", label).contains("tag: \"v1.0.2\""));
    }

    let out = env.baton(&["advance", "--app", APP]);
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("prod/us (payments-prod-us) is Degraded at v1.0.2"),
        "{err}"
    );
    assert!(err.contains("rolled back to v1.0.1"), "{err}");

    // One rollback request, whose one commit puts both regions back.
    let branch = format!("baton/{APP}/prod/rollback-v1.0.1");
    let rollbacks: Vec<_> = env
        .merge_requests()
        .into_iter()
        .filter(|m| m.source_branch.contains("/rollback-"))
        .collect();
    assert_eq!(rollbacks.len(), 1, "{rollbacks:?}");
    assert_eq!(rollbacks[0].source_branch, branch);
    one_commit_changes_both_regions(&env, &branch, "v1.0.2", "v1.0.1");
    let trailers = env.git(&["log", "-1", "--format=%(trailers:only,unfold)", &branch]);
    assert!(trailers.contains("Baton-Rollback-Of: v1.0.2"), "{trailers}");
    let records = env.audit_records();
    let failed = records
        .iter()
        .find(|r| r["outcome"]["status"] == "failed")
        .expect("the failed advance");
    assert_eq!(failed["outcome"]["rolled_back"], true);
    let gate = &failed["gates"][0];
    assert_eq!(gate["stage"], "prod");
    assert_eq!(
        gate["targets"][1]["status"]["health"], "Degraded",
        "{gate:#}"
    );

    // Merged, the rollback is gated in both regions and ends the run.
    env.merge_branch(&branch, serde_json::json!({}));
    let out = env.baton(&["advance", "--app", APP]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("held: prod is healthy at v1.0.1 after rolling back v1.0.2"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_hand_edit_of_one_region_is_a_change_of_the_stage() {
    let env = two_regions(None);
    up_to_the_prod_request(&env, "v1.0.1");
    env.merge("prod", "v1.0.1");
    assert_code(&env.baton(&["advance", "--app", APP]), 0);

    // Someone sets only the us region back by hand; eu keeps v1.0.1.
    let work = env.clone_to("hand");
    let file = work.join(stage_file("prod-us"));
    let values = std::fs::read_to_string(&file).unwrap();
    assert!(values.contains("tag: \"v1.0.1\""), "{values}");
    std::fs::write(&file, values.replace("v1.0.1", "v1.0.0")).unwrap();
    git(
        &work,
        &["commit", "-q", "-a", "-m", "prod us: back to v1.0.0"],
    );
    git(&work, &["push", "-q", "origin", "main"]);
    let hand = git(&work, &["rev-parse", "HEAD"]);

    let out = env.baton(&["advance", "--app", APP]);
    let records = env.audit_records();
    let record = records
        .iter()
        .find(|r| r["env_repo"]["tip_at_start"] == hand.as_str())
        .unwrap_or_else(|| panic!("no record of the advance: {}", stderr(&out)));
    let changed = &record["decisions"][0]["event"]["StageChanged"];
    assert_eq!(changed["stage"], "prod", "{record:#}");
    assert_eq!(changed["from_version"], "v1.0.1");
    assert_eq!(changed["to_version"], "v1.0.0");
    assert_eq!(changed["commit"], hand.as_str());
    assert_eq!(changed["origin"], "OutOfBand");
    // One event for the stage, whichever of its targets changed.
    let events = record["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event"].get("StageChanged").is_some())
        .count();
    assert_eq!(events, 1, "{record:#}");
}

#[test]
fn a_0_1_policy_is_not_given_a_stage_with_several_targets() {
    let env = Env::new(Setup {
        prod_targets: REGIONS.to_vec(),
        policy: format!("  path: {}\n", policies::FIXTURE_CONTRACT_0_1_PATH),
        ..Setup::default()
    });
    let before = env.fingerprint();
    let refused = "stage prod has 2 targets (eu, us), but the policy was built for \
                   baton:policy@0.1.0, which has one target per stage";
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]);
    assert_code(&out, 2);
    let err = stderr(&out);
    assert!(err.contains(refused), "{err}");
    assert_eq!(env.fingerprint(), before, "nothing was written");
    // `config check` says so before any run.
    let out = env.baton(&["config", "check"]);
    assert_code(&out, 2);
    let err = stderr(&out);
    assert!(err.contains(&format!("apps.{APP}: policy ")), "{err}");
    assert!(err.contains(refused), "{err}");
}

/// `baton.yaml` with prod written as `prod` (indented as a stage).
fn config_with_prod(prod: &str) -> String {
    format!(
        "env_repo:\n  url: https://git.example.com/acme/env.git\napps:\n  payments:\n    stages:\n      \
         - {{ name: dev, file: dev.yaml, field: \"helm:image.tag\", argocd_app: payments-dev }}\n{prod}"
    )
}

/// `baton config check` of `yaml`: exit 2, and its one error line.
fn config_error(yaml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("baton.yaml"), yaml).unwrap();
    let out = baton(dir.path())
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    stderr(&out).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn targets_mistakes_are_configuration_errors_at_their_line() {
    let target = |label: &str, file: &str, field: &str| {
        format!(
            "          - {{ label: {label}, file: {file}, field: \"{field}\", argocd_app: payments-prod-{label} }}\n"
        )
    };
    let prod =
        |targets: &[String]| format!("      - name: prod\n        targets:\n{}", targets.concat());
    let eu = target("eu", "prod/eu.yaml", "helm:image.tag");

    let cases = [
        (
            prod(&[eu.clone(), target("eu", "prod/us.yaml", "helm:image.tag")]),
            "baton.yaml:10: apps.payments.stages[1].targets[1].label: duplicate target label \"eu\" \
             in stage prod",
        ),
        (
            prod(&[eu.clone(), target("", "prod/us.yaml", "helm:image.tag")]),
            "baton.yaml:10: apps.payments.stages[1].targets[1].file: target 2 of stage prod needs a \
             label: a stage with several targets names each (e.g. label: eu)",
        ),
        (
            prod(&[
                eu.clone(),
                target("us west", "prod/us.yaml", "helm:image.tag"),
            ]),
            "baton.yaml:10: apps.payments.stages[1].targets[1].label: \"us west\" is not a target \
             label: use letters, digits, `.`, `_` and `-`",
        ),
        (
            prod(&[eu.clone(), target("us", "prod/eu.yaml", "helm:image.tag")]),
            "baton.yaml:10: apps.payments.stages[1].targets[1].field: target us of stage prod \
             writes prod/eu.yaml helm:image.tag, like target eu; each target needs a field of its \
             own",
        ),
        (
            prod(&[eu.clone(), target("us", "../us.yaml", "helm:image.tag")]),
            "baton.yaml:10: apps.payments.stages[1].targets[1].file: \"../us.yaml\" is not a file \
             path inside the repository",
        ),
        (
            prod(&[
                eu.clone(),
                target("us", "prod/us.yaml", "jsonnet:image.tag"),
            ]),
            "baton.yaml:10: apps.payments.stages[1].targets[1].field: ",
        ),
        (
            prod(&[
                eu.clone(),
                target("us", "prod/us.yaml", "kustomize:payments:digest"),
            ]),
            "baton.yaml:10: apps.payments.stages[1].targets[1].field: prod us holds only a digest",
        ),
        (
            "      - name: prod\n        argocd_app: payments-prod\n        targets:\n".to_owned()
                + &eu,
            "baton.yaml:8: apps.payments.stages[1].argocd_app: stage prod has targets:, so its \
             argocd_app belongs in each target",
        ),
        (
            "      - name: prod\n        targets: []\n".to_owned(),
            "baton.yaml:8: apps.payments.stages[1].targets: stage prod needs at least one target",
        ),
        (
            "      - name: prod\n        file: prod.yaml\n".to_owned(),
            "baton.yaml:7: apps.payments.stages[1].name: stage prod needs field, argocd_app (or \
             targets: with them for each target)",
        ),
    ];
    for (prod, expected) in cases {
        let err = config_error(&config_with_prod(&prod));
        assert!(
            err.starts_with(&format!("error: {expected}")),
            "expected {expected:?}, got {err:?} for\n{prod}"
        );
    }

    // Written right, `config check` lists each target.
    let dir = tempfile::tempdir().unwrap();
    let yaml = config_with_prod(&prod(&[eu, target("us", "prod/us.yaml", "helm:image.tag")]));
    std::fs::write(dir.path().join("baton.yaml"), yaml).unwrap();
    let out = baton(dir.path())
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "  2. prod     2 targets, changed together [merge request only]\n     \
             - eu     prod/eu.yaml helm:image.tag -> Argo CD payments-prod-eu\n     \
             - us     prod/us.yaml helm:image.tag -> Argo CD payments-prod-us\n"
        ),
        "{text}"
    );
}
