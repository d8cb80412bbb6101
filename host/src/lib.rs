//! Baton: a GitOps promotion engine whose decisions are WebAssembly policies.
pub mod secret;
