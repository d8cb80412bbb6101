//! `baton policy eval`: one decide call with scripted host answers.
//!
//! The event is written as in scenario steps (`{new-version: {version:
//! v1.2.3}}`, defaults included: see [`super::scenario::lone_event`]) or
//! in the contract's own form (`{"NewVersion": {"version": "v1.2.3",
//! "digest": null}}`, every field given; 0.1.0 records' shape too).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::context::ContextFile;
use super::scenario;
use crate::cli::error::CommandError;
use crate::cli::output::{self, OutputFormat};
use crate::runtime::{Decision, Event, HostCall, LogEntry, RecordedWorld, ScriptedAnswer};

/// Arguments of `baton policy eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The policy: `builtin:default` or a path to a `.wasm` component.
    policy: String,
    /// Context file (YAML or JSON): app, stages, settings.
    #[arg(long)]
    context: PathBuf,
    /// Event file (YAML or JSON), as in scenario steps, e.g. `{new-version:
    /// {version: v1.2.3}}` (or the contract's form, `{"NewVersion": {...}}`).
    /// Event times count from the `clock.now` answer, else
    /// 2025-01-01T00:00:00Z.
    #[arg(long)]
    event: PathBuf,
    /// Answers to the policy's host calls (YAML or JSON list of `{call:
    /// git.stage-history, request?: {...}, result: {Ok: ...} or {Err:
    /// ...}}`); a call without an answer is an error.
    #[arg(long)]
    host_responses: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Serialize)]
struct Report {
    policy: String,
    digest: String,
    outcome: Outcome,
    host_calls: Vec<HostCall>,
    logs: Vec<LogEntry>,
    fuel_used: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
enum Outcome {
    Decision { decision: Decision },
    PolicyError { error: crate::runtime::PolicyError },
    Trap { error: String, trap: String },
}

/// An event in the contract's form: the current shape, or the 0.1.0 one.
#[derive(serde::Deserialize)]
struct ContractEvent(#[serde(deserialize_with = "crate::runtime::legacy::event")] Event);

/// Runs `baton policy eval`.
pub fn run(args: EvalArgs) -> Result<(), CommandError> {
    let context: ContextFile = super::read_data(&args.context, "context")?;
    let answers: Vec<ScriptedAnswer> = match &args.host_responses {
        Some(path) => super::read_data(path, "host responses")?,
        None => Vec::new(),
    };
    let event = read_event(&args.event, &context, scripted_now(&answers))?;
    let policy = super::load(&args.policy, None)?;
    let context = context.into_context("eval");
    let world = Box::new(RecordedWorld::from_script(&answers));
    let (decided, _) = policy.decide(world, &context, &event);

    let (outcome, failure) = match decided.result {
        Ok(Ok(decision)) => (Outcome::Decision { decision }, None),
        Ok(Err(error)) => {
            let message = format!("policy returned an error: {error:?}");
            (Outcome::PolicyError { error }, Some(message))
        }
        Err(error) => {
            let message = error.to_string();
            (
                Outcome::Trap {
                    error: message.clone(),
                    trap: error.kind().into(),
                },
                Some(message),
            )
        }
    };
    let report = Report {
        policy: policy.source.to_string(),
        digest: policy.digest.to_string(),
        outcome,
        host_calls: decided.calls,
        logs: decided.logs,
        fuel_used: decided.fuel_used,
    };
    if args.output == OutputFormat::Json {
        output::print_json(&report);
    } else {
        output::print(&render(&report));
    }
    match failure {
        None => Ok(()),
        Some(message) => Err(CommandError::policy(message)),
    }
}

/// The event file, in the scenario syntax or the contract's form.
fn read_event(path: &PathBuf, context: &ContextFile, now: i64) -> Result<Event, CommandError> {
    let value: serde_json::Value = super::read_data(path, "event")?;
    let invalid = |e: &dyn std::fmt::Display| {
        CommandError::usage(format!("invalid event file {}: {e}", path.display()))
    };
    if scenario::is_scenario_event(&value) {
        return scenario::lone_event(context.clone(), value, now).map_err(|e| invalid(&e));
    }
    serde_json::from_value::<ContractEvent>(value)
        .map(|ContractEvent(event)| event)
        .map_err(|e| invalid(&e))
}

/// The time the script's first `clock.now` answer gives (`{Ok: ms}` or a
/// bare number), else the scenarios' default start.
fn scripted_now(answers: &[ScriptedAnswer]) -> i64 {
    answers
        .iter()
        .find(|a| a.call == "clock.now")
        .and_then(|a| a.result.get("Ok").unwrap_or(&a.result).as_i64())
        .unwrap_or(scenario::DEFAULT_NOW)
}

fn render(report: &Report) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "policy: {} ({})", report.policy, report.digest);
    match &report.outcome {
        Outcome::Decision { decision } => {
            let _ = writeln!(text, "decision:");
            if decision.actions.is_empty() {
                let _ = writeln!(text, "  (no actions)");
            }
            for (n, action) in decision.actions.iter().enumerate() {
                let _ = writeln!(text, "  {}. {action}", n + 1);
            }
            for reason in &decision.reasons {
                let _ = writeln!(text, "  reason: {reason}");
            }
        }
        Outcome::PolicyError { error } => {
            let _ = writeln!(text, "policy error: {error:?}");
        }
        Outcome::Trap { error, .. } => {
            let _ = writeln!(text, "trap: {error}");
        }
    }
    let _ = writeln!(text, "host calls:");
    if report.host_calls.is_empty() {
        let _ = writeln!(text, "  (none)");
    }
    for call in &report.host_calls {
        let _ = writeln!(
            text,
            "  {} {} -> {}",
            call.name(),
            call.request,
            call.result
        );
    }
    for log in &report.logs {
        let _ = writeln!(text, "log {}: {}", log.level, log.message);
    }
    let _ = writeln!(text, "fuel used: {}", report.fuel_used);
    text
}
