//! Constructors for the actions a policy returns. Fields for image
//! digests start empty (`None`): the host writes the version alone.

use crate::{Action, AwaitHealth, Channel, Decision, MergeRequestOptions, Rollback, SetVersion};

/// Set `stage` to `version` by a direct commit to the env repo branch.
pub fn commit(stage: &str, version: &str, reason: impl Into<String>) -> Action {
    Action::SetVersion(SetVersion {
        stage: stage.into(),
        version: version.into(),
        channel: Channel::DirectCommit,
        reason: reason.into(),
        digest: None,
    })
}

/// Set `stage` to `version` through `channel`.
pub fn merge_or_commit(
    stage: &crate::Stage,
    version: &str,
    channel: Channel,
    reason: impl Into<String>,
) -> Action {
    Action::SetVersion(SetVersion {
        stage: stage.name.clone(),
        version: version.into(),
        channel,
        reason: reason.into(),
        digest: None,
    })
}

/// Set `stage` to `version` through a merge request.
pub fn merge_request(
    stage: &str,
    version: &str,
    options: MergeRequestOptions,
    reason: impl Into<String>,
) -> Action {
    Action::SetVersion(SetVersion {
        stage: stage.into(),
        version: version.into(),
        channel: Channel::MergeRequest(options),
        reason: reason.into(),
        digest: None,
    })
}

/// Merge request options with the host's default title.
pub fn mr_options(description: impl Into<String>, labels: &[String]) -> MergeRequestOptions {
    MergeRequestOptions {
        title: None,
        description: description.into(),
        labels: labels.to_vec(),
        auto_merge: false,
    }
}

/// Wait until `stage` is healthy at `version`, for at most `timeout_ms`.
pub fn await_health(stage: &str, version: &str, timeout_ms: u64) -> Action {
    Action::AwaitHealth(AwaitHealth {
        stage: stage.into(),
        version: version.into(),
        timeout: timeout_ms,
    })
}

/// Roll `stage` back from `bad` to `good` through `channel`.
pub fn rollback(
    stage: &str,
    good: &str,
    bad: &str,
    channel: Channel,
    reason: impl Into<String>,
) -> Action {
    Action::Rollback(Rollback {
        stage: stage.into(),
        to_version: good.into(),
        rollback_of: bad.into(),
        channel,
        reason: reason.into(),
        to_digest: None,
    })
}

/// Stop successfully for now.
pub fn hold(reason: impl Into<String>) -> Action {
    Action::Hold(reason.into())
}

/// Stop the run as failed.
pub fn fail(reason: impl Into<String>) -> Action {
    Action::Fail(reason.into())
}

/// A decision with no actions, explained.
pub fn nothing(reason: impl Into<String>) -> Decision {
    Decision {
        actions: Vec::new(),
        reasons: vec![reason.into()],
        recheck_after: None,
    }
}
