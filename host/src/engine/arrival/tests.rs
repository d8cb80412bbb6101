//! Attribution rules: message numbers, rollbacks by later deployments,
//! which merge request counts, and how the forge is asked.

use std::sync::Mutex;

use async_trait::async_trait;

use super::lookup::landed_by;
use super::*;
use crate::capabilities::forge::{MergeOptions, MrState, NewMergeRequest, Opened};
use crate::capabilities::git::Trailer;

/// A forge that answers attribution's three reads from lists and
/// records which it was asked; everything else is refused.
#[derive(Default)]
struct Recorded {
    recent: Vec<MergeRequest>,
    by_number: Vec<MergeRequest>,
    of_commit: Vec<MergeRequest>,
    asked: Mutex<Vec<String>>,
}

impl Recorded {
    fn ask(&self, what: String) {
        self.asked.lock().expect("not poisoned").push(what);
    }
}

fn refused(what: &str) -> ForgeError {
    ForgeError::Rejected {
        method: "TEST".into(),
        url: what.into(),
        status: 400,
        message: "attribution never calls this".into(),
    }
}

#[async_trait]
impl Forge for Recorded {
    async fn create_or_reuse(&self, _: &NewMergeRequest) -> Result<Opened, ForgeError> {
        Err(refused("create"))
    }
    async fn list_open(&self, _: &str) -> Result<Vec<MergeRequest>, ForgeError> {
        Err(refused("list_open"))
    }
    async fn get(&self, iid: u64) -> Result<MergeRequest, ForgeError> {
        self.ask(format!("get {iid}"));
        self.by_number
            .iter()
            .find(|m| m.iid == iid)
            .cloned()
            .ok_or_else(|| ForgeError::NotFound {
                method: "GET".into(),
                url: iid.to_string(),
                message: "404".into(),
            })
    }
    async fn update_description(&self, _: u64, _: &str) -> Result<MergeRequest, ForgeError> {
        Err(refused("update"))
    }
    async fn merge(&self, _: u64, _: &MergeOptions) -> Result<MergeRequest, ForgeError> {
        Err(refused("merge"))
    }
    async fn list_open_into(&self, _: &str) -> Result<Vec<MergeRequest>, ForgeError> {
        Err(refused("list_open_into"))
    }
    async fn comment(&self, _: u64, _: &str) -> Result<(), ForgeError> {
        Err(refused("comment"))
    }
    async fn close(&self, _: u64) -> Result<MergeRequest, ForgeError> {
        Err(refused("close"))
    }
    async fn delete_branch(&self, _: &str) -> Result<(), ForgeError> {
        Err(refused("delete_branch"))
    }
    async fn recent_merged_into(&self, target: &str) -> Result<Vec<MergeRequest>, ForgeError> {
        self.ask(format!("recent {target}"));
        Ok(self.recent.clone())
    }
    async fn merge_requests_of_commit(&self, sha: &str) -> Result<Vec<MergeRequest>, ForgeError> {
        self.ask(format!("of {sha}"));
        Ok(self.of_commit.clone())
    }
    async fn review(&self, _: u64) -> Result<crate::capabilities::forge::Review, ForgeError> {
        Err(refused("review"))
    }
}

/// Merged MR `iid` from `branch` that landed `sha`, whose description
/// rolls back v3.
fn merged(iid: u64, branch: &str, sha: &str) -> MergeRequest {
    MergeRequest {
        iid,
        web_url: String::new(),
        title: String::new(),
        description: "Rollback.\n\nBaton-Run: r1\nBaton-Rollback-Of: v3\n".into(),
        state: MrState::Merged,
        source_branch: branch.into(),
        target_branch: "main".into(),
        labels: Vec::new(),
        detailed_merge_status: None,
        sha: None,
        merge_commit_sha: Some(sha.into()),
    }
}

const ROLLBACK: &str = "baton/payments/staging/rollback-v2";

/// `ask_forge` for staging at v2 landed by `commit`, and what was asked.
fn ask(forge: Recorded, commits: &[(&str, Option<u64>)]) -> (Vec<Option<u64>>, Vec<String>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let forge = Arc::new(forge);
    let mut attribution =
        Attribution::new("payments").with_forge(forge.clone(), rt.handle().clone());
    let found = commits
        .iter()
        .map(|(commit, named)| {
            attribution
                .ask_forge("staging", "main", "v2", commit, *named)
                .expect("answers")
                .map(|l| {
                    assert_eq!(l.trailers.last().map(|t| t.value.as_str()), Some("v3"));
                    l.number
                })
        })
        .collect();
    let asked = forge.asked.lock().expect("not poisoned").clone();
    (found, asked)
}

#[test]
fn the_recent_merged_requests_answer_first_in_one_request() {
    let forge = Recorded {
        recent: vec![merged(7, ROLLBACK, "s7"), merged(8, "feature/other", "s8")],
        ..Recorded::default()
    };
    let (found, asked) = ask(forge, &[("s7", None), ("s8", Some(8))]);
    // s8 landed by a request that is not Baton's: nothing, no more asking.
    assert_eq!(found, [Some(7), None]);
    assert_eq!(asked, ["recent main"]);
}

#[test]
fn older_commits_are_looked_up_by_the_number_they_name_or_by_commit() {
    let forge = Recorded {
        by_number: vec![merged(3, ROLLBACK, "s3")],
        of_commit: vec![merged(4, ROLLBACK, "s4")],
        ..Recorded::default()
    };
    let (found, asked) = ask(forge, &[("s3", Some(3)), ("s4", None), ("s9", Some(9))]);
    assert_eq!(found, [Some(3), Some(4), None]);
    assert_eq!(asked, ["recent main", "get 3", "of s4", "get 9"]);
}

#[test]
fn one_by_one_lookups_are_bounded() {
    let commits: Vec<(String, Option<u64>)> = (0..FORGE_LOOKUPS + 3)
        .map(|i| (format!("h{i}"), None))
        .collect();
    let refs: Vec<(&str, Option<u64>)> = commits.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    let (found, asked) = ask(Recorded::default(), &refs);
    assert!(found.iter().all(Option::is_none));
    // The recent list once, then the budget.
    assert_eq!(asked.len(), 1 + FORGE_LOOKUPS);
}

#[test]
fn merge_request_numbers_come_from_either_forges_merge_or_squash_message() {
    let gitlab = "Merge branch 'baton/payments/staging/v2' into 'main'\n\nstaging(payments): v2\n\nSee merge request acme/env!17";
    assert_eq!(merge_request_number(gitlab), Some(17));
    let github =
        "Merge pull request #4 from acme/baton/payments/staging/v2\n\nstaging(payments): v2";
    assert_eq!(merge_request_number(github), Some(4));
    let squash = "staging(payments): v2 (#12)\n\nBaton-Run: r1";
    assert_eq!(merge_request_number(squash), Some(12));
    assert_eq!(merge_request_number("staging(payments): v2"), None);
    assert_eq!(merge_request_number("fix (#)"), None);
    assert_eq!(merge_request_number("fix (#1a)"), None);
}

fn entry(new: &str, rollback_of: Option<&str>) -> HistoryEntry {
    HistoryEntry {
        commit: format!("c-{new}"),
        time: 0,
        author_name: "a".into(),
        author_email: "a@x".into(),
        old: None,
        new: Some(new.into()),
        message: String::new(),
        trailers: rollback_of
            .map(|v| Trailer {
                key: ROLLBACK_OF.into(),
                value: v.into(),
            })
            .into_iter()
            .collect(),
    }
}

#[test]
fn a_version_is_rolled_back_only_by_a_later_deployment() {
    let h = [
        entry("v2", Some("v3")),
        entry("v3", None),
        entry("v2", None),
    ];
    assert_eq!(deployment_state_in(&h, "v2"), DeploymentState::Now);
    assert_eq!(deployment_state_in(&h, "v3"), DeploymentState::RolledBack);
    assert_eq!(deployment_state_in(&h, "v1"), DeploymentState::Never);
    let h = [entry("v3", None), entry("v2", None)];
    assert_eq!(deployment_state_in(&h, "v2"), DeploymentState::Before);
}

#[test]
fn only_the_merged_baton_request_that_landed_the_commit_counts() {
    let mr = |state, branch: &str, sha: Option<&str>| MergeRequest {
        iid: 3,
        web_url: String::new(),
        title: String::new(),
        description: String::new(),
        state,
        source_branch: branch.into(),
        target_branch: "main".into(),
        labels: Vec::new(),
        detailed_merge_status: None,
        sha: None,
        merge_commit_sha: sha.map(Into::into),
    };
    let branch = "baton/payments/staging/v2";
    assert!(landed_by(
        &mr(MrState::Merged, branch, Some("abc")),
        branch,
        "abc"
    ));
    assert!(!landed_by(
        &mr(MrState::Opened, branch, Some("abc")),
        branch,
        "abc"
    ));
    assert!(!landed_by(
        &mr(MrState::Merged, branch, Some("def")),
        branch,
        "abc"
    ));
    let other = "baton/payments/prod/v2";
    assert!(!landed_by(
        &mr(MrState::Merged, other, Some("abc")),
        branch,
        "abc"
    ));
}
