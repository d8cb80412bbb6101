//! Errors of loading a policy and of one decide call.

use std::path::PathBuf;
use std::time::Duration;

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The policy file could not be read.
    #[error("cannot read policy {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `builtin:NAME` names no built-in policy.
    #[error("unknown built-in policy {name:?}; built-in policies: {known}")]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The names available.
        known: String,
    },
    /// The digest does not match the pin in `policy.sha256`.
    #[error("policy {source_name} has digest {actual}, but policy.sha256 pins {expected}")]
    DigestMismatch {
        /// The policy.
        source_name: String,
        /// Pinned digest.
        expected: String,
        /// Actual digest.
        actual: String,
    },
    /// The pin is not a sha256 digest.
    #[error(
        "policy.sha256 {pin:?} is not a sha256 digest (64 hex digits, optionally prefixed sha256:)"
    )]
    BadPin {
        /// The configured pin.
        pin: String,
    },
    /// The bytes are not a valid component.
    #[error("policy {source_name} is not a valid WebAssembly component")]
    Compile {
        /// The policy.
        source_name: String,
        /// The cause.
        #[source]
        source: wasmtime::Error,
    },
    /// The component imports interfaces Baton does not offer.
    #[error(
        "policy {source_name} imports interfaces Baton does not offer: {}\n  it asks for: {}\n  Baton offers: {}",
        .missing.join(", "), .asked.join(", "), .offered.join(", ")
    )]
    UnofferedImports {
        /// The policy.
        source_name: String,
        /// Imports not offered.
        missing: Vec<String>,
        /// Every import of the component.
        asked: Vec<String>,
        /// Everything Baton offers.
        offered: Vec<String>,
    },
    /// The component was built for a contract version the host does not
    /// implement.
    #[error(
        "policy {source_name} was built for baton:policy@{policy_version}, but this host implements {host_versions}"
    )]
    IncompatibleVersion {
        /// The policy.
        source_name: String,
        /// Version the policy was built for.
        policy_version: String,
        /// The versions the host implements, e.g.
        /// `baton:policy@0.1.0 and baton:policy@0.2.0`.
        host_versions: String,
    },
    /// The component does not export the policy interface.
    #[error("policy {source_name} does not export baton:policy/policy; it exports: {}", .exports.join(", "))]
    NotAPolicy {
        /// The policy.
        source_name: String,
        /// What it does export.
        exports: Vec<String>,
    },
    /// Linking or instantiating failed.
    #[error("policy {source_name} cannot be instantiated")]
    Instantiate {
        /// The policy.
        source_name: String,
        /// The cause.
        #[source]
        source: wasmtime::Error,
    },
    /// Reading the metadata trapped.
    #[error("policy {source_name} failed while reporting its metadata")]
    Metadata {
        /// The policy.
        source_name: String,
        /// The cause.
        #[source]
        source: Box<DecideError>,
    },
}

/// Why a decide call ended without an answer from the policy.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// Fuel ran out (an endless or very long computation).
    #[error("policy ran out of fuel: it used all {limit} units (limits.fuel)")]
    OutOfFuel {
        /// The fuel limit.
        limit: u64,
    },
    /// The wall-clock deadline passed.
    #[error("policy exceeded its wall-clock deadline of {}ms (limits.deadline)", .limit.as_millis())]
    Deadline {
        /// The deadline.
        limit: Duration,
    },
    /// Memory growth over the limit.
    #[error(
        "policy exceeded its memory limit: it asked for {desired} bytes, the limit is {limit} bytes (limits.memory)"
    )]
    Memory {
        /// Requested size.
        desired: usize,
        /// The limit.
        limit: usize,
    },
    /// Table growth over the limit.
    #[error(
        "policy exceeded its table limit: it asked for {desired} elements, the limit is {limit} (limits.table_elements)"
    )]
    Table {
        /// Requested size.
        desired: usize,
        /// The limit.
        limit: usize,
    },
    /// Native stack exhausted (deep recursion).
    #[error(
        "policy overflowed its stack of {limit} bytes (limits.stack; deep recursion?)\n{backtrace}"
    )]
    StackOverflow {
        /// The stack limit.
        limit: usize,
        /// Guest backtrace.
        backtrace: String,
    },
    /// The guest panicked.
    #[error("policy panicked: {message}\n{backtrace}")]
    Panic {
        /// The panic message the guest printed.
        message: String,
        /// Guest backtrace.
        backtrace: String,
    },
    /// Too much output on stdout/stderr.
    #[error("policy wrote more than {limit} bytes to stdout/stderr (limits.output)")]
    Output {
        /// The limit.
        limit: usize,
    },
    /// A host call failed on the host side (replay divergence, missing
    /// scripted answer, a broken capability).
    #[error("host call failed: {message}")]
    HostCall {
        /// What failed.
        message: String,
    },
    /// Any other trap.
    #[error("policy trapped: {trap}\n{backtrace}")]
    Trap {
        /// The trap.
        trap: String,
        /// Guest backtrace.
        backtrace: String,
    },
    /// The store could not be set up or the instance created.
    #[error("cannot instantiate the policy")]
    Instantiate(#[source] wasmtime::Error),
    /// The context or event cannot be expressed in the policy's contract
    /// version (e.g. a multi-target stage for a 0.1 policy).
    #[error(transparent)]
    Contract(#[from] super::compat::ContractError),
}

impl DecideError {
    /// A short stable name of the kind of failure, for JSON output and audit.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OutOfFuel { .. } => "out-of-fuel",
            Self::Deadline { .. } => "deadline",
            Self::Memory { .. } => "memory-limit",
            Self::Table { .. } => "table-limit",
            Self::StackOverflow { .. } => "stack-overflow",
            Self::Panic { .. } => "panic",
            Self::Output { .. } => "output-limit",
            Self::HostCall { .. } => "host-call",
            Self::Trap { .. } => "trap",
            Self::Instantiate(_) => "instantiate",
            Self::Contract(_) => "contract",
        }
    }
}
