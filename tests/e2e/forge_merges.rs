//! What the forge clients added for superseded merge requests and for
//! history attribution, against both simulators: closing with a comment
//! and deleting the closed request's branch,
//! the open requests into a branch, the requests of a commit; and the
//! simulators' merge methods leaving the commits the forges leave (GitLab's
//! squash titled like the MR, with or without a merge commit on top;
//! GitHub's squash keeping a single commit's message, and its rebase
//! replaying every commit with a new committer).

use baton::capabilities::forge::{MergeRequest, MrState, NewMergeRequest};
use baton::sim::forge::{MergeStrategy, SimMrState};
use reqwest::Method;
use serde_json::{Value, json};

use crate::forge_support::{self, Kind, Options, env, fixture, head, shape_diff};
use crate::support::git;

const MESSAGE: &str = "staging(payments): v2\n\nBaton-Run: r1\nBaton-Rollback-Of: v3";

/// A branch `branch` off `main` whose one commit (by the test's `Seed`
/// identity) sets the tag to `tag`, with [`MESSAGE`].
fn branch(e: &forge_support::Env, branch: &str, tag: &str) -> String {
    let base = head(&e.repo, "main");
    forge_support::commit(
        &e.repo,
        branch,
        Some(&base),
        &format!("image:\n  tag: {tag}\n"),
    );
    // Re-commit the same tree with a real message and author.
    let tree = git(&e.repo, &["rev-parse", &format!("{branch}^{{tree}}")]);
    let sha = crate::support::git_with(
        &e.repo,
        &["commit-tree", &tree, "-p", &base, "-F", "-"],
        crate::support::GitInput {
            stdin: Some(MESSAGE),
            ..Default::default()
        },
    );
    let sha = sha.trim().to_owned();
    git(
        &e.repo,
        &["update-ref", &format!("refs/heads/{branch}"), &sha],
    );
    sha
}

/// Opens the merge request from `source` into `main`, titled after it.
async fn open(e: &forge_support::Env, source: &str) -> MergeRequest {
    open_to(e, source, "main").await
}

/// Opens the merge request from `source` into `target`, titled after it.
async fn open_to(e: &forge_support::Env, source: &str, target: &str) -> MergeRequest {
    let request = NewMergeRequest {
        source_branch: source.into(),
        target_branch: target.into(),
        title: format!("title of {source}"),
        description: "Baton-Run: r1".into(),
        labels: vec!["baton".into()],
        remove_source_branch: false,
    };
    e.forge
        .create_or_reuse(&request)
        .await
        .unwrap_or_else(|err| panic!("open {source}: {err}"))
        .merge_request
}

/// The merge endpoint of `number`, as a reviewer calls it.
fn merge_path(kind: Kind, number: u64) -> String {
    match kind {
        Kind::GitLab => format!("/projects/group%2Fenv-repo/merge_requests/{number}/merge"),
        Kind::GitHub => format!("/repos/acme/env-repo/pulls/{number}/merge"),
    }
}

async fn close_with_a_comment(kind: Kind) {
    let e = env(kind, Options::default()).await;
    branch(&e, "baton/payments/prod/v2", "2");
    branch(&e, "baton/payments/prod/v3", "3");
    let old = open(&e, "baton/payments/prod/v2").await;
    let new = open(&e, "baton/payments/prod/v3").await;
    let open = e.forge.list_open_into("main").await.expect("list");
    let mut numbers: Vec<u64> = open.iter().map(|m| m.iid).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [old.iid, new.iid]);
    assert!(
        e.forge
            .list_open_into("other")
            .await
            .expect("list")
            .is_empty()
    );

    e.forge
        .comment(old.iid, "Superseded by #2")
        .await
        .expect("comment");
    let closed = e.forge.close(old.iid).await.expect("close");
    assert_eq!(closed.state, MrState::Closed);
    let stored = e.sim.merge_requests().await;
    assert_eq!(stored[0].state, SimMrState::Closed);
    assert_eq!(stored[0].notes[0].body, "Superseded by #2");
    assert_eq!(stored[1].state, SimMrState::Opened);
    let open = e.forge.list_open_into("main").await.expect("list");
    assert_eq!(open.iter().map(|m| m.iid).collect::<Vec<_>>(), [new.iid]);
    // The closed request's branch is deleted; deleting a branch that is
    // gone already (GitLab 404, GitHub 422) is no error.
    for _ in 0..2 {
        e.forge
            .delete_branch("baton/payments/prod/v2")
            .await
            .expect("deletes");
    }
    assert_eq!(
        git(
            &e.repo,
            &["for-each-ref", "--format=%(refname)", "refs/heads/baton/"]
        ),
        "refs/heads/baton/payments/prod/v3"
    );
    // The calls are the forges' own.
    let seen: Vec<String> = e
        .sim
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect();
    let (comment, close, delete) = match kind {
        Kind::GitLab => (
            "POST /api/v4/projects/group%2Fenv-repo/merge_requests/1/notes",
            "PUT /api/v4/projects/group%2Fenv-repo/merge_requests/1",
            "DELETE /api/v4/projects/group%2Fenv-repo/repository/branches/baton%2Fpayments%2Fprod%2Fv2",
        ),
        Kind::GitHub => (
            "POST /repos/acme/env-repo/issues/1/comments",
            "PATCH /repos/acme/env-repo/pulls/1",
            "DELETE /repos/acme/env-repo/git/refs/heads/baton/payments/prod/v2",
        ),
    };
    assert!(seen.iter().any(|s| s == comment), "{seen:?}");
    assert!(seen.iter().any(|s| s == close), "{seen:?}");
    assert_eq!(seen.iter().filter(|s| *s == delete).count(), 2, "{seen:?}");
}

#[tokio::test]
async fn gitlab_closes_with_a_note() {
    close_with_a_comment(Kind::GitLab).await;
}

#[tokio::test]
async fn github_closes_with_a_comment() {
    close_with_a_comment(Kind::GitHub).await;
}

/// Opens a request from a new branch `source` into `target`.
async fn open_into(e: &forge_support::Env, source: &str, target: &str) -> MergeRequest {
    branch(e, source, "9");
    open_to(e, source, target).await
}

/// The GET calls the simulator saw, as `path?query`.
fn lists(e: &forge_support::Env) -> Vec<String> {
    e.sim
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.uri.clone())
        .collect()
}

/// The numbers of the open requests under `baton/payments/prod/` into
/// `main`, in order, and the GET calls the client made to find them.
async fn open_under_prod(e: &forge_support::Env) -> (Vec<u64>, Vec<String>) {
    let before = lists(e).len();
    let found = e
        .forge
        .list_open_under("baton/payments/prod/", "main")
        .await
        .expect("list");
    let mut numbers: Vec<u64> = found.iter().map(|m| m.iid).collect();
    numbers.sort_unstable();
    (numbers, lists(e)[before..].to_vec())
}

async fn open_under_a_prefix_by_branch(kind: Kind) {
    let e = env(kind, Options::default()).await;
    git(&e.repo, &["branch", "other", "main"]);
    let v2 = open_into(&e, "baton/payments/prod/v2", "main").await;
    let v3 = open_into(&e, "baton/payments/prod/v3", "main").await;
    // Not under the prefix, or not into main: not asked about, or left out.
    open_into(&e, "baton/payments/prodx/v1", "main").await;
    open_into(&e, "baton/payments/staging/v2", "main").await;
    open_into(&e, "baton/payments/prod/v4", "other").await;
    branch(&e, "baton/Payments/prod/v5", "5");

    let (numbers, asked) = open_under_prod(&e).await;
    assert_eq!(numbers, [v2.iid, v3.iid]);
    let (search, per_branch, everything) = match kind {
        Kind::GitLab => (
            "/api/v4/projects/group%2Fenv-repo/repository/branches?search=%5Ebaton%2Fpayments%2Fprod%2F",
            "source_branch=baton%2Fpayments%2Fprod%2Fv",
            "target_branch=main",
        ),
        Kind::GitHub => (
            "/repos/acme/env-repo/git/matching-refs/heads/baton/payments/prod",
            "head=acme%3Abaton%2Fpayments%2Fprod%2Fv",
            "base=main",
        ),
    };
    assert!(asked[0].starts_with(search), "{asked:?}");
    // One list per branch under the prefix (v2, v3, v4), none of all.
    assert_eq!(
        asked.iter().filter(|u| u.contains(per_branch)).count(),
        3,
        "{asked:?}"
    );
    assert!(!asked.iter().any(|u| u.contains(everything)), "{asked:?}");

    // Past MANY_BRANCHES branches, every open request into main is read
    // once instead: the same answer.
    for n in 0..21 {
        let name = format!("baton/payments/prod/old-{n:02}");
        forge_support::commit(&e.repo, &name, Some(&head(&e.repo, "main")), "x: 1\n");
    }
    let (again, asked) = open_under_prod(&e).await;
    assert_eq!(again, numbers);
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[1].contains(everything), "{asked:?}");
}

#[tokio::test]
async fn gitlab_finds_open_requests_under_a_prefix_by_branch_search() {
    open_under_a_prefix_by_branch(Kind::GitLab).await;
}

#[tokio::test]
async fn github_finds_open_requests_under_a_prefix_by_matching_refs() {
    open_under_a_prefix_by_branch(Kind::GitHub).await;
}

/// Merges one request with `body` and returns the new `main` head and the
/// request as the client reads it by that commit.
async fn merged_by(
    kind: Kind,
    strategy: MergeStrategy,
    body: Value,
) -> (forge_support::Env, String) {
    let e = env(
        kind,
        Options {
            strategy,
            ..Options::default()
        },
    )
    .await;
    let source = branch(&e, "baton/payments/staging/v2", "2");
    let mr = open(&e, "baton/payments/staging/v2").await;
    // An open request is found by its head.
    let open = e
        .forge
        .merge_requests_of_commit(&source)
        .await
        .expect("lookup");
    assert_eq!(
        open.iter().map(|m| (m.iid, m.state)).collect::<Vec<_>>(),
        [(mr.iid, MrState::Opened)]
    );
    let (status, _, answer) = e
        .raw(Method::PUT, &merge_path(kind, mr.iid), Some(body))
        .await;
    assert_eq!(status, 200, "{answer}");
    let tip = head(&e.repo, "main");
    let found = e
        .forge
        .merge_requests_of_commit(&tip)
        .await
        .expect("lookup");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].iid, mr.iid);
    assert_eq!(found[0].state, MrState::Merged);
    assert_eq!(found[0].merge_commit_sha.as_deref(), Some(tip.as_str()));
    (e, tip)
}

fn message(e: &forge_support::Env, rev: &str) -> String {
    git(&e.repo, &["log", "-1", "--format=%B", rev])
}

fn parents(e: &forge_support::Env, rev: &str) -> Vec<String> {
    git(&e.repo, &["log", "-1", "--format=%P", rev])
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// GitLab's own JSON of merge request !1.
async fn gitlab_mr_1(e: &forge_support::Env) -> Value {
    let path = "/projects/group%2Fenv-repo/merge_requests/1";
    let (status, _, mr) = e.raw(Method::GET, path, None).await;
    assert_eq!(status, 200, "{mr}");
    mr
}

#[tokio::test]
async fn gitlab_squash_is_titled_like_the_merge_request() {
    // Fast-forward method: the squash commit alone lands.
    let (e, tip) = merged_by(
        Kind::GitLab,
        MergeStrategy::FastForward,
        json!({ "squash": true }),
    )
    .await;
    assert_eq!(message(&e, &tip), "title of baton/payments/staging/v2");
    assert_eq!(parents(&e, &tip).len(), 1);
    let mr = gitlab_mr_1(&e).await;
    assert_eq!(mr["squash_commit_sha"], json!(tip));
    assert_eq!(mr["merge_commit_sha"], Value::Null);

    // Merge-commit method: the merge commit's second parent is the squash.
    let (e, tip) = merged_by(
        Kind::GitLab,
        MergeStrategy::MergeCommit,
        json!({ "squash": true }),
    )
    .await;
    let two = parents(&e, &tip);
    assert_eq!(two.len(), 2);
    assert_eq!(message(&e, &two[1]), "title of baton/payments/staging/v2");
    assert!(message(&e, &tip).ends_with("See merge request group/env-repo!1"));
    let mr = gitlab_mr_1(&e).await;
    assert_eq!(mr["merge_commit_sha"], json!(tip));
    assert_eq!(mr["squash_commit_sha"], json!(two[1]));
}

#[tokio::test]
async fn github_squash_keeps_a_single_commits_message_and_rebase_replays_it() {
    let (e, tip) = merged_by(
        Kind::GitHub,
        MergeStrategy::MergeCommit,
        json!({ "merge_method": "squash" }),
    )
    .await;
    assert_eq!(
        message(&e, &tip),
        "staging(payments): v2 (#1)\n\nBaton-Run: r1\nBaton-Rollback-Of: v3"
    );
    assert_eq!(parents(&e, &tip).len(), 1);

    let (e, tip) = merged_by(
        Kind::GitHub,
        MergeStrategy::MergeCommit,
        json!({ "merge_method": "squash", "commit_title": "Ship it (#1)", "commit_message": "" }),
    )
    .await;
    assert_eq!(message(&e, &tip), "Ship it (#1)");

    let (e, tip) = merged_by(
        Kind::GitHub,
        MergeStrategy::MergeCommit,
        json!({ "merge_method": "rebase" }),
    )
    .await;
    assert_eq!(message(&e, &tip), MESSAGE);
    let who = git(&e.repo, &["log", "-1", "--format=%an|%cn", &tip]);
    assert_eq!(who, "Seed|Forge Simulator");
    // A replay, not the branch's own commit.
    assert_ne!(tip, head(&e.repo, "baton/payments/staging/v2"));
}

#[tokio::test]
async fn a_commit_the_repository_lacks_is_an_error_and_lists_match_the_samples() {
    for kind in [Kind::GitLab, Kind::GitHub] {
        let (e, tip) = merged_by(kind, MergeStrategy::MergeCommit, json!({})).await;
        let missing = "0123456789abcdef0123456789abcdef01234567";
        let err = e.forge.merge_requests_of_commit(missing).await.unwrap_err();
        let expected = match kind {
            Kind::GitLab => "404 Commit Not Found",
            Kind::GitHub => "No commit found for SHA",
        };
        assert!(err.to_string().contains(expected), "{kind:?}: {err}");
        let (path, sample) = match kind {
            Kind::GitLab => (
                format!("/projects/group%2Fenv-repo/repository/commits/{tip}/merge_requests"),
                fixture("go-gitlab__testdata__get_merge_requests.json"),
            ),
            Kind::GitHub => (
                format!("/repos/acme/env-repo/commits/{tip}/pulls"),
                json!([fixture("github-pull-request.json")]),
            ),
        };
        let (status, _, list) = e.raw(Method::GET, &path, None).await;
        assert_eq!(status, 200);
        let mut diffs = Vec::new();
        shape_diff(&sample, &list, &path, &mut diffs);
        // The list form of a pull request lacks the single-PR fields.
        diffs.retain(|d| {
            !matches!(
                d.rsplit('.').next(),
                Some(
                    "merged: missing"
                        | "mergeable: missing"
                        | "rebaseable: missing"
                        | "mergeable_state: missing"
                        | "merged_by: missing"
                        | "comments: missing"
                        | "review_comments: missing"
                        | "maintainer_can_modify: missing"
                        | "commits: missing"
                        | "additions: missing"
                        | "deletions: missing"
                        | "changed_files: missing"
                )
            )
        });
        assert!(diffs.is_empty(), "{kind:?}:\n{}", diffs.join("\n"));
    }
}
