//! # baton-policy: write Baton promotion policies in Rust
//!
//! A Baton policy is a WebAssembly component that decides, event by event,
//! how an application version moves through its stages. The host (`baton`)
//! calls [`Policy::decide`] with a [`Context`] and one [`Event`]; the policy
//! reads the world through a [`World`] (git history, Argo CD status, merge
//! requests, the clock) and answers with a [`Decision`]: a list of actions
//! the host checks against its guardrails and then executes. A policy never
//! writes anything itself, so `baton --dry-run` is exact and a policy that
//! panics changes nothing.
//!
//! The bindings are generated from the contract in the repository's `wit/`
//! directory (package `baton:policy`, world `promotion-policy`); see
//! [`WIT_VERSION`].
//!
//! ## Least privilege
//!
//! A component imports only the capabilities its code calls. [`Policy::decide`]
//! takes the world as `&impl World`, so each capability call is a direct
//! call into [`HostWorld`]: the linker drops the ones a policy never makes,
//! and the component does not import their interfaces. The
//! default policy imports `git` and nothing else of Baton's; a policy that
//! starts reading the clock or querying metrics imports `clock` or
//! `metrics`, and `baton policy inspect` and `policy diff` show reviewers
//! the new capability. Keep it that way in helpers too: take
//! `&impl World` (or a generic `W: World + ?Sized`), not `&dyn World`,
//! whose vtable would link every capability.
//!
//! ## A complete minimal policy
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "always-dev"
//! version = "0.1.0"
//! edition = "2024"
//! description = "Commits every new version to dev and stops"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! baton-policy = { path = "../sdk" }
//!
//! # Small components: the profile of the repository's own policies.
//! [profile.release]
//! opt-level = "s"
//! lto = true
//! codegen-units = 1
//! panic = "abort"
//! debug = false
//! strip = "debuginfo"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use baton_policy::{actions, Context, Decision, Event, Policy, PolicyError, World};
//!
//! struct AlwaysDev;
//!
//! impl Policy for AlwaysDev {
//!     fn decide(ctx: &Context, event: &Event, _world: &impl World) -> Result<Decision, PolicyError> {
//!         match event {
//!             Event::NewVersion(new) => Ok(Decision::from(vec![
//!                 actions::commit("dev", &new.version, "every version goes to dev"),
//!                 actions::await_health("dev", &new.version, 600_000),
//!             ])),
//!             _ => Ok(actions::nothing(format!("{}: nothing to do", ctx.app))),
//!         }
//!     }
//! }
//!
//! baton_policy::export_policy!(AlwaysDev);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release`; the
//! component is `target/wasm32-wasip2/release/always_dev.wasm`. Check it
//! with `baton policy inspect` and try it with `baton policy eval` or
//! `baton policy test`.
//!
//! ## Building on the reference policy
//!
//! [`flow::Flow`] is the reference policy's logic as reusable steps: a
//! policy that only changes a rule or two (a time window, a soak time, how
//! a paused canary is judged) handles those events itself and leaves the
//! rest to the flow.
//!
//! ## Testing policy logic natively
//!
//! Decision logic only sees the world through [`World`], so unit tests run
//! on the host target with [`testing::FakeWorld`] (the generated imports are
//! only callable inside a component) and the builders next to it.
//!
//! ## Time
//!
//! [`calendar`] reads the host clock (`world.now()`, never the guest's) as
//! people do: weekday and time of day in a zone (a fixed offset, or a
//! built-in table of zones with their daylight-saving rules), and weekly
//! windows such as "Monday to Friday, 09:00 to 16:00 in Europe/Berlin".

#![warn(missing_docs)]

pub mod actions;
pub mod calendar;
pub mod flow;
pub mod health;
pub mod history;
pub mod settings;
pub mod testing;
mod world;

/// Bindings generated from the `baton:policy` WIT package.
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "promotion-policy",
        pub_export_macro: true,
        export_macro_name: "__export_promotion_policy",
        default_bindings_module: "baton_policy::bindings",
        additional_derives: [PartialEq],
    });
}

pub use bindings::baton::policy::log::Level;
pub use bindings::baton::policy::metrics::{
    Label as MetricLabel, MetricsError, Point, Sample, Series,
};
pub use bindings::baton::policy::types::{
    Action, AppStatus, AwaitHealth, CapabilityError, ChangeOrigin, Channel, Context, Decision,
    Deployment, Event, GateTimeout, HealthObserved, HealthStatus, MergeRequest,
    MergeRequestOptions, MergeRequestState, NewVersion, OperationPhase, PolicyError,
    PolicyMetadata, Reconcile, ResourceHealth, Rollback, RollbackRequested, SetVersion, Stage,
    StageChanged, SyncStatus, Target, TargetStatus, TargetVersion, Trailer,
};
pub use world::{HostWorld, World};

/// Version of the WIT package these bindings were generated from
/// (`baton:policy`, from `wit/world.wit`).
pub const WIT_VERSION: &str = "0.2.0";

/// A promotion policy. Implement this and export it with [`export_policy!`].
pub trait Policy {
    /// Decides what to do about `event`. Must be deterministic given the
    /// answers `world` gives: `baton policy replay` checks it.
    ///
    /// The world is generic so that the component imports only the
    /// capabilities this code calls (see [least privilege](crate#least-privilege)).
    fn decide(ctx: &Context, event: &Event, world: &impl World) -> Result<Decision, PolicyError>;
}

impl From<Vec<Action>> for Decision {
    fn from(actions: Vec<Action>) -> Self {
        Decision {
            actions,
            reasons: Vec::new(),
            recheck_after: None,
        }
    }
}

impl Decision {
    /// Adds an explanation for the audit record.
    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reasons.push(reason.into());
        self
    }
}

impl Context {
    /// The stage called `name`, if configured.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The stage after `name` in promotion order.
    pub fn next_stage(&self, name: &str) -> Option<&Stage> {
        let at = self.stages.iter().position(|s| s.name == name)?;
        self.stages.get(at + 1)
    }

    /// The first stage (where new versions enter).
    pub fn first_stage(&self) -> Option<&Stage> {
        self.stages.first()
    }
}

/// Exports a [`Policy`] implementation as the component's `baton:policy/policy`
/// interface, handing it the [`HostWorld`]. Metadata (name, version,
/// description, authors) comes from the policy crate's `Cargo.toml`.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        // Exports exist only in the component; natively (unit tests) the
        // policy is a plain library.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct BatonPolicyExport;

            impl $crate::bindings::exports::baton::policy::policy::Guest for BatonPolicyExport {
                fn decide(
                    context: $crate::Context,
                    event: $crate::Event,
                ) -> ::core::result::Result<$crate::Decision, $crate::PolicyError> {
                    <$policy as $crate::Policy>::decide(&context, &event, &$crate::HostWorld)
                }

                fn metadata() -> $crate::PolicyMetadata {
                    $crate::PolicyMetadata {
                        name: ::core::env!("CARGO_PKG_NAME").into(),
                        version: ::core::env!("CARGO_PKG_VERSION").into(),
                        description: ::core::env!("CARGO_PKG_DESCRIPTION").into(),
                        authors: ::core::env!("CARGO_PKG_AUTHORS")
                            .split(':')
                            .filter(|a| !a.is_empty())
                            .map(::core::convert::Into::into)
                            .collect(),
                    }
                }
            }

            $crate::bindings::__export_promotion_policy!(
                BatonPolicyExport with_types_in $crate::bindings
            );
        };
    };
}
