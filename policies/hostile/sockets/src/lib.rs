//! A policy that tries to open a TCP connection. Sockets are not part of
//! the WASI subset Baton offers, so the host must refuse it at load time.

// Only the component is meant to run; natively nothing calls the policy.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use baton_policy::{Context, Decision, Event, Policy, PolicyError, World, actions};

struct Sockets;

impl Policy for Sockets {
    fn decide(
        _ctx: &Context,
        _event: &Event,
        _world: &impl World,
    ) -> Result<Decision, PolicyError> {
        let result = std::net::TcpStream::connect("127.0.0.1:22").map(|_| ());
        Ok(Decision::from(vec![actions::hold(format!(
            "connect: {result:?}"
        ))]))
    }
}

baton_policy::export_policy!(Sockets);
