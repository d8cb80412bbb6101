//! The error of one forge call. Variants carry the request that failed
//! (method, URL, MR number) and the forge's own message; the token is never
//! part of one: a 401 names the environment variable that held it.

use thiserror::Error;

/// A forge API call failed.
#[derive(Debug, Error)]
pub enum ForgeError {
    /// The configured token variable is unset or empty.
    #[error("no forge token: environment variable `{token_env}` is not set or empty")]
    MissingToken {
        /// Name of the variable the config points at.
        token_env: String,
    },
    /// The configured API URL does not parse.
    #[error("invalid forge API URL `{url}`")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// Why it does not parse.
        #[source]
        source: url::ParseError,
    },
    /// The HTTP client could not be built (TLS backend setup).
    #[error("cannot build the HTTP client for {url}")]
    Client {
        /// The API base URL.
        url: String,
        /// Underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// 401: the token was missing, expired or wrong.
    #[error(
        "{method} {url}: 401 Unauthorized: the token from `{token_env}` was rejected (check that it is valid and has API scope)"
    )]
    Unauthorized {
        /// HTTP method.
        method: String,
        /// Request URL.
        url: String,
        /// Variable that held the token.
        token_env: String,
    },
    /// 404: project, repository or merge request not found.
    #[error("{method} {url}: 404 not found: {message}")]
    NotFound {
        /// HTTP method.
        method: String,
        /// Request URL.
        url: String,
        /// The forge's message.
        message: String,
    },
    /// The forge refused to merge (conflict, not open, needs rebase, …).
    #[error("{forge} merge request !{iid} cannot be merged ({detail}): HTTP {status}: {message}")]
    NotMergeable {
        /// `gitlab` or `github`.
        forge: &'static str,
        /// MR iid / PR number.
        iid: u64,
        /// HTTP status (405 or 422).
        status: u16,
        /// Merge status read back from the forge (`conflict`, `need_rebase`, `not_open`, …).
        detail: String,
        /// The forge's message.
        message: String,
    },
    /// The source branch moved since the `sha` Baton merged against.
    #[error("{forge} merge request !{iid}: source branch head changed: {message}")]
    ShaMismatch {
        /// `gitlab` or `github`.
        forge: &'static str,
        /// MR iid / PR number.
        iid: u64,
        /// The forge's message.
        message: String,
    },
    /// The forge said a duplicate exists but it could not be found.
    #[error(
        "{forge} reported an open merge request for `{source_branch}` but none was found: {message}"
    )]
    DuplicateNotFound {
        /// `gitlab` or `github`.
        forge: &'static str,
        /// Source branch of the create request.
        source_branch: String,
        /// The forge's message.
        message: String,
    },
    /// A GraphQL call answered with errors (GitHub answers them with HTTP
    /// 200), or without what it asked for.
    #[error("POST {url}: GraphQL {operation} failed: {message}")]
    GraphQl {
        /// The GraphQL endpoint.
        url: String,
        /// The mutation or query.
        operation: &'static str,
        /// The errors' messages.
        message: String,
    },
    /// Any other 4xx: reported, not retried.
    #[error("{method} {url}: rejected with HTTP {status}: {message}")]
    Rejected {
        /// HTTP method.
        method: String,
        /// Request URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The forge's message.
        message: String,
    },
    /// 5xx on every attempt.
    #[error("{method} {url}: server error HTTP {status} after {attempts} attempts: {message}")]
    Server {
        /// HTTP method.
        method: String,
        /// Request URL.
        url: String,
        /// Last HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The last body, shortened.
        message: String,
    },
    /// Connection failure or timeout on every attempt.
    #[error("{method} {url}: request failed after {attempts} attempts")]
    Transport {
        /// HTTP method.
        method: String,
        /// Request URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// Last transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The deadline passed before the request could be sent.
    #[error("{method} {url}: the deadline passed before the request could be sent")]
    Deadline {
        /// HTTP method.
        method: String,
        /// Request URL.
        url: String,
    },
    /// The response body did not have the expected shape.
    #[error("{method} {url}: unexpected response body")]
    Decode {
        /// HTTP method.
        method: String,
        /// Request URL.
        url: String,
        /// Parse error.
        #[source]
        source: serde_json::Error,
    },
}
