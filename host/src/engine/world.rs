//! The live [`World`]: answers a policy's capability calls from the real
//! env repo (gix), Argo CD and the forge. Each capability is optional; a
//! call to one that is not configured answers `unavailable`, which the
//! policy sees as a WIT error. Metrics are not wired yet: every query
//! answers `denied`.
//!
//! Stages have one target each for now: `target-versions` answers that
//! target, labelled "". How a deployment arrived ([`arrival`]) is read
//! from the commit that carries the change: a merge commit's change is
//! carried by the merged side's newest commit that set the same value.
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

use super::repo::SharedRepo;
use crate::capabilities::argocd::{self, AppRef, ArgoCdClient};
use crate::capabilities::forge::{self, Forge};
use crate::capabilities::git::{EnvRepo, FieldError, HistoryEntry, RUN, ReadError, StageField};
use crate::retry::Deadline;
use crate::runtime::{
    AppStatus, CapabilityError, ChangeOrigin, Deployment, HealthStatus, MergeRequest,
    MergeRequestState, MetricsError, OperationPhase, ResourceHealth, Sample, Series, SyncStatus,
    TargetVersion, Trailer, World, WorldError,
};

/// One stage as the world resolves it.
#[derive(Debug, Clone)]
pub struct LiveStage {
    /// Stage name.
    pub name: String,
    /// Where its version lives.
    pub field: StageField,
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
    handle: Option<Handle>,
    clock: Clock,
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
            handle: None,
            clock,
            deadline: Deadline::after(HOST_CALL_BOUND),
        }
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

    fn stage(&self, name: &str) -> Result<&StageField, WorldError> {
        self.stages
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.field)
            .ok_or_else(|| CapabilityError::Invalid(format!("unknown stage {name:?}")).into())
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
        let Some(left) = self.deadline.left() else {
            return Ok(handle.block_on(future));
        };
        let started = Instant::now();
        handle
            .block_on(tokio::time::timeout(left, future))
            .map_err(|_| timed_out(call, started.elapsed(), None))
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

fn read_error(e: ReadError) -> WorldError {
    let text = e.to_string();
    match e {
        ReadError::Revision { .. } => CapabilityError::Invalid(text),
        ReadError::FileMissing { .. } => CapabilityError::NotFound(text),
        _ => CapabilityError::Unavailable(text),
    }
    .into()
}

/// How a stage change reached the branch.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The commit that carries the change: the entry itself, or for a merge
    /// the merged side's commit that set the same value.
    pub carrier: HistoryEntry,
    /// `baton-commit`, `baton-merge-request` or `out-of-band`.
    pub origin: ChangeOrigin,
    /// The merge request number named by the merge commit's message
    /// (GitLab `See merge request group/project!N`, GitHub `Merge pull
    /// request #N`), when it is a merge.
    pub merge_request: Option<u64>,
}

/// How `entry` (a first-parent commit that changed `field`) arrived: a
/// direct commit with a `Baton-Run` trailer is `baton-commit`; a merge whose
/// carrying commit has one is `baton-merge-request`; anything else
/// `out-of-band`. The trailers are taken at their word for now.
pub fn arrival(
    repo: &mut EnvRepo,
    field: &StageField,
    entry: &HistoryEntry,
) -> Result<Arrival, ReadError> {
    let by_baton = |e: &HistoryEntry| e.trailer(RUN).is_some();
    let second_parent = format!("{}^2", entry.commit);
    if repo.resolve(&second_parent).is_err() {
        let origin = if by_baton(entry) {
            ChangeOrigin::BatonCommit
        } else {
            ChangeOrigin::OutOfBand
        };
        return Ok(Arrival {
            carrier: entry.clone(),
            origin,
            merge_request: None,
        });
    }
    let merged = repo.history(&second_parent, field, Some(1))?;
    let carrier = merged
        .into_iter()
        .next()
        .filter(|c| c.new == entry.new)
        .unwrap_or_else(|| entry.clone());
    let origin = if carrier.commit != entry.commit && by_baton(&carrier) {
        ChangeOrigin::BatonMergeRequest
    } else {
        ChangeOrigin::OutOfBand
    };
    Ok(Arrival {
        carrier,
        origin,
        merge_request: merge_request_number(&entry.message),
    })
}

/// The MR number a forge's merge commit message names.
fn merge_request_number(message: &str) -> Option<u64> {
    let digits = |s: &str| {
        let n: String = s.chars().take_while(char::is_ascii_digit).collect();
        n.parse().ok()
    };
    if let Some(rest) = message.strip_prefix("Merge pull request #") {
        return digits(rest);
    }
    let line = message
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("See merge request "))?;
    digits(line.rsplit_once('!')?.1)
}

/// The WIT deployment of a history entry and how it arrived; `None` when
/// the entry removed the stage's value.
fn deployment(entry: HistoryEntry, arrival: Arrival) -> Option<Deployment> {
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
        digest: None,
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
        let field = self.stage(stage)?.clone();
        let rev = revision.unwrap_or(&self.tip).to_owned();
        self.git("git.stage-version", |repo| repo.read_version(&rev, &field))
    }

    fn target_versions(
        &mut self,
        stage: &str,
        revision: Option<&str>,
    ) -> Result<Vec<TargetVersion>, WorldError> {
        let field = self.stage(stage)?.clone();
        let rev = revision.unwrap_or(&self.tip).to_owned();
        let version = self.git("git.target-versions", |repo| {
            match repo.read_version(&rev, &field) {
                Ok(version) => Ok(Some(version)),
                Err(
                    ReadError::FileMissing { .. }
                    | ReadError::Field(
                        FieldError::KeyMissing { .. } | FieldError::DocumentMissing { .. },
                    ),
                ) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        Ok(vec![TargetVersion {
            label: String::new(),
            version,
            digest: None,
        }])
    }

    fn stage_history(&mut self, stage: &str, limit: u32) -> Result<Vec<Deployment>, WorldError> {
        let field = self.stage(stage)?.clone();
        let tip = self.tip.clone();
        self.git("git.stage-history", |repo| {
            let entries = repo.history(&tip, &field, Some(limit as usize))?;
            let mut out = Vec::with_capacity(entries.len());
            for entry in entries {
                let arrival = arrival(repo, &field, &entry)?;
                out.extend(deployment(entry, arrival));
            }
            Ok(out)
        })
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
        _promql: &str,
        _time: Option<i64>,
    ) -> Result<Vec<Sample>, WorldError<MetricsError>> {
        Err(no_metrics())
    }

    fn metrics_query_range(
        &mut self,
        _promql: &str,
        _start: i64,
        _end: i64,
        _step: u64,
    ) -> Result<Vec<Series>, WorldError<MetricsError>> {
        Err(no_metrics())
    }
}

fn no_metrics() -> WorldError<MetricsError> {
    MetricsError::Denied("no metrics: section in baton.yaml".into()).into()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_request_numbers_come_from_either_forges_merge_message() {
        let gitlab = "Merge branch 'baton/payments/staging/v2' into 'main'\n\nstaging(payments): v2\n\nSee merge request acme/env!17";
        assert_eq!(merge_request_number(gitlab), Some(17));
        let github =
            "Merge pull request #4 from acme/baton/payments/staging/v2\n\nstaging(payments): v2";
        assert_eq!(merge_request_number(github), Some(4));
        assert_eq!(merge_request_number("staging(payments): v2"), None);
    }
}
