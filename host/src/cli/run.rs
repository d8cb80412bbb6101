//! `baton promote`, `baton advance`, `baton reconcile` and `baton
//! rollback`: the commands CI jobs run. Each run writes its audit record
//! and prints a summary (or one JSON document with `--output json`); the
//! exit code follows the run's outcome.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::error::{CommandError, ExitKind};
use super::load::{self, CommonArgs};
use super::output::{self, OutputFormat};
use super::process;
use crate::engine::audit::integrity::Signer;
use crate::engine::audit::{ActionRecord, ActionStatus, AuditRecord, GateRecord, Status};
use crate::engine::{Engine, OpenFailure, Progress, RunOptions, Trigger, system_clock};

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
    /// How long to wait for the env repo cache while other baton processes
    /// fetch or write it (CI jobs side by side on one runner); then exit 4.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_wait)]
    pub cache_wait: Duration,
}

/// `--cache-wait`: a duration as `baton.yaml` writes them (`90s`, `5m`).
fn parse_wait(text: &str) -> Result<Duration, String> {
    crate::config::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration (examples: 30s, 5m, 1h)"))
}

/// Arguments of `baton promote`.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The application, as named under `apps:`.
    #[arg(long)]
    app: String,
    /// The new version (the app repo's tag), e.g. v1.2.3; a full image
    /// reference or a digest also work where the stages' fields take them.
    #[arg(long, required_unless_present = "digest")]
    tag: Option<String>,
    /// The image digest built for it, e.g. sha256:…; written where a
    /// stage's field holds a digest and recorded in every commit
    /// (Baton-Digest). Where the stages hold only a digest it is the
    /// version, and --tag is left out.
    #[arg(long, value_name = "SHA256")]
    digest: Option<String>,
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
    #[arg(long, value_name = "SHA", conflicts_with = "all")]
    since: Option<String>,
    /// Every stage, changed or not: the same as `baton reconcile`.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    run: RunArgs,
}

/// Arguments of `baton reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The application, as named under `apps:`.
    #[arg(long)]
    app: String,
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

/// `baton promote`.
pub fn promote(args: PromoteArgs) -> Result<(), CommandError> {
    let trigger = Trigger::Promote {
        tag: args.tag,
        digest: args.digest,
    };
    run(args.app, trigger, args.run)
}

/// `baton advance` (`--all`: `baton reconcile`).
pub fn advance(args: AdvanceArgs) -> Result<(), CommandError> {
    let trigger = if args.all {
        Trigger::Reconcile
    } else {
        Trigger::Advance { since: args.since }
    };
    run(args.app, trigger, args.run)
}

/// `baton reconcile`: every stage asked again, so held promotions resume.
pub fn reconcile(args: ReconcileArgs) -> Result<(), CommandError> {
    run(args.app, Trigger::Reconcile, args.run)
}

/// `baton rollback`.
pub fn rollback(args: RollbackArgs) -> Result<(), CommandError> {
    let trigger = Trigger::Rollback {
        stage: args.stage,
        to: args.to,
        reason: args.reason,
    };
    run(args.app, trigger, args.run)
}

fn run(app: String, trigger: Trigger, args: RunArgs) -> Result<(), CommandError> {
    process::block_on("the run", async move {
        let (record, signer) = record(&app, &trigger, &args).await?;
        let audit_path = match (&args.audit_log, record.dry_run) {
            (Some(p), _) => Some(p.clone()),
            (None, true) => None,
            (None, false) => Some(
                PathBuf::from("baton-audit")
                    .join(format!("{}-{}.json", record.command.app, record.run_id)),
            ),
        };
        if let Some(path) = &audit_path {
            record.write_sealed(path, signer.as_ref())?;
        }
        report(&record, audit_path.as_ref(), args.common.output);
        outcome(&record)
    })
}

/// Runs `trigger` for `app` and returns its audit record and the key that
/// signs it (`audit.signing_key_env`). The policy loads before the systems
/// open, so a run whose env repo cannot be fetched (or whose cache stays
/// locked) is recorded too; without a configuration or a policy there is
/// nothing to record and the error is returned.
async fn record(
    app: &str,
    trigger: &Trigger,
    args: &RunArgs,
) -> Result<(AuditRecord, Option<Signer>), CommandError> {
    let started = Instant::now();
    let config = load::config(&args.common.config)?;
    let signer = super::audit::signer(&config)?;
    let app = config.app(app)?;
    let cache_root = args.common.cache_root();
    let policy = load::policy(&config, Some(&cache_root))?;
    let systems = match load::systems_waiting(&config, &cache_root, args.cache_wait) {
        Ok(systems) => systems,
        Err(e) => {
            let failure = OpenFailure {
                status: status_of(e.kind()),
                message: e.message(),
                started,
            };
            let record =
                Engine::failed_to_open(&config, app, &policy, args.dry_run, trigger, failure);
            return Ok((record, signer));
        }
    };
    let progress: Progress = Arc::new(output::progress);
    let options = RunOptions {
        dry_run: args.dry_run,
        clock: system_clock(),
        progress_every: Duration::from_secs(10),
        progress,
        cancel: process::cancel_on_signals(),
    };
    let engine = Engine::new(&config, app, systems, policy, options);
    Ok((engine.run(trigger).await, signer))
}

/// The record status of an error that ended a run before it started.
fn status_of(kind: ExitKind) -> Status {
    match kind {
        ExitKind::Success | ExitKind::External => Status::ExternalError,
        ExitKind::Failed => Status::Failed,
        ExitKind::Usage => Status::UsageError,
        ExitKind::Policy => Status::PolicyError,
        ExitKind::Guardrail => Status::Refused,
    }
}

/// The run's outcome as the process result.
pub(super) fn outcome(record: &AuditRecord) -> Result<(), CommandError> {
    match record.outcome.status.exit_kind() {
        ExitKind::Success => Ok(()),
        kind => Err(CommandError::new(kind, record.outcome.message.clone())),
    }
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
            let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            format!("--{k} {}", shell_quoted(&value))
        })
        .collect();
    let mut header = format!("baton {} --app {}", record.command.name, record.command.app);
    for arg in &args {
        header.push(' ');
        header.push_str(arg);
    }
    let _ = writeln!(
        out,
        "{header}{}",
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
        let _ = writeln!(out, "  [{mark}] {}", shown_action(record, a));
        if !a.detail.is_empty() && !a.action.to_string().ends_with(&a.detail) {
            let _ = writeln!(out, "          {}", a.detail);
        }
        for note in &a.guardrails {
            let _ = writeln!(
                out,
                "          {} {}: {}",
                note.rule, note.effect, note.detail
            );
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

/// An action as run: a health wait the guardrail capped shows the wait it
/// really had, not the one the policy asked for.
fn shown_action(record: &AuditRecord, a: &ActionRecord) -> String {
    let capped = a
        .guardrails
        .iter()
        .any(|g| g.rule == "max_health_wait" && g.effect == "capped");
    match &a.action {
        crate::runtime::Action::AwaitHealth(wait) if capped => {
            let mut applied = wait.clone();
            applied.timeout = wait.timeout.min(record.context.max_health_wait);
            format!(
                "{} (capped by max_health_wait; the policy asked for {}s)",
                crate::runtime::Action::AwaitHealth(applied),
                wait.timeout / 1000
            )
        }
        other => other.to_string(),
    }
}

/// `value` as a shell would need it: bare when it is only safe characters,
/// else in single quotes (a `'` inside written `'\''`), so the header line
/// reads as the command that was run.
fn shell_quoted(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.,:/@%+=".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        return value.to_owned();
    }
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::shell_quoted;

    #[test]
    fn header_values_are_quoted_like_a_shell_needs_them() {
        assert_eq!(shell_quoted("v1.2.3"), "v1.2.3");
        assert_eq!(shell_quoted("staging"), "staging");
        assert_eq!(
            shell_quoted("requested with baton rollback"),
            "'requested with baton rollback'"
        );
        assert_eq!(shell_quoted("it's broken"), r"'it'\''s broken'");
        assert_eq!(shell_quoted(""), "''");
    }
}
