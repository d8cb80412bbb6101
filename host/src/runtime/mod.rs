//! The sandboxed policy runtime (wasmtime).
//!
//! Loading a policy ([`PolicyRuntime::load`]): read the bytes (a file or the
//! embedded `builtin:default`), compute the sha256 digest and check an
//! optional pin, compile (or load from the on-disk cache keyed by digest and
//! engine compatibility), refuse components whose imports are not offered or
//! whose contract version is incompatible, pre-link them once, and read the
//! policy's metadata.
//!
//! Deciding ([`LoadedPolicy::decide`]): a fresh store per call from the
//! cached `InstancePre`, with fuel, memory, table and instance limits, a
//! wall-clock deadline (epoch interruption), a deterministic WASI with no
//! environment, arguments, preopened directories, network, real clocks or
//! real randomness, and every capability call recorded for the audit record.
//! Every trap becomes a typed [`DecideError`] naming the limit, or showing the
//! guest's panic message and backtrace.

mod bindings;
mod display;
mod engine;
mod error;
mod guest_panic;
mod host;
mod imports;
mod limits;
mod load;
mod producers;
mod record;
mod replay;
mod store;
mod wasi;

pub use bindings::baton::policy::log::Level;
pub use bindings::baton::policy::types::{
    Action, AppStatus, AwaitHealth, CapabilityError, Channel, Context, Decision, Deployment, Event,
    GateTimeout, HealthObserved, HealthStatus, MergeRequest, MergeRequestOptions,
    MergeRequestState, NewVersion, OperationPhase, PolicyError, PolicyMetadata, ResourceHealth,
    Rollback, RollbackRequested, SetVersion, Stage, StageChanged, SyncStatus, Trailer,
};
pub use engine::PolicyRuntime;
pub use error::{DecideError, LoadError};
pub use imports::{ComponentInterfaces, InterfaceName, WIT_PACKAGE, WIT_VERSION};
pub use limits::Limits;
pub use load::{Digest, LoadedPolicy, PolicySource};
pub use producers::Producers;
pub use record::{Decided, HostCall, LogEntry};
pub use replay::{RecordedWorld, ScriptedAnswer};
pub use store::{NoWorld, World, WorldError};
