//! Baton's reference policy: the seed GitOps flow as a decision function.
//!
//! - A new version goes to the first stage (dev) by direct commit when the
//!   guardrails allow it (a merge request otherwise), then its health is gated.
//! - A stage that is Healthy and Synced at the expected commit gets the next
//!   stage's merge request; the last stage completes the promotion.
//! - A stage changed in the env repo (a merged MR, seen by `baton advance`)
//!   is gated the same way.
//! - A scheduled `baton reconcile` resumes a promotion that stopped: a stage
//!   holding a version its next stage lacks (and the next stage unchanged
//!   since) is gated again, and a pass opens the next merge request (the
//!   open one is reused).
//! - A gate failure (Degraded app or resource, aborted rollout, or not healthy
//!   within the stage's timeout) rolls the stage back to its last good version
//!   (direct commit where allowed, merge request otherwise) and fails the run.
//! - A requested rollback goes to `--to` or the last good version.
//!
//! Settings (`policy.settings` in `baton.yaml`):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `health_timeout` | `10m` | how long a gate waits |
//! | `stages.<name>.health_timeout` | | per-stage override |
//! | `progressing_is_waiting` | `true` | `false` fails a gate on Progressing |
//! | `mr_labels` | `["baton"]` | labels of promotion MRs |
//! | `rollback_labels` | `["baton", "rollback"]` | labels of rollback MRs |
//! | `stages.<name>.mr_labels`, `stages.<name>.rollback_labels` | | per-stage labels, replacing the general ones |
//!
//! It reads only the env repo (`baton:policy/git`): the health it gates on
//! comes with the events, so the component imports no other capability.

mod config;
mod decide;

pub use config::PolicySettings;
pub use decide::DefaultPolicy;

baton_policy::export_policy!(DefaultPolicy);
