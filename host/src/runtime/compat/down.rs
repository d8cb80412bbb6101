//! Values of the current contract projected down to 0.1.0: fields 0.1 does
//! not know are dropped. Only what cannot fail is here (`From`); the
//! projections that can be refused (a multi-target stage, a reconcile) are
//! in the parent module.

use crate::runtime::bindings::v0_1::baton::policy::types as old;
use crate::runtime::bindings::v0_2::baton::policy::types as new;

impl From<new::Deployment> for old::Deployment {
    fn from(d: new::Deployment) -> Self {
        Self {
            commit: d.commit,
            time: d.time,
            author: d.author,
            from_version: d.from_version,
            to_version: d.to_version,
            subject: d.subject,
            trailers: d.trailers.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<new::MergeRequestState> for old::MergeRequestState {
    fn from(s: new::MergeRequestState) -> Self {
        match s {
            new::MergeRequestState::Opened => Self::Opened,
            new::MergeRequestState::Closed => Self::Closed,
            new::MergeRequestState::Merged => Self::Merged,
            new::MergeRequestState::Locked => Self::Locked,
        }
    }
}

impl From<new::MergeRequest> for old::MergeRequest {
    fn from(m: new::MergeRequest) -> Self {
        Self {
            number: m.number,
            url: m.url,
            title: m.title,
            state: m.state.into(),
            source_branch: m.source_branch,
            target_branch: m.target_branch,
            labels: m.labels,
            merge_status: m.merge_status,
            merge_commit: m.merge_commit,
        }
    }
}

impl From<new::CapabilityError> for old::CapabilityError {
    fn from(e: new::CapabilityError) -> Self {
        match e {
            new::CapabilityError::NotFound(m) => Self::NotFound(m),
            new::CapabilityError::Denied(m) => Self::Denied(m),
            new::CapabilityError::Unavailable(m) => Self::Unavailable(m),
            new::CapabilityError::Invalid(m) => Self::Invalid(m),
        }
    }
}

impl From<new::NewVersion> for old::NewVersion {
    fn from(n: new::NewVersion) -> Self {
        Self { version: n.version }
    }
}

impl From<new::StageChanged> for old::StageChanged {
    fn from(c: new::StageChanged) -> Self {
        Self {
            stage: c.stage,
            from_version: c.from_version,
            to_version: c.to_version,
            commit: c.commit,
            is_rollback: c.is_rollback,
        }
    }
}

impl From<new::HealthObserved> for old::HealthObserved {
    fn from(h: new::HealthObserved) -> Self {
        Self {
            stage: h.stage,
            version: h.version,
            commit: h.commit,
            elapsed: h.elapsed,
            status: h.status.into(),
        }
    }
}

impl From<new::GateTimeout> for old::GateTimeout {
    fn from(t: new::GateTimeout) -> Self {
        Self {
            stage: t.stage,
            version: t.version,
            commit: t.commit,
            elapsed: t.elapsed,
            last_status: t.last_status.map(Into::into),
        }
    }
}

impl From<new::RollbackRequested> for old::RollbackRequested {
    fn from(r: new::RollbackRequested) -> Self {
        Self {
            stage: r.stage,
            to_version: r.to_version,
            reason: r.reason,
        }
    }
}
