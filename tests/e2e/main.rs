//! Baton's end-to-end suite: the real binary and the library against real
//! git, the simulators and the real policy components.

// A test binary: unwrapping is how helpers fail a test.
#![allow(clippy::unwrap_used)]

mod forge_support;
mod support;

/// Paths of the components `host/build.rs` built (default, examples,
/// hostile test policies, fixtures): test-only, kept out of the library.
mod policies {
    include!(concat!(env!("OUT_DIR"), "/test_policies.rs"));
}

mod argocd;
mod audit_verify;
mod cache;
mod cli_config;
mod cli_policy;
mod cli_policy_tools;
mod cli_sim;
mod conformance;
mod contract;
mod deadline;
mod engine;
mod example_policies;
mod forge_auto_merge;
mod forge_merges;
mod forge_shapes;
mod forge_sims;
mod forge_transport;
mod git;
mod history_report;
mod metrics;
mod policy_author;
mod polyglot;
mod runtime;
mod templates;
mod world;
