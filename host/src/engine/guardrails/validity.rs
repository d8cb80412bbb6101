//! Is a decision one Baton can carry out? Bounded in size, each stage
//! written at most once, every version usable, every text a forge and a
//! commit can take, every derived branch name a valid ref. A failure is an
//! invalid decision (exit 3), refused before anything is written.

use super::{DecisionLimits, Refusal, brief};
use crate::capabilities::git::mr_branch_name;
use crate::runtime::{Action, Channel, Decision, MergeRequestOptions};
use crate::version::{self, Shown};

/// The decision as a whole: its size, its reasons, each stage written once.
pub(super) fn check_decision(decision: &Decision, limits: &DecisionLimits) -> Result<(), Refusal> {
    let whole = |detail: String| Refusal::Invalid {
        index: 0,
        action: String::new(),
        detail,
    };
    if decision.actions.len() > limits.max_actions {
        return Err(whole(format!(
            "it has {} actions; at most {} are allowed",
            decision.actions.len(),
            limits.max_actions
        )));
    }
    for reason in &decision.reasons {
        text("a reason", reason, limits.max_text, true).map_err(whole)?;
    }
    let mut written: Vec<(&str, usize)> = Vec::new();
    for (i, action) in decision.actions.iter().enumerate() {
        let stage = match action {
            Action::SetVersion(s) => &s.stage,
            Action::Rollback(r) => &r.stage,
            _ => continue,
        };
        if let Some((_, first)) = written.iter().find(|(s, _)| s == stage) {
            return Err(Refusal::Invalid {
                index: i + 1,
                action: brief(action),
                detail: format!("stage {stage} is already changed by action {first}"),
            });
        }
        written.push((stage, i + 1));
    }
    Ok(())
}

/// One action's values.
pub(super) fn check_action(
    index: usize,
    action: &Action,
    app: &str,
    limits: &DecisionLimits,
) -> Result<(), Refusal> {
    let invalid = |detail: String| Refusal::Invalid {
        index,
        action: brief(action),
        detail,
    };
    match action {
        Action::SetVersion(s) => {
            check_version("set-version version", &s.version).map_err(invalid)?;
            check_digest("set-version digest", s.digest.as_deref()).map_err(invalid)?;
            text("the reason", &s.reason, limits.max_text, true).map_err(invalid)?;
            write(app, &s.stage, &s.version, &s.channel, limits).map_err(invalid)
        }
        Action::Rollback(r) => {
            check_version("rollback target", &r.to_version).map_err(invalid)?;
            check_digest("rollback target digest", r.to_digest.as_deref()).map_err(invalid)?;
            check_version("rollback-of version", &r.rollback_of).map_err(invalid)?;
            text("the reason", &r.reason, limits.max_text, true).map_err(invalid)?;
            write(app, &r.stage, &r.to_version, &r.channel, limits).map_err(invalid)
        }
        Action::AwaitHealth(a) => {
            check_version("await-health version", &a.version).map_err(invalid)
        }
        Action::Hold(reason) | Action::Fail(reason) => {
            text("the reason", reason, limits.max_text, true).map_err(invalid)
        }
    }
}

/// A version from the policy, checked like `--tag`.
fn check_version(source: &str, value: &str) -> Result<(), String> {
    version::check(value)
        .map_err(|e| format!("{source} {} is not a usable version: {e}", Shown(value)))
}

/// A digest from the policy, when it gives one.
fn check_digest(source: &str, value: Option<&str>) -> Result<(), String> {
    let Some(value) = value else { return Ok(()) };
    version::check_digest(value)
        .map_err(|e| format!("{source} {} is not usable: {e}", Shown(value)))
}

/// What a write derives from the decision: the merge-request branch name,
/// and a merge request's title, labels and description.
fn write(
    app: &str,
    stage: &str,
    version: &str,
    channel: &Channel,
    limits: &DecisionLimits,
) -> Result<(), String> {
    let Channel::MergeRequest(options) = channel else {
        return Ok(());
    };
    let branch = mr_branch_name(app, stage, version);
    version::check_ref(&branch).map_err(|e| {
        format!(
            "merge request branch {} is not a valid git ref: {e}",
            Shown(&branch)
        )
    })?;
    merge_request(options, limits)
}

fn merge_request(options: &MergeRequestOptions, limits: &DecisionLimits) -> Result<(), String> {
    if let Some(title) = &options.title {
        if title.trim().is_empty() {
            return Err("the merge request title is empty".into());
        }
        if title.chars().count() > limits.max_title {
            return Err(format!(
                "the merge request title is {} characters long; at most {}",
                title.chars().count(),
                limits.max_title
            ));
        }
        text("the merge request title", title, usize::MAX, false)?;
    }
    if options.labels.len() > limits.max_labels {
        return Err(format!(
            "{} labels; at most {}",
            options.labels.len(),
            limits.max_labels
        ));
    }
    for label in &options.labels {
        if label.trim().is_empty() || label.contains(',') || label.chars().count() > 255 {
            return Err(format!(
                "label {} must be non-empty, at most 255 characters, without commas",
                Shown(label)
            ));
        }
        text("a label", label, usize::MAX, false)?;
    }
    let chars = options.description.chars().count();
    if chars > limits.max_description {
        return Err(format!(
            "the merge request description is {chars} characters long; the forge takes at most {} \
             besides what Baton adds",
            limits.max_description
        ));
    }
    text(
        "the merge request description",
        &options.description,
        usize::MAX,
        true,
    )
}

/// A text of at most `max` bytes without control characters (newlines and
/// tabs allowed where `multiline`).
fn text(what: &str, value: &str, max: usize, multiline: bool) -> Result<(), String> {
    if value.len() > max {
        return Err(format!(
            "{what} is {} bytes long; at most {max}",
            value.len()
        ));
    }
    let allowed = |c: char| multiline && (c == '\n' || c == '\t');
    if let Some(c) = value.chars().find(|&c| c.is_control() && !allowed(c)) {
        return Err(format!("{what} contains a control character ({c:?})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{AwaitHealth, SetVersion};

    fn set(stage: &str, version: &str) -> Action {
        Action::SetVersion(SetVersion {
            stage: stage.into(),
            version: version.into(),
            channel: Channel::DirectCommit,
            reason: "r".into(),
            digest: None,
        })
    }

    fn mr(title: Option<&str>, labels: &[&str], description: &str) -> Action {
        Action::SetVersion(SetVersion {
            stage: "prod".into(),
            version: "v1".into(),
            channel: Channel::MergeRequest(MergeRequestOptions {
                title: title.map(Into::into),
                description: description.into(),
                labels: labels.iter().map(|l| (*l).into()).collect(),
                auto_merge: false,
            }),
            reason: "r".into(),
            digest: None,
        })
    }

    fn decision(actions: Vec<Action>) -> Decision {
        Decision {
            actions,
            reasons: Vec::new(),
            recheck_after: None,
        }
    }

    fn detail(r: Result<(), Refusal>) -> String {
        match r {
            Err(Refusal::Invalid { detail, .. }) => detail,
            other => panic!("expected an invalid decision, got {other:?}"),
        }
    }

    #[test]
    fn a_decision_is_bounded_and_writes_a_stage_once() {
        let limits = DecisionLimits::default();
        let many = decision((0..65).map(|_| Action::Hold("x".into())).collect());
        assert_eq!(
            detail(check_decision(&many, &limits)),
            "it has 65 actions; at most 64 are allowed"
        );
        let twice = decision(vec![set("dev", "v1"), set("dev", "v2")]);
        assert_eq!(
            detail(check_decision(&twice, &limits)),
            "stage dev is already changed by action 1"
        );
        let mut long = decision(vec![]);
        long.reasons.push("x".repeat(5000));
        assert_eq!(
            detail(check_decision(&long, &limits)),
            "a reason is 5000 bytes long; at most 4096"
        );
    }

    #[test]
    fn versions_from_the_policy_are_checked_like_tags() {
        let limits = DecisionLimits::default();
        let huge = "v".repeat(2 << 20);
        let d = detail(check_action(1, &set("dev", &huge), "payments", &limits));
        assert!(d.starts_with("set-version version \"vvvv"), "{d}");
        assert!(
            d.ends_with("is not a usable version: it is too long (2097152 bytes; at most 256)"),
            "{d}"
        );
        let d = detail(check_action(1, &set("dev", "v1\nx"), "payments", &limits));
        assert!(d.contains("control character"), "{d}");
        let wait = Action::AwaitHealth(AwaitHealth {
            stage: "dev".into(),
            version: String::new(),
            timeout: 1,
        });
        assert!(detail(check_action(1, &wait, "payments", &limits)).contains("it is empty"));
    }

    #[test]
    fn digests_from_the_policy_must_be_digests() {
        let limits = DecisionLimits::default();
        let digest = format!("sha256:{}", "ab".repeat(32));
        let mut action = set("dev", "ghcr.io/acme/app:v1");
        if let Action::SetVersion(s) = &mut action {
            s.digest = Some(digest.clone());
        }
        assert_eq!(check_action(1, &action, "payments", &limits), Ok(()));
        if let Action::SetVersion(s) = &mut action {
            s.digest = Some("latest".into());
        }
        assert_eq!(
            detail(check_action(1, &action, "payments", &limits)),
            "set-version digest \"latest\" is not usable: it is not a digest (sha256: and 64 hex \
             digits, or sha512: and 128)"
        );
        // A digest as the version makes a valid branch name.
        let Action::SetVersion(mut by_mr) = mr(None, &[], "") else {
            panic!("mr() builds a set-version");
        };
        by_mr.version = digest;
        let by_mr = Action::SetVersion(by_mr);
        assert_eq!(check_action(1, &by_mr, "payments", &limits), Ok(()));
    }

    #[test]
    fn merge_request_texts_are_bounded() {
        let limits = DecisionLimits::default();
        let check = |a: &Action| detail(check_action(1, a, "payments", &limits));
        assert!(check(&mr(Some(&"t".repeat(256)), &[], "")).contains("256 characters long"));
        assert!(check(&mr(Some("a\u{7}b"), &[], "")).contains("control character"));
        assert!(check(&mr(None, &["a,b"], "")).contains("without commas"));
        assert!(check(&mr(None, &["a\nb"], "")).contains("control character"));
        assert!(check(&mr(None, &[], &"d".repeat(70_000))).contains("the forge takes at most"));
        let ok = check_action(
            1,
            &mr(Some("prod: v1"), &["baton"], "fine\nlines"),
            "payments",
            &limits,
        );
        assert_eq!(ok, Ok(()));
    }
}
