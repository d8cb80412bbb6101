//! Waiting, with a bound, for an OS file lock (`flock` on Unix, through
//! [`File::lock`]): the env repo cache, the policy compilation cache and an
//! audit directory are each shared by the Baton processes of a runner.
//!
//! A thread blocks in the kernel's lock call, so the lock is taken the
//! moment its holder lets go (polling leaves it idle for up to the polling
//! interval after each release, and twenty jobs queue for one cache many
//! times each). A wait that runs out leaves the thread behind: when it gets
//! the lock, nobody takes it and it lets go at once. The kernel releases
//! the lock of a holder that dies.

use std::fs::{File, TryLockError};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};

/// Why [`lock_until`] came back without the lock.
#[derive(Debug)]
pub(crate) enum Waited {
    /// The wait ran out after this long.
    Out(Duration),
    /// Locking failed.
    Failed(std::io::Error),
}

/// What a waiting process says, and when.
pub(crate) struct Notes<'a> {
    /// The first note, this long after the wait began.
    pub first: Duration,
    /// Then one every this long.
    pub every: Duration,
    /// Told how long the process has waited.
    pub say: &'a dyn Fn(Duration),
}

/// Locks `file`, waiting until `end` at most (the wait began at
/// `started`), with `notes` while it waits.
pub(crate) fn lock_until(
    file: File,
    started: Instant,
    end: Instant,
    notes: Option<Notes<'_>>,
) -> Result<File, Waited> {
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(e)) => return Err(Waited::Failed(e)),
    }
    let (tx, rx) = sync_channel(1);
    std::thread::Builder::new()
        .name("baton-flock".into())
        .spawn(move || {
            let taken = file.lock().map(|()| file);
            // Nobody listening: the wait ran out, and the file (with its
            // lock) is dropped here.
            let _ = tx.send(taken);
        })
        .map_err(Waited::Failed)?;
    let mut next_note = notes.as_ref().map(|n| started + n.first);
    loop {
        let now = Instant::now();
        if now >= end {
            return Err(Waited::Out(now - started));
        }
        if let (Some(at), Some(notes)) = (next_note, &notes)
            && now >= at
        {
            (notes.say)(now - started);
            next_note = Some(now + notes.every);
        }
        let wake = next_note.map_or(end, |at| at.min(end));
        match rx.recv_timeout(wake.saturating_duration_since(now)) {
            Ok(taken) => return taken.map_err(Waited::Failed),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Waited::Failed(std::io::Error::other(
                    "the thread waiting for the lock ended without it",
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path) -> File {
        File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .expect("open")
    }

    #[test]
    fn a_wait_runs_out_and_a_released_lock_is_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lock");
        let now = Instant::now();
        let held = lock_until(open(&path), now, now, None).expect("free");
        let start = Instant::now();
        let out = lock_until(open(&path), start, start + Duration::from_millis(50), None);
        assert!(matches!(out, Err(Waited::Out(_))), "{out:?}");
        drop(held);
        // The thread the timed-out wait left behind may take the lock for
        // a moment before letting go of it.
        let start = Instant::now();
        lock_until(open(&path), start, start + Duration::from_secs(30), None).expect("released");
    }
}
