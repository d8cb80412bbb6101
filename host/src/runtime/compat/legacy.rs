//! Reading what was written for contract 0.1.0: audit records of a host
//! that implemented only 0.1, and context, event and `--host-responses`
//! files written in that shape. Each value is read in the current shape
//! first; failing that, in the 0.1.0 shape, lifted (`up`): a stage gets its
//! single target, gate events their one target, a `stage-changed` the
//! origin `baton-commit`, a deployment the origin its trailers say.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::Value;

use crate::runtime::bindings::v0_1::baton::policy::types as old;
use crate::runtime::{CapabilityError, Context, Deployment, Event};

/// Reads `value` as `New`, or as `Old` lifted; the error is the current
/// shape's, which names what a current writer would have written.
fn either<New, Old>(value: Value) -> Result<New, serde_json::Error>
where
    New: DeserializeOwned,
    Old: DeserializeOwned + Into<New>,
{
    match serde_json::from_value::<New>(value.clone()) {
        Ok(current) => Ok(current),
        Err(e) => serde_json::from_value::<Old>(value)
            .map(Into::into)
            .map_err(|_| e),
    }
}

/// A context in the current or the 0.1.0 shape (serde `deserialize_with`).
pub fn context<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Context, D::Error> {
    let value = Value::deserialize(deserializer)?;
    either::<Context, old::Context>(value).map_err(D::Error::custom)
}

/// An event in the current or the 0.1.0 shape (serde `deserialize_with`).
pub fn event<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
    let value = Value::deserialize(deserializer)?;
    either::<Event, old::Event>(value).map_err(D::Error::custom)
}

/// A recorded `git.stage-history` answer in the 0.1.0 shape (`{"Ok":
/// [...]}` or a bare list), lifted; `None` when it is not one.
pub(crate) fn deployments(value: &Value) -> Option<Result<Vec<Deployment>, CapabilityError>> {
    if let Ok(answer) =
        serde_json::from_value::<Result<Vec<old::Deployment>, CapabilityError>>(value.clone())
    {
        return Some(answer.map(|list| list.into_iter().map(Into::into).collect()));
    }
    serde_json::from_value::<Vec<old::Deployment>>(value.clone())
        .ok()
        .map(|list| Ok(list.into_iter().map(Into::into).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ChangeOrigin;

    #[test]
    fn a_0_1_context_and_stage_changed_are_lifted() {
        let ctx = serde_json::json!({
            "app": "payments",
            "stages": [{ "name": "dev", "file": "dev.yaml", "field": "helm:image.tag",
                         "argocd_app": "payments-dev", "direct_commit_allowed": true,
                         "auto_merge_allowed": false }],
            "settings": "{}", "run_id": "r", "max_health_wait": 1000, "dry_run": false
        });
        let ctx = context(ctx).expect("lifted");
        assert_eq!(ctx.stages[0].targets.len(), 1);
        assert_eq!(ctx.stages[0].targets[0].argocd_app, "payments-dev");

        let changed = serde_json::json!({ "StageChanged": {
            "stage": "dev", "from_version": null, "to_version": "v2",
            "commit": "abc", "is_rollback": false } });
        match event(changed).expect("lifted") {
            Event::StageChanged(c) => assert_eq!(c.origin, ChangeOrigin::BatonCommit),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn what_neither_shape_reads_reports_the_current_shape() {
        let err = event(serde_json::json!({ "StageChanged": { "stage": "dev" } }))
            .expect_err("neither shape");
        assert!(err.to_string().contains("missing field"), "{err}");
    }

    #[test]
    fn old_deployments_get_the_origin_their_trailers_say() {
        let answer = serde_json::json!({ "Ok": [
            { "commit": "a", "time": 1, "author": "x", "from_version": null,
              "to_version": "v2", "subject": "s",
              "trailers": [{ "key": "Baton-Run", "value": "r" }] },
            { "commit": "b", "time": 0, "author": "x", "from_version": null,
              "to_version": "v1", "subject": "s", "trailers": [] }
        ] });
        let lifted = deployments(&answer).expect("0.1 shape").expect("ok");
        assert_eq!(lifted[0].origin, ChangeOrigin::BatonCommit);
        assert_eq!(lifted[1].origin, ChangeOrigin::OutOfBand);
        assert!(deployments(&serde_json::json!({ "Ok": "v1" })).is_none());
    }
}
