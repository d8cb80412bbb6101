//! The host's bindings, one `bindgen!` per contract version it implements:
//! [`v0_2`] over the repository's `wit/` (the current contract, whose types
//! the engine uses) and [`v0_1`] over the frozen copy in `wit/compat/0.1.0/`
//! (for policies built for 0.1.0; see `compat`).
//!
//! Every import is trappable: a capability failure the policy can handle is
//! a WIT error; a host-side failure (a replay that diverged, a missing
//! scripted answer) ends the call with a trap.

/// `baton:policy@0.2.0`, the current contract.
pub(crate) mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "promotion-policy",
        imports: { default: trappable },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

/// `baton:policy@0.1.0`, frozen.
pub(crate) mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/compat/0.1.0",
        world: "promotion-policy",
        imports: { default: trappable },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}
