//! `GET /api/v1/applications` (the list, `v1alpha1ApplicationList`),
//! refreshes, and `GET /api/version`.
//!
//! The list takes the real server's filters: `name`, `projects` (or the
//! legacy `project`, repeatable), `appNamespace`, `repo` (the source's
//! `repoURL`) and `selector` (equality-based label selectors: `k=v`,
//! `k==v`, `k!=v`, `k`, `!k`, comma-separated; set-based ones answer
//! 400). `refresh` (`normal`, `hard`, any value) on the list or on one
//! application makes the controller compare again before answering, as
//! the real server's blocking refresh does: a new commit is seen and
//! `status.reconciledAt` moves to now. `/api/version` answers without a
//! session, with `Version` only, as the real server does for anonymous
//! callers; with one, with the build fields too.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::controller::check_repo;
use super::routes::{ApiError, Scope, json_ok, preflight, query_pairs};
use super::state::Shared;
use std::sync::Arc;

/// The simulated server's version.
const VERSION: &str = "v3.1.0+baton-sim";

/// Compares the applications at `indices` again now.
pub(super) async fn refresh(shared: &Shared, indices: &[usize]) {
    check_repo(shared).await;
    {
        let mut apps = shared.lock_apps();
        for &i in indices {
            if let Some(app) = apps.get_mut(i) {
                app.reconciled_now();
            }
        }
    }
    shared.publish();
}

/// One term of a label selector.
enum Term {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

fn parse_selector(text: &str) -> Result<Vec<Term>, ApiError> {
    if text.contains('(') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            3,
            format!("selector {text:?}: the simulator supports equality-based selectors only"),
        ));
    }
    Ok(text
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                Term::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                Term::Equals(k.trim().into(), v.trim().into())
            } else if let Some(k) = t.strip_prefix('!') {
                Term::Absent(k.trim().into())
            } else {
                Term::Exists(t.into())
            }
        })
        .collect())
}

fn selects(terms: &[Term], labels: &Value) -> bool {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    terms.iter().all(|t| match t {
        Term::Equals(k, v) => label(k) == Some(v.as_str()),
        Term::NotEquals(k, v) => label(k) != Some(v.as_str()),
        Term::Exists(k) => label(k).is_some(),
        Term::Absent(k) => label(k).is_none(),
    })
}

pub(super) async fn list_apps(
    State(shared): State<Arc<Shared>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = preflight(&shared, &headers).await {
        return e.into_response();
    }
    let q = query_pairs(raw.as_deref());
    let value_of = |key: &str| {
        q.iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let scope = Scope::from_query(&q);
    let terms = match parse_selector(&value_of("selector").unwrap_or_default()) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let name = value_of("name");
    let repo = value_of("repo");
    let chosen: Vec<usize> = {
        let apps = shared.lock_apps();
        let namespace_ok = scope
            .app_namespace
            .as_ref()
            .is_none_or(|ns| *ns == shared.config.namespace);
        (0..apps.len())
            .filter(|_| namespace_ok)
            .filter(|&i| {
                let (app, json) = (&apps[i], apps[i].to_json());
                name.as_ref().is_none_or(|n| *n == app.cfg.name)
                    && (scope.projects.is_empty() || scope.projects.contains(&app.cfg.project))
                    && repo.as_ref().is_none_or(|r| *r == app.repo_url)
                    && selects(&terms, &json["metadata"]["labels"])
            })
            .collect()
    };
    if value_of("refresh").is_some() {
        refresh(&shared, &chosen).await;
    }
    let apps = shared.lock_apps();
    let items: Vec<Value> = chosen.iter().map(|&i| apps[i].to_json()).collect();
    let version: u64 = apps
        .iter()
        .filter_map(|a| {
            a.to_json()["metadata"]["resourceVersion"]
                .as_str()?
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(1);
    json_ok(&json!({ "metadata": { "resourceVersion": version.to_string() }, "items": items }))
}

pub(super) async fn version(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let authenticated = match &shared.config.token {
        None => true,
        Some(expected) => {
            super::auth::presented_token(&headers).as_deref() == Some(expected.as_str())
        }
    };
    if !authenticated {
        return json_ok(&json!({ "Version": VERSION }));
    }
    json_ok(&json!({
        "Version": VERSION,
        "BuildDate": "2026-01-01T00:00:00Z",
        "GitCommit": "0000000000000000000000000000000000000000",
        "GitTag": "",
        "GitTreeState": "clean",
        "GoVersion": "go1.24.0",
        "Compiler": "gc",
        "Platform": "linux/amd64",
        "KustomizeVersion": "v5.6.0",
        "HelmVersion": "v3.17.0",
        "KubectlVersion": "v0.32.0",
        "JsonnetVersion": "v0.20.0",
    }))
}
