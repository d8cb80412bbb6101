//! `baton sim merge`: merges an open merge request on a running forge
//! simulator as a reviewer would, so a promotion tried against the
//! simulators can go on past its merge request (then `baton advance`).
//!
//! It speaks the forges' own REST calls, so it also shows what a reviewer's
//! merge is: GitLab `PUT …/merge_requests/:iid/merge` with `Sudo: USER`,
//! GitHub `PUT …/pulls/:n/merge` with the GitHub simulator's
//! `X-Baton-Sim-User: USER` (real GitHub knows the user from the token).
//! Which forge is told by the API URL: GitLab's ends in `/api/v4`, as `baton
//! sim gitlab` prints it.

use clap::Args;
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::cli::error::CommandError;
use crate::cli::output;
use crate::secret::Secret;

/// Arguments of `baton sim merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The simulator's API URL as it printed it: `http://127.0.0.1:PORT/api/v4`
    /// (GitLab) or `http://127.0.0.1:PORT` (GitHub).
    #[arg(long, value_name = "URL")]
    api: String,
    /// The project: GitLab path or id (`acme/gitops-env`), GitHub
    /// `OWNER/NAME`.
    #[arg(long, default_value = "acme/gitops-env")]
    project: String,
    /// Merge the open merge request from this source branch, e.g.
    /// `baton/payments/staging/v1.2.3`.
    #[arg(long, required_unless_present = "iid", conflicts_with = "iid")]
    branch: Option<String>,
    /// Merge this merge request (GitLab iid, GitHub pull request number).
    #[arg(long)]
    iid: Option<u64>,
    /// The reviewer who merges (GitLab `Sudo`, GitHub simulator
    /// `X-Baton-Sim-User`).
    #[arg(long = "as", value_name = "USER", default_value = "reviewer")]
    user: String,
    /// Squash the source branch's commits into one (GitLab `squash`,
    /// GitHub `merge_method: squash`).
    #[arg(long)]
    squash: bool,
    /// Environment variable holding the token the simulator requires.
    #[arg(long)]
    token_env: Option<String>,
}

/// Which forge's API the URL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forge {
    GitLab,
    GitHub,
}

/// Why a merge failed.
#[derive(Debug, thiserror::Error)]
pub enum SimMergeError {
    /// The API URL does not parse.
    #[error("--api {url:?} is not a URL")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why.
        #[source]
        source: url::ParseError,
    },
    /// No open merge request has this source branch.
    #[error("no open merge request from {branch} in {project}")]
    NoneOpen {
        /// The branch.
        branch: String,
        /// The project.
        project: String,
    },
    /// The request did not reach the simulator.
    #[error("{method} {url} failed")]
    Transport {
        /// The method.
        method: Method,
        /// The URL.
        url: Url,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The simulator refused the request.
    #[error("{method} {url} answered {status}: {body}")]
    Refused {
        /// The method.
        method: Method,
        /// The URL.
        url: Url,
        /// The status.
        status: StatusCode,
        /// The answer's body.
        body: String,
    },
}

/// Merges the merge request and prints what landed.
pub async fn run(args: MergeArgs) -> Result<(), CommandError> {
    let token = match &args.token_env {
        None => None,
        Some(name) => Some(Secret::from_env(name).ok_or_else(|| {
            CommandError::usage(format!(
                "--token-env: environment variable {name} is not set"
            ))
        })?),
    };
    let api = Url::parse(args.api.trim_end_matches('/')).map_err(|source| {
        CommandError::usage(SimMergeError::BadUrl {
            url: args.api.clone(),
            source,
        })
    })?;
    let forge = if api.path().trim_end_matches('/').ends_with("/api/v4") {
        Forge::GitLab
    } else {
        Forge::GitHub
    };
    if forge == Forge::GitHub && !args.project.contains('/') {
        return Err(CommandError::usage(format!(
            "--project {:?}: a GitHub repository is OWNER/NAME",
            args.project
        )));
    }
    let client = Client {
        http: reqwest::Client::new(),
        api,
        forge,
        project: args.project.clone(),
        token,
        user: args.user.clone(),
    };
    let number = match (args.iid, &args.branch) {
        (Some(iid), _) => iid,
        (None, Some(branch)) => client.open_from(branch).await.map_err(command_error)?,
        (None, None) => return Err(CommandError::usage("give --branch or --iid")),
    };
    let landed = client
        .merge(number, args.squash)
        .await
        .map_err(command_error)?;
    output::print(&format!(
        "merged {}{number} in {} as {}: {}\n",
        if forge == Forge::GitLab { "!" } else { "#" },
        args.project,
        args.user,
        landed
    ));
    Ok(())
}

/// Nothing to merge is a usage error (exit 2); a simulator that cannot be
/// reached or refuses the merge, an external one.
fn command_error(e: SimMergeError) -> CommandError {
    match e {
        SimMergeError::BadUrl { .. } | SimMergeError::NoneOpen { .. } => CommandError::usage(e),
        SimMergeError::Transport { .. } | SimMergeError::Refused { .. } => {
            CommandError::external(e)
        }
    }
}

/// One simulator's API, acting as one user.
struct Client {
    http: reqwest::Client,
    api: Url,
    forge: Forge,
    project: String,
    token: Option<Secret>,
    user: String,
}

impl Client {
    /// `api` + the project's path + `rest`, each segment encoded (a
    /// GitLab project path is one segment, `acme%2Fgitops-env`).
    fn url(&self, rest: &[&str]) -> Url {
        let mut url = self.api.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            match self.forge {
                Forge::GitLab => {
                    segments.extend(["projects", self.project.as_str()]);
                }
                Forge::GitHub => {
                    segments.push("repos");
                    segments.extend(self.project.split('/'));
                }
            }
            segments.extend(rest);
        }
        url
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<Value, SimMergeError> {
        let mut request = self.http.request(method.clone(), url.clone());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        request = match self.forge {
            Forge::GitLab => request.header("Sudo", &self.user),
            Forge::GitHub => request.header("X-Baton-Sim-User", &self.user),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        // The URL is in this error already; reqwest's would repeat it.
        let transport = |source: reqwest::Error| SimMergeError::Transport {
            method: method.clone(),
            url: url.clone(),
            source: source.without_url(),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let text = response.text().await.map_err(transport)?;
        if !status.is_success() {
            return Err(SimMergeError::Refused {
                method,
                url,
                status,
                body: text.trim().to_owned(),
            });
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The number of the open merge request from `branch`.
    async fn open_from(&self, branch: &str) -> Result<u64, SimMergeError> {
        let (rest, query) = match self.forge {
            Forge::GitLab => (
                ["merge_requests"].as_slice(),
                vec![
                    ("state", "opened".to_owned()),
                    ("source_branch", branch.to_owned()),
                ],
            ),
            Forge::GitHub => {
                let owner = self.project.split('/').next().unwrap_or_default();
                (
                    ["pulls"].as_slice(),
                    vec![
                        ("state", "open".to_owned()),
                        ("head", format!("{owner}:{branch}")),
                    ],
                )
            }
        };
        let mut url = self.url(rest);
        url.query_pairs_mut().extend_pairs(query);
        let list = self.send(Method::GET, url, None).await?;
        let field = match self.forge {
            Forge::GitLab => "iid",
            Forge::GitHub => "number",
        };
        list.as_array()
            .and_then(|all| all.iter().filter_map(|mr| mr[field].as_u64()).min())
            .ok_or_else(|| SimMergeError::NoneOpen {
                branch: branch.to_owned(),
                project: self.project.clone(),
            })
    }

    /// Merges `number`; returns what landed, for people.
    async fn merge(&self, number: u64, squash: bool) -> Result<String, SimMergeError> {
        let number_text = number.to_string();
        let (url, body) = match self.forge {
            Forge::GitLab => (
                self.url(&["merge_requests", &number_text, "merge"]),
                json!({ "squash": squash }),
            ),
            Forge::GitHub => (
                self.url(&["pulls", &number_text, "merge"]),
                json!({ "merge_method": if squash { "squash" } else { "merge" } }),
            ),
        };
        let merged = self.send(Method::PUT, url, Some(body)).await?;
        let commit = match self.forge {
            Forge::GitLab => merged["merge_commit_sha"]
                .as_str()
                .or_else(|| merged["squash_commit_sha"].as_str())
                .or_else(|| merged["sha"].as_str()),
            Forge::GitHub => merged["sha"].as_str(),
        };
        Ok(match commit {
            Some(sha) => format!("{} is on the target branch", short(sha)),
            None => "merged".to_owned(),
        })
    }
}

/// A commit id as git shows it.
fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
