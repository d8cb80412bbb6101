//! The small HTTP conventions both simulators share: request parameters
//! (query string, JSON or form body), page selection and page links, and
//! the current time as each forge writes it.

/// Request parameters: the query string, then a JSON or form body (GitLab
/// accepts both anywhere; GitHub only JSON bodies).
pub(crate) fn params(
    query: Option<&str>,
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut map = serde_json::Map::new();
    if let Some(q) = query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            map.insert(k.into_owned(), serde_json::Value::String(v.into_owned()));
        }
    }
    let trimmed = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| &body[i..])
        .unwrap_or(&[]);
    if trimmed.is_empty() {
        return Ok(map);
    }
    if trimmed[0] == b'{' || trimmed[0] == b'[' {
        match serde_json::from_slice::<serde_json::Value>(trimmed) {
            Ok(serde_json::Value::Object(obj)) => map.extend(obj),
            Ok(other) => {
                map.insert("_body".into(), other);
            }
            Err(e) => return Err(format!("Problems parsing JSON: {e}")),
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(trimmed) {
            map.insert(k.into_owned(), serde_json::Value::String(v.into_owned()));
        }
    }
    Ok(map)
}

/// A string parameter.
pub(crate) fn p_str(p: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    match p.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A boolean parameter: a JSON boolean or number, or a string spelled as
/// GitLab's parameter coercion (dry-types `Params::Bool`) accepts it, in
/// any case: `true`/`1`/`t`/`yes`/`y`/`on` and `false`/`0`/`f`/`no`/`n`/
/// `off`. Python clients send `True` and `False` in query strings. Any
/// other spelling reads as absent.
pub(crate) fn p_bool(p: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<bool> {
    match p.get(key)? {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "t" | "yes" | "y" | "on" => Some(true),
            "false" | "0" | "f" | "no" | "n" | "off" => Some(false),
            _ => None,
        },
        serde_json::Value::Number(n) => Some(n.as_u64() != Some(0)),
        _ => None,
    }
}

/// Every value of query parameter `key`, in order: GitLab's arrays come
/// as a repeated `key[]=…` (python-gitlab's `iids[]=1&iids[]=2`), which
/// [`params`] folds into one.
pub(crate) fn query_all(query: Option<&str>, key: &str) -> Vec<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// Labels as a comma-separated string or a JSON array.
pub(crate) fn p_labels(value: Option<&serde_json::Value>) -> Vec<String> {
    let names: Vec<String> = match value {
        Some(serde_json::Value::String(s)) => s.split(',').map(str::to_owned).collect(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|i| {
                i.as_str()
                    .or_else(|| i.get("name").and_then(|n| n.as_str()))
            })
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for n in names
        .into_iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
    {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Page selection: (page from 1, per_page clamped to 1..=100).
pub(crate) fn page_params(
    p: &serde_json::Map<String, serde_json::Value>,
    default_per_page: usize,
) -> (usize, usize) {
    let page = p_str(p, "page")
        .and_then(|s| s.parse().ok())
        .filter(|&n: &usize| n >= 1)
        .unwrap_or(1);
    let per_page = p_str(p, "per_page")
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_per_page)
        .clamp(1, 100);
    (page, per_page)
}

/// `url` with its `page` query parameter set.
pub(crate) fn with_page(base: &str, path: &str, query: Option<&str>, page: usize) -> String {
    let mut pairs: Vec<(String, String)> = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    pairs.retain(|(k, _)| k != "page");
    pairs.push(("page".into(), page.to_string()));
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{base}{path}?{q}")
}

/// One `Link` header entry, `<url>; rel="rel"`, for page `page` of the
/// list at `path?query`.
pub(crate) fn page_link(
    base: &str,
    path: &str,
    query: Option<&str>,
    page: usize,
    rel: &str,
) -> String {
    format!("<{}>; rel=\"{rel}\"", with_page(base, path, query, page))
}

/// The current UTC time as RFC 3339, with milliseconds if `millis` (GitLab
/// writes them, GitHub does not).
pub(crate) fn now_rfc3339(millis: bool) -> String {
    let now = std::time::SystemTime::now();
    if millis {
        crate::time::format_rfc3339_millis(now)
    } else {
        crate::time::format_rfc3339(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_merge_query_json_and_form() {
        let p = params(
            Some("auto_merge=true&page=2"),
            br#"{"sha":"abc","labels":["a","b"]}"#,
        )
        .expect("json");
        assert_eq!(p_bool(&p, "auto_merge"), Some(true));
        assert_eq!(p_str(&p, "sha").as_deref(), Some("abc"));
        assert_eq!(p_labels(p.get("labels")), vec!["a", "b"]);
        let f = params(None, b"title=x&labels=a,b,,a").expect("form");
        assert_eq!(p_labels(f.get("labels")), vec!["a", "b"]);
        assert!(params(None, b"{oops").is_err());
    }

    #[test]
    fn booleans_read_as_gitlab_coerces_them() {
        let p = params(
            Some("a=True&b=FALSE&c=on&d=0&e=maybe&f=yes"),
            br#"{"g":true}"#,
        )
        .expect("query");
        let read: Vec<Option<bool>> = ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .map(|k| p_bool(&p, k))
            .collect();
        assert_eq!(
            read,
            [
                Some(true),
                Some(false),
                Some(true),
                Some(false),
                None,
                Some(true),
                Some(true),
                None
            ]
        );
    }

    #[test]
    fn repeated_array_parameters_keep_every_value() {
        let q = Some("iids%5B%5D=1&state=all&iids[]=3");
        assert_eq!(query_all(q, "iids[]"), ["1", "3"]);
        assert!(query_all(q, "labels").is_empty());
    }
}
