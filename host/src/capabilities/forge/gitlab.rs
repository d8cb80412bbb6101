//! GitLab REST v4 client for merge requests. The project is addressed by
//! numeric id or by its path, URL-encoded as one segment (`group%2Fproject`).

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderName};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::json;

use super::error::ForgeError;
use super::http::{HttpConfig, Reply, Transport, token_from_env};
use super::model::{
    MergeOptions, MergeRequest, MrState, NewMergeRequest, Opened, Review, ReviewApproval,
    normalize_time,
};
use super::{Forge, open_from_branches, reuse};
use crate::secret::Secret;

/// Which header carries the GitLab token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GitLabAuth {
    /// `PRIVATE-TOKEN: <personal/project/group access token>`.
    #[default]
    PrivateToken,
    /// `JOB-TOKEN: <CI_JOB_TOKEN>`.
    JobToken,
    /// `Authorization: Bearer <OAuth or access token>`.
    Bearer,
}

/// Where and how to reach one GitLab project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLabConfig {
    /// API root including `/api/v4`, e.g. `https://gitlab.example.com/api/v4`.
    pub api_url: String,
    /// Numeric project id (`"42"`) or full path (`"group/sub/project"`).
    pub project: String,
    /// Header kind for the token.
    pub auth: GitLabAuth,
    /// Name of the environment variable holding the token.
    pub token_env: String,
    /// Timeouts and retries.
    pub http: HttpConfig,
    /// `per_page` for list calls (GitLab allows up to 100).
    pub page_size: u32,
}

impl GitLabConfig {
    /// A config with default HTTP settings and page size 100.
    pub fn new(
        api_url: impl Into<String>,
        project: impl Into<String>,
        token_env: impl Into<String>,
    ) -> Self {
        Self {
            api_url: api_url.into(),
            project: project.into(),
            auth: GitLabAuth::default(),
            token_env: token_env.into(),
            http: HttpConfig::default(),
            page_size: 100,
        }
    }
}

/// A GitLab project's merge requests.
#[derive(Debug, Clone)]
pub struct GitLab {
    base: Url,
    project: String,
    page_size: u32,
    http: Transport,
}

/// The MR fields Baton reads (the API sends many more).
#[derive(Debug, Deserialize)]
struct ApiMr {
    iid: u64,
    web_url: String,
    title: String,
    description: Option<String>,
    state: MrState,
    source_branch: String,
    target_branch: String,
    #[serde(default)]
    labels: Vec<String>,
    detailed_merge_status: Option<String>,
    sha: Option<String>,
    merge_commit_sha: Option<String>,
    squash_commit_sha: Option<String>,
}

/// A branch of `GET …/repository/branches`.
#[derive(Debug, Deserialize)]
struct ApiBranch {
    name: String,
}

/// A user as GitLab embeds one.
#[derive(Debug, Deserialize)]
struct ApiUser {
    username: String,
}

/// The MR fields that say who merged it and when.
#[derive(Debug, Deserialize)]
struct ApiMerged {
    web_url: String,
    merge_user: Option<ApiUser>,
    merged_by: Option<ApiUser>,
    merged_at: Option<String>,
}

/// `GET …/merge_requests/:iid/approvals`: `approved_at` is sent by GitLab
/// 17.x and later (`API::Entities::Approvals`), absent before.
#[derive(Debug, Deserialize)]
struct ApiApprovals {
    #[serde(default)]
    approved_by: Vec<ApiApprovedBy>,
}

#[derive(Debug, Deserialize)]
struct ApiApprovedBy {
    user: ApiUser,
    approved_at: Option<String>,
}

impl From<ApiMr> for MergeRequest {
    fn from(mr: ApiMr) -> Self {
        // A fast-forward merge leaves no merge commit: the source head is
        // what landed on the target branch.
        let merge_commit_sha = match (mr.state, mr.merge_commit_sha, mr.squash_commit_sha) {
            (_, Some(sha), _) => Some(sha),
            (MrState::Merged, None, Some(squash)) => Some(squash),
            (MrState::Merged, None, None) => mr.sha.clone(),
            _ => None,
        };
        Self {
            iid: mr.iid,
            web_url: mr.web_url,
            title: mr.title,
            description: mr.description.unwrap_or_default(),
            state: mr.state,
            source_branch: mr.source_branch,
            target_branch: mr.target_branch,
            labels: mr.labels,
            detailed_merge_status: mr.detailed_merge_status,
            sha: mr.sha,
            merge_commit_sha,
        }
    }
}

impl GitLab {
    /// Who merged `iid` and who approved it.
    async fn merged_and_approvals(&self, iid: u64) -> Result<Review, ForgeError> {
        let mr: ApiMerged = self
            .send(Method::GET, self.mr_url(&[&iid.to_string()]), None)
            .await?
            .expect_json(StatusCode::OK)?;
        let url = self.mr_url(&[&iid.to_string(), "approvals"]);
        let approvals: ApiApprovals = self
            .send(Method::GET, url, None)
            .await?
            .expect_json(StatusCode::OK)?;
        Ok(Review {
            web_url: mr.web_url,
            merged_by: mr.merge_user.or(mr.merged_by).map(|u| u.username),
            merged_at: normalize_time(mr.merged_at.as_deref()),
            approvals: approvals
                .approved_by
                .into_iter()
                .map(|a| ReviewApproval {
                    user: a.user.username,
                    at: normalize_time(a.approved_at.as_deref()),
                })
                .collect(),
        })
    }
}

impl GitLab {
    /// A client using `token` (see [`GitLab::from_env`]).
    pub fn new(config: GitLabConfig, token: Secret) -> Result<Self, ForgeError> {
        let base = Url::parse(&config.api_url).map_err(|source| ForgeError::InvalidUrl {
            url: config.api_url.clone(),
            source,
        })?;
        let header = match config.auth {
            GitLabAuth::PrivateToken => (
                HeaderName::from_static("private-token"),
                token.expose().to_owned(),
            ),
            GitLabAuth::JobToken => (
                HeaderName::from_static("job-token"),
                token.expose().to_owned(),
            ),
            GitLabAuth::Bearer => (AUTHORIZATION, format!("Bearer {}", token.expose())),
        };
        let http = Transport::new(
            &config.api_url,
            config.http,
            header,
            &[],
            token,
            config.token_env,
        )?;
        Ok(Self {
            base,
            project: config.project,
            page_size: config.page_size.clamp(1, 100),
            http,
        })
    }

    /// A client reading the token from the variable the config names.
    pub fn from_env(config: GitLabConfig) -> Result<Self, ForgeError> {
        let token = token_from_env(&config.token_env)?;
        Self::new(config, token)
    }

    /// `…/projects/<id or encoded path>/merge_requests[/rest…]`.
    fn mr_url(&self, rest: &[&str]) -> Url {
        let mut path = vec!["merge_requests"];
        path.extend(rest);
        self.project_url(&path)
    }

    /// `…/projects/<id or encoded path>/<rest…>`.
    fn project_url(&self, rest: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            // `push` percent-encodes `/` inside a segment: `group%2Fproject`.
            segments
                .pop_if_empty()
                .push("projects")
                .push(&self.project)
                .extend(rest);
        }
        url
    }

    /// Every merge request of a list call, following the pages.
    async fn all_pages(&self, url: Url) -> Result<Vec<MergeRequest>, ForgeError> {
        let mrs = self.http.all_pages::<ApiMr>(url).await?;
        Ok(mrs.into_iter().map(MergeRequest::from).collect())
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
    ) -> Result<Reply, ForgeError> {
        self.http.send(method, url, body.as_ref()).await
    }

    fn expect_mr(reply: Reply, ok: StatusCode) -> Result<MergeRequest, ForgeError> {
        Ok(reply.expect_json::<ApiMr>(ok)?.into())
    }
}

/// The `N` of `…already exists for this source branch: !N`.
pub(crate) fn duplicate_iid(message: &str) -> Option<u64> {
    let marker = "Another open merge request already exists for this source branch: !";
    let rest = &message[message.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[async_trait]
impl Forge for GitLab {
    async fn create_or_reuse(&self, request: &NewMergeRequest) -> Result<Opened, ForgeError> {
        let body = json!({
            "source_branch": request.source_branch,
            "target_branch": request.target_branch,
            "title": request.title,
            "description": request.description,
            "labels": request.labels.join(","),
            "remove_source_branch": request.remove_source_branch,
        });
        let reply = self
            .send(Method::POST, self.mr_url(&[]), Some(body))
            .await?;
        if reply.status == StatusCode::CONFLICT {
            let message = reply.message();
            let Some(iid) = duplicate_iid(&message) else {
                return Err(reply.into_error());
            };
            tracing::info!(iid, source_branch = %request.source_branch, "reusing the open merge request");
            // The MR `iid` named by the 409.
            let existing = self.get(iid).await?;
            return reuse(self, existing, request).await;
        }
        let merge_request = Self::expect_mr(reply, StatusCode::CREATED)?;
        Ok(Opened {
            merge_request,
            reused: false,
        })
    }

    async fn list_open(&self, source_branch: &str) -> Result<Vec<MergeRequest>, ForgeError> {
        let mut url = self.mr_url(&[]);
        url.query_pairs_mut()
            .append_pair("state", "opened")
            .append_pair("source_branch", source_branch)
            .append_pair("per_page", &self.page_size.to_string());
        self.all_pages(url).await
    }

    async fn get(&self, iid: u64) -> Result<MergeRequest, ForgeError> {
        let reply = self
            .send(Method::GET, self.mr_url(&[&iid.to_string()]), None)
            .await?;
        Self::expect_mr(reply, StatusCode::OK)
    }

    async fn update_description(
        &self,
        iid: u64,
        description: &str,
    ) -> Result<MergeRequest, ForgeError> {
        let body = json!({ "description": description });
        let reply = self
            .send(Method::PUT, self.mr_url(&[&iid.to_string()]), Some(body))
            .await?;
        Self::expect_mr(reply, StatusCode::OK)
    }

    async fn merge(&self, iid: u64, options: &MergeOptions) -> Result<MergeRequest, ForgeError> {
        let mut body = serde_json::Map::new();
        if options.auto_merge {
            body.insert("auto_merge".into(), true.into());
        }
        if let Some(sha) = &options.sha {
            body.insert("sha".into(), sha.clone().into());
        }
        if let Some(message) = &options.commit_message {
            body.insert("merge_commit_message".into(), message.clone().into());
        }
        let url = self.mr_url(&[&iid.to_string(), "merge"]);
        let reply = self.send(Method::PUT, url, Some(body.into())).await?;
        match reply.status {
            StatusCode::OK => Ok(reply.json::<ApiMr>()?.into()),
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::UNPROCESSABLE_ENTITY => {
                // The 405/422 body says only "cannot be merged": read why.
                let detail = match self.get(iid).await {
                    Ok(mr) if mr.state != MrState::Opened => "not_open".to_owned(),
                    Ok(mr) => mr.detailed_merge_status.unwrap_or_else(|| "unknown".into()),
                    Err(_) => "unknown".to_owned(),
                };
                Err(ForgeError::NotMergeable {
                    forge: "gitlab",
                    iid,
                    status: reply.status.as_u16(),
                    detail,
                    message: reply.message(),
                })
            }
            StatusCode::CONFLICT => Err(ForgeError::ShaMismatch {
                forge: "gitlab",
                iid,
                message: reply.message(),
            }),
            _ => Err(reply.into_error()),
        }
    }

    async fn list_open_into(&self, target_branch: &str) -> Result<Vec<MergeRequest>, ForgeError> {
        let mut url = self.mr_url(&[]);
        url.query_pairs_mut()
            .append_pair("state", "opened")
            .append_pair("target_branch", target_branch)
            .append_pair("per_page", &self.page_size.to_string());
        self.all_pages(url).await
    }

    /// `GET …/repository/branches?search=^<prefix>` (GitLab's search: `^`
    /// anchors it at the start), then each branch's open requests.
    async fn list_open_under(
        &self,
        prefix: &str,
        target_branch: &str,
    ) -> Result<Vec<MergeRequest>, ForgeError> {
        let mut url = self.project_url(&["repository", "branches"]);
        url.query_pairs_mut()
            .append_pair("search", &format!("^{prefix}"))
            .append_pair("per_page", &self.page_size.to_string());
        let branches = self.http.all_pages::<ApiBranch>(url).await?;
        let names = branches.into_iter().map(|b| b.name).collect();
        open_from_branches(self, names, prefix, target_branch).await
    }

    /// `POST …/merge_requests/:iid/notes`.
    async fn comment(&self, iid: u64, body: &str) -> Result<(), ForgeError> {
        let url = self.mr_url(&[&iid.to_string(), "notes"]);
        self.send(Method::POST, url, Some(json!({ "body": body })))
            .await?
            .expect(StatusCode::CREATED)?;
        Ok(())
    }

    /// `PUT …/merge_requests/:iid` with `state_event=close`.
    async fn close(&self, iid: u64) -> Result<MergeRequest, ForgeError> {
        let body = json!({ "state_event": "close" });
        let reply = self
            .send(Method::PUT, self.mr_url(&[&iid.to_string()]), Some(body))
            .await?;
        Self::expect_mr(reply, StatusCode::OK)
    }

    /// `DELETE …/repository/branches/:branch` (204; 404 `Branch Not
    /// Found` when it is gone already).
    async fn delete_branch(&self, branch: &str) -> Result<(), ForgeError> {
        let url = self.project_url(&["repository", "branches", branch]);
        let reply = self.send(Method::DELETE, url, None).await?;
        match reply.status {
            StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            _ => Err(reply.into_error()),
        }
    }

    /// `GET …/merge_requests?state=merged&target_branch=…`, first page.
    async fn recent_merged_into(
        &self,
        target_branch: &str,
    ) -> Result<Vec<MergeRequest>, ForgeError> {
        let mut url = self.mr_url(&[]);
        url.query_pairs_mut()
            .append_pair("state", "merged")
            .append_pair("target_branch", target_branch)
            .append_pair("per_page", "100");
        let reply = self.send(Method::GET, url, None).await?;
        Ok(reply
            .expect_json::<Vec<ApiMr>>(StatusCode::OK)?
            .into_iter()
            .map(MergeRequest::from)
            .collect())
    }

    /// `GET …/repository/commits/:sha/merge_requests`: GitLab answers the
    /// merge requests whose commits, merge commit or squash commit `sha` is
    /// (`MergeRequest.by_related_commit_sha`).
    async fn merge_requests_of_commit(&self, sha: &str) -> Result<Vec<MergeRequest>, ForgeError> {
        let mut url = self.project_url(&["repository", "commits", sha, "merge_requests"]);
        url.query_pairs_mut()
            .append_pair("per_page", &self.page_size.to_string());
        self.all_pages(url).await
    }

    async fn review(&self, iid: u64) -> Result<Review, ForgeError> {
        self.merged_and_approvals(iid).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_duplicate_iid() {
        assert_eq!(
            duplicate_iid("Another open merge request already exists for this source branch: !42"),
            Some(42)
        );
        assert_eq!(duplicate_iid("Branch cannot be merged"), None);
    }

    #[test]
    fn project_path_is_one_encoded_segment() {
        let config = GitLabConfig::new(
            "https://gitlab.example.com/api/v4/",
            "group/sub/project",
            "GL_TOKEN",
        );
        let gl = GitLab::new(config, Secret::new("t")).expect("client");
        assert_eq!(
            gl.mr_url(&["7", "merge"]).as_str(),
            "https://gitlab.example.com/api/v4/projects/group%2Fsub%2Fproject/merge_requests/7/merge"
        );
    }
}
