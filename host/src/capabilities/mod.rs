//! One module per outside system Baton talks to, the real client only: each
//! has a transport trait or client with a real implementation. The
//! simulators that stand in for these systems live in [`crate::sim`]; nothing
//! here depends on them.

pub mod argocd;
pub mod forge;
pub mod git;
mod http;
pub mod metrics;
