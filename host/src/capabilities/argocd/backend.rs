//! The real Argo CD client, read-only (Baton never writes to Argo CD):
//! `reqwest` with rustls, TLS verification on unless the config explicitly
//! opts out, a timeout on every request, bounded retries with exponential
//! backoff on 5xx and connection errors ([`crate::retry`], within the
//! configured deadline), and typed errors for the answers Baton must explain
//! (401, 403, 404, 415).

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;

use super::error::{ClientBuildError, RequestError};
use super::model::AppStatus;
use super::stream::WatchStream;
use super::tree::ResourceTree;
use crate::capabilities::http;
use crate::retry::{self, Attempt, Deadline, RetryPolicy};
use crate::secret::Secret;

/// Connection settings for one Argo CD server.
#[derive(Debug, Clone)]
pub struct ArgoCdConfig {
    /// Base URL, e.g. `https://argocd.example.com` (no `/api/v1`).
    pub base_url: String,
    /// Bearer token.
    pub token: Secret,
    /// Name of the environment variable the token was read from, for messages.
    pub token_env: String,
    /// Accept any TLS certificate. Off unless explicitly configured.
    pub insecure_skip_verify: bool,
    /// Timeout for connecting.
    pub connect_timeout: Duration,
    /// Timeout for one unary request (connect to last byte).
    pub request_timeout: Duration,
    /// Retries after the first attempt, for 5xx and connection errors.
    pub max_retries: u32,
    /// First retry delay; doubled each attempt, capped at `max_backoff`.
    pub initial_backoff: Duration,
    /// Upper bound of a retry or reconnect delay.
    pub max_backoff: Duration,
    /// A watch stream silent for this long is reconnected.
    pub stream_idle_timeout: Duration,
    /// Polling interval when the watch stream is unavailable.
    pub poll_interval: Duration,
    /// Consecutive failed stream connections before falling back to polling.
    pub stream_failures_before_polling: u32,
    /// No request (or retry) starts after it, and each request's timeout
    /// is shortened to the time left.
    pub deadline: Deadline,
}

impl ArgoCdConfig {
    /// Settings with production defaults.
    pub fn new(base_url: impl Into<String>, token: Secret, token_env: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            token_env: token_env.into(),
            insecure_skip_verify: false,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_retries: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            stream_idle_timeout: Duration::from_secs(120),
            poll_interval: Duration::from_secs(5),
            stream_failures_before_polling: 5,
            deadline: Deadline::NONE,
        }
    }

    /// The retry policy of every request: `max_retries` after the first
    /// attempt, delays doubling from `initial_backoff` up to `max_backoff`.
    pub fn retry_policy(&self) -> RetryPolicy {
        http::backoff(self.max_retries, self.initial_backoff, self.max_backoff)
    }
}

/// Which application, optionally scoped by namespace and project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRef {
    /// Application name.
    pub name: String,
    /// `appNamespace` (apps outside the control-plane namespace).
    pub app_namespace: Option<String>,
    /// `project`: with it, an unknown app answers 404 instead of 403.
    pub project: Option<String>,
}

impl AppRef {
    /// An application by name only.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            app_namespace: None,
            project: None,
        }
    }

    fn query(&self) -> Vec<(&'static str, &str)> {
        let mut q = Vec::new();
        if let Some(ns) = &self.app_namespace {
            q.push(("appNamespace", ns.as_str()));
        }
        if let Some(p) = &self.project {
            q.push(("project", p.as_str()));
        }
        q
    }
}

/// The Argo CD REST client. Cheap to clone (shares one connection pool).
#[derive(Debug, Clone)]
pub struct ArgoCdClient {
    http: reqwest::Client,
    config: ArgoCdConfig,
}

impl ArgoCdClient {
    /// Builds the client; fails on a malformed base URL or TLS setup error.
    pub fn new(mut config: ArgoCdConfig) -> Result<Self, ClientBuildError> {
        let Some(base_url) = http::base_url(&config.base_url) else {
            return Err(ClientBuildError::BaseUrl {
                base_url: config.base_url,
            });
        };
        config.base_url = base_url;
        if config.insecure_skip_verify {
            tracing::warn!(base_url = %config.base_url, "TLS certificate verification is disabled for Argo CD");
        }
        let http = http::client(config.connect_timeout, config.insecure_skip_verify).map_err(
            |source| ClientBuildError::Http {
                base_url: config.base_url.clone(),
                source,
            },
        )?;
        Ok(Self { http, config })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &ArgoCdConfig {
        &self.config
    }

    /// This client for work that must end by `deadline` (a health gate):
    /// every request, retry and reconnect ends by it, and retries are
    /// bounded by the time left rather than by a count, so a burst of 503s
    /// uses the gate's remaining time instead of failing it early.
    pub fn until(&self, deadline: Deadline) -> Self {
        let mut client = self.clone();
        client.config.deadline = deadline;
        if deadline.instant().is_some() {
            client.config.max_retries = u32::MAX - 1;
        }
        client
    }

    /// `GET /api/v1/applications/{name}`; with `refresh`, asks for a normal
    /// refresh (the server answers once the controller has reconciled).
    pub async fn get_application(
        &self,
        app: &AppRef,
        refresh: bool,
    ) -> Result<AppStatus, RequestError> {
        let body = self.get_application_json(app, refresh).await?;
        AppStatus::from_value(body).map_err(|source| RequestError::Decode {
            url: self.app_url(app),
            source,
        })
    }

    /// Like [`Self::get_application`] but returns the raw `Application` JSON.
    pub async fn get_application_json(
        &self,
        app: &AppRef,
        refresh: bool,
    ) -> Result<serde_json::Value, RequestError> {
        let url = self.app_url(app);
        let mut query = app.query();
        if refresh {
            query.push(("refresh", "normal"));
        }
        let resp = self
            .send(&url, &app.name, |attempt| {
                self.request(Method::GET, &url, attempt).query(&query)
            })
            .await?;
        decode(&url, resp).await
    }

    /// `GET /api/v1/applications/{name}/resource-tree`.
    pub async fn resource_tree(&self, app: &AppRef) -> Result<ResourceTree, RequestError> {
        let url = format!("{}/resource-tree", self.app_url(app));
        let query = app.query();
        let resp = self
            .send(&url, &app.name, |attempt| {
                self.request(Method::GET, &url, attempt).query(&query)
            })
            .await?;
        decode(&url, resp).await
    }

    /// Opens `GET /api/v1/stream/applications?name=…`. The first events are
    /// `ADDED` with the current state, then `MODIFIED` on each change.
    pub async fn open_watch(&self, app: &AppRef) -> Result<WatchStream, RequestError> {
        let url = format!("{}/api/v1/stream/applications", self.config.base_url);
        let mut query = vec![("name", app.name.as_str())];
        if let Some(ns) = &app.app_namespace {
            query.push(("appNamespace", ns));
        }
        if let Some(p) = &app.project {
            query.push(("projects", p));
        }
        // No overall timeout but the deadline: the stream lives as long as
        // the wait; idleness is bounded by `stream_idle_timeout` while reading.
        // The server may hold the headers back until the first event.
        let idle = self.config.stream_idle_timeout;
        let open = self.send(&url, &app.name, |attempt| {
            let request = self
                .http
                .get(&url)
                .bearer_auth(self.config.token.expose())
                .query(&query);
            match attempt.time_left {
                Some(left) => request.timeout(left),
                None => request,
            }
        });
        let resp =
            tokio::time::timeout(idle, open)
                .await
                .map_err(|_| RequestError::StreamIdle {
                    url: url.clone(),
                    idle,
                })??;
        Ok(WatchStream::new(url, resp, idle))
    }

    fn app_url(&self, app: &AppRef) -> String {
        format!(
            "{}/api/v1/applications/{}",
            self.config.base_url,
            encode_segment(&app.name)
        )
    }

    fn request(&self, method: Method, url: &str, attempt: Attempt) -> RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(self.config.token.expose())
            .timeout(attempt.timeout(self.config.request_timeout))
    }

    /// Sends with bounded retries (5xx but 501, and every transport error),
    /// then maps a non-success status to a typed error.
    async fn send(
        &self,
        url: &str,
        app: &str,
        build: impl Fn(Attempt) -> RequestBuilder,
    ) -> Result<Response, RequestError> {
        let transient = |outcome: &Result<Response, reqwest::Error>| match outcome {
            Ok(resp) if is_retryable_status(resp.status()) => {
                tracing::debug!(url, status = %resp.status(), "transient Argo CD answer");
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::debug!(url, error = %e, "Argo CD request failed");
                true
            }
        };
        let finished = retry::run(
            self.config.retry_policy(),
            self.config.deadline,
            |attempt| build(attempt).send(),
            transient,
        )
        .await
        .map_err(|_| RequestError::Deadline {
            url: url.to_owned(),
        })?;
        let resp = finished.result.map_err(|source| RequestError::Transport {
            url: url.to_owned(),
            source,
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(self.status_error(url, app, resp).await)
    }

    async fn status_error(&self, url: &str, app: &str, resp: Response) -> RequestError {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let body = self.config.token.redact(&body);
        let message = serde_json::from_str::<ErrorBody>(&body)
            .ok()
            .and_then(|b| b.message.or(b.error))
            .unwrap_or_else(|| body.trim().to_owned());
        let url = url.to_owned();
        match status {
            StatusCode::UNAUTHORIZED => RequestError::Unauthorized {
                url,
                token_var: self.config.token_env.clone(),
                message,
            },
            StatusCode::FORBIDDEN => RequestError::PermissionDenied {
                url,
                app: app.to_owned(),
                token_var: self.config.token_env.clone(),
            },
            StatusCode::NOT_FOUND => RequestError::NotFound {
                url,
                app: app.to_owned(),
                message,
            },
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                RequestError::UnsupportedMediaType { url, body: message }
            }
            _ => RequestError::Status {
                url,
                status: status.as_u16(),
                message,
            },
        }
    }
}

fn is_retryable_status(status: StatusCode) -> bool {
    status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED
}

/// grpc-gateway's unary error body.
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
    message: Option<String>,
}

async fn decode<T: serde::de::DeserializeOwned>(
    url: &str,
    resp: Response,
) -> Result<T, RequestError> {
    let bytes = resp
        .bytes()
        .await
        .map_err(|source| RequestError::Transport {
            url: url.to_owned(),
            source,
        })?;
    serde_json::from_slice(&bytes).map_err(|source| RequestError::Decode {
        url: url.to_owned(),
        source,
    })
}

/// Percent-encodes one path segment (application names are DNS labels, but
/// stay safe for anything else).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
