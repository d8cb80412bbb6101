//! Health interpretation helpers.

use crate::{AppStatus, HealthStatus, ResourceHealth, SyncStatus};

/// Is the application Healthy and Synced at `revision`?
pub fn is_healthy_at(status: &AppStatus, revision: &str) -> bool {
    status.health == HealthStatus::Healthy
        && status.sync == SyncStatus::Synced
        && status.revision.as_deref() == Some(revision)
}

/// Is the application Healthy and Synced (at whatever revision the host
/// gated on: health observations only arrive for the expected revision)?
pub fn is_healthy(status: &AppStatus) -> bool {
    status.health == HealthStatus::Healthy && status.sync == SyncStatus::Synced
}

/// A resource paused at a canary step (Argo Rollouts `Suspended` with a
/// pause message such as `CanaryPauseStep`).
pub fn paused_canary(status: &AppStatus) -> Option<&ResourceHealth> {
    status.resources.iter().find(|r| {
        r.health == Some(HealthStatus::Suspended)
            && r.message
                .as_deref()
                .is_some_and(|m| m.contains("PauseStep") || m.contains("Paused"))
    })
}

/// The first degraded resource, with its message, for failure reasons.
pub fn degraded_resource(status: &AppStatus) -> Option<&ResourceHealth> {
    status
        .resources
        .iter()
        .find(|r| r.health == Some(HealthStatus::Degraded))
}

/// Short human description: `Healthy / Synced @ab12cd3`.
pub fn describe(status: &AppStatus) -> String {
    let rev = status
        .revision
        .as_deref()
        .map(|r| &r[..r.len().min(7)])
        .unwrap_or("-");
    format!("{:?} / {:?} @{rev}", status.health, status.sync)
}
