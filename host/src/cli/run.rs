//! `baton promote`, `baton advance`, `baton rollback` and `baton status`:
//! the commands CI jobs run. Each policy run writes its audit record and
//! prints a summary (or one JSON document with `--output json`); the exit
//! code follows the run's outcome.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use serde::Serialize;

use super::error::{CommandError, ExitKind};
use super::output::{self, OutputFormat};
use super::setup::{self, CommonArgs, RunArgs};
use crate::engine::audit::{ActionRecord, ActionStatus, AuditRecord, GateRecord, Status};
use crate::engine::run::Progress;
use crate::engine::status::{StatusReport, status};
use crate::engine::trigger::Trigger;

/// Arguments of `baton promote`.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The application, as named under `apps:`.
    #[arg(long)]
    app: String,
    /// The new version (the app repo's tag), e.g. v1.2.3.
    #[arg(long)]
    tag: String,
    #[command(flatten)]
    run: RunArgs,
}

/// Arguments of `baton advance`.
#[derive(Debug, Args)]
pub struct AdvanceArgs {
    /// The application, as named under `apps:`.
    #[arg(long)]
    app: String,
    /// Compare the branch tip against this commit [default:
    /// $CI_COMMIT_BEFORE_SHA when it is a commit of the env repo, else the
    /// tip's first parent].
    #[arg(long, value_name = "SHA")]
    since: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

/// Arguments of `baton rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The application, as named under `apps:`.
    #[arg(long)]
    app: String,
    /// The stage to roll back.
    #[arg(long)]
    stage: String,
    /// The version to go back to [default: the policy chooses, normally the
    /// last good version]. Still subject to the guardrails.
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    /// Why (recorded in the commit or merge request and the audit record).
    #[arg(long, default_value = "requested with baton rollback")]
    reason: String,
    #[command(flatten)]
    run: RunArgs,
}

/// Arguments of `baton status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The application, as named under `apps:`.
    #[arg(long)]
    app: String,
    #[command(flatten)]
    common: CommonArgs,
}

/// `baton promote`.
pub fn promote(args: PromoteArgs) -> Result<(), CommandError> {
    let trigger = Trigger::Promote { tag: args.tag };
    run(&args.app, &trigger, &args.run)
}

/// `baton advance`.
pub fn advance(args: AdvanceArgs) -> Result<(), CommandError> {
    let trigger = Trigger::Advance { since: args.since };
    run(&args.app, &trigger, &args.run)
}

/// `baton rollback`.
pub fn rollback(args: RollbackArgs) -> Result<(), CommandError> {
    let trigger = Trigger::Rollback {
        stage: args.stage,
        to: args.to,
        reason: args.reason,
    };
    run(&args.app, &trigger, &args.run)
}

fn run(app: &str, trigger: &Trigger, args: &RunArgs) -> Result<(), CommandError> {
    let rt = setup::runtime()?;
    let app = app.to_owned();
    let trigger = trigger.clone();
    let args = args.clone();
    rt.block_on(async move {
        // On a worker thread: decide calls use `block_in_place`.
        tokio::spawn(async move { run_async(&app, &trigger, &args).await })
            .await
            .map_err(|e| CommandError::msg(ExitKind::External, format!("the run panicked: {e}")))?
    })
}

async fn run_async(app: &str, trigger: &Trigger, args: &RunArgs) -> Result<(), CommandError> {
    let systems = setup::systems(&args.common, app).await?;
    let policy = setup::policy(&systems.config, Some(&systems.cache_dir))?;
    let cancel = setup::cancel_on_signals();
    let progress: Progress = Arc::new(|line: &str| eprintln!("{line}"));
    let engine = setup::engine(systems, policy, app, args.dry_run, cancel, progress);
    let record = engine.run(trigger).await;
    let audit_path = match (&args.audit_log, record.dry_run) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => None,
        (None, false) => Some(
            PathBuf::from("baton-audit")
                .join(format!("{}-{}.json", record.command.app, record.run_id)),
        ),
    };
    if let Some(path) = &audit_path {
        record
            .write(path)
            .map_err(|e| CommandError::new(ExitKind::External, &e))?;
    }
    report(&record, audit_path.as_ref(), args.common.output);
    outcome(&record)
}

/// The run's outcome as the process result.
pub(super) fn outcome(record: &AuditRecord) -> Result<(), CommandError> {
    let kind = match record.outcome.status {
        Status::Done | Status::Held | Status::Planned => return Ok(()),
        Status::Failed | Status::Cancelled => ExitKind::Failed,
        Status::UsageError => ExitKind::Usage,
        Status::PolicyError => ExitKind::Policy,
        Status::ExternalError => ExitKind::External,
        Status::Refused => ExitKind::Guardrail,
    };
    Err(CommandError::msg(kind, record.outcome.message.clone()))
}

/// `--output json` of a run.
#[derive(Serialize)]
struct RunJson<'a> {
    outcome: Status,
    exit_code: u8,
    message: &'a str,
    rolled_back: bool,
    run_id: &'a str,
    command: &'a str,
    app: &'a str,
    dry_run: bool,
    policy_digest: &'a str,
    audit_record: Option<String>,
    actions: &'a [ActionRecord],
    gates: &'a [GateRecord],
}

fn report(record: &AuditRecord, audit: Option<&PathBuf>, format: OutputFormat) {
    match format {
        OutputFormat::Json => output::print_json(&RunJson {
            outcome: record.outcome.status,
            exit_code: record.outcome.exit_code,
            message: &record.outcome.message,
            rolled_back: record.outcome.rolled_back,
            run_id: &record.run_id,
            command: &record.command.name,
            app: &record.command.app,
            dry_run: record.dry_run,
            policy_digest: &record.policy.digest,
            audit_record: audit.map(|p| p.display().to_string()),
            actions: &record.actions,
            gates: &record.gates,
        }),
        OutputFormat::Text => output::print(&text(record, audit)),
    }
}

/// The human summary of a run.
pub(super) fn text(record: &AuditRecord, audit: Option<&PathBuf>) -> String {
    let mut out = String::new();
    let args: Vec<String> = record
        .command
        .args
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            format!(
                "--{k} {}",
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "baton {} --app {} {}{}",
        record.command.name,
        record.command.app,
        args.join(" "),
        if record.dry_run { " (dry run)" } else { "" }
    );
    let _ = writeln!(
        out,
        "run {}, policy {} {} ({})",
        record.run_id, record.policy.name, record.policy.version, record.policy.digest
    );
    for a in &record.actions {
        let mark = match a.status {
            ActionStatus::Done => "done",
            ActionStatus::Unchanged => "unchanged",
            ActionStatus::Planned => "plan",
            ActionStatus::Refused => "refused",
            ActionStatus::Failed => "failed",
            ActionStatus::Skipped => "skipped",
        };
        let _ = writeln!(out, "  [{mark}] {}", a.action);
        if !a.detail.is_empty() && !a.action.to_string().ends_with(&a.detail) {
            let _ = writeln!(out, "          {}", a.detail);
        }
    }
    let status = match record.outcome.status {
        Status::Done => "done",
        Status::Held => "held",
        Status::Planned => "planned",
        Status::Failed => "failed",
        Status::UsageError => "usage error",
        Status::PolicyError => "policy error",
        Status::ExternalError => "outside system failed",
        Status::Refused => "refused by a guardrail",
        Status::Cancelled => "cancelled",
    };
    let _ = writeln!(out, "{status}: {}", record.outcome.message);
    if let Some(p) = audit {
        let _ = writeln!(out, "audit record: {}", p.display());
    }
    out
}

/// `baton status`.
pub fn status_cmd(args: StatusArgs) -> Result<(), CommandError> {
    let rt = setup::runtime()?;
    rt.block_on(async move {
        tokio::spawn(async move {
            let systems = setup::systems(&args.common, &args.app).await?;
            let report = status_report(&systems, &args.app).await?;
            match args.common.output {
                OutputFormat::Json => output::print_json(&report),
                OutputFormat::Text => output::print(&status_text(&report)),
            }
            if report.errors.is_empty() {
                Ok(())
            } else {
                Err(CommandError::msg(
                    ExitKind::External,
                    format!("could not reach every system: {}", report.errors.join("; ")),
                ))
            }
        })
        .await
        .map_err(|e| CommandError::msg(ExitKind::External, format!("status panicked: {e}")))?
    })
}

/// Gathers `baton status` for `app` from opened systems.
pub(super) async fn status_report(
    systems: &setup::Systems,
    app: &str,
) -> Result<StatusReport, CommandError> {
    status(
        app,
        &systems.stages,
        &systems.repo,
        systems.argocd.as_deref(),
        systems.forge.as_deref(),
    )
    .await
    .map_err(|e| CommandError::msg(ExitKind::External, e))
}

/// The status table.
pub(super) fn status_text(report: &StatusReport) -> String {
    let short = |s: &str| s[..s.len().min(7)].to_owned();
    let mut rows = vec![[
        "STAGE".to_owned(),
        "VERSION".to_owned(),
        "ARGO CD".to_owned(),
        "LAST GOOD".to_owned(),
        "OPEN MERGE REQUESTS".to_owned(),
    ]];
    for s in &report.stages {
        let argo = s.argocd.as_ref().map_or_else(
            || "-".to_owned(),
            |a| {
                format!(
                    "{} / {} @{}",
                    a.health,
                    a.sync,
                    a.revision.as_deref().map_or_else(|| "-".into(), short)
                )
            },
        );
        let mrs = if s.open_merge_requests.is_empty() {
            "-".to_owned()
        } else {
            s.open_merge_requests
                .iter()
                .map(|m| format!("#{} {} {}", m.number, m.version, m.url))
                .collect::<Vec<_>>()
                .join(", ")
        };
        rows.push([
            s.name.clone(),
            s.version.clone().unwrap_or_else(|| "(none)".into()),
            argo,
            s.last_good.clone().unwrap_or_else(|| "-".into()),
            mrs,
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "{} on {} @{}\n",
        report.app,
        report.branch,
        short(&report.tip)
    );
    for r in &rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for e in &report.errors {
        let _ = writeln!(out, "error: {e}");
    }
    out
}
