//! Scenarios for `baton policy test`: a simulated world (stages with their
//! versions and deployment history, Argo CD observations over time, merge
//! requests, a clock, settings) and a sequence of events, each with the
//! decision the policy must make.
//!
//! A scenario file is read in two steps: [`file`] (with [`time`]) is the raw
//! serde form, so a YAML error names the field path and line; then
//! [`resolve`] checks what needs the whole file and [`events`] fills in the
//! defaults that come from the history (an event's commit, `status:
//! argocd`), with [`metrics`] reading the scripted metrics answers.
//! [`world`] answers the policy's capability calls from the resolved data
//! at each step's time, [`run`] calls the real component and
//! compares, and [`junit`] writes the CI report.
//!
//! `policy eval --event` reads its event in the same syntax ([`lone_event`]).

mod events;
mod file;
pub(super) mod junit;
mod metrics;
mod resolve;
pub(super) mod run;
mod time;
mod world;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use file::{ErrorFile, ErrorKind};

use crate::runtime::{Context, Event};
use world::WorldData;

/// A scenario file, checked and resolved, ready to run.
#[derive(Debug)]
pub struct Scenario {
    /// The file it came from.
    pub path: PathBuf,
    /// Name in reports (`name:` or the file name).
    pub name: String,
    /// What the scenario shows.
    pub description: Option<String>,
    /// The context of every decide call.
    pub context: Context,
    /// The simulated world.
    world: std::sync::Arc<WorldData>,
    /// The cases.
    pub steps: Vec<Step>,
}

/// One case: an event at a time, and what the policy must decide.
#[derive(Debug)]
pub struct Step {
    /// Case name in reports.
    pub name: String,
    /// Host time of the call (ms since the Unix epoch).
    pub now: i64,
    /// The event.
    pub event: Event,
    /// The expected outcome.
    pub expect: Expectation,
    /// Reasons the decision must give (each pattern matches one of them,
    /// `*` any text); empty when the step names none.
    pub reasons: Vec<String>,
}

/// What a step must produce. Actions are compared in the compact form
/// `policy eval` prints (`set dev to v1.2.3 by direct commit`); `*` in an
/// expected action matches any text.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Expectation {
    /// An empty decision: keep waiting.
    Nothing,
    /// Exactly these actions, in order.
    Actions {
        /// Expected actions, compact form.
        actions: Vec<String>,
    },
    /// At least `actions`, in this order, and none of `excludes`.
    Contains {
        /// Expected actions, compact form (may be empty).
        actions: Vec<String>,
        /// Actions that must not be there, compact form.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        excludes: Vec<String>,
    },
    /// A policy error or a trap.
    Error {
        /// Its kind and message, as far as the scenario names them.
        error: ErrorFile,
    },
}

/// Why a scenario cannot be used. Exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A path given on the command line cannot be read.
    #[error("cannot read scenario {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A directory holds no `*.yaml` file.
    #[error("no *.yaml scenario files in {path}")]
    EmptyDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// The YAML does not have the scenario shape.
    #[error("invalid scenario file {path}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error, with the field path, line and column.
        #[source]
        source: yaml_serde::Error,
    },
    /// A field's value does not fit the rest of the scenario.
    #[error("invalid scenario file {path}: {field}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field path, e.g. `steps[2].event.health-observed.status`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// The events of the scenario syntax: the WIT variants, kebab case.
const EVENT_NAMES: [&str; 6] = [
    "new-version",
    "stage-changed",
    "health-observed",
    "gate-timeout",
    "rollback-requested",
    "reconcile",
];

/// Is `value` an event in the scenario syntax (`{new-version: {...}}`)
/// rather than the contract's own form (`{"NewVersion": {...}}`)?
pub(super) fn is_scenario_event(value: &serde_json::Value) -> bool {
    value
        .as_object()
        .is_some_and(|map| map.keys().any(|k| EVENT_NAMES.contains(&k.as_str())))
}

/// An event written as in scenario steps, with their defaults, outside a
/// scenario (`policy eval --event`): there is no simulated history, so a
/// default that comes from one (an event's `commit`, `status: argocd`)
/// must be given; times count from `now`. The error names the field.
pub(super) fn lone_event(
    context: super::context::ContextFile,
    value: serde_json::Value,
    now: i64,
) -> Result<Event, String> {
    let event: file::EventFile = serde_json::from_value(value).map_err(|e| e.to_string())?;
    resolve::lone_event(context, event, now).map_err(|p| match p.field.trim_start_matches('.') {
        "" => p.message,
        field => format!("{field}: {}", p.message),
    })
}

/// The clock of a lone event when the caller has none: the scenarios'
/// default start, 2025-01-01T00:00:00Z.
pub(super) const DEFAULT_NOW: i64 = resolve::DEFAULT_START;

/// The scenario files named by `paths`: files as given, directories as
/// their `*.yaml` files in name order.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut files = Vec::new();
    for path in paths {
        let read = |source| ScenarioError::Read {
            path: path.clone(),
            source,
        };
        if std::fs::metadata(path).map_err(read)?.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(read)?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml"))
                .collect();
            if found.is_empty() {
                return Err(ScenarioError::EmptyDirectory { path: path.clone() });
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Reads, checks and resolves one scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_owned(),
        source,
    })?;
    let raw: file::ScenarioFile =
        yaml_serde::from_str(&text).map_err(|source| ScenarioError::Parse {
            path: path.to_owned(),
            source,
        })?;
    resolve::resolve(path, raw)
}
