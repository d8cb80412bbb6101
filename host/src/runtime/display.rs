//! Human-readable forms of decisions, for CLI output and MR texts.

use std::fmt;

use super::{Action, Channel};

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::DirectCommit => f.write_str("by direct commit"),
            Channel::MergeRequest(mr) => {
                f.write_str("by merge request")?;
                if !mr.labels.is_empty() {
                    write!(f, " [{}]", mr.labels.join(", "))?;
                }
                if mr.auto_merge {
                    f.write_str(" (auto-merge)")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::SetVersion(s) => {
                write!(f, "set {} to {}", s.stage, s.version)?;
                if let Some(digest) = &s.digest {
                    write!(f, " ({digest})")?;
                }
                write!(f, " {}", s.channel)
            }
            Action::AwaitHealth(a) => write!(
                f,
                "await health of {} at {} (timeout {}s)",
                a.stage,
                a.version,
                a.timeout / 1000
            ),
            Action::Hold(reason) => write!(f, "hold: {reason}"),
            Action::Rollback(r) => {
                write!(
                    f,
                    "roll back {} from {} to {}",
                    r.stage, r.rollback_of, r.to_version
                )?;
                if let Some(digest) = &r.to_digest {
                    write!(f, " ({digest})")?;
                }
                write!(f, " {}", r.channel)
            }
            Action::Fail(reason) => write!(f, "fail: {reason}"),
        }
    }
}
