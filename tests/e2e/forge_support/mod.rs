//! Helpers for the forge tests: a bare env repo built with git plumbing,
//! both simulators behind `dyn Forge`, and a structural JSON comparison.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton::capabilities::forge::HttpConfig;
use baton::capabilities::forge::{Forge, GitHub, GitHubConfig, GitLab, GitLabConfig};
use baton::secret::Secret;
use baton::sim::forge::{self as sim, MergeStrategy, SimHandle};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::{GitInput, git, git_with};

pub const TOKEN_ENV: &str = "BATON_TEST_FORGE_TOKEN";
pub const TOKEN: &str = "glpat-sim-good-0123456789";
pub const PROJECT: &str = "group/env-repo";

/// Which forge a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    GitLab,
    GitHub,
}

pub struct Env {
    pub kind: Kind,
    pub dir: TempDir,
    pub repo: PathBuf,
    pub sim: SimHandle,
    pub forge: Box<dyn Forge>,
}

/// Commits `values.yaml` = `content` on top of `parent` and points `branch` at it.
pub fn commit(repo: &Path, branch: &str, parent: Option<&str>, content: &str) -> String {
    commit_files(repo, branch, parent, &[("values.yaml", content)])
}

/// Commits a root tree of `files` on top of `parent` and points `branch` at it.
pub fn commit_files(
    repo: &Path,
    branch: &str,
    parent: Option<&str>,
    files: &[(&str, &str)],
) -> String {
    let mut listing = String::new();
    for (name, content) in files {
        let blob = git_with(
            repo,
            &["hash-object", "-w", "--stdin"],
            GitInput {
                stdin: Some(content),
                ..GitInput::default()
            },
        );
        let blob = blob.trim();
        listing.push_str(&format!("100644 blob {blob}\t{name}\n"));
    }
    let tree = git_with(
        repo,
        &["mktree"],
        GitInput {
            stdin: Some(&listing),
            ..GitInput::default()
        },
    );
    let tree = tree.trim();
    let mut args = vec!["commit-tree", tree, "-m", "change values"];
    if let Some(p) = parent {
        args.extend(["-p", p]);
    }
    let sha = git(repo, &args);
    git(repo, &["update-ref", &format!("refs/heads/{branch}"), &sha]);
    sha
}

pub fn head(repo: &Path, branch: &str) -> String {
    git(repo, &["rev-parse", &format!("refs/heads/{branch}")])
}

pub fn test_http() -> HttpConfig {
    HttpConfig {
        timeout: Duration::from_secs(60),
        connect_timeout: Duration::from_secs(20),
        max_attempts: 2,
        backoff: Duration::from_millis(20),
        ..HttpConfig::default()
    }
}

pub struct Options {
    pub sim_token: Option<&'static str>,
    pub client_token: &'static str,
    pub page_size: u32,
    pub strategy: MergeStrategy,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sim_token: Some(TOKEN),
            client_token: TOKEN,
            page_size: 100,
            strategy: MergeStrategy::MergeCommit,
        }
    }
}

/// A bare repo with `main` at `tag: 1.0.0`, and a simulator of `kind`.
pub async fn env(kind: Kind, options: Options) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("env.git");
    git(
        dir.path(),
        &["init", "--bare", "-q", "-b", "main", "env.git"],
    );
    commit(&repo, "main", None, "image:\n  tag: 1.0.0\n");
    let sim_token = options.sim_token.map(Secret::new);
    let client_token = Secret::new(options.client_token);
    let (sim, forge): (SimHandle, Box<dyn Forge>) = match kind {
        Kind::GitLab => {
            let sim = sim::gitlab::spawn(sim::gitlab::GitLabSimConfig {
                repo: repo.clone(),
                project_path: PROJECT.into(),
                project_id: 42,
                token: sim_token,
                merge_method: options.strategy,
            })
            .await
            .expect("gitlab sim");
            let mut config = GitLabConfig::new(sim.api_url(), PROJECT, TOKEN_ENV);
            config.http = test_http();
            config.page_size = options.page_size;
            let forge = GitLab::new(config, client_token).expect("gitlab client");
            (sim, Box::new(forge))
        }
        Kind::GitHub => {
            let sim = sim::github::spawn(sim::github::GitHubSimConfig {
                repo: repo.clone(),
                owner: "acme".into(),
                name: "env-repo".into(),
                token: sim_token,
            })
            .await
            .expect("github sim");
            let mut config = GitHubConfig::new(sim.api_url(), "acme", "env-repo", TOKEN_ENV);
            config.http = test_http();
            config.page_size = options.page_size;
            let forge = GitHub::new(config, client_token).expect("github client");
            (sim, Box::new(forge))
        }
    };
    Env {
        kind,
        dir,
        repo,
        sim,
        forge,
    }
}

impl Env {
    /// A raw authenticated request to the simulator (for exact bodies).
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let client = reqwest::Client::new();
        let url = match self.kind {
            Kind::GitLab => format!("{}/api/v4{path}", self.sim.base_url()),
            Kind::GitHub => format!("{}{path}", self.sim.base_url()),
        };
        let mut request = client.request(method, url);
        request = match self.kind {
            Kind::GitLab => request.header("PRIVATE-TOKEN", TOKEN),
            Kind::GitHub => request.bearer_auth(TOKEN),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let value = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, headers, value)
    }
}

impl Env {
    /// Adds a note (GitLab) or issue comment (GitHub) to merge request
    /// `iid` through the simulator's API; returns its id. Baton itself
    /// never writes notes, but the simulators serve the endpoint.
    pub async fn add_note(&self, iid: u64, body: &str) -> u64 {
        let path = match self.kind {
            Kind::GitLab => format!("/projects/group%2Fenv-repo/merge_requests/{iid}/notes"),
            Kind::GitHub => format!("/repos/acme/env-repo/issues/{iid}/comments"),
        };
        let (status, _, note) = self
            .raw(
                reqwest::Method::POST,
                &path,
                Some(serde_json::json!({ "body": body })),
            )
            .await;
        assert_eq!(status, 201, "{note}");
        note["id"].as_u64().expect("note id")
    }

    /// How many requests changed a merge request in place (PUT/PATCH).
    pub fn updates(&self) -> usize {
        self.sim
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" || r.method == "PATCH")
            .count()
    }
}

pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/forge")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).expect("read fixture")).expect("parse fixture")
}

/// Every field of `sample` exists in `actual` with the same JSON type
/// (`null` on either side matches anything; arrays compare first items).
pub fn shape_diff(sample: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (sample, actual) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(s), Value::Object(a)) => {
            for (k, sv) in s {
                match a.get(k) {
                    None => out.push(format!("{path}.{k}: missing")),
                    Some(av) => shape_diff(sv, av, &format!("{path}.{k}"), out),
                }
            }
        }
        (Value::Array(s), Value::Array(a)) => {
            if let (Some(s0), Some(a0)) = (s.first(), a.first()) {
                shape_diff(s0, a0, &format!("{path}[0]"), out);
            }
        }
        (Value::Number(s), Value::Number(a)) => {
            if s.is_f64() != a.is_f64() {
                out.push(format!("{path}: number kind {s} vs {a}"));
            }
        }
        (Value::Bool(_), Value::Bool(_)) | (Value::String(_), Value::String(_)) => {}
        (s, a) => out.push(format!("{path}: {} vs {}", kind(s), kind(a))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
