//! Native unit tests of policy logic: a scripted [`World`] ([`FakeWorld`])
//! and builders for the values a test hands a policy. The builders describe
//! one application, `payments`, with stages `dev`, `staging` and `prod`
//! (Helm values at `overlays/<stage>/values.yaml`, Argo CD applications
//! `payments-<stage>`); a test changes what matters to it with struct update
//! syntax, e.g. `Context { max_health_wait: 60_000, ..context("{}") }`.
//!
//! - the call: [`context`], [`stage`], and the events [`new_version`],
//!   [`stage_changed`], [`health_observed`], [`gate_timeout`],
//!   [`rollback_requested`], [`reconcile`];
//! - the world: [`FakeWorld`] with [`deployment`]s, [`app_status`] with
//!   [`resource`]s, [`merge_request`]s.
//!
//! ```
//! use baton_policy::testing::{FakeWorld, app_status, context, health_observed};
//! use baton_policy::{Event, HealthStatus, Policy};
//! # struct MyPolicy;
//! # impl Policy for MyPolicy {
//! #     fn decide(
//! #         _: &baton_policy::Context,
//! #         _: &Event,
//! #         _: &impl baton_policy::World,
//! #     ) -> Result<baton_policy::Decision, baton_policy::PolicyError> {
//! #         Ok(baton_policy::actions::nothing("waiting"))
//! #     }
//! # }
//!
//! let status = app_status("payments-dev", HealthStatus::Progressing);
//! let event = Event::HealthObserved(health_observed("dev", "v2", 30_000, status));
//! let world = FakeWorld { now: 1_718_361_000_000, ..FakeWorld::with_history(&[("v1", None)]) };
//! let decision = MyPolicy::decide(&context(r#"{"health_timeout": "5m"}"#), &event, &world);
//! assert!(decision.expect("a decision").actions.is_empty());
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::history::ROLLBACK_TRAILER;
use crate::{
    AppStatus, CapabilityError, ChangeOrigin, Context, Deployment, Event, GateTimeout,
    HealthObserved, HealthStatus, Level, MergeRequest, MergeRequestState, MetricsError, NewVersion,
    Reconcile, ResourceHealth, RollbackRequested, Sample, Series, Stage, StageChanged, SyncStatus,
    TargetVersion, Trailer, World,
};

/// A world whose answers are set up by the test. Unknown lookups answer
/// `not-found`, like the host does.
#[derive(Default)]
pub struct FakeWorld {
    /// Files by `(path, revision)`; revision `""` is the branch tip.
    pub files: BTreeMap<(String, String), Vec<u8>>,
    /// Stage versions at the branch tip.
    pub versions: BTreeMap<String, String>,
    /// Stage versions at other revisions, by `(stage, revision)`; a
    /// revision missing here answers the tip's version.
    pub versions_at: BTreeMap<(String, String), String>,
    /// Stage histories, newest first.
    pub histories: BTreeMap<String, Vec<Deployment>>,
    /// The `stage_history` calls made, as `(stage, limit)`, in order: how
    /// deep a policy read.
    pub history_reads: RefCell<Vec<(String, u32)>>,
    /// Argo CD statuses by application name.
    pub statuses: BTreeMap<String, AppStatus>,
    /// Merge requests.
    pub merge_requests: Vec<MergeRequest>,
    /// The clock.
    pub now: i64,
    /// Messages the policy logged.
    pub logs: RefCell<Vec<(Level, String)>>,
    /// Target versions by stage; a stage missing here but in `versions`
    /// answers one target labelled "" with that version.
    pub targets: BTreeMap<String, Vec<TargetVersion>>,
    /// Instant query answers by PromQL text; unknown queries answer no
    /// samples, as Prometheus does for a selector that matches nothing.
    pub metrics: BTreeMap<String, Result<Vec<Sample>, MetricsError>>,
    /// Range query answers by PromQL text; unknown queries answer no series.
    pub metric_ranges: BTreeMap<String, Result<Vec<Series>, MetricsError>>,
}

fn not_found(what: String) -> CapabilityError {
    CapabilityError::NotFound(what)
}

impl World for FakeWorld {
    fn read_file(&self, path: &str, revision: Option<&str>) -> Result<Vec<u8>, CapabilityError> {
        let key = (path.to_owned(), revision.unwrap_or_default().to_owned());
        self.files
            .get(&key)
            .cloned()
            .ok_or_else(|| not_found(format!("file {path}")))
    }

    fn stage_version(
        &self,
        stage: &str,
        revision: Option<&str>,
    ) -> Result<String, CapabilityError> {
        let at = revision.and_then(|r| self.versions_at.get(&(stage.to_owned(), r.to_owned())));
        at.or_else(|| self.versions.get(stage))
            .cloned()
            .ok_or_else(|| not_found(format!("stage {stage}")))
    }

    fn target_versions(
        &self,
        stage: &str,
        _revision: Option<&str>,
    ) -> Result<Vec<TargetVersion>, CapabilityError> {
        if let Some(targets) = self.targets.get(stage) {
            return Ok(targets.clone());
        }
        let version = self.stage_version(stage, None)?;
        Ok(vec![TargetVersion {
            label: String::new(),
            version: Some(version),
            digest: None,
        }])
    }

    fn stage_history(&self, stage: &str, limit: u32) -> Result<Vec<Deployment>, CapabilityError> {
        self.history_reads
            .borrow_mut()
            .push((stage.to_owned(), limit));
        let history = self.histories.get(stage).cloned().unwrap_or_default();
        Ok(history.into_iter().take(limit as usize).collect())
    }

    fn application_status(&self, app: &str) -> Result<AppStatus, CapabilityError> {
        self.statuses
            .get(app)
            .cloned()
            .ok_or_else(|| not_found(format!("application {app}")))
    }

    fn find_open_merge_request(
        &self,
        source_branch: &str,
    ) -> Result<Option<MergeRequest>, CapabilityError> {
        Ok(self
            .merge_requests
            .iter()
            .find(|mr| mr.source_branch == source_branch && mr.state == MergeRequestState::Opened)
            .cloned())
    }

    fn merge_request(&self, number: u64) -> Result<MergeRequest, CapabilityError> {
        self.merge_requests
            .iter()
            .find(|mr| mr.number == number)
            .cloned()
            .ok_or_else(|| not_found(format!("merge request !{number}")))
    }

    fn now(&self) -> i64 {
        self.now
    }

    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }

    fn metrics_query(&self, promql: &str, _time: Option<i64>) -> Result<Vec<Sample>, MetricsError> {
        self.metrics.get(promql).cloned().unwrap_or(Ok(Vec::new()))
    }

    fn metrics_query_range(
        &self,
        promql: &str,
        _start: i64,
        _end: i64,
        _step_ms: u64,
    ) -> Result<Vec<Series>, MetricsError> {
        self.metric_ranges
            .get(promql)
            .cloned()
            .unwrap_or(Ok(Vec::new()))
    }
}

impl FakeWorld {
    /// A world in which `dev`, `staging` and `prod` each have `history`
    /// (newest first): `(version, the version it rolled back)` pairs, see
    /// [`deployment`].
    pub fn with_history(history: &[(&str, Option<&str>)]) -> Self {
        let mut world = Self::default();
        for stage in ["dev", "staging", "prod"] {
            world.histories.insert(
                stage.into(),
                history.iter().map(|(v, r)| deployment(v, *r)).collect(),
            );
        }
        world
    }
}

/// Stage `name` of `payments`: `helm:image.tag` in
/// `overlays/<name>/values.yaml`, deployed by Argo CD application
/// `payments-<name>`; `direct`: direct commits allowed. No auto-merge.
pub fn stage(name: &str, direct: bool) -> Stage {
    Stage {
        name: name.into(),
        file: format!("overlays/{name}/values.yaml"),
        field: "helm:image.tag".into(),
        argocd_app: format!("payments-{name}"),
        direct_commit_allowed: direct,
        auto_merge_allowed: false,
        targets: Vec::new(),
    }
}

/// The context of a `payments` run with policy `settings` (JSON): stages
/// `dev` (direct commits allowed), `staging` and `prod`; run id `r`; health
/// waits of at most 30 minutes; not a dry run.
pub fn context(settings: &str) -> Context {
    Context {
        app: "payments".into(),
        stages: vec![
            stage("dev", true),
            stage("staging", false),
            stage("prod", false),
        ],
        settings: settings.into(),
        run_id: "r".into(),
        max_health_wait: 1_800_000,
        dry_run: false,
    }
}

/// A commit by `ci` that set a stage to `to` (commit id `c-<to>`, time 0);
/// with `rollback_of`, it carries the `Baton-Rollback-Of` trailer naming the
/// version it rolled back.
pub fn deployment(to: &str, rollback_of: Option<&str>) -> Deployment {
    Deployment {
        commit: format!("c-{to}"),
        time: 0,
        author: "ci".into(),
        from_version: None,
        to_version: to.into(),
        subject: String::new(),
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

/// Argo CD application `app` with aggregated `health`, synced to commit
/// `abc`, no operation, no resources.
pub fn app_status(app: &str, health: HealthStatus) -> AppStatus {
    AppStatus {
        app: app.into(),
        health,
        health_message: None,
        sync: SyncStatus::Synced,
        revision: Some("abc".into()),
        operation_phase: None,
        operation_message: None,
        reconciled_at: None,
        resources: Vec::new(),
    }
}

/// A synced resource `kind` of API `group`, named `payments-api` in
/// namespace `payments`, with `health` and `message`.
pub fn resource(group: &str, kind: &str, health: HealthStatus, message: &str) -> ResourceHealth {
    ResourceHealth {
        group: group.into(),
        kind: kind.into(),
        namespace: "payments".into(),
        name: "payments-api".into(),
        health: Some(health),
        message: Some(message.into()),
        sync: SyncStatus::Synced,
    }
}

/// `status` observed for `stage` at `version` (commit `abc`), `elapsed`
/// milliseconds into the gate.
pub fn health_observed(
    stage: &str,
    version: &str,
    elapsed: u64,
    status: AppStatus,
) -> HealthObserved {
    HealthObserved {
        stage: stage.into(),
        version: version.into(),
        commit: "abc".into(),
        elapsed,
        targets: Vec::new(),
        status,
    }
}

/// A new version `version` (no digest) was built.
pub fn new_version(version: &str) -> Event {
    Event::NewVersion(NewVersion {
        version: version.into(),
        digest: None,
    })
}

/// `stage` changed from `from` to `to` at commit `c-<to>` (see
/// [`deployment`]) through a Baton commit; not a rollback.
pub fn stage_changed(stage: &str, from: Option<&str>, to: &str) -> Event {
    Event::StageChanged(StageChanged {
        stage: stage.into(),
        from_version: from.map(Into::into),
        to_version: to.into(),
        commit: format!("c-{to}"),
        is_rollback: false,
        digest: None,
        origin: ChangeOrigin::BatonCommit,
    })
}

/// The gate of `stage` at `version` (commit `abc`) ran out of time after
/// `elapsed` milliseconds, having last seen `last_status`.
pub fn gate_timeout(
    stage: &str,
    version: &str,
    elapsed: u64,
    last_status: Option<AppStatus>,
) -> Event {
    Event::GateTimeout(GateTimeout {
        stage: stage.into(),
        version: version.into(),
        commit: "abc".into(),
        elapsed,
        last_status,
        targets: Vec::new(),
    })
}

/// An operator asked to roll `stage` back (to `to`, or the last good
/// version), for reason `operator request`.
pub fn rollback_requested(stage: &str, to: Option<&str>) -> Event {
    Event::RollbackRequested(RollbackRequested {
        stage: stage.into(),
        to_version: to.map(Into::into),
        reason: "operator request".into(),
    })
}

/// A scheduled run reconciles `stage`, which holds `version` since commit
/// `c-<version>` (a Baton commit; see [`deployment`]).
pub fn reconcile(stage: &str, version: Option<&str>) -> Event {
    Event::Reconcile(Reconcile {
        stage: stage.into(),
        version: version.map(Into::into),
        digest: None,
        commit: version.map(|v| format!("c-{v}")),
        origin: ChangeOrigin::BatonCommit,
    })
}

/// Merge request `!number` from `source_branch` into `main`, in `state`,
/// mergeable, without labels.
pub fn merge_request(number: u64, source_branch: &str, state: MergeRequestState) -> MergeRequest {
    MergeRequest {
        number,
        url: format!("https://forge.example.com/env/-/merge_requests/{number}"),
        title: format!("Merge {source_branch}"),
        state,
        source_branch: source_branch.into(),
        target_branch: "main".into(),
        labels: Vec::new(),
        merge_status: "mergeable".into(),
        merge_commit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_open_merge_requests_by_branch() {
        let world = FakeWorld {
            merge_requests: vec![
                merge_request(1, "baton/payments/prod/v1", MergeRequestState::Merged),
                merge_request(2, "baton/payments/prod/v2", MergeRequestState::Opened),
            ],
            ..FakeWorld::default()
        };
        let open = |branch: &str| {
            world
                .find_open_merge_request(branch)
                .map(|mr| mr.map(|mr| mr.number))
        };
        assert_eq!(open("baton/payments/prod/v1"), Ok(None));
        assert_eq!(open("baton/payments/prod/v2"), Ok(Some(2)));
        assert_eq!(
            world.merge_request(3),
            Err(CapabilityError::NotFound("merge request !3".into()))
        );
    }

    #[test]
    fn histories_carry_rollback_trailers() {
        let world = FakeWorld::with_history(&[("v1", Some("v2")), ("v2", None)]);
        let prod = world.stage_history("prod", 10).expect("history");
        assert_eq!(prod.len(), 2);
        assert_eq!(prod[0].trailers[0].key, "Baton-Rollback-Of");
        assert_eq!(prod[0].trailers[0].value, "v2");
        assert!(prod[1].trailers.is_empty());
        assert_eq!(world.stage_history("dev", 1).map(|h| h.len()), Ok(1));
        assert_eq!(
            *world.history_reads.borrow(),
            [("prod".to_owned(), 10), ("dev".to_owned(), 1)]
        );
    }
}
