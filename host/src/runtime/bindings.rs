//! The one `bindgen!` of the host, over the repository's `wit/` directory.
//!
//! Every import is trappable: a capability failure the policy can handle is
//! a WIT `capability-error`; a host-side failure (a replay that diverged, a
//! missing scripted answer) ends the call with a trap.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "promotion-policy",
    imports: { default: trappable },
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
});
