//! What the two read-only HTTP clients (Argo CD, Prometheus) set up the
//! same way: the base URL they accept, the `reqwest` client (rustls,
//! certificate verification on unless explicitly opted out) and the retry
//! policy their settings describe. The forges have their own transport
//! ([`super::forge::http`]): auth headers, pages and bodies differ.

use std::time::Duration;

use crate::retry::{Jitter, RetryPolicy};

/// `configured` without trailing slashes, when it is an absolute
/// `http://` or `https://` URL.
pub(crate) fn base_url(configured: &str) -> Option<String> {
    let trimmed = configured.trim_end_matches('/');
    (trimmed.starts_with("https://") || trimmed.starts_with("http://")).then(|| trimmed.to_owned())
}

/// A client with rustls and `connect_timeout`; `accept_invalid_certs`
/// turns certificate verification off (only an explicit config does).
pub(crate) fn client(
    connect_timeout: Duration,
    accept_invalid_certs: bool,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(connect_timeout)
        .danger_accept_invalid_certs(accept_invalid_certs)
        .build()
}

/// `max_retries` after the first attempt, delays doubling from `initial`
/// up to `max`, without jitter.
pub(crate) fn backoff(max_retries: u32, initial: Duration, max: Duration) -> RetryPolicy {
    RetryPolicy {
        attempts: max_retries.saturating_add(1),
        base: initial,
        cap: max,
        jitter: Jitter::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_absolute_http_without_trailing_slashes() {
        assert_eq!(
            base_url("https://argocd.example.com//").as_deref(),
            Some("https://argocd.example.com")
        );
        assert_eq!(
            base_url("http://127.0.0.1:9090").as_deref(),
            Some("http://127.0.0.1:9090")
        );
        assert_eq!(base_url("argocd.example.com"), None);
        assert_eq!(base_url("ftp://example.com"), None);
    }

    #[test]
    fn retries_come_after_the_first_attempt() {
        let policy = backoff(3, Duration::from_millis(200), Duration::from_secs(2));
        assert_eq!(policy.attempts, 4);
        assert_eq!(policy.base, Duration::from_millis(200));
        assert_eq!(policy.cap, Duration::from_secs(2));
        assert_eq!(
            backoff(u32::MAX, Duration::ZERO, Duration::ZERO).attempts,
            u32::MAX
        );
    }
}
