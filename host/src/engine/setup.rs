//! [`Engine::new`]: from the typed configuration, the opened systems and a
//! loaded policy to an engine ready to run: the context every decide call
//! receives, commit authorship, and what the audit record says about the
//! policy, the configuration and the CI job. [`Engine::failed_to_open`]:
//! the record of a run whose systems could not be opened.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::audit::{AuditRecord, ConfigInfo, PolicyInfo, RepoInfo, Status};
use super::guardrails::DecisionLimits;
use super::run::Header;
use super::state::{Clock, Engine, RunOptions, RunState, Systems, strip_credentials};
use super::trigger::Trigger;
use crate::capabilities::forge::content::{CiEnv, TitleTemplates};
use crate::capabilities::git::{CommitSettings, Identity};
use crate::config::{AppConfig, Config, ForgeKind};
use crate::runtime::{Context, LoadedPolicy, PolicySource, Stage, Target};
use crate::time::format_rfc3339;

/// Reads an environment variable (CI context, commit identity).
fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

impl Engine {
    /// An engine for `app` of `config`, over opened `systems`.
    pub fn new(
        config: &Config,
        app: &AppConfig,
        systems: Systems,
        policy: LoadedPolicy,
        options: RunOptions,
    ) -> Self {
        let context = context(config, app, options.dry_run);
        let mut commit = CommitSettings {
            identity: Identity::resolve(config.commit().author.clone(), env),
            ..CommitSettings::default()
        };
        if let Some(template) = &config.commit().message {
            commit.template = template.clone();
        }
        Self {
            app: app.name.clone(),
            stages: app.stages.clone(),
            context,
            policy_info: policy_info(config, &policy),
            policy: Arc::new(policy),
            config_info: config_info(config),
            guardrails: config.guardrails().clone(),
            limits: match config.forge().map(|f| f.kind) {
                Some(ForgeKind::Gitlab) => DecisionLimits::for_forge(1_000_000),
                _ => DecisionLimits::for_forge(65_536),
            },
            systems,
            commit,
            titles: TitleTemplates::default(),
            ci: CiEnv {
                ci_job_url: env("CI_JOB_URL"),
                github_server_url: env("GITHUB_SERVER_URL"),
                github_repository: env("GITHUB_REPOSITORY"),
                github_run_id: env("GITHUB_RUN_ID"),
            },
            options,
            audit_records: config.audit().records.clone(),
        }
    }
}

/// Why a run ended before its systems could be opened (the env repo could
/// not be fetched, its cache stayed locked, a client could not be built).
#[derive(Debug, Clone)]
pub struct OpenFailure {
    /// How the run ended (`external-error` for an unreachable remote or a
    /// locked cache).
    pub status: Status,
    /// What went wrong, for people.
    pub message: String,
    /// When the run started (before the systems were opened).
    pub started: Instant,
}

impl Engine {
    /// The audit record of a run of `trigger` for `app` that ended before
    /// its systems opened: it names the configuration, the policy (loaded
    /// before the systems for this reason), the env repo as configured, and
    /// the outcome; it holds no decisions.
    pub fn failed_to_open(
        config: &Config,
        app: &AppConfig,
        policy: &LoadedPolicy,
        dry_run: bool,
        trigger: &Trigger,
        failure: OpenFailure,
    ) -> AuditRecord {
        let repo = config.env_repo();
        let header = Header {
            command: trigger.command(&app.name),
            started: SystemTime::now()
                .checked_sub(failure.started.elapsed())
                .unwrap_or_else(SystemTime::now),
            clock: failure.started,
            dry_run,
            policy: policy_info(config, policy),
            config: config_info(config),
            env_repo: RepoInfo {
                url: strip_credentials(&repo.url),
                branch: repo.branch.clone(),
                tip_at_start: String::new(),
            },
            context: context(config, app, dry_run),
            commit_author: None,
        };
        header.record(RunState::default(), failure.status, failure.message)
    }
}

/// What the audit record says about the configuration file.
fn config_info(config: &Config) -> ConfigInfo {
    ConfigInfo {
        path: config.path().display().to_string(),
        digest: config.digest().to_owned(),
    }
}

/// The context every decide call of the run receives.
pub fn context(config: &Config, app: &AppConfig, dry_run: bool) -> Context {
    let g = config.guardrails();
    Context {
        app: app.name.clone(),
        stages: app
            .stages
            .iter()
            .map(|s| Stage {
                name: s.name.clone(),
                file: s.location.file.clone(),
                field: s.location.field.to_string(),
                argocd_app: s.argocd_app.clone(),
                direct_commit_allowed: g.direct_commit_stages.contains(&s.name),
                auto_merge_allowed: g.auto_merge_stages.contains(&s.name),
                targets: s
                    .targets
                    .iter()
                    .map(|t| Target {
                        label: t.label.clone(),
                        file: t.location.file.clone(),
                        field: t.location.field.to_string(),
                        argocd_app: t.argocd_app.clone(),
                    })
                    .collect(),
            })
            .collect(),
        settings: config.policy().settings.to_string(),
        run_id: run_id(),
        max_health_wait: u64::try_from(g.max_health_wait.as_millis()).unwrap_or(u64::MAX),
        dry_run,
    }
}

/// What the audit record says about the policy.
fn policy_info(config: &Config, policy: &LoadedPolicy) -> PolicyInfo {
    PolicyInfo {
        source: config.policy().path.clone(),
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
    }
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
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    })
}
