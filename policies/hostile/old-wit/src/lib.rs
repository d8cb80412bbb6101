//! A policy built against a future, incompatible `baton:policy@1.0.0`
//! contract (defined inline on purpose): a version the host does not
//! implement. The host must refuse it and name both the policy's version
//! and the versions it implements.

#![allow(unsafe_code)]

wit_bindgen::generate!({
    inline: "
        package baton:policy@1.0.0;
        interface policy { decide: func(request: string) -> string; }
        world promotion-policy { export policy; }
    ",
    world: "promotion-policy",
});

struct Future;

impl exports::baton::policy::policy::Guest for Future {
    fn decide(request: String) -> String {
        request
    }
}

#[cfg(target_arch = "wasm32")]
export!(Future);
