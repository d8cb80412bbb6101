//! Errors of the Prometheus client. Messages name the endpoint and, for
//! authentication failures, the environment variable holding the token,
//! never the token itself (server bodies are redacted before they are
//! kept).

use std::time::Duration;

/// Building a [`super::PrometheusClient`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    /// The base URL is not an absolute `http(s)://` URL.
    #[error("Prometheus URL `{base_url}` must start with https:// or http://")]
    BaseUrl {
        /// The configured URL.
        base_url: String,
    },
    /// reqwest could not build the HTTP client (TLS backend setup).
    #[error("cannot build the HTTP client for Prometheus at {base_url}")]
    Http {
        /// The configured URL.
        base_url: String,
        /// reqwest's error.
        #[source]
        source: reqwest::Error,
    },
}

/// Which WIT `metrics-error` case a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The query itself is at fault: retrying the same query cannot help.
    BadQuery,
    /// Prometheus could not be reached or could not answer.
    Unreachable,
    /// The query ran out of time.
    Timeout,
}

/// One query failed (after retries, where retrying made sense).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Prometheus refused the query: `errorType` `bad_data` (400: a syntax
    /// error, a bad parameter) or `execution` (422: it cannot be evaluated).
    #[error("{url}: Prometheus refused the query ({error_type}): {message}")]
    BadQuery {
        /// The endpoint.
        url: String,
        /// `bad_data` or `execution`.
        error_type: String,
        /// Prometheus' message.
        message: String,
    },
    /// The answer is of a kind the metrics interface does not carry: a
    /// string result, or native histograms.
    #[error("{url}: {what}")]
    Unsupported {
        /// The endpoint.
        url: String,
        /// What was answered, and what to do instead.
        what: String,
    },
    /// The answer holds more values than a policy is handed.
    #[error(
        "{url}: the answer holds more than {max} values; narrow the query or use a larger step"
    )]
    TooLarge {
        /// The endpoint.
        url: String,
        /// The limit.
        max: usize,
    },
    /// Prometheus gave up on the query (`errorType` `timeout` or
    /// `canceled`, 503).
    #[error("{url}: Prometheus stopped the query ({error_type}): {message}")]
    ServerTimeout {
        /// The endpoint.
        url: String,
        /// `timeout` or `canceled`.
        error_type: String,
        /// Prometheus' message.
        message: String,
    },
    /// No answer within the request's timeout.
    #[error("{url}: no answer within {timeout:?}")]
    Timeout {
        /// The endpoint.
        url: String,
        /// The request's timeout.
        timeout: Duration,
    },
    /// The run's deadline passed before the query could be sent.
    #[error("{url}: the deadline passed before the query could be sent")]
    Deadline {
        /// The endpoint.
        url: String,
    },
    /// 401 or 403: no, or an insufficient, token.
    #[error(
        "{url}: Prometheus rejected the credentials (HTTP {status}); check the token in ${token_var}"
    )]
    Unauthorized {
        /// The endpoint.
        url: String,
        /// 401 or 403.
        status: u16,
        /// The environment variable the token came from (empty: none).
        token_var: String,
    },
    /// Any other non-success answer (after retries, for 5xx).
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        /// The endpoint.
        url: String,
        /// HTTP status code.
        status: u16,
        /// Prometheus' message, or the body.
        message: String,
    },
    /// Connection or TLS failure (after retries).
    #[error("{url}: request to Prometheus failed")]
    Transport {
        /// The endpoint.
        url: String,
        /// reqwest's error.
        #[source]
        source: reqwest::Error,
    },
    /// The body is not the JSON the API documents.
    #[error("{url}: unexpected response body")]
    Decode {
        /// The endpoint.
        url: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

impl QueryError {
    /// The WIT case a policy receives for this failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::BadQuery { .. } | Self::Unsupported { .. } | Self::TooLarge { .. } => {
                ErrorKind::BadQuery
            }
            Self::ServerTimeout { .. } | Self::Timeout { .. } | Self::Deadline { .. } => {
                ErrorKind::Timeout
            }
            Self::Unauthorized { .. }
            | Self::Status { .. }
            | Self::Transport { .. }
            | Self::Decode { .. } => ErrorKind::Unreachable,
        }
    }
}
