//! `POST /graphql`: the GraphQL mutations that GitHub offers only there
//! and that clients of pull requests use:
//!
//! - `enablePullRequestAutoMerge` (what `gh pr merge --auto` and PyGithub's
//!   `enable_automerge` send): arms auto-merge with a merge method and an
//!   optional commit headline and body. As on GitHub, a pull request that
//!   could merge now (`clean` or `unstable`), a draft or a conflicting one
//!   is refused (`Pull request Pull request is in clean status`), and
//!   `expectedHeadOid` must be the head. Armed, the pull request shows
//!   `auto_merge` in REST and lands once its required checks pass (see
//!   `checks`).
//! - `disablePullRequestAutoMerge`, `markPullRequestReadyForReview`,
//!   `convertPullRequestToDraft`.
//!
//! Pull requests are addressed by the REST `node_id`. The answers follow
//! GitHub's: HTTP 200, `data` with exactly the selected fields, and
//! `errors` with `type`, `path`, `locations` and `message`; a field the
//! schema lacks is a validation error answered before anything runs.
//! Queries and other mutations are answered as fields the simulator's
//! schema does not have.

use super::checks::MergeState;
use super::graphql::{self, Field, Operation, UnknownField};
use super::*;
use crate::sim::forge::{SimAutoMerge, acting_user};

/// One failed field: GitHub's `type` and message.
struct ExecError {
    kind: &'static str,
    message: String,
}

impl ExecError {
    fn unprocessable(message: impl Into<String>) -> Self {
        Self {
            kind: "UNPROCESSABLE",
            message: message.into(),
        }
    }
}

const MUTATIONS: [(&str, &str); 4] = [
    (
        "enablePullRequestAutoMerge",
        "EnablePullRequestAutoMergePayload",
    ),
    (
        "disablePullRequestAutoMerge",
        "DisablePullRequestAutoMergePayload",
    ),
    (
        "markPullRequestReadyForReview",
        "MarkPullRequestReadyForReviewPayload",
    ),
    (
        "convertPullRequestToDraft",
        "ConvertPullRequestToDraftPayload",
    ),
];

fn errors(list: Vec<Value>) -> Response {
    Json(json!({ "errors": list })).into_response()
}

fn location(at: (usize, usize)) -> Value {
    json!([{ "line": at.0, "column": at.1 }])
}

fn undefined(e: &UnknownField, root: &str) -> Value {
    let mut path = vec![root.to_owned()];
    path.extend(e.path.iter().cloned());
    json!({
        "path": path,
        "extensions": { "code": "undefinedField", "typeName": e.type_name, "fieldName": e.field },
        "locations": location(e.at),
        "message": format!("Field '{}' doesn't exist on type '{}'", e.field, e.type_name),
    })
}

/// `POST /graphql`: parses the operation, validates every selection
/// before anything runs, then runs the mutations in order.
pub(super) async fn graphql(
    State(gh): State<Arc<Gh>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = match operation(&body) {
        Ok(op) => op,
        Err(answer) => return *answer,
    };
    if let Err(e) = validate(&gh, &op) {
        return errors(vec![e]);
    }
    let user = acting_user(&headers, reviews::USER_HEADER);
    execute(&gh, &op, &user).await
}

/// The operation a request body carries, or the answer to a body that is
/// not JSON, has no query, or does not parse (boxed: a response is large).
fn operation(body: &Bytes) -> Result<Operation, Box<Response>> {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "Problems parsing JSON",
            DOCS,
        )));
    };
    let Some(query) = request["query"].as_str() else {
        return Err(Box::new(errors(vec![
            json!({ "message": "A query attribute must be specified and must be a string." }),
        ])));
    };
    let variables = request["variables"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    graphql::parse(query, &variables).map_err(|e| {
        Box::new(errors(vec![
            json!({ "locations": location(e.at), "message": format!("Parse error: {}", e.message) }),
        ]))
    })
}

/// Validates every selection of `op` against the payload's shape, before
/// running anything: the error of the first field that fails.
fn validate(gh: &Gh, op: &Operation) -> Result<(), Value> {
    let template = SimMergeRequest::opened(
        0,
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    for field in &op.fields {
        validate_field(gh, op, field, &template)?;
    }
    Ok(())
}

/// One top-level field of `op`: a known mutation, with a valid input and
/// a selection its payload (as built for `template`) has.
fn validate_field(
    gh: &Gh,
    op: &Operation,
    field: &Field,
    template: &SimMergeRequest,
) -> Result<(), Value> {
    let root = if op.kind == "mutation" {
        "Mutation"
    } else {
        "Query"
    };
    let root_path = &op.kind;
    let known = MUTATIONS
        .iter()
        .find(|(name, _)| *name == field.name && op.kind == "mutation");
    let Some((_, type_name)) = known else {
        let e = UnknownField {
            field: field.name.clone(),
            type_name: root.to_owned(),
            at: field.at,
            path: vec![field.key.clone()],
        };
        return Err(undefined(&e, root_path));
    };
    if let Err(message) = check_input(field) {
        return Err(json!({
            "path": [root_path, field.key, "input"],
            "extensions": { "code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": "input" },
            "locations": location(field.at),
            "message": message,
        }));
    }
    let shape = gh.payload(
        type_name,
        template,
        MergeState::Unknown,
        "",
        &Value::Null,
        "baton",
    );
    graphql::project(&shape, &field.selection, std::slice::from_ref(&field.key))
        .map(drop)
        .map_err(|e| undefined(&e, root_path))
}

/// Runs the mutations of `op` in order as `user`: `data` with each one's
/// projected payload (null when it failed) and `errors` for the failures.
async fn execute(gh: &Gh, op: &Operation, user: &str) -> Response {
    let mut data = Map::new();
    let mut failures = Vec::new();
    for field in &op.fields {
        match gh.run_mutation(field, user).await {
            Ok(payload) => {
                let value =
                    graphql::project(&payload, &field.selection, std::slice::from_ref(&field.key))
                        .unwrap_or(Value::Null);
                data.insert(field.key.clone(), value);
            }
            Err(e) => {
                data.insert(field.key.clone(), Value::Null);
                failures.push(json!({
                    "type": e.kind,
                    "path": [field.key],
                    "locations": location(field.at),
                    "message": e.message,
                }));
            }
        }
    }
    let mut body = json!({ "data": data });
    if !failures.is_empty() {
        body["errors"] = json!(failures);
    }
    Json(body).into_response()
}

/// The input object's required field and enum, as GraphQL validates them.
fn check_input(field: &Field) -> Result<(), String> {
    let input_type = format!(
        "{}{}Input",
        field.name[..1].to_uppercase(),
        &field.name[1..]
    );
    let Some(input) = field.args.get("input").and_then(Value::as_object) else {
        return Err(format!(
            "Argument 'input' on Field '{}' has an invalid value. Expected type '{input_type}!'.",
            field.name
        ));
    };
    if !input.get("pullRequestId").is_some_and(Value::is_string) {
        return Err(format!(
            "Argument 'pullRequestId' on InputObject '{input_type}' is required. Expected type ID!"
        ));
    }
    match input.get("mergeMethod") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(m)) if ["MERGE", "SQUASH", "REBASE"].contains(&m.as_str()) => Ok(()),
        Some(other) => Err(format!(
            "Argument 'mergeMethod' on InputObject '{input_type}' has an invalid value ({other}). Expected type 'PullRequestMergeMethod'."
        )),
    }
}

impl Gh {
    /// The number of the pull request a GraphQL `node_id` names.
    fn number_of(node_id: &str) -> Option<u64> {
        node_id.strip_prefix("PR_kwDOsim")?.parse().ok()
    }

    /// Runs one mutation as `user`: its payload, or why it failed.
    async fn run_mutation(&self, field: &Field, user: &str) -> Result<Value, ExecError> {
        let input = field.args.get("input").cloned().unwrap_or(Value::Null);
        let node_id = input["pullRequestId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let not_found = || ExecError {
            kind: "NOT_FOUND",
            message: format!("Could not resolve to a node with the global id of '{node_id}'"),
        };
        let number = Self::number_of(&node_id).ok_or_else(not_found)?;
        let mut store = self.shared.store.lock().await;
        let m = store
            .iter_mut()
            .find(|m| m.iid == number)
            .ok_or_else(not_found)?;
        let state = self.merge_state_now(m).await;
        let now = now_rfc3339(false);
        let type_name = match field.name.as_str() {
            "enablePullRequestAutoMerge" => {
                self.enable_auto_merge(m, state, &input, user, &now).await?;
                "EnablePullRequestAutoMergePayload"
            }
            "disablePullRequestAutoMerge" => {
                m.armed = None;
                "DisablePullRequestAutoMergePayload"
            }
            "markPullRequestReadyForReview" => {
                m.draft = false;
                "MarkPullRequestReadyForReviewPayload"
            }
            _ => {
                if m.state != SimMrState::Opened {
                    return Err(ExecError::unprocessable(
                        "Pull request Pull request is closed",
                    ));
                }
                m.draft = true;
                m.armed = None;
                "ConvertPullRequestToDraftPayload"
            }
        };
        m.updated_at = now;
        let pr = m.clone();
        drop(store);
        Ok(self.payload_now(type_name, &pr, &input, user).await)
    }

    /// `enablePullRequestAutoMerge` on `m` (in merge state `state`) as
    /// `user` at `now`: refused as GitHub refuses it for a closed pull
    /// request, one that could merge now, a draft, a conflicting one or a
    /// head other than `expectedHeadOid`; else armed with the input's
    /// merge method, headline and body.
    async fn enable_auto_merge(
        &self,
        m: &mut SimMergeRequest,
        state: MergeState,
        input: &Value,
        user: &str,
        now: &str,
    ) -> Result<(), ExecError> {
        if m.state != SimMrState::Opened {
            return Err(ExecError::unprocessable(
                "Pull request Pull request is closed",
            ));
        }
        if let MergeState::Clean | MergeState::Unstable | MergeState::Draft | MergeState::Dirty =
            state
        {
            return Err(ExecError::unprocessable(format!(
                "Pull request Pull request is in {} status",
                state.word()
            )));
        }
        let head = self.shared.repo.head(&m.source_branch).await.ok().flatten();
        if let Some(expected) = input["expectedHeadOid"].as_str()
            && head.as_deref() != Some(expected)
        {
            return Err(ExecError::unprocessable(
                "Pull request Head ref must match the expected head OID",
            ));
        }
        m.armed = Some(SimAutoMerge {
            enabled_by: user.to_owned(),
            enabled_at: now.to_owned(),
            strategy: match input["mergeMethod"].as_str() {
                Some("SQUASH") => Strategy::Squash,
                Some("REBASE") => Strategy::Rebase,
                _ => Strategy::MergeCommit,
            },
            squash: false,
            commit_title: input["commitHeadline"].as_str().map(str::to_owned),
            commit_body: input["commitBody"].as_str().map(str::to_owned),
            remove_source_branch: None,
        });
        m.auto_merge = true;
        Ok(())
    }

    /// The payload of a mutation that left `pr` as it is, with its merge
    /// state and head now (a closed one's head is its merged commit).
    async fn payload_now(
        &self,
        type_name: &str,
        pr: &SimMergeRequest,
        input: &Value,
        user: &str,
    ) -> Value {
        let state = self.merge_state_now(pr).await;
        let head = match pr.state {
            SimMrState::Opened => self
                .shared
                .repo
                .head(&pr.source_branch)
                .await
                .ok()
                .flatten(),
            _ => pr.merged_sha.clone(),
        };
        self.payload(
            type_name,
            pr,
            state,
            head.as_deref().unwrap_or_default(),
            &input["clientMutationId"],
            user,
        )
    }

    /// A mutation's payload as an object graph (every object carries its
    /// `__typename`), for [`graphql::project`].
    fn payload(
        &self,
        type_name: &str,
        pr: &SimMergeRequest,
        state: MergeState,
        head: &str,
        client_mutation_id: &Value,
        actor: &str,
    ) -> Value {
        let actor_node = |login: &str| {
            let user = self.user_named(login);
            json!({
                "__typename": "User", "login": login, "avatarUrl": user["avatar_url"],
                "resourcePath": format!("/{login}"), "url": user["html_url"],
            })
        };
        let auto = pr.armed.as_ref().map_or(Value::Null, |a| {
            json!({
                "__typename": "AutoMergeRequest",
                "enabledAt": a.enabled_at,
                "enabledBy": actor_node(&a.enabled_by),
                "mergeMethod": match a.strategy {
                    Strategy::Squash => "SQUASH",
                    Strategy::Rebase => "REBASE",
                    _ => "MERGE",
                },
                "commitHeadline": a.commit_title,
                "commitBody": a.commit_body,
                "authorEmail": null,
            })
        });
        let pull = json!({
            "__typename": "PullRequest",
            "id": format!("PR_kwDOsim{}", pr.iid),
            "number": pr.iid,
            "title": pr.title,
            "url": format!("{}/pull/{}", self.html(), pr.iid),
            "state": match pr.state {
                SimMrState::Opened => "OPEN",
                SimMrState::Closed => "CLOSED",
                SimMrState::Merged => "MERGED",
            },
            "merged": pr.state == SimMrState::Merged,
            "isDraft": pr.draft,
            "mergeStateStatus": state.word().to_uppercase(),
            "headRefName": pr.source_branch,
            "baseRefName": pr.target_branch,
            "headRefOid": head,
            "autoMergeRequest": auto,
        });
        json!({
            "__typename": type_name,
            "actor": actor_node(actor),
            "clientMutationId": client_mutation_id,
            "pullRequest": pull,
        })
    }
}
