//! `baton demo`: the whole flow on this machine, nothing to set up. A
//! temporary env repo (served over smart HTTP by `git http-backend`), the
//! Argo CD and GitLab simulators in-process on loopback, a `baton.yaml`
//! pointing at them and the default policy. `v1.0.1` goes through dev,
//! staging and prod (a reviewer merges each merge request, then the env
//! repo's CI runs `advance`); `v1.0.2` degrades in dev and is rolled back.
//! The same engine and setup code as the real commands run every step.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use super::error::{CommandError, ExitKind};
use super::output::{self, OutputFormat};
use super::run::{status_report, status_text, text};
use super::setup::{self, CommonArgs};
use crate::capabilities::forge::{Forge, GitLab, GitLabConfig, MergeOptions};
use crate::engine::audit::{AuditRecord, Status};
use crate::engine::run::Progress;
use crate::engine::trigger::Trigger;
use crate::secret::Secret;
use crate::sim::argocd::{self as argocd_sim, SimApp, SimConfig};
use crate::sim::forge::{MergeStrategy, gitlab as gitlab_sim};
use crate::sim::git_http::{self as http_server, GitHttpConfig};

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
}

const APP: &str = "payments";
const STAGES: [&str; 3] = ["dev", "staging", "prod"];

fn failed(message: impl Into<String>) -> CommandError {
    CommandError::msg(ExitKind::Failed, message)
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<(), CommandError> {
    let dir = tempfile::Builder::new()
        .prefix("baton-demo-")
        .tempdir()
        .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))?;
    let rt = setup::runtime()?;
    let root = dir.path().to_path_buf();
    let result = rt.block_on(async move {
        tokio::spawn(async move { demo(&root, args.output).await })
            .await
            .map_err(|e| failed(format!("the demo panicked: {e}")))?
    });
    if args.keep {
        let kept = dir.keep();
        eprintln!("kept {}", kept.display());
    }
    result
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

fn config_yaml(repo_url: &str, argocd_url: &str, gitlab_api: &str) -> String {
    let mut yaml = format!(
        "# Written by `baton demo`: the simulators run on loopback.\n\
         env_repo:\n  url: {repo_url}\n  branch: main\n\
         argocd:\n  url: {argocd_url}\n\
         forge:\n  kind: gitlab\n  api_url: {gitlab_api}\n  project: acme/gitops-env\n\
         policy:\n  path: builtin:default\n  settings: {{ health_timeout: 20s }}\n\
         guardrails:\n  direct_commit_stages: [dev]\n  auto_merge_stages: []\n  max_health_wait: 1m\n\
         apps:\n  {APP}:\n    stages:\n"
    );
    for stage in STAGES {
        let _ = writeln!(
            yaml,
            "      - {{ name: {stage}, file: overlays/{stage}/{APP}/values.yaml, field: \"helm:image.tag\", argocd_app: {APP}-{stage} }}"
        );
    }
    yaml
}

struct Demo {
    root: PathBuf,
    common: CommonArgs,
    forge: GitLab,
    started: Instant,
    /// With `--output json` the narrative goes to stderr, the status to stdout.
    format: OutputFormat,
}

impl Demo {
    fn say(&self, line: &str) {
        match self.format {
            OutputFormat::Text => output::print(&format!("{line}\n")),
            OutputFormat::Json => eprintln!("{line}"),
        }
    }

    /// One engine run, exactly as the CLI does it.
    async fn baton(&mut self, step: &str, trigger: Trigger) -> Result<AuditRecord, CommandError> {
        self.say(&format!("\n{step}"));
        let t = Instant::now();
        let systems = setup::systems(&self.common, APP).await?;
        let policy = setup::policy(&systems.config, Some(&systems.cache_dir))?;
        let progress: Progress = Arc::new(|line: &str| eprintln!("     {line}"));
        let (_tx, cancel) = tokio::sync::watch::channel(false);
        let mut engine = setup::engine(systems, policy, APP, false, cancel, progress);
        engine.progress_every = Duration::from_secs(2);
        let record = engine.run(&trigger).await;
        let path = self
            .root
            .join("audit")
            .join(format!("{APP}-{}.json", record.run_id));
        record
            .write(&path)
            .map_err(|e| CommandError::new(ExitKind::External, &e))?;
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
    async fn review(&mut self, n: usize, stage: &str, version: &str) -> Result<(), CommandError> {
        let branch = format!("baton/{APP}/{stage}/{version}");
        let mr = self
            .forge
            .find_open(&branch)
            .await
            .map_err(|e| CommandError::new(ExitKind::External, &e))?
            .ok_or_else(|| failed(format!("no open merge request for {branch}")))?;
        self.forge
            .merge(mr.iid, &MergeOptions::default())
            .await
            .map_err(|e| CommandError::new(ExitKind::External, &e))?;
        self.say(&format!(
            "\n{n}. A reviewer merges #{} \"{}\"",
            mr.iid, mr.title
        ));
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

async fn demo(root: &Path, format: OutputFormat) -> Result<(), CommandError> {
    let started = Instant::now();
    let bare = seed(root)?;
    let git_http = http_server::spawn(GitHttpConfig {
        root: root.join("git"),
        token: None,
    })
    .await
    .map_err(|e| failed(format!("cannot start the git server: {e}")))?;
    let repo_url = format!("{}/gitops-env.git", git_http.base_url());

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
        if stage == "dev" {
            // The demo's bad release: v1.0.2 crash-loops in dev.
            app.degrade_versions = Some(r"^v1\.0\.2$".into());
        }
        argocd.apps.push(app);
    }
    let argocd = argocd_sim::spawn(argocd)
        .await
        .map_err(|e| failed(format!("cannot start the Argo CD simulator: {e}")))?;
    let gitlab = gitlab_sim::spawn(gitlab_sim::GitLabSimConfig {
        repo: bare.clone(),
        project_path: "acme/gitops-env".into(),
        project_id: 1,
        token: None,
        merge_method: MergeStrategy::MergeCommit,
    })
    .await
    .map_err(|e| failed(format!("cannot start the GitLab simulator: {e}")))?;

    let config = root.join("baton.yaml");
    std::fs::write(
        &config,
        config_yaml(&repo_url, &argocd.base_url(), gitlab.api_url()),
    )
    .map_err(|e| failed(format!("cannot write {}: {e}", config.display())))?;
    let reviewer = GitLab::new(
        GitLabConfig::new(gitlab.api_url(), "acme/gitops-env", "DEMO_TOKEN"),
        Secret::new(""),
    )
    .map_err(|e| CommandError::new(ExitKind::External, &e))?;
    let mut d = Demo {
        root: root.to_path_buf(),
        common: CommonArgs {
            config,
            output: OutputFormat::Text,
            cache_dir: Some(root.join("cache")),
        },
        forge: reviewer,
        started,
        format,
    };
    d.say(&format!(
        "Baton demo: {APP} through dev, staging and prod, on local simulators\n  \
         env repo  {repo_url}\n  Argo CD   {} (simulated)\n  GitLab    {} (simulated)\n  \
         policy    builtin:default",
        argocd.base_url(),
        gitlab.api_url()
    ));

    let tag = |v: &str| Trigger::Promote { tag: v.into() };
    let advance = || Trigger::Advance { since: None };
    let r = d
        .baton(
            "1. App repo CI, tag v1.0.1 pushed: baton promote --app payments --tag v1.0.1",
            tag("v1.0.1"),
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
    expect(&r, Status::Held, "advance prod")?;
    let r = d
        .baton(
            "6. App repo CI, tag v1.0.2 pushed: baton promote --app payments --tag v1.0.2 \
             (this build crash-loops)",
            tag("v1.0.2"),
        )
        .await?;
    expect(&r, Status::Failed, "promote v1.0.2")?;
    if !r.outcome.rolled_back {
        return Err(failed("demo: v1.0.2 failed but was not rolled back"));
    }
    let r = d
        .baton(
            "7. Env repo CI, main changed (the rollback commit): baton advance --app payments",
            advance(),
        )
        .await?;
    expect(&r, Status::Held, "advance after the rollback")?;

    let systems = setup::systems(&d.common, APP).await?;
    let report = status_report(&systems, APP).await?;
    d.say("\n8. baton status --app payments");
    match format {
        OutputFormat::Json => output::print_json(&report),
        OutputFormat::Text => {
            for line in status_text(&report).lines() {
                d.say(&format!("   {line}"));
            }
        }
    }
    let elapsed = d.started.elapsed().as_secs_f64();
    d.say(&format!(
        "\nDemo finished in {elapsed:.1}s: v1.0.1 is in prod; v1.0.2 was rolled back in dev.\n\
         Audit records: one per run, replayable with `baton policy replay` (keep them with --keep)."
    ));
    gitlab
        .shutdown()
        .await
        .map_err(|e| CommandError::new(ExitKind::External, &e))?;
    argocd.shutdown().await;
    git_http.shutdown();
    Ok(())
}
