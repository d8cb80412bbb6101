//! The `metrics` capability: PromQL queries against a Prometheus HTTP API
//! (`/api/v1/query`, `/api/v1/query_range`), read-only.
//!
//! - [`client`]: the HTTP client (GET, or a POST form for long queries;
//!   bearer token; the query timeout sent to the server and bounding the
//!   request; bounded retries on 5xx and connection errors through
//!   [`crate::retry`]).
//! - [`wire`]: the API's JSON envelope and result types (vector, scalar,
//!   matrix, string), values as Prometheus writes them (`"NaN"`, `"+Inf"`).
//! - [`error`]: what a query can fail with, and which WIT case
//!   (`bad-query`, `unreachable`, `timeout`) each failure is.
//!
//! The typed answers here ([`Sample`], [`Series`]) are Baton's own; the
//! engine's world turns them into the contract's types.

pub mod client;
pub mod error;
pub mod wire;

use std::collections::BTreeMap;

pub use client::{PrometheusClient, PrometheusConfig, TimeRange};
pub use error::{ClientBuildError, ErrorKind, QueryError};

/// A series' labels, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// One value of an instant query (a vector element, or a scalar without
/// labels).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels; empty for a scalar.
    pub labels: Labels,
    /// Evaluation time, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The value; NaN and the infinities as Prometheus reports them.
    pub value: f64,
}

/// One series of a range query.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// `(milliseconds since the Unix epoch, value)`, oldest first.
    pub points: Vec<(i64, f64)>,
}
