//! The sandboxed policy runtime (wasmtime).
//!
//! Loading a policy ([`PolicyRuntime::load`]): read the bytes (a file or the
//! embedded `builtin:default`), compute the sha256 digest and check an
//! optional pin, compile (or load from the on-disk cache keyed by digest and
//! engine compatibility), refuse components whose imports are not offered or
//! whose contract version the host does not implement, pre-link them once
//! for their version's world, and read the policy's metadata.
//!
//! Contract versions: the host implements every version in
//! [`WIT_VERSIONS`] (one `bindgen!` each). The engine, the worlds and the
//! audit record speak the current contract's types (re-exported here); a
//! policy built for an older version gets the context, events and
//! capability answers projected down and its decisions lifted up
//! (`compat`), so host calls are recorded once, in the current form, for
//! every version.
//!
//! Deciding ([`LoadedPolicy::decide`]): a fresh store per call from the
//! cached `InstancePre`, with fuel, memory, table and instance limits, a
//! wall-clock deadline (epoch interruption), a deterministic WASI with no
//! environment, arguments, preopened directories, network, real clocks or
//! real randomness, and every capability call recorded for the audit record.
//! Every trap becomes a typed [`DecideError`] naming the limit, or showing the
//! guest's panic message and backtrace.

mod bindings;
mod compat;
mod display;
mod engine;
mod error;
mod guest_panic;
mod host;
mod imports;
mod limits;
mod load;
pub mod metrics;
mod producers;
mod record;
mod replay;
mod store;
mod trap;
mod wasi;

pub use bindings::v0_2::baton::policy::log::Level;
pub use bindings::v0_2::baton::policy::metrics::{
    Label as MetricLabel, MetricsError, Point, Sample, Series,
};
pub use bindings::v0_2::baton::policy::types::{
    Action, AppStatus, AwaitHealth, CapabilityError, ChangeOrigin, Channel, Context, Decision,
    Deployment, Event, GateTimeout, HealthObserved, HealthStatus, MergeRequest,
    MergeRequestOptions, MergeRequestState, NewVersion, OperationPhase, PolicyError,
    PolicyMetadata, Reconcile, ResourceHealth, Rollback, RollbackRequested, SetVersion, Stage,
    StageChanged, SyncStatus, Target, TargetStatus, TargetVersion, Trailer,
};
pub use compat::{ContractError, legacy};
pub use engine::PolicyRuntime;
pub use error::{DecideError, LoadError};
pub use imports::{
    ComponentInterfaces, ContractVersion, InterfaceName, WIT_PACKAGE, WIT_VERSION, WIT_VERSIONS,
};
pub use limits::Limits;
pub use load::{Digest, LoadedPolicy, PolicySource};
pub use producers::Producers;
pub use record::{Decided, HostCall, LogEntry};
pub use replay::{RecordedWorld, ScriptedAnswer};
pub use store::{NoWorld, World, WorldError};
