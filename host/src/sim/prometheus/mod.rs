//! The Prometheus simulator: a real HTTP server (axum) on loopback that
//! serves `/api/v1/query` and `/api/v1/query_range` (GET and POST form)
//! with the real server's shapes (vector, scalar, matrix; values as
//! strings, `"NaN"` and `"+Inf"` included), status codes and error
//! envelopes, answering each query from a scripted timeline keyed by its
//! PromQL text. It does not evaluate PromQL: it is for trying policies
//! locally (`baton sim prometheus`) and for `baton demo --metrics`; the
//! tests also run the real Prometheus.
//!
//! Start it in-process with [`spawn`] (the handle can change answers and
//! inject faults while it runs), or serve a listener with [`serve`].

mod routes;
pub mod script;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tokio::net::TcpListener;

pub use script::{ErrorType, ScriptedAnswer, SimAnswer, SimLabels};

use super::server::{self, Server};

/// What the simulator serves, as `baton sim prometheus --script FILE`
/// reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromSimConfig {
    /// Answers by PromQL text (compared after trimming whitespace).
    #[serde(default)]
    pub queries: BTreeMap<String, Vec<ScriptedAnswer>>,
    /// What a query without a script answers.
    #[serde(default)]
    pub unscripted: Unscripted,
    /// Bearer token every query must carry; none when absent.
    #[serde(default)]
    pub token: Option<String>,
}

/// What a query without a script answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unscripted {
    /// `bad_data`, naming the scripted queries, so a typo in a policy's
    /// template shows at once.
    #[default]
    Error,
    /// An empty vector, as Prometheus answers a selector that matches
    /// nothing.
    Empty,
}

/// Starting or running the simulator failed.
#[derive(Debug, thiserror::Error)]
pub enum PromSimError {
    /// A scripted answer is not exactly one kind.
    #[error("invalid script: {0}")]
    Script(String),
    /// Binding or serving the listener failed.
    #[error("Prometheus simulator listener on {addr}")]
    Io {
        /// Listen address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The state every request reads.
pub(crate) struct Shared {
    timelines: Mutex<BTreeMap<String, Vec<(i64, SimAnswer)>>>,
    unscripted: Unscripted,
    token: Option<String>,
    fail_next: AtomicU32,
    queries: AtomicU64,
}

impl Shared {
    fn timelines(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<(i64, SimAnswer)>>> {
        self.timelines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Milliseconds since the Unix epoch now.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn build(config: PromSimConfig) -> Result<Arc<Shared>, PromSimError> {
    let start = now_ms();
    let mut timelines = BTreeMap::new();
    for (query, script) in &config.queries {
        let mut timeline = Vec::with_capacity(script.len());
        for (i, answer) in script.iter().enumerate() {
            let resolved = answer
                .answer(&format!("queries.{query:?}[{i}]"))
                .map_err(PromSimError::Script)?;
            let from = answer.at.map_or(i64::MIN, |at| start.saturating_add(at.0));
            timeline.push((from, resolved));
        }
        timeline.sort_by_key(|(at, _)| *at);
        timelines.insert(query.trim().to_owned(), timeline);
    }
    Ok(Arc::new(Shared {
        timelines: Mutex::new(timelines),
        unscripted: config.unscripted,
        token: config.token,
        fail_next: AtomicU32::new(0),
        queries: AtomicU64::new(0),
    }))
}

/// A running in-process simulator; shuts down on drop.
pub struct PromSimHandle {
    shared: Arc<Shared>,
    server: Server,
}

impl std::fmt::Debug for PromSimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromSimHandle")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl PromSimHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// From now on, `query` answers `answer`.
    pub fn set(&self, query: &str, answer: SimAnswer) {
        self.shared
            .timelines()
            .entry(query.trim().to_owned())
            .or_default()
            .push((now_ms(), answer));
    }

    /// The next `n` requests answer 503 with a proxy's plain-text body.
    pub fn fail_next(&self, n: u32) {
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }

    /// Query requests served so far (instant and range, faults included).
    pub fn queries(&self) -> u64 {
        self.shared.queries.load(Ordering::SeqCst)
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        // A failed server was logged by its task.
        let _ = self.server.shutdown().await;
    }
}

/// Starts the simulator on `127.0.0.1:0`.
pub async fn spawn(config: PromSimConfig) -> Result<PromSimHandle, PromSimError> {
    let shared = build(config)?;
    let io = |source| PromSimError::Io {
        addr: server::LOOPBACK.into(),
        source,
    };
    let (listener, _) = server::bind_loopback().await.map_err(io)?;
    let server =
        Server::start(listener, routes::router(shared.clone()), "Prometheus").map_err(io)?;
    Ok(PromSimHandle { shared, server })
}

/// Serves `listener` until the process ends (`baton sim prometheus`).
pub async fn serve(config: PromSimConfig, listener: TcpListener) -> Result<(), PromSimError> {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    let shared = build(config)?;
    axum::serve(listener, routes::router(shared))
        .await
        .map_err(|source| PromSimError::Io { addr, source })
}
