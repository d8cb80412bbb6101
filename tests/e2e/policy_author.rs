//! A policy author's first hour, from the README alone: the policy project
//! it shows builds small and passes the default suite, a new Rust project
//! builds and passes its own tests, the README's scenario, host-responses
//! and Argo CD scenario examples work as written, and a merge request is
//! merged on the simulators as a reviewer would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;

use baton::runtime::{RecordedWorld, ScriptedAnswer, World, WorldError};
use baton::sim::forge::{MergeStrategy, SimMrState};

use crate::engine::env::{APP, Env, FORGE_TOKEN, ForgeKind, Setup, assert_code};
use crate::support::{baton, git};

/// Guest builds of this file one at a time (cargo would serialize them on
/// the shared target directory anyway; this keeps their output apart).
static BUILDING: Mutex<()> = Mutex::new(());

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The fenced block of the README whose first line is `first`, without
/// its fences.
fn readme_block(first: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find(&format!("\n{first}\n"))
        .unwrap_or_else(|| panic!("the README has no block starting with {first:?}"));
    let body = &readme[start + 1..];
    let end = body.find("\n```").expect("the block ends");
    body[..end + 1].to_owned()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A guest build sharing the policies' target directory (warm from
/// `host/build.rs`), offline, without the host's flags.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(dir)
        .args(args)
        .arg("--offline")
        .env("CARGO_TARGET_DIR", root().join("target").join("policies"))
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap()
}

/// `policy inspect --output json`: the component's size and its imports of
/// Baton's interfaces.
fn inspect(home: &Path, wasm: &Path) -> (u64, Vec<String>) {
    let out = baton(home)
        .args(["policy", "inspect", "--output", "json"])
        .arg(wasm)
        .output()
        .unwrap();
    assert_code_is(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let imports = report["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .filter(|n| n.starts_with("baton:"))
        .collect();
    (report["size"].as_u64().unwrap(), imports)
}

fn assert_code_is(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

const ONLY_GIT: [&str; 2] = ["baton:policy/types@0.2.0", "baton:policy/git@0.2.0"];

#[test]
fn the_readme_policy_project_builds_small_and_passes_the_default_suite() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("payments-policy");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = readme_block("# Cargo.toml");
    let sdk = root().join("policies").join("sdk");
    let copied = manifest.replace(
        "path = \"../baton/policies/sdk\"",
        &format!("path = {:?}", sdk.display().to_string()),
    );
    assert_ne!(copied, manifest, "the README's SDK path changed");
    std::fs::write(dir.join("Cargo.toml"), copied).unwrap();
    // The crate versions Baton's own policies build with.
    std::fs::copy(
        root().join("policies").join("Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .unwrap();
    let lib = readme_block("// src/lib.rs: the reference flow; change the rules in `decide`.");
    std::fs::write(dir.join("src").join("lib.rs"), lib).unwrap();

    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let build = cargo(&dir, &["build", "--target", "wasm32-wasip2", "--release"]);
    assert!(build.status.success(), "{}", text(&build.stderr));
    let wasm = root().join("target/policies/wasm32-wasip2/release/payments_policy.wasm");

    let (size, imports) = inspect(work.path(), &wasm);
    // The README states 169 KB; cargo's default release profile gives
    // 226 KB (no LTO), so this fails if the profile is lost.
    assert!(size < 200_000, "{size} bytes");
    assert_eq!(imports, ONLY_GIT);

    let out = baton(work.path())
        .args(["policy", "test"])
        .arg(&wasm)
        .arg(root().join("policies/default/scenarios"))
        .output()
        .unwrap();
    assert_code_is(&out, 0);
    let report = text(&out.stdout);
    assert!(report.contains(" passed, 0 failed; "), "{report}");
}

#[test]
fn a_new_rust_project_builds_passes_its_unit_test_and_imports_only_git() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("freeze-policy");
    let out = baton(work.path())
        .args(["policy", "new", "freeze-policy", "--lang", "rust", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_code_is(&out, 0);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("\n[profile.release]\n"), "{manifest}");

    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    // Its unit test, natively against the SDK's fake world and builders.
    let test = cargo(&dir, &["test"]);
    assert!(
        test.status.success(),
        "{}\n{}",
        text(&test.stdout),
        text(&test.stderr)
    );
    assert!(
        text(&test.stdout)
            .contains("test tests::a_new_version_goes_to_dev_by_commit_and_is_gated ... ok"),
        "{}",
        text(&test.stdout)
    );
    let build = Command::new("bash")
        .arg(dir.join("build.sh"))
        .env("CARGO_TARGET_DIR", root().join("target").join("policies"))
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build.stderr));
    let (size, imports) = inspect(work.path(), &dir.join("policy.wasm"));
    assert!(size < 400_000, "{size} bytes");
    assert_eq!(imports, ONLY_GIT);
    let out = baton(&dir)
        .args(["policy", "test", "policy.wasm", "scenarios"])
        .output()
        .unwrap();
    assert_code_is(&out, 0);
}

#[test]
fn the_readme_scenario_example_passes_against_the_default_policy() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("01-dev-happy-path.yaml");
    std::fs::write(&path, readme_block("name: dev happy path")).unwrap();
    let out = baton(home.path())
        .args(["policy", "test", "builtin:default"])
        .arg(&path)
        .output()
        .unwrap();
    assert_code_is(&out, 0);
    assert!(
        text(&out.stdout).contains("ok: 3 passed, 0 failed; 3 cases in 1 scenario file"),
        "{}",
        text(&out.stdout)
    );
}

/// Every call of the README's host-responses example, as the runtime asks
/// it: each entry decodes and answers its call.
#[test]
fn the_readme_host_responses_answer_every_capability_call() {
    let block = readme_block("# host-responses.yaml");
    let value: serde_json::Value = yaml_serde::from_str(&block).unwrap();
    let answers: Vec<ScriptedAnswer> = serde_json::from_value(value).unwrap();
    let mut world = RecordedWorld::from_script(&answers);

    let history = world.stage_history("dev", 4).unwrap();
    assert_eq!(
        (history.len(), history[1].trailers[0].value.as_str()),
        (2, "v1.2.1")
    );
    assert_eq!(history[1].merge_request, Some(12));
    assert_eq!(world.stage_version("prod", None).unwrap(), "v1.2.0");
    let targets = world.target_versions("prod", None).unwrap();
    assert_eq!(targets[0].version.as_deref(), Some("v1.2.0"));
    let file = world
        .read_file("overlays/prod/payments/values.yaml", None)
        .unwrap();
    assert_eq!(String::from_utf8(file).unwrap(), "tag: v1.2.0\n");
    assert!(matches!(
        world.read_file("missing.yaml", None),
        Err(WorldError::Capability(baton::runtime::CapabilityError::NotFound(m))) if m == "file missing.yaml"
    ));
    let status = world.application_status("payments-dev").unwrap();
    assert_eq!(status.resources[0].kind, "Deployment");
    assert_eq!(status.reconciled_at, Some(1_740_996_060_000));
    let open = world
        .find_open_merge_request("baton/payments/prod/v1.2.3")
        .unwrap()
        .unwrap();
    assert_eq!(
        (open.number, open.labels.as_slice()),
        (14, ["baton".to_owned()].as_slice())
    );
    let merged = world.merge_request(12).unwrap();
    assert_eq!(merged.merge_commit.as_deref(), Some("77e1c0d4a2b9"));
    assert_eq!(world.now().unwrap(), 1_740_996_000_000);
    let promql = r#"sum(rate(errors{env="dev"}[5m]))"#;
    let samples = world.metrics_query(promql, None).unwrap();
    assert_eq!(
        (samples[0].labels[0].value.as_str(), samples[0].value),
        ("dev", 0.02)
    );
    let series = world
        .metrics_query_range(promql, 1_740_995_400_000, 1_740_996_000_000, 300_000)
        .unwrap();
    assert!(series[0].points[1].value.is_nan());
    assert!(matches!(
        world.metrics_query("up", None),
        Err(WorldError::Capability(
            baton::runtime::MetricsError::Unreachable(_)
        ))
    ));
    assert_eq!(world.unused(), Vec::<String>::new());
}

/// A bare repo with the three stage files of the README's examples.
fn env_repo(root: &Path) -> PathBuf {
    let work = root.join("work");
    for stage in ["dev", "staging", "prod"] {
        let dir = work.join("overlays").join(stage).join("payments");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("values.yaml"), "image:\n  tag: v1.2.3\n").unwrap();
    }
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "init"]);
    git(root, &["clone", "-q", "--bare", "work", "env.git"]);
    root.join("env.git")
}

#[test]
fn the_argocd_scenario_schema_checks_the_readme_example_which_the_simulator_runs() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["sim", "argocd", "--scenario-schema"])
        .output()
        .unwrap();
    assert_code_is(&out, 0);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let example = readme_block("# argocd-scenario.yaml");
    let instance: serde_json::Value = yaml_serde::from_str(&example).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // The mistakes people made without it: `degrade_versions` at the top,
    // and `apps` as a mapping.
    for wrong in [
        serde_json::json!({ "degrade_versions": "-rc", "apps": [] }),
        serde_json::json!({ "apps": { "payments-dev": { "file": "values.yaml" } } }),
    ] {
        assert!(!validator.is_valid(&wrong), "{wrong}");
    }

    // The simulator runs the example: dev goes Healthy at the branch tip
    // after the two injected 503s.
    let bare = env_repo(home.path());
    let file = home.path().join("argocd-scenario.yaml");
    std::fs::write(&file, example).unwrap();
    let mut child = baton(home.path())
        .args(["sim", "argocd", "--repo"])
        .arg(&bare)
        .arg("--scenario")
        .arg(&file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = KillOnDrop(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    let mut app = serde_json::Value::Null;
    for _ in 0..400 {
        let (status, body) = rt.block_on(async {
            let r = client
                .get(format!("{url}/api/v1/applications/payments-dev"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        });
        statuses.push(status);
        if status == 200 {
            app = serde_json::from_str(&body).unwrap();
            if app["status"]["health"]["status"] == "Healthy"
                && app["status"]["sync"]["status"] == "Synced"
            {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert_eq!(statuses[..2], [503, 503]);
    assert_eq!(app["status"]["health"]["status"], "Healthy", "{app}");
    assert_eq!(app["spec"]["source"]["targetRevision"], "main");
    assert_eq!(app["metadata"]["namespace"], "argocd");
}

/// Kills a simulator process when the test ends, even on failure.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Promotes v1.1.0 (dev by commit, then the staging merge request), then
/// merges that request with `baton sim merge` as `alice`.
fn merge_as_a_reviewer(forge: ForgeKind, by: &[&str]) {
    let env = Env::new(Setup {
        forge,
        ..Setup::default()
    });
    assert_code(&env.baton(&["promote", "--app", APP, "--tag", "v1.1.0"]), 0);
    let branch = format!("baton/{APP}/staging/v1.1.0");
    let open = env
        .merge_requests()
        .into_iter()
        .find(|m| m.source_branch == branch)
        .unwrap();
    let api = env.forge.api_url();
    let number = open.iid.to_string();
    let mut args = vec![
        "sim",
        "merge",
        "--api",
        api,
        "--project",
        "acme/gitops-env",
        "--as",
        "alice",
        "--token-env",
        "FORGE_TOKEN",
    ];
    args.extend(by.iter().map(|a| match *a {
        "BRANCH" => branch.as_str(),
        "NUMBER" => number.as_str(),
        other => other,
    }));
    let out = baton(env.dir())
        .args(&args)
        .env("FORGE_TOKEN", FORGE_TOKEN)
        .output()
        .unwrap();
    assert_code_is(&out, 0);
    env.assert_no_token(&text(&out.stdout), "stdout");

    let merged = env
        .merge_requests()
        .into_iter()
        .find(|m| m.iid == open.iid)
        .unwrap();
    assert_eq!(merged.state, SimMrState::Merged);
    assert_eq!(merged.merged_by.as_deref(), Some("alice"));
    let landed = merged.merge_commit_sha.unwrap();
    let mark = match forge {
        ForgeKind::GitLab(_) => "!",
        ForgeKind::GitHub => "#",
    };
    assert_eq!(
        text(&out.stdout),
        format!(
            "merged {mark}{} in acme/gitops-env as alice: {} is on the target branch\n",
            open.iid,
            &landed[..12]
        )
    );
    assert_eq!(env.git(&["rev-parse", "main"]), landed);
    assert!(
        env.file("staging").contains("v1.1.0"),
        "{}",
        env.file("staging")
    );

    // Nothing left to merge from that branch: a usage error naming it.
    let out = baton(env.dir())
        .args(["sim", "merge", "--api", api, "--branch", &branch])
        .args(["--token-env", "FORGE_TOKEN"])
        .env("FORGE_TOKEN", FORGE_TOKEN)
        .output()
        .unwrap();
    assert_code_is(&out, 2);
    assert_eq!(
        text(&out.stderr),
        format!("error: no open merge request from {branch} in acme/gitops-env\n")
    );
}

#[test]
fn sim_merge_merges_on_gitlab_by_branch_as_the_reviewer() {
    merge_as_a_reviewer(
        ForgeKind::GitLab(MergeStrategy::MergeCommit),
        &["--branch", "BRANCH"],
    );
}

#[test]
fn sim_merge_squashes_on_github_by_number_as_the_reviewer() {
    merge_as_a_reviewer(ForgeKind::GitHub, &["--iid", "NUMBER", "--squash"]);
}
