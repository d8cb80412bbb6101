//! A smart-HTTP git server on loopback, backed by the real `git http-backend`
//! CGI, with an optional required bearer token. The tests and `baton demo`
//! serve env repos with it: every bare repository under `root` is at
//! `<base_url>/<path relative to root>`, fetchable and pushable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::server::{self, Server};
use crate::secret::Secret;

/// Largest request body accepted (a push pack).
const MAX_BODY: usize = 512 * 1024 * 1024;

/// What the server serves and whom it lets in.
#[derive(Debug, Clone)]
pub struct GitHttpConfig {
    /// Directory holding the bare repositories (`GIT_PROJECT_ROOT`).
    pub root: PathBuf,
    /// When set, every request needs `Authorization: Bearer <token>`;
    /// others get 401.
    pub token: Option<Secret>,
}

/// A running server; stops when dropped or on [`GitHttpHandle::shutdown`].
#[derive(Debug)]
pub struct GitHttpHandle {
    server: Server,
}

impl GitHttpHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:<port>`, without trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Stops accepting connections.
    pub fn shutdown(mut self) {
        self.server.stop();
    }
}

/// Binds `127.0.0.1:0` and serves `config` on the current tokio runtime.
pub async fn spawn(config: GitHttpConfig) -> std::io::Result<GitHttpHandle> {
    let (listener, _) = server::bind_loopback().await?;
    let server = Server::start(listener, router(config), "git smart-HTTP")?;
    Ok(GitHttpHandle { server })
}

/// Serves `config` on `listener` until the future is dropped (for a CLI).
pub async fn serve(config: GitHttpConfig, listener: TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(config)).await
}

fn router(config: GitHttpConfig) -> Router {
    Router::new().fallback(handle).with_state(Arc::new(config))
}

async fn handle(State(config): State<Arc<GitHttpConfig>>, request: Request) -> Response {
    if let Some(token) = &config.token {
        let expected = format!("Bearer {}", token.expose());
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"baton\"")],
                "authentication required\n",
            )
                .into_response();
        }
    }
    match run_backend(&config, request).await {
        Ok(response) => response,
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("git http-backend: {err}\n"),
        )
            .into_response(),
    }
}

/// Runs one CGI request through `git http-backend`.
async fn run_backend(config: &GitHttpConfig, request: Request) -> std::io::Result<Response> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(std::io::Error::other)?;
    let header = |name: HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &config.root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_COUNT", "2")
        .env("GIT_CONFIG_KEY_0", "http.receivepack")
        .env("GIT_CONFIG_VALUE_0", "true")
        .env("GIT_CONFIG_KEY_1", "uploadpack.allowFilter")
        .env("GIT_CONFIG_VALUE_1", "true")
        .env("GIT_PROJECT_ROOT", &config.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", "baton")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or(""))
        .env("CONTENT_TYPE", header(header::CONTENT_TYPE))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header(header::CONTENT_ENCODING))
        .env(
            "GIT_PROTOCOL",
            header(HeaderName::from_static("git-protocol")),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin"))?;
    let writer = tokio::spawn(async move {
        // The backend may exit early (e.g. on a bad request) and close stdin.
        let _ = stdin.write_all(&body).await;
    });
    let output = child.wait_with_output().await?;
    let _ = writer.await;
    if !output.stderr.is_empty() {
        tracing::debug!(stderr = %String::from_utf8_lossy(&output.stderr), "git http-backend");
    }
    Ok(cgi_response(&output.stdout))
}

/// Splits CGI output into status, headers and body.
fn cgi_response(out: &[u8]) -> Response {
    let (head, body) = match find_header_end(out) {
        Some((end, skip)) => (&out[..end], &out[end + skip..]),
        None => (&out[..0], out),
    };
    let mut status = StatusCode::OK;
    let mut headers = HeaderMap::new();
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            if let Some(code) = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok())
            {
                status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            }
        } else if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.trim()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    let mut response = Response::new(Body::from(body.to_vec()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn find_header_end(out: &[u8]) -> Option<(usize, usize)> {
    let crlf = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4));
    let lf = out.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}
