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

/// API group of Argo Rollouts resources.
pub const ROLLOUT_GROUP: &str = "argoproj.io";

/// The application's Argo Rollouts `Rollout` resources.
pub fn rollouts(status: &AppStatus) -> impl Iterator<Item = &ResourceHealth> {
    status
        .resources
        .iter()
        .filter(|r| r.group == ROLLOUT_GROUP && r.kind == "Rollout")
}

/// Does a health message report an aborted rollout? Argo CD says `Rollout
/// is aborted`; Argo Rollouts' condition reason is `RolloutAborted`.
pub fn mentions_abort(message: &str) -> bool {
    message.to_ascii_lowercase().contains("abort")
}

/// The first Rollout that was aborted: Degraded with a message that
/// mentions the abort.
pub fn aborted_rollout(status: &AppStatus) -> Option<&ResourceHealth> {
    rollouts(status).find(|r| {
        r.health == Some(HealthStatus::Degraded) && r.message.as_deref().is_some_and(mentions_abort)
    })
}

/// The first Rollout that is paused: Suspended, whether at a canary pause
/// step (`CanaryPauseStep`) or by hand (`Rollout is paused`).
pub fn paused_rollout(status: &AppStatus) -> Option<&ResourceHealth> {
    rollouts(status).find(|r| r.health == Some(HealthStatus::Suspended))
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
    format!(
        "{} / {} @{rev}",
        health_name(status.health),
        sync_name(status.sync)
    )
}

/// Argo CD's own spelling of a health status (`Healthy`, `Degraded`, ...).
pub fn health_name(health: HealthStatus) -> &'static str {
    match health {
        HealthStatus::Healthy => "Healthy",
        HealthStatus::Progressing => "Progressing",
        HealthStatus::Degraded => "Degraded",
        HealthStatus::Suspended => "Suspended",
        HealthStatus::Missing => "Missing",
        HealthStatus::Unknown => "Unknown",
    }
}

/// Argo CD's own spelling of a sync status (`Synced`, `OutOfSync`, `Unknown`).
pub fn sync_name(sync: SyncStatus) -> &'static str {
    match sync {
        SyncStatus::Synced => "Synced",
        SyncStatus::OutOfSync => "OutOfSync",
        SyncStatus::Unknown => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{app_status, resource};

    fn app(health: HealthStatus, resources: Vec<ResourceHealth>) -> AppStatus {
        AppStatus {
            revision: Some("0123456789abcdef".into()),
            resources,
            ..app_status("payments-prod", health)
        }
    }

    #[test]
    fn paused_rollouts_at_a_step_or_by_hand() {
        // Messages from Argo CD's Rollout health check (argo-cd
        // resource_customizations/argoproj.io/Rollout/health_test.yaml).
        for message in ["CanaryPauseStep", "Rollout is paused"] {
            let status = app(
                HealthStatus::Suspended,
                vec![resource(
                    ROLLOUT_GROUP,
                    "Rollout",
                    HealthStatus::Suspended,
                    message,
                )],
            );
            assert_eq!(
                paused_rollout(&status).and_then(|r| r.message.as_deref()),
                Some(message)
            );
            assert_eq!(aborted_rollout(&status), None);
        }
        // A suspended CronJob is not a paused rollout.
        let cron = app(
            HealthStatus::Suspended,
            vec![resource(
                "batch",
                "CronJob",
                HealthStatus::Suspended,
                "Suspended",
            )],
        );
        assert_eq!(paused_rollout(&cron), None);
    }

    #[test]
    fn aborted_rollouts_are_degraded_with_an_abort_message() {
        for message in [
            "Rollout is aborted",
            "RolloutAborted: metric error-rate failed",
        ] {
            let status = app(
                HealthStatus::Degraded,
                vec![resource(
                    ROLLOUT_GROUP,
                    "Rollout",
                    HealthStatus::Degraded,
                    message,
                )],
            );
            assert!(aborted_rollout(&status).is_some(), "{message}");
        }
        let timed_out = app(
            HealthStatus::Degraded,
            vec![resource(
                ROLLOUT_GROUP,
                "Rollout",
                HealthStatus::Degraded,
                "ReplicaSet \"payments-6b8cf6f7db\" has timed out progressing.",
            )],
        );
        assert_eq!(aborted_rollout(&timed_out), None);
    }

    #[test]
    fn describe_names_health_sync_and_a_short_revision() {
        let status = app(HealthStatus::Healthy, Vec::new());
        assert_eq!(describe(&status), "Healthy / Synced @0123456");
    }
}
