//! `baton config check` and `baton config schema`.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::error::{CommandError, ExitKind};
use super::output::{self, OutputFormat};
use crate::config::{self, Config};

/// Config subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate baton.yaml and its policy; print the resolved stages.
    Check(CheckArgs),
    /// Print the JSON Schema of baton.yaml.
    Schema,
}

/// Arguments of `baton config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file.
    #[arg(long, default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// Runs a config subcommand.
pub fn run(cmd: ConfigCommand) -> Result<(), CommandError> {
    match cmd {
        ConfigCommand::Check(args) => check(args),
        ConfigCommand::Schema => {
            output::print_json(&config::schema());
            Ok(())
        }
    }
}

#[derive(Serialize)]
struct Resolved {
    config: String,
    config_digest: String,
    policy: PolicyInfo,
    env_repo: String,
    branch: String,
    apps: Vec<AppInfo>,
}

#[derive(Serialize)]
struct PolicyInfo {
    source: String,
    digest: String,
    name: String,
    version: String,
}

#[derive(Serialize)]
struct AppInfo {
    name: String,
    stages: Vec<StageInfo>,
}

#[derive(Serialize)]
struct StageInfo {
    name: String,
    file: String,
    field: String,
    argocd_app: String,
    direct_commit: bool,
    auto_merge: bool,
}

/// Loads and validates the config, mapping errors to exit 2.
pub(super) fn load_config(path: &std::path::Path) -> Result<Config, CommandError> {
    Config::load(path).map_err(|e| CommandError::new(ExitKind::Usage, &e))
}

fn check(args: CheckArgs) -> Result<(), CommandError> {
    let config = load_config(&args.config)?;
    let raw = &config.raw;
    for (key, name) in [
        ("env_repo.token_env", raw.env_repo.token_env.as_deref()),
        (
            "argocd.token_env",
            raw.argocd.as_ref().and_then(|a| a.token_env.as_deref()),
        ),
        (
            "forge.token_env",
            raw.forge.as_ref().and_then(|f| f.token_env.as_deref()),
        ),
    ] {
        config
            .require_token(key, name)
            .map_err(|e| CommandError::new(ExitKind::Usage, &e))?;
    }
    let policy = super::setup::policy(&config, None)?;

    let g = &config.guardrails;
    let resolved = Resolved {
        config: config.path.display().to_string(),
        config_digest: config.digest.clone(),
        policy: PolicyInfo {
            source: policy.source.to_string(),
            digest: policy.digest.to_string(),
            name: policy.metadata.name.clone(),
            version: policy.metadata.version.clone(),
        },
        env_repo: raw.env_repo.url.clone(),
        branch: raw.env_repo.branch.clone(),
        apps: raw
            .apps
            .iter()
            .map(|(name, app)| AppInfo {
                name: name.clone(),
                stages: app
                    .stages
                    .iter()
                    .map(|s| StageInfo {
                        name: s.name.clone(),
                        file: s.file.clone(),
                        field: s.field.clone(),
                        argocd_app: s.argocd_app.clone(),
                        direct_commit: g.direct_commit_stages.contains(&s.name),
                        auto_merge: g.auto_merge_stages.contains(&s.name),
                    })
                    .collect(),
            })
            .collect(),
    };
    if args.output == OutputFormat::Json {
        output::print_json(&resolved);
        return Ok(());
    }
    let mut text = String::new();
    let _ = writeln!(
        text,
        "config:   {} ({})",
        resolved.config, resolved.config_digest
    );
    let p = &resolved.policy;
    let _ = writeln!(
        text,
        "policy:   {} {} {} ({})",
        p.source, p.name, p.version, p.digest
    );
    let _ = writeln!(
        text,
        "env repo: {} (branch {})",
        resolved.env_repo, resolved.branch
    );
    let _ = writeln!(
        text,
        "gates:    at most {}s per health gate",
        g.max_health_wait.as_secs()
    );
    for app in &resolved.apps {
        let _ = writeln!(text, "app {}:", app.name);
        for (i, s) in app.stages.iter().enumerate() {
            let mut rules = vec![if s.direct_commit {
                "direct commit allowed"
            } else {
                "merge request only"
            }];
            if s.auto_merge {
                rules.push("auto-merge allowed");
            }
            let _ = writeln!(
                text,
                "  {}. {:<8} {} {} -> Argo CD {} [{}]",
                i + 1,
                s.name,
                s.file,
                s.field,
                s.argocd_app,
                rules.join(", ")
            );
        }
    }
    output::print(&text);
    Ok(())
}
