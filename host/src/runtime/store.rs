//! Per-call store state and the [`World`] the host's capability calls read.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::limits::Limiter;
use super::record::{HostCall, LogEntry};
use super::{AppStatus, CapabilityError, Deployment, MergeRequest};

/// Why a world could not answer.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// An answer the policy receives as a WIT `capability-error`.
    #[error("{0:?}")]
    Capability(CapabilityError),
    /// A host-side failure; the decide call ends with a trap naming it.
    #[error("{0}")]
    Host(String),
}

impl From<CapabilityError> for WorldError {
    fn from(e: CapabilityError) -> Self {
        Self::Capability(e)
    }
}

/// Everything a policy can read, answered by the host. The engine provides
/// one backed by git, Argo CD and the forge; replay and `policy eval` answer
/// from recorded or scripted calls.
pub trait World: Send {
    /// Bytes of a file at a revision (`None`: branch tip).
    fn read_file(&mut self, path: &str, revision: Option<&str>) -> Result<Vec<u8>, WorldError>;
    /// A stage's version at a revision (`None`: branch tip).
    fn stage_version(&mut self, stage: &str, revision: Option<&str>) -> Result<String, WorldError>;
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
}

/// A world that answers nothing (used while loading, for metadata).
pub struct NoWorld;

fn unavailable<T>() -> Result<T, WorldError> {
    Err(WorldError::Capability(CapabilityError::Denied(
        "no capabilities are available in this call".into(),
    )))
}

impl World for NoWorld {
    fn read_file(&mut self, _: &str, _: Option<&str>) -> Result<Vec<u8>, WorldError> {
        unavailable()
    }
    fn stage_version(&mut self, _: &str, _: Option<&str>) -> Result<String, WorldError> {
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
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
