//! A scripted [`World`] for native unit tests of policy logic.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::{
    AppStatus, CapabilityError, Deployment, Level, MergeRequest, MetricsError, Sample, Series,
    TargetVersion, World,
};

/// A world whose answers are set up by the test. Unknown lookups answer
/// `not-found`, like the host does.
#[derive(Default)]
pub struct FakeWorld {
    /// Files by `(path, revision)`; revision `""` is the branch tip.
    pub files: BTreeMap<(String, String), Vec<u8>>,
    /// Stage versions at the branch tip.
    pub versions: BTreeMap<String, String>,
    /// Stage histories, newest first.
    pub histories: BTreeMap<String, Vec<Deployment>>,
    /// Argo CD statuses by application name.
    pub statuses: BTreeMap<String, AppStatus>,
    /// Merge requests.
    pub merge_requests: Vec<MergeRequest>,
    /// The clock.
    pub now: i64,
    /// Messages the policy logged.
    pub logs: RefCell<Vec<(Level, String)>>,
    /// Target versions by stage; a stage missing here but in `versions`
    /// answers one target labelled "" with that version.
    pub targets: BTreeMap<String, Vec<TargetVersion>>,
    /// Instant query answers by PromQL text; unknown queries answer no
    /// samples, as Prometheus does for a selector that matches nothing.
    pub metrics: BTreeMap<String, Result<Vec<Sample>, MetricsError>>,
    /// Range query answers by PromQL text; unknown queries answer no series.
    pub metric_ranges: BTreeMap<String, Result<Vec<Series>, MetricsError>>,
}

fn not_found(what: String) -> CapabilityError {
    CapabilityError::NotFound(what)
}

impl World for FakeWorld {
    fn read_file(&self, path: &str, revision: Option<&str>) -> Result<Vec<u8>, CapabilityError> {
        let key = (path.to_owned(), revision.unwrap_or_default().to_owned());
        self.files
            .get(&key)
            .cloned()
            .ok_or_else(|| not_found(format!("file {path}")))
    }

    fn stage_version(
        &self,
        stage: &str,
        _revision: Option<&str>,
    ) -> Result<String, CapabilityError> {
        self.versions
            .get(stage)
            .cloned()
            .ok_or_else(|| not_found(format!("stage {stage}")))
    }

    fn target_versions(
        &self,
        stage: &str,
        _revision: Option<&str>,
    ) -> Result<Vec<TargetVersion>, CapabilityError> {
        if let Some(targets) = self.targets.get(stage) {
            return Ok(targets.clone());
        }
        let version = self.stage_version(stage, None)?;
        Ok(vec![TargetVersion {
            label: String::new(),
            version: Some(version),
            digest: None,
        }])
    }

    fn stage_history(&self, stage: &str, limit: u32) -> Result<Vec<Deployment>, CapabilityError> {
        let history = self.histories.get(stage).cloned().unwrap_or_default();
        Ok(history.into_iter().take(limit as usize).collect())
    }

    fn application_status(&self, app: &str) -> Result<AppStatus, CapabilityError> {
        self.statuses
            .get(app)
            .cloned()
            .ok_or_else(|| not_found(format!("application {app}")))
    }

    fn find_open_merge_request(
        &self,
        source_branch: &str,
    ) -> Result<Option<MergeRequest>, CapabilityError> {
        Ok(self
            .merge_requests
            .iter()
            .find(|mr| {
                mr.source_branch == source_branch && mr.state == crate::MergeRequestState::Opened
            })
            .cloned())
    }

    fn merge_request(&self, number: u64) -> Result<MergeRequest, CapabilityError> {
        self.merge_requests
            .iter()
            .find(|mr| mr.number == number)
            .cloned()
            .ok_or_else(|| not_found(format!("merge request !{number}")))
    }

    fn now(&self) -> i64 {
        self.now
    }

    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }

    fn metrics_query(&self, promql: &str, _time: Option<i64>) -> Result<Vec<Sample>, MetricsError> {
        self.metrics.get(promql).cloned().unwrap_or(Ok(Vec::new()))
    }

    fn metrics_query_range(
        &self,
        promql: &str,
        _start: i64,
        _end: i64,
        _step_ms: u64,
    ) -> Result<Vec<Series>, MetricsError> {
        self.metric_ranges
            .get(promql)
            .cloned()
            .unwrap_or(Ok(Vec::new()))
    }
}
