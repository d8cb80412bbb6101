//! `baton policy ...`: tools for policy authors and auditors.

mod context;
mod diff;
mod eval;
mod inspect;
mod linediff;
mod new;
pub(super) mod replay;
mod scenario;
mod test;

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::error::CommandError;
use crate::runtime::{LoadedPolicy, PolicyRuntime, PolicySource};

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show a policy's digest, contract version, imports, exports and metadata.
    Inspect(inspect::InspectArgs),
    /// Run one decide call with scripted host answers and print the decision.
    Eval(eval::EvalArgs),
    /// Run scenario files against a policy: every event's decision must
    /// match its expectation (exit 1 on any failure).
    Test(test::TestArgs),
    /// Compare two policies: digests, contract versions, imports
    /// (capabilities added or removed), exports and metadata.
    Diff(diff::DiffArgs),
    /// Re-run the decisions of audit records against their recorded host
    /// calls (exit 1 on the first divergence), or with --policy, show what
    /// another policy would have decided on the recorded events.
    Replay(replay::ReplayArgs),
    /// Create a policy project (Rust, Python or JavaScript) that builds and
    /// passes `baton policy test` right away.
    New(new::NewArgs),
}

/// Runs a policy subcommand.
pub fn run(cmd: PolicyCommand) -> Result<(), CommandError> {
    match cmd {
        PolicyCommand::Inspect(args) => inspect::run(args),
        PolicyCommand::Eval(args) => eval::run(args),
        PolicyCommand::Test(args) => test::run(args),
        PolicyCommand::Diff(args) => diff::run(args),
        PolicyCommand::Replay(args) => replay::run(args),
        PolicyCommand::New(args) => new::run(args),
    }
}

/// A policy runtime with default limits and no compilation cache.
pub(super) fn runtime() -> Result<PolicyRuntime, CommandError> {
    super::load::runtime(None)
}

/// Loads `policy` (`builtin:NAME` or a path) with default limits, no cache.
pub(super) fn load(policy: &str, pin: Option<&str>) -> Result<LoadedPolicy, CommandError> {
    let source = PolicySource::parse(policy, Path::new("."));
    Ok(runtime()?.load(&source, pin)?)
}

/// Reads a YAML or JSON file into `T`, naming the file in errors.
pub(super) fn read_data<T: serde::de::DeserializeOwned>(
    path: &PathBuf,
    what: &str,
) -> Result<T, CommandError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CommandError::usage(format!("cannot read {what} file {}: {e}", path.display()))
    })?;
    // Through a JSON value, so variants read the same in YAML and JSON
    // (`NewVersion: {version: v1}` as well as `{"NewVersion": {...}}`).
    let invalid = |e: &dyn std::fmt::Display| {
        CommandError::usage(format!("invalid {what} file {}: {e}", path.display()))
    };
    let value: serde_json::Value = yaml_serde::from_str(&text).map_err(|e| invalid(&e))?;
    serde_json::from_value(value).map_err(|e| invalid(&e))
}
