//! Baton: a GitOps promotion engine whose decisions are WebAssembly policies.
//!
//! The crate is the `baton` binary's library: [`runtime`] runs policies in a
//! sandbox, [`capabilities`] talks to git, Argo CD and the forges, [`engine`]
//! drives promotions, [`config`] is `baton.yaml` parsed into typed data,
//! [`exit`] the documented exit codes, and [`cli`] is the command line.

pub mod capabilities;
pub mod cli;
pub mod config;
pub mod engine;
pub mod exit;
mod flock;
pub mod policies;
pub mod report;
pub mod retry;
pub mod runtime;
pub mod secret;
#[cfg(feature = "sim")]
pub mod sim;
pub mod time;
pub mod version;
