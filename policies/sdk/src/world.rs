//! The policy's read-only view of the world, as a trait so decision logic
//! can be tested natively with a fake.
//!
//! Policies take the world as a generic (`&impl World`), never as `&dyn
//! World`: a call through a trait object keeps every method of
//! [`HostWorld`], and with it every capability import, in the component.
//! Called generically, each method is a direct call, and one the policy
//! never makes is not linked (the linker drops unreferenced functions, so
//! its import goes too); wit-component then leaves the interface out of the
//! component's imports. So a component
//! imports exactly the capabilities its code calls, and `baton policy
//! inspect` and `policy diff` show reviewers what a policy reads.

use crate::bindings::baton::policy::{argocd, clock, forge, git, log, metrics};
use crate::{
    AppStatus, CapabilityError, Deployment, Level, MergeRequest, MetricsError, Sample, Series,
    TargetVersion,
};

/// Everything a policy may read. Inside a component, [`HostWorld`] forwards
/// each call to the host, which records it for the audit trail.
pub trait World {
    /// Bytes of `path` at `revision` (`None`: the branch tip).
    fn read_file(&self, path: &str, revision: Option<&str>) -> Result<Vec<u8>, CapabilityError>;
    /// Version a stage holds at `revision` (`None`: the branch tip). On a
    /// stage with several targets, `invalid` unless they all agree.
    fn stage_version(&self, stage: &str, revision: Option<&str>)
    -> Result<String, CapabilityError>;
    /// Versions of every target of a stage at `revision` (`None`: the
    /// branch tip), in config order.
    fn target_versions(
        &self,
        stage: &str,
        revision: Option<&str>,
    ) -> Result<Vec<TargetVersion>, CapabilityError>;
    /// Deployments of a stage, newest first, at most `limit`.
    fn stage_history(&self, stage: &str, limit: u32) -> Result<Vec<Deployment>, CapabilityError>;
    /// Current Argo CD status of an application.
    fn application_status(&self, app: &str) -> Result<AppStatus, CapabilityError>;
    /// The open merge request from `source_branch`, if any.
    fn find_open_merge_request(
        &self,
        source_branch: &str,
    ) -> Result<Option<MergeRequest>, CapabilityError>;
    /// A merge request by number.
    fn merge_request(&self, number: u64) -> Result<MergeRequest, CapabilityError>;
    /// Host time, milliseconds since the Unix epoch.
    fn now(&self) -> i64;
    /// Writes a diagnostic message to the audit record.
    fn log(&self, level: Level, message: &str);
    /// A PromQL instant query at `time` (`None`: now, the host clock).
    fn metrics_query(&self, promql: &str, time: Option<i64>) -> Result<Vec<Sample>, MetricsError>;
    /// A PromQL range query from `start` to `end` every `step_ms`.
    fn metrics_query_range(
        &self,
        promql: &str,
        start: i64,
        end: i64,
        step_ms: u64,
    ) -> Result<Vec<Series>, MetricsError>;
}

/// The world as the host provides it (only meaningful inside a component):
/// each method calls the matching import. A method the policy never calls
/// is not linked, so its interface is not imported (see the module docs).
pub struct HostWorld;

impl World for HostWorld {
    fn read_file(&self, path: &str, revision: Option<&str>) -> Result<Vec<u8>, CapabilityError> {
        git::read_file(path, revision)
    }

    fn stage_version(
        &self,
        stage: &str,
        revision: Option<&str>,
    ) -> Result<String, CapabilityError> {
        git::stage_version(stage, revision)
    }

    fn target_versions(
        &self,
        stage: &str,
        revision: Option<&str>,
    ) -> Result<Vec<TargetVersion>, CapabilityError> {
        git::target_versions(stage, revision)
    }

    fn stage_history(&self, stage: &str, limit: u32) -> Result<Vec<Deployment>, CapabilityError> {
        git::stage_history(stage, limit)
    }

    fn application_status(&self, app: &str) -> Result<AppStatus, CapabilityError> {
        argocd::application_status(app)
    }

    fn find_open_merge_request(
        &self,
        source_branch: &str,
    ) -> Result<Option<MergeRequest>, CapabilityError> {
        forge::find_open(source_branch)
    }

    fn merge_request(&self, number: u64) -> Result<MergeRequest, CapabilityError> {
        forge::get(number)
    }

    fn now(&self) -> i64 {
        clock::now()
    }

    fn log(&self, level: Level, message: &str) {
        log::log(level, message);
    }

    fn metrics_query(&self, promql: &str, time: Option<i64>) -> Result<Vec<Sample>, MetricsError> {
        metrics::query(promql, time)
    }

    fn metrics_query_range(
        &self,
        promql: &str,
        start: i64,
        end: i64,
        step_ms: u64,
    ) -> Result<Vec<Series>, MetricsError> {
        metrics::query_range(promql, start, end, step_ms)
    }
}
