//! `baton policy ...`: tools for policy authors and auditors.

mod eval;
mod inspect;

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::error::{CommandError, ExitKind};
use crate::runtime::{Limits, LoadedPolicy, PolicyRuntime, PolicySource};

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show a policy's digest, contract version, imports, exports and metadata.
    Inspect(inspect::InspectArgs),
    /// Run one decide call with scripted host answers and print the decision.
    Eval(eval::EvalArgs),
}

/// Runs a policy subcommand.
pub fn run(cmd: PolicyCommand) -> Result<(), CommandError> {
    match cmd {
        PolicyCommand::Inspect(args) => inspect::run(args),
        PolicyCommand::Eval(args) => eval::run(args),
    }
}

/// Loads `policy` (`builtin:NAME` or a path) with default limits, no cache.
pub(super) fn load(policy: &str, pin: Option<&str>) -> Result<LoadedPolicy, CommandError> {
    let runtime = PolicyRuntime::new(Limits::default(), None).map_err(|e| {
        CommandError::msg(
            ExitKind::Policy,
            format!("cannot start the policy runtime: {e}"),
        )
    })?;
    let source = PolicySource::parse(policy, Path::new("."));
    runtime.load(&source, pin).map_err(|e| {
        let kind = match e {
            crate::runtime::LoadError::Read { .. }
            | crate::runtime::LoadError::UnknownBuiltin { .. } => ExitKind::Usage,
            _ => ExitKind::Policy,
        };
        CommandError::new(kind, &e)
    })
}

/// Reads a YAML or JSON file into `T`, naming the file in errors.
pub(super) fn read_data<T: serde::de::DeserializeOwned>(
    path: &PathBuf,
    what: &str,
) -> Result<T, CommandError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CommandError::msg(
            ExitKind::Usage,
            format!("cannot read {what} file {}: {e}", path.display()),
        )
    })?;
    // Through a JSON value, so variants read the same in YAML and JSON
    // (`NewVersion: {version: v1}` as well as `{"NewVersion": {...}}`).
    let invalid = |e: &dyn std::fmt::Display| {
        CommandError::msg(
            ExitKind::Usage,
            format!("invalid {what} file {}: {e}", path.display()),
        )
    };
    let value: serde_json::Value = yaml_serde::from_str(&text).map_err(|e| invalid(&e))?;
    serde_json::from_value(value).map_err(|e| invalid(&e))
}
