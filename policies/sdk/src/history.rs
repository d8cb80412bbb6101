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

/// The last good version of a stage before `bad`: walking `history`
/// newest first, the first version that is not `bad` and that no newer
/// entry (one seen before it in the walk) rolled back.
///
/// An entry's own `Baton-Rollback-Of` trailer counts only for older
/// entries: a rollback to v1 that names v2 rules out the v2 deployed
/// before it, not a v2 deployed again later. So the answer depends only on
/// the entries up to it, and a prefix of the history (the newest `n`
/// deployments) decides it whenever it holds it; this is the host's rule
/// too. `None` when `history` holds no good version.
pub fn last_good<'a>(history: &'a [Deployment], bad: &str) -> Option<&'a str> {
    let mut rolled_back: Vec<&str> = Vec::new();
    for deployment in history {
        let version = deployment.to_version.as_str();
        if version != bad && !rolled_back.contains(&version) {
            return Some(version);
        }
        rolled_back.extend(rolled_back_version(deployment));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::deployment as deploy;

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
    fn a_newer_rollback_rules_a_version_out() {
        // v2 was rolled back to v1 and v3 is bad: v2 is not good again.
        let h = [
            deploy("v3", None),
            deploy("v1", Some("v2")),
            deploy("v2", None),
        ];
        assert_eq!(last_good(&h, "v3"), Some("v1"));
        let h = [
            deploy("v1", Some("v2")),
            deploy("v2", None),
            deploy("v0", None),
        ];
        assert_eq!(last_good(&h, "v1"), Some("v0"));
    }

    #[test]
    fn an_older_rollback_does_not_rule_a_redeployed_version_out() {
        // v2 failed once and was rolled back; a fixed v2 was deployed again
        // later and ran well before v3 went bad.
        let h = [
            deploy("v3", None),
            deploy("v2", None),
            deploy("v1", Some("v2")),
            deploy("v2", None),
            deploy("v1", None),
        ];
        assert_eq!(last_good(&h, "v3"), Some("v2"));
    }

    #[test]
    fn none_without_an_earlier_version() {
        assert_eq!(last_good(&[deploy("v1", None)], "v1"), None);
        assert_eq!(last_good(&[], "v1"), None);
    }
}
