//! What a 0.1.0 policy returns, lifted to the current contract: the fields
//! 0.1 does not have are empty (`None`).

use crate::runtime::bindings::v0_1::baton::policy::log::Level as OldLevel;
use crate::runtime::bindings::v0_1::baton::policy::types as old;
use crate::runtime::bindings::v0_2::baton::policy::log::Level;
use crate::runtime::bindings::v0_2::baton::policy::types as new;

impl From<old::MergeRequestOptions> for new::MergeRequestOptions {
    fn from(o: old::MergeRequestOptions) -> Self {
        Self {
            title: o.title,
            description: o.description,
            labels: o.labels,
            auto_merge: o.auto_merge,
        }
    }
}

impl From<old::Channel> for new::Channel {
    fn from(c: old::Channel) -> Self {
        match c {
            old::Channel::DirectCommit => Self::DirectCommit,
            old::Channel::MergeRequest(o) => Self::MergeRequest(o.into()),
        }
    }
}

impl From<old::Action> for new::Action {
    fn from(a: old::Action) -> Self {
        match a {
            old::Action::SetVersion(s) => Self::SetVersion(new::SetVersion {
                stage: s.stage,
                version: s.version,
                channel: s.channel.into(),
                reason: s.reason,
                digest: None,
            }),
            old::Action::AwaitHealth(w) => Self::AwaitHealth(new::AwaitHealth {
                stage: w.stage,
                version: w.version,
                timeout: w.timeout,
            }),
            old::Action::Hold(reason) => Self::Hold(reason),
            old::Action::Rollback(r) => Self::Rollback(new::Rollback {
                stage: r.stage,
                to_version: r.to_version,
                rollback_of: r.rollback_of,
                channel: r.channel.into(),
                reason: r.reason,
                to_digest: None,
            }),
            old::Action::Fail(reason) => Self::Fail(reason),
        }
    }
}

impl From<old::Decision> for new::Decision {
    fn from(d: old::Decision) -> Self {
        Self {
            actions: d.actions.into_iter().map(Into::into).collect(),
            reasons: d.reasons,
            recheck_after: None,
        }
    }
}

impl From<old::PolicyError> for new::PolicyError {
    fn from(e: old::PolicyError) -> Self {
        match e {
            old::PolicyError::InvalidSettings(m) => Self::InvalidSettings(m),
            old::PolicyError::InvalidEvent(m) => Self::InvalidEvent(m),
            old::PolicyError::Capability(m) => Self::Capability(m),
            old::PolicyError::Other(m) => Self::Other(m),
        }
    }
}

impl From<old::PolicyMetadata> for new::PolicyMetadata {
    fn from(m: old::PolicyMetadata) -> Self {
        Self {
            name: m.name,
            version: m.version,
            description: m.description,
            authors: m.authors,
        }
    }
}

impl From<OldLevel> for Level {
    fn from(l: OldLevel) -> Self {
        match l {
            OldLevel::Trace => Self::Trace,
            OldLevel::Debug => Self::Debug,
            OldLevel::Info => Self::Info,
            OldLevel::Warn => Self::Warn,
            OldLevel::Error => Self::Error,
        }
    }
}

// What a host of 0.1.0 recorded (context, events, answers), lifted for
// reading old audit records and scripts: see `legacy`.

impl From<old::Stage> for new::Stage {
    fn from(s: old::Stage) -> Self {
        let target = new::Target {
            label: String::new(),
            file: s.file.clone(),
            field: s.field.clone(),
            argocd_app: s.argocd_app.clone(),
        };
        Self {
            name: s.name,
            file: s.file,
            field: s.field,
            argocd_app: s.argocd_app,
            direct_commit_allowed: s.direct_commit_allowed,
            auto_merge_allowed: s.auto_merge_allowed,
            targets: vec![target],
        }
    }
}

impl From<old::Context> for new::Context {
    fn from(c: old::Context) -> Self {
        Self {
            app: c.app,
            stages: c.stages.into_iter().map(Into::into).collect(),
            settings: c.settings,
            run_id: c.run_id,
            max_health_wait: c.max_health_wait,
            dry_run: c.dry_run,
        }
    }
}

/// A deployment recorded without its origin: a commit naming a Baton run
/// is taken as Baton's, anything else as out of band (merges cannot be
/// told apart any more).
impl From<old::Deployment> for new::Deployment {
    fn from(d: old::Deployment) -> Self {
        let by_baton = d
            .trailers
            .iter()
            .any(|t| t.key.eq_ignore_ascii_case("Baton-Run"));
        Self {
            commit: d.commit,
            time: d.time,
            author: d.author,
            from_version: d.from_version,
            to_version: d.to_version,
            subject: d.subject,
            trailers: d.trailers.into_iter().map(Into::into).collect(),
            digest: None,
            origin: if by_baton {
                new::ChangeOrigin::BatonCommit
            } else {
                new::ChangeOrigin::OutOfBand
            },
            merge_request: None,
        }
    }
}

/// The single target of a 0.1 stage, with the observation a gate event
/// carried for it.
fn only_target(status: Option<new::AppStatus>) -> Vec<new::TargetStatus> {
    match status {
        Some(status) => vec![new::TargetStatus {
            label: String::new(),
            argocd_app: status.app.clone(),
            status: Some(status),
        }],
        None => Vec::new(),
    }
}

/// An event recorded by a 0.1 host. A `stage-changed` has no origin on
/// record: it is read as `baton-commit`.
impl From<old::Event> for new::Event {
    fn from(e: old::Event) -> Self {
        match e {
            old::Event::NewVersion(n) => Self::NewVersion(new::NewVersion {
                version: n.version,
                digest: None,
            }),
            old::Event::StageChanged(c) => Self::StageChanged(new::StageChanged {
                stage: c.stage,
                from_version: c.from_version,
                to_version: c.to_version,
                commit: c.commit,
                is_rollback: c.is_rollback,
                digest: None,
                origin: new::ChangeOrigin::BatonCommit,
            }),
            old::Event::HealthObserved(h) => {
                let status: new::AppStatus = h.status.into();
                Self::HealthObserved(new::HealthObserved {
                    stage: h.stage,
                    version: h.version,
                    commit: h.commit,
                    elapsed: h.elapsed,
                    targets: only_target(Some(status.clone())),
                    status,
                })
            }
            old::Event::GateTimeout(t) => {
                let last: Option<new::AppStatus> = t.last_status.map(Into::into);
                Self::GateTimeout(new::GateTimeout {
                    stage: t.stage,
                    version: t.version,
                    commit: t.commit,
                    elapsed: t.elapsed,
                    targets: only_target(last.clone()),
                    last_status: last,
                })
            }
            old::Event::RollbackRequested(r) => Self::RollbackRequested(new::RollbackRequested {
                stage: r.stage,
                to_version: r.to_version,
                reason: r.reason,
            }),
        }
    }
}
