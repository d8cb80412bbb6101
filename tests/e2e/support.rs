//! Shared helpers: hermetic commands, runtimes with small limits, the
//! `payments` context the runtime-level tests hand to policies.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use baton::runtime::{Context, Limits, LoadedPolicy, PolicyRuntime, PolicySource, Stage};

/// A `baton` command with a cleared environment and a temporary HOME, so
/// nothing from the developer's machine leaks into a test.
pub fn baton(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .current_dir(home);
    cmd
}

/// A `git` command in `dir` that nothing of the machine reaches: no user or
/// system config, and one fixed identity for every commit a test makes.
pub fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Seed")
        .env("GIT_AUTHOR_EMAIL", "seed@example.com")
        .env("GIT_COMMITTER_NAME", "Seed")
        .env("GIT_COMMITTER_EMAIL", "seed@example.com");
    cmd
}

/// What a hermetic git run gets beyond [`git_command`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GitInput<'a> {
    /// Fed to git's stdin.
    pub stdin: Option<&'a str>,
    /// Author and committer date of the commits it makes (reproducible
    /// histories); the real time when `None`.
    pub date: Option<&'a str>,
}

/// Runs `git args` hermetically in `dir` with `input`; returns its stdout
/// exactly as git wrote it and fails the test when git fails.
pub fn git_with(dir: &Path, args: &[&str], input: GitInput<'_>) -> String {
    let mut cmd = git_command(dir);
    if let Some(date) = input.date {
        cmd.env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date);
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git runs");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(text) = input.stdin {
        stdin.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("git output");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs `git args` hermetically in `dir` and returns its trimmed stdout.
/// The runtime the in-process simulators of a test run on.
pub fn sim_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    git_with(dir, args, GitInput::default()).trim().to_owned()
}

/// A command's stdout as JSON; a test failure showing both streams when it
/// is not JSON.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Limits small enough that hostile policies fail fast.
pub fn test_limits() -> Limits {
    Limits {
        fuel: 200_000_000,
        deadline: Duration::from_secs(20),
        ..Limits::default()
    }
}

/// Loads a policy component by path with `limits`.
pub fn load(path: &str, limits: Limits) -> LoadedPolicy {
    let runtime = PolicyRuntime::new(limits, None).expect("runtime");
    runtime
        .load(&PolicySource::File(path.into()), None)
        .expect("policy loads")
}

/// Stage `name` of `payments`: a Helm tag in its overlay, Argo CD app
/// `payments-<name>`, direct commits when `direct`.
pub fn stage(name: &str, direct: bool) -> Stage {
    Stage {
        name: name.into(),
        file: format!("overlays/{name}/payments/values.yaml"),
        field: "helm:image.tag".into(),
        argocd_app: format!("payments-{name}"),
        direct_commit_allowed: direct,
        auto_merge_allowed: false,
        targets: Vec::new(),
    }
}

/// The context of run `run-1` of `payments` over `stages`, with the
/// policy settings `settings` (JSON) and a 30-minute health wait.
pub fn context(stages: Vec<Stage>, settings: impl Into<String>) -> Context {
    Context {
        app: "payments".into(),
        stages,
        settings: settings.into(),
        run_id: "run-1".into(),
        max_health_wait: 1_800_000,
        dry_run: false,
    }
}

/// [`context`] over dev (direct commits), staging and prod.
pub fn three_stages(settings: impl Into<String>) -> Context {
    context(
        vec![
            stage("dev", true),
            stage("staging", false),
            stage("prod", false),
        ],
        settings,
    )
}

/// The audit records in `dir`, sorted by name: its `.json` files (Baton
/// keeps its index of each app's newest record, `.baton-heads`, beside
/// them).
pub fn record_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    paths
}
