//! HTTP handlers: `/api/v1/query` and `/api/v1/query_range` with
//! Prometheus' parameters (GET query string or POST form), result shapes
//! and error envelopes (`{"status":"error","errorType","error"}` with 400,
//! 422, 500 or 503), and `/-/ready` for whoever waits for it to start.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::script::{ErrorType, SimAnswer, SimLabels, holding, parse_duration_ms};
use super::{Shared, Unscripted, now_ms};

type AppState = State<Arc<Shared>>;

/// Prometheus refuses range queries with more points a series.
const MAX_POINTS: i64 = 11_000;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route(
            "/-/ready",
            get(|| async { "Prometheus Server is Ready.\n" }),
        )
        .route(
            "/-/healthy",
            get(|| async { "Prometheus Server is Healthy.\n" }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .with_state(shared)
}

/// Why a request ends without a result: an API error as Prometheus sends
/// it, or a plain answer from in front of it (a proxy's 503, a 401).
enum Refusal {
    /// `{"status":"error","errorType","error"}` with the type's status.
    Api(ErrorType, String),
    /// A plain-text body.
    Plain(StatusCode, &'static str),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Api(error_type, message) => {
                let status =
                    StatusCode::from_u16(error_type.status()).unwrap_or(StatusCode::BAD_REQUEST);
                let body =
                    json!({"status": "error", "errorType": error_type.as_str(), "error": message});
                (
                    status,
                    [(header::CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
                    .into_response()
            }
            Self::Plain(status, body) => (status, body).into_response(),
        }
    }
}

fn bad_data(message: String) -> Refusal {
    Refusal::Api(ErrorType::BadData, message)
}

fn success(result_type: &str, result: Value) -> Response {
    let body = json!({"status": "success", "data": {"resultType": result_type, "result": result}});
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A sample value as Prometheus writes it.
fn value_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

/// `[<seconds>, "<value>"]`.
fn pair(time_ms: i64, v: f64) -> Value {
    json!([time_ms as f64 / 1000.0, value_text(v)])
}

/// The request's parameters: the POST form's first, then the query
/// string's (as Go's `Request.FormValue` reads them).
fn params(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let mut sources: Vec<&[u8]> = Vec::new();
    if form {
        sources.push(body);
    }
    if let Some(q) = query {
        sources.push(q.as_bytes());
    }
    for source in sources {
        for (k, v) in url::form_urlencoded::parse(source) {
            map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
    }
    map
}

/// Counts the request, applies faults and the token; the parameters when
/// the request may go on.
fn admit(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<BTreeMap<String, String>, Refusal> {
    shared.queries.fetch_add(1, Ordering::SeqCst);
    let failing = shared
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return Err(Refusal::Plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream connect error\n",
        ));
    }
    if let Some(token) = &shared.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return Err(Refusal::Plain(StatusCode::UNAUTHORIZED, "Unauthorized\n"));
        }
    }
    let params = params(query, headers, body);
    if let Some(timeout) = params.get("timeout")
        && parse_duration_ms(timeout).is_none()
    {
        return Err(bad_data(format!(
            "invalid parameter \"timeout\": cannot parse {timeout:?} to a valid duration"
        )));
    }
    Ok(params)
}

/// A time parameter: Unix seconds (fractions allowed) or RFC 3339.
fn time_param(params: &BTreeMap<String, String>, name: &str) -> Result<i64, Refusal> {
    let text = params.get(name).map(String::as_str).unwrap_or_default();
    let parsed = match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() => Some((secs * 1000.0).round() as i64),
        _ => crate::time::parse_rfc3339(text).map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        }),
    };
    parsed.ok_or_else(|| {
        // Prometheus words the instant query's `time` apart.
        let prefix = if name == "time" {
            "Invalid time value for 'time': "
        } else {
            ""
        };
        bad_data(format!(
            "invalid parameter \"{name}\": {prefix}cannot parse {text:?} to a valid timestamp"
        ))
    })
}

/// The `query` parameter, trimmed.
fn promql(params: &BTreeMap<String, String>) -> Result<String, Refusal> {
    match params.get("query").map(|q| q.trim()) {
        Some(q) if !q.is_empty() => Ok(q.to_owned()),
        _ => Err(bad_data(
            "invalid parameter \"query\": 1:1: parse error: no expression found in input".into(),
        )),
    }
}

/// The answer to `promql` at `at`: scripted, or what an unscripted query
/// answers. Before a script's first answer there is no data yet.
fn answer(shared: &Shared, promql: &str, at: i64) -> Result<SimAnswer, Refusal> {
    let timelines = shared.timelines();
    match timelines.get(promql) {
        Some(timeline) => Ok(holding(timeline, at)
            .cloned()
            .unwrap_or(SimAnswer::Vector(Vec::new()))),
        None if shared.unscripted == Unscripted::Empty => Ok(SimAnswer::Vector(Vec::new())),
        None => {
            let known: Vec<&String> = timelines.keys().collect();
            Err(bad_data(format!(
                "the simulator has no script for query {promql:?} (scripted: {known:?}); \
                 script it, or start the simulator with `unscripted: empty`"
            )))
        }
    }
}

async fn query(
    State(shared): AppState,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let run = || -> Result<Response, Refusal> {
        let params = admit(&shared, &headers, raw.as_deref(), &body)?;
        let promql = promql(&params)?;
        let at = if params.contains_key("time") {
            time_param(&params, "time")?
        } else {
            now_ms()
        };
        Ok(match answer(&shared, &promql, at)? {
            SimAnswer::Vector(samples) => success(
                "vector",
                samples
                    .iter()
                    .map(|(labels, v)| json!({"metric": labels, "value": pair(at, *v)}))
                    .collect(),
            ),
            SimAnswer::Scalar(v) => success("scalar", pair(at, v)),
            SimAnswer::Error(error_type, message) => {
                Refusal::Api(error_type, message).into_response()
            }
        })
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

async fn query_range(
    State(shared): AppState,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let run = || -> Result<Response, Refusal> {
        let params = admit(&shared, &headers, raw.as_deref(), &body)?;
        let promql = promql(&params)?;
        let start = time_param(&params, "start")?;
        let end = time_param(&params, "end")?;
        let step_text = params.get("step").map(String::as_str).unwrap_or_default();
        let step = parse_duration_ms(step_text).ok_or_else(|| {
            bad_data(format!(
                "invalid parameter \"step\": cannot parse {step_text:?} to a valid duration"
            ))
        })?;
        if end < start {
            return Err(bad_data(
                "invalid parameter \"end\": end timestamp must not be before start time".into(),
            ));
        }
        if step <= 0 {
            return Err(bad_data(
                "invalid parameter \"step\": zero or negative query resolution step widths \
                 are not accepted. Try a positive integer"
                    .into(),
            ));
        }
        if (end - start) / step > MAX_POINTS {
            return Err(bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing \
                 the query resolution (?step=XX)"
                    .into(),
            ));
        }
        let mut series: BTreeMap<SimLabels, Vec<Value>> = BTreeMap::new();
        let mut at = start;
        while at <= end {
            match answer(&shared, &promql, at)? {
                SimAnswer::Vector(samples) => {
                    for (labels, v) in samples {
                        series.entry(labels).or_default().push(pair(at, v));
                    }
                }
                SimAnswer::Scalar(v) => series
                    .entry(SimLabels::new())
                    .or_default()
                    .push(pair(at, v)),
                SimAnswer::Error(error_type, message) => {
                    return Err(Refusal::Api(error_type, message));
                }
            }
            at += step;
        }
        Ok(success(
            "matrix",
            series
                .into_iter()
                .map(|(labels, values)| json!({"metric": labels, "values": values}))
                .collect(),
        ))
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_prometheus_writes_them() {
        assert_eq!(value_text(0.25), "0.25");
        assert_eq!(value_text(3.0), "3");
        assert_eq!(value_text(f64::NAN), "NaN");
        assert_eq!(value_text(f64::NEG_INFINITY), "-Inf");
        assert_eq!(pair(1_700_000_000_500, 1.0), json!([1_700_000_000.5, "1"]));
    }

    #[test]
    fn form_parameters_come_before_the_query_string() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().expect("header"),
        );
        let p = params(Some("query=up&time=5"), &headers, b"query=sum%28up%29");
        assert_eq!(p["query"], "sum(up)");
        assert_eq!(p["time"], "5");
    }
}
