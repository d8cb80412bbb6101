//! The process around a command: the async runtime commands run on, and
//! the signals that cancel a run.

use tokio::sync::watch;

use super::error::CommandError;

/// A multi-threaded runtime: decide calls block their worker (the policy
/// drives async clients through the handle), so one thread is not enough.
pub fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CommandError::external(format!("cannot start the async runtime: {e}")))
}

/// Runs `command` on a worker thread of a fresh runtime (decide calls and
/// git work use `block_in_place`, which needs one) and returns its result.
pub fn block_on<F>(what: &'static str, command: F) -> Result<(), CommandError>
where
    F: Future<Output = Result<(), CommandError>> + Send + 'static,
{
    let rt = runtime()?;
    rt.block_on(async move {
        tokio::spawn(command)
            .await
            .map_err(|e| CommandError::external(format!("{what} panicked: {e}")))?
    })
}

/// A receiver that flips to `true` on SIGTERM or Ctrl-C.
pub fn cancel_on_signals() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            () = terminated() => {}
            r = tokio::signal::ctrl_c() => {
                if r.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
        tracing::warn!("cancelling: the audit record will be written, then baton exits");
        // Every wait of the run ends now: requests, retries, git processes.
        crate::retry::cancel();
        let _ = tx.send(true);
    });
    rx
}

/// Resolves on SIGTERM (never elsewhere).
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await;
}
