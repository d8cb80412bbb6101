//! A conservative policy: the default policy's flow with three brakes.
//!
//! - **Prod window**: prod changes only inside a window, by default Monday
//!   to Friday 09:00-16:00. Outside it, the promotion holds with a reason
//!   naming the window and its next opening. The time is the host's clock
//!   (`clock.now`), never the guest's.
//! - **Soak time**: the stage before prod (staging) must have held the
//!   version for `staging_soak` (by the commit time of its deployment in the
//!   env repo history) before the prod merge request; else the promotion
//!   holds with the time left.
//! - **Major bumps**: a version whose semver major differs from the stage's
//!   current version always goes by merge request, even where direct
//!   commits are allowed, with the `needs-review` label. Versions that are
//!   not semver cannot be compared and are treated the same way.
//!
//! A held promotion resumes in the first `baton reconcile` (a scheduled
//! pipeline) after the window opens and the soak ends: the stage before
//! prod is gated again and its pass opens the prod merge request (see
//! scenario `11-reconcile-resumes-a-held-promotion`). Rollbacks are never
//! held: a broken stage is mended at once, inside the window or not. The
//! window governs when Baton opens the prod merge request; merging it
//! stays with people.
//!
//! Time zones: the sandbox has no tz database, so `prod_window` takes
//! either a fixed `utc_offset` or a `time_zone` from a small built-in table
//! (UTC; major European zones with the EU summer-time rule; US and Canadian
//! zones with the US rule; a few zones without daylight saving), with
//! today's rules only. Zones outside the table use `utc_offset`. The
//! window, the zones and the calendar are the SDK's
//! [`baton_policy::calendar`], which other policies use the same way.
//!
//! Settings (`policy.settings` in `baton.yaml`; unknown keys are refused):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `prod_window.days` | `[mon..fri]` | days prod may change: `mon`, `Monday`, ranges `mon..fri` |
//! | `prod_window.start` / `.end` | `09:00` / `16:00` | local time; start inclusive, end exclusive (`24:00` allowed) |
//! | `prod_window.utc_offset` | `+00:00` | fixed offset such as `+01:00` |
//! | `prod_window.time_zone` | | a built-in zone such as `Europe/Berlin` (instead of `utc_offset`) |
//! | `staging_soak` | `2h` | minimum time in the stage before prod; `0` turns it off |
//! | `prod_stage` | the last stage | which stage is prod |
//! | `review_label` | `needs-review` | label of major-bump merge requests |
//! | `health_timeout`, `progressing_is_waiting`, `mr_labels`, `rollback_labels`, `stages.<name>.health_timeout`, `stages.<name>.mr_labels`, `stages.<name>.rollback_labels` | | as in the default policy |

mod config;
mod decide;
mod version;

pub use config::ConservativeSettings;
pub use decide::ConservativePolicy;

baton_policy::export_policy!(ConservativePolicy);
