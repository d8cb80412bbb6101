//! The Argo CD simulator over plain HTTP, checked against the vendored
//! swagger: the application list and its filters, a refresh that makes the
//! controller compare again before answering (on the list and on one
//! application), the `argocd.token` cookie browsers send, and
//! `/api/version` with and without a session.

use std::time::Duration;

use reqwest::header::COOKIE;
use serde_json::{Value, json};

use crate::argocd::common::*;
use crate::argocd::swagger::Swagger;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// `GET url` with the token as a bearer, a cookie, or none: status and
/// JSON body.
async fn get(url: &str, auth: Auth<'_>) -> (u16, Value) {
    let req = match auth {
        Auth::Bearer(t) => http().get(url).bearer_auth(t),
        Auth::Cookie(c) => http().get(url).header(COOKIE, c),
        Auth::None => http().get(url),
    };
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
    None,
}

fn assert_schema(swagger: &Swagger, schema: &Value, body: &Value, what: &str) {
    let errs = swagger.validate(schema, body);
    assert!(errs.is_empty(), "{what}: {errs:#?}\nbody: {body}");
}

fn names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["metadata"]["name"].as_str().expect("name"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_filters_and_validates() {
    let swagger = Swagger::load();
    let repo = TestRepo::new();
    let mut billing = fast_app("billing-dev");
    billing.project = "billing".into();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev"), billing])).await;
    let base = sim.base_url();
    let schema = swagger.response_schema("/api/v1/applications");
    assert_eq!(
        schema,
        json!({ "$ref": "#/definitions/v1alpha1ApplicationList" })
    );

    let list = |query: &'static str| {
        let url = format!("{base}/api/v1/applications{query}");
        async move { get(&url, Auth::Bearer(TOKEN)).await }
    };
    let (code, all) = list("").await;
    assert_eq!(code, 200);
    assert_schema(&swagger, &schema, &all, "the whole list");
    assert_eq!(names(&all), ["payments-dev", "billing-dev"]);
    let repo_url = all["items"][0]["spec"]["source"]["repoURL"]
        .as_str()
        .expect("repoURL")
        .to_owned();

    let cases: [(&str, &[&str]); 9] = [
        ("?name=payments-dev", &["payments-dev"]),
        ("?name=ghost", &[]),
        ("?projects=billing", &["billing-dev"]),
        (
            "?project=default&project=billing",
            &["payments-dev", "billing-dev"],
        ),
        ("?appNamespace=elsewhere", &[]),
        (
            "?selector=app.kubernetes.io%2Fpart-of%3Dbaton-sim",
            &["payments-dev", "billing-dev"],
        ),
        ("?selector=app.kubernetes.io%2Fpart-of%21%3Dbaton-sim", &[]),
        ("?selector=%21team", &["payments-dev", "billing-dev"]),
        ("?repo=file%3A%2F%2Fnowhere", &[]),
    ];
    for (query, expected) in cases {
        let (code, body) = list(query).await;
        assert_eq!(code, 200, "{query}");
        assert_schema(&swagger, &schema, &body, query);
        assert_eq!(names(&body), expected, "{query}");
    }
    let url = format!(
        "{base}/api/v1/applications?repo={}",
        url::form_urlencoded::byte_serialize(repo_url.as_bytes()).collect::<String>()
    );
    let (_, by_repo) = get(&url, Auth::Bearer(TOKEN)).await;
    assert_eq!(names(&by_repo).len(), 2);

    let (code, err) = list("?selector=team%20in%20(a)").await;
    assert_eq!(code, 400);
    assert_eq!(err["code"], 3);
    assert_schema(
        &swagger,
        &json!({ "$ref": "#/definitions/runtimeError" }),
        &err,
        "a set-based selector",
    );
    let (code, err) = get(&format!("{base}/api/v1/applications"), Auth::None).await;
    assert_eq!(
        (code, err["message"].as_str()),
        (401, Some("no session information"))
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_compares_again_before_answering() {
    let swagger = Swagger::load();
    let repo = TestRepo::new();
    let mut config = sim_config(&repo, vec![fast_app("payments-dev")]);
    // The controller would not look again for an hour: only a refresh does.
    config.poll_interval_ms = 3_600_000;
    let sim = start(config).await;
    let base = sim.base_url();
    let app_url = format!("{base}/api/v1/applications/payments-dev");
    let (_, before) = get(&app_url, Auth::Bearer(TOKEN)).await;
    let first = before["status"]["sync"]["revision"].clone();
    let version = |app: &Value| -> u64 {
        app["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("resourceVersion")
    };

    let pushed = repo.set_version("v1.1.0");
    let (_, plain) = get(&app_url, Auth::Bearer(TOKEN)).await;
    assert_eq!(
        plain["status"]["sync"]["revision"], first,
        "no refresh, no news"
    );

    let (code, refreshed) = get(&format!("{app_url}?refresh=normal"), Auth::Bearer(TOKEN)).await;
    assert_eq!(code, 200);
    assert_eq!(refreshed["status"]["sync"]["revision"], json!(pushed));
    assert!(version(&refreshed) > version(&plain));
    let reconciled = |app: &Value| {
        baton::time::parse_rfc3339(
            app["status"]["reconciledAt"]
                .as_str()
                .expect("reconciledAt"),
        )
        .expect("RFC 3339")
    };
    assert!(reconciled(&refreshed) >= reconciled(&before));
    assert_schema(
        &swagger,
        &json!({ "$ref": "#/definitions/v1alpha1Application" }),
        &refreshed,
        "a refreshed application",
    );

    // A hard refresh through the list: the same again, for what it lists.
    let (_, hard) = get(
        &format!("{base}/api/v1/applications?name=payments-dev&refresh=hard"),
        Auth::Bearer(TOKEN),
    )
    .await;
    assert_eq!(names(&hard), ["payments-dev"]);
    assert!(version(&hard["items"][0]) > version(&refreshed));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_and_the_version() {
    let swagger = Swagger::load();
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    let base = sim.base_url();
    let app_url = format!("{base}/api/v1/applications/payments-dev");
    let cookie = format!("theme=dark; argocd.token={TOKEN}");

    let (code, app) = get(&app_url, Auth::Cookie(&cookie)).await;
    assert_eq!(
        (code, app["metadata"]["name"].as_str()),
        (200, Some("payments-dev"))
    );
    let (code, err) = get(&app_url, Auth::Cookie("argocd.token=a.b.c")).await;
    assert_eq!(
        (code, err["message"].as_str()),
        (401, Some("invalid session: token signature is invalid"))
    );
    let resp = http()
        .get(format!(
            "{base}/api/v1/stream/applications?name=payments-dev"
        ))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.status().as_u16(), 200);
    drop(resp);

    let schema = swagger.response_schema("/api/version");
    let (code, anonymous) = get(&format!("{base}/api/version"), Auth::None).await;
    assert_eq!(code, 200);
    assert_schema(&swagger, &schema, &anonymous, "the anonymous version");
    assert_eq!(anonymous.as_object().map(|o| o.len()), Some(1));
    assert!(
        anonymous["Version"]
            .as_str()
            .is_some_and(|v| v.starts_with('v'))
    );
    for auth in [Auth::Bearer(TOKEN), Auth::Cookie(&cookie)] {
        let (code, full) = get(&format!("{base}/api/version"), auth).await;
        assert_eq!(code, 200);
        assert_schema(&swagger, &schema, &full, "the version");
        assert_eq!(full["Version"], anonymous["Version"]);
        assert_eq!(full["Platform"], "linux/amd64");
    }
    sim.shutdown().await;
}
