//! GitHub auto-merge through GraphQL, as `gh pr merge --auto` does it:
//! against the GitHub simulator through the client (a pull request that
//! can merge now is merged at once; one whose required check is pending is
//! armed with `enablePullRequestAutoMerge` and lands when the check
//! passes), against a stub for GitHub's answers the simulator does not
//! stage (the race where the mutation says "clean status", a refusal, the
//! GitHub Enterprise endpoint), and through the real binary: a policy
//! auto-merging prod's request with `auto_merge_stages: [prod]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post, put};
use baton::capabilities::forge::{
    Forge, ForgeError, GitHub, GitHubConfig, GitHubMergeMethod, MergeOptions, MrState,
    NewMergeRequest,
};
use baton::secret::Secret;
use baton::sim::forge::{MergeStrategy, SimMrState};
use reqwest::Method;
use serde_json::{Value, json};

use crate::engine::env::{APP, Env, ForgeKind, Setup, assert_code, stdout};
use crate::forge_support::{self, Kind, Options, TOKEN, TOKEN_ENV, commit, env, head, test_http};
use crate::support::git;

const BRANCH: &str = "baton/payments/prod/v1.1.0";

fn request() -> NewMergeRequest {
    NewMergeRequest {
        source_branch: BRANCH.into(),
        target_branch: "main".into(),
        title: "prod(payments): 1.1.0".into(),
        description: "Promote 1.0.0 -> 1.1.0".into(),
        labels: vec!["baton".into()],
        remove_source_branch: false,
    }
}

fn auto(sha: &str) -> MergeOptions {
    MergeOptions {
        auto_merge: true,
        sha: Some(sha.to_owned()),
        commit_message: None,
    }
}

/// Requires the status check `ci` on `main` (branch protection).
async fn require_ci(e: &forge_support::Env) {
    let (status, _, body) = e
        .raw(
            Method::PUT,
            "/repos/acme/env-repo/branches/main/protection",
            Some(json!({ "required_status_checks": { "strict": false, "contexts": ["ci"] },
                         "enforce_admins": null, "required_pull_request_reviews": null, "restrictions": null })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn report(e: &forge_support::Env, sha: &str, state: &str) {
    let (status, _, body) = e
        .raw(
            Method::POST,
            &format!("/repos/acme/env-repo/statuses/{sha}"),
            Some(json!({ "state": state, "context": "ci" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

fn graphql_calls(e: &forge_support::Env) -> usize {
    e.sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.uri == "/graphql")
        .count()
}

#[tokio::test]
async fn a_pull_request_that_can_merge_now_is_merged_at_once() {
    let e = env(Kind::GitHub, Options::default()).await;
    let base = head(&e.repo, "main");
    let sha = commit(&e.repo, BRANCH, Some(&base), "image:\n  tag: 1.1.0\n");
    let pr = e.forge.create_or_reuse(&request()).await.expect("create");
    let merged = e
        .forge
        .merge(pr.merge_request.iid, &auto(&sha))
        .await
        .expect("merge");
    assert_eq!(merged.state, MrState::Merged);
    assert_eq!(
        git(&e.repo, &["rev-list", "--parents", "-n", "1", "main"])
            .split(' ')
            .count(),
        3
    );
    assert_eq!(graphql_calls(&e), 0, "clean: no auto-merge to arm");
}

#[tokio::test]
async fn a_pending_required_check_arms_auto_merge_until_it_passes() {
    let e = env(Kind::GitHub, Options::default()).await;
    require_ci(&e).await;
    let base = head(&e.repo, "main");
    let sha = commit(&e.repo, BRANCH, Some(&base), "image:\n  tag: 1.1.0\n");
    let pr = e.forge.create_or_reuse(&request()).await.expect("create");
    let iid = pr.merge_request.iid;
    assert_eq!(
        pr.merge_request.detailed_merge_status.as_deref(),
        Some("merge_request_blocked")
    );

    let armed = e.forge.merge(iid, &auto(&sha)).await.expect("arm");
    assert_eq!(armed.state, MrState::Opened);
    assert_eq!(graphql_calls(&e), 1);
    let stored = &e.sim.merge_requests().await[0];
    let armed_with = stored.armed.as_ref().expect("armed");
    assert_eq!(
        (armed_with.strategy, armed_with.enabled_by.as_str()),
        (MergeStrategy::MergeCommit, "baton")
    );
    let (_, _, rest) = e
        .raw(Method::GET, "/repos/acme/env-repo/pulls/1", None)
        .await;
    assert_eq!(rest["auto_merge"]["merge_method"], "merge");
    assert_eq!(head(&e.repo, "main"), base, "nothing landed yet");

    report(&e, &sha, "pending").await;
    report(&e, &sha, "failure").await;
    assert_eq!(e.forge.get(iid).await.expect("get").state, MrState::Opened);
    report(&e, &sha, "success").await;
    let merged = e.forge.get(iid).await.expect("get");
    assert_eq!(merged.state, MrState::Merged);
    let main = head(&e.repo, "main");
    assert_eq!(merged.merge_commit_sha.as_deref(), Some(main.as_str()));
    assert_eq!(
        git(&e.repo, &["rev-list", "--parents", "-n", "1", &main]),
        format!("{main} {base} {sha}")
    );
    assert_eq!(e.sim.merge_requests().await[0].armed, None);
}

#[tokio::test]
async fn the_configured_method_is_the_armed_one() {
    let e = env(Kind::GitHub, Options::default()).await;
    require_ci(&e).await;
    let base = head(&e.repo, "main");
    let sha = commit(&e.repo, BRANCH, Some(&base), "image:\n  tag: 1.1.0\n");
    let mut config = GitHubConfig::new(e.sim.api_url(), "acme", "env-repo", TOKEN_ENV);
    config.http = test_http();
    config.merge_method = GitHubMergeMethod::Squash;
    let squashing = GitHub::new(config, Secret::new(TOKEN)).expect("client");
    let pr = squashing.create_or_reuse(&request()).await.expect("create");
    let options = MergeOptions {
        commit_message: Some("prod(payments): 1.1.0, squashed".into()),
        ..auto(&sha)
    };
    squashing
        .merge(pr.merge_request.iid, &options)
        .await
        .expect("arm");
    report(&e, &sha, "success").await;
    let stored = &e.sim.merge_requests().await[0];
    assert_eq!(stored.state, SimMrState::Merged);
    let main = head(&e.repo, "main");
    assert_eq!(
        git(&e.repo, &["rev-list", "--parents", "-n", "1", &main]),
        format!("{main} {base}")
    );
    assert_eq!(
        git(&e.repo, &["log", "-1", "--format=%s", &main]),
        "prod(payments): 1.1.0, squashed"
    );
}

/// A stub of GitHub Enterprise Server (`/api/v3`, GraphQL at
/// `/api/graphql`) whose pull request #1 reads as `unknown` until merged
/// and whose mutation answers `graphql`; counts merges and mutations.
async fn enterprise_stub(graphql: Value) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let merges = Arc::new(AtomicUsize::new(0));
    let mutations = Arc::new(AtomicUsize::new(0));
    let pull = {
        let merges = merges.clone();
        move || {
            let merged = merges.load(Ordering::SeqCst) > 0;
            async move {
                axum::Json(json!({
                    "number": 1, "node_id": "PR_kwDOstub1", "html_url": "https://ghe.example/acme/r/pull/1",
                    "title": "t", "body": null, "state": if merged { "closed" } else { "open" },
                    "merged_at": if merged { json!("2026-01-01T00:00:00Z") } else { Value::Null },
                    "labels": [], "head": { "ref": "b", "sha": "abc" }, "base": { "ref": "main", "sha": "def" },
                    "mergeable_state": "unknown",
                    "merge_commit_sha": if merged { json!("f00") } else { Value::Null },
                }))
            }
        }
    };
    let merge = {
        let merges = merges.clone();
        move || {
            merges.fetch_add(1, Ordering::SeqCst);
            async {
                axum::Json(
                    json!({ "sha": "f00", "merged": true, "message": "Pull Request successfully merged" }),
                )
            }
        }
    };
    let mutate = {
        let mutations = mutations.clone();
        move |body: axum::Json<Value>| {
            mutations.fetch_add(1, Ordering::SeqCst);
            assert_eq!(body["variables"]["input"]["pullRequestId"], "PR_kwDOstub1");
            assert_eq!(body["variables"]["input"]["mergeMethod"], "MERGE");
            let answer = graphql.clone();
            async move { axum::Json(answer) }
        }
    };
    let app = Router::new()
        .route("/api/v3/repos/acme/r/pulls/1", get(pull))
        .route("/api/v3/repos/acme/r/pulls/1/merge", put(merge))
        .route("/api/graphql", post(mutate));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/api/v3"), merges, mutations)
}

fn enterprise_client(api_url: &str) -> GitHub {
    let mut config = GitHubConfig::new(api_url, "acme", "r", TOKEN_ENV);
    config.http = test_http();
    config.http.timeout = Duration::from_secs(30);
    GitHub::new(config, Secret::new(TOKEN)).expect("client")
}

#[tokio::test]
async fn a_clean_status_answer_merges_directly() {
    let refusal = json!({ "data": { "enablePullRequestAutoMerge": null }, "errors": [{
        "type": "UNPROCESSABLE", "path": ["enablePullRequestAutoMerge"],
        "locations": [{ "line": 1, "column": 70 }],
        "message": "Pull request Pull request is in clean status" }] });
    let (url, merges, mutations) = enterprise_stub(refusal).await;
    let merged = enterprise_client(&url)
        .merge(1, &auto("abc"))
        .await
        .expect("merged instead");
    assert_eq!(merged.state, MrState::Merged);
    assert_eq!(
        (
            mutations.load(Ordering::SeqCst),
            merges.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn other_refusals_are_reported_with_the_endpoint() {
    let refusal = json!({ "data": { "enablePullRequestAutoMerge": null }, "errors": [{
        "type": "UNPROCESSABLE", "message": "Pull request Auto merge is not allowed for this repository" }] });
    let (url, merges, _) = enterprise_stub(refusal).await;
    let err = enterprise_client(&url)
        .merge(1, &auto("abc"))
        .await
        .expect_err("refused");
    assert!(matches!(err, ForgeError::GraphQl { .. }), "{err:?}");
    let graphql = url.replace("/api/v3", "/api/graphql");
    assert_eq!(
        err.to_string(),
        format!(
            "POST {graphql}: GraphQL enablePullRequestAutoMerge failed: Pull request Auto merge is not allowed for this repository"
        )
    );
    assert_eq!(merges.load(Ordering::SeqCst), 0);
}

/// A world whose policy asks for prod's merge request to auto-merge (the
/// hostile policy's `auto-merge-prod`, allowed here: `auto_merge_stages:
/// [prod]`, promotion order off), on GitHub.
fn auto_merging_world() -> Env {
    Env::new(Setup {
        policy: format!(
            "  path: {}\n  settings: {{ bad: auto-merge-prod }}\n",
            crate::policies::HOSTILE_BAD_DECISIONS_PATH
        ),
        guardrails: "  direct_commit_stages: [dev]\n  auto_merge_stages: [prod]\n  max_health_wait: 1m\n  promotion_order: off\n".into(),
        forge: ForgeKind::GitHub,
        ..Setup::default()
    })
}

/// The `merge_request` of every action in the world's audit records.
fn merge_request_records(env: &Env) -> Vec<Value> {
    env.audit_records()
        .iter()
        .flat_map(|r| r["actions"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.get("merge_request").cloned())
        .collect()
}

/// `method path` on the world's GitHub simulator with its token.
fn call(env: &Env, method: Method, path: &str, body: Value) -> (u16, Value) {
    let url = format!("{}{path}", env.forge.api_url());
    env.rt.block_on(async {
        let resp = reqwest::Client::new()
            .request(method, url)
            .bearer_auth(crate::engine::env::FORGE_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    })
}

#[test]
fn the_engine_arms_auto_merge_and_the_check_lands_it() {
    let env = auto_merging_world();
    let protection = json!({ "required_status_checks": { "strict": false, "contexts": ["ci"] },
        "enforce_admins": null, "required_pull_request_reviews": null, "restrictions": null });
    let (status, body) = call(
        &env,
        Method::PUT,
        "/repos/acme/gitops-env/branches/main/protection",
        protection,
    );
    assert_eq!(status, 200, "{body}");

    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("auto-merge armed: the forge merges it when its checks pass"),
        "{}",
        stdout(&out)
    );
    let armed = merge_request_records(&env);
    assert_eq!(armed.len(), 1, "{armed:?}");
    assert_eq!(armed[0]["merged"], json!(false), "{armed:?}");
    assert_eq!(armed[0]["auto_merge_armed"], json!(true), "{armed:?}");
    let mrs = env.merge_requests();
    assert_eq!(mrs.len(), 1);
    assert_eq!(mrs[0].state, SimMrState::Opened);
    assert!(mrs[0].armed.is_some(), "armed: {:?}", mrs[0]);
    assert!(
        env.file("prod").contains("tag: \"v1.0.0\""),
        "nothing merged yet"
    );

    let head = env.git(&["rev-parse", &format!("refs/heads/{}", mrs[0].source_branch)]);
    let (status, body) = call(
        &env,
        Method::POST,
        &format!("/repos/acme/gitops-env/statuses/{head}"),
        json!({ "state": "success", "context": "ci" }),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(env.merge_requests()[0].state, SimMrState::Merged);
    assert!(
        env.file("prod").contains("tag: \"v1.0.1\""),
        "{}",
        env.file("prod")
    );
}

#[test]
fn the_engine_merges_at_once_what_can_merge_now() {
    let env = auto_merging_world();
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]);
    assert_code(&out, 0);
    assert_eq!(env.merge_requests()[0].state, SimMrState::Merged);
    let merged = merge_request_records(&env);
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0]["merged"], json!(true), "{merged:?}");
    assert!(merged[0].get("auto_merge_armed").is_none(), "{merged:?}");
    assert!(
        env.file("prod").contains("tag: \"v1.0.1\""),
        "{}",
        env.file("prod")
    );
    assert!(
        !env.forge.requests().iter().any(|r| r.uri == "/graphql"),
        "nothing to arm"
    );
}
