//! [`SharedRepo`]: the one handle through which a run uses its env repo
//! cache. It owns the two rules every caller used to apply by hand: the
//! repository is used by one caller at a time (a mutex), and its calls,
//! which block on gix and on `git` subprocesses, run inside
//! `tokio::task::block_in_place` so they never stall the async workers.

use std::sync::{Arc, Mutex, PoisonError};

use crate::capabilities::git::EnvRepo;

/// The run's env repo cache, shared by the engine, the live world and the
/// gate.
#[derive(Clone)]
pub struct SharedRepo(Arc<Mutex<EnvRepo>>);

impl SharedRepo {
    /// Wraps an opened cache.
    pub fn new(repo: EnvRepo) -> Self {
        Self(Arc::new(Mutex::new(repo)))
    }

    /// Runs `f` on the repository, holding the lock, inside
    /// `block_in_place` (a no-op outside a multi-threaded runtime's
    /// worker). A lock poisoned by a panicking caller is taken over: the
    /// repository's state lives on disk, and the handle reloads it on the
    /// next fetch.
    pub fn with<T>(&self, f: impl FnOnce(&mut EnvRepo) -> T) -> T {
        tokio::task::block_in_place(|| {
            let mut repo = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut repo)
        })
    }

    /// The tracked branch.
    pub fn branch(&self) -> String {
        self.with(|r| r.branch().to_owned())
    }

    /// The remote URL.
    pub fn url(&self) -> String {
        self.with(|r| r.url().to_owned())
    }
}

impl std::fmt::Debug for SharedRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedRepo")
    }
}
