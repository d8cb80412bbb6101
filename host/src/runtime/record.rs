//! What one decide call did: host calls, logs, fuel, time. Goes into the
//! audit record and drives replay.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DecideError, Decision, PolicyError};

/// One capability call made by the policy, with the host's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostCall {
    /// Interface, e.g. `git`.
    pub interface: String,
    /// Function, e.g. `stage-history`.
    pub function: String,
    /// Arguments as JSON (an object keyed by parameter name).
    pub request: serde_json::Value,
    /// The answer as JSON (`{"Ok": ...}` / `{"Err": ...}` for results), in
    /// the current contract's form whatever the policy's version; metric
    /// values as [`super::metrics`] writes them.
    pub result: serde_json::Value,
}

impl HostCall {
    /// `interface.function`, as shown to people.
    pub fn name(&self) -> String {
        format!("{}.{}", self.interface, self.function)
    }
}

/// One `log` call of the policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Severity, lower case.
    pub level: String,
    /// Message (possibly the truncation marker).
    pub message: String,
}

/// The outcome of one decide call.
#[derive(Debug)]
pub struct Decided {
    /// The policy's answer, or why the call failed.
    pub result: Result<Result<Decision, PolicyError>, DecideError>,
    /// Capability calls in the order they were made.
    pub calls: Vec<HostCall>,
    /// Log messages (bounded by `Limits::log_bytes`).
    pub logs: Vec<LogEntry>,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Wall-clock time of the call, instantiation included.
    pub elapsed: Duration,
    /// Of `elapsed`, the time spent answering capability calls (git,
    /// Argo CD, the forge, ...): not counted against `limits.deadline`.
    pub host_time: Duration,
}

impl Decided {
    /// Of [`Self::elapsed`], the time the guest itself ran (instantiation
    /// included): what `limits.deadline` bounds.
    pub fn guest_time(&self) -> Duration {
        self.elapsed.saturating_sub(self.host_time)
    }
}

/// Request shapes of every capability call, shared by the recorder and the
/// replaying world so both build exactly the same JSON.
pub(crate) mod requests {
    use serde_json::{Value, json};

    pub(crate) fn read_file(path: &str, revision: Option<&str>) -> Value {
        json!({ "path": path, "revision": revision })
    }
    pub(crate) fn stage_version(stage: &str, revision: Option<&str>) -> Value {
        json!({ "stage": stage, "revision": revision })
    }
    pub(crate) fn target_versions(stage: &str, revision: Option<&str>) -> Value {
        json!({ "stage": stage, "revision": revision })
    }
    pub(crate) fn stage_history(stage: &str, limit: u32) -> Value {
        json!({ "stage": stage, "limit": limit })
    }
    pub(crate) fn application_status(app: &str) -> Value {
        json!({ "app": app })
    }
    pub(crate) fn find_open(source_branch: &str) -> Value {
        json!({ "source-branch": source_branch })
    }
    pub(crate) fn get(number: u64) -> Value {
        json!({ "number": number })
    }
    pub(crate) fn now() -> Value {
        json!({})
    }
    pub(crate) fn metrics_query(promql: &str, time: Option<i64>) -> Value {
        json!({ "promql": promql, "time": time })
    }
    pub(crate) fn metrics_query_range(promql: &str, start: i64, end: i64, step: u64) -> Value {
        json!({ "promql": promql, "start": start, "end": end, "step": step })
    }
}
