//! The shared HTTP transport against stub servers: 5xx and connection
//! failures are retried a bounded number of times, 4xx are reported at once,
//! timeouts end a request, and no error text carries the token.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::any;
use baton::capabilities::forge::{Forge, ForgeError, GitLab, GitLabConfig, HttpConfig};
use baton::retry::Deadline;
use baton::secret::Secret;

const TOKEN: &str = "glpat-never-print-me";

/// A stub answering every request with `status` and `body`, counting hits.
async fn stub(
    status: StatusCode,
    body: &'static str,
    delay: Duration,
) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(any(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            (status, [("content-type", "application/json")], body)
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/api/v4"), hits)
}

fn client(api_url: &str, timeout: Duration) -> GitLab {
    let mut config = GitLabConfig::new(api_url, "g/p", "GL_TOKEN");
    config.http = HttpConfig {
        timeout,
        connect_timeout: Duration::from_secs(20),
        max_attempts: 3,
        backoff: Duration::from_millis(10),
        ..HttpConfig::default()
    };
    GitLab::new(config, Secret::new(TOKEN)).expect("client")
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let (url, hits) = stub(
        StatusCode::BAD_GATEWAY,
        r#"{"message":"502 Bad Gateway"}"#,
        Duration::ZERO,
    )
    .await;
    let err = client(&url, Duration::from_secs(60))
        .get(1)
        .await
        .expect_err("502");
    assert!(
        matches!(
            err,
            ForgeError::Server {
                status: 502,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert!(err.to_string().contains("502 Bad Gateway"), "{err}");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (url, hits) = stub(
        StatusCode::FORBIDDEN,
        r#"{"message":"403 Forbidden"}"#,
        Duration::ZERO,
    )
    .await;
    let err = client(&url, Duration::from_secs(60))
        .get(1)
        .await
        .expect_err("403");
    assert!(
        matches!(err, ForgeError::Rejected { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        err.to_string(),
        format!("GET {url}/projects/g%2Fp/merge_requests/1: rejected with HTTP 403: 403 Forbidden")
    );
}

#[tokio::test]
async fn echoed_token_is_redacted() {
    let (url, _) = stub(
        StatusCode::BAD_REQUEST,
        r#"{"message":"bad token glpat-never-print-me"}"#,
        Duration::ZERO,
    )
    .await;
    let err = client(&url, Duration::from_secs(60))
        .get(1)
        .await
        .expect_err("400");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("bad token <redacted>"), "{shown}");
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // Bind then drop: nothing listens on the port any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = client(&format!("http://{addr}/api/v4"), Duration::from_secs(60))
        .get(1)
        .await
        .expect_err("refused");
    assert!(
        matches!(err, ForgeError::Transport { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_server_times_out() {
    let (url, hits) = stub(StatusCode::OK, "{}", Duration::from_secs(120)).await;
    let err = client(&url, Duration::from_millis(300))
        .get(1)
        .await
        .expect_err("timeout");
    assert!(
        matches!(err, ForgeError::Transport { attempts: 3, ref source, .. } if source.is_timeout()),
        "{err:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn the_deadline_cuts_a_request_short_and_stops_retries() {
    let (url, hits) = stub(StatusCode::OK, "{}", Duration::from_secs(120)).await;
    let mut config = GitLabConfig::new(&url, "g/p", "GL_TOKEN");
    config.http = HttpConfig {
        timeout: Duration::from_secs(60),
        max_attempts: 3,
        backoff: Duration::from_millis(10),
        deadline: Deadline::after(Duration::from_millis(300)),
        ..HttpConfig::default()
    };
    let client = GitLab::new(config.clone(), Secret::new(TOKEN)).expect("client");
    let err = client.get(1).await.expect_err("deadline");
    // The 60 s request timeout was shortened to the time left; with none
    // left after it, there was no second attempt.
    assert!(
        matches!(err, ForgeError::Transport { attempts: 1, ref source, .. } if source.is_timeout()),
        "{err:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let err = GitLab::new(config, Secret::new(TOKEN))
        .expect("client")
        .get(1)
        .await
        .expect_err("deadline passed");
    assert_eq!(
        err.to_string(),
        format!(
            "GET {url}/projects/g%2Fp/merge_requests/1: the deadline passed before the request could be sent"
        )
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "nothing sent after the deadline"
    );
}

#[tokio::test]
async fn missing_token_variable_is_named() {
    let config = GitLabConfig::new(
        "https://gitlab.invalid/api/v4",
        "g/p",
        "BATON_TEST_SURELY_UNSET_TOKEN",
    );
    let err = GitLab::from_env(config).expect_err("unset");
    assert_eq!(
        err.to_string(),
        "no forge token: environment variable `BATON_TEST_SURELY_UNSET_TOKEN` is not set or empty"
    );
}
