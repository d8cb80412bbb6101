//! The Prometheus HTTP API client, read-only: `reqwest` with rustls and
//! TLS verification on, a bearer token when configured, the query timeout
//! sent as Prometheus' own `timeout` parameter (so a slow query ends with
//! a typed answer from the server) and, with a little grace, as the
//! request's timeout. 5xx answers (but a server-side timeout) and
//! connection errors are retried with backoff ([`crate::retry`]) within
//! the configured deadline; everything else is final.
//!
//! A query goes as a GET with URL parameters, or as a POST form when the
//! parameters are long enough that a proxy could refuse the URL (the API
//! takes both).

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};

use super::error::{ClientBuildError, QueryError};
use super::wire::{self, Envelope, Unusable};
use super::{Sample, Series};
use crate::capabilities::http;
use crate::retry::{self, Attempt, Deadline, RetryPolicy};
use crate::secret::Secret;

/// Parameters longer than this go in a POST body instead of the URL.
const MAX_GET_PARAMS: usize = 2048;

/// Connection settings for one Prometheus server.
#[derive(Debug, Clone)]
pub struct PrometheusConfig {
    /// Base URL, e.g. `https://prometheus.example.com` (no `/api/v1`).
    pub base_url: String,
    /// Bearer token; empty: none is sent.
    pub token: Secret,
    /// Name of the environment variable the token came from, for messages.
    pub token_env: String,
    /// How long one query may take: sent to the server as `timeout`.
    pub query_timeout: Duration,
    /// Added to `query_timeout` for the request's own timeout, so the
    /// server's timeout answer arrives first.
    pub grace: Duration,
    /// Timeout for connecting.
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for 5xx and connection errors.
    pub max_retries: u32,
    /// First retry delay; doubled each attempt, capped at `max_backoff`.
    pub initial_backoff: Duration,
    /// Upper bound of a retry delay.
    pub max_backoff: Duration,
    /// No request (or retry) starts after it, and each request's timeout
    /// is shortened to the time left.
    pub deadline: Deadline,
    /// The most values (samples, or points of all series) one answer may
    /// hold; beyond it the query fails as too large.
    pub max_values: usize,
}

impl PrometheusConfig {
    /// Settings with production defaults.
    pub fn new(base_url: impl Into<String>, token: Secret, token_env: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            token_env: token_env.into(),
            query_timeout: Duration::from_secs(30),
            grace: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            deadline: Deadline::NONE,
            max_values: 100_000,
        }
    }

    /// The retry policy of every query.
    pub fn retry_policy(&self) -> RetryPolicy {
        http::backoff(self.max_retries, self.initial_backoff, self.max_backoff)
    }
}

/// The span of a range query, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First evaluation time.
    pub start_ms: i64,
    /// Last evaluation time (inclusive).
    pub end_ms: i64,
    /// Time between evaluations.
    pub step_ms: u64,
}

/// The Prometheus client. Cheap to clone (shares one connection pool).
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    http: reqwest::Client,
    config: PrometheusConfig,
}

/// What one attempt brought back: the status and the whole body.
type Answer = Result<(StatusCode, Vec<u8>), reqwest::Error>;

impl PrometheusClient {
    /// Builds the client; fails on a malformed base URL or TLS setup error.
    pub fn new(mut config: PrometheusConfig) -> Result<Self, ClientBuildError> {
        let Some(base_url) = http::base_url(&config.base_url) else {
            return Err(ClientBuildError::BaseUrl {
                base_url: config.base_url,
            });
        };
        config.base_url = base_url;
        let http = http::client(config.connect_timeout, false).map_err(|source| {
            ClientBuildError::Http {
                base_url: config.base_url.clone(),
                source,
            }
        })?;
        Ok(Self { http, config })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &PrometheusConfig {
        &self.config
    }

    /// `/api/v1/query`: `promql` evaluated at `time_ms`. A scalar answer is
    /// one sample without labels.
    pub async fn query(&self, promql: &str, time_ms: i64) -> Result<Vec<Sample>, QueryError> {
        let url = format!("{}/api/v1/query", self.config.base_url);
        let params = vec![
            ("query", promql.to_owned()),
            ("time", seconds(time_ms)),
            ("timeout", self.timeout_param()),
        ];
        let data = self.call(&url, &params).await?;
        wire::samples(data, self.config.max_values).map_err(|e| self.unusable(&url, e))
    }

    /// `/api/v1/query_range`: `promql` evaluated over `range`.
    pub async fn query_range(
        &self,
        promql: &str,
        range: TimeRange,
    ) -> Result<Vec<Series>, QueryError> {
        let url = format!("{}/api/v1/query_range", self.config.base_url);
        let params = vec![
            ("query", promql.to_owned()),
            ("start", seconds(range.start_ms)),
            ("end", seconds(range.end_ms)),
            (
                "step",
                seconds(i64::try_from(range.step_ms).unwrap_or(i64::MAX)),
            ),
            ("timeout", self.timeout_param()),
        ];
        let data = self.call(&url, &params).await?;
        wire::series(data, self.config.max_values).map_err(|e| self.unusable(&url, e))
    }

    /// Prometheus' `timeout` parameter: the query timeout in milliseconds.
    fn timeout_param(&self) -> String {
        format!("{}ms", self.config.query_timeout.as_millis().max(1))
    }

    fn unusable(&self, url: &str, e: Unusable) -> QueryError {
        match e {
            Unusable::Unsupported(what) => QueryError::Unsupported {
                url: url.to_owned(),
                what,
            },
            Unusable::TooLarge => QueryError::TooLarge {
                url: url.to_owned(),
                max: self.config.max_values,
            },
        }
    }

    fn request(&self, url: &str, params: &[(&str, String)], attempt: Attempt) -> RequestBuilder {
        let long = params
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>()
            > MAX_GET_PARAMS;
        let request = if long {
            self.http.post(url).form(params)
        } else {
            self.http.get(url).query(params)
        };
        let request = request.timeout(attempt.timeout(self.request_timeout()));
        let token = self.config.token.expose();
        if token.is_empty() {
            request
        } else {
            request.bearer_auth(token)
        }
    }

    fn request_timeout(&self) -> Duration {
        self.config.query_timeout.saturating_add(self.config.grace)
    }

    /// Sends with bounded retries, then reads the envelope: the data on
    /// success, a typed error otherwise.
    async fn call(&self, url: &str, params: &[(&str, String)]) -> Result<wire::Data, QueryError> {
        let finished = retry::run(
            self.config.retry_policy(),
            self.config.deadline,
            |attempt| {
                let request = self.request(url, params, attempt);
                async move {
                    let response = request.send().await?;
                    let status = response.status();
                    Ok((status, response.bytes().await?.to_vec()))
                }
            },
            |answer: &Answer| transient(url, answer),
        )
        .await
        .map_err(|_| QueryError::Deadline {
            url: url.to_owned(),
        })?;
        let (status, body) = finished.result.map_err(|source| {
            if source.is_timeout() {
                QueryError::Timeout {
                    url: url.to_owned(),
                    timeout: self.request_timeout(),
                }
            } else {
                QueryError::Transport {
                    url: url.to_owned(),
                    source,
                }
            }
        })?;
        self.read(url, status, &body)
    }

    /// The data of a successful answer, or the error an answer says.
    fn read(&self, url: &str, status: StatusCode, body: &[u8]) -> Result<wire::Data, QueryError> {
        let text = self.config.token.redact(&String::from_utf8_lossy(body));
        let envelope = serde_json::from_str::<Envelope>(&text);
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(QueryError::Unauthorized {
                url: url.to_owned(),
                status: status.as_u16(),
                token_var: self.config.token_env.clone(),
            });
        }
        let envelope = match envelope {
            Ok(envelope) => envelope,
            Err(source) if status.is_success() => {
                return Err(QueryError::Decode {
                    url: url.to_owned(),
                    source,
                });
            }
            Err(_) => {
                return Err(QueryError::Status {
                    url: url.to_owned(),
                    status: status.as_u16(),
                    message: text.trim().chars().take(500).collect(),
                });
            }
        };
        if envelope.status == "success"
            && let Some(data) = envelope.data
        {
            for warning in &envelope.warnings {
                tracing::warn!(url, "Prometheus: {warning}");
            }
            return Ok(data);
        }
        let error_type = envelope.error_type.unwrap_or_default();
        let message = envelope.error.unwrap_or_else(|| text.trim().to_owned());
        let url = url.to_owned();
        Err(match error_type.as_str() {
            "bad_data" | "execution" => QueryError::BadQuery {
                url,
                error_type,
                message,
            },
            "timeout" | "canceled" => QueryError::ServerTimeout {
                url,
                error_type,
                message,
            },
            _ => QueryError::Status {
                url,
                status: status.as_u16(),
                message: if error_type.is_empty() {
                    message
                } else {
                    format!("{error_type}: {message}")
                },
            },
        })
    }
}

/// Worth another attempt: a connection failure (not a timeout: a slow
/// query stays slow), 429, or a 5xx other than 501 whose body does not
/// say the query itself failed or timed out.
fn transient(url: &str, answer: &Answer) -> bool {
    match answer {
        Err(e) => {
            tracing::debug!(url, error = %e, "Prometheus request failed");
            !e.is_timeout()
        }
        Ok((status, body)) => {
            let retryable = *status == StatusCode::TOO_MANY_REQUESTS
                || (status.is_server_error() && *status != StatusCode::NOT_IMPLEMENTED);
            let final_error = serde_json::from_slice::<Envelope>(body)
                .ok()
                .and_then(|e| e.error_type)
                .is_some_and(|t| {
                    matches!(
                        t.as_str(),
                        "bad_data" | "execution" | "timeout" | "canceled"
                    )
                });
            if retryable && !final_error {
                tracing::debug!(url, %status, "transient Prometheus answer");
            }
            retryable && !final_error
        }
    }
}

/// Milliseconds since the epoch as the API's seconds, e.g. `1700000000.250`.
fn seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_seconds_with_milliseconds() {
        assert_eq!(seconds(1_700_000_000_250), "1700000000.250");
        assert_eq!(seconds(5), "0.005");
        assert_eq!(seconds(-1500), "-1.500");
    }

    #[test]
    fn only_failures_that_may_heal_are_retried() {
        let ok = |status: u16, body: &str| -> Answer {
            Ok((
                StatusCode::from_u16(status).expect("status"),
                body.as_bytes().to_vec(),
            ))
        };
        assert!(transient("u", &ok(503, "upstream connect error")));
        assert!(transient(
            "u",
            &ok(
                500,
                r#"{"status":"error","errorType":"internal","error":"x"}"#
            )
        ));
        assert!(transient("u", &ok(429, "slow down")));
        assert!(!transient(
            "u",
            &ok(
                503,
                r#"{"status":"error","errorType":"timeout","error":"query timed out"}"#
            )
        ));
        assert!(!transient(
            "u",
            &ok(
                422,
                r#"{"status":"error","errorType":"execution","error":"x"}"#
            )
        ));
        assert!(!transient(
            "u",
            &ok(
                400,
                r#"{"status":"error","errorType":"bad_data","error":"x"}"#
            )
        ));
        assert!(!transient("u", &ok(404, "not found")));
        assert!(!transient("u", &ok(501, "")));
    }

    fn client() -> PrometheusClient {
        PrometheusClient::new(PrometheusConfig::new(
            "http://127.0.0.1:9/prom/",
            Secret::new("tok-123"),
            "PROM_TOKEN",
        ))
        .expect("client")
    }

    #[test]
    fn answers_map_to_typed_errors() {
        let c = client();
        assert_eq!(c.config().base_url, "http://127.0.0.1:9/prom");
        let read = |status: u16, body: &str| {
            c.read(
                "u",
                StatusCode::from_u16(status).expect("status"),
                body.as_bytes(),
            )
        };
        let bad = read(
            400,
            r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error"}"#,
        );
        assert!(
            matches!(&bad, Err(QueryError::BadQuery { message, .. }) if message == "1:5: parse error")
        );
        let slow = read(
            503,
            r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#,
        );
        assert!(matches!(slow, Err(QueryError::ServerTimeout { .. })));
        let denied = read(401, "Unauthorized");
        assert_eq!(
            denied.map(|_| ()).map_err(|e| e.to_string()),
            Err(
                "u: Prometheus rejected the credentials (HTTP 401); check the token in $PROM_TOKEN"
                    .into()
            )
        );
        let echoed = read(502, "bad gateway for tok-123");
        assert_eq!(
            echoed.map(|_| ()).map_err(|e| e.to_string()),
            Err("u: HTTP 502: bad gateway for <redacted>".into())
        );
        assert!(matches!(
            read(200, "not json"),
            Err(QueryError::Decode { .. })
        ));
        assert!(
            read(
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
            )
            .is_ok()
        );
    }

    #[test]
    fn a_bad_base_url_is_refused() {
        let e = PrometheusClient::new(PrometheusConfig::new(
            "prometheus:9090",
            Secret::new(""),
            "",
        ));
        assert!(matches!(e, Err(ClientBuildError::BaseUrl { .. })));
    }
}
