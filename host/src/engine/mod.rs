//! The promotion engine: events -> policy -> guardrails -> actions -> gates.
//!
//! The modules read top-down; each depends only on those below it:
//!
//! - [`run`]: the run loop ([`Engine::run`]), which drives:
//!   - [`trigger`]: what starts a run and the events it sends;
//!   - `decide`: one policy call, and admitting its decision whole;
//!   - `preflight`: the systems checked before the first write;
//!   - `execute`: commits, merge-request branches and merge requests;
//!   - `await_health`: the gate as the engine runs it, over [`gate`], the
//!     pure Argo CD health gate;
//! - `state`: the shared vocabulary ([`Engine`], [`Systems`],
//!   [`RunOptions`], why a run stops, what it accumulates), and
//!   `setup` ([`Engine::new`] from the typed configuration);
//! - [`repo`]: the shared env repo handle (locking and blocking calls);
//! - [`guardrails`]: what any policy may ask for;
//! - [`world`]: the live capabilities a policy reads, over [`arrival`]:
//!   which commit's trailers count for a deployment (merges, squashes);
//! - [`status`]: the per-stage report of `baton status`;
//! - [`audit`]: the record every run writes.

pub mod arrival;
pub mod audit;
mod await_health;
mod decide;
mod digest;
mod execute;
pub mod gate;
pub mod guardrails;
mod preflight;
pub mod provenance;
pub mod repo;
pub mod run;
mod setup;
mod state;
pub mod status;
pub mod trigger;
pub mod world;

pub use repo::SharedRepo;
pub use setup::{OpenFailure, context, run_id, system_clock};
pub use state::{Clock, Engine, Progress, RunOptions, Systems};
pub use trigger::Trigger;
