//! An SLO-gated policy: the default policy's flow, plus a metrics bake.
//!
//! Argo CD's Healthy says the pods started, not that the release is good.
//! Once a gated stage is Healthy and Synced at the gated version, this
//! policy keeps its gate open for `bake`, reading service level indicators
//! from Prometheus (the host's `metrics:` section; the component imports
//! `baton:policy/metrics`):
//!
//! - while the stage bakes, every check reads each indicator now; a value
//!   above its maximum rolls the stage back to its last good version and
//!   fails the run at once; otherwise the gate stays open with
//!   `recheck-after` (`interval`), so the host asks again even when Argo CD
//!   has nothing new to say;
//! - once `bake` has passed, the whole window since the gate began is read
//!   with a range query (every `interval`), so a spike between two checks
//!   is not missed; only a clean window lets the version move on as in the
//!   default policy (the next stage's merge request, or the end of the
//!   promotion);
//! - a window with no data (no series, or only NaN: a ratio over no
//!   requests) is not clean unless `no_data: pass`;
//! - Prometheus unreachable or timing out keeps the gate waiting; if it
//!   stays so, the gate's timeout rolls the stage back;
//! - a query Prometheus refuses is a mistake in the settings: the run ends
//!   with a policy error naming the setting (it says nothing against the
//!   version, so nothing is rolled back).
//!
//! The bake is measured from the start of the gate (the push), the clock
//! the policy has: like every policy it is stateless, and a stage cannot
//! have turned Healthy before its gate began. A stage that turns Healthy
//! after its bake is over is judged on the whole window at once. A healthy
//! rollback is not baked: it went back to the last known good version.
//!
//! Templates take `{app}`, `{stage}`, `{target}` (the target's label,
//! empty for a single-target stage) and `{argocd_app}`; a template naming
//! a target is read once per target of the stage. Values are escaped for
//! a PromQL string literal, which is where they belong
//! (`{job="{app}",env="{stage}"}`).
//!
//! Settings (`policy.settings` in `baton.yaml`; unknown keys are refused):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `error_ratio` | | `{ query, max }`: a PromQL template and the largest value a clean bake shows |
//! | `p95_latency` | | `{ query, max }`, likewise (in the query's unit, seconds by Prometheus convention); at least one of the two |
//! | `bake` | `10m` | how long a healthy stage is watched, from the start of its gate |
//! | `stages.<name>.bake` | | the bake of one stage (`0s`: none) |
//! | `interval` | `30s` | how often a baking stage is checked; the step of the final range query |
//! | `no_data` | `fail` | `fail` or `pass`: what a bake without data means |
//! | `health_timeout` | `30m` | how long a gate waits; must exceed every bake |
//! | `progressing_is_waiting`, `mr_labels`, `rollback_labels`, `stages.<name>.health_timeout`, `stages.<name>.mr_labels`, `stages.<name>.rollback_labels` | | as in the default policy |
//!
//! Every bake must also be shorter than the host's
//! `guardrails.max_health_wait`, which caps every gate.

mod check;
mod config;
mod decide;

pub use config::{Indicator, NoData, SloSettings};
pub use decide::SloPolicy;

baton_policy::export_policy!(SloPolicy);
