//! `PUT /repos/{owner}/{repo}/pulls/{number}/merge`: lands the pull request
//! on its base branch in the bare repository (`merge`, `squash` or `rebase`),
//! with GitHub's 405 / 409 / 422 answers when it cannot.

use super::*;

pub(super) async fn merge(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (pr, p) = match find_with_params(&gh, &owner, &repo, &number, &uri, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let strategy = match p_str(&p, "merge_method").as_deref() {
        None | Some("merge") => Strategy::MergeCommit,
        Some("squash") => Strategy::Squash,
        Some("rebase") => Strategy::FastForward,
        Some(other) => {
            let errors = json!([{ "resource": "PullRequest", "field": "merge_method", "code": "invalid", "value": other }]);
            let body = json!({ "message": "Validation Failed", "errors": errors, "documentation_url": DOC_MERGE });
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
        }
    };
    let not_mergeable = || {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
            DOC_MERGE,
        )
    };
    let mut store = gh.shared.store.lock().await;
    let Some(m) = store.iter_mut().find(|m| m.iid == pr.iid) else {
        return not_found();
    };
    if m.state != SimMrState::Opened {
        return not_mergeable();
    }
    let repo_ = &gh.shared.repo;
    let title = p_str(&p, "commit_title").unwrap_or_else(|| {
        format!(
            "Merge pull request #{} from {}/{}",
            m.iid, gh.owner, m.source_branch
        )
    });
    let message = match p_str(&p, "commit_message") {
        Some(body) => format!("{title}\n\n{body}"),
        None => format!("{title}\n\n{}", m.title),
    };
    let mut outcome = Err(MergeFailure::TargetMoved);
    let mut source_sha = String::new();
    for _ in 0..3 {
        let (Ok(Some(source)), Ok(Some(target))) = (
            repo_.head(&m.source_branch).await,
            repo_.head(&m.target_branch).await,
        ) else {
            return not_mergeable();
        };
        if let Some(expected) = p_str(&p, "sha")
            && expected != source
        {
            return error(
                StatusCode::CONFLICT,
                "Head branch was modified. Review and try the merge again.",
                DOC_MERGE,
            );
        }
        source_sha = source.clone();
        // `rebase` replays onto the base: a fast-forward when possible, else
        // (approximation) one commit carrying the merged tree.
        let this = match strategy {
            Strategy::FastForward
                if !repo_.is_ancestor(&target, &source).await.unwrap_or(false) =>
            {
                Strategy::Squash
            }
            s => s,
        };
        outcome = repo_
            .merge(&m.target_branch, &target, &source, this, &message)
            .await;
        if !matches!(outcome, Err(MergeFailure::TargetMoved)) {
            break;
        }
    }
    let new_head = match outcome {
        Ok(head) => head,
        Err(MergeFailure::Conflict | MergeFailure::NotFastForward) => return not_mergeable(),
        Err(MergeFailure::TargetMoved) => {
            return error(
                StatusCode::CONFLICT,
                "Base branch was modified. Review and try the merge again.",
                DOC_MERGE,
            );
        }
        Err(MergeFailure::Git(e)) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), DOCS);
        }
    };
    let now = now_rfc3339(false);
    m.state = SimMrState::Merged;
    m.merged_at = Some(now.clone());
    m.closed_at = Some(now.clone());
    m.updated_at = now;
    m.merged_sha = Some(source_sha);
    m.merge_commit_sha = Some(new_head.clone());
    drop(store);
    Json(json!({ "sha": new_head, "merged": true, "message": "Pull Request successfully merged" }))
        .into_response()
}
