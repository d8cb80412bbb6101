//! A whole Baton world for one test: an env repo served over smart HTTP
//! (token required), the Argo CD and forge (GitLab or GitHub) simulators
//! (tokens required), a `baton.yaml`, and the real `baton` binary run
//! against them.

use std::path::{Path, PathBuf};
use std::process::Output;

use baton::capabilities::forge::{Forge, GitHub, GitHubConfig, GitLab, GitLabConfig};
use baton::secret::Secret;
use baton::sim::argocd::{self as argocd_sim, HealthStep, SimApp, SimConfig};
use baton::sim::forge::{MergeStrategy, SimHandle, SimMergeRequest, github, gitlab};
use baton::sim::git_http::{self as http_server, GitHttpConfig, GitHttpHandle};

use crate::support::{baton, git, record_files};

/// Distinctive tokens: any appearance in output, records, commits or MRs
/// is a leak.
pub const REPO_TOKEN: &str = "gitpat-SECRET-repo-7f3a";
pub const ARGO_TOKEN: &str = "eyJhbGciOi.SECRET-argo.9c1d";
pub const FORGE_TOKEN: &str = "glpat-SECRET-forge-42bb";

pub const APP: &str = "payments";
pub const STAGES: [&str; 3] = ["dev", "staging", "prod"];

/// Which forge simulator serves the env repo's merge requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForgeKind {
    /// GitLab, with the project's merge method.
    GitLab(MergeStrategy),
    /// GitHub (the merge method is the merging reviewer's choice).
    GitHub,
}

/// How a test wants the world.
#[derive(Clone)]
pub struct Setup {
    /// Per stage: versions matching this regex end Degraded.
    pub degrade: Vec<(&'static str, &'static str)>,
    /// Per stage: scripted health after each sync.
    pub script: Vec<(&'static str, Vec<HealthStep>)>,
    /// `policy:` section body.
    pub policy: String,
    /// `guardrails:` section body.
    pub guardrails: String,
    /// Leave Argo CD out of `baton.yaml` and point it at a closed port.
    pub argocd_unreachable: bool,
    /// Argo CD answers every request after this many milliseconds.
    pub argocd_delay_ms: u64,
    /// The forge.
    pub forge: ForgeKind,
    /// Labels of prod's targets: when given, prod is a stage with one
    /// target per label (`overlays/prod-<label>/payments/values.yaml`,
    /// Argo CD application `payments-prod-<label>`), each keyed
    /// `prod-<label>` in `degrade` and `script`.
    pub prod_targets: Vec<&'static str>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            degrade: Vec::new(),
            script: Vec::new(),
            policy: "  path: builtin:default\n  settings: { health_timeout: 20s }\n".into(),
            guardrails:
                "  direct_commit_stages: [dev]\n  auto_merge_stages: []\n  max_health_wait: 1m\n"
                    .into(),
            argocd_unreachable: false,
            argocd_delay_ms: 0,
            forge: ForgeKind::GitLab(MergeStrategy::MergeCommit),
            prod_targets: Vec::new(),
        }
    }
}

pub struct Env {
    pub root: tempfile::TempDir,
    pub bare: PathBuf,
    pub rt: tokio::runtime::Runtime,
    /// The forge simulator (GitLab or GitHub, see [`Setup::forge`]).
    pub forge: SimHandle,
    pub forge_kind: ForgeKind,
    _argocd: argocd_sim::SimHandle,
    _git_http: GitHttpHandle,
}

fn values(stage: &str, version: &str) -> String {
    format!(
        "# Helm values for payments in {stage}\nreplicaCount: 1\nimage:\n  repository: registry.example.com/acme/payments\n  tag: \"{version}\" # set by Baton\n"
    )
}

pub fn stage_file(stage: &str) -> String {
    format!("overlays/{stage}/payments/values.yaml")
}

/// Every deployment of the app by its key: a stage's name, or
/// `prod-<label>` for each of prod's targets.
fn deployments(setup: &Setup) -> Vec<String> {
    let mut out = Vec::new();
    for stage in STAGES {
        if stage == "prod" && !setup.prod_targets.is_empty() {
            out.extend(setup.prod_targets.iter().map(|l| format!("prod-{l}")));
        } else {
            out.push(stage.to_owned());
        }
    }
    out
}

impl Env {
    pub fn new(setup: Setup) -> Self {
        let root = tempfile::tempdir().unwrap();
        let bare = root.path().join("git").join("gitops-env.git");
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "-q", "--bare", "-b", "main"]);
        git(&bare, &["config", "http.receivepack", "true"]);
        let work = root.path().join("seed");
        for key in deployments(&setup) {
            let dir = work.join("overlays").join(&key).join(APP);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("values.yaml"), values(&key, "v1.0.0")).unwrap();
        }
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["add", "."]);
        git(
            &work,
            &["commit", "-q", "-m", "payments: v1.0.0 everywhere"],
        );
        git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);

        let rt = crate::support::sim_runtime();
        let git_http = rt
            .block_on(http_server::spawn(GitHttpConfig {
                root: root.path().join("git"),
                token: Some(Secret::new(REPO_TOKEN)),
            }))
            .unwrap();
        let mut argo = SimConfig::new(&bare);
        argo.poll_interval_ms = 100;
        argo.token = Some(ARGO_TOKEN.into());
        argo.faults.delay_ms = setup.argocd_delay_ms;
        for key in deployments(&setup) {
            let mut app = SimApp::new(format!("{APP}-{key}"), stage_file(&key));
            app.sync_delay_ms = 50;
            app.sync_duration_ms = 100;
            app.progress_ms = 300;
            app.degrade_versions = setup
                .degrade
                .iter()
                .find(|(s, _)| *s == key)
                .map(|(_, re)| (*re).to_owned());
            if let Some((_, script)) = setup.script.iter().find(|(s, _)| *s == key) {
                app.script = script.clone();
            }
            argo.apps.push(app);
        }
        let argocd = rt.block_on(argocd_sim::spawn(argo)).unwrap();
        let (forge, forge_yaml) = match setup.forge {
            ForgeKind::GitLab(merge_method) => {
                let sim = rt
                    .block_on(gitlab::spawn(gitlab::GitLabSimConfig {
                        repo: bare.clone(),
                        project_path: "acme/gitops-env".into(),
                        project_id: 7,
                        token: Some(Secret::new(FORGE_TOKEN)),
                        merge_method,
                    }))
                    .unwrap();
                let yaml = format!(
                    "forge:\n  kind: gitlab\n  api_url: {}\n  project: acme/gitops-env\n  token_env: GITLAB_TOKEN\n",
                    sim.api_url()
                );
                (sim, yaml)
            }
            ForgeKind::GitHub => {
                let sim = rt
                    .block_on(github::spawn(github::GitHubSimConfig {
                        repo: bare.clone(),
                        owner: "acme".into(),
                        name: "gitops-env".into(),
                        token: Some(Secret::new(FORGE_TOKEN)),
                    }))
                    .unwrap();
                let yaml = format!(
                    "forge:\n  kind: github\n  api_url: {}\n  project: acme/gitops-env\n  token_env: GITLAB_TOKEN\n",
                    sim.api_url()
                );
                (sim, yaml)
            }
        };

        let argocd_url = if setup.argocd_unreachable {
            // A port nothing listens on.
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", l.local_addr().unwrap());
            drop(l);
            url
        } else {
            argocd.base_url()
        };
        let mut yaml = format!(
            "env_repo:\n  url: {}/gitops-env.git\n  branch: main\n  token_env: ENV_REPO_TOKEN\n\
             argocd:\n  url: {argocd_url}\n  token_env: ARGOCD_TOKEN\n\
             {forge_yaml}\
             policy:\n{}guardrails:\n{}apps:\n  {APP}:\n    stages:\n",
            git_http.base_url(),
            setup.policy,
            setup.guardrails
        );
        for stage in STAGES {
            if stage == "prod" && !setup.prod_targets.is_empty() {
                yaml.push_str("      - name: prod\n        targets:\n");
                for label in &setup.prod_targets {
                    yaml.push_str(&format!(
                        "          - {{ label: {label}, file: {}, field: \"helm:image.tag\", argocd_app: {APP}-prod-{label} }}\n",
                        stage_file(&format!("prod-{label}"))
                    ));
                }
                continue;
            }
            yaml.push_str(&format!(
                "      - {{ name: {stage}, file: {}, field: \"helm:image.tag\", argocd_app: {APP}-{stage} }}\n",
                stage_file(stage)
            ));
        }
        std::fs::write(root.path().join("baton.yaml"), yaml).unwrap();
        Self {
            root,
            bare,
            rt,
            forge,
            forge_kind: setup.forge,
            _argocd: argocd,
            _git_http: git_http,
        }
    }

    pub fn dir(&self) -> &Path {
        self.root.path()
    }

    /// Runs `baton ARGS` in the env's directory with the tokens set.
    pub fn baton(&self, args: &[&str]) -> Output {
        self.baton_with(args, &[])
    }

    /// Like [`Env::baton`], with extra environment variables (CI's).
    pub fn baton_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut cmd = baton(self.dir());
        cmd.envs(vars.iter().copied());
        cmd.args(args)
            .arg("--cache-dir")
            .arg(self.dir().join("cache"))
            .env("ENV_REPO_TOKEN", REPO_TOKEN)
            .env("ARGOCD_TOKEN", ARGO_TOKEN)
            .env("GITLAB_TOKEN", FORGE_TOKEN);
        let out = cmd.output().unwrap();
        self.assert_no_token(&String::from_utf8_lossy(&out.stdout), "stdout");
        self.assert_no_token(&String::from_utf8_lossy(&out.stderr), "stderr");
        out
    }

    pub fn assert_no_token(&self, text: &str, what: &str) {
        for t in [REPO_TOKEN, ARGO_TOKEN, FORGE_TOKEN] {
            assert!(!text.contains(t), "a token leaked into {what}:\n{text}");
        }
    }

    /// `git` in the bare env repo.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.bare, args)
    }

    /// A working clone of the env repo at `<test dir>/<name>`, for edits
    /// made by hand.
    pub fn clone_to(&self, name: &str) -> PathBuf {
        let work = self.dir().join(name);
        git(
            self.dir(),
            &[
                "clone",
                "-q",
                self.bare.to_str().expect("utf-8 path"),
                work.to_str().expect("utf-8 path"),
            ],
        );
        work
    }

    /// A stage's values file on main.
    pub fn file(&self, stage: &str) -> String {
        self.git(&["show", &format!("main:{}", stage_file(stage))])
    }

    pub fn commit_count(&self) -> usize {
        self.git(&["rev-list", "--count", "--all"]).parse().unwrap()
    }

    pub fn merge_requests(&self) -> Vec<SimMergeRequest> {
        self.rt.block_on(self.forge.merge_requests())
    }

    /// A client of the forge simulator.
    pub fn forge_client(&self) -> Box<dyn Forge> {
        match self.forge_kind {
            ForgeKind::GitLab(_) => Box::new(
                GitLab::new(
                    GitLabConfig::new(self.forge.api_url(), "acme/gitops-env", "GITLAB_TOKEN"),
                    Secret::new(FORGE_TOKEN),
                )
                .unwrap(),
            ),
            ForgeKind::GitHub => Box::new(
                GitHub::new(
                    GitHubConfig::new(self.forge.api_url(), "acme", "gitops-env", "GITLAB_TOKEN"),
                    Secret::new(FORGE_TOKEN),
                )
                .unwrap(),
            ),
        }
    }

    /// Merges the open MR for `stage` at `version`, as a reviewer would,
    /// with the forge's default merge.
    pub fn merge(&self, stage: &str, version: &str) {
        self.merge_branch(
            &format!("baton/{APP}/{stage}/{version}"),
            serde_json::json!({}),
        );
    }

    /// Merges the open MR from `branch` as a reviewer would, sending
    /// `body` to the forge's merge endpoint (GitLab `squash`, GitHub
    /// `merge_method`, `commit_title`, …).
    pub fn merge_branch(&self, branch: &str, body: serde_json::Value) {
        let client = self.forge_client();
        let number = self
            .rt
            .block_on(client.find_open(branch))
            .unwrap()
            .unwrap_or_else(|| panic!("no open merge request from {branch}"))
            .iid;
        let url = match self.forge_kind {
            ForgeKind::GitLab(_) => format!(
                "{}/projects/acme%2Fgitops-env/merge_requests/{number}/merge",
                self.forge.api_url()
            ),
            ForgeKind::GitHub => format!(
                "{}/repos/acme/gitops-env/pulls/{number}/merge",
                self.forge.api_url()
            ),
        };
        let response = self.rt.block_on(async {
            let response = reqwest::Client::new()
                .put(url)
                .bearer_auth(FORGE_TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.text().await.unwrap())
        });
        assert!(response.0.is_success(), "merging {branch}: {response:?}");
    }

    /// Every audit record written so far, parsed.
    pub fn audit_records(&self) -> Vec<serde_json::Value> {
        let dir = self.dir().join("baton-audit");
        record_files(&dir)
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                self.assert_no_token(&text, "an audit record");
                serde_json::from_str(&text).unwrap()
            })
            .collect()
    }

    /// Everything a run could change: refs, every object reachable, MRs.
    pub fn fingerprint(&self) -> String {
        let refs = self.git(&["for-each-ref", "--format=%(refname) %(objectname)"]);
        let mrs: Vec<String> = self
            .merge_requests()
            .iter()
            .map(|m| {
                format!(
                    "{} {:?} {} {}",
                    m.iid,
                    m.state,
                    m.source_branch,
                    m.notes.len()
                )
            })
            .collect();
        format!("{refs}\n{}", mrs.join("\n"))
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Asserts the exit code, showing both streams when it differs.
pub fn assert_code(out: &Output, expected: i32) {
    assert_eq!(
        code(out),
        expected,
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}
