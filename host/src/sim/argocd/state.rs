//! State shared by the HTTP handlers and the controller.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, watch};

use super::app::AppState;
use super::config::SimConfig;
use super::faults::Faults;
use super::repo::VersionReader;

pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) apps: Mutex<Vec<AppState>>,
    pub(crate) reader: Arc<dyn VersionReader>,
    pub(crate) faults: Faults,
    /// Bumped on every change; watch streams wait on it.
    pub(crate) changes: watch::Sender<u64>,
    /// Bumped to close every open watch stream.
    pub(crate) kill_streams: watch::Sender<u64>,
    /// Wakes the controller (new timeline entries).
    pub(crate) kick: Notify,
    /// The repository read in process (each poll reads the branch head);
    /// `None` when gix cannot open it, and git answers.
    pub(crate) reads: Option<crate::sim::reads::Reads>,
    /// The last branch head seen; the lock serialises repository checks.
    pub(crate) last_head: tokio::sync::Mutex<Option<String>>,
    pub(crate) started: AtomicBool,
    pub(crate) stream_connections: AtomicU64,
}

impl Shared {
    pub(crate) fn lock_apps(&self) -> MutexGuard<'_, Vec<AppState>> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.apps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tells watchers and the controller that something changed.
    pub(crate) fn publish(&self) {
        self.changes.send_modify(|n| *n += 1);
        self.kick.notify_one();
    }
}
