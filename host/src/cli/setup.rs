//! From `baton.yaml` and the command line to a ready [`Engine`]: tokens
//! from the named environment variables, the env repo cache fetched, the
//! Argo CD and forge clients built, the policy loaded (through the compile
//! cache) and the context every decide call receives.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use tokio::sync::watch;

use super::config::load_config;
use super::error::{CommandError, ExitKind};
use super::output::OutputFormat;
use crate::capabilities::argocd::time::format_rfc3339;
use crate::capabilities::argocd::{ArgoCdClient, ArgoCdConfig};
use crate::capabilities::forge::content::{CiEnv, TitleTemplates};
use crate::capabilities::forge::{Forge, GitHub, GitHubConfig, GitLab, GitLabConfig};
use crate::capabilities::git::{
    CommitSettings, EnvRepo, Identity, OpenOptions, RepoSource, StageField, default_cache_root,
};
use crate::config::{self, Config, ForgeKind};
use crate::engine::audit::{ConfigInfo, PolicyInfo};
use crate::engine::run::{Engine, EngineStage, Progress};
use crate::runtime::{Context, LoadedPolicy, PolicySource, Stage, Target};
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

/// Options of the commands that run the policy.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Run the policy against the real current state and print the plan;
    /// write nothing anywhere (no push, no merge request, no audit record
    /// unless --audit-log is given).
    #[arg(long)]
    pub dry_run: bool,
    /// Where to write the audit record
    /// [default: baton-audit/<app>-<run id>.json].
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
}

/// The systems a command talks to.
pub struct Systems {
    /// The validated configuration.
    pub config: Config,
    /// The app's stages.
    pub stages: Vec<EngineStage>,
    /// The env repo cache, fetched.
    pub repo: Arc<Mutex<EnvRepo>>,
    /// Argo CD, when configured.
    pub argocd: Option<Arc<ArgoCdClient>>,
    /// The forge, when configured.
    pub forge: Option<Arc<dyn Forge>>,
    /// The cache root.
    pub cache_dir: PathBuf,
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn usage(message: impl Into<String>) -> CommandError {
    CommandError::msg(ExitKind::Usage, message)
}

/// A token from the variable named at `key`, checked when the system is used.
fn token(config: &Config, key: &str, name: Option<&str>) -> Result<Option<Secret>, CommandError> {
    config
        .require_token(key, name)
        .map_err(|e| CommandError::new(ExitKind::Usage, &e))?;
    Ok(name.and_then(Secret::from_env))
}

/// Loads the config and opens every configured system for `app`.
pub async fn systems(common: &CommonArgs, app: &str) -> Result<Systems, CommandError> {
    let config = load_config(&common.config)?;
    let raw = &config.raw;
    let app_cfg = config
        .app(app)
        .map_err(|e| CommandError::new(ExitKind::Usage, &e))?;
    let mut stages = Vec::new();
    for (i, s) in app_cfg.stages.iter().enumerate() {
        let field = s.field.parse().map_err(|e| {
            usage(format!(
                "{}: apps.{app}.stages[{i}].field: {e}",
                config.path.display()
            ))
        })?;
        stages.push(EngineStage {
            name: s.name.clone(),
            location: StageField {
                file: s.file.clone(),
                field,
            },
            argocd_app: s.argocd_app.clone(),
        });
    }

    let repo_token = token(
        &config,
        "env_repo.token_env",
        raw.env_repo.token_env.as_deref(),
    )?;
    let argocd = match &raw.argocd {
        Some(a) => {
            let secret = token(&config, "argocd.token_env", a.token_env.as_deref())?
                .unwrap_or_else(|| Secret::new(""));
            let mut cfg = ArgoCdConfig::new(
                a.url.clone(),
                secret,
                a.token_env.clone().unwrap_or_default(),
            );
            cfg.insecure_skip_verify = a.insecure_skip_verify;
            let client = ArgoCdClient::new(cfg).map_err(|e| {
                let mut err = CommandError::new(ExitKind::Usage, &e);
                err.message = format!("{}: argocd.url: {}", config.path.display(), err.message);
                err
            })?;
            Some(Arc::new(client))
        }
        None => None,
    };
    let forge = match &raw.forge {
        Some(f) => Some(forge(&config, f)?),
        None => None,
    };

    let cache_dir = common.cache_dir.clone().unwrap_or_else(|| {
        default_cache_root(env)
            .parent()
            .map_or_else(|| PathBuf::from(".baton-cache"), Path::to_path_buf)
    });
    let url = repo_url(&config);
    let source = RepoSource {
        url,
        token: repo_token,
    };
    let mut options = OpenOptions::new(cache_dir.join("repos"), raw.env_repo.branch.clone());
    options.shallow = true;
    let repo = tokio::task::block_in_place(|| EnvRepo::open(&source, &options))
        .map_err(|e| CommandError::new(ExitKind::External, &e))?;

    Ok(Systems {
        stages,
        repo: Arc::new(Mutex::new(repo)),
        argocd,
        forge,
        cache_dir,
        config,
    })
}

/// `env_repo.url`: a URL as is; a path relative to the config file's directory.
fn repo_url(config: &Config) -> String {
    let url = &config.raw.env_repo.url;
    if url.contains("://") || Path::new(url).is_absolute() {
        return url.clone();
    }
    config.base_dir.join(url).display().to_string()
}

fn forge(config: &Config, f: &config::RawForge) -> Result<Arc<dyn Forge>, CommandError> {
    let secret = token(config, "forge.token_env", f.token_env.as_deref())?
        .unwrap_or_else(|| Secret::new(""));
    let token_env = f.token_env.clone().unwrap_or_default();
    let at = |key: &str, e: &dyn std::error::Error| {
        let mut err = CommandError::new(ExitKind::Usage, e);
        err.message = format!("{}: {key}: {}", config.path.display(), err.message);
        err
    };
    Ok(match f.kind {
        ForgeKind::Gitlab => {
            let cfg = GitLabConfig::new(f.api_url.clone(), f.project.clone(), token_env);
            Arc::new(GitLab::new(cfg, secret).map_err(|e| at("forge.api_url", &e))?)
        }
        ForgeKind::Github => {
            let Some((owner, repo)) = f.project.split_once('/') else {
                return Err(usage(format!(
                    "{}: forge.project: {:?} must be owner/repo for GitHub",
                    config.path.display(),
                    f.project
                )));
            };
            let cfg = GitHubConfig::new(f.api_url.clone(), owner, repo, token_env);
            Arc::new(GitHub::new(cfg, secret).map_err(|e| at("forge.api_url", &e))?)
        }
    })
}

/// Loads the configured policy, through the compile cache under
/// `cache_dir` when one is given. Errors name `policy.path` in the config.
pub fn policy(config: &Config, cache_dir: Option<&Path>) -> Result<LoadedPolicy, CommandError> {
    let runtime = super::policy::cached_runtime(cache_dir.map(|d| d.join("policies")))?;
    let raw = &config.raw.policy;
    let source = PolicySource::parse(&raw.path, &config.base_dir);
    tokio::task::block_in_place(|| runtime.load(&source, raw.sha256.as_deref())).map_err(|e| {
        let mut err = super::policy::load_error(e);
        err.message = format!("{}: policy.path: {}", config.path.display(), err.message);
        err
    })
}

/// A fresh run id: UTC time plus random bits, sortable and unique enough
/// for concurrent CI jobs.
pub fn run_id() -> String {
    let stamp: String = format_rfc3339(SystemTime::now())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{stamp}-{:06x}", fastrand::u32(..0x0100_0000))
}

/// The system clock in milliseconds.
pub fn system_clock() -> Arc<dyn Fn() -> i64 + Send + Sync> {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    })
}

/// Builds the engine for `app` from opened systems and a loaded policy.
pub fn engine(
    systems: Systems,
    policy: LoadedPolicy,
    app: &str,
    dry_run: bool,
    cancel: watch::Receiver<bool>,
    progress: Progress,
) -> Engine {
    let Systems {
        config,
        stages,
        repo,
        argocd,
        forge,
        ..
    } = systems;
    let raw = &config.raw;
    let g = &config.guardrails;
    let run_id = run_id();
    let context = Context {
        app: app.to_owned(),
        stages: raw.apps[app]
            .stages
            .iter()
            .map(|s| Stage {
                name: s.name.clone(),
                file: s.file.clone(),
                field: s.field.clone(),
                argocd_app: s.argocd_app.clone(),
                direct_commit_allowed: g.direct_commit_stages.contains(&s.name),
                auto_merge_allowed: g.auto_merge_stages.contains(&s.name),
                // One target per stage until baton.yaml can name several.
                targets: vec![Target {
                    label: String::new(),
                    file: s.file.clone(),
                    field: s.field.clone(),
                    argocd_app: s.argocd_app.clone(),
                }],
            })
            .collect(),
        settings: if raw.policy.settings.is_null() {
            "{}".into()
        } else {
            raw.policy.settings.to_string()
        },
        run_id,
        max_health_wait: u64::try_from(g.max_health_wait.as_millis()).unwrap_or(u64::MAX),
        dry_run,
    };
    let configured = raw.commit.author_name.clone().map(|name| Identity {
        name,
        email: raw
            .commit
            .author_email
            .clone()
            .unwrap_or_else(|| Identity::default().email),
    });
    let mut commit = CommitSettings {
        identity: Identity::resolve(configured, env),
        ..CommitSettings::default()
    };
    if let Some(template) = &raw.commit.message {
        commit.template = template.clone();
    }
    let policy_info = PolicyInfo {
        source: raw.policy.path.clone(),
        digest: policy.digest.to_string(),
        wit_version: policy.wit_version.clone(),
        name: policy.metadata.name.clone(),
        version: policy.metadata.version.clone(),
        resolved: match &policy.source {
            PolicySource::File(path) => Some(
                std::path::absolute(path)
                    .unwrap_or_else(|_| path.clone())
                    .display()
                    .to_string(),
            ),
            PolicySource::Builtin(_) => None,
        },
    };
    Engine {
        app: app.to_owned(),
        stages,
        context,
        policy: Arc::new(policy),
        policy_info,
        config_info: ConfigInfo {
            path: config.path.display().to_string(),
            digest: config.digest.clone(),
        },
        guardrails: config.guardrails.clone(),
        repo,
        argocd,
        forge,
        commit,
        titles: TitleTemplates::default(),
        ci: CiEnv {
            ci_job_url: env("CI_JOB_URL"),
            github_server_url: env("GITHUB_SERVER_URL"),
            github_repository: env("GITHUB_REPOSITORY"),
            github_run_id: env("GITHUB_RUN_ID"),
        },
        dry_run,
        clock: system_clock(),
        progress_every: Duration::from_secs(10),
        progress,
        cancel,
    }
}

/// A multi-threaded runtime: decide calls block their worker (the policy
/// drives async clients through the handle), so one thread is not enough.
pub fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            CommandError::msg(
                ExitKind::External,
                format!("cannot start the async runtime: {e}"),
            )
        })
}

/// A receiver that flips to `true` on SIGTERM or Ctrl-C.
pub fn cancel_on_signals() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let term = async {
            #[cfg(unix)]
            {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            }
            #[cfg(not(unix))]
            std::future::pending::<()>().await;
        };
        tokio::select! {
            () = term => {}
            r = tokio::signal::ctrl_c() => { if r.is_err() { std::future::pending::<()>().await; } }
        }
        tracing::warn!("cancelling: the audit record will be written, then baton exits");
        let _ = tx.send(true);
    });
    rx
}
