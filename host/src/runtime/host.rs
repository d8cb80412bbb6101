//! Host side of Baton's capability interfaces: check the grant, ask the
//! [`World`](super::World), record request and answer, map host failures
//! to traps.

use serde::Serialize;
use serde_json::{Value, json};

use super::bindings::baton::policy::{argocd, clock, forge, git, log, types};
use super::record::{HostCall, LogEntry, requests};
use super::store::{StoreState, WorldError};
use super::{AppStatus, CapabilityError, Deployment, MergeRequest};

impl StoreState {
    fn record<T: Serialize>(
        &mut self,
        interface: &str,
        function: &str,
        request: Value,
        result: &T,
    ) {
        let result = serde_json::to_value(result)
            .unwrap_or_else(|e| json!({ "unserializable": e.to_string() }));
        self.calls.push(HostCall {
            interface: interface.into(),
            function: function.into(),
            request,
            result,
        });
    }

    fn answer<T: Serialize>(
        &mut self,
        interface: &str,
        function: &str,
        request: Value,
        outcome: Result<T, WorldError>,
    ) -> wasmtime::Result<Result<T, CapabilityError>> {
        let answer = match outcome {
            Ok(value) => Ok(value),
            Err(WorldError::Capability(e)) => Err(e),
            Err(WorldError::Host(message)) => {
                let message = format!("{interface}.{function}: {message}");
                self.host_failure = Some(message.clone());
                return Err(wasmtime::Error::msg(message));
            }
        };
        self.record(interface, function, request, &answer);
        Ok(answer)
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
}

impl types::Host for StoreState {}

impl git::Host for StoreState {
    fn read_file(
        &mut self,
        path: String,
        revision: Option<String>,
    ) -> wasmtime::Result<Result<Vec<u8>, CapabilityError>> {
        let outcome = self.world.read_file(&path, revision.as_deref());
        self.answer(
            "git",
            "read-file",
            requests::read_file(&path, revision.as_deref()),
            outcome,
        )
    }

    fn stage_version(
        &mut self,
        stage: String,
        revision: Option<String>,
    ) -> wasmtime::Result<Result<String, CapabilityError>> {
        let outcome = self
            .check_stage(&stage)
            .and_then(|()| self.world.stage_version(&stage, revision.as_deref()));
        self.answer(
            "git",
            "stage-version",
            requests::stage_version(&stage, revision.as_deref()),
            outcome,
        )
    }

    fn stage_history(
        &mut self,
        stage: String,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<Deployment>, CapabilityError>> {
        let outcome = self
            .check_stage(&stage)
            .and_then(|()| self.world.stage_history(&stage, limit));
        self.answer(
            "git",
            "stage-history",
            requests::stage_history(&stage, limit),
            outcome,
        )
    }
}

impl argocd::Host for StoreState {
    fn application_status(
        &mut self,
        app: String,
    ) -> wasmtime::Result<Result<AppStatus, CapabilityError>> {
        let outcome = if self.grants.argocd_apps.contains(&app) {
            self.world.application_status(&app)
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
            requests::application_status(&app),
            outcome,
        )
    }
}

impl forge::Host for StoreState {
    fn find_open(
        &mut self,
        source_branch: String,
    ) -> wasmtime::Result<Result<Option<MergeRequest>, CapabilityError>> {
        let outcome = self.world.find_open_merge_request(&source_branch);
        self.answer(
            "forge",
            "find-open",
            requests::find_open(&source_branch),
            outcome,
        )
    }

    fn get(&mut self, number: u64) -> wasmtime::Result<Result<MergeRequest, CapabilityError>> {
        let outcome = self.world.merge_request(number);
        self.answer("forge", "get", requests::get(number), outcome)
    }
}

impl clock::Host for StoreState {
    fn now(&mut self) -> wasmtime::Result<i64> {
        match self.world.now() {
            Ok(now) => {
                self.record("clock", "now", requests::now(), &now);
                Ok(now)
            }
            Err(e) => {
                let message = format!("clock.now: {e}");
                self.host_failure = Some(message.clone());
                Err(wasmtime::Error::msg(message))
            }
        }
    }
}

/// Marker logged once when a call's log budget is spent.
const LOG_DROPPED: &str = "log output truncated: limits.log_bytes reached";

impl log::Host for StoreState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let budget = self.limiter.limits.log_bytes;
        if self.log_bytes + message.len() > budget {
            if self.logs_dropped == 0 {
                self.logs.push(LogEntry {
                    level: "warn".into(),
                    message: LOG_DROPPED.into(),
                });
            }
            self.logs_dropped += 1;
            return Ok(());
        }
        self.log_bytes += message.len();
        let level = level_name(level).to_owned();
        tracing::debug!(target: "baton::policy", level = %level, "{message}");
        self.logs.push(LogEntry { level, message });
        Ok(())
    }
}

/// The level as the audit record writes it. Not `Debug`: bindgen's `Debug`
/// of a WIT enum is `Level::Info`, not `info`.
fn level_name(level: log::Level) -> &'static str {
    match level {
        log::Level::Trace => "trace",
        log::Level::Debug => "debug",
        log::Level::Info => "info",
        log::Level::Warn => "warn",
        log::Level::Error => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_are_plain_lower_case_names() {
        assert_eq!(level_name(log::Level::Info), "info");
        assert_eq!(level_name(log::Level::Warn), "warn");
        // What `{:?}` would have written.
        assert_eq!(format!("{:?}", log::Level::Info), "Level::Info");
    }
}
