//! Digests travel with versions: a new version's digest goes to the first
//! stage with it, a stage that passed its gate hands on the digest it holds
//! (from its field, or the `Baton-Digest` trailer the host reads), and a
//! rollback goes back to the digest the stage was deployed with. A policy
//! that leaves digests out still works: the host finds the digest a field
//! needs from the stages' histories.

use super::Flow;
use crate::{Action, Decision, Deployment, Stage, World};

impl<W: World + ?Sized> Flow<'_, W> {
    /// The digest `stage` holds with `version` at the branch tip, when the
    /// host knows one.
    pub fn digest_held(&self, stage: &Stage, version: &str) -> Option<String> {
        self.world
            .target_versions(&stage.name, None)
            .ok()?
            .into_iter()
            .find(|t| t.version.as_deref() == Some(version) && t.digest.is_some())
            .and_then(|t| t.digest)
    }
}

/// The digest the newest deployment of `version` in `history` (newest
/// first) set, if it recorded one.
pub fn digest_deployed(history: &[Deployment], version: &str) -> Option<String> {
    history
        .iter()
        .find(|d| d.to_version == version)
        .and_then(|d| d.digest.clone())
}

/// `decision` with `digest` on every `set-version` and `rollback` to
/// `version` that gives none.
pub fn with_digest(mut decision: Decision, version: &str, digest: Option<&str>) -> Decision {
    let Some(digest) = digest else {
        return decision;
    };
    for action in &mut decision.actions {
        match action {
            Action::SetVersion(s) if s.version == version && s.digest.is_none() => {
                s.digest = Some(digest.to_owned());
            }
            Action::Rollback(r) if r.to_version == version && r.to_digest.is_none() => {
                r.to_digest = Some(digest.to_owned());
            }
            _ => {}
        }
    }
    decision
}
