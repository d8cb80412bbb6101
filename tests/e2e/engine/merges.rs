//! A rollback merged through a merge request is a rollback, whatever the
//! merge method, on GitLab and on GitHub: through the real binary, v1.0.1
//! then v1.0.2 reach staging by merge request, staging is rolled back by
//! merge request, and a reviewer merges every request with the method under
//! test. `advance` then sees the rollback (no prod promotion), `status`
//! names the right rollback target, and a second rollback plans the right
//! one. Along the way the prod request for v1.0.1 is superseded by the one
//! for v1.0.2, closed, and its branch deleted.

use baton::sim::forge::{MergeStrategy, SimMrState};
use serde_json::{Value, json};

use super::env::{APP, Env, ForgeKind, Setup, assert_code, stdout};

/// One merge method: the forge, what the reviewer sends to its merge
/// endpoint, and what must land on `main`.
struct Method {
    forge: ForgeKind,
    body: Value,
    /// Parents of the commit the merge leaves on `main`.
    parents: usize,
    /// Whether that commit's own message carries Baton's trailers (else
    /// they come from the merged side or the merge request).
    trailers_on_tip: bool,
    /// The `origin` the rollback's *stage changed* event reports.
    origin: &'static str,
}

/// `git log -1 --format=<format> <rev>` in the env repo.
fn show(env: &Env, format: &str, rev: &str) -> String {
    env.git(&["log", "-1", &format!("--format={format}"), rev])
}

fn roll_back_staging_through_a_merge_request(method: &Method) {
    let env = Env::new(Setup {
        forge: method.forge,
        ..Setup::default()
    });
    for version in ["v1.0.1", "v1.0.2"] {
        assert_code(&env.baton(&["promote", "--app", APP, "--tag", version]), 0);
        env.merge_branch(
            &format!("baton/{APP}/staging/{version}"),
            method.body.clone(),
        );
        let out = env.baton(&["advance", "--app", APP]);
        assert_code(&out, 0);
        assert!(
            stdout(&out).contains(&format!("set prod to {version} by merge request")),
            "{}",
            stdout(&out)
        );
    }
    // The prod request for v1.0.2 superseded the one for v1.0.1.
    let mrs = env.merge_requests();
    let prod = |v: &str| {
        mrs.iter()
            .find(|m| m.source_branch == format!("baton/{APP}/prod/{v}"))
            .unwrap_or_else(|| panic!("no prod MR for {v}: {mrs:?}"))
    };
    let (old, new) = (prod("v1.0.1"), prod("v1.0.2"));
    assert_eq!(
        (old.state, new.state),
        (SimMrState::Closed, SimMrState::Opened)
    );
    // Its branch went with it; the open request's stays.
    assert_eq!(
        env.git(&[
            "for-each-ref",
            "--format=%(refname:short)",
            &format!("refs/heads/baton/{APP}/prod/")
        ]),
        format!("baton/{APP}/prod/v1.0.2")
    );
    assert_eq!(old.notes.len(), 1, "{old:?}");
    let note = &old.notes[0].body;
    let link = match method.forge {
        ForgeKind::GitLab(_) => format!("/-/merge_requests/{}", new.iid),
        ForgeKind::GitHub => format!("/pull/{}", new.iid),
    };
    assert!(
        note.starts_with("Superseded by http")
            && note.contains(&format!(
                "{link}, which sets `prod` of `payments` to `v1.0.2`."
            )),
        "{note}"
    );

    let out = env.baton(&[
        "rollback", "--app", APP, "--stage", "staging", "--reason", "5xx rate",
    ]);
    assert_code(&out, 0);
    assert!(
        stdout(&out)
            .starts_with("baton rollback --app payments --reason '5xx rate' --stage staging\n"),
        "{}",
        stdout(&out)
    );
    env.merge_branch(
        &format!("baton/{APP}/staging/rollback-v1.0.1"),
        method.body.clone(),
    );
    assert_eq!(
        show(&env, "%p", "main").split_whitespace().count(),
        method.parents,
        "the merge method left {}",
        show(&env, "%H %p%n%B", "main")
    );
    assert_eq!(
        show(&env, "%B", "main").contains("Baton-Rollback-Of: v1.0.2"),
        method.trailers_on_tip,
        "{}",
        show(&env, "%B", "main")
    );

    // advance sees the merged rollback as a rollback: no prod promotion.
    let out = env.baton(&["advance", "--app", APP]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("held: staging is healthy at v1.0.1 after rolling back v1.0.2"),
        "{}",
        stdout(&out)
    );
    // (Record names sort by second, then at random: find it by content.)
    let changed = env
        .audit_records()
        .iter()
        .map(|r| r["decisions"][0]["event"]["StageChanged"].clone())
        .find(|c| c["from_version"] == "v1.0.2" && c["stage"] == "staging")
        .expect("the advance after the rollback");
    assert_eq!(changed["is_rollback"], true, "{changed}");
    assert_eq!(changed["origin"], method.origin, "{changed}");

    // status and a second rollback skip the rolled-back v1.0.2.
    let out = env.baton(&["status", "--app", APP, "--output", "json"]);
    assert_code(&out, 0);
    let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["stages"][1]["version"], "v1.0.1");
    assert_eq!(status["stages"][1]["rollback_target"], "v1.0.0");
    let out = env.baton(&["rollback", "--app", APP, "--stage", "staging", "--dry-run"]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("[plan] roll back staging from v1.0.1 to v1.0.0 by merge request"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn gitlab_merge_commit() {
    roll_back_staging_through_a_merge_request(&Method {
        forge: ForgeKind::GitLab(MergeStrategy::MergeCommit),
        body: json!({}),
        parents: 2,
        trailers_on_tip: false,
        origin: "BatonMergeRequest",
    });
}

#[test]
fn gitlab_merge_commit_with_squash() {
    roll_back_staging_through_a_merge_request(&Method {
        forge: ForgeKind::GitLab(MergeStrategy::MergeCommit),
        body: json!({ "squash": true }),
        parents: 2,
        trailers_on_tip: false,
        origin: "BatonMergeRequest",
    });
}

#[test]
fn gitlab_fast_forward() {
    // Baton's own commit lands: git cannot tell it from a direct commit,
    // the forge's merged merge requests can.
    roll_back_staging_through_a_merge_request(&Method {
        forge: ForgeKind::GitLab(MergeStrategy::FastForward),
        body: json!({}),
        parents: 1,
        trailers_on_tip: true,
        origin: "BatonMergeRequest",
    });
}

#[test]
fn gitlab_fast_forward_with_squash() {
    // The squash commit is titled like the MR: only the forge knows it.
    roll_back_staging_through_a_merge_request(&Method {
        forge: ForgeKind::GitLab(MergeStrategy::FastForward),
        body: json!({ "squash": true }),
        parents: 1,
        trailers_on_tip: false,
        origin: "BatonMergeRequest",
    });
}

#[test]
fn github_merge_commit() {
    roll_back_staging_through_a_merge_request(&Method {
        forge: ForgeKind::GitHub,
        body: json!({ "merge_method": "merge" }),
        parents: 2,
        trailers_on_tip: false,
        origin: "BatonMergeRequest",
    });
}

#[test]
fn github_squash_with_the_default_message() {
    // GitHub keeps a single commit's message, with ` (#N)` on its subject.
    roll_back_staging_through_a_merge_request(&Method {
        forge: ForgeKind::GitHub,
        body: json!({ "merge_method": "squash" }),
        parents: 1,
        trailers_on_tip: true,
        origin: "BatonMergeRequest",
    });
}

#[test]
fn github_squash_with_a_title_only_message() {
    // No trailers and no number in git: the forge's commit lookup finds
    // the pull request.
    roll_back_staging_through_a_merge_request(&Method {
        forge: ForgeKind::GitHub,
        body: json!({ "merge_method": "squash", "commit_title": "Ship it", "commit_message": "" }),
        parents: 1,
        trailers_on_tip: false,
        origin: "BatonMergeRequest",
    });
}

#[test]
fn github_rebase() {
    roll_back_staging_through_a_merge_request(&Method {
        forge: ForgeKind::GitHub,
        body: json!({ "merge_method": "rebase" }),
        parents: 1,
        trailers_on_tip: true,
        origin: "BatonMergeRequest",
    });
}
