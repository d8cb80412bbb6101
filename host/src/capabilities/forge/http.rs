//! The HTTP transport both forge clients share: one `reqwest` client (rustls,
//! certificate verification on), the auth header marked sensitive, timeouts,
//! bounded retries with exponential backoff on 5xx and connection errors
//! ([`crate::retry`], within the configured deadline; 4xx are returned to the
//! caller, never retried), and page links.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::error::ForgeError;
use crate::retry::{self, Deadline, Jitter, RetryPolicy};
use crate::secret::Secret;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The most pages one list call follows.
const MAX_PAGES: usize = 1000;

/// Timeouts and retry bounds for forge calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Attempts per call, at least 1 (5xx and connection errors retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time, capped at 10 s.
    pub backoff: Duration,
    /// No request (or retry) starts after it, and each request's timeout
    /// is shortened to the time left.
    pub deadline: Deadline,
}

impl HttpConfig {
    /// The retry policy of every call.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            attempts: self.max_attempts,
            base: self.backoff,
            cap: MAX_BACKOFF,
            jitter: Jitter::None,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 4,
            backoff: Duration::from_millis(500),
            deadline: Deadline::NONE,
        }
    }
}

/// A response whose status was not 5xx or 401.
#[derive(Debug)]
pub(crate) struct Reply {
    pub method: Method,
    pub url: Url,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// Parses the body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ForgeError> {
        serde_json::from_slice(&self.body).map_err(|source| ForgeError::Decode {
            method: self.method.to_string(),
            url: self.url.to_string(),
            source,
        })
    }

    /// The reply itself when its status is `ok`, else the generic error.
    pub fn expect(self, ok: StatusCode) -> Result<Self, ForgeError> {
        if self.status == ok {
            Ok(self)
        } else {
            Err(self.into_error())
        }
    }

    /// The body parsed as `T` when the status is `ok`, else the generic
    /// error.
    pub fn expect_json<T: DeserializeOwned>(self, ok: StatusCode) -> Result<T, ForgeError> {
        self.expect(ok)?.json()
    }

    /// The forge's error text: GitLab `message` (string, list or field map)
    /// or `error`, GitHub `message` plus `errors[].message`.
    pub fn message(&self) -> String {
        error_message(&self.body)
    }

    /// The generic error for an unexpected 4xx.
    pub fn into_error(self) -> ForgeError {
        let message = self.message();
        if self.status == StatusCode::NOT_FOUND {
            ForgeError::NotFound {
                method: self.method.to_string(),
                url: self.url.to_string(),
                message,
            }
        } else {
            ForgeError::Rejected {
                method: self.method.to_string(),
                url: self.url.to_string(),
                status: self.status.as_u16(),
                message,
            }
        }
    }

    /// The next page: `Link: <…>; rel="next"`, else GitLab's `X-Next-Page`.
    pub fn next_page(&self) -> Option<Url> {
        if let Some(next) = self
            .headers
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(link_next)
        {
            return Url::parse(&next).ok();
        }
        let page = self.headers.get("x-next-page")?.to_str().ok()?.trim();
        if page.is_empty() {
            return None;
        }
        let mut url = self.url.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("page", page);
        Some(url)
    }
}

/// The `rel="next"` target of one `Link` header value, if any.
pub(crate) fn link_next(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim().split_once('='), Some(("rel", v)) if v.trim_matches('"').split(' ').any(|r| r == "next")));
        is_next.then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

/// Flattens a forge error body into one line of text.
pub(crate) fn error_message(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body);
        return text.chars().take(300).collect();
    };
    let mut parts = Vec::new();
    for key in ["message", "error"] {
        if let Some(v) = value.get(key) {
            flatten(v, &mut parts);
        }
    }
    if let Some(errors) = value.get("errors").and_then(|e| e.as_array()) {
        for e in errors {
            match e.get("message") {
                Some(m) => flatten(m, &mut parts),
                None => flatten(e, &mut parts),
            }
        }
    }
    parts.join("; ")
}

fn flatten(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        serde_json::Value::Object(map) => {
            for (field, v) in map {
                let mut inner = Vec::new();
                flatten(v, &mut inner);
                out.push(format!("{field} {}", inner.join(", ")));
            }
        }
        other => out.push(other.to_string()),
    }
}

/// The token in the variable `token_env`, or the error naming it.
pub(crate) fn token_from_env(token_env: &str) -> Result<Secret, ForgeError> {
    Secret::from_env(token_env).ok_or_else(|| ForgeError::MissingToken {
        token_env: token_env.to_owned(),
    })
}

/// One authenticated client for one forge API.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
    config: HttpConfig,
    token: Secret,
    token_env: String,
}

impl Transport {
    /// Builds the client; `auth` is the header carrying the token.
    pub fn new(
        base_url: &str,
        config: HttpConfig,
        auth: (HeaderName, String),
        extra: &[(HeaderName, &'static str)],
        token: Secret,
        token_env: String,
    ) -> Result<Self, ForgeError> {
        let mut headers = HeaderMap::new();
        // A token with bytes not allowed in a header cannot authenticate: send
        // none, and the forge's 401 names the variable.
        if let Ok(mut value) = HeaderValue::from_str(&auth.1) {
            value.set_sensitive(true);
            headers.insert(auth.0, value);
        }
        for (name, value) in extra {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .build()
            .map_err(|source| ForgeError::Client {
                url: base_url.to_owned(),
                source,
            })?;
        Ok(Self {
            client,
            config,
            token,
            token_env,
        })
    }

    /// Every item of a list call starting at `url`, following the pages
    /// (`Link: rel="next"` or `X-Next-Page`).
    pub async fn all_pages<T: DeserializeOwned>(&self, url: Url) -> Result<Vec<T>, ForgeError> {
        let mut all = Vec::new();
        let mut next = Some(url);
        // Bounded: a server that keeps sending `next` cannot loop us forever.
        for _ in 0..MAX_PAGES {
            let Some(url) = next.take() else { break };
            let reply = self.send(Method::GET, url, None).await?;
            let reply = reply.expect(StatusCode::OK)?;
            all.extend(reply.json::<Vec<T>>()?);
            next = reply.next_page();
        }
        Ok(all)
    }

    /// Sends one request, retrying 5xx and connection errors; maps 401.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, ForgeError> {
        let attempt = |attempt: retry::Attempt| {
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .timeout(attempt.timeout(self.config.timeout));
            if let Some(body) = body {
                request = request.json(body);
            }
            async move {
                let response = request.send().await?;
                let (status, headers) = (response.status(), response.headers().clone());
                let body = response.bytes().await?;
                Ok((status, headers, body.to_vec()))
            }
        };
        let transient = |outcome: &Outcome| match outcome {
            Ok((status, _, _)) => status.is_server_error(),
            Err(e) => e.is_connect() || e.is_timeout() || e.is_request() || e.is_body(),
        };
        let finished = retry::run(
            self.config.retry_policy(),
            self.config.deadline,
            attempt,
            transient,
        )
        .await
        .map_err(|_| ForgeError::Deadline {
            method: method.to_string(),
            url: url.to_string(),
        })?;
        self.reply(method, url, finished)
    }

    /// Maps the last attempt's outcome to a reply or an error.
    fn reply(
        &self,
        method: Method,
        url: Url,
        finished: retry::Finished<Outcome>,
    ) -> Result<Reply, ForgeError> {
        match finished.result {
            Ok((status, _, body)) if status.is_server_error() => Err(ForgeError::Server {
                method: method.to_string(),
                url: url.to_string(),
                status: status.as_u16(),
                attempts: finished.attempts,
                message: self.token.redact(&error_message(&body)),
            }),
            Ok((StatusCode::UNAUTHORIZED, _, _)) => Err(ForgeError::Unauthorized {
                method: method.to_string(),
                url: url.to_string(),
                token_env: self.token_env.clone(),
            }),
            Ok((status, headers, body)) => Ok(Reply {
                method,
                url,
                status,
                headers,
                body: redact_bytes(&self.token, body),
            }),
            Err(source) => Err(ForgeError::Transport {
                method: method.to_string(),
                url: url.to_string(),
                attempts: finished.attempts,
                source,
            }),
        }
    }
}

/// What one attempt got: status, headers and body, or reqwest's error.
type Outcome = Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error>;

/// A server may echo the token back (in an error body): strip it before the
/// body can reach an error message or a log.
fn redact_bytes(token: &Secret, body: Vec<u8>) -> Vec<u8> {
    match String::from_utf8(body) {
        Ok(text) if !token.expose().is_empty() && text.contains(token.expose()) => {
            token.redact(&text).into_bytes()
        }
        Ok(text) => text.into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let h = r#"<https://gl/api/v4/x?page=1>; rel="first", <https://gl/api/v4/x?page=3>; rel="next", <https://gl/api/v4/x?page=9>; rel="last""#;
        assert_eq!(link_next(h).as_deref(), Some("https://gl/api/v4/x?page=3"));
        assert_eq!(link_next(r#"<https://gl/x?page=1>; rel="prev""#), None);
    }

    #[test]
    fn error_bodies_flatten() {
        assert_eq!(
            error_message(br#"{"message":["Another open merge request already exists for this source branch: !7"]}"#),
            "Another open merge request already exists for this source branch: !7"
        );
        assert_eq!(
            error_message(br#"{"error":"title is missing"}"#),
            "title is missing"
        );
        assert_eq!(
            error_message(br#"{"message":{"title":["is too long"]}}"#),
            "title is too long"
        );
        assert_eq!(
            error_message(
                br#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for o:b."}]}"#
            ),
            "Validation Failed; A pull request already exists for o:b."
        );
    }

    #[test]
    fn x_next_page_replaces_page() {
        let mut headers = HeaderMap::new();
        headers.insert("x-next-page", HeaderValue::from_static("2"));
        let reply = Reply {
            method: Method::GET,
            url: Url::parse("http://h/api/v4/projects/1/merge_requests?state=opened&page=1")
                .expect("url"),
            status: StatusCode::OK,
            headers,
            body: Vec::new(),
        };
        assert_eq!(
            reply.next_page().map(|u| u.to_string()).as_deref(),
            Some("http://h/api/v4/projects/1/merge_requests?state=opened&page=2")
        );
    }
}
