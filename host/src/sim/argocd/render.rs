//! The JSON of a simulated application, shaped like the real `Application`
//! objects (`metadata`, `spec.source`, `status.sync/health/operationState/
//! history/resources/reconciledAt/summary`) and `v1alpha1Application` in
//! argocd-swagger.json.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::app::{AppState, OpState};
use super::config::WorkloadKind;
use crate::time::format_rfc3339;

impl AppState {
    pub(super) fn source(&self) -> Value {
        let path = self.cfg.file.rsplit_once('/').map_or(".", |(dir, _)| dir);
        json!({ "repoURL": self.repo_url, "path": path, "targetRevision": self.branch })
    }

    pub(super) fn destination(&self) -> Value {
        json!({ "server": "https://kubernetes.default.svc", "namespace": self.dest_namespace() })
    }

    /// `(group, version, kind)` of the workload.
    pub(crate) fn workload_gvk(&self) -> (&'static str, &'static str, &'static str) {
        match self.cfg.workload {
            WorkloadKind::Deployment => ("apps", "v1", "Deployment"),
            WorkloadKind::Rollout => ("argoproj.io", "v1alpha1", "Rollout"),
        }
    }

    /// `(status, message)` of the workload.
    pub(crate) fn workload_health(&self) -> (&str, Option<&str>) {
        (&self.workload_health, self.workload_message.as_deref())
    }

    pub(crate) fn uid(&self) -> &str {
        &self.uid
    }

    pub(crate) fn created_at(&self) -> SystemTime {
        self.created_at
    }

    pub(crate) fn deployed_image(&self) -> Option<String> {
        self.image()
    }

    pub(crate) fn destination_namespace(&self) -> &str {
        self.dest_namespace()
    }

    fn health_json(status: &str, message: Option<&str>) -> Value {
        let mut h = json!({ "status": status });
        if let Some(m) = message {
            h["message"] = json!(m);
        }
        h
    }

    fn operation_json(&self, revision: &str, user: Option<&str>) -> Value {
        let initiated = match user {
            Some(u) => json!({ "username": u }),
            None => json!({ "automated": true }),
        };
        json!({
            "sync": { "revision": revision, "syncStrategy": { "hook": {} } },
            "initiatedBy": initiated,
            "retry": {},
        })
    }

    /// The `Application` object, as `GET /api/v1/applications/{name}` serves it.
    pub(crate) fn to_json(&self) -> Value {
        let mut app = json!({
            "metadata": {
                "name": self.cfg.name,
                "namespace": self.namespace,
                "uid": self.uid,
                "resourceVersion": self.resource_version.to_string(),
                "generation": self.resource_version as i64,
                "creationTimestamp": format_rfc3339(self.created_at),
                "labels": { "app.kubernetes.io/part-of": "baton-sim" },
            },
            "spec": {
                "project": self.cfg.project,
                "source": self.source(),
                "destination": self.destination(),
                "syncPolicy": { "automated": { "prune": true, "selfHeal": true } },
            },
            "status": self.status_json(),
        });
        if self.requested
            && let Some(op) = &self.operation
        {
            app["operation"] = self.operation_json(&op.revision, op.initiated_by.as_deref());
        }
        app
    }

    /// `status`: sync, health, resources, history and the operation.
    fn status_json(&self) -> Value {
        let mut app_health = Self::health_json(&self.health, self.health_message.as_deref());
        app_health["lastTransitionTime"] = json!(format_rfc3339(self.health_since));
        let mut sync = json!({
            "status": self.sync_status,
            "comparedTo": { "source": self.source(), "destination": self.destination() },
        });
        if let Some(rev) = &self.revision {
            sync["revision"] = json!(rev);
        }
        let mut status = json!({
            "sync": sync,
            "health": app_health,
            "resources": self.resources_json(),
            "reconciledAt": format_rfc3339(self.reconciled_at),
            "sourceType": "Helm",
            "summary": { "images": self.image().into_iter().collect::<Vec<_>>() },
            "controllerNamespace": self.namespace,
            "history": self.history_json(),
        });
        if let Some(op) = &self.operation {
            status["operationState"] = self.operation_state_json(op);
        }
        status
    }

    /// `status.resources`: the Service and the workload.
    fn resources_json(&self) -> Value {
        let (group, version, kind) = self.workload_gvk();
        let ns = self.dest_namespace();
        let workload = json!({
            "group": group, "version": version, "kind": kind, "namespace": ns, "name": self.cfg.name,
            "status": self.sync_status,
            "health": Self::health_json(&self.workload_health, self.workload_message.as_deref()),
        });
        let service = json!({
            "version": "v1", "kind": "Service", "namespace": ns, "name": self.cfg.name,
            "status": self.sync_status, "health": { "status": "Healthy" },
        });
        json!([service, workload])
    }

    /// `status.history`, oldest first.
    fn history_json(&self) -> Value {
        self.history
            .iter()
            .map(|h| {
                let mut e = json!({
                    "id": h.id,
                    "revision": h.revision,
                    "deployStartedAt": format_rfc3339(h.deploy_started_at),
                    "deployedAt": format_rfc3339(h.deployed_at),
                    "source": self.source(),
                });
                e["initiatedBy"] = match &h.initiated_by {
                    Some(u) => json!({ "username": u }),
                    None => json!({ "automated": true }),
                };
                e
            })
            .collect()
    }

    /// `status.operationState`, with the sync result once it finished.
    fn operation_state_json(&self, op: &OpState) -> Value {
        let mut state = json!({
            "operation": self.operation_json(&op.revision, op.initiated_by.as_deref()),
            "phase": op.phase,
            "message": op.message,
            "startedAt": format_rfc3339(op.started_at),
        });
        if let Some(f) = op.finished_at {
            let (group, version, kind) = self.workload_gvk();
            let ns = self.dest_namespace();
            state["finishedAt"] = json!(format_rfc3339(f));
            state["syncResult"] = json!({
                "revision": op.revision,
                "source": self.source(),
                "resources": [
                    { "group": "", "version": "v1", "kind": "Service", "namespace": ns, "name": self.cfg.name,
                      "status": "Synced", "message": format!("service/{} unchanged", self.cfg.name),
                      "hookPhase": "Running", "syncPhase": "Sync" },
                    { "group": group, "version": version, "kind": kind, "namespace": ns, "name": self.cfg.name,
                      "status": "Synced", "message": format!("{}/{} configured", kind.to_lowercase(), self.cfg.name),
                      "hookPhase": "Running", "syncPhase": "Sync" },
                ],
            });
        }
        state
    }
}
