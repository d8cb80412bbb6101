//! Loading what a command works with, in one place: `baton.yaml`, the
//! configured policy (through the compile cache), and the systems of an
//! app (tokens from the named variables, the env repo cache fetched, the
//! Argo CD and forge clients built). `config check`, the run commands,
//! `status` and the demo all load through here.

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
use crate::config::{self, Config, ForgeKind, ForgeSection};
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
pub fn policy(config: &Config, cache_root: Option<&Path>) -> Result<LoadedPolicy, CommandError> {
    let runtime = runtime(cache_root.map(|d| d.join("policies")))?;
    let p = config.policy();
    tokio::task::block_in_place(|| runtime.load(&p.source, p.sha256.as_deref()))
        .map_err(|e| CommandError::from(e).at_config_key(config.path(), "policy.path"))
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
    })
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
