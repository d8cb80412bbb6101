//! Host side of Baton's capability interfaces: check the grant, ask the
//! [`World`](super::World), record request and answer, map host failures
//! to traps. The time the world takes is added up per call
//! ([`StoreState::host_time`]): the wall-clock deadline bounds the guest's
//! own running time, not the systems it asks.
//!
//! Each capability call is implemented once, here, in the current
//! contract's types (`StoreState::git_*`, `argocd_*`, ...); the generated
//! `Host` traits of 0.2 below and of 0.1 (in `compat`) are thin wrappers,
//! so a call is recorded the same way whatever the policy's version.

use std::fmt::Debug;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use super::bindings::v0_2::baton::policy::{argocd, clock, forge, git, log, metrics, types};
use super::record::{HostCall, LogEntry, requests};
use super::store::{StoreState, World, WorldError};
use super::{
    AppStatus, CapabilityError, Deployment, Level, MergeRequest, MetricsError, Sample, Series,
    TargetVersion,
};

/// The result of a host call: a trap, or the answer the policy sees.
pub(crate) type Answer<T, E = CapabilityError> = wasmtime::Result<Result<T, E>>;

impl StoreState {
    /// Asks the world, adding the time the answer took to
    /// [`StoreState::host_time`].
    fn ask<R>(&mut self, f: impl FnOnce(&mut dyn World) -> R) -> R {
        let started = Instant::now();
        let answer = f(self.world.as_mut());
        self.host_time += started.elapsed();
        answer
    }

    fn record(&mut self, interface: &str, function: &str, request: Value, result: Value) {
        self.calls.push(HostCall {
            interface: interface.into(),
            function: function.into(),
            request,
            result,
        });
    }

    /// Records the answer (encoded by `encode`), or turns a host failure
    /// into a trap that names the call.
    fn answer_with<T, E: Debug>(
        &mut self,
        interface: &str,
        function: &str,
        request: Value,
        outcome: Result<T, WorldError<E>>,
        encode: impl FnOnce(&Result<T, E>) -> Value,
    ) -> Answer<T, E> {
        let answer = match outcome {
            Ok(value) => Ok(value),
            Err(WorldError::Capability(e)) => Err(e),
            Err(WorldError::Host(message)) => {
                return Err(self.host_failed(interface, function, &message));
            }
        };
        let result = encode(&answer);
        self.record(interface, function, request, result);
        Ok(answer)
    }

    fn answer<T: Serialize>(
        &mut self,
        interface: &str,
        function: &str,
        request: Value,
        outcome: Result<T, WorldError>,
    ) -> Answer<T> {
        self.answer_with(interface, function, request, outcome, |answer| {
            serde_json::to_value(answer)
                .unwrap_or_else(|e| json!({ "unserializable": e.to_string() }))
        })
    }

    fn host_failed(&mut self, interface: &str, function: &str, message: &str) -> wasmtime::Error {
        let message = format!("{interface}.{function}: {message}");
        self.host_failure = Some(message.clone());
        wasmtime::Error::msg(message)
    }

    fn check_stage(&self, stage: &str) -> Result<(), WorldError> {
        if self.grants.stages.iter().any(|s| s == stage) {
            Ok(())
        } else {
            Err(CapabilityError::Invalid(format!(
                "unknown stage {stage:?}; configured stages: {}",
                self.grants.stages.join(", ")
            ))
            .into())
        }
    }

    pub(crate) fn git_read_file(&mut self, path: &str, revision: Option<&str>) -> Answer<Vec<u8>> {
        let outcome = self.ask(|w| w.read_file(path, revision));
        self.answer(
            "git",
            "read-file",
            requests::read_file(path, revision),
            outcome,
        )
    }

    pub(crate) fn git_stage_version(
        &mut self,
        stage: &str,
        revision: Option<&str>,
    ) -> Answer<String> {
        let outcome = self
            .check_stage(stage)
            .and_then(|()| self.ask(|w| w.stage_version(stage, revision)));
        self.answer(
            "git",
            "stage-version",
            requests::stage_version(stage, revision),
            outcome,
        )
    }

    pub(crate) fn git_target_versions(
        &mut self,
        stage: &str,
        revision: Option<&str>,
    ) -> Answer<Vec<TargetVersion>> {
        let outcome = self
            .check_stage(stage)
            .and_then(|()| self.ask(|w| w.target_versions(stage, revision)));
        self.answer(
            "git",
            "target-versions",
            requests::target_versions(stage, revision),
            outcome,
        )
    }

    pub(crate) fn git_stage_history(&mut self, stage: &str, limit: u32) -> Answer<Vec<Deployment>> {
        let outcome = self
            .check_stage(stage)
            .and_then(|()| self.ask(|w| w.stage_history(stage, limit)));
        self.answer(
            "git",
            "stage-history",
            requests::stage_history(stage, limit),
            outcome,
        )
    }

    pub(crate) fn argocd_application_status(&mut self, app: &str) -> Answer<AppStatus> {
        let outcome = if self.grants.argocd_apps.iter().any(|a| a == app) {
            self.ask(|w| w.application_status(app))
        } else {
            Err(CapabilityError::Denied(format!(
                "Argo CD application {app:?} is not a stage of this app; granted: {}",
                self.grants.argocd_apps.join(", ")
            ))
            .into())
        };
        self.answer(
            "argocd",
            "application-status",
            requests::application_status(app),
            outcome,
        )
    }

    pub(crate) fn forge_find_open(&mut self, source_branch: &str) -> Answer<Option<MergeRequest>> {
        let outcome = self.ask(|w| w.find_open_merge_request(source_branch));
        self.answer(
            "forge",
            "find-open",
            requests::find_open(source_branch),
            outcome,
        )
    }

    pub(crate) fn forge_get(&mut self, number: u64) -> Answer<MergeRequest> {
        let outcome = self.ask(|w| w.merge_request(number));
        self.answer("forge", "get", requests::get(number), outcome)
    }

    pub(crate) fn clock_now(&mut self) -> wasmtime::Result<i64> {
        match self.ask(|w| w.now()) {
            Ok(now) => {
                self.record("clock", "now", requests::now(), json!(now));
                Ok(now)
            }
            Err(e) => Err(self.host_failed("clock", "now", &e.to_string())),
        }
    }

    pub(crate) fn metrics_query(
        &mut self,
        promql: &str,
        time: Option<i64>,
    ) -> Answer<Vec<Sample>, MetricsError> {
        let outcome = self.ask(|w| w.metrics_query(promql, time));
        self.answer_with(
            "metrics",
            "query",
            requests::metrics_query(promql, time),
            outcome,
            super::metrics::samples_to_json,
        )
    }

    pub(crate) fn metrics_query_range(
        &mut self,
        promql: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> Answer<Vec<Series>, MetricsError> {
        let outcome = self.ask(|w| w.metrics_query_range(promql, start, end, step));
        self.answer_with(
            "metrics",
            "query-range",
            requests::metrics_query_range(promql, start, end, step),
            outcome,
            super::metrics::series_to_json,
        )
    }

    pub(crate) fn log_message(&mut self, level: Level, message: String) {
        let budget = self.limiter.limits.log_bytes;
        if self.log_bytes + message.len() > budget {
            if self.logs_dropped == 0 {
                self.logs.push(LogEntry {
                    level: "warn".into(),
                    message: LOG_DROPPED.into(),
                });
            }
            self.logs_dropped += 1;
            return;
        }
        self.log_bytes += message.len();
        let level = level_name(level).to_owned();
        tracing::debug!(target: "baton::policy", level = %level, "{message}");
        self.logs.push(LogEntry { level, message });
    }
}

impl types::Host for StoreState {}

impl git::Host for StoreState {
    fn read_file(&mut self, path: String, revision: Option<String>) -> Answer<Vec<u8>> {
        self.git_read_file(&path, revision.as_deref())
    }

    fn stage_version(&mut self, stage: String, revision: Option<String>) -> Answer<String> {
        self.git_stage_version(&stage, revision.as_deref())
    }

    fn target_versions(
        &mut self,
        stage: String,
        revision: Option<String>,
    ) -> Answer<Vec<TargetVersion>> {
        self.git_target_versions(&stage, revision.as_deref())
    }

    fn stage_history(&mut self, stage: String, limit: u32) -> Answer<Vec<Deployment>> {
        self.git_stage_history(&stage, limit)
    }
}

impl argocd::Host for StoreState {
    fn application_status(&mut self, app: String) -> Answer<AppStatus> {
        self.argocd_application_status(&app)
    }
}

impl forge::Host for StoreState {
    fn find_open(&mut self, source_branch: String) -> Answer<Option<MergeRequest>> {
        self.forge_find_open(&source_branch)
    }

    fn get(&mut self, number: u64) -> Answer<MergeRequest> {
        self.forge_get(number)
    }
}

impl clock::Host for StoreState {
    fn now(&mut self) -> wasmtime::Result<i64> {
        self.clock_now()
    }
}

impl metrics::Host for StoreState {
    fn query(&mut self, promql: String, time: Option<i64>) -> Answer<Vec<Sample>, MetricsError> {
        self.metrics_query(&promql, time)
    }

    fn query_range(
        &mut self,
        promql: String,
        start: i64,
        end: i64,
        step: u64,
    ) -> Answer<Vec<Series>, MetricsError> {
        self.metrics_query_range(&promql, start, end, step)
    }
}

/// Marker logged once when a call's log budget is spent.
const LOG_DROPPED: &str = "log output truncated: limits.log_bytes reached";

impl log::Host for StoreState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.log_message(level, message);
        Ok(())
    }
}

/// The level as the audit record writes it. Not `Debug`: bindgen's `Debug`
/// of a WIT enum is `Level::Info`, not `info`.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_are_plain_lower_case_names() {
        assert_eq!(level_name(Level::Info), "info");
        assert_eq!(level_name(Level::Warn), "warn");
        // What `{:?}` would have written.
        assert_eq!(format!("{:?}", Level::Info), "Level::Info");
    }
}
