//! The promotion engine: events -> policy -> guardrails -> actions -> gates.
//!
//! - [`run`]: the run loop ([`run::Engine::run`]);
//! - [`trigger`]: what starts a run and the events it sends;
//! - `await_health`: the gate as the engine runs it;
//! - `execute`: commits, merge-request branches and merge requests;
//! - [`gate`]: the Argo CD health gate;
//! - [`guardrails`]: what any policy may ask for;
//! - [`world`]: the live capabilities a policy reads;
//! - [`status`]: the per-stage report of `baton status`;
//! - [`audit`]: the record every run writes.

pub mod audit;
mod await_health;
mod execute;
pub mod gate;
pub mod guardrails;
pub mod run;
pub mod status;
pub mod trigger;
pub mod world;
