//! Per-call store state and the [`World`] the host's capability calls read.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::limits::Limiter;
use super::record::{HostCall, LogEntry};
use super::{
    AppStatus, CapabilityError, Deployment, MergeRequest, MetricsError, Sample, Series,
    TargetVersion,
};

/// Why a world could not answer. `E` is the WIT error of the interface:
/// `capability-error`, or `metrics-error` for metrics.
#[derive(Debug, thiserror::Error)]
pub enum WorldError<E: std::fmt::Debug = CapabilityError> {
    /// An answer the policy receives as a WIT error.
    #[error("{0:?}")]
    Capability(E),
    /// A host-side failure; the decide call ends with a trap naming it.
    #[error("{0}")]
    Host(String),
}

impl From<CapabilityError> for WorldError {
    fn from(e: CapabilityError) -> Self {
        Self::Capability(e)
    }
}

impl From<MetricsError> for WorldError<MetricsError> {
    fn from(e: MetricsError) -> Self {
        Self::Capability(e)
    }
}

/// Everything a policy can read, answered by the host. The engine provides
/// one backed by git, Argo CD and the forge; replay and `policy eval` answer
/// from recorded or scripted calls.
///
/// Answers are in the current contract's types whatever the policy's
/// version: a policy built for an older contract gets them projected down,
/// so the record of a call is the same for every version.
pub trait World: Send {
    /// Bytes of a file at a revision (`None`: branch tip).
    fn read_file(&mut self, path: &str, revision: Option<&str>) -> Result<Vec<u8>, WorldError>;
    /// A stage's version at a revision (`None`: branch tip).
    fn stage_version(&mut self, stage: &str, revision: Option<&str>) -> Result<String, WorldError>;
    /// The versions of a stage's targets at a revision (`None`: branch
    /// tip), in config order.
    fn target_versions(
        &mut self,
        stage: &str,
        revision: Option<&str>,
    ) -> Result<Vec<TargetVersion>, WorldError>;
    /// A stage's deployments, newest first.
    fn stage_history(&mut self, stage: &str, limit: u32) -> Result<Vec<Deployment>, WorldError>;
    /// An Argo CD application's status.
    fn application_status(&mut self, app: &str) -> Result<AppStatus, WorldError>;
    /// The open merge request from a source branch.
    fn find_open_merge_request(
        &mut self,
        source_branch: &str,
    ) -> Result<Option<MergeRequest>, WorldError>;
    /// A merge request by number.
    fn merge_request(&mut self, number: u64) -> Result<MergeRequest, WorldError>;
    /// Host time in milliseconds since the Unix epoch.
    fn now(&mut self) -> Result<i64, WorldError>;
    /// A PromQL instant query at `time` (`None`: now).
    fn metrics_query(
        &mut self,
        promql: &str,
        time: Option<i64>,
    ) -> Result<Vec<Sample>, WorldError<MetricsError>>;
    /// A PromQL range query from `start` to `end` every `step` milliseconds.
    fn metrics_query_range(
        &mut self,
        promql: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> Result<Vec<Series>, WorldError<MetricsError>>;
}

/// A world that answers nothing (used while loading, for metadata).
pub struct NoWorld;

const NOTHING: &str = "no capabilities are available in this call";

fn unavailable<T>() -> Result<T, WorldError> {
    Err(WorldError::Capability(CapabilityError::Denied(
        NOTHING.into(),
    )))
}

impl World for NoWorld {
    fn read_file(&mut self, _: &str, _: Option<&str>) -> Result<Vec<u8>, WorldError> {
        unavailable()
    }
    fn stage_version(&mut self, _: &str, _: Option<&str>) -> Result<String, WorldError> {
        unavailable()
    }
    fn target_versions(
        &mut self,
        _: &str,
        _: Option<&str>,
    ) -> Result<Vec<TargetVersion>, WorldError> {
        unavailable()
    }
    fn stage_history(&mut self, _: &str, _: u32) -> Result<Vec<Deployment>, WorldError> {
        unavailable()
    }
    fn application_status(&mut self, _: &str) -> Result<AppStatus, WorldError> {
        unavailable()
    }
    fn find_open_merge_request(&mut self, _: &str) -> Result<Option<MergeRequest>, WorldError> {
        unavailable()
    }
    fn merge_request(&mut self, _: u64) -> Result<MergeRequest, WorldError> {
        unavailable()
    }
    fn now(&mut self) -> Result<i64, WorldError> {
        Ok(0)
    }
    fn metrics_query(
        &mut self,
        _: &str,
        _: Option<i64>,
    ) -> Result<Vec<Sample>, WorldError<MetricsError>> {
        Err(MetricsError::Denied(NOTHING.into()).into())
    }
    fn metrics_query_range(
        &mut self,
        _: &str,
        _: i64,
        _: i64,
        _: u64,
    ) -> Result<Vec<Series>, WorldError<MetricsError>> {
        Err(MetricsError::Denied(NOTHING.into()).into())
    }
}

/// What the policy may ask for in this call (Spin-style grants: checked on
/// every call, a denial is a WIT error the policy sees).
#[derive(Debug, Default, Clone)]
pub(crate) struct Grants {
    /// Stage names of the app.
    pub(crate) stages: Vec<String>,
    /// Argo CD applications of those stages.
    pub(crate) argocd_apps: Vec<String>,
}

/// Data of one store: lives for exactly one decide call.
pub(crate) struct StoreState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) world: Box<dyn World>,
    pub(crate) grants: Grants,
    pub(crate) calls: Vec<HostCall>,
    pub(crate) logs: Vec<LogEntry>,
    pub(crate) log_bytes: usize,
    pub(crate) logs_dropped: usize,
    /// A host-side failure that ended the call, kept for the typed error.
    pub(crate) host_failure: Option<String>,
    /// Time spent in the world's answers so far: the wall-clock deadline
    /// bounds the guest, not the systems it asks.
    pub(crate) host_time: std::time::Duration,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
