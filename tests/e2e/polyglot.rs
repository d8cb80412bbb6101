//! Policies in Python and JavaScript: the ports of the default policy pass
//! its scenario suite, import nothing but the contract, replay identically
//! and decide like the Rust policy; the hostile members are contained with
//! the same typed errors as the Rust ones.
//!
//! The components are built through their `build.sh` once per test run
//! (which installs the pinned toolchains under `target/polyglot` when they
//! are missing). Without the toolchains the tests skip with the reason;
//! with `BATON_REQUIRE_POLYGLOT=1` (CI) they fail instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use baton::runtime::{
    Action, Context, DecideError, Decided, Event, NewVersion, NoWorld, PolicyRuntime, PolicySource,
};
use serde_json::Value;

use crate::support::{baton, context, record_files, stage, test_limits};

use crate::engine::env::{APP, Env, Setup, assert_code, stdout};

/// The polyglot components, by language and directory under `policies/`.
const PORTS: [(&str, &str); 4] = [
    ("python", "default"),
    ("python", "hostile"),
    ("js", "default"),
    ("js", "hostile"),
];

static BUILDS: [OnceLock<Result<PathBuf, String>>; 4] = [const { OnceLock::new() }; 4];
/// Builds of one language share generated bindings: one build at a time.
static BUILDING: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

fn build(lang: &str, dir: &str) -> Result<PathBuf, String> {
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let here = root().join("policies").join(lang).join(dir);
    let script = here.join("build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        return Err(format!(
            "{} failed ({}):\n{}",
            script.display(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(here.join("policy.wasm"))
}

/// The built component, or `None` (with the reason printed) when the
/// toolchain cannot be installed and `BATON_REQUIRE_POLYGLOT` is not `1`.
fn built(lang: &str, dir: &str) -> Option<PathBuf> {
    let i = PORTS
        .iter()
        .position(|p| *p == (lang, dir))
        .expect("a known port");
    match BUILDS[i].get_or_init(|| build(lang, dir)) {
        Ok(path) => Some(path.clone()),
        Err(why) if std::env::var("BATON_REQUIRE_POLYGLOT").as_deref() == Ok("1") => {
            panic!("BATON_REQUIRE_POLYGLOT=1 and the {lang} {dir} policy cannot be built: {why}")
        }
        Err(why) => {
            eprintln!("skipping: the {lang} {dir} policy cannot be built: {why}");
            None
        }
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// A runtime with the test limits and a compile cache shared by the tests,
/// so each 12-18 MB component is compiled once per run.
fn runtime() -> PolicyRuntime {
    let cache = root().join("target").join("polyglot").join("compiled");
    PolicyRuntime::new(test_limits(), Some(cache)).expect("runtime")
}

#[test]
fn both_ports_pass_the_default_scenario_suite_unchanged() {
    // Whatever the suite holds, each port passes every case of it, as the
    // Rust policy does.
    let summary = |policy: &str| {
        let home = tempfile::tempdir().unwrap();
        let out = baton(home.path())
            .args(["policy", "test", policy])
            .arg(root().join("policies/default/scenarios"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{policy}: {text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("ok: "))
            .unwrap_or_else(|| panic!("{policy}: no summary in {text}"));
        // `ok: 48 passed, 0 failed; 48 cases in 17 scenario files (12 ms)`
        line.rsplit_once(" (").map_or(line, |(s, _)| s).to_owned()
    };
    let rust = summary("builtin:default");
    for lang in ["python", "js"] {
        let Some(policy) = built(lang, "default") else {
            return;
        };
        assert_eq!(summary(path_str(&policy)), rust, "{lang}");
    }
}

#[test]
fn ports_import_only_the_contract_and_name_their_language() {
    for (lang, language) in [("python", "Python"), ("js", "JavaScript")] {
        for dir in ["default", "hostile"] {
            let Some(policy) = built(lang, dir) else {
                return;
            };
            let loaded = runtime()
                .load(&PolicySource::File(policy.clone()), None)
                .unwrap();
            let imports: Vec<String> = loaded
                .interfaces
                .imports
                .iter()
                .map(ToString::to_string)
                .collect();
            assert!(
                imports.iter().all(|i| i.starts_with("baton:policy/")),
                "{lang} {dir}: {imports:?}"
            );
            assert_eq!(loaded.wit_version, "0.2.0");
        }
        let policy = built(lang, "default").expect("built above");
        let home = tempfile::tempdir().unwrap();
        let out = baton(home.path())
            .args(["policy", "inspect", path_str(&policy), "--output", "json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            report["producers"]["language"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l == language),
            "{lang}: {}",
            report["producers"]
        );
        assert_eq!(
            report["metadata"]["name"],
            format!("baton-default-policy-{lang}")
        );
    }
}

/// `payments` with dev and staging only.
fn two_stages(settings: &str) -> Context {
    context(vec![stage("dev", true), stage("staging", false)], settings)
}

fn misbehave(policy: &baton::runtime::LoadedPolicy, mode: &str) -> DecideError {
    let event = Event::NewVersion(NewVersion {
        version: "v1.2.3".into(),
        digest: None,
    });
    let ctx = two_stages(&format!(r#"{{"mode":"{mode}"}}"#));
    let (decided, _): (Decided, _) = policy.decide(Box::new(NoWorld), &ctx, &event);
    match decided.result {
        Err(e) => e,
        Ok(other) => panic!("{mode}: expected a trap, got {other:?}"),
    }
}

fn hostile(lang: &str) -> Option<baton::runtime::LoadedPolicy> {
    let policy = built(lang, "hostile")?;
    Some(
        runtime()
            .load(&PolicySource::File(policy), None)
            .expect("the hostile policy loads"),
    )
}

/// A loop runs out of fuel and an allocation past the memory limit is
/// refused, with the limits of [`runtime`] named.
fn assert_limits_hold(policy: &baton::runtime::LoadedPolicy) {
    let err = misbehave(policy, "loop");
    assert!(
        matches!(err, DecideError::OutOfFuel { limit: 200_000_000 }),
        "{err}"
    );
    match misbehave(policy, "alloc") {
        DecideError::Memory { desired, limit } => {
            assert_eq!(limit, 64 << 20);
            assert!(desired > limit);
        }
        other => panic!("alloc: {other}"),
    }
}

#[test]
fn hostile_python_is_contained_with_typed_errors() {
    let Some(policy) = hostile("python") else {
        return;
    };
    assert_limits_hold(&policy);
    // WASI is stubbed out at build time: the first socket or file call
    // traps inside the stub, before anything reaches the host.
    match misbehave(&policy, "socket") {
        DecideError::Trap { backtrace, .. } => {
            assert!(backtrace.contains("tcp_create_socket"), "{backtrace}")
        }
        other => panic!("socket: {other}"),
    }
    match misbehave(&policy, "file") {
        DecideError::Trap { backtrace, .. } => {
            assert!(backtrace.contains("filesystem_preopens"), "{backtrace}")
        }
        other => panic!("file: {other}"),
    }
    match misbehave(&policy, "raise") {
        DecideError::Panic { message, .. } => assert_eq!(
            message,
            "ValueError: policy bug: stage table is empty for payments (at misbehave.py:31)"
        ),
        other => panic!("raise: {other}"),
    }
}

#[test]
fn hostile_js_is_contained_with_typed_errors() {
    let Some(policy) = hostile("js") else {
        return;
    };
    assert_limits_hold(&policy);
    // http is disabled at build time: a request traps in the component.
    assert!(
        matches!(misbehave(&policy, "fetch"), DecideError::Trap { .. }),
        "fetch"
    );
    match misbehave(&policy, "raise") {
        DecideError::Panic { message, .. } => assert!(
            message.starts_with(
                "TypeError: policy bug: stage table is empty for payments (at misbehave.js:"
            ),
            "{message}"
        ),
        other => panic!("raise: {other}"),
    }
}

#[test]
fn a_python_exception_is_a_panic_in_the_cli_too() {
    let Some(policy) = built("python", "hostile") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("context.yaml"),
        "app: payments\nstages:\n  - { name: dev, file: f, field: \"helm:image.tag\", argocd_app: payments-dev, direct_commit_allowed: true, auto_merge_allowed: false }\nsettings: { mode: raise }\nrun_id: r\nmax_health_wait: 1000\ndry_run: false\n",
    )
    .unwrap();
    std::fs::write(
        home.path().join("event.yaml"),
        "{\"NewVersion\": {\"version\": \"v1\"}}\n",
    )
    .unwrap();
    let out = baton(home.path())
        .args(["policy", "eval", path_str(&policy)])
        .args(["--context", "context.yaml", "--event", "event.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: policy panicked: ValueError: policy bug: stage table is empty for payments (at misbehave.py:31)"),
        "{stderr}"
    );
}

#[test]
fn diff_of_the_rust_and_python_defaults_shows_imports_and_metadata() {
    let Some(policy) = built("python", "default") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["policy", "diff", "builtin:default", path_str(&policy)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "contract:    baton:policy@0.2.0 (unchanged)\n",
        "  name:        baton-default-policy -> baton-default-policy-python\n",
        "  version:     0.1.0 (unchanged)\n",
        "  authors:     The Baton developers (unchanged)\n",
        // The Python component carries no WASI at all, and imports every
        // capability of its world where the Rust one imports what it calls.
        "  - wasi:cli/environment@",
        "  - wasi:io/streams@",
        "  + baton:policy/clock@0.2.0 ",
        "  (2 unchanged)\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

/// The decisions of a promote run decided by `policy` that asked for
/// actions, with commit ids (which differ from run to run) masked, and the
/// run's record file. How many observations the gate made before the
/// decisive one depends on timing, so the "keep waiting" answers are left
/// out of the comparison (replay still checks every one).
fn promote_with(policy: &str) -> (Vec<Value>, tempfile::TempDir, String) {
    let env = Env::new(Setup {
        policy: format!("  path: {policy}\n  settings: {{ health_timeout: 20s }}\n"),
        ..Setup::default()
    });
    assert_code(&env.baton(&["promote", "--app", APP, "--tag", "v1.2.4"]), 0);
    let records = env.audit_records();
    assert_eq!(records.len(), 1);
    let sha = regex::Regex::new(r"\b[0-9a-f]{7,40}\b").unwrap();
    let decisions = records[0]["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["result"]["decision"]["actions"]
                .as_array()
                .is_none_or(|a| !a.is_empty())
        })
        .map(|d| {
            let text = serde_json::to_string(&d["result"]).unwrap();
            serde_json::from_str(&sha.replace_all(&text, "[SHA]")).unwrap()
        })
        .collect();
    let work = tempfile::tempdir().unwrap();
    let audit = work.path().join("baton-audit");
    std::fs::create_dir_all(&audit).unwrap();
    let written = record_files(&env.dir().join("baton-audit"));
    std::fs::copy(&written[0], audit.join("run.json")).unwrap();
    (decisions, work, "baton-audit/run.json".into())
}

#[test]
fn records_decided_by_python_and_js_replay_identically_and_match_rust() {
    let (Some(python), Some(js)) = (built("python", "default"), built("js", "default")) else {
        return;
    };
    let (rust_decisions, _, _) = promote_with("builtin:default");
    for policy in [python, js] {
        let (decisions, work, record) = promote_with(path_str(&policy));
        assert_eq!(decisions, rust_decisions, "{}", policy.display());
        let out = baton(work.path())
            .args(["policy", "replay", &record])
            .output()
            .unwrap();
        assert_code(&out, 0);
        let text = stdout(&out);
        assert!(
            text.starts_with("baton-audit/run.json: run ")
                && text.trim_end().ends_with(" decisions identical"),
            "{}: {text}",
            policy.display()
        );
        assert!(
            decisions
                .iter()
                .any(|d| d.to_string().contains("by merge request")
                    || d.to_string().contains("MergeRequest")),
            "the run reached the staging merge request: {decisions:?}"
        );
    }
}

#[test]
fn a_new_version_decides_the_same_in_every_language() {
    let (Some(python), Some(js)) = (built("python", "default"), built("js", "default")) else {
        return;
    };
    let event = Event::NewVersion(NewVersion {
        version: "v1.2.3".into(),
        digest: None,
    });
    let rust = runtime()
        .load(&PolicySource::Builtin("default".into()), None)
        .unwrap();
    let (expected, _) = rust.decide(Box::new(NoWorld), &two_stages("{}"), &event);
    let expected = expected.result.unwrap().unwrap();
    assert!(matches!(
        expected.actions.as_slice(),
        [Action::SetVersion(_), Action::AwaitHealth(_)]
    ));
    for policy in [python, js] {
        let loaded = runtime().load(&PolicySource::File(policy), None).unwrap();
        let (decided, _) = loaded.decide(Box::new(NoWorld), &two_stages("{}"), &event);
        assert_eq!(decided.result.unwrap().unwrap(), expected);
    }
}

/// Creates a project with `baton policy new` outside the repository, runs
/// its build.sh (toolchains from the test run's cache) and `baton policy
/// test` on its scenarios. `None` when the build's toolchain is missing.
fn new_project(lang: &str) -> Option<String> {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("my-policy");
    let out = baton(work.path())
        .args(["policy", "new", "my-policy", "--lang", lang, "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(dir.join("scenarios/01-promotion.yaml").is_file());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let build = Command::new("bash")
        .arg(dir.join("build.sh"))
        .env(
            "BATON_TOOLCHAIN_CACHE",
            root().join("target").join("polyglot"),
        )
        // Shared with the guest build of host/build.rs, so it is not cold.
        .env("CARGO_TARGET_DIR", root().join("target").join("policies"))
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    if !build.status.success() {
        let why = String::from_utf8_lossy(&build.stderr).into_owned();
        if std::env::var("BATON_REQUIRE_POLYGLOT").as_deref() == Ok("1") {
            panic!("BATON_REQUIRE_POLYGLOT=1 and a new {lang} project does not build: {why}");
        }
        eprintln!("skipping: a new {lang} project does not build here: {why}");
        return None;
    }
    let test = baton(&dir)
        .args(["policy", "test", "policy.wasm", "scenarios"])
        .output()
        .unwrap();
    assert_eq!(test.status.code(), Some(0), "{lang}: {test:?}");
    Some(String::from_utf8(test.stdout).unwrap())
}

#[test]
fn policy_new_projects_build_and_pass_their_scenarios_in_every_language() {
    for lang in ["rust", "python", "js"] {
        let Some(report) = new_project(lang) else {
            continue;
        };
        assert!(
            report.contains("\nscenarios/01-promotion.yaml (promotion)\n"),
            "{lang}: {report}"
        );
        assert!(
            report.contains("ok: 2 passed, 0 failed; 2 cases in 1 scenario file"),
            "{lang}: {report}"
        );
    }
}

#[test]
fn policy_new_refuses_a_bad_name_and_a_non_empty_directory() {
    let work = tempfile::tempdir().unwrap();
    let out = baton(work.path())
        .args(["policy", "new", "My Policy", "--lang", "python"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: policy name \"My Policy\" is not valid: use lower case letters, digits and dashes, starting with a letter\n"
    );
    std::fs::create_dir(work.path().join("taken")).unwrap();
    std::fs::write(work.path().join("taken/keep"), "x").unwrap();
    let out = baton(work.path())
        .args(["policy", "new", "taken", "--lang", "js"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: taken already exists and is not empty\n"
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("taken/keep")).unwrap(),
        "x"
    );
}
