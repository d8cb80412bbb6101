//! One forge test suite, run against the GitLab and the GitHub simulator
//! through the same `dyn Forge`: every test body is generic over [`Kind`]
//! and called once per forge.

use crate::forge_support;
use crate::support::git;

use baton::capabilities::forge::{ForgeError, MergeOptions, MrState, NewMergeRequest};
use baton::sim::forge::MergeStrategy;
use forge_support::{Kind, Options, TOKEN, TOKEN_ENV, commit, commit_files, env, head};
use reqwest::Method;
use serde_json::json;

const BRANCH: &str = "baton/staging-payments-1.1.0";

fn request(description: &str) -> NewMergeRequest {
    NewMergeRequest {
        source_branch: BRANCH.into(),
        target_branch: "main".into(),
        title: "staging(payments): 1.1.0".into(),
        description: description.into(),
        labels: vec!["baton".into(), "staging".into()],
        remove_source_branch: false,
    }
}

// ---- create -> find -> merge ------------------------------------------------

async fn round_trip(kind: Kind) {
    let e = env(kind, Options::default()).await;
    let main_before = head(&e.repo, "main");
    let branch_sha = commit(
        &e.repo,
        BRANCH,
        Some(&main_before),
        "image:\n  tag: 1.1.0\n",
    );

    let opened = e
        .forge
        .create_or_reuse(&request("Promote 1.0.0 -> 1.1.0"))
        .await
        .expect("create");
    assert!(!opened.reused);
    let mr = opened.merge_request;
    assert_eq!(mr.iid, 1);
    assert_eq!(mr.state, MrState::Opened);
    assert_eq!(
        (mr.source_branch.as_str(), mr.target_branch.as_str()),
        (BRANCH, "main")
    );
    assert_eq!(mr.labels, vec!["baton", "staging"]);
    assert_eq!(mr.description, "Promote 1.0.0 -> 1.1.0");
    assert_eq!(mr.sha.as_deref(), Some(branch_sha.as_str()));
    assert_eq!(mr.detailed_merge_status.as_deref(), Some("mergeable"));
    assert!(mr.web_url.starts_with(&e.sim.base_url()), "{}", mr.web_url);

    let found = e
        .forge
        .find_open(BRANCH)
        .await
        .expect("find")
        .expect("one open MR");
    assert_eq!(found, mr);
    assert_eq!(e.forge.get(mr.iid).await.expect("get"), mr);
    assert_eq!(
        e.forge
            .find_open("no-such-branch")
            .await
            .expect("find none"),
        None
    );

    let note = e.add_note(mr.iid, "Gate passed on dev.").await;
    let stored = e.sim.merge_requests().await;
    assert_eq!(stored[0].notes.len(), 1);
    assert_eq!(
        (stored[0].notes[0].id, stored[0].notes[0].body.as_str()),
        (note, "Gate passed on dev.")
    );

    let merged = e
        .forge
        .merge(
            mr.iid,
            &MergeOptions {
                sha: Some(branch_sha.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("merge");
    assert_eq!(merged.state, MrState::Merged);
    let main_after = head(&e.repo, "main");
    assert_ne!(main_after, main_before, "target branch advanced");
    assert_eq!(
        merged.merge_commit_sha.as_deref(),
        Some(main_after.as_str())
    );
    // A real two-parent merge commit whose tree carries the change.
    let parents = git(&e.repo, &["rev-list", "--parents", "-n", "1", &main_after]);
    assert_eq!(parents, format!("{main_after} {main_before} {branch_sha}"));
    assert_eq!(
        git(&e.repo, &["show", "main:values.yaml"]),
        "image:\n  tag: 1.1.0"
    );
    assert_eq!(
        e.forge.find_open(BRANCH).await.expect("find after merge"),
        None
    );
    assert_eq!(
        e.forge.get(mr.iid).await.expect("get merged").state,
        MrState::Merged
    );
}

#[tokio::test]
async fn gitlab_round_trip() {
    round_trip(Kind::GitLab).await;
}

#[tokio::test]
async fn github_round_trip() {
    round_trip(Kind::GitHub).await;
}

// ---- re-running the MR step reuses the open MR ------------------------------

async fn duplicate_create_reuses(kind: Kind) {
    let e = env(kind, Options::default()).await;
    commit(
        &e.repo,
        BRANCH,
        Some(&head(&e.repo, "main")),
        "image:\n  tag: 1.1.0\n",
    );
    let first = e
        .forge
        .create_or_reuse(&request("first text"))
        .await
        .expect("create");

    let second = e
        .forge
        .create_or_reuse(&request("second text"))
        .await
        .expect("reuse");
    assert!(second.reused);
    assert_eq!(e.updates(), 1, "the description was replaced");
    assert_eq!(second.merge_request.iid, first.merge_request.iid);
    assert_eq!(second.merge_request.description, "second text");

    let third = e
        .forge
        .create_or_reuse(&request("second text"))
        .await
        .expect("reuse again");
    assert!(third.reused);
    assert_eq!(e.updates(), 1, "an equal description is left alone");

    let stored = e.sim.merge_requests().await;
    assert_eq!(stored.len(), 1, "exactly one MR in the simulator");
    assert_eq!(stored[0].description, "second text");
}

#[tokio::test]
async fn gitlab_duplicate_create_reuses() {
    duplicate_create_reuses(Kind::GitLab).await;
}

#[tokio::test]
async fn github_duplicate_create_reuses() {
    duplicate_create_reuses(Kind::GitHub).await;
}

// ---- conflicts and moved heads ----------------------------------------------

async fn merge_conflict_is_clear(kind: Kind) {
    let e = env(kind, Options::default()).await;
    let base = head(&e.repo, "main");
    commit(&e.repo, BRANCH, Some(&base), "image:\n  tag: 1.1.0\n");
    let main_now = commit(&e.repo, "main", Some(&base), "image:\n  tag: 9.9.9\n");
    let mr = e
        .forge
        .create_or_reuse(&request("x"))
        .await
        .expect("create")
        .merge_request;
    assert_eq!(mr.detailed_merge_status.as_deref(), Some("conflict"));

    let err = e
        .forge
        .merge(mr.iid, &MergeOptions::default())
        .await
        .expect_err("conflict");
    assert!(
        matches!(err, ForgeError::NotMergeable { ref detail, status: 405, .. } if detail == "conflict"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "merge request !{} cannot be merged (conflict)",
            mr.iid
        )),
        "{text}"
    );
    assert_eq!(head(&e.repo, "main"), main_now, "target untouched");
    assert_eq!(
        e.forge.get(mr.iid).await.expect("get").state,
        MrState::Opened
    );
}

#[tokio::test]
async fn gitlab_merge_conflict_is_clear() {
    merge_conflict_is_clear(Kind::GitLab).await;
}

#[tokio::test]
async fn github_merge_conflict_is_clear() {
    merge_conflict_is_clear(Kind::GitHub).await;
}

async fn sha_mismatch_is_reported(kind: Kind) {
    let e = env(kind, Options::default()).await;
    commit(
        &e.repo,
        BRANCH,
        Some(&head(&e.repo, "main")),
        "image:\n  tag: 1.1.0\n",
    );
    let mr = e
        .forge
        .create_or_reuse(&request("x"))
        .await
        .expect("create")
        .merge_request;
    let stale = MergeOptions {
        sha: Some("0".repeat(40)),
        ..Default::default()
    };
    let err = e
        .forge
        .merge(mr.iid, &stale)
        .await
        .expect_err("sha mismatch");
    assert!(matches!(err, ForgeError::ShaMismatch { .. }), "{err:?}");
}

#[tokio::test]
async fn gitlab_sha_mismatch_is_reported() {
    sha_mismatch_is_reported(Kind::GitLab).await;
}

#[tokio::test]
async fn github_sha_mismatch_is_reported() {
    sha_mismatch_is_reported(Kind::GitHub).await;
}

// ---- authentication -----------------------------------------------------------

async fn unauthorized_names_the_variable(kind: Kind) {
    let wrong = "wrong-token-value-987";
    let e = env(
        kind,
        Options {
            client_token: wrong,
            ..Options::default()
        },
    )
    .await;
    commit(
        &e.repo,
        BRANCH,
        Some(&head(&e.repo, "main")),
        "image:\n  tag: 1.1.0\n",
    );
    let err = e
        .forge
        .create_or_reuse(&request("x"))
        .await
        .expect_err("401");
    assert!(matches!(err, ForgeError::Unauthorized { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains(TOKEN_ENV), "{shown}");
    assert!(shown.contains("401 Unauthorized"), "{shown}");
    assert!(
        !shown.contains(wrong) && !shown.contains(TOKEN),
        "token leaked: {shown}"
    );
    assert!(e.sim.merge_requests().await.is_empty());
}

#[tokio::test]
async fn gitlab_unauthorized_names_the_variable() {
    unauthorized_names_the_variable(Kind::GitLab).await;
}

#[tokio::test]
async fn github_unauthorized_names_the_variable() {
    unauthorized_names_the_variable(Kind::GitHub).await;
}

// ---- pagination -------------------------------------------------------------

async fn lists_follow_pages(kind: Kind) {
    let e = env(
        kind,
        Options {
            page_size: 1,
            ..Options::default()
        },
    )
    .await;
    let base = head(&e.repo, "main");
    commit(&e.repo, "release", Some(&base), "image:\n  tag: 1.0.1\n");
    commit(&e.repo, BRANCH, Some(&base), "image:\n  tag: 1.1.0\n");
    e.forge
        .create_or_reuse(&request("to main"))
        .await
        .expect("first");
    let to_release = NewMergeRequest {
        target_branch: "release".into(),
        ..request("to release")
    };
    e.forge.create_or_reuse(&to_release).await.expect("second");

    let all = e.forge.list_open(BRANCH).await.expect("list");
    let mut iids: Vec<u64> = all.iter().map(|m| m.iid).collect();
    iids.sort_unstable();
    assert_eq!(iids, vec![1, 2]);
    assert_eq!(
        e.forge
            .find_open(BRANCH)
            .await
            .expect("find")
            .map(|m| m.iid),
        Some(1)
    );
    assert!(
        e.sim
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.uri.contains("page=2"))
    );
}

#[tokio::test]
async fn gitlab_lists_follow_pages() {
    lists_follow_pages(Kind::GitLab).await;
}

#[tokio::test]
async fn github_lists_follow_pages() {
    lists_follow_pages(Kind::GitHub).await;
}

// ---- GitLab specifics -------------------------------------------------------

#[tokio::test]
async fn gitlab_project_path_is_url_encoded() {
    let e = env(Kind::GitLab, Options::default()).await;
    commit(
        &e.repo,
        BRANCH,
        Some(&head(&e.repo, "main")),
        "image:\n  tag: 1.1.0\n",
    );
    e.forge
        .create_or_reuse(&request("x"))
        .await
        .expect("create");
    e.forge.find_open(BRANCH).await.expect("find");
    let seen = e.sim.requests();
    assert!(seen.len() >= 2);
    for r in &seen {
        assert!(
            r.uri
                .starts_with("/api/v4/projects/group%2Fenv-repo/merge_requests"),
            "{r:?}"
        );
    }
    // The numeric id addresses the same project.
    let (status, _, body) = e
        .raw(Method::GET, "/projects/42/merge_requests/1", None)
        .await;
    assert_eq!((status, body["iid"].clone()), (200, json!(1)));
}

#[tokio::test]
async fn gitlab_fast_forward_merge_moves_target_to_source() {
    let e = env(
        Kind::GitLab,
        Options {
            strategy: MergeStrategy::FastForward,
            ..Options::default()
        },
    )
    .await;
    let branch_sha = commit(
        &e.repo,
        BRANCH,
        Some(&head(&e.repo, "main")),
        "image:\n  tag: 1.1.0\n",
    );
    let mr = e
        .forge
        .create_or_reuse(&request("x"))
        .await
        .expect("create")
        .merge_request;
    let merged = e
        .forge
        .merge(
            mr.iid,
            &MergeOptions {
                auto_merge: true,
                ..Default::default()
            },
        )
        .await
        .expect("merge");
    assert_eq!(head(&e.repo, "main"), branch_sha);
    assert_eq!(
        merged.merge_commit_sha.as_deref(),
        Some(branch_sha.as_str())
    );
    assert!(e.sim.merge_requests().await[0].auto_merge);
    assert!(
        e.sim
            .requests()
            .iter()
            .any(|r| r.method == "PUT" && r.uri.ends_with("/merge"))
    );
}

#[tokio::test]
async fn gitlab_fast_forward_needs_rebase_when_diverged() {
    let e = env(
        Kind::GitLab,
        Options {
            strategy: MergeStrategy::FastForward,
            ..Options::default()
        },
    )
    .await;
    let base = head(&e.repo, "main");
    commit(&e.repo, BRANCH, Some(&base), "image:\n  tag: 1.1.0\n");
    // main moves on in another file: no conflict, but no fast-forward either.
    commit_files(
        &e.repo,
        "main",
        Some(&base),
        &[
            ("other.txt", "x\n"),
            ("values.yaml", "image:\n  tag: 1.0.0\n"),
        ],
    );
    let mr = e
        .forge
        .create_or_reuse(&request("x"))
        .await
        .expect("create")
        .merge_request;
    let err = e
        .forge
        .merge(mr.iid, &MergeOptions::default())
        .await
        .expect_err("needs rebase");
    assert!(
        matches!(err, ForgeError::NotMergeable { ref detail, .. } if detail == "need_rebase"),
        "{err:?}"
    );
}

#[tokio::test]
async fn gitlab_remove_source_branch_deletes_it_after_merge() {
    let e = env(Kind::GitLab, Options::default()).await;
    commit(
        &e.repo,
        BRANCH,
        Some(&head(&e.repo, "main")),
        "image:\n  tag: 1.1.0\n",
    );
    let request = NewMergeRequest {
        remove_source_branch: true,
        ..request("x")
    };
    let mr = e
        .forge
        .create_or_reuse(&request)
        .await
        .expect("create")
        .merge_request;
    let (_, _, raw) = e
        .raw(Method::GET, "/projects/42/merge_requests/1", None)
        .await;
    assert_eq!(raw["force_remove_source_branch"], json!(true));
    e.forge
        .merge(mr.iid, &MergeOptions::default())
        .await
        .expect("merge");
    let branches = git(
        &e.repo,
        &["for-each-ref", "--format=%(refname)", "refs/heads/"],
    );
    assert_eq!(branches, "refs/heads/main");
}

#[tokio::test]
async fn simulators_refuse_a_path_that_is_not_a_repository() {
    use baton::sim::forge::{self as sim, SimError};
    let dir = tempfile::tempdir().expect("tempdir");
    let config = sim::github::GitHubSimConfig {
        repo: dir.path().join("missing"),
        owner: "o".into(),
        name: "r".into(),
        token: None,
    };
    let err = sim::github::spawn(config).await.expect_err("not a repo");
    assert!(matches!(err, SimError::NotARepo { .. }), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("missing` is not a git repository"),
        "{err}"
    );
}
