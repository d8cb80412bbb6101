//! The forge simulators: real HTTP servers (axum on 127.0.0.1) that speak
//! GitLab's ([`gitlab`]) and GitHub's ([`github`]) merge request APIs over a
//! real bare git repository. Merge requests reference real branches, and a
//! merge writes a real commit on the target branch, so anything watching the
//! repository (the Argo CD simulator, `git fetch`) sees it.
//!
//! This file holds what both share: the state behind the handlers, the
//! request log tests read, and the running-server handle; `model` is what
//! they store, `repo` drives git (the reads every request makes go through
//! `sim::reads`, in process) and `wire` holds the HTTP conventions
//! (parameters, pages, timestamps).

pub mod github;
pub mod gitlab;
mod model;
mod refs;
mod repo;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use thiserror::Error;
use tokio::net::TcpListener;

pub use self::model::{SimAutoMerge, SimMergeRequest, SimMrState, SimNote, SimReview, SimStatus};
pub(crate) use self::refs::CommitInfo;
pub use self::repo::Strategy as MergeStrategy;
pub(crate) use self::repo::{LandFailure, Landing, MergeFailure, Repo};
pub(crate) use self::wire::{
    now_rfc3339, p_bool, p_labels, p_str, page_link, page_params, params, query_all,
};
use super::server::{self, Server};
use crate::secret::Secret;

/// A simulator could not start or run.
#[derive(Debug, Error)]
pub enum SimError {
    /// Binding the listen address failed.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("simulator server failed")]
    Serve {
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The repository path is not a git repository.
    #[error("`{path}` is not a git repository")]
    NotARepo {
        /// The configured path.
        path: PathBuf,
    },
    /// `git` could not be started.
    #[error("cannot run `git {args}`")]
    GitSpawn {
        /// Arguments.
        args: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `git` failed.
    #[error("`git {args}` exited with {status}: {stderr}")]
    Git {
        /// Arguments.
        args: String,
        /// Exit code (-1 when killed).
        status: i32,
        /// Its stderr.
        stderr: String,
    },
}

/// The user a request acts as: the `header` the request carries (GitLab's
/// `Sudo`, the GitHub simulator's `X-Baton-Sim-User`), else `baton`, the
/// user the configured token belongs to.
pub(crate) fn acting_user(headers: &axum::http::HeaderMap, header: &str) -> String {
    headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or("baton")
        .to_owned()
}

/// One request the simulator received, as sent (path still percent-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query exactly as received.
    pub uri: String,
}

/// State shared by the handlers of one simulator.
#[derive(Debug)]
pub(crate) struct Shared {
    pub repo: Repo,
    pub token: Option<Secret>,
    pub base_url: String,
    pub store: tokio::sync::Mutex<Vec<SimMergeRequest>>,
    pub next_note_id: std::sync::atomic::AtomicU64,
    pub seen: StdMutex<Vec<SeenRequest>>,
    /// Commit statuses, oldest first.
    pub statuses: StdMutex<Vec<SimStatus>>,
}

impl Shared {
    pub(crate) async fn new(
        repo: PathBuf,
        token: Option<Secret>,
        base_url: String,
    ) -> Result<Arc<Self>, SimError> {
        let r = Repo::new(&repo);
        // A bare repo or a work tree both answer `rev-parse --git-dir`.
        let out = tokio::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["rev-parse", "--git-dir"])
            .output()
            .await
            .map_err(|source| SimError::GitSpawn {
                args: "rev-parse --git-dir".into(),
                source,
            })?;
        if !out.status.success() {
            return Err(SimError::NotARepo { path: repo });
        }
        Ok(Arc::new(Self {
            repo: r,
            token,
            base_url,
            store: tokio::sync::Mutex::new(Vec::new()),
            next_note_id: std::sync::atomic::AtomicU64::new(1),
            seen: StdMutex::new(Vec::new()),
            statuses: StdMutex::new(Vec::new()),
        }))
    }

    pub(crate) fn note_id(&self) -> u64 {
        self.next_note_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Records a commit status and returns it as stored.
    pub(crate) fn add_status(&self, mut status: SimStatus) -> SimStatus {
        status.id = self.note_id();
        if let Ok(mut all) = self.statuses.lock() {
            all.push(status.clone());
        }
        status
    }

    /// The statuses of commit `sha`, newest first (every report).
    pub(crate) fn statuses_of(&self, sha: &str) -> Vec<SimStatus> {
        let all = self.statuses.lock().map(|s| s.clone()).unwrap_or_default();
        all.into_iter().rev().filter(|s| s.sha == sha).collect()
    }

    /// The latest status of each context reported for commit `sha`, in
    /// the order the contexts first reported.
    pub(crate) fn latest_statuses(&self, sha: &str) -> Vec<SimStatus> {
        let mut latest: Vec<SimStatus> = Vec::new();
        for status in self.statuses_of(sha).into_iter().rev() {
            match latest.iter_mut().find(|s| s.context == status.context) {
                Some(slot) => *slot = status,
                None => latest.push(status),
            }
        }
        latest
    }

    /// Applies `change` to stored merge request `iid` under the store lock
    /// and returns what it returns; `None` when there is no such MR.
    pub(crate) async fn modify<T>(
        &self,
        iid: u64,
        change: impl FnOnce(&mut SimMergeRequest) -> T,
    ) -> Option<T> {
        let mut store = self.store.lock().await;
        store.iter_mut().find(|m| m.iid == iid).map(change)
    }

    /// The stored merge requests commit `sha` relates to
    /// ([`SimMergeRequest::relates_to_commit`]), newest first.
    pub(crate) async fn related_to_commit(&self, sha: &str) -> Vec<SimMergeRequest> {
        let all = self.store.lock().await.clone();
        let mut out = Vec::new();
        for mr in all.into_iter().rev() {
            let live = match mr.state {
                SimMrState::Opened => self.repo.head(&mr.source_branch).await.ok().flatten(),
                _ => None,
            };
            if mr.relates_to_commit(sha, live.as_deref()) {
                out.push(mr);
            }
        }
        out
    }

    /// Adds a note with `body` to merge request `iid`, stamped with `now`;
    /// returns the note and the MR as it now is.
    pub(crate) async fn add_note(
        &self,
        iid: u64,
        body: String,
        now: String,
    ) -> Option<(SimNote, SimMergeRequest)> {
        let note = SimNote {
            id: self.note_id(),
            body,
            created_at: now,
        };
        self.modify(iid, |m| {
            m.notes.push(note.clone());
            (note, m.clone())
        })
        .await
    }
}

/// Middleware: log every request's method and raw URI.
pub(crate) async fn record(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let uri = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    if let Ok(mut seen) = shared.seen.lock() {
        seen.push(SeenRequest {
            method: request.method().to_string(),
            uri,
        });
    }
    next.run(request).await
}

/// A running simulator. Dropping it (or [`SimHandle::shutdown`]) stops it.
#[derive(Debug)]
pub struct SimHandle {
    api_url: String,
    shared: Arc<Shared>,
    server: Server,
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The API root a client is configured with (`…/api/v4` for GitLab).
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// A snapshot of the stored merge requests.
    pub async fn merge_requests(&self) -> Vec<SimMergeRequest> {
        self.shared.store.lock().await.clone()
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) -> Result<(), SimError> {
        self.server
            .shutdown()
            .await
            .map_err(|source| SimError::Serve { source })
    }
}

/// Binds `127.0.0.1:0` and returns the listener and its base URL.
pub(crate) async fn bind_loopback() -> Result<(TcpListener, String), SimError> {
    let (listener, addr) = server::bind_loopback()
        .await
        .map_err(|source| SimError::Bind {
            addr: server::LOOPBACK.into(),
            source,
        })?;
    Ok((listener, format!("http://{addr}")))
}

/// Runs `router` on `listener` in a task and wraps it in a handle.
pub(crate) fn start(
    listener: TcpListener,
    router: axum::Router,
    shared: Arc<Shared>,
    api_url: String,
) -> Result<SimHandle, SimError> {
    let server = Server::start(listener, router, "forge").map_err(|source| SimError::Bind {
        addr: api_url.clone(),
        source,
    })?;
    Ok(SimHandle {
        api_url,
        shared,
        server,
    })
}

/// The base URL a listener is reachable at.
pub(crate) fn listener_url(listener: &TcpListener) -> Result<String, SimError> {
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: "listener".into(),
        source,
    })?;
    Ok(format!("http://{addr}"))
}
