//! The simulators' wire format: MR / PR objects have the field names and
//! JSON types of the upstream sample payloads (tests/fixtures/forge/), and
//! success and error answers have the fact sheet's status codes and bodies.

use crate::forge_support;

use forge_support::{Kind, Options, commit, env, fixture, head, shape_diff};
use reqwest::Method;
use serde_json::{Value, json};

const BRANCH: &str = "baton/prod-payments-2.0.0";

fn assert_shape(sample: &Value, actual: &Value, what: &str) {
    let mut diffs = Vec::new();
    shape_diff(sample, actual, what, &mut diffs);
    assert!(
        diffs.is_empty(),
        "{what} differs from the sample:\n{}",
        diffs.join("\n")
    );
}

#[tokio::test]
async fn gitlab_payloads_match_samples() {
    let e = env(Kind::GitLab, Options::default()).await;
    let base = head(&e.repo, "main");
    commit(&e.repo, BRANCH, Some(&base), "image:\n  tag: 2.0.0\n");
    let create = json!({ "source_branch": BRANCH, "target_branch": "main", "title": "prod(payments): 2.0.0", "labels": "a,b" });
    let (status, _, created) = e
        .raw(
            Method::POST,
            "/projects/group%2Fenv-repo/merge_requests",
            Some(create.clone()),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["labels"], json!(["a", "b"]));
    let single = fixture("go-gitlab__testdata__get_merge_request.json");
    assert_shape(&single, &created, "POST merge_requests");

    let (status, headers, list) =
        e.raw(Method::GET, "/projects/group%2Fenv-repo/merge_requests?state=opened&source_branch=baton%2Fprod-payments-2.0.0", None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    for name in [
        "x-total",
        "x-total-pages",
        "x-per-page",
        "x-page",
        "x-next-page",
        "x-prev-page",
        "link",
    ] {
        assert!(
            headers.contains_key(name),
            "missing pagination header {name}"
        );
    }
    assert_eq!(headers["x-total"], "1");
    assert_eq!(headers["x-next-page"], "");
    let sample_list = fixture("go-gitlab__testdata__get_merge_requests.json");
    assert_shape(&sample_list, &list, "GET merge_requests");
    assert_shape(
        &fixture("argo-cd__applicationset__gitlab_mr_list_response.json"),
        &list,
        "GET merge_requests (argo-cd)",
    );

    let (status, _, note) = e
        .raw(
            Method::POST,
            "/projects/42/merge_requests/1/notes",
            Some(json!({ "body": "hello" })),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        (note["noteable_type"].clone(), note["noteable_iid"].clone()),
        (json!("MergeRequest"), json!(1))
    );

    let (status, _, merged) = e
        .raw(
            Method::PUT,
            "/projects/42/merge_requests/1/merge",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(merged["state"], "merged");
    assert_eq!(merged["detailed_merge_status"], "not_open");
    assert!(merged["merge_commit_sha"].is_string() && merged["merged_by"].is_object());
    assert_shape(&single, &merged, "PUT merge");
}

#[tokio::test]
async fn gitlab_error_bodies_are_exact() {
    let e = env(Kind::GitLab, Options::default()).await;
    let base = head(&e.repo, "main");
    commit(&e.repo, BRANCH, Some(&base), "image:\n  tag: 2.0.0\n");
    let path = "/projects/group%2Fenv-repo/merge_requests";
    let create = json!({ "source_branch": BRANCH, "target_branch": "main", "title": "t" });
    assert_eq!(e.raw(Method::POST, path, Some(create.clone())).await.0, 201);
    let (status, _, body) = e.raw(Method::POST, path, Some(create)).await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({ "message": ["Another open merge request already exists for this source branch: !1"] })
        )
    );
    let (status, _, body) = e
        .raw(
            Method::POST,
            path,
            Some(json!({ "source_branch": "nope", "target_branch": "main", "title": "t" })),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({ "message": ["Source branch \"nope\" does not exist"] })
        )
    );
    let (status, _, body) = e
        .raw(Method::POST, path, Some(json!({ "source_branch": BRANCH })))
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({ "error": "target_branch is missing, title is missing" })
        )
    );
    let (status, _, body) = e.raw(Method::GET, &format!("{path}/99"), None).await;
    assert_eq!((status, body), (404, json!({ "message": "404 Not found" })));
    let (status, _, body) = e
        .raw(
            Method::GET,
            "/projects/other%2Fproject/merge_requests",
            None,
        )
        .await;
    assert_eq!(
        (status, body),
        (404, json!({ "message": "404 Project Not Found" }))
    );
    let (status, _, body) = e
        .raw(
            Method::PUT,
            &format!("{path}/1/merge"),
            Some(json!({ "sha": "abc" })),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({ "message": "SHA does not match HEAD of source branch" })
        )
    );
    assert_eq!(
        e.raw(Method::PUT, &format!("{path}/1/merge"), None).await.0,
        200
    );
    let (status, _, body) = e.raw(Method::PUT, &format!("{path}/1/merge"), None).await;
    assert_eq!(
        (status, body),
        (405, json!({ "message": "405 Method Not Allowed" }))
    );

    let anonymous = reqwest::get(format!("{}/api/v4{path}", e.sim.base_url()))
        .await
        .expect("send");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.json::<Value>().await.expect("json"),
        json!({ "message": "401 Unauthorized" })
    );
}

#[tokio::test]
async fn github_payloads_match_samples() {
    let e = env(Kind::GitHub, Options::default()).await;
    commit(
        &e.repo,
        BRANCH,
        Some(&head(&e.repo, "main")),
        "image:\n  tag: 2.0.0\n",
    );
    let sample = fixture("github-pull-request.json");
    let (status, _, created) = e
        .raw(
            Method::POST,
            "/repos/acme/env-repo/pulls",
            Some(json!({ "title": "t", "head": BRANCH, "base": "main", "body": "b" })),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        (
            created["mergeable_state"].clone(),
            created["merged"].clone()
        ),
        (json!("clean"), json!(false))
    );
    assert_shape(&sample, &created, "POST pulls");

    let (status, headers, list) = e
        .raw(
            Method::GET,
            "/repos/acme/env-repo/pulls?state=open&head=acme:baton/prod-payments-2.0.0",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert!(!headers.contains_key("link"), "single page: no Link header");
    let mut list_sample = sample.clone();
    for single_only in [
        "merged",
        "mergeable",
        "rebaseable",
        "mergeable_state",
        "merged_by",
        "comments",
        "review_comments",
        "maintainer_can_modify",
        "commits",
        "additions",
        "deletions",
        "changed_files",
    ] {
        list_sample
            .as_object_mut()
            .expect("object")
            .remove(single_only);
        assert!(
            list[0].get(single_only).is_none(),
            "list items do not carry {single_only}"
        );
    }
    assert_shape(&json!([list_sample]), &list, "GET pulls");

    let (status, _, labels) = e
        .raw(
            Method::POST,
            "/repos/acme/env-repo/issues/1/labels",
            Some(json!({ "labels": ["x"] })),
        )
        .await;
    assert_eq!(status, 200);
    assert_shape(&sample["labels"], &labels, "POST labels");
    let (status, _, comment) = e
        .raw(
            Method::POST,
            "/repos/acme/env-repo/issues/1/comments",
            Some(json!({ "body": "hi" })),
        )
        .await;
    assert_eq!((status, comment["body"].clone()), (201, json!("hi")));

    let (status, _, merge) = e
        .raw(
            Method::PUT,
            "/repos/acme/env-repo/pulls/1/merge",
            Some(json!({ "merge_method": "merge" })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(merge["message"], "Pull Request successfully merged");
    assert_eq!(merge["sha"], json!(head(&e.repo, "main")));
    let (_, _, merged) = e
        .raw(Method::GET, "/repos/acme/env-repo/pulls/1", None)
        .await;
    assert_eq!(
        (merged["state"].clone(), merged["merged"].clone()),
        (json!("closed"), json!(true))
    );
    assert!(merged["merged_at"].is_string() && merged["merged_by"].is_object());
    assert_shape(&sample, &merged, "GET merged pull");
}

#[tokio::test]
async fn github_error_bodies_are_exact() {
    let e = env(Kind::GitHub, Options::default()).await;
    commit(
        &e.repo,
        BRANCH,
        Some(&head(&e.repo, "main")),
        "image:\n  tag: 2.0.0\n",
    );
    let pulls = "/repos/acme/env-repo/pulls";
    let create = json!({ "title": "t", "head": BRANCH, "base": "main" });
    assert_eq!(
        e.raw(Method::POST, pulls, Some(create.clone())).await.0,
        201
    );
    let (status, _, body) = e.raw(Method::POST, pulls, Some(create)).await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({
                "message": "Validation Failed",
                "errors": [{ "resource": "PullRequest", "code": "custom",
                             "message": "A pull request already exists for acme:baton/prod-payments-2.0.0." }],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
            })
        )
    );
    let (status, _, body) = e
        .raw(
            Method::POST,
            pulls,
            Some(json!({ "title": "t", "head": "nope", "base": "main" })),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"],
        json!([{ "resource": "PullRequest", "field": "head", "code": "invalid" }])
    );
    let (status, _, body) = e.raw(Method::GET, &format!("{pulls}/99"), None).await;
    assert_eq!((status, body["message"].clone()), (404, json!("Not Found")));
    let (status, _, body) = e
        .raw(
            Method::PUT,
            &format!("{pulls}/1/merge"),
            Some(json!({ "sha": "abc" })),
        )
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            409,
            json!("Head branch was modified. Review and try the merge again.")
        )
    );
    assert_eq!(
        e.raw(Method::PUT, &format!("{pulls}/1/merge"), None)
            .await
            .0,
        200
    );
    let (status, _, body) = e.raw(Method::PUT, &format!("{pulls}/1/merge"), None).await;
    assert_eq!(
        (status, body["message"].clone()),
        (405, json!("Pull Request is not mergeable"))
    );

    let anonymous = reqwest::get(format!("{}{pulls}", e.sim.base_url()))
        .await
        .expect("send");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.json::<Value>().await.expect("json")["message"],
        "Requires authentication"
    );
}

#[test]
fn shape_diff_catches_missing_fields_and_type_changes() {
    let sample =
        json!({ "iid": 1, "labels": ["a"], "author": { "id": 1 }, "milestone": { "id": 1 } });
    let actual = json!({ "iid": "1", "labels": [2], "author": {}, "milestone": null });
    let mut diffs = Vec::new();
    shape_diff(&sample, &actual, "mr", &mut diffs);
    diffs.sort();
    assert_eq!(
        diffs,
        vec![
            "mr.author.id: missing",
            "mr.iid: number vs string",
            "mr.labels[0]: string vs number"
        ]
    );
}
