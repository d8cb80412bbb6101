//! Errors of the Argo CD client. Messages name the URL, the application and,
//! for authentication failures, the environment variable holding the token,
//! never the token itself.

use std::time::Duration;

/// Building an [`super::ArgoCdClient`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    /// The base URL is not an absolute `http(s)://` URL.
    #[error("Argo CD base URL `{base_url}` must start with https:// or http://")]
    BaseUrl {
        /// The configured base URL.
        base_url: String,
    },
    /// reqwest could not build the HTTP client (TLS backend setup).
    #[error("cannot build the HTTP client for Argo CD at {base_url}")]
    Http {
        /// The configured base URL.
        base_url: String,
        /// reqwest's error.
        #[source]
        source: reqwest::Error,
    },
}

/// One Argo CD API request (or the watch stream) failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// 401: no or an invalid token.
    #[error(
        "{url}: Argo CD rejected the credentials (401: {message}); check the token in ${token_var}"
    )]
    Unauthorized {
        /// Request URL.
        url: String,
        /// Name of the environment variable the token came from.
        token_var: String,
        /// Server message (e.g. `no session information`).
        message: String,
    },
    /// 403: Argo CD answers this both for a forbidden and for an unknown
    /// application when no project is given.
    #[error(
        "{url}: permission denied (403) for application `{app}`: it may not exist, or the token in ${token_var} lacks access to it"
    )]
    PermissionDenied {
        /// Request URL.
        url: String,
        /// Application name.
        app: String,
        /// Name of the environment variable the token came from.
        token_var: String,
    },
    /// 404: the application does not exist (only reported when a project is given).
    #[error("{url}: application `{app}` not found (404: {message})")]
    NotFound {
        /// Request URL.
        url: String,
        /// Application name.
        app: String,
        /// Server message.
        message: String,
    },
    /// 415: the server refused the request's `Content-Type`.
    #[error("{url}: Argo CD refused the request content type (415: {body})")]
    UnsupportedMediaType {
        /// Request URL.
        url: String,
        /// Response body (plain text `Invalid content type`).
        body: String,
    },
    /// Any other non-success status (after retries, for 5xx).
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        /// Request URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// Server message, or the raw body.
        message: String,
    },
    /// Connection, TLS or timeout failure (after retries).
    #[error("{url}: request to Argo CD failed")]
    Transport {
        /// Request URL.
        url: String,
        /// reqwest's error.
        #[source]
        source: reqwest::Error,
    },
    /// The body is not the JSON the API documents.
    #[error("{url}: unexpected response body")]
    Decode {
        /// Request URL.
        url: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A `{"error":{...}}` frame on the watch stream.
    #[error("{url}: watch stream error (gRPC code {grpc_code}, HTTP {http_code}): {message}")]
    Stream {
        /// Stream URL.
        url: String,
        /// `grpc_code`.
        grpc_code: i32,
        /// `http_code`.
        http_code: i32,
        /// `message`.
        message: String,
    },
    /// The deadline passed before the request could be sent.
    #[error("{url}: the deadline passed before the request could be sent")]
    Deadline {
        /// Request URL.
        url: String,
    },
    /// The watch stream sent nothing (not even a keepalive) for too long.
    #[error("{url}: watch stream idle for {idle:?}")]
    StreamIdle {
        /// Stream URL.
        url: String,
        /// The idle limit that was hit.
        idle: Duration,
    },
}

impl RequestError {
    /// Whether retrying (or reconnecting) may help: 5xx, transport failures,
    /// idle or erroring streams. 4xx answers are final.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            Self::Transport { .. } | Self::StreamIdle { .. } | Self::Decode { .. } => true,
            // gRPC Unauthenticated (16) and PermissionDenied (7) will not heal.
            Self::Stream { grpc_code, .. } => !matches!(grpc_code, 7 | 16),
            Self::Unauthorized { .. }
            | Self::PermissionDenied { .. }
            | Self::NotFound { .. }
            | Self::UnsupportedMediaType { .. }
            | Self::Deadline { .. } => false,
        }
    }
}
