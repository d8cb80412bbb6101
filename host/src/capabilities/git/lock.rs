//! The cache lock: many Baton processes (CI jobs side by side on one
//! runner) share one cache root, so every fetch, deepen and write (fetch to
//! push) of a cached repo runs under one advisory lock per repo.
//!
//! - It is an OS file lock on `<cache dir>/baton.lock` (`flock` on Unix,
//!   waited for through [`crate::flock`]):
//!   the kernel releases it when its holder dies, so a run killed with
//!   SIGKILL never blocks later runs, and no lock file is ever "stale".
//! - The git processes started under it inherit it: a `git fetch` that
//!   outlives a killed Baton keeps the cache locked until it ends, so no
//!   two git processes ever touch one cache's `shallow` file or refs.
//! - Whoever takes it removes the lock files a killed git left behind
//!   (`shallow.lock`, `packed-refs.lock`, `refs/**/*.lock`): under the lock,
//!   nothing else can be writing them.
//! - Creating merge-request branches (a push that changes nothing in the
//!   cache) takes locks of its own, `<cache dir>/baton-requests-<n>.lock`,
//!   so those pushes take turns among themselves (two at a time), not with
//!   fetches and pushes to the tracked branch ([`acquire_requests`]).
//! - A waiting process says so after a second ([`LockWait::progress`]) and
//!   gives up with [`LockError::Timeout`], naming the cache directory,
//!   after [`LockWait::limit`] or at the deadline, whichever comes first.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::flock::{Notes, Waited, lock_until};
use crate::retry::Deadline;

/// The lock file's name in the cache directory.
const LOCK_FILE: &str = "baton.lock";

/// The lock files of the cache's merge-request pushes, one per push that
/// may run at once.
const REQUESTS_LOCK_PREFIX: &str = "baton-requests";

/// How many pushes of merge-request branches run at once through one
/// cache: each carries the requests offered while the other runs.
pub(crate) const REQUEST_SLOTS: usize = 2;

/// How long a process waits for the lock by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(300);

/// When a waiting process first says it is waiting, and how often after.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// Lock files git (and gix) create next to what they change; any found
/// while holding the cache lock were left by a killed process.
const GIT_LOCK_FILES: &[&str] = &[
    "shallow.lock",
    "packed-refs.lock",
    "HEAD.lock",
    "config.lock",
    "index.lock",
    "FETCH_HEAD.lock",
];

/// Where "waiting for the cache lock" lines go.
#[derive(Clone)]
pub struct LockProgress(Arc<dyn Fn(&str) + Send + Sync>);

impl LockProgress {
    /// Lines go to `f`.
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }
}

impl std::fmt::Debug for LockProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockProgress")
    }
}

/// How long to wait for the lock and whom to tell.
#[derive(Debug, Clone)]
pub(crate) struct LockWait {
    /// The longest wait.
    pub limit: Duration,
    /// No wait goes past it either.
    pub deadline: Deadline,
    /// Told after a second of waiting, then every half minute.
    pub progress: Option<LockProgress>,
}

impl LockWait {
    /// When a wait that starts at `started` gives up: after the longest
    /// wait, or at the deadline, whichever comes first.
    pub(crate) fn end(&self, started: Instant) -> Instant {
        match self.deadline.instant() {
            Some(deadline) => deadline.min(started + self.limit),
            None => started + self.limit,
        }
    }
}

/// The cache lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process held it for the whole wait.
    #[error(
        "the env repo cache {} is in use by another baton process; gave up after waiting {}s \
         (--cache-wait)",
        .dir.display(),
        .waited.as_secs()
    )]
    Timeout {
        /// The cache directory.
        dir: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock the env repo cache {} through {}", .dir.display(), .path.display())]
    Io {
        /// The cache directory.
        dir: PathBuf,
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The lock of one cached repo, held until dropped.
#[derive(Debug)]
pub(crate) struct CacheLock {
    _file: File,
}

/// The lock file of the cache directory `git_dir`, inside it (git ignores
/// files it does not know in a repository directory).
pub fn lock_path(git_dir: &Path) -> PathBuf {
    git_dir.join(LOCK_FILE)
}

/// Takes the lock of the cache at `git_dir`, waiting as `wait` allows, and
/// clears what killed git processes left behind.
pub(crate) fn acquire(git_dir: &Path, wait: &LockWait) -> Result<CacheLock, LockError> {
    let path = lock_path(git_dir);
    let file = take(git_dir, &path, wait)?;
    inherit(&file, &path);
    remove_stale_git_locks(git_dir);
    Ok(CacheLock { _file: file })
}

/// Takes one of the locks of the cache's merge-request pushes
/// (`<cache dir>/baton-requests-<n>.lock`): a free one if there is one,
/// else it waits for one as `wait` allows. Its holder creates
/// merge-request branches, which touches nothing git locks in the cache;
/// one that fetches takes the cache lock too, after it.
pub(crate) fn acquire_requests(git_dir: &Path, wait: &LockWait) -> Result<CacheLock, LockError> {
    let slot = |n: usize| git_dir.join(format!("{REQUESTS_LOCK_PREFIX}-{n}.lock"));
    for n in 0..REQUEST_SLOTS {
        let free = open_lock_file(&slot(n))
            .and_then(|file| file.try_lock().map(|()| file).map_err(std::io::Error::from));
        if let Ok(file) = free {
            return Ok(CacheLock { _file: file });
        }
    }
    let file = take(git_dir, &slot(fastrand::usize(..REQUEST_SLOTS)), wait)?;
    Ok(CacheLock { _file: file })
}

/// Opens (creating) the lock file at `path`, its contents untouched.
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Takes the lock on the file at `path` in the cache at `git_dir`.
fn take(git_dir: &Path, path: &Path, wait: &LockWait) -> Result<File, LockError> {
    let path = path.to_owned();
    let io = |source| LockError::Io {
        dir: git_dir.to_owned(),
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let file = open_lock_file(&path).map_err(io)?;
    let started = Instant::now();
    let end = wait.end(started);
    let say = |waited: Duration| {
        if let Some(progress) = &wait.progress {
            (progress.0)(&format!(
                "waiting for the env repo cache {} (another baton process is using it; \
                 waited {}s of at most {}s)",
                git_dir.display(),
                waited.as_secs(),
                (end - started).as_secs()
            ));
        }
    };
    let notes = Notes {
        first: PROGRESS_AFTER,
        every: PROGRESS_EVERY,
        say: &say,
    };
    lock_until(file, started, end, Some(notes)).map_err(|failed| match failed {
        Waited::Out(waited) => LockError::Timeout {
            dir: git_dir.to_owned(),
            waited,
        },
        Waited::Failed(e) => io(e),
    })
}

/// Lets the git processes started while the lock is held inherit it, so a
/// git that outlives a killed Baton keeps the cache locked until it ends.
#[cfg(unix)]
fn inherit(file: &File, path: &Path) {
    if let Err(err) = rustix::io::fcntl_setfd(file, rustix::io::FdFlags::empty()) {
        tracing::debug!(%err, path = %path.display(), "cache lock stays private to this process");
    }
}

#[cfg(not(unix))]
fn inherit(_file: &File, _path: &Path) {}

/// Removes the lock files a killed git or gix left in `git_dir`.
fn remove_stale_git_locks(git_dir: &Path) {
    for name in GIT_LOCK_FILES {
        remove_stale(&git_dir.join(name));
    }
    remove_stale_under(&git_dir.join("refs"));
}

fn remove_stale_under(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => remove_stale_under(&path),
            Ok(_) if path.extension().is_some_and(|e| e == "lock") => remove_stale(&path),
            _ => {}
        }
    }
}

fn remove_stale(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(path = %path.display(), "removed a lock file a killed git left"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => tracing::warn!(%err, path = %path.display(), "cannot remove a stale lock file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(limit: Duration) -> LockWait {
        LockWait {
            limit,
            deadline: Deadline::NONE,
            progress: None,
        }
    }

    #[test]
    fn a_held_lock_times_out_naming_the_cache_and_a_released_one_is_taken() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("repo-abc");
        let held = acquire(&dir, &wait(Duration::from_secs(1))).expect("first taker");
        let err = acquire(&dir, &wait(Duration::from_millis(50))).expect_err("held");
        assert!(matches!(err, LockError::Timeout { .. }), "{err}");
        assert!(
            err.to_string().contains(&dir.display().to_string()),
            "{err}"
        );
        drop(held);
        // The thread the timed-out wait left behind may take the lock for
        // a moment before letting go of it.
        acquire(&dir, &wait(Duration::from_secs(30))).expect("released");
    }

    #[test]
    fn a_waiter_takes_the_lock_its_holder_lets_go_of() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("repo");
        let held = acquire(&dir, &wait(Duration::from_secs(1))).expect("first taker");
        let said = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let heard = said.clone();
        let waiting = LockWait {
            limit: Duration::from_secs(60),
            deadline: Deadline::NONE,
            progress: Some(LockProgress::new(move |line| {
                heard.lock().expect("lines").push(line.to_owned());
            })),
        };
        let waiter = {
            let dir = dir.clone();
            std::thread::spawn(move || acquire(&dir, &waiting).map(|_| ()))
        };
        // Held past the first progress line, then let go.
        while said.lock().expect("lines").is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(held);
        waiter.join().expect("waiter").expect("taken once let go");
        let lines = said.lock().expect("lines");
        assert!(
            lines[0].contains(&dir.display().to_string()) && lines[0].contains("waiting"),
            "{lines:?}"
        );
    }

    #[test]
    fn stale_git_lock_files_are_removed_by_the_next_holder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("repo");
        let refs = dir.join("refs/remotes/origin");
        std::fs::create_dir_all(&refs).expect("refs");
        std::fs::write(dir.join("shallow.lock"), "").expect("write");
        std::fs::write(refs.join("main.lock"), "").expect("write");
        std::fs::write(refs.join("main"), "kept").expect("write");
        let _lock = acquire(&dir, &wait(Duration::from_secs(1))).expect("lock");
        assert!(!dir.join("shallow.lock").exists());
        assert!(!refs.join("main.lock").exists());
        assert!(refs.join("main").exists());
    }
}
