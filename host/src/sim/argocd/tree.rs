//! The resource tree of a simulated application: workload -> ReplicaSet ->
//! Pod, plus a Service, shaped like `v1alpha1ApplicationTree`.

use serde_json::{Value, json};

use super::app::AppState;
use crate::time::format_rfc3339;

/// `GET /api/v1/applications/{name}/resource-tree` body.
pub(crate) fn resource_tree(app: &AppState) -> Value {
    let (group, version, kind) = app.workload_gvk();
    let ns = app.destination_namespace();
    let name = &app.cfg.name;
    let created = format_rfc3339(app.created_at());
    let (wl_status, wl_message) = app.workload_health();
    let health = |status: &str, message: Option<&str>| {
        let mut h = json!({ "status": status });
        if let Some(m) = message {
            h["message"] = json!(m);
        }
        h
    };
    let uid = |suffix: &str| format!("{}-{suffix}", app.uid());
    let rs_name = format!("{name}-{}", &app.uid()[..8]);
    let images: Vec<String> = app.deployed_image().into_iter().collect();
    let workload_ref =
        json!({ "group": group, "kind": kind, "namespace": ns, "name": name, "uid": uid("wl") });
    let rs_ref = json!({ "group": "apps", "kind": "ReplicaSet", "namespace": ns, "name": rs_name, "uid": uid("rs") });
    let pod_health = if wl_status == "Healthy" || wl_status == "Suspended" {
        "Healthy"
    } else {
        "Progressing"
    };
    json!({
        "nodes": [
            {
                "version": "v1", "kind": "Service", "namespace": ns, "name": name, "uid": uid("svc"),
                "health": { "status": "Healthy" }, "resourceVersion": "1", "createdAt": created,
            },
            {
                "group": group, "version": version, "kind": kind, "namespace": ns, "name": name, "uid": uid("wl"),
                "health": health(wl_status, wl_message), "resourceVersion": "1", "createdAt": created,
                "info": [{ "name": "Revision", "value": "Rev:1" }],
            },
            {
                "group": "apps", "version": "v1", "kind": "ReplicaSet", "namespace": ns, "name": rs_name,
                "uid": uid("rs"), "parentRefs": [workload_ref], "health": health(wl_status, None),
                "resourceVersion": "1", "createdAt": created,
            },
            {
                "version": "v1", "kind": "Pod", "namespace": ns, "name": format!("{rs_name}-x7k2p"),
                "uid": uid("pod"), "parentRefs": [rs_ref], "health": { "status": pod_health },
                "images": images, "resourceVersion": "1", "createdAt": created,
                "info": [{ "name": "Status Reason", "value": "Running" }, { "name": "Containers", "value": "1/1" }],
            },
        ],
        "hosts": [],
    })
}
