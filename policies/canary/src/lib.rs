//! A canary-aware policy: the default policy's flow, reading Argo Rollouts.
//!
//! On every health observation that is about the gated version and synced
//! (until then, as in the default policy, it keeps waiting: the health it
//! shows is the previous deployment's; a failed sync fails), before the
//! standard verdict:
//!
//! - an **aborted** Rollout (Argo CD reports the `argoproj.io/Rollout`
//!   resource Degraded with `Rollout is aborted`, or a message naming
//!   `RolloutAborted`; or the application Degraded with such a message)
//!   rolls the stage back to its last good version and fails the run at once;
//! - a **paused** Rollout (the resource Suspended: `CanaryPauseStep` at a
//!   canary pause step, or `Rollout is paused` by hand) keeps the gate
//!   waiting (an empty decision), but only up to `max_pause`, measured from
//!   the start of the gate by the event's `elapsed` (the policy is stateless,
//!   and a pause cannot have begun before its gate); past it, the stage is
//!   rolled back and the run fails;
//! - otherwise the default policy's verdict applies: Healthy and Synced
//!   advances to the next stage, Degraded rolls back, Progressing waits.
//!
//! The gate timeout defaults to one hour here, and `max_pause` must be
//! shorter than every gate timeout (else the gate would always time out
//! first). The host's `guardrails.max_health_wait` still caps every gate.
//!
//! Settings (`policy.settings` in `baton.yaml`; unknown keys are refused):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `max_pause` | `30m` | how long a gate may see a paused Rollout before failing |
//! | `health_timeout` | `1h` | how long a gate waits; must exceed `max_pause` |
//! | `progressing_is_waiting`, `mr_labels`, `rollback_labels`, `stages.<name>.health_timeout`, `stages.<name>.mr_labels`, `stages.<name>.rollback_labels` | | as in the default policy |

mod config;
mod decide;

pub use config::CanarySettings;
pub use decide::CanaryPolicy;

baton_policy::export_policy!(CanaryPolicy);
