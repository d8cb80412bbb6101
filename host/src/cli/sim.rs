//! `baton sim ...`: the simulators as standalone servers on loopback, for
//! trying Baton and its policies without a real Argo CD, GitLab, GitHub or
//! Prometheus.
//! Each prints `listening on <url>` on stdout once it accepts connections,
//! then serves until interrupted. `baton sim merge` merges a merge request
//! on a forge simulator as a reviewer would ([`merge`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use tokio::net::TcpListener;

mod merge;

use super::error::CommandError;
use super::output;
use crate::secret::Secret;
use crate::sim::argocd::{self as argocd_sim, SimApp, SimConfig};
use crate::sim::forge::{MergeStrategy, github, gitlab};
use crate::sim::prometheus::{self as prometheus_sim, PromSimConfig, ScriptedAnswer};

/// Simulator subcommands.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// An Argo CD API server whose applications follow a git branch.
    Argocd(ArgocdArgs),
    /// A GitLab v4 API (merge requests) over a bare git repository.
    Gitlab(GitlabArgs),
    /// A GitHub REST API (pull requests) over a bare git repository.
    Github(GithubArgs),
    /// A Prometheus query API (`/api/v1/query`, `/api/v1/query_range`)
    /// answering scripted series by PromQL text.
    Prometheus(PrometheusArgs),
    /// Merge an open merge request on a running GitLab or GitHub simulator,
    /// as a reviewer would.
    Merge(merge::MergeArgs),
}

/// Arguments of `baton sim prometheus`.
#[derive(Debug, Args)]
pub struct PrometheusArgs {
    /// Script file (YAML): `queries:` mapping each PromQL text to a
    /// timeline of answers (`{ at: 2m, value: 0.3 }`, `samples`, `scalar`,
    /// `error: { type: bad_data, message }`), offsets from the start (no
    /// `at`: always); `unscripted: error|empty`.
    #[arg(long)]
    script: Option<PathBuf>,
    /// An answer holding at all times, as 'PROMQL=VALUE' (a number, NaN,
    /// +Inf or -Inf); repeatable, added to the script.
    #[arg(long = "answer", value_name = "PROMQL=VALUE")]
    answers: Vec<String>,
    /// Address to listen on (port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Environment variable holding the bearer token the server requires.
    #[arg(long)]
    token_env: Option<String>,
}

/// Arguments of `baton sim argocd`.
#[derive(Debug, Args)]
pub struct ArgocdArgs {
    /// The git repository (bare or not) the applications track.
    #[arg(long, required_unless_present = "scenario_schema")]
    repo: Option<PathBuf>,
    /// Print the JSON Schema of the --scenario file and exit.
    #[arg(long, conflicts_with_all = ["repo", "scenario", "apps"])]
    scenario_schema: bool,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Scenario file (YAML): branch, apps with file/field, sync delays,
    /// degrade rules, scripted health, faults.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// An application as NAME=FILE:FIELD (FIELD a dotted YAML path such as
    /// image.tag); repeatable, added to the scenario's apps.
    #[arg(long = "app", value_name = "NAME=FILE:FIELD")]
    apps: Vec<String>,
    /// Environment variable holding the bearer token the server requires.
    #[arg(long)]
    token_env: Option<String>,
}

/// Arguments of `baton sim gitlab`.
#[derive(Debug, Args)]
pub struct GitlabArgs {
    /// The bare repository holding the project's branches.
    #[arg(long)]
    repo: PathBuf,
    /// Address to listen on (port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Project path.
    #[arg(long, default_value = "acme/gitops-env")]
    project: String,
    /// Numeric project id.
    #[arg(long, default_value_t = 42)]
    project_id: u64,
    /// Merge method of the project.
    #[arg(long, value_enum, default_value_t = MergeMethod::Merge)]
    merge_method: MergeMethod,
    /// Environment variable holding the token the server requires.
    #[arg(long)]
    token_env: Option<String>,
}

/// Arguments of `baton sim github`.
#[derive(Debug, Args)]
pub struct GithubArgs {
    /// The bare repository holding the repository's branches.
    #[arg(long)]
    repo: PathBuf,
    /// Address to listen on (port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Repository as OWNER/NAME.
    #[arg(long, default_value = "acme/gitops-env")]
    repository: String,
    /// Environment variable holding the token the server requires.
    #[arg(long)]
    token_env: Option<String>,
}

/// GitLab project merge methods.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MergeMethod {
    /// A merge commit for every MR.
    Merge,
    /// Fast-forward only.
    Ff,
}

/// Runs a simulator until interrupted (`merge`: one merge, then exits).
pub fn run(cmd: SimCommand) -> Result<(), CommandError> {
    if let SimCommand::Argocd(ArgocdArgs {
        scenario_schema: true,
        ..
    }) = cmd
    {
        output::print_json(&scenario_schema());
        return Ok(());
    }
    let runtime = super::process::runtime()?;
    runtime.block_on(async move {
        match cmd {
            SimCommand::Argocd(args) => argocd(args).await,
            SimCommand::Gitlab(args) => forge_gitlab(args).await,
            SimCommand::Github(args) => forge_github(args).await,
            SimCommand::Prometheus(args) => prometheus(args).await,
            SimCommand::Merge(args) => merge::run(args).await,
        }
    })
}

/// The JSON Schema of a `baton sim argocd --scenario` file.
fn scenario_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(SimConfig)).unwrap_or_default()
}

fn token(name: Option<&str>) -> Result<Option<String>, CommandError> {
    let Some(name) = name else { return Ok(None) };
    Secret::from_env(name)
        .map(|s| Some(s.expose().to_owned()))
        .ok_or_else(|| {
            CommandError::usage(format!(
                "--token-env: environment variable {name} is not set"
            ))
        })
}

async fn listen(addr: SocketAddr, what: &str, path: &str) -> Result<TcpListener, CommandError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| CommandError::usage(format!("cannot listen on {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| CommandError::external(format!("cannot read the listen address: {e}")))?;
    output::print(&format!("{what} listening on http://{local}{path}\n"));
    Ok(listener)
}

fn serve_error(e: &dyn std::error::Error) -> CommandError {
    CommandError::external(crate::report::error_chain(e))
}

async fn argocd(args: ArgocdArgs) -> Result<(), CommandError> {
    let repo = args
        .repo
        .ok_or_else(|| CommandError::usage("--repo is required"))?;
    let mut config: SimConfig = match &args.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CommandError::usage(format!("cannot read scenario {}: {e}", path.display()))
            })?;
            yaml_serde::from_str(&format!("repo: {:?}\n{text}", repo.display().to_string()))
                .map_err(|e| {
                    CommandError::usage(format!("invalid scenario {}: {e}", path.display()))
                })?
        }
        None => yaml_serde::from_str(&format!("repo: {:?}\n", repo.display().to_string()))
            .map_err(|e| CommandError::usage(format!("invalid repository path: {e}")))?,
    };
    for spec in &args.apps {
        config.apps.push(parse_app(spec)?);
    }
    if config.apps.is_empty() {
        return Err(CommandError::usage(
            "no applications: give --app NAME=FILE:FIELD or a --scenario with apps",
        ));
    }
    config.token = token(args.token_env.as_deref())?;
    let listener = listen(args.listen, "Argo CD simulator", "").await?;
    argocd_sim::serve(config, listener)
        .await
        .map_err(|e| serve_error(&e))
}

fn parse_app(spec: &str) -> Result<SimApp, CommandError> {
    let bad = || {
        CommandError::usage(format!(
            "--app {spec:?}: expected NAME=FILE:FIELD, e.g. payments-dev=overlays/dev/values.yaml:image.tag"
        ))
    };
    let (name, rest) = spec.split_once('=').ok_or_else(bad)?;
    let (file, field) = rest.rsplit_once(':').ok_or_else(bad)?;
    if name.is_empty() || file.is_empty() || field.is_empty() {
        return Err(bad());
    }
    yaml_serde::from_str(&format!(
        "{{ name: {name:?}, file: {file:?}, field: {field:?} }}"
    ))
    .map_err(|_| bad())
}

async fn forge_gitlab(args: GitlabArgs) -> Result<(), CommandError> {
    let config = gitlab::GitLabSimConfig {
        repo: args.repo,
        project_path: args.project,
        project_id: args.project_id,
        token: token(args.token_env.as_deref())?.map(Secret::new),
        merge_method: match args.merge_method {
            MergeMethod::Merge => MergeStrategy::MergeCommit,
            MergeMethod::Ff => MergeStrategy::FastForward,
        },
    };
    let listener = listen(args.listen, "GitLab simulator", "/api/v4").await?;
    gitlab::serve(config, listener)
        .await
        .map_err(|e| serve_error(&e))
}

async fn forge_github(args: GithubArgs) -> Result<(), CommandError> {
    let (owner, name) = args.repository.split_once('/').ok_or_else(|| {
        CommandError::usage(format!(
            "--repository {:?}: expected OWNER/NAME",
            args.repository
        ))
    })?;
    let config = github::GitHubSimConfig {
        repo: args.repo,
        owner: owner.into(),
        name: name.into(),
        token: token(args.token_env.as_deref())?.map(Secret::new),
    };
    let listener = listen(args.listen, "GitHub simulator", "").await?;
    github::serve(config, listener)
        .await
        .map_err(|e| serve_error(&e))
}

async fn prometheus(args: PrometheusArgs) -> Result<(), CommandError> {
    let mut config: PromSimConfig = match &args.script {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CommandError::usage(format!("cannot read script {}: {e}", path.display()))
            })?;
            yaml_serde::from_str(&text).map_err(|e| {
                CommandError::usage(format!("invalid script {}: {e}", path.display()))
            })?
        }
        None => PromSimConfig::default(),
    };
    for spec in &args.answers {
        let (promql, answer) = parse_answer(spec)?;
        config.queries.entry(promql).or_default().push(answer);
    }
    if config.queries.is_empty() {
        return Err(CommandError::usage(
            "no queries: give --answer 'PROMQL=VALUE' or a --script with queries",
        ));
    }
    config.token = token(args.token_env.as_deref())?;
    let listener = listen(args.listen, "Prometheus simulator", "").await?;
    prometheus_sim::serve(config, listener)
        .await
        .map_err(|e| serve_error(&e))
}

/// `PROMQL=VALUE`: the value is after the last `=` (PromQL has its own).
fn parse_answer(spec: &str) -> Result<(String, ScriptedAnswer), CommandError> {
    let bad = || {
        CommandError::usage(format!(
            "--answer {spec:?}: expected PROMQL=VALUE, e.g. 'sum(rate(errors[5m]))=0.01'"
        ))
    };
    let (promql, value) = spec.rsplit_once('=').ok_or_else(bad)?;
    if promql.trim().is_empty() || value.trim().is_empty() {
        return Err(bad());
    }
    let answer =
        yaml_serde::from_str(&format!("{{ value: {:?} }}", value.trim())).map_err(|_| bad())?;
    Ok((promql.trim().to_owned(), answer))
}
