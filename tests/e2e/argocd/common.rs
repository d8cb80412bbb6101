//! Test helpers: a throwaway git repository and simulator/client builders.

use std::path::PathBuf;
use std::time::Duration;

use baton::capabilities::argocd::{ArgoCdClient, ArgoCdConfig};
use baton::secret::Secret;
use baton::sim::argocd::{SimApp, SimConfig, SimHandle, spawn};

use crate::support::{git, git_command};

pub const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiYXRvbiJ9.c2lnbmF0dXJl";
pub const TOKEN_VAR: &str = "ARGOCD_AUTH_TOKEN";
pub const FILE: &str = "envs/dev/values.yaml";

pub struct TestRepo {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TestRepo {
    /// A repository on `main` whose first commit sets `image.tag: v1.0.0`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("env");
        std::fs::create_dir_all(&path).expect("mkdir");
        let repo = TestRepo { _dir: dir, path };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.set_version("v1.0.0");
        repo
    }

    pub fn git(&self, args: &[&str]) -> String {
        git(&self.path, args)
    }

    /// Commits `image.tag: version` on the current branch; returns the SHA.
    pub fn set_version(&self, version: &str) -> String {
        let file = self.path.join(FILE);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(
            &file,
            format!("# dev values\nimage:\n  repository: payments\n  tag: \"{version}\"\n"),
        )
        .expect("write");
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", &format!("dev: {version}")]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Whether `ancestor` is `rev` or an ancestor of it.
    pub fn contains(&self, rev: &str, ancestor: &str) -> bool {
        git_command(&self.path)
            .args(["merge-base", "--is-ancestor", ancestor, rev])
            .status()
            .expect("git runs")
            .success()
    }
}

/// A fast-moving app: short delays so tests finish quickly.
pub fn fast_app(name: &str) -> SimApp {
    let mut app = SimApp::new(name, FILE);
    app.sync_delay_ms = 50;
    app.sync_duration_ms = 50;
    app.progress_ms = 150;
    app
}

pub fn sim_config(repo: &TestRepo, apps: Vec<SimApp>) -> SimConfig {
    let mut c = SimConfig::new(&repo.path);
    c.poll_interval_ms = 25;
    c.token = Some(TOKEN.to_owned());
    c.apps = apps;
    c
}

pub async fn start(config: SimConfig) -> SimHandle {
    spawn(config).await.expect("simulator starts")
}

pub fn client_config(sim: &SimHandle, token: &str) -> ArgoCdConfig {
    let mut c = ArgoCdConfig::new(sim.base_url(), Secret::new(token), TOKEN_VAR);
    c.initial_backoff = Duration::from_millis(10);
    c.max_backoff = Duration::from_millis(200);
    c.request_timeout = Duration::from_secs(20);
    c.poll_interval = Duration::from_millis(50);
    c
}

pub fn client(sim: &SimHandle) -> ArgoCdClient {
    ArgoCdClient::new(client_config(sim, TOKEN)).expect("client builds")
}

/// Polls `cond` every 20 ms for up to 30 s.
pub async fn eventually<F: FnMut() -> bool>(what: &str, mut cond: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
