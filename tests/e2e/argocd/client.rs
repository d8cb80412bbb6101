//! The client against the simulator: typed errors, retries, sync.

use baton::capabilities::argocd::{AppRef, ArgoCdClient, ArgoCdConfig, RequestError};
use baton::retry::Deadline;
use baton::secret::Secret;

use crate::argocd::common::*;

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_names_the_variable_never_the_token() {
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    let wrong = "eyJ3cm9uZyI.c2VjcmV0LXZhbHVl.c2ln";
    let client = ArgoCdClient::new(client_config(&sim, wrong)).expect("client");
    let err = client
        .get_application(&AppRef::named("payments-dev"), false)
        .await
        .expect_err("401");
    let text = chain(&err);
    assert!(matches!(err, RequestError::Unauthorized { .. }), "{err:?}");
    assert_eq!(
        text,
        format!(
            "{}/api/v1/applications/payments-dev: Argo CD rejected the credentials (401: invalid session: token signature is invalid); check the token in $ARGOCD_AUTH_TOKEN",
            sim.base_url()
        )
    );
    assert!(!text.contains(wrong) && !format!("{err:?}").contains(wrong));

    // The watch reports the same error and ends.
    let mut watch = client.watch(AppRef::named("payments-dev"));
    use baton::capabilities::argocd::StatusSource;
    let err = watch
        .next_status()
        .await
        .expect("an item")
        .expect_err("401");
    assert!(chain(&err).contains("$ARGOCD_AUTH_TOKEN") && !chain(&err).contains(wrong));
    assert!(watch.next_status().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_apps_forbidden_and_not_found() {
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    let client = client(&sim);
    let err = client
        .get_application(&AppRef::named("ghost"), false)
        .await
        .expect_err("403");
    assert_eq!(
        err.to_string(),
        format!(
            "{}/api/v1/applications/ghost: permission denied (403) for application `ghost`: it may not exist, or the token in $ARGOCD_AUTH_TOKEN lacks access to it",
            sim.base_url()
        )
    );
    let scoped = AppRef {
        name: "ghost".into(),
        app_namespace: None,
        project: Some("default".into()),
    };
    let err = client
        .get_application(&scoped, false)
        .await
        .expect_err("404");
    assert!(
        matches!(&err, RequestError::NotFound { app, message, .. } if app == "ghost" && message == "applications.argoproj.io \"ghost\" not found"),
        "{err:?}"
    );
    let err = client
        .resource_tree(&AppRef::named("ghost"))
        .await
        .expect_err("403");
    assert!(matches!(err, RequestError::PermissionDenied { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_a_5xx_burst_within_bounds() {
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    let mut config = client_config(&sim, TOKEN);
    config.max_retries = 3;
    let client = ArgoCdClient::new(config).expect("client");
    let app = AppRef::named("payments-dev");

    sim.faults().fail_next(3);
    let status = client
        .get_application(&app, false)
        .await
        .expect("survives 3 failures");
    assert_eq!(status.sync.revision.as_deref(), Some(repo.head().as_str()));

    sim.faults().fail_next(10);
    let err = client
        .get_application(&app, false)
        .await
        .expect_err("4 attempts are not enough");
    assert!(
        matches!(&err, RequestError::Status { status: 503, message, .. } if message == "simulated outage: connection refused"),
        "{err:?}"
    );
    sim.faults().fail_next(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_and_refresh() {
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    let client = client(&sim);
    let app = AppRef::named("payments-dev");

    let tree = client.resource_tree(&app).await.expect("tree");
    let kinds: Vec<&str> = tree.nodes.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(kinds, ["Service", "Deployment", "ReplicaSet", "Pod"]);
    assert_eq!(tree.nodes[3].images, ["payments-dev:v1.0.0"]);

    // refresh=normal answers after the simulator has looked at the branch.
    let commit = repo.set_version("v1.1.0");
    let status = client.get_application(&app, true).await.expect("get");
    assert_eq!(status.sync.revision.as_deref(), Some(commit.as_str()));
}

#[test]
fn refuses_a_base_url_without_scheme() {
    let config = ArgoCdConfig::new("argocd.example.com", Secret::new("t"), TOKEN_VAR);
    let err = ArgoCdClient::new(config).expect_err("no scheme");
    assert_eq!(
        err.to_string(),
        "Argo CD base URL `argocd.example.com` must start with https:// or http://"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_server_hits_the_request_timeout() {
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    sim.faults().set_delay(std::time::Duration::from_secs(3));
    let mut config = client_config(&sim, TOKEN);
    config.request_timeout = std::time::Duration::from_millis(200);
    config.max_retries = 1;
    let client = ArgoCdClient::new(config).expect("client");
    let err = client
        .get_application(&AppRef::named("payments-dev"), false)
        .await
        .expect_err("times out");
    match &err {
        RequestError::Transport { source, .. } => assert!(source.is_timeout(), "{source:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.is_transient());
    sim.faults().set_delay(std::time::Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_after_the_deadline() {
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    let mut config = client_config(&sim, TOKEN);
    config.deadline = Deadline::at(std::time::Instant::now());
    let client = ArgoCdClient::new(config).expect("client");
    let err = client
        .get_application(&AppRef::named("payments-dev"), false)
        .await
        .expect_err("deadline passed");
    assert_eq!(
        err.to_string(),
        format!(
            "{}/api/v1/applications/payments-dev: the deadline passed before the request could be sent",
            sim.base_url()
        )
    );
    assert!(!err.is_transient());
}
