//! A [`World`] that answers from recorded or scripted host calls: drives
//! `baton policy replay` (answers from an audit record) and `baton policy
//! eval --host-responses` (answers from a file). A call with no answer ends
//! the decide call with a trap that names it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::record::{HostCall, requests};
use super::store::{World, WorldError};
use super::{
    AppStatus, CapabilityError, Deployment, MergeRequest, MetricsError, Sample, Series,
    TargetVersion,
};

/// One scripted answer, as written in a `--host-responses` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedAnswer {
    /// `interface.function`, e.g. `git.stage-history`.
    pub call: String,
    /// Arguments to match; absent matches any arguments.
    #[serde(default)]
    pub request: Option<Value>,
    /// The answer: `{"Ok": ...}`, `{"Err": {...}}`, or a bare value for Ok.
    pub result: Value,
}

struct Entry {
    interface: String,
    function: String,
    request: Option<Value>,
    result: Value,
    used: bool,
}

/// Answers capability calls from a list of recorded calls, each used once,
/// in order of first match.
pub struct RecordedWorld {
    entries: Vec<Entry>,
}

impl RecordedWorld {
    /// From calls recorded in an audit record (exact request match).
    pub fn from_calls(calls: &[HostCall]) -> Self {
        Self {
            entries: calls
                .iter()
                .map(|c| Entry {
                    interface: c.interface.clone(),
                    function: c.function.clone(),
                    request: Some(c.request.clone()),
                    result: c.result.clone(),
                    used: false,
                })
                .collect(),
        }
    }

    /// From a script of answers.
    pub fn from_script(answers: &[ScriptedAnswer]) -> Self {
        Self {
            entries: answers
                .iter()
                .map(|a| {
                    let (interface, function) =
                        a.call.split_once('.').unwrap_or((a.call.as_str(), ""));
                    Entry {
                        interface: interface.into(),
                        function: function.into(),
                        request: a.request.clone(),
                        result: a.result.clone(),
                        used: false,
                    }
                })
                .collect(),
        }
    }

    /// Recorded answers that were never asked for.
    pub fn unused(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| !e.used)
            .map(|e| format!("{}.{}", e.interface, e.function))
            .collect()
    }

    fn answer(
        &mut self,
        interface: &str,
        function: &str,
        request: Value,
    ) -> Result<Value, WorldError> {
        let entry = self.entries.iter_mut().find(|e| {
            !e.used
                && e.interface == interface
                && e.function == function
                && e.request.as_ref().is_none_or(|r| *r == request)
        });
        match entry {
            Some(entry) => {
                entry.used = true;
                Ok(entry.result.clone())
            }
            None => Err(WorldError::Host(format!(
                "no recorded answer for {interface}.{function} {request}"
            ))),
        }
    }

    fn typed<T: DeserializeOwned>(
        &mut self,
        interface: &str,
        function: &str,
        request: Value,
    ) -> Result<T, WorldError> {
        let value = self.answer(interface, function, request)?;
        Self::decode(interface, function, value)
    }

    /// An answer: `{"Ok": ...}` / `{"Err": ...}`, or a bare value for Ok.
    fn decode<T: DeserializeOwned>(
        interface: &str,
        function: &str,
        value: Value,
    ) -> Result<T, WorldError> {
        let decode_error = |e: serde_json::Error| {
            WorldError::Host(format!(
                "recorded answer for {interface}.{function} does not decode: {e}"
            ))
        };
        if let Ok(result) = serde_json::from_value::<Result<T, CapabilityError>>(value.clone()) {
            return result.map_err(WorldError::Capability);
        }
        serde_json::from_value::<T>(value).map_err(decode_error)
    }

    /// A metrics answer, decoded by `decode` (metric values are written
    /// as [`super::metrics`] describes).
    fn metrics<T>(
        &mut self,
        function: &str,
        request: Value,
        decode: fn(Value) -> Result<Result<T, MetricsError>, serde_json::Error>,
    ) -> Result<T, WorldError<MetricsError>> {
        let value = self
            .answer("metrics", function, request)
            .map_err(|e| WorldError::Host(e.to_string()))?;
        match decode(value) {
            Ok(answer) => answer.map_err(WorldError::Capability),
            Err(e) => Err(WorldError::Host(format!(
                "recorded answer for metrics.{function} does not decode: {e}"
            ))),
        }
    }
}

impl World for RecordedWorld {
    fn read_file(&mut self, path: &str, revision: Option<&str>) -> Result<Vec<u8>, WorldError> {
        self.typed("git", "read-file", requests::read_file(path, revision))
    }
    fn stage_version(&mut self, stage: &str, revision: Option<&str>) -> Result<String, WorldError> {
        self.typed(
            "git",
            "stage-version",
            requests::stage_version(stage, revision),
        )
    }
    fn target_versions(
        &mut self,
        stage: &str,
        revision: Option<&str>,
    ) -> Result<Vec<TargetVersion>, WorldError> {
        self.typed(
            "git",
            "target-versions",
            requests::target_versions(stage, revision),
        )
    }
    fn stage_history(&mut self, stage: &str, limit: u32) -> Result<Vec<Deployment>, WorldError> {
        let request = requests::stage_history(stage, limit);
        let value = self.answer("git", "stage-history", request)?;
        match Self::decode("git", "stage-history", value.clone()) {
            // Recorded by a 0.1 host, or scripted that way: without the
            // fields 0.2 added.
            Err(WorldError::Host(e)) => match super::compat::legacy::deployments(&value) {
                Some(answer) => answer.map_err(WorldError::Capability),
                None => Err(WorldError::Host(e)),
            },
            decoded => decoded,
        }
    }
    fn application_status(&mut self, app: &str) -> Result<AppStatus, WorldError> {
        self.typed(
            "argocd",
            "application-status",
            requests::application_status(app),
        )
    }
    fn find_open_merge_request(
        &mut self,
        source_branch: &str,
    ) -> Result<Option<MergeRequest>, WorldError> {
        self.typed("forge", "find-open", requests::find_open(source_branch))
    }
    fn merge_request(&mut self, number: u64) -> Result<MergeRequest, WorldError> {
        self.typed("forge", "get", requests::get(number))
    }
    fn now(&mut self) -> Result<i64, WorldError> {
        self.typed("clock", "now", requests::now())
    }
    fn metrics_query(
        &mut self,
        promql: &str,
        time: Option<i64>,
    ) -> Result<Vec<Sample>, WorldError<MetricsError>> {
        self.metrics(
            "query",
            requests::metrics_query(promql, time),
            super::metrics::samples_from_json,
        )
    }
    fn metrics_query_range(
        &mut self,
        promql: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> Result<Vec<Series>, WorldError<MetricsError>> {
        self.metrics(
            "query-range",
            requests::metrics_query_range(promql, start, end, step),
            super::metrics::series_from_json,
        )
    }
}
