//! Loading what a command works with, in one place: `baton.yaml`, the
//! configured policy (through the compile cache; refused when it imports
//! a capability `baton.yaml` does not configure), and the systems of an
//! app (tokens from the named variables, the env repo cache fetched, the
//! Argo CD, forge and metrics clients built). `config check`, the run
//! commands, `status` and the demo all load through here.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::error::CommandError;
use super::output::{self, OutputFormat};
use crate::capabilities::argocd::{ArgoCdClient, ArgoCdConfig};
use crate::capabilities::forge::{Forge, GitHub, GitHubConfig, GitLab, GitLabConfig};
use crate::capabilities::git::{
    DEFAULT_LOCK_WAIT, EnvRepo, LockProgress, OpenOptions, RepoSource, default_cache_root,
};
use crate::capabilities::metrics::{PrometheusClient, PrometheusConfig};
use crate::config::{self, Config, ForgeKind, ForgeSection, MetricsKind, MetricsSection};
use crate::engine::{SharedRepo, Systems};
use crate::runtime::{Limits, LoadedPolicy, PolicyRuntime};
use crate::secret::Secret;

/// Options shared by `promote`, `advance`, `rollback` and `status`.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// The configuration file.
    #[arg(long, default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Baton's cache directory: env repo clones under `repos/`, compiled
    /// policies under `policies/` [default: $XDG_CACHE_HOME/baton or
    /// ~/.cache/baton].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl CommonArgs {
    /// The cache root: `--cache-dir`, else the user's cache directory.
    pub fn cache_root(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(|| {
            default_cache_root(|k| std::env::var(k).ok())
                .parent()
                .map_or_else(|| PathBuf::from(".baton-cache"), Path::to_path_buf)
        })
    }
}

/// Reads and validates `baton.yaml`.
pub fn config(path: &Path) -> Result<Config, CommandError> {
    Ok(Config::load(path)?)
}

/// A policy runtime with default limits that keeps compiled policies in
/// `cache_dir` (keyed by digest and engine), when one is given.
pub fn runtime(cache_dir: Option<PathBuf>) -> Result<PolicyRuntime, CommandError> {
    PolicyRuntime::new(Limits::default(), cache_dir)
        .map_err(|e| CommandError::policy(format!("cannot start the policy runtime: {e}")))
}

/// Loads the configured policy, through the compile cache under
/// `cache_root` when one is given. Errors name `policy.path` in the config.
/// A policy that imports `baton:policy/metrics` while `baton.yaml` has no
/// `metrics:` section is refused (exit 2): every query would be denied, so
/// the capability would be silently missing.
pub fn policy(config: &Config, cache_root: Option<&Path>) -> Result<LoadedPolicy, CommandError> {
    let runtime = runtime(cache_root.map(|d| d.join("policies")))?;
    let p = config.policy();
    let policy = tokio::task::block_in_place(|| runtime.load(&p.source, p.sha256.as_deref()))
        .map_err(|e| CommandError::from(e).at_config_key(config.path(), "policy.path"))?;
    if let (Some(import), None) = (policy.interfaces.baton_import("metrics"), config.metrics()) {
        return Err(CommandError::usage(format!(
            "policy {} imports {import}, but there is no metrics: section",
            p.source
        ))
        .at_config_key(config.path(), "policy.path")
        .hint(
            "add `metrics: { kind: prometheus, url: https://prometheus.example.com }` to \
             baton.yaml, or use a policy that does not read metrics",
        ));
    }
    Ok(policy)
}

/// The oldest git Baton drives (`fetch --no-write-fetch-head`, protocol v2).
const GIT_MIN: (u32, u32) = (2, 30);

/// Baton talks to the env repo's server through the `git` binary: a job
/// image without it (or with a very old one) gets one clear error at start.
pub fn require_git() -> Result<(), CommandError> {
    let hint = "install git in the job's image (apt-get install git, apk add git, dnf install git)";
    let out = std::process::Command::new("git")
        .arg("--version")
        .output()
        .map_err(|e| {
            CommandError::usage(format!(
                "baton needs git {}.{} or newer on PATH: {e}",
                GIT_MIN.0, GIT_MIN.1
            ))
            .hint(hint)
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(2).and_then(|v| {
        let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
        Some((parts.next()??, parts.next()??))
    });
    match version {
        Some(v) if v >= GIT_MIN => Ok(()),
        _ => Err(CommandError::usage(format!(
            "baton needs git {}.{} or newer on PATH; `git --version` says {:?}",
            GIT_MIN.0,
            GIT_MIN.1,
            text.trim()
        ))
        .hint(hint)),
    }
}

/// Opens every system `config` configures for a run over the cache at
/// `cache_root`: the env repo cache is fetched (shallow), the clients are
/// built with their tokens. Waits for the cache lock as long as
/// [`DEFAULT_LOCK_WAIT`], saying so on stderr.
pub fn systems(config: &Config, cache_root: &Path) -> Result<Systems, CommandError> {
    systems_waiting(config, cache_root, DEFAULT_LOCK_WAIT)
}

/// [`systems`], waiting at most `lock_wait` for another process's hold on
/// the env repo cache (each fetch, deepen and write of the run waits as
/// long).
pub fn systems_waiting(
    config: &Config,
    cache_root: &Path,
    lock_wait: Duration,
) -> Result<Systems, CommandError> {
    require_git()?;
    let repo = config.env_repo();
    let repo_token = config.token(repo.token.as_ref())?;
    let argocd = match config.argocd() {
        Some(a) => {
            let token = config
                .token(a.token.as_ref())?
                .unwrap_or_else(|| Secret::new(""));
            let token_env = a.token.as_ref().map(|t| t.name.clone()).unwrap_or_default();
            let mut cfg = ArgoCdConfig::new(a.url.clone(), token, token_env);
            cfg.insecure_skip_verify = a.insecure_skip_verify;
            let client = ArgoCdClient::new(cfg)
                .map_err(|e| CommandError::usage(e).at_config_key(config.path(), "argocd.url"))?;
            Some(Arc::new(client))
        }
        None => None,
    };
    let forge = match config.forge() {
        Some(f) => Some(forge(config, f)?),
        None => None,
    };
    let metrics = match config.metrics() {
        Some(m) => Some(metrics(config, m)?),
        None => None,
    };
    let source = RepoSource {
        url: repo.url.clone(),
        token: repo_token,
    };
    let mut options = OpenOptions::new(cache_root.join("repos"), repo.branch.clone());
    options.shallow = true;
    options.lock_wait = lock_wait;
    options.progress = Some(LockProgress::new(output::progress));
    let repo = tokio::task::block_in_place(|| EnvRepo::open(&source, &options))?;
    Ok(Systems {
        repo: SharedRepo::new(repo),
        argocd,
        forge,
        metrics,
    })
}

/// The Prometheus client of `metrics:`.
fn metrics(config: &Config, m: &MetricsSection) -> Result<Arc<PrometheusClient>, CommandError> {
    let token = config
        .token(m.token.as_ref())?
        .unwrap_or_else(|| Secret::new(""));
    let token_env = m.token.as_ref().map(|t| t.name.clone()).unwrap_or_default();
    let mut cfg = match m.kind {
        MetricsKind::Prometheus => PrometheusConfig::new(m.url.clone(), token, token_env),
    };
    cfg.query_timeout = m.timeout;
    let client = PrometheusClient::new(cfg)
        .map_err(|e| CommandError::usage(e).at_config_key(config.path(), "metrics.url"))?;
    Ok(Arc::new(client))
}

/// The forge client of `forge:`.
fn forge(config: &Config, f: &ForgeSection) -> Result<Arc<dyn Forge>, CommandError> {
    let token = config
        .token(f.token.as_ref())?
        .unwrap_or_else(|| Secret::new(""));
    let token_env = f.token.as_ref().map(|t| t.name.clone()).unwrap_or_default();
    let at_url = |e| CommandError::usage(e).at_config_key(config.path(), "forge.api_url");
    Ok(match f.kind {
        ForgeKind::Gitlab => {
            let cfg = GitLabConfig::new(f.api_url.clone(), f.project.clone(), token_env);
            Arc::new(GitLab::new(cfg, token).map_err(at_url)?)
        }
        ForgeKind::Github => {
            // `Config` checked that a GitHub project is owner/repo.
            let (owner, repo) = f.project.split_once('/').unwrap_or((&f.project, ""));
            let cfg = GitHubConfig::new(f.api_url.clone(), owner, repo, token_env);
            Arc::new(GitHub::new(cfg, token).map_err(at_url)?)
        }
    })
}
