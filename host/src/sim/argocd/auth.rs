//! Where the real server finds the session token of an HTTP request
//! (`server/server.go` `getToken`): `Authorization: Bearer <jwt>`, else
//! the `argocd.token` cookie the web UI and browsers use (a long token is
//! split over `argocd.token`, `argocd.token-1`, … and joined back). Only
//! JWT-shaped values (three dot-separated parts) count at all.

use axum::http::{HeaderMap, header};

/// The cookie holding the session token.
const COOKIE: &str = "argocd.token";

fn jwt_shaped(token: &str) -> bool {
    token.split('.').count() == 3
}

/// The session token the request presents, if any.
pub(super) fn presented_token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.strip_prefix("Bearer "))
        .find(|t| jwt_shaped(t));
    if let Some(token) = bearer {
        return Some(token.to_owned());
    }
    let mut parts: Vec<(usize, String)> = Vec::new();
    for line in headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for pair in line.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            let index = match name.strip_prefix(COOKIE) {
                Some("") => 0,
                Some(rest) => match rest.strip_prefix('-').and_then(|n| n.parse().ok()) {
                    Some(n) => n,
                    None => continue,
                },
                None => continue,
            };
            parts.push((index, value.trim_matches('"').to_owned()));
        }
    }
    parts.sort_by_key(|(i, _)| *i);
    let token: String = parts.into_iter().map(|(_, v)| v).collect();
    (!token.is_empty() && jwt_shaped(&token)).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(name.clone(), HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn bearer_first_then_the_cookie() {
        let both = headers(&[
            (header::AUTHORIZATION, "Bearer a.b.c"),
            (header::COOKIE, "argocd.token=d.e.f"),
        ]);
        assert_eq!(presented_token(&both).as_deref(), Some("a.b.c"));
        let cookie = headers(&[(header::COOKIE, "theme=dark; argocd.token=d.e.f")]);
        assert_eq!(presented_token(&cookie).as_deref(), Some("d.e.f"));
        // A bearer that is not JWT-shaped is ignored, not preferred.
        let opaque = headers(&[
            (header::AUTHORIZATION, "Bearer opaque"),
            (header::COOKIE, "argocd.token=d.e.f"),
        ]);
        assert_eq!(presented_token(&opaque).as_deref(), Some("d.e.f"));
    }

    #[test]
    fn split_cookies_join_in_order() {
        let split = headers(&[(
            header::COOKIE,
            "argocd.token-1=.e.f; argocd.token=d; other=x",
        )]);
        assert_eq!(presented_token(&split).as_deref(), Some("d.e.f"));
        assert_eq!(presented_token(&HeaderMap::new()), None);
        let not_jwt = headers(&[(header::COOKIE, "argocd.token=plain")]);
        assert_eq!(presented_token(&not_jwt), None);
    }
}
