//! `baton config check` and `baton config schema`.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::error::CommandError;
use super::load;
use super::output::{self, OutputFormat};
use crate::config::{self, Config};
use crate::runtime::LoadedPolicy;

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
    /// Also fetch the env repo and read every stage's version at the branch
    /// tip: a missing file or field, or a stage file that is a symlink, is
    /// a configuration error too.
    #[arg(long)]
    fetch: bool,
    /// Baton's cache directory (with --fetch) [default: $XDG_CACHE_HOME/baton
    /// or ~/.cache/baton].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
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
    /// `guardrails.max_health_wait` in seconds.
    max_health_wait_s: u64,
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
    /// A stage with several targets: each (the fields above are the
    /// first's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    targets: Vec<TargetInfo>,
}

#[derive(Serialize)]
struct TargetInfo {
    label: String,
    file: String,
    field: String,
    argocd_app: String,
}

fn check(args: CheckArgs) -> Result<(), CommandError> {
    let config = load::config(&args.config)?;
    for var in config.token_vars() {
        config.token(Some(var))?;
    }
    let policy = load::policy(&config, None)?;
    // A context the policy's contract version cannot express (a stage with
    // several targets for a 0.1 policy) is refused here as at run time.
    for app in config.apps() {
        policy
            .check_context(&crate::engine::context(&config, app, false))
            .map_err(|e| {
                CommandError::usage(format!(
                    "{}: apps.{}: policy {}: {e}",
                    config.path().display(),
                    app.name,
                    policy.source
                ))
            })?;
    }
    if args.fetch {
        let common = load::CommonArgs {
            config: args.config.clone(),
            output: args.output,
            cache_dir: args.cache_dir.clone(),
        };
        read_stages(&config, &common.cache_root())?;
    }
    let resolved = Resolved::new(&config, &policy);
    match args.output {
        OutputFormat::Json => output::print_json(&resolved),
        OutputFormat::Text => output::print(&resolved.text()),
    }
    Ok(())
}

/// Reads every stage's version at the env repo's branch tip.
fn read_stages(config: &Config, cache_root: &std::path::Path) -> Result<(), CommandError> {
    let systems = load::systems(config, cache_root)?;
    systems.repo.with(|repo| {
        let branch = repo.branch().to_owned();
        for app in config.apps() {
            for (i, stage) in app.stages.iter().enumerate() {
                for (j, target) in stage.targets.iter().enumerate() {
                    repo.read_version(&branch, &target.location).map_err(|e| {
                        let key = if stage.is_multi_target() {
                            format!("apps.{}.stages[{i}].targets[{j}]", app.name)
                        } else {
                            format!("apps.{}.stages[{i}]", app.name)
                        };
                        CommandError::usage(format!(
                            "{}: {key}: {}",
                            config.path().display(),
                            crate::report::error_chain(&e)
                        ))
                    })?;
                }
            }
        }
        Ok(())
    })
}

impl Resolved {
    fn new(config: &Config, policy: &LoadedPolicy) -> Self {
        let g = config.guardrails();
        Self {
            config: config.path().display().to_string(),
            config_digest: config.digest().to_owned(),
            policy: PolicyInfo {
                source: policy.source.to_string(),
                digest: policy.digest.to_string(),
                name: policy.metadata.name.clone(),
                version: policy.metadata.version.clone(),
            },
            env_repo: config.env_repo().url.clone(),
            branch: config.env_repo().branch.clone(),
            max_health_wait_s: g.max_health_wait.as_secs(),
            apps: config
                .apps()
                .map(|app| AppInfo {
                    name: app.name.clone(),
                    stages: app
                        .stages
                        .iter()
                        .map(|s| StageInfo {
                            name: s.name.clone(),
                            file: s.location.file.clone(),
                            field: s.location.field.to_string(),
                            argocd_app: s.argocd_app.clone(),
                            direct_commit: g.direct_commit_stages.contains(&s.name),
                            auto_merge: g.auto_merge_stages.contains(&s.name),
                            targets: if s.is_multi_target() {
                                s.targets
                                    .iter()
                                    .map(|t| TargetInfo {
                                        label: t.label.clone(),
                                        file: t.location.file.clone(),
                                        field: t.location.field.to_string(),
                                        argocd_app: t.argocd_app.clone(),
                                    })
                                    .collect()
                            } else {
                                Vec::new()
                            },
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The human form of `config check`.
    fn text(&self) -> String {
        let mut text = String::new();
        let p = &self.policy;
        let _ = writeln!(text, "config:   {} ({})", self.config, self.config_digest);
        let _ = writeln!(
            text,
            "policy:   {} {} {} ({})",
            p.source, p.name, p.version, p.digest
        );
        let _ = writeln!(text, "env repo: {} (branch {})", self.env_repo, self.branch);
        let _ = writeln!(
            text,
            "gates:    at most {}s per health gate",
            self.max_health_wait_s
        );
        for app in &self.apps {
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
                if s.targets.is_empty() {
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
                    continue;
                }
                let _ = writeln!(
                    text,
                    "  {}. {:<8} {} targets, changed together [{}]",
                    i + 1,
                    s.name,
                    s.targets.len(),
                    rules.join(", ")
                );
                for t in &s.targets {
                    let _ = writeln!(
                        text,
                        "     - {:<6} {} {} -> Argo CD {}",
                        t.label, t.file, t.field, t.argocd_app
                    );
                }
            }
        }
        text
    }
}
