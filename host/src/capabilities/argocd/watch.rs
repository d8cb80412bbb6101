//! `watch(app)`: a stream of [`AppStatus`] observations for one application.
//! It reads the current state first (a plain GET, which also surfaces 401/403
//! at once), then follows the watch stream, reconnecting with backoff when it
//! breaks, and falls back to polling when streaming is unavailable. It runs in
//! a background task so that receiving is cancel-safe. [`MergedWatch`]
//! follows several applications as one source (the targets of a stage).

use std::task::Poll;
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

/// Several watches as one [`StatusSource`]: the next observation of
/// whichever application reports first (each status names its
/// application). The source ends when any watch ends, as a gate cannot pass
/// without every application.
#[derive(Debug)]
pub struct MergedWatch {
    watches: Vec<AppWatch>,
    /// Where the next poll starts, so a busy application cannot starve the
    /// others.
    next: usize,
}

impl MergedWatch {
    /// Follows every watch of `watches`.
    pub fn new(watches: Vec<AppWatch>) -> Self {
        Self { watches, next: 0 }
    }
}

impl StatusSource for MergedWatch {
    async fn next_status(&mut self) -> Option<Result<AppStatus, RequestError>> {
        // Receiving from an mpsc channel is cancel-safe, and so is polling
        // several of them: nothing is taken from a channel that is not
        // returned.
        std::future::poll_fn(|cx| {
            let count = self.watches.len();
            if count == 0 {
                return Poll::Ready(None);
            }
            for k in 0..count {
                let i = (self.next + k) % count;
                match self.watches[i].rx.poll_recv(cx) {
                    Poll::Ready(Some(item)) => {
                        self.next = (i + 1) % count;
                        return Poll::Ready(Some(item));
                    }
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => {}
                }
            }
            Poll::Pending
        })
        .await
    }
}

impl ArgoCdClient {
    /// Starts watching every application of `apps` as one source.
    pub fn watch_all<'a>(&self, apps: impl IntoIterator<Item = &'a str>) -> MergedWatch {
        MergedWatch::new(
            apps.into_iter()
                .map(|app| self.watch(AppRef::named(app)))
                .collect(),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::argocd::{Health, HealthStatus, SyncState, SyncStatus};

    fn status(name: &str) -> AppStatus {
        AppStatus {
            name: name.into(),
            namespace: None,
            project: None,
            health: Health {
                status: HealthStatus::Healthy,
                message: None,
            },
            sync: SyncState {
                status: SyncStatus::Synced,
                revision: Some("c0ffee".into()),
                revisions: Vec::new(),
            },
            operation: None,
            reconciled_at: None,
            resources: Vec::new(),
            history: Vec::new(),
        }
    }

    /// A watch fed by the returned sender.
    fn scripted() -> (mpsc::Sender<Result<AppStatus, RequestError>>, AppWatch) {
        let (tx, rx) = mpsc::channel(8);
        let watch = AppWatch {
            rx,
            task: tokio::spawn(async {}),
        };
        (tx, watch)
    }

    #[tokio::test]
    async fn a_merged_watch_takes_turns_and_ends_with_any_watch() {
        let (eu, eu_watch) = scripted();
        let (us, us_watch) = scripted();
        let mut merged = MergedWatch::new(vec![eu_watch, us_watch]);
        for name in ["eu-1", "eu-2"] {
            eu.send(Ok(status(name))).await.expect("sent");
        }
        us.send(Ok(status("us-1"))).await.expect("sent");
        let mut names = Vec::new();
        for _ in 0..3 {
            let next = merged
                .next_status()
                .await
                .expect("an item")
                .expect("a status");
            names.push(next.name);
        }
        // eu reports twice in a row, yet us is not left waiting.
        assert_eq!(names, ["eu-1", "us-1", "eu-2"]);
        drop(us);
        assert!(merged.next_status().await.is_none(), "us's watch ended");
    }
}
