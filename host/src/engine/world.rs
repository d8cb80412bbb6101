//! The live [`World`]: answers a policy's capability calls from the real
//! env repo (gix), Argo CD and the forge. Each capability is optional; a
//! call to one that is not configured answers `unavailable`, which the
//! policy sees as a WIT error; a metrics query without a `metrics:`
//! section answers `denied` (loading refuses a policy that imports
//! metrics then, so only a policy that never calls them meets it). An
//! instant query without a time is evaluated at the host clock's now, so
//! the record says exactly which instant was asked.
//!
//! A stage may have several targets: `stage-version` answers the version
//! when they all agree (else `invalid`, naming each target's version) and
//! `target-versions` answers each; a stage with one target answers it
//! labelled "". `stage-history` reads the first target's history (Baton
//! changes every target of a stage in one commit), each deployment's
//! trailers from the commit that carried it ([`super::arrival`]).
//!
//! Decide calls are synchronous (wasmtime runs them on the caller's
//! thread), so async clients are driven with the runtime `Handle`: the
//! engine calls `decide` inside `block_in_place`, never directly on an
//! async worker.
//!
//! Time in these calls does not count against the policy's wall-clock
//! deadline (the runtime gives it back); each call is bounded by the
//! world's own [`Deadline`] instead, which the engine sets per decide call
//! ([`HOST_CALL_BOUND`] from the call's start, or the gate's deadline
//! during a gate). A call that runs out answers `unavailable("... timed
//! out after ...")`, an error the policy handles like any other.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::runtime::Handle;

use super::arrival::{ArrivalError, Attributed, Attribution};
use super::repo::SharedRepo;
use crate::capabilities::argocd::{self, AppRef, ArgoCdClient};
use crate::capabilities::forge::{self, Forge};
use crate::capabilities::git::{EnvRepo, FieldError, ReadError, StageField};
use crate::capabilities::metrics::{self, PrometheusClient, TimeRange};
use crate::retry::Deadline;
use crate::runtime::{
    AppStatus, CapabilityError, Deployment, HealthStatus, MergeRequest, MergeRequestState,
    MetricLabel, MetricsError, OperationPhase, Point, ResourceHealth, Sample, Series, SyncStatus,
    TargetVersion, Trailer, World, WorldError,
};

/// One stage as the world resolves it.
#[derive(Debug, Clone)]
pub struct LiveStage {
    /// Stage name.
    pub name: String,
    /// Where its version lives (its first target's).
    pub field: StageField,
    /// Every target, in config order, when the stage has several; empty
    /// for a stage with one target (at `field`, labelled "").
    pub targets: Vec<LiveTarget>,
}

/// One target of a multi-target stage.
#[derive(Debug, Clone)]
pub struct LiveTarget {
    /// Its label, e.g. `eu`.
    pub label: String,
    /// Where its version lives.
    pub field: StageField,
}

impl LiveStage {
    /// Every target with its label: the stage's own field, labelled "",
    /// for a stage with one target.
    fn targets(&self) -> Vec<LiveTarget> {
        if self.targets.is_empty() {
            vec![LiveTarget {
                label: String::new(),
                field: self.field.clone(),
            }]
        } else {
            self.targets.clone()
        }
    }
}

/// A clock answering milliseconds since the Unix epoch.
pub type Clock = Box<dyn Fn() -> i64 + Send>;

/// How long the capability calls of one decide call may take in all, from
/// its start, outside a gate: enough for a cold history read of a large
/// env repo, short of hanging a CI job on a server that stopped answering.
pub const HOST_CALL_BOUND: Duration = Duration::from_secs(120);

/// The world backed by real systems.
pub struct LiveWorld {
    repo: SharedRepo,
    tip: String,
    stages: Vec<LiveStage>,
    argocd: Option<Arc<ArgoCdClient>>,
    forge: Option<Arc<dyn Forge>>,
    metrics: Option<Arc<PrometheusClient>>,
    handle: Option<Handle>,
    clock: Clock,
    attribution: Attribution,
    deadline: Deadline,
}

impl LiveWorld {
    /// A world reading the env repo at `tip` (the branch tip fetched at the
    /// start of the run, so every call of a run sees the same state). Its
    /// calls must end within [`HOST_CALL_BOUND`] from now.
    pub fn new(repo: SharedRepo, tip: String, stages: Vec<LiveStage>, clock: Clock) -> Self {
        Self {
            repo,
            tip,
            stages,
            argocd: None,
            forge: None,
            metrics: None,
            handle: None,
            clock,
            attribution: Attribution::new(""),
            deadline: Deadline::after(HOST_CALL_BOUND),
        }
    }

    /// Reads `stage-history` with `attribution` (the app, and the forge
    /// to ask about commits without trailers) instead of git alone.
    pub fn with_attribution(mut self, attribution: Attribution) -> Self {
        self.attribution = attribution;
        self
    }

    /// Bounds every call by `deadline` instead (git fetches, history walks
    /// and lock waits, Argo CD and forge requests); a call still running
    /// then answers `unavailable`.
    pub fn with_deadline(mut self, deadline: Deadline) -> Self {
        self.deadline = deadline;
        self
    }

    /// Adds Argo CD, driven on `handle`.
    pub fn with_argocd(mut self, client: Arc<ArgoCdClient>, handle: Handle) -> Self {
        self.argocd = Some(client);
        self.handle = Some(handle);
        self
    }

    /// Adds the forge, driven on `handle`.
    pub fn with_forge(mut self, forge: Arc<dyn Forge>, handle: Handle) -> Self {
        self.forge = Some(forge);
        self.handle = Some(handle);
        self
    }

    /// Adds the metrics server, driven on `handle`.
    pub fn with_metrics(mut self, client: Arc<PrometheusClient>, handle: Handle) -> Self {
        self.metrics = Some(client);
        self.handle = Some(handle);
        self
    }

    /// The metrics client and the runtime to drive it on, or `denied`.
    fn metrics(&self) -> Result<(Arc<PrometheusClient>, Handle), WorldError<MetricsError>> {
        match (&self.metrics, &self.handle) {
            (Some(client), Some(handle)) => Ok((client.clone(), handle.clone())),
            _ => Err(MetricsError::Denied("no metrics: section in baton.yaml".into()).into()),
        }
    }

    /// Drives `future` on `handle` to its end or to the world's deadline;
    /// `Err` with the time waited when the deadline came first.
    fn drive<F: Future>(&self, handle: &Handle, future: F) -> Result<F::Output, Duration> {
        let Some(left) = self.deadline.left() else {
            return Ok(handle.block_on(future));
        };
        let started = Instant::now();
        handle
            .block_on(tokio::time::timeout(left, future))
            .map_err(|_| started.elapsed())
    }

    /// Drives a metrics request to its end or to the world's deadline
    /// (a `timeout` answer, like a server that stopped answering).
    fn bounded_metrics<F: Future>(
        &self,
        handle: &Handle,
        call: &str,
        future: F,
    ) -> Result<F::Output, WorldError<MetricsError>> {
        self.drive(handle, future).map_err(|after| {
            let after = after.as_secs_f64();
            MetricsError::Timeout(format!("{call} timed out after {after:.1}s")).into()
        })
    }

    fn live_stage(&self, name: &str) -> Result<&LiveStage, WorldError> {
        self.stages
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| CapabilityError::Invalid(format!("unknown stage {name:?}")).into())
    }

    fn stage(&self, name: &str) -> Result<&StageField, WorldError> {
        self.live_stage(name).map(|s| &s.field)
    }

    /// Drives `future` (a request of `system`, described by `call`) to its
    /// end or to the world's deadline.
    fn block_on<F: Future>(
        &self,
        system: &str,
        call: &str,
        future: F,
    ) -> Result<F::Output, WorldError> {
        let Some(handle) = &self.handle else {
            return Err(CapabilityError::Unavailable(format!("{system} is not configured")).into());
        };
        self.drive(handle, future)
            .map_err(|after| timed_out(call, after, None))
    }

    /// Runs `read` on the env repo within the world's deadline; a read that
    /// runs out of time answers `unavailable`, naming `call`.
    fn git<T>(
        &self,
        call: &str,
        read: impl FnOnce(&mut EnvRepo) -> Result<T, ReadError>,
    ) -> Result<T, WorldError> {
        let started = Instant::now();
        let deadline = self.deadline;
        self.repo
            .with(|repo| repo.within(deadline, read))
            .map_err(|e| {
                if e.is_timeout() {
                    timed_out(call, started.elapsed(), Some(&e))
                } else {
                    read_error(e)
                }
            })
    }
}

/// The answer to a capability call that ran out of time.
fn timed_out(call: &str, after: Duration, cause: Option<&ReadError>) -> WorldError {
    let mut text = format!("{call} timed out after {:.1}s", after.as_secs_f64());
    if let Some(cause) = cause {
        text.push_str(": ");
        text.push_str(&crate::report::error_chain(cause));
    }
    CapabilityError::Unavailable(text).into()
}

impl LiveWorld {
    /// The version and digest the target at `field` holds at `rev`, `None`
    /// where its file or field is missing.
    fn target_version(
        &self,
        rev: &str,
        field: &StageField,
    ) -> Result<(Option<String>, Option<String>), WorldError> {
        self.git("git.target-versions", |repo| {
            let held = super::digest::value_at(repo, rev, field).and_then(|value| match value {
                Some(value) => {
                    let digest = super::digest::held(repo, rev, field, &value)?;
                    Ok((Some(value.version), digest))
                }
                None => Ok((None, None)),
            });
            match held {
                Err(ReadError::Field(
                    FieldError::KeyMissing { .. } | FieldError::DocumentMissing { .. },
                )) => Ok((None, None)),
                other => other,
            }
        })
    }
}

fn read_error(e: ReadError) -> WorldError {
    let text = e.to_string();
    match e {
        ReadError::Revision { .. } => CapabilityError::Invalid(text),
        ReadError::FileMissing { .. } => CapabilityError::NotFound(text),
        _ => CapabilityError::Unavailable(text),
    }
    .into()
}

/// The WIT deployment of an attributed history entry with the digest it
/// set; `None` when the entry removed the stage's value. `commit` and
/// `time` are the first-parent commit's; subject, author and trailers the
/// carrier's.
fn deployment(attributed: Attributed, digest: Option<String>) -> Option<Deployment> {
    let Attributed { entry, arrival } = attributed;
    let carrier = arrival.carrier;
    Some(Deployment {
        subject: carrier
            .message
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        commit: entry.commit,
        time: entry.time.saturating_mul(1000),
        author: format!("{} <{}>", carrier.author_name, carrier.author_email),
        from_version: entry.old,
        to_version: entry.new?,
        trailers: carrier
            .trailers
            .into_iter()
            .map(|t| Trailer {
                key: t.key,
                value: t.value,
            })
            .collect(),
        digest,
        origin: arrival.origin,
        merge_request: arrival.merge_request,
    })
}

impl World for LiveWorld {
    fn read_file(&mut self, path: &str, revision: Option<&str>) -> Result<Vec<u8>, WorldError> {
        let rev = revision.unwrap_or(&self.tip).to_owned();
        self.git("git.read-file", |repo| repo.read_file(&rev, path))?
            .ok_or_else(|| {
                CapabilityError::NotFound(format!("{path} does not exist at {rev}")).into()
            })
    }

    fn stage_version(&mut self, stage: &str, revision: Option<&str>) -> Result<String, WorldError> {
        let targets = self.live_stage(stage)?.targets();
        let rev = revision.unwrap_or(&self.tip).to_owned();
        let versions = self.git("git.stage-version", |repo| {
            targets
                .iter()
                .map(|t| repo.read_version(&rev, &t.field))
                .collect::<Result<Vec<_>, _>>()
        })?;
        match versions.split_first() {
            Some((first, rest)) if rest.iter().all(|v| v == first) => Ok(first.clone()),
            _ => Err(CapabilityError::Invalid(format!(
                "targets of {stage} disagree: {}",
                targets
                    .iter()
                    .zip(&versions)
                    .map(|(t, v)| format!("{} {v}", t.label))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into()),
        }
    }

    fn target_versions(
        &mut self,
        stage: &str,
        revision: Option<&str>,
    ) -> Result<Vec<TargetVersion>, WorldError> {
        let targets = self.live_stage(stage)?.targets();
        let rev = revision.unwrap_or(&self.tip).to_owned();
        targets
            .into_iter()
            .map(|t| {
                let (version, digest) = self.target_version(&rev, &t.field)?;
                Ok(TargetVersion {
                    label: t.label,
                    version,
                    digest,
                })
            })
            .collect()
    }

    fn stage_history(&mut self, stage: &str, limit: u32) -> Result<Vec<Deployment>, WorldError> {
        let field = self.stage(stage)?.clone();
        let started = Instant::now();
        let history = self
            .attribution
            .within(self.deadline)
            .history(&self.repo, &self.tip, stage, &field, Some(limit as usize))
            .map_err(|e| match e {
                ArrivalError::Read { source, .. } if source.is_timeout() => {
                    timed_out("git.stage-history", started.elapsed(), Some(&source))
                }
                ArrivalError::Read { source, .. } => read_error(*source),
                forge @ ArrivalError::Forge { .. } => {
                    CapabilityError::Unavailable(crate::report::error_chain(&forge)).into()
                }
            })?;
        Ok(history
            .into_iter()
            .filter_map(|a| {
                let digest = self.repo.with(|repo| {
                    super::digest::deployed(repo, &field, &a.entry, &a.arrival.carrier)
                });
                deployment(a, digest)
            })
            .collect())
    }

    fn application_status(&mut self, app: &str) -> Result<AppStatus, WorldError> {
        let client = self
            .argocd
            .clone()
            .ok_or_else(|| CapabilityError::Unavailable("argocd is not configured".into()))?;
        let target = AppRef::named(app);
        let call = format!("argocd.application-status of {app}");
        let status = self
            .block_on("argocd", &call, client.get_application(&target, false))?
            .map_err(|e| {
                let text = e.to_string();
                WorldError::from(match e {
                    argocd::RequestError::NotFound { .. }
                    | argocd::RequestError::PermissionDenied { .. } => {
                        CapabilityError::NotFound(text)
                    }
                    _ => CapabilityError::Unavailable(text),
                })
            })?;
        Ok(app_status(&status))
    }

    fn find_open_merge_request(
        &mut self,
        source_branch: &str,
    ) -> Result<Option<MergeRequest>, WorldError> {
        let forge = self
            .forge
            .clone()
            .ok_or_else(|| CapabilityError::Unavailable("forge is not configured".into()))?;
        let call = format!("forge.find-open for {source_branch}");
        self.block_on("forge", &call, forge.find_open(source_branch))?
            .map(|mr| mr.map(|m| merge_request(&m)))
            .map_err(forge_error)
    }

    fn merge_request(&mut self, number: u64) -> Result<MergeRequest, WorldError> {
        let forge = self
            .forge
            .clone()
            .ok_or_else(|| CapabilityError::Unavailable("forge is not configured".into()))?;
        let call = format!("forge.get of merge request {number}");
        self.block_on("forge", &call, forge.get(number))?
            .map(|m| merge_request(&m))
            .map_err(forge_error)
    }

    fn now(&mut self) -> Result<i64, WorldError> {
        Ok((self.clock)())
    }

    fn metrics_query(
        &mut self,
        promql: &str,
        time: Option<i64>,
    ) -> Result<Vec<Sample>, WorldError<MetricsError>> {
        let (client, handle) = self.metrics()?;
        let at = time.unwrap_or_else(|| (self.clock)());
        let samples = self
            .bounded_metrics(&handle, "metrics.query", client.query(promql, at))?
            .map_err(metrics_error)?;
        Ok(samples
            .into_iter()
            .map(|s| Sample {
                labels: labels(s.labels),
                time: s.time_ms,
                value: s.value,
            })
            .collect())
    }

    fn metrics_query_range(
        &mut self,
        promql: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> Result<Vec<Series>, WorldError<MetricsError>> {
        let (client, handle) = self.metrics()?;
        let range = TimeRange {
            start_ms: start,
            end_ms: end,
            step_ms: step,
        };
        let series = self
            .bounded_metrics(
                &handle,
                "metrics.query-range",
                client.query_range(promql, range),
            )?
            .map_err(metrics_error)?;
        Ok(series
            .into_iter()
            .map(|s| Series {
                labels: labels(s.labels),
                points: s
                    .points
                    .into_iter()
                    .map(|(time, value)| Point { time, value })
                    .collect(),
            })
            .collect())
    }
}

/// The WIT error a failed query becomes. A refused query carries
/// Prometheus' own message (what the policy's author needs to fix it);
/// the others the whole explanation.
fn metrics_error(e: metrics::QueryError) -> WorldError<MetricsError> {
    let text = crate::report::error_chain(&e);
    WorldError::from(match (e.kind(), e) {
        (_, metrics::QueryError::BadQuery { message, .. }) => MetricsError::BadQuery(message),
        (metrics::ErrorKind::BadQuery, _) => MetricsError::BadQuery(text),
        (metrics::ErrorKind::Timeout, _) => MetricsError::Timeout(text),
        (metrics::ErrorKind::Unreachable, _) => MetricsError::Unreachable(text),
    })
}

fn labels(labels: metrics::Labels) -> Vec<MetricLabel> {
    labels
        .into_iter()
        .map(|(name, value)| MetricLabel { name, value })
        .collect()
}

fn forge_error(e: forge::ForgeError) -> WorldError {
    let text = e.to_string();
    WorldError::from(match e {
        forge::ForgeError::NotFound { .. } => CapabilityError::NotFound(text),
        _ => CapabilityError::Unavailable(text),
    })
}

fn health(status: &argocd::HealthStatus) -> HealthStatus {
    use argocd::HealthStatus as H;
    match status {
        H::Healthy => HealthStatus::Healthy,
        H::Progressing => HealthStatus::Progressing,
        H::Degraded => HealthStatus::Degraded,
        H::Suspended => HealthStatus::Suspended,
        H::Missing => HealthStatus::Missing,
        H::Unknown | H::Other(_) => HealthStatus::Unknown,
    }
}

fn sync(status: &argocd::SyncStatus) -> SyncStatus {
    use argocd::SyncStatus as S;
    match status {
        S::Synced => SyncStatus::Synced,
        S::OutOfSync => SyncStatus::OutOfSync,
        S::Unknown | S::Other(_) => SyncStatus::Unknown,
    }
}

fn phase(phase: &argocd::OperationPhase) -> Option<OperationPhase> {
    use argocd::OperationPhase as P;
    Some(match phase {
        P::Running => OperationPhase::Running,
        P::Terminating => OperationPhase::Terminating,
        P::Failed => OperationPhase::Failed,
        P::Error => OperationPhase::Error,
        P::Succeeded => OperationPhase::Succeeded,
        P::Other(_) => return None,
    })
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The WIT view of an Argo CD observation.
pub fn app_status(s: &argocd::AppStatus) -> AppStatus {
    AppStatus {
        app: s.name.clone(),
        health: health(&s.health.status),
        health_message: s.health.message.clone(),
        sync: sync(&s.sync.status),
        revision: s.sync_revisions().next().map(str::to_owned),
        operation_phase: s.operation.as_ref().and_then(|o| phase(&o.phase)),
        operation_message: s.operation.as_ref().and_then(|o| o.message.clone()),
        reconciled_at: s.reconciled_at.map(millis),
        resources: s
            .resources
            .iter()
            .map(|r| ResourceHealth {
                group: r.group.clone(),
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                health: r.health.as_ref().map(|h| health(&h.status)),
                message: r.health.as_ref().and_then(|h| h.message.clone()),
                sync: r.sync.as_ref().map_or(SyncStatus::Unknown, sync),
            })
            .collect(),
    }
}

/// The WIT view of a forge merge request.
pub fn merge_request(m: &forge::MergeRequest) -> MergeRequest {
    MergeRequest {
        number: m.iid,
        url: m.web_url.clone(),
        title: m.title.clone(),
        state: match m.state {
            forge::MrState::Opened => MergeRequestState::Opened,
            forge::MrState::Closed => MergeRequestState::Closed,
            forge::MrState::Merged => MergeRequestState::Merged,
            forge::MrState::Locked => MergeRequestState::Locked,
        },
        source_branch: m.source_branch.clone(),
        target_branch: m.target_branch.clone(),
        labels: m.labels.clone(),
        merge_status: m.detailed_merge_status.clone().unwrap_or_default(),
        merge_commit: m.merge_commit_sha.clone(),
    }
}
