//! Deployment history logic: which versions are good to go back to.

use crate::Deployment;

/// Trailer that marks a commit as a rollback of the named version.
pub const ROLLBACK_TRAILER: &str = "Baton-Rollback-Of";

/// The version a deployment commit rolled back, if it was a rollback.
pub fn rolled_back_version(deployment: &Deployment) -> Option<&str> {
    deployment
        .trailers
        .iter()
        .find(|t| t.key.eq_ignore_ascii_case(ROLLBACK_TRAILER))
        .map(|t| t.value.as_str())
}

/// The last good version of a stage before `bad`: the newest version in
/// `history` (newest first) that is not `bad` and that no commit rolled back.
///
/// Versions that were rolled back at any time are skipped, so a rollback
/// never lands on a version that already failed. `None` when no earlier
/// good version exists.
pub fn last_good<'a>(history: &'a [Deployment], bad: &str) -> Option<&'a str> {
    let rolled_back: Vec<&str> = history.iter().filter_map(rolled_back_version).collect();
    history
        .iter()
        .map(|d| d.to_version.as_str())
        .find(|v| *v != bad && !rolled_back.contains(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChangeOrigin, Trailer};

    fn deploy(to: &str, rollback_of: Option<&str>) -> Deployment {
        Deployment {
            commit: format!("c-{to}"),
            time: 0,
            author: "ci <ci@example.com>".into(),
            from_version: None,
            to_version: to.into(),
            subject: format!("dev(payments): {to}"),
            digest: None,
            origin: ChangeOrigin::BatonCommit,
            merge_request: None,
            trailers: rollback_of
                .map(|v| {
                    vec![Trailer {
                        key: ROLLBACK_TRAILER.into(),
                        value: v.into(),
                    }]
                })
                .unwrap_or_default(),
        }
    }

    #[test]
    fn previous_version_is_last_good() {
        let h = [deploy("v3", None), deploy("v2", None), deploy("v1", None)];
        assert_eq!(last_good(&h, "v3"), Some("v2"));
    }

    #[test]
    fn skips_versions_that_were_rolled_back() {
        // v2 failed and was rolled back to v1; then v3 failed too.
        let h = [
            deploy("v3", None),
            deploy("v1", Some("v2")),
            deploy("v2", None),
            deploy("v1", None),
        ];
        assert_eq!(last_good(&h, "v3"), Some("v1"));
    }

    #[test]
    fn none_without_an_earlier_version() {
        assert_eq!(last_good(&[deploy("v1", None)], "v1"), None);
        assert_eq!(last_good(&[], "v1"), None);
    }
}
