//! The Argo CD simulator: a real HTTP server (axum) on loopback that serves
//! the endpoints Baton uses with the real server's shapes, status codes and
//! stream semantics, driven by a git repository. Each configured application
//! follows one file of the tracked branch; a new commit makes it OutOfSync,
//! then an automated sync runs (operation `Running`, health `Progressing`),
//! then it is `Synced` at the commit and `Healthy`, `Degraded` (versions
//! matching a rule) or follows a scripted health sequence.
//!
//! Start it in-process with [`spawn`], or serve a listener with [`serve`]
//! (`baton sim argocd`).

mod app;
mod auth;
pub mod config;
mod controller;
pub mod faults;
mod list;
mod render;
pub mod repo;
mod routes;
mod state;
mod tree;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use regex::Regex;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::{FaultConfig, HealthStep, SimApp, SimConfig, WorkloadKind};
pub use faults::Faults;
pub use repo::{VersionReadError, VersionReader, YamlPathReader};

use super::server::{self, Server};
use app::AppState;
use state::Shared;

/// Starting or running the simulator failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A `degrade_versions` rule is not a valid regex.
    #[error("application `{app}`: invalid degrade_versions pattern `{pattern}`")]
    Pattern {
        /// Application name.
        app: String,
        /// The pattern.
        pattern: String,
        /// The regex error.
        #[source]
        source: regex::Error,
    },
    /// Two applications share a name.
    #[error("application `{app}` is configured twice")]
    DuplicateApp {
        /// Application name.
        app: String,
    },
    /// Binding or serving the listener failed.
    #[error("simulator listener on {addr}")]
    Io {
        /// Listen address (or `127.0.0.1:0`).
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A running in-process simulator; shuts down on drop.
pub struct SimHandle {
    shared: Arc<Shared>,
    server: Server,
    controller: JoinHandle<()>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
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

    /// Live fault switches.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// How many watch streams were opened so far.
    pub fn stream_connections(&self) -> u64 {
        self.shared.stream_connections.load(Ordering::SeqCst)
    }

    /// Closes every open watch stream now.
    pub fn drop_streams(&self) {
        self.shared.kill_streams.send_modify(|n| *n += 1);
    }

    /// Checks the branch now instead of at the next poll.
    pub async fn refresh(&self) {
        controller::check_repo(&self.shared).await;
    }

    /// The `Application` JSON of `app`, as the GET endpoint serves it.
    pub fn application(&self, app: &str) -> Option<serde_json::Value> {
        self.shared
            .lock_apps()
            .iter()
            .find(|a| a.cfg.name == app)
            .map(AppState::to_json)
    }

    /// When `app` last turned `Healthy` (`None` while it is not).
    pub fn healthy_since(&self, app: &str) -> Option<Instant> {
        self.shared
            .lock_apps()
            .iter()
            .find(|a| a.cfg.name == app)
            .and_then(|a| a.healthy_since)
    }

    /// Stops the server and the controller.
    pub async fn shutdown(mut self) {
        self.server.stop();
        self.drop_streams();
        self.controller.abort();
        // A failed server was logged by its task.
        let _ = self.server.shutdown().await;
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.controller.abort();
        self.server.abort();
    }
}

/// Starts the simulator on `127.0.0.1:0` with the default version reader.
pub async fn spawn(config: SimConfig) -> Result<SimHandle, SimError> {
    spawn_with_reader(config, Arc::new(YamlPathReader)).await
}

/// Starts the simulator on `127.0.0.1:0` with a custom version reader.
pub async fn spawn_with_reader(
    config: SimConfig,
    reader: Arc<dyn VersionReader>,
) -> Result<SimHandle, SimError> {
    let io = |source| SimError::Io {
        addr: server::LOOPBACK.into(),
        source,
    };
    let (listener, _) = server::bind_loopback().await.map_err(io)?;
    let shared = build(config, reader)?;
    controller::check_repo(&shared).await;
    let controller = tokio::spawn(controller::run(shared.clone()));
    let server = Server::start(listener, routes::router(shared.clone()), "Argo CD").map_err(io)?;
    Ok(SimHandle {
        shared,
        server,
        controller,
    })
}

/// Serves the simulator on `listener` until the process ends (for `baton sim argocd`).
pub async fn serve(config: SimConfig, listener: TcpListener) -> Result<(), SimError> {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    let shared = build(config, Arc::new(YamlPathReader))?;
    controller::check_repo(&shared).await;
    let controller = tokio::spawn(controller::run(shared.clone()));
    let result = axum::serve(listener, routes::router(shared)).await;
    controller.abort();
    result.map_err(|source| SimError::Io { addr, source })
}

fn build(config: SimConfig, reader: Arc<dyn VersionReader>) -> Result<Arc<Shared>, SimError> {
    let repo_url = format!("file://{}", config.repo.display());
    let mut apps: Vec<AppState> = Vec::with_capacity(config.apps.len());
    for (i, cfg) in config.apps.iter().enumerate() {
        if apps.iter().any(|a| a.cfg.name == cfg.name) {
            return Err(SimError::DuplicateApp {
                app: cfg.name.clone(),
            });
        }
        let degrade = cfg
            .degrade_versions
            .as_deref()
            .map(|p| {
                Regex::new(p).map_err(|source| SimError::Pattern {
                    app: cfg.name.clone(),
                    pattern: p.to_owned(),
                    source,
                })
            })
            .transpose()?;
        apps.push(AppState::new(
            cfg.clone(),
            degrade,
            repo_url.clone(),
            config.branch.clone(),
            config.namespace.clone(),
            i,
        ));
    }
    Ok(Arc::new(Shared {
        faults: Faults::from_config(&config.faults),
        reads: crate::sim::reads::Reads::open(&config.repo),
        config,
        apps: Mutex::new(apps),
        reader,
        changes: watch::channel(0).0,
        kill_streams: watch::channel(0).0,
        kick: Notify::new(),
        last_head: tokio::sync::Mutex::new(None),
        started: AtomicBool::new(false),
        stream_connections: AtomicU64::new(0),
    }))
}
