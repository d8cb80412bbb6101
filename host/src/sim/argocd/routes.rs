//! HTTP handlers: the Argo CD endpoints Baton uses, with the real server's
//! status codes and error bodies (`{"error","code","message"}`); the list
//! and version endpoints are in `list`, the token's sources in `auth`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::state::Shared;
use super::tree::resource_tree;
use super::{auth, list};

type AppState = State<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/version", get(list::version))
        .route("/api/v1/applications", get(list::list_apps))
        .route("/api/v1/applications/{name}", get(get_app))
        .route("/api/v1/applications/{name}/resource-tree", get(get_tree))
        .route("/api/v1/applications/{name}/sync", post(sync_app))
        .route("/api/v1/stream/applications", get(watch_apps))
        .fallback(|| async { grpc_error(StatusCode::NOT_FOUND, 5, "Not Found") })
        .with_state(shared)
}

/// A grpc-gateway unary error, rendered by [`grpc_error`].
pub(super) struct ApiError {
    status: StatusCode,
    code: i32,
    message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, code: i32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        grpc_error(self.status, self.code, &self.message)
    }
}

/// grpc-gateway's unary error: `{"error":m,"code":c,"message":m}`.
pub(super) fn grpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "error": message, "code": code, "message": message }).to_string(),
    )
        .into_response()
}

pub(super) fn json_ok(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Delay, injected 5xx, then authentication, as the real server's layers do.
pub(super) async fn preflight(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let delay = shared.faults.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if shared.faults.take_failure() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            14,
            "simulated outage: connection refused",
        ));
    }
    if shared.faults.unauthorized() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            16,
            "invalid session: token has expired",
        ));
    }
    let Some(expected) = &shared.config.token else {
        return Ok(());
    };
    match auth::presented_token(headers).as_deref() {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            16,
            "no session information",
        )),
        Some(t) if t == expected => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            16,
            "invalid session: token signature is invalid",
        )),
    }
}

/// Decoded query pairs; repeated keys are kept.
pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) struct Scope {
    pub(super) app_namespace: Option<String>,
    pub(super) projects: Vec<String>,
}

impl Scope {
    pub(super) fn from_query(q: &[(String, String)]) -> Self {
        Scope {
            app_namespace: q
                .iter()
                .find(|(k, _)| k == "appNamespace")
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty()),
            projects: q
                .iter()
                .filter(|(k, v)| (k == "project" || k == "projects") && !v.is_empty())
                .map(|(_, v)| v.clone())
                .collect(),
        }
    }
}

/// Index of the app, or the error the real server gives.
fn find(shared: &Shared, name: &str, scope: &Scope) -> Result<usize, ApiError> {
    if scope.projects.len() > 1 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            3,
            "multiple projects specified - the get endpoint accepts either zero or one project",
        ));
    }
    let apps = shared.lock_apps();
    let found = apps.iter().position(|a| {
        a.cfg.name == name
            && scope
                .app_namespace
                .as_ref()
                .is_none_or(|ns| *ns == shared.config.namespace)
            && scope.projects.first().is_none_or(|p| *p == a.cfg.project)
    });
    match (found, scope.projects.is_empty()) {
        (Some(i), _) => Ok(i),
        // Without a project the server cannot tell "missing" from "forbidden".
        (None, true) => Err(ApiError::new(StatusCode::FORBIDDEN, 7, "permission denied")),
        (None, false) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            5,
            format!("applications.argoproj.io \"{name}\" not found"),
        )),
    }
}

/// The checks every single-application GET makes: authentication and
/// faults, then the application `name` within the query's scope. Returns
/// its index and the query.
async fn app_in_query(
    shared: &Shared,
    name: &str,
    raw: Option<&str>,
    headers: &HeaderMap,
) -> Result<(usize, Vec<(String, String)>), Response> {
    preflight(shared, headers)
        .await
        .map_err(IntoResponse::into_response)?;
    let q = query_pairs(raw);
    let index = find(shared, name, &Scope::from_query(&q)).map_err(IntoResponse::into_response)?;
    Ok((index, q))
}

async fn get_app(
    State(shared): AppState,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (index, q) = match app_in_query(&shared, &name, raw.as_deref(), &headers).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if q.iter().any(|(k, v)| k == "refresh" && !v.is_empty()) {
        // The real server answers a refresh once the controller reconciled.
        list::refresh(&shared, &[index]).await;
    }
    let value = shared.lock_apps()[index].to_json();
    json_ok(&value)
}

async fn get_tree(
    State(shared): AppState,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    match app_in_query(&shared, &name, raw.as_deref(), &headers).await {
        Ok((index, _)) => {
            let value = resource_tree(&shared.lock_apps()[index]);
            json_ok(&value)
        }
        Err(r) => r,
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SyncBody {
    revision: Option<String>,
    dry_run: bool,
    app_namespace: Option<String>,
    project: Option<String>,
}

async fn sync_app(
    State(shared): AppState,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some("application/json") {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Invalid content type").into_response();
    }
    if let Err(r) = preflight(&shared, &headers).await {
        return r.into_response();
    }
    let req: SyncBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return grpc_error(StatusCode::BAD_REQUEST, 3, &e.to_string()),
    };
    let scope = Scope {
        app_namespace: req.app_namespace.filter(|s| !s.is_empty()),
        projects: req.project.into_iter().filter(|s| !s.is_empty()).collect(),
    };
    let index = match find(&shared, &name, &scope) {
        Ok(i) => i,
        Err(r) => return r.into_response(),
    };
    let value = {
        let mut apps = shared.lock_apps();
        let app = &mut apps[index];
        if app.operation_running() {
            return grpc_error(
                StatusCode::BAD_REQUEST,
                9,
                "another operation is already in progress",
            );
        }
        if !req.dry_run {
            app.request_sync(
                req.revision.filter(|r| !r.is_empty()),
                "admin",
                tokio::time::Instant::now(),
            );
        }
        app.to_json()
    };
    shared.publish();
    json_ok(&value)
}

async fn watch_apps(
    State(shared): AppState,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = preflight(&shared, &headers).await {
        return r.into_response();
    }
    if shared.faults.stream_unavailable() {
        return (StatusCode::NOT_IMPLEMENTED, "streaming not supported").into_response();
    }
    let q = query_pairs(raw.as_deref());
    let name = q
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty());
    let scope = Scope::from_query(&q);
    let sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    shared.stream_connections.fetch_add(1, Ordering::SeqCst);
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(16);
    tokio::spawn(pump_events(shared.clone(), name, scope, sse, tx));
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let content_type = if sse {
        "text/event-stream"
    } else {
        "application/json"
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn frame(sse: bool, payload: &Value) -> Bytes {
    if sse {
        Bytes::from(format!("data: {payload} \n\n\n"))
    } else {
        Bytes::from(format!("{payload}\n"))
    }
}

/// Sends `ADDED` for the current state, then `MODIFIED` on each change,
/// suppressing messages identical to the previous one for the same app.
async fn pump_events(
    shared: Arc<Shared>,
    name: Option<String>,
    scope: Scope,
    sse: bool,
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
) {
    let mut changes = shared.changes.subscribe();
    let mut kill = shared.kill_streams.subscribe();
    let mut keepalive =
        tokio::time::interval(Duration::from_millis(shared.config.sse_keepalive_ms.max(1)));
    keepalive.tick().await;
    let mut last: HashMap<String, String> = HashMap::new();
    let mut sent: u32 = 0;
    loop {
        changes.borrow_and_update();
        let snapshot: Vec<(String, String)> = shared
            .lock_apps()
            .iter()
            .filter(|a| name.as_ref().is_none_or(|n| *n == a.cfg.name))
            .filter(|_| {
                scope
                    .app_namespace
                    .as_ref()
                    .is_none_or(|ns| *ns == shared.config.namespace)
            })
            .filter(|a| scope.projects.is_empty() || scope.projects.contains(&a.cfg.project))
            .map(|a| (a.cfg.name.clone(), a.to_json().to_string()))
            .collect();
        for (app, body) in snapshot {
            let kind = match last.get(&app) {
                Some(prev) if *prev == body => continue,
                Some(_) => "MODIFIED",
                None => "ADDED",
            };
            let application: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let payload = json!({ "result": { "type": kind, "application": application } });
            if tx.send(Ok(frame(sse, &payload))).await.is_err() {
                return;
            }
            last.insert(app, body);
            sent += 1;
            if shared.faults.stream_drop_after().is_some_and(|n| sent >= n) {
                if shared.faults.stream_error_frame() {
                    let err = json!({ "error": {
                        "grpc_code": 14, "http_code": 503,
                        "message": "transport is closing", "http_status": "Service Unavailable",
                    }});
                    let _ = tx.send(Ok(frame(sse, &err))).await;
                }
                return;
            }
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            _ = kill.changed() => return,
            () = tx.closed() => return,
            _ = keepalive.tick(), if sse => {
                if tx.send(Ok(Bytes::from_static(b":\n"))).await.is_err() {
                    return;
                }
            }
        }
    }
}
