//! The running-server half every simulator shares: a listener on
//! `127.0.0.1:0`, an axum router served in a task with graceful shutdown,
//! and the handle that stops it (when told, or when dropped).

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The address every in-process simulator binds: loopback, any free port.
pub(crate) const LOOPBACK: &str = "127.0.0.1:0";

/// Binds [`LOOPBACK`] and returns the listener with its address.
pub(crate) async fn bind_loopback() -> io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(LOOPBACK).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// One router served in a task. Dropping it asks the server to stop
/// (in-flight requests finish); [`Server::shutdown`] also waits for it.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Server {
    /// Serves `router` on `listener` in a task; `name` says which simulator
    /// in the warning a failed server logs.
    pub(crate) fn start(
        listener: TcpListener,
        router: axum::Router,
        name: &'static str,
    ) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let result = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, "{name} simulator stopped");
            }
            result
        });
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks the server to stop accepting connections.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the server and waits until it has; its error, if it failed.
    pub(crate) async fn shutdown(&mut self) -> io::Result<()> {
        self.stop();
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }

    /// Ends the server task at once, open connections (watch streams)
    /// included.
    pub(crate) fn abort(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_until_shut_down() {
        let (listener, addr) = bind_loopback().await.expect("bind");
        let router = axum::Router::new().route("/", axum::routing::get(|| async { "up" }));
        let mut server = Server::start(listener, router, "test").expect("start");
        assert_eq!(server.addr(), addr);
        assert_eq!(server.base_url(), format!("http://{addr}"));
        let answer = reqwest::get(server.base_url())
            .await
            .expect("request")
            .text()
            .await
            .expect("body");
        assert_eq!(answer, "up");
        server.shutdown().await.expect("clean stop");
    }
}
