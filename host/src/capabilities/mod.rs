//! One module per outside system Baton talks to: each has a transport
//! trait or client with a real implementation, and a simulator that is a
//! real HTTP server following the upstream API.

pub mod argocd;
pub mod forge;
pub mod git;
