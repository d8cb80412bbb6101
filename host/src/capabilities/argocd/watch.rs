//! `watch(app)`: a stream of [`AppStatus`] observations for one application.
//! It reads the current state first (a plain GET, which also surfaces 401/403
//! at once), then follows the watch stream, reconnecting with backoff when it
//! breaks, and falls back to polling when streaming is unavailable. It runs in
//! a background task so that receiving is cancel-safe.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::backend::{AppRef, ArgoCdClient};
use super::error::RequestError;
use super::model::AppStatus;
use super::stream::{EventType, WatchStream};

/// A source of status observations for one application (implemented by
/// [`AppWatch`]; tests and replays implement it too).
pub trait StatusSource {
    /// The next observation. `None` when the source has ended. Must be
    /// cancel-safe: the gate drops it to print progress or to time out.
    fn next_status(
        &mut self,
    ) -> impl Future<Output = Option<Result<AppStatus, RequestError>>> + Send;
}

/// A running watch; dropping it stops the background task.
#[derive(Debug)]
pub struct AppWatch {
    rx: mpsc::Receiver<Result<AppStatus, RequestError>>,
    task: JoinHandle<()>,
}

impl Drop for AppWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StatusSource for AppWatch {
    async fn next_status(&mut self) -> Option<Result<AppStatus, RequestError>> {
        self.rx.recv().await
    }
}

impl ArgoCdClient {
    /// Starts watching `app`. After a fatal error (401, 403, 404, a
    /// non-transient stream error) the error is delivered and the watch ends.
    pub fn watch(&self, app: AppRef) -> AppWatch {
        let (tx, rx) = mpsc::channel(16);
        let watcher = Watcher {
            client: self.clone(),
            app,
            tx,
        };
        AppWatch {
            rx,
            task: tokio::spawn(watcher.run()),
        }
    }
}

struct Watcher {
    client: ArgoCdClient,
    app: AppRef,
    tx: mpsc::Sender<Result<AppStatus, RequestError>>,
}

impl Watcher {
    async fn run(self) {
        match self.client.get_application(&self.app, false).await {
            Ok(status) => {
                if self.tx.send(Ok(status)).await.is_err() {
                    return;
                }
            }
            Err(e) if e.is_transient() => {
                tracing::debug!(app = %self.app.name, error = %e, "initial read failed; watching anyway");
            }
            Err(e) => {
                let _ = self.tx.send(Err(e)).await;
                return;
            }
        }
        if let Err(e) = self.stream_until_unavailable().await {
            let _ = self.tx.send(Err(e)).await;
            return;
        }
        if self.tx.is_closed() {
            return;
        }
        tracing::info!(app = %self.app.name, "watch stream unavailable; polling every {:?}", self.client.config().poll_interval);
        if let Err(e) = self.poll().await {
            let _ = self.tx.send(Err(e)).await;
        }
    }

    /// Follows the stream. Returns `Ok` when streaming should give way to
    /// polling (or the receiver is gone), `Err` on a fatal error.
    async fn stream_until_unavailable(&self) -> Result<(), RequestError> {
        let config = self.client.config();
        let mut failures: u32 = 0;
        while !self.tx.is_closed() {
            if failures >= config.stream_failures_before_polling {
                return Ok(());
            }
            if failures > 0 {
                tokio::time::sleep(config.retry_policy().delay(failures)).await;
            }
            let mut stream = match self.client.open_watch(&self.app).await {
                Ok(s) => s,
                Err(RequestError::Status {
                    status: 404 | 405 | 501,
                    ..
                }) => return Ok(()),
                Err(e) if e.is_transient() => {
                    tracing::debug!(app = %self.app.name, error = %e, "cannot open watch stream");
                    failures += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match self.pump(&mut stream).await {
                Ok(delivered) => {
                    tracing::debug!(app = %self.app.name, "watch stream closed by server; reconnecting");
                    failures = if delivered { 1 } else { failures + 1 };
                }
                Err(e) if e.is_transient() => {
                    tracing::debug!(app = %self.app.name, error = %e, "watch stream broke; reconnecting");
                    failures = failures.max(1);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Forwards events until the stream ends; `Ok(true)` if any arrived.
    async fn pump(&self, stream: &mut WatchStream) -> Result<bool, RequestError> {
        let mut delivered = false;
        while let Some(ev) = stream.next_event().await? {
            if matches!(ev.kind, EventType::Added | EventType::Modified)
                && ev.status.name == self.app.name
            {
                delivered = true;
                if self.tx.send(Ok(ev.status)).await.is_err() {
                    break;
                }
            }
        }
        Ok(delivered)
    }

    async fn poll(&self) -> Result<(), RequestError> {
        let interval = self
            .client
            .config()
            .poll_interval
            .max(Duration::from_millis(10));
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match self.client.get_application(&self.app, false).await {
                Ok(status) => {
                    if self.tx.send(Ok(status)).await.is_err() {
                        return Ok(());
                    }
                }
                Err(e) if e.is_transient() => {
                    tracing::debug!(app = %self.app.name, error = %e, "poll failed; trying again");
                }
                Err(e) => return Err(e),
            }
        }
    }
}
