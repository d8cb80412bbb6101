//! GitHub REST client for pull requests. Labels and comments go through the
//! issues API (a pull request is an issue); `head` filters use `owner:branch`.
//!
//! Auto-merge exists only in GitHub's GraphQL API: [`Forge::merge`] with
//! `auto_merge` arms it with the `enablePullRequestAutoMerge` mutation
//! (`POST /graphql` at the API root, `https://HOST/api/graphql` for GitHub
//! Enterprise Server), as `gh pr merge --auto` does, so the pull request
//! merges once its required checks pass. GitHub refuses to arm a pull
//! request that can merge now (`Pull request is in clean status`, also
//! `unstable`): such a one is merged at once through REST, whether its
//! state said so before asking or the mutation's answer did.

use async_trait::async_trait;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderName};
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::ForgeError;
use super::http::{HttpConfig, Reply, Transport, token_from_env};
use super::model::{
    MergeOptions, MergeRequest, MrState, NewMergeRequest, Opened, Review, ReviewApproval,
    normalize_time,
};
use super::{Forge, open_from_branches, reuse};
use crate::secret::Secret;

mod merge;

use merge::graphql_url;

/// GitHub's merge methods (`merge_method` of the merge call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GitHubMergeMethod {
    /// A merge commit.
    #[default]
    Merge,
    /// One squashed commit.
    Squash,
    /// The commits rebased onto the base branch.
    Rebase,
}

/// Where and how to reach one GitHub repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubConfig {
    /// API root: `https://api.github.com`, or `https://HOST/api/v3` for GHES.
    pub api_url: String,
    /// Repository owner (user or organisation).
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Name of the environment variable holding the token.
    pub token_env: String,
    /// How pull requests are merged.
    pub merge_method: GitHubMergeMethod,
    /// Timeouts and retries.
    pub http: HttpConfig,
    /// `per_page` for list calls (at most 100).
    pub page_size: u32,
}

impl GitHubConfig {
    /// A config with default HTTP settings, merge commits and page size 100.
    pub fn new(
        api_url: impl Into<String>,
        owner: impl Into<String>,
        repo: impl Into<String>,
        token_env: impl Into<String>,
    ) -> Self {
        Self {
            api_url: api_url.into(),
            owner: owner.into(),
            repo: repo.into(),
            token_env: token_env.into(),
            merge_method: GitHubMergeMethod::default(),
            http: HttpConfig::default(),
            page_size: 100,
        }
    }
}

/// A GitHub repository's pull requests.
#[derive(Debug, Clone)]
pub struct GitHub {
    base: Url,
    graphql: Url,
    owner: String,
    repo: String,
    merge_method: GitHubMergeMethod,
    page_size: u32,
    http: Transport,
}

#[derive(Debug, Deserialize)]
struct ApiRef {
    #[serde(rename = "ref")]
    name: String,
    sha: String,
}

/// A git reference (`GET …/git/matching-refs/…`): `refs/heads/<branch>`.
#[derive(Debug, Deserialize)]
struct ApiGitRef {
    #[serde(rename = "ref")]
    name: String,
}

#[derive(Debug, Deserialize)]
struct ApiLabel {
    name: String,
}

/// The pull request fields Baton reads.
#[derive(Debug, Deserialize)]
struct ApiPull {
    number: u64,
    /// The GraphQL id (what the auto-merge mutation names).
    #[serde(default)]
    node_id: Option<String>,
    html_url: String,
    title: String,
    body: Option<String>,
    state: String,
    merged_at: Option<String>,
    #[serde(default)]
    labels: Vec<ApiLabel>,
    head: ApiRef,
    base: ApiRef,
    mergeable_state: Option<String>,
    merge_commit_sha: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiUser {
    login: String,
}

/// The pull request fields that say who merged it and when.
#[derive(Debug, Deserialize)]
struct ApiMerged {
    html_url: String,
    merged_by: Option<ApiUser>,
    merged_at: Option<String>,
}

/// One review (`GET …/pulls/{n}/reviews`, chronological).
#[derive(Debug, Deserialize)]
struct ApiReview {
    user: Option<ApiUser>,
    state: String,
    submitted_at: Option<String>,
}

impl From<ApiPull> for MergeRequest {
    fn from(pr: ApiPull) -> Self {
        let merged = pr.merged_at.is_some();
        let state = match (pr.state.as_str(), merged) {
            (_, true) => MrState::Merged,
            ("open", false) => MrState::Opened,
            _ => MrState::Closed,
        };
        // GitHub's words mapped onto GitLab's `detailed_merge_status`.
        let detailed_merge_status = if state != MrState::Opened {
            Some("not_open".to_owned())
        } else {
            pr.mergeable_state.map(|s| {
                match s.as_str() {
                    "clean" | "has_hooks" => "mergeable",
                    "dirty" => "conflict",
                    "behind" => "need_rebase",
                    "blocked" => "merge_request_blocked",
                    "unstable" => "ci_must_pass",
                    "draft" => "draft_status",
                    _ => "checking",
                }
                .to_owned()
            })
        };
        Self {
            iid: pr.number,
            web_url: pr.html_url,
            title: pr.title,
            description: pr.body.unwrap_or_default(),
            state,
            source_branch: pr.head.name,
            target_branch: pr.base.name,
            labels: pr.labels.into_iter().map(|l| l.name).collect(),
            detailed_merge_status,
            sha: Some(pr.head.sha),
            // On an open PR this is GitHub's test merge: not a landed commit.
            merge_commit_sha: if merged { pr.merge_commit_sha } else { None },
        }
    }
}

impl GitHub {
    /// A client using `token` (see [`GitHub::from_env`]).
    pub fn new(config: GitHubConfig, token: Secret) -> Result<Self, ForgeError> {
        let base = Url::parse(&config.api_url).map_err(|source| ForgeError::InvalidUrl {
            url: config.api_url.clone(),
            source,
        })?;
        let graphql = graphql_url(&base);
        let auth = (AUTHORIZATION, format!("Bearer {}", token.expose()));
        let extra = [
            (ACCEPT, "application/vnd.github+json"),
            (
                HeaderName::from_static("x-github-api-version"),
                "2022-11-28",
            ),
        ];
        let http = Transport::new(
            &config.api_url,
            config.http,
            auth,
            &extra,
            token,
            config.token_env,
        )?;
        Ok(Self {
            base,
            graphql,
            owner: config.owner,
            repo: config.repo,
            merge_method: config.merge_method,
            page_size: config.page_size.clamp(1, 100),
            http,
        })
    }

    /// A client reading the token from the variable the config names.
    pub fn from_env(config: GitHubConfig) -> Result<Self, ForgeError> {
        let token = token_from_env(&config.token_env)?;
        Self::new(config, token)
    }

    /// `…/repos/<owner>/<repo>/<rest…>`.
    fn repo_url(&self, rest: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .push("repos")
                .push(&self.owner)
                .push(&self.repo)
                .extend(rest);
        }
        url
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
    ) -> Result<Reply, ForgeError> {
        self.http.send(method, url, body.as_ref()).await
    }

    fn pull(reply: Reply, ok: StatusCode) -> Result<MergeRequest, ForgeError> {
        Ok(reply.expect_json::<ApiPull>(ok)?.into())
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<Vec<String>, ForgeError> {
        let url = self.repo_url(&["issues", &number.to_string(), "labels"]);
        let reply = self
            .send(Method::POST, url, Some(json!({ "labels": labels })))
            .await?;
        Ok(reply
            .expect_json::<Vec<ApiLabel>>(StatusCode::OK)?
            .into_iter()
            .map(|l| l.name)
            .collect())
    }

    /// Every pull request of a list call, following the pages.
    async fn all_pages(&self, url: Url) -> Result<Vec<MergeRequest>, ForgeError> {
        let pulls = self.http.all_pages::<ApiPull>(url).await?;
        Ok(pulls.into_iter().map(MergeRequest::from).collect())
    }

    /// The open pull request GitHub's 422 says exists for the request's
    /// head, reused.
    async fn reuse_existing(
        &self,
        request: &NewMergeRequest,
        message: String,
    ) -> Result<Opened, ForgeError> {
        let open = self.list_open(&request.source_branch).await?;
        let Some(existing) = open
            .into_iter()
            .filter(|pr| pr.target_branch == request.target_branch)
            .min_by_key(|pr| pr.iid)
        else {
            return Err(ForgeError::DuplicateNotFound {
                forge: "github",
                source_branch: request.source_branch.clone(),
                message,
            });
        };
        tracing::info!(number = existing.iid, source_branch = %request.source_branch, "reusing the open pull request");
        reuse(self, existing, request).await
    }
}

#[async_trait]
impl Forge for GitHub {
    async fn create_or_reuse(&self, request: &NewMergeRequest) -> Result<Opened, ForgeError> {
        let body = json!({
            "title": request.title,
            "head": request.source_branch,
            "base": request.target_branch,
            "body": request.description,
        });
        let reply = self
            .send(Method::POST, self.repo_url(&["pulls"]), Some(body))
            .await?;
        if reply.status == StatusCode::UNPROCESSABLE_ENTITY {
            let message = reply.message();
            if message.contains("A pull request already exists for") {
                return self.reuse_existing(request, message).await;
            }
            return Err(reply.into_error());
        }
        let mut merge_request = Self::pull(reply, StatusCode::CREATED)?;
        if !request.labels.is_empty() {
            merge_request.labels = self.add_labels(merge_request.iid, &request.labels).await?;
        }
        Ok(Opened {
            merge_request,
            reused: false,
        })
    }

    async fn list_open(&self, source_branch: &str) -> Result<Vec<MergeRequest>, ForgeError> {
        let mut url = self.repo_url(&["pulls"]);
        url.query_pairs_mut()
            .append_pair("state", "open")
            .append_pair("head", &format!("{}:{source_branch}", self.owner))
            .append_pair("per_page", &self.page_size.to_string());
        self.all_pages(url).await
    }

    /// List items carry no mergeability: the chosen PR is read in full.
    async fn find_open(&self, source_branch: &str) -> Result<Option<MergeRequest>, ForgeError> {
        let first = self
            .list_open(source_branch)
            .await?
            .into_iter()
            .min_by_key(|pr| pr.iid);
        match first {
            Some(pr) => self.get(pr.iid).await.map(Some),
            None => Ok(None),
        }
    }

    async fn get(&self, iid: u64) -> Result<MergeRequest, ForgeError> {
        let reply = self
            .send(
                Method::GET,
                self.repo_url(&["pulls", &iid.to_string()]),
                None,
            )
            .await?;
        Self::pull(reply, StatusCode::OK)
    }

    async fn update_description(
        &self,
        iid: u64,
        description: &str,
    ) -> Result<MergeRequest, ForgeError> {
        let url = self.repo_url(&["pulls", &iid.to_string()]);
        let reply = self
            .send(Method::PATCH, url, Some(json!({ "body": description })))
            .await?;
        Self::pull(reply, StatusCode::OK)
    }

    /// Merges now through REST, or with `auto_merge` arms GitHub's
    /// auto-merge (see the module docs): the pull request is returned
    /// open and armed, or merged when it could merge at once.
    async fn merge(&self, iid: u64, options: &MergeOptions) -> Result<MergeRequest, ForgeError> {
        if options.auto_merge {
            self.auto_merge(iid, options).await
        } else {
            self.merge_now(iid, options).await
        }
    }

    async fn list_open_into(&self, target_branch: &str) -> Result<Vec<MergeRequest>, ForgeError> {
        let mut url = self.repo_url(&["pulls"]);
        url.query_pairs_mut()
            .append_pair("state", "open")
            .append_pair("base", target_branch)
            .append_pair("per_page", &self.page_size.to_string());
        self.all_pages(url).await
    }

    /// `GET /repos/{o}/{r}/git/matching-refs/heads/<prefix>` (the refs
    /// whose names start with it), then each branch's open pull requests.
    async fn list_open_under(
        &self,
        prefix: &str,
        target_branch: &str,
    ) -> Result<Vec<MergeRequest>, ForgeError> {
        let mut rest = vec!["git", "matching-refs", "heads"];
        rest.extend(prefix.split('/').filter(|s| !s.is_empty()));
        let refs = self
            .send(Method::GET, self.repo_url(&rest), None)
            .await?
            .expect_json::<Vec<ApiGitRef>>(StatusCode::OK)?;
        let names = refs
            .into_iter()
            .filter_map(|r| r.name.strip_prefix("refs/heads/").map(str::to_owned))
            .collect();
        open_from_branches(self, names, prefix, target_branch).await
    }

    /// `POST /repos/{o}/{r}/issues/{n}/comments`: a pull request's
    /// conversation is its issue's.
    async fn comment(&self, iid: u64, body: &str) -> Result<(), ForgeError> {
        let url = self.repo_url(&["issues", &iid.to_string(), "comments"]);
        self.send(Method::POST, url, Some(json!({ "body": body })))
            .await?
            .expect(StatusCode::CREATED)?;
        Ok(())
    }

    /// `PATCH /repos/{o}/{r}/pulls/{n}` with `state: closed`.
    async fn close(&self, iid: u64) -> Result<MergeRequest, ForgeError> {
        let url = self.repo_url(&["pulls", &iid.to_string()]);
        let reply = self
            .send(Method::PATCH, url, Some(json!({ "state": "closed" })))
            .await?;
        Self::pull(reply, StatusCode::OK)
    }

    /// `DELETE /repos/{o}/{r}/git/refs/heads/<branch>` (204; 422
    /// `Reference does not exist` when it is gone already).
    async fn delete_branch(&self, branch: &str) -> Result<(), ForgeError> {
        let mut rest = vec!["git", "refs", "heads"];
        rest.extend(branch.split('/'));
        let reply = self
            .send(Method::DELETE, self.repo_url(&rest), None)
            .await?;
        match reply.status {
            StatusCode::NO_CONTENT => Ok(()),
            StatusCode::UNPROCESSABLE_ENTITY if reply.message().contains("does not exist") => {
                Ok(())
            }
            _ => Err(reply.into_error()),
        }
    }

    /// `GET /repos/{o}/{r}/pulls?state=closed&base=…`, first page, the
    /// merged ones (closed includes the unmerged).
    async fn recent_merged_into(
        &self,
        target_branch: &str,
    ) -> Result<Vec<MergeRequest>, ForgeError> {
        let mut url = self.repo_url(&["pulls"]);
        url.query_pairs_mut()
            .append_pair("state", "closed")
            .append_pair("base", target_branch)
            .append_pair("sort", "updated")
            .append_pair("direction", "desc")
            .append_pair("per_page", "100");
        let reply = self.send(Method::GET, url, None).await?;
        Ok(reply
            .expect_json::<Vec<ApiPull>>(StatusCode::OK)?
            .into_iter()
            .map(MergeRequest::from)
            .filter(|mr| mr.state == MrState::Merged)
            .collect())
    }

    /// `GET /repos/{o}/{r}/commits/{sha}/pulls`: the merged pull request
    /// that brought the commit to the default branch, or open ones whose
    /// head it is.
    async fn merge_requests_of_commit(&self, sha: &str) -> Result<Vec<MergeRequest>, ForgeError> {
        let mut url = self.repo_url(&["commits", sha, "pulls"]);
        url.query_pairs_mut()
            .append_pair("per_page", &self.page_size.to_string());
        self.all_pages(url).await
    }

    async fn review(&self, iid: u64) -> Result<Review, ForgeError> {
        let url = self.repo_url(&["pulls", &iid.to_string()]);
        let pr: ApiMerged = self
            .send(Method::GET, url, None)
            .await?
            .expect_json(StatusCode::OK)?;
        let mut url = self.repo_url(&["pulls", &iid.to_string(), "reviews"]);
        url.query_pairs_mut()
            .append_pair("per_page", &self.page_size.to_string());
        let reviews = self.http.all_pages::<ApiReview>(url).await?;
        Ok(Review {
            web_url: pr.html_url,
            merged_by: pr.merged_by.map(|u| u.login),
            merged_at: normalize_time(pr.merged_at.as_deref()),
            approvals: standing_approvals(reviews),
        })
    }
}

/// Each reviewer's latest review that decides (approve, request changes,
/// dismissed), kept when it approves; comments do not change a standing
/// approval. Reviews come in chronological order.
fn standing_approvals(reviews: Vec<ApiReview>) -> Vec<ReviewApproval> {
    let mut latest: Vec<(String, String, Option<String>)> = Vec::new();
    for review in reviews {
        let Some(user) = review.user else { continue };
        if review.state == "COMMENTED" || review.state == "PENDING" {
            continue;
        }
        latest.retain(|(u, _, _)| *u != user.login);
        latest.push((user.login, review.state, review.submitted_at));
    }
    latest
        .into_iter()
        .filter(|(_, state, _)| state == "APPROVED")
        .map(|(user, _, at)| ReviewApproval {
            user,
            at: normalize_time(at.as_deref()),
        })
        .collect()
}
