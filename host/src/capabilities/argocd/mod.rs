//! The `argocd` capability: reading application health from Argo CD.
//!
//! - [`backend`]: the REST client (get, resource tree, watch stream).
//! - [`watch`]: a resilient stream of [`AppStatus`] observations.
//! - [`model`]: the typed status Baton reasons about, independent of WIT.

pub mod backend;
pub mod error;
pub mod model;
pub mod stream;
pub mod tree;
pub mod watch;

pub use backend::{AppRef, ArgoCdClient, ArgoCdConfig};
pub use error::{ClientBuildError, RequestError};
pub use model::{
    AppStatus, Health, HealthStatus, HistoryEntry, OperationPhase, OperationSummary,
    ResourceHealth, SyncState, SyncStatus,
};
pub use stream::{EventType, Frame, FrameDecoder, WatchEvent, WatchStream};
pub use tree::{NodeHealth, ResourceNode, ResourceTree};
pub use watch::{AppWatch, StatusSource};
