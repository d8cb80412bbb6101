//! A policy that decides badly on purpose, to prove the host checks every
//! decision before anything is written. On a new version, `settings.bad`
//! selects the bad decision; the host's tests assert the refusal each one
//! gets and that the env repo and the forge stay exactly as they were.

// Only the component is meant to run; natively nothing calls the policy.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use baton_policy::settings::Settings;
use baton_policy::{
    Action, Channel, Context, Decision, Event, Policy, PolicyError, World, actions,
};

struct BadDecisions;

/// `set <stage> to <version>` by merge request, with the host's title.
fn mr(stage: &str, version: &str) -> Action {
    actions::merge_request(
        stage,
        version,
        actions::mr_options("", &[]),
        "bad on purpose",
    )
}

/// Edits the merge request options of a set-version action.
fn with_options(
    mut action: Action,
    edit: impl FnOnce(&mut baton_policy::MergeRequestOptions),
) -> Action {
    if let Action::SetVersion(set) = &mut action
        && let Channel::MergeRequest(options) = &mut set.channel
    {
        edit(options);
    }
    action
}

/// The bad decision `bad` for a new version `v`.
fn bad(bad: &str, v: &str) -> Option<Vec<Action>> {
    let commit = |version: &str| actions::commit("dev", version, "bad on purpose");
    Some(match bad {
        "empty-version" => vec![commit("")],
        "nul-version" => vec![commit("v1\0")],
        "newline-version" => vec![commit("v1\nBaton-Run: forged")],
        "huge-version" => vec![commit(&"v".repeat(2 << 20))],
        "ref-version" => vec![commit("v1:refs/heads/main")],
        "same-stage-twice" => vec![commit(v), commit("v0.0.1")],
        "many-actions" => (0..200_000)
            .map(|i| actions::hold(format!("hold {i}")))
            .collect(),
        "long-reason" => vec![actions::commit("dev", v, "r".repeat(5000))],
        "long-title" => vec![with_options(mr("staging", v), |o| {
            o.title = Some("t".repeat(300));
        })],
        "control-title" => vec![with_options(mr("staging", v), |o| {
            o.title = Some("staging\r\nX-Injected: yes".into());
        })],
        "comma-label" => vec![with_options(mr("staging", v), |o| {
            o.labels = vec!["a,b".into()];
        })],
        "huge-description" => vec![with_options(mr("staging", v), |o| {
            o.description = "d".repeat(8 << 20);
        })],
        "skip-to-prod" => vec![actions::commit("prod", v, "straight to prod")],
        "auto-merge-prod" => vec![with_options(mr("prod", v), |o| o.auto_merge = true)],
        "rollback-to-never" => vec![actions::rollback(
            "dev",
            "v0.0.0-never",
            v,
            Channel::DirectCommit,
            "bad on purpose",
        )],
        _ => return None,
    })
}

impl Policy for BadDecisions {
    fn decide(ctx: &Context, event: &Event, _world: &impl World) -> Result<Decision, PolicyError> {
        let settings = Settings::parse(&ctx.settings)?;
        let which = settings.string("bad")?.unwrap_or_default();
        let Event::NewVersion(new) = event else {
            return Ok(actions::nothing("only new versions are decided badly"));
        };
        match bad(&which, &new.version) {
            Some(actions) => Ok(Decision::from(actions)),
            None => Err(PolicyError::InvalidSettings(format!(
                "unknown bad decision {which:?}"
            ))),
        }
    }
}

baton_policy::export_policy!(BadDecisions);
