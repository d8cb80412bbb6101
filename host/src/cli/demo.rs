//! `baton demo`: the whole flow on this machine, nothing to set up. A
//! temporary env repo (served over smart HTTP by `git http-backend`), the
//! Argo CD and GitLab simulators in-process on loopback, a `baton.yaml`
//! pointing at them and the default policy (or `--policy`). `v1.0.1` goes
//! through dev, staging and prod (a reviewer merges each merge request,
//! then the env repo's CI runs `advance`); `v1.0.2` degrades in dev and is
//! rolled back. The same engine and loading code as the real commands run
//! every step.
//!
//! `baton demo --metrics` is the same flow gated on metrics ([`metrics`]):
//! a Prometheus simulator joins the stack, the SLO policy bakes every
//! healthy stage, and `v1.0.2` is Healthy in Argo CD but fails a quarter
//! of its requests, so its bake rolls it back.

mod metrics;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use super::error::CommandError;
use super::load::{self, CommonArgs};
use super::output::{self, OutputFormat};
use super::process;
use super::run::text;
use super::status;
use crate::capabilities::forge::{Forge, GitLab, GitLabConfig, MergeOptions};
use crate::engine::audit::{AuditRecord, Status};
use crate::engine::{Engine, Progress, RunOptions, Trigger, system_clock};
use crate::secret::Secret;
use crate::sim::argocd::{self as argocd_sim, SimApp, SimConfig};
use crate::sim::forge::{MergeStrategy, gitlab as gitlab_sim};
use crate::sim::git_http::{self as http_server, GitHttpConfig};
use crate::sim::prometheus::PromSimHandle;

/// Arguments of `baton demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the temporary directory (env repo, config, audit records) and
    /// print its path.
    #[arg(long)]
    keep: bool,
    /// Output format of the final status.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
    /// The policy to run the flow with: a component file or builtin:NAME
    /// [default: builtin:default; with --metrics, builtin:slo].
    #[arg(long, value_name = "PATH")]
    policy: Option<String>,
    /// The policy's settings, as a YAML or JSON mapping [default: {
    /// health_timeout: 20s }; with --metrics, the SLO policy's bake and
    /// indicators].
    #[arg(long, value_name = "YAML")]
    settings: Option<String>,
    /// Gate on metrics: a Prometheus simulator, `metrics:` in baton.yaml
    /// and the SLO policy; the bad release is caught by its error ratio.
    #[arg(long)]
    metrics: bool,
}

const APP: &str = "payments";
const STAGES: [&str; 3] = ["dev", "staging", "prod"];

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<(), CommandError> {
    let (default_policy, default_settings) = if args.metrics {
        (metrics::POLICY, metrics::settings())
    } else {
        ("builtin:default", "{ health_timeout: 20s }".to_owned())
    };
    let policy = policy_path(args.policy.as_deref().unwrap_or(default_policy))?;
    let settings = settings(args.settings.as_deref().unwrap_or(&default_settings))?;
    let with_metrics = args.metrics;
    let dir = tempfile::Builder::new()
        .prefix("baton-demo-")
        .tempdir()
        .map_err(|e| CommandError::failed(format!("cannot create a temporary directory: {e}")))?;
    let root = dir.path().to_path_buf();
    let format = args.output;
    let result = process::block_on("the demo", async move {
        let stack = Stack::start(&root, with_metrics).await?;
        let result = if with_metrics {
            metrics::demo(&root, &stack, format, &policy, &settings).await
        } else {
            demo(&root, &stack, format, &policy, &settings).await
        };
        stack.shutdown().await?;
        result
    });
    if args.keep {
        let kept = dir.keep();
        eprintln!("kept {}", kept.display());
    }
    result
}

/// `--policy` as `baton.yaml` will name it: a file made absolute (the
/// config lives in the temporary directory).
fn policy_path(policy: &str) -> Result<String, CommandError> {
    if policy.starts_with("builtin:") {
        return Ok(policy.to_owned());
    }
    let path = Path::new(policy);
    if !path.is_file() {
        return Err(CommandError::usage(format!(
            "--policy {policy}: no such component file"
        )));
    }
    std::path::absolute(path)
        .map(|p| p.display().to_string())
        .map_err(|e| CommandError::usage(format!("--policy {policy}: {e}")))
}

/// `--settings` as one line of JSON, checked to be a mapping.
fn settings(text: &str) -> Result<String, CommandError> {
    let value: serde_json::Value =
        yaml_serde::from_str(text).map_err(|e| CommandError::usage(format!("--settings: {e}")))?;
    if !value.is_object() {
        return Err(CommandError::usage(format!(
            "--settings: {text:?} is not a mapping"
        )));
    }
    Ok(value.to_string())
}

fn failed(message: impl Into<String>) -> CommandError {
    CommandError::failed(message.into())
}

fn git(dir: &Path, args: &[&str]) -> Result<(), CommandError> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Platform Team")
        .env("GIT_AUTHOR_EMAIL", "platform@example.com")
        .env("GIT_COMMITTER_NAME", "Platform Team")
        .env("GIT_COMMITTER_EMAIL", "platform@example.com")
        .output()
        .map_err(|e| failed(format!("cannot run git: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The env repo: three stages of one app at v1.0.0, in a bare repository.
fn seed(root: &Path) -> Result<PathBuf, CommandError> {
    let bare = root.join("git").join("gitops-env.git");
    let work = root.join("seed");
    std::fs::create_dir_all(&bare).map_err(|e| failed(e.to_string()))?;
    git(&bare, &["init", "--quiet", "--bare", "-b", "main"])?;
    git(&bare, &["config", "http.receivepack", "true"])?;
    for stage in STAGES {
        let dir = work.join("overlays").join(stage).join(APP);
        std::fs::create_dir_all(&dir).map_err(|e| failed(e.to_string()))?;
        let values = format!(
            "# Helm values for {APP} in {stage}; Baton edits only image.tag.\n\
             replicaCount: {}\n\
             image:\n  repository: registry.example.com/acme/{APP}\n  tag: \"v1.0.0\" # set by Baton\n",
            if stage == "prod" { 3 } else { 1 }
        );
        std::fs::write(dir.join("values.yaml"), values).map_err(|e| failed(e.to_string()))?;
    }
    git(&work, &["init", "--quiet", "-b", "main"])?;
    git(&work, &["add", "."])?;
    git(
        &work,
        &["commit", "--quiet", "-m", "payments: v1.0.0 everywhere"],
    )?;
    let bare_str = bare.display().to_string();
    git(&work, &["push", "--quiet", &bare_str, "main"])?;
    Ok(bare)
}

/// The servers the demo runs against.
struct Stack {
    repo_url: String,
    git_http: http_server::GitHttpHandle,
    argocd: argocd_sim::SimHandle,
    gitlab: crate::sim::forge::SimHandle,
    /// The Prometheus simulator of `--metrics`.
    prometheus: Option<PromSimHandle>,
}

impl Stack {
    /// Seeds the env repo and starts the git server and the simulators
    /// (with `metrics`, the Prometheus one too, and Argo CD apps that stay
    /// Healthy: the metrics find the bad release).
    async fn start(root: &Path, metrics: bool) -> Result<Self, CommandError> {
        let bare = seed(root)?;
        let git_http = http_server::spawn(GitHttpConfig {
            root: root.join("git"),
            token: None,
        })
        .await
        .map_err(|e| failed(format!("cannot start the git server: {e}")))?;
        let mut argocd = SimConfig::new(&bare);
        argocd.poll_interval_ms = 100;
        for stage in STAGES {
            let mut app = SimApp::new(
                format!("{APP}-{stage}"),
                format!("overlays/{stage}/{APP}/values.yaml"),
            );
            app.sync_delay_ms = 100;
            app.sync_duration_ms = 200;
            app.progress_ms = 600;
            if metrics {
                app.script = metrics::argocd_script();
            } else if stage == "dev" {
                // The demo's bad release: v1.0.2 crash-loops in dev.
                app.degrade_versions = Some(r"^v1\.0\.2$".into());
            }
            argocd.apps.push(app);
        }
        let argocd = argocd_sim::spawn(argocd)
            .await
            .map_err(|e| failed(format!("cannot start the Argo CD simulator: {e}")))?;
        let gitlab = gitlab_sim::spawn(gitlab_sim::GitLabSimConfig {
            repo: bare,
            project_path: "acme/gitops-env".into(),
            project_id: 1,
            token: None,
            merge_method: MergeStrategy::MergeCommit,
        })
        .await
        .map_err(|e| failed(format!("cannot start the GitLab simulator: {e}")))?;
        let prometheus = if metrics {
            Some(metrics::spawn_prometheus().await?)
        } else {
            None
        };
        Ok(Self {
            repo_url: format!("{}/gitops-env.git", git_http.base_url()),
            git_http,
            argocd,
            gitlab,
            prometheus,
        })
    }

    async fn shutdown(self) -> Result<(), CommandError> {
        self.gitlab
            .shutdown()
            .await
            .map_err(CommandError::external)?;
        self.argocd.shutdown().await;
        if let Some(prometheus) = self.prometheus {
            prometheus.shutdown().await;
        }
        self.git_http.shutdown();
        Ok(())
    }

    /// The demo's `baton.yaml`.
    fn config_yaml(&self, policy: &str, settings: &str) -> String {
        let mut yaml = format!(
            "# Written by `baton demo`: the simulators run on loopback.\n\
             env_repo:\n  url: {}\n  branch: main\n\
             argocd:\n  url: {}\n\
             forge:\n  kind: gitlab\n  api_url: {}\n  project: acme/gitops-env\n\
             {}\
             policy:\n  path: {policy}\n  settings: {settings}\n\
             guardrails:\n  direct_commit_stages: [dev]\n  auto_merge_stages: []\n  max_health_wait: 1m\n\
             apps:\n  {APP}:\n    stages:\n",
            self.repo_url,
            self.argocd.base_url(),
            self.gitlab.api_url(),
            self.prometheus
                .as_ref()
                .map_or_else(String::new, |p| format!(
                    "metrics:\n  kind: prometheus\n  url: {}\n  timeout: 5s\n",
                    p.base_url()
                ))
        );
        for stage in STAGES {
            let _ = writeln!(
                yaml,
                "      - {{ name: {stage}, file: overlays/{stage}/{APP}/values.yaml, field: \"helm:image.tag\", argocd_app: {APP}-{stage} }}"
            );
        }
        yaml
    }
}

struct Demo {
    root: PathBuf,
    common: CommonArgs,
    forge: GitLab,
    /// With `--output json` the narrative goes to stderr, the status to stdout.
    format: OutputFormat,
}

impl Demo {
    /// Writes the demo's `baton.yaml` under `root` for `stack`.
    fn new(
        root: &Path,
        stack: &Stack,
        format: OutputFormat,
        policy: &str,
        settings: &str,
    ) -> Result<Self, CommandError> {
        let config = root.join("baton.yaml");
        std::fs::write(&config, stack.config_yaml(policy, settings))
            .map_err(|e| failed(format!("cannot write {}: {e}", config.display())))?;
        let reviewer = GitLab::new(
            GitLabConfig::new(stack.gitlab.api_url(), "acme/gitops-env", "DEMO_TOKEN"),
            Secret::new(""),
        )?;
        Ok(Self {
            root: root.to_path_buf(),
            common: CommonArgs {
                config,
                output: OutputFormat::Text,
                cache_dir: Some(root.join("cache")),
            },
            forge: reviewer,
            format,
        })
    }

    fn say(&self, line: &str) {
        match self.format {
            OutputFormat::Text => output::print(&format!("{line}\n")),
            OutputFormat::Json => output::progress(line),
        }
    }

    /// One engine run, loaded exactly as the CLI loads it.
    async fn baton(&self, step: &str, trigger: Trigger) -> Result<AuditRecord, CommandError> {
        self.say(&format!("\n{step}"));
        let t = Instant::now();
        let config = load::config(&self.common.config)?;
        let app = config.app(APP)?;
        let cache_root = self.common.cache_root();
        let systems = load::systems(&config, &cache_root)?;
        let policy = load::policy(&config, Some(&cache_root))?;
        let progress: Progress = Arc::new(|line: &str| output::progress(&format!("     {line}")));
        let (_tx, cancel) = tokio::sync::watch::channel(false);
        let options = RunOptions {
            dry_run: false,
            clock: system_clock(),
            progress_every: Duration::from_secs(2),
            progress,
            cancel,
        };
        let record = Engine::new(&config, app, systems, policy, options)
            .run(&trigger)
            .await;
        let path = self
            .root
            .join("audit")
            .join(format!("{APP}-{}.json", record.run_id));
        record.write(&path)?;
        for line in text(&record, None).lines().skip(2) {
            self.say(&format!("   {line}"));
        }
        self.say(&format!(
            "   ({:.1}s, exit code {})",
            t.elapsed().as_secs_f64(),
            record.outcome.exit_code
        ));
        Ok(record)
    }

    /// Merges the open merge request for `stage`, as a reviewer would.
    async fn review(&self, n: usize, stage: &str, version: &str) -> Result<(), CommandError> {
        let branch = format!("baton/{APP}/{stage}/{version}");
        let mr = self
            .forge
            .find_open(&branch)
            .await?
            .ok_or_else(|| failed(format!("no open merge request for {branch}")))?;
        self.forge.merge(mr.iid, &MergeOptions::default()).await?;
        self.say(&format!(
            "\n{n}. A reviewer merges #{} \"{}\"",
            mr.iid, mr.title
        ));
        Ok(())
    }

    /// The final `baton status`.
    async fn status(&self, n: usize) -> Result<(), CommandError> {
        let config = load::config(&self.common.config)?;
        let app = config.app(APP)?;
        let systems = load::systems(&config, &self.common.cache_root())?;
        let report = status::report(app, &systems).await?;
        self.say(&format!("\n{n}. baton status --app {APP}"));
        match self.format {
            OutputFormat::Json => output::print_json(&report),
            OutputFormat::Text => {
                for line in status::text(&report).lines() {
                    self.say(&format!("   {line}"));
                }
            }
        }
        Ok(())
    }
}

fn expect(record: &AuditRecord, status: Status, what: &str) -> Result<(), CommandError> {
    if record.outcome.status == status {
        Ok(())
    } else {
        Err(failed(format!(
            "demo step {what:?} ended {:?} ({}), expected {status:?}",
            record.outcome.status, record.outcome.message
        )))
    }
}

/// The story: one good release to prod, one bad release rolled back.
async fn demo(
    root: &Path,
    stack: &Stack,
    format: OutputFormat,
    policy: &str,
    settings: &str,
) -> Result<(), CommandError> {
    let started = Instant::now();
    let d = Demo::new(root, stack, format, policy, settings)?;
    d.say(&format!(
        "Baton demo: {APP} through dev, staging and prod, on local simulators\n  \
         env repo  {}\n  Argo CD   {} (simulated)\n  GitLab    {} (simulated)\n  \
         policy    {policy}",
        stack.repo_url,
        stack.argocd.base_url(),
        stack.gitlab.api_url()
    ));
    good_release(&d).await?;
    bad_release(&d, "crash-loops", || ()).await?;
    d.status(8).await?;
    d.say(&format!(
        "\nDemo finished in {:.1}s: v1.0.1 is in prod; v1.0.2 was rolled back in dev.\n\
         Audit records: one per run, replayable with `baton policy replay` (keep them with --keep).",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Steps 1 to 5: v1.0.1 through dev, staging and prod.
async fn good_release(d: &Demo) -> Result<(), CommandError> {
    let advance = || Trigger::Advance { since: None };
    let r = d
        .baton(
            "1. App repo CI, tag v1.0.1 pushed: baton promote --app payments --tag v1.0.1",
            Trigger::Promote {
                tag: Some("v1.0.1".into()),
                digest: None,
            },
        )
        .await?;
    expect(&r, Status::Held, "promote v1.0.1")?;
    d.review(2, "staging", "v1.0.1").await?;
    let r = d
        .baton(
            "3. Env repo CI, main changed: baton advance --app payments",
            advance(),
        )
        .await?;
    expect(&r, Status::Held, "advance staging")?;
    d.review(4, "prod", "v1.0.1").await?;
    let r = d
        .baton(
            "5. Env repo CI, main changed: baton advance --app payments",
            advance(),
        )
        .await?;
    expect(&r, Status::Held, "advance prod")
}

/// Steps 6 and 7: v1.0.2, a build that `flaw` (`crash-loops`), fails in
/// dev and is rolled back; `repaired` runs before the rollback commit is
/// gated.
async fn bad_release(d: &Demo, flaw: &str, repaired: impl FnOnce()) -> Result<(), CommandError> {
    let r = d
        .baton(
            &format!(
                "6. App repo CI, tag v1.0.2 pushed: baton promote --app payments --tag v1.0.2 \
                 (this build {flaw})"
            ),
            Trigger::Promote {
                tag: Some("v1.0.2".into()),
                digest: None,
            },
        )
        .await?;
    expect(&r, Status::Failed, "promote v1.0.2")?;
    if !r.outcome.rolled_back {
        return Err(failed("demo: v1.0.2 failed but was not rolled back"));
    }
    repaired();
    let r = d
        .baton(
            "7. Env repo CI, main changed (the rollback commit): baton advance --app payments",
            Trigger::Advance { since: None },
        )
        .await?;
    expect(&r, Status::Held, "advance after the rollback")
}
