//! Merging a pull request: now, through REST, or armed with auto-merge,
//! which only GitHub's GraphQL API offers (the `enablePullRequestAutoMerge`
//! mutation at the GraphQL endpoint beside the REST root), with the direct
//! merge GitHub wants instead when the pull request can merge now (see the
//! parent module's docs).

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::json;

use super::{ApiPull, Forge, GitHub, GitHubMergeMethod};
use crate::capabilities::forge::error::ForgeError;
use crate::capabilities::forge::model::{MergeOptions, MergeRequest};

impl GitHub {
    /// `PUT /repos/{o}/{r}/pulls/{n}/merge` with the configured method.
    pub(super) async fn merge_now(
        &self,
        iid: u64,
        options: &MergeOptions,
    ) -> Result<MergeRequest, ForgeError> {
        let mut body = serde_json::Map::new();
        body.insert("merge_method".into(), json!(self.merge_method));
        if let Some(sha) = &options.sha {
            body.insert("sha".into(), sha.clone().into());
        }
        if let Some(message) = &options.commit_message {
            body.insert("commit_title".into(), message.clone().into());
        }
        let url = self.repo_url(&["pulls", &iid.to_string(), "merge"]);
        let reply = self.send(Method::PUT, url, Some(body.into())).await?;
        match reply.status {
            StatusCode::OK => self.get(iid).await,
            StatusCode::METHOD_NOT_ALLOWED => {
                let detail = match self.get(iid).await {
                    Ok(pr) => pr.detailed_merge_status.unwrap_or_else(|| "unknown".into()),
                    Err(_) => "unknown".to_owned(),
                };
                Err(ForgeError::NotMergeable {
                    forge: "github",
                    iid,
                    status: 405,
                    detail,
                    message: reply.message(),
                })
            }
            StatusCode::CONFLICT => Err(ForgeError::ShaMismatch {
                forge: "github",
                iid,
                message: reply.message(),
            }),
            _ => Err(reply.into_error()),
        }
    }

    /// Arms auto-merge on pull request `iid`, or merges it now when GitHub
    /// says it can merge now.
    pub(super) async fn auto_merge(
        &self,
        iid: u64,
        options: &MergeOptions,
    ) -> Result<MergeRequest, ForgeError> {
        let url = self.repo_url(&["pulls", &iid.to_string()]);
        let pr: ApiPull = self
            .send(Method::GET, url, None)
            .await?
            .expect_json(StatusCode::OK)?;
        // What `gh pr merge --auto` reads as "immediately mergeable".
        if matches!(
            pr.mergeable_state.as_deref(),
            Some("clean" | "has_hooks" | "unstable")
        ) {
            return self.merge_now(iid, options).await;
        }
        let Some(node_id) = pr.node_id else {
            return Err(ForgeError::GraphQl {
                url: self.graphql.to_string(),
                operation: "enablePullRequestAutoMerge",
                message: format!("pull request #{iid} has no node_id to address it by"),
            });
        };
        match self.enable_auto_merge(&node_id, options).await {
            Ok(()) => self.get(iid).await,
            // It became mergeable since it was read: merge it now.
            Err(ForgeError::GraphQl { message, .. })
                if message.contains("is in clean status")
                    || message.contains("is in unstable status")
                    || message.contains("is in has_hooks status") =>
            {
                tracing::info!(
                    number = iid,
                    "the pull request can merge now: merging instead of arming auto-merge"
                );
                self.merge_now(iid, options).await
            }
            Err(e) => Err(e),
        }
    }

    /// The `enablePullRequestAutoMerge` mutation for the pull request with
    /// GraphQL id `node_id`.
    async fn enable_auto_merge(
        &self,
        node_id: &str,
        options: &MergeOptions,
    ) -> Result<(), ForgeError> {
        const OPERATION: &str = "enablePullRequestAutoMerge";
        let mut input = serde_json::Map::new();
        input.insert("pullRequestId".into(), node_id.into());
        input.insert(
            "mergeMethod".into(),
            match self.merge_method {
                GitHubMergeMethod::Merge => "MERGE",
                GitHubMergeMethod::Squash => "SQUASH",
                GitHubMergeMethod::Rebase => "REBASE",
            }
            .into(),
        );
        if let Some(sha) = &options.sha {
            input.insert("expectedHeadOid".into(), sha.clone().into());
        }
        if let Some(message) = &options.commit_message {
            input.insert("commitHeadline".into(), message.clone().into());
        }
        let body = json!({
            "query": "mutation EnableAutoMerge($input: EnablePullRequestAutoMergeInput!) { enablePullRequestAutoMerge(input: $input) { pullRequest { number autoMergeRequest { enabledAt mergeMethod } } } }",
            "variables": { "input": input },
        });
        let answer: GraphQlReply = self
            .send(Method::POST, self.graphql.clone(), Some(body))
            .await?
            .expect_json(StatusCode::OK)?;
        if let Some(errors) = answer.errors.filter(|e| !e.is_empty()) {
            return Err(ForgeError::GraphQl {
                url: self.graphql.to_string(),
                operation: OPERATION,
                message: errors
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        let armed = answer
            .data
            .as_ref()
            .and_then(|d| d.pointer("/enablePullRequestAutoMerge/pullRequest/autoMergeRequest"))
            .is_some_and(|a| !a.is_null());
        if !armed {
            return Err(ForgeError::GraphQl {
                url: self.graphql.to_string(),
                operation: OPERATION,
                message: "the answer shows no auto-merge request on the pull request".into(),
            });
        }
        Ok(())
    }
}

/// A GraphQL answer: `data`, and `errors` when something failed (GitHub
/// answers HTTP 200 either way).
#[derive(Debug, Deserialize)]
struct GraphQlReply {
    data: Option<serde_json::Value>,
    errors: Option<Vec<GraphQlError>>,
}

#[derive(Debug, Deserialize)]
struct GraphQlError {
    message: String,
}

/// GitHub's GraphQL endpoint for REST root `api`: `/graphql` beside it,
/// `…/api/graphql` for GitHub Enterprise Server's `…/api/v3`.
pub(super) fn graphql_url(api: &Url) -> Url {
    let mut url = api.clone();
    let path = api.path().trim_end_matches('/');
    let root = path.strip_suffix("/v3").unwrap_or(path);
    url.set_path(&format!("{root}/graphql"));
    url.set_query(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_lives_beside_the_rest_root() {
        let at = |api: &str| graphql_url(&Url::parse(api).expect("url")).to_string();
        assert_eq!(
            at("https://api.github.com"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            at("https://api.github.com/"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            at("https://ghe.example.com/api/v3"),
            "https://ghe.example.com/api/graphql"
        );
        assert_eq!(
            at("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com/api/graphql"
        );
        assert_eq!(at("http://127.0.0.1:8080"), "http://127.0.0.1:8080/graphql");
    }
}
