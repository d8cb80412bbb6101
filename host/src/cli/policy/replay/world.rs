//! The world a replayed decide call sees: the recorded answers and nothing
//! else. A call the record cannot answer ends the decide call (a host-call
//! trap, as in [`RecordedWorld`]); this wrapper also keeps which call it
//! was, with its arguments, so reports can name it.

use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde_json::{Value, json};

use crate::runtime::{
    AppStatus, Deployment, HostCall, MergeRequest, MetricsError, RecordedWorld, Sample, Series,
    TargetVersion, World, WorldError,
};

/// A capability call the record holds no answer to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Unanswered {
    /// `interface.function`.
    pub call: String,
    /// The arguments, shaped as in recorded calls.
    pub request: Value,
}

/// The calls a world could not answer, readable after the world has been
/// handed to (and consumed by) a decide call.
#[derive(Debug, Clone, Default)]
pub(super) struct UnansweredLog(Arc<Mutex<Vec<Unanswered>>>);

impl UnansweredLog {
    /// Takes what was logged.
    pub fn take(&self) -> Vec<Unanswered> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn push(&self, call: &str, request: Value) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Unanswered {
                call: call.to_owned(),
                request,
            });
    }
}

/// A [`RecordedWorld`] that logs the calls it cannot answer.
pub(super) struct Answering {
    recorded: RecordedWorld,
    unanswered: UnansweredLog,
}

impl Answering {
    /// A world answering from `calls`, and the log of what it could not answer.
    pub fn new(calls: &[HostCall]) -> (Self, UnansweredLog) {
        let log = UnansweredLog::default();
        let world = Self {
            recorded: RecordedWorld::from_calls(calls),
            unanswered: log.clone(),
        };
        (world, log)
    }

    /// Passes `answer` on; a host-side failure means the record had no
    /// (usable) answer for this call.
    fn note<T, E: std::fmt::Debug>(
        &self,
        call: &str,
        request: impl FnOnce() -> Value,
        answer: Result<T, WorldError<E>>,
    ) -> Result<T, WorldError<E>> {
        if let Err(WorldError::Host(_)) = &answer {
            self.unanswered.push(call, request());
        }
        answer
    }
}

// Requests are shaped like the recorder's (`runtime::record::requests`), so
// a report shows an unanswered call the way recorded calls look.
impl World for Answering {
    fn read_file(&mut self, path: &str, revision: Option<&str>) -> Result<Vec<u8>, WorldError> {
        let answer = self.recorded.read_file(path, revision);
        self.note(
            "git.read-file",
            || json!({ "path": path, "revision": revision }),
            answer,
        )
    }

    fn stage_version(&mut self, stage: &str, revision: Option<&str>) -> Result<String, WorldError> {
        let answer = self.recorded.stage_version(stage, revision);
        self.note(
            "git.stage-version",
            || json!({ "stage": stage, "revision": revision }),
            answer,
        )
    }

    fn target_versions(
        &mut self,
        stage: &str,
        revision: Option<&str>,
    ) -> Result<Vec<TargetVersion>, WorldError> {
        let answer = self.recorded.target_versions(stage, revision);
        self.note(
            "git.target-versions",
            || json!({ "stage": stage, "revision": revision }),
            answer,
        )
    }

    fn stage_history(&mut self, stage: &str, limit: u32) -> Result<Vec<Deployment>, WorldError> {
        let answer = self.recorded.stage_history(stage, limit);
        self.note(
            "git.stage-history",
            || json!({ "stage": stage, "limit": limit }),
            answer,
        )
    }

    fn application_status(&mut self, app: &str) -> Result<AppStatus, WorldError> {
        let answer = self.recorded.application_status(app);
        self.note(
            "argocd.application-status",
            || json!({ "app": app }),
            answer,
        )
    }

    fn find_open_merge_request(
        &mut self,
        source_branch: &str,
    ) -> Result<Option<MergeRequest>, WorldError> {
        let answer = self.recorded.find_open_merge_request(source_branch);
        self.note(
            "forge.find-open",
            || json!({ "source-branch": source_branch }),
            answer,
        )
    }

    fn merge_request(&mut self, number: u64) -> Result<MergeRequest, WorldError> {
        let answer = self.recorded.merge_request(number);
        self.note("forge.get", || json!({ "number": number }), answer)
    }

    fn now(&mut self) -> Result<i64, WorldError> {
        let answer = self.recorded.now();
        self.note("clock.now", || json!({}), answer)
    }

    fn metrics_query(
        &mut self,
        promql: &str,
        time: Option<i64>,
    ) -> Result<Vec<Sample>, WorldError<MetricsError>> {
        let answer = self.recorded.metrics_query(promql, time);
        self.note(
            "metrics.query",
            || json!({ "promql": promql, "time": time }),
            answer,
        )
    }

    fn metrics_query_range(
        &mut self,
        promql: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> Result<Vec<Series>, WorldError<MetricsError>> {
        let answer = self.recorded.metrics_query_range(promql, start, end, step);
        self.note(
            "metrics.query-range",
            || json!({ "promql": promql, "start": start, "end": end, "step": step }),
            answer,
        )
    }
}
