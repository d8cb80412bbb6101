//! One simulated application: its lifecycle after a new commit (OutOfSync ->
//! sync Running / Progressing -> Synced -> Healthy, Degraded or a scripted
//! sequence) and its JSON, shaped like the real `Application` objects.

use std::collections::VecDeque;
use std::time::SystemTime;

use regex::Regex;
use tokio::time::{Duration, Instant};

use super::config::{HealthStep, SimApp, WorkloadKind};

/// A scheduled change of the application.
#[derive(Debug, Clone)]
enum Phase {
    StartSync,
    FinishSync,
    Health(HealthStep),
}

#[derive(Debug, Clone)]
pub(super) struct OpState {
    pub(super) phase: &'static str,
    pub(super) message: String,
    pub(super) started_at: SystemTime,
    pub(super) finished_at: Option<SystemTime>,
    pub(super) revision: String,
    pub(super) initiated_by: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct History {
    pub(super) id: i64,
    pub(super) revision: String,
    pub(super) deploy_started_at: SystemTime,
    pub(super) deployed_at: SystemTime,
    pub(super) initiated_by: Option<String>,
}

/// State of one simulated application.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) cfg: SimApp,
    degrade: Option<Regex>,
    pub(super) repo_url: String,
    pub(super) branch: String,
    pub(super) namespace: String,
    pub(super) uid: String,
    pub(super) created_at: SystemTime,
    pub(super) resource_version: u64,
    pub(super) sync_status: &'static str,
    pub(super) revision: Option<String>,
    pub(super) target_version: Option<String>,
    pub(super) deployed_version: Option<String>,
    pub(super) health: String,
    pub(super) health_message: Option<String>,
    pub(super) health_since: SystemTime,
    pub(super) workload_health: String,
    pub(super) workload_message: Option<String>,
    pub(super) operation: Option<OpState>,
    pub(super) requested: bool,
    pub(super) history: Vec<History>,
    pub(super) reconciled_at: SystemTime,
    timeline: VecDeque<(Instant, Phase)>,
    /// When health last became `Healthy` (for benchmarks).
    pub(crate) healthy_since: Option<Instant>,
}

impl AppState {
    pub(crate) fn new(
        cfg: SimApp,
        degrade: Option<Regex>,
        repo_url: String,
        branch: String,
        namespace: String,
        index: usize,
    ) -> Self {
        let now = SystemTime::now();
        Self {
            uid: format!("5f0c{index:04x}-6a2b-4c1d-9e8f-{:012x}", fnv(&cfg.name)),
            cfg,
            degrade,
            repo_url,
            branch,
            namespace,
            created_at: now,
            resource_version: 1,
            sync_status: "Unknown",
            revision: None,
            target_version: None,
            deployed_version: None,
            health: "Missing".into(),
            health_message: None,
            health_since: now,
            workload_health: "Missing".into(),
            workload_message: None,
            operation: None,
            requested: false,
            history: Vec::new(),
            reconciled_at: now,
            timeline: VecDeque::new(),
            healthy_since: None,
        }
    }

    /// The application as already deployed at `commit` (simulator start).
    pub(crate) fn deployed_at(&mut self, commit: &str, version: Option<String>) {
        let now = SystemTime::now();
        self.sync_status = "Synced";
        self.revision = Some(commit.to_owned());
        self.target_version = version.clone();
        self.deployed_version = version;
        self.set_health("Healthy", None, None, None);
        self.operation = Some(OpState {
            phase: "Succeeded",
            message: "successfully synced (all tasks run)".into(),
            started_at: now,
            finished_at: Some(now),
            revision: commit.to_owned(),
            initiated_by: None,
        });
        self.push_history(commit, now);
        self.reconciled_at = now;
    }

    /// The branch moved to `commit` holding `version`: OutOfSync now, then
    /// an automated sync after the configured delay.
    pub(crate) fn new_commit(&mut self, commit: &str, version: Option<String>, now: Instant) {
        self.sync_status = "OutOfSync";
        self.revision = Some(commit.to_owned());
        self.target_version = version;
        self.reconciled_at = SystemTime::now();
        self.timeline.clear();
        self.timeline
            .push_back((now + ms(self.cfg.sync_delay_ms), Phase::StartSync));
        self.bump();
    }

    /// A sync requested through the API: starts now.
    pub(crate) fn request_sync(&mut self, revision: Option<String>, user: &str, now: Instant) {
        if let Some(rev) = revision {
            self.revision = Some(rev);
        }
        self.timeline.clear();
        self.start_sync(Some(user.to_owned()), now);
        self.requested = true;
        self.bump();
    }

    /// A refresh: the controller compared the application again now.
    pub(crate) fn reconciled_now(&mut self) {
        self.reconciled_at = SystemTime::now();
        self.bump();
    }

    /// Whether a sync operation is running.
    pub(crate) fn operation_running(&self) -> bool {
        self.operation
            .as_ref()
            .is_some_and(|o| o.phase == "Running")
    }

    /// When the next scheduled change is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.timeline.front().map(|(at, _)| *at)
    }

    /// Applies every change due by `now`; returns whether anything changed.
    pub(crate) fn advance(&mut self, now: Instant) -> bool {
        let mut changed = false;
        while let Some((at, _)) = self.timeline.front() {
            if *at > now {
                break;
            }
            let Some((at, phase)) = self.timeline.pop_front() else {
                break;
            };
            match phase {
                Phase::StartSync => self.start_sync(None, at),
                Phase::FinishSync => self.finish_sync(at),
                Phase::Health(step) => {
                    self.set_health(
                        &step.health,
                        step.message,
                        step.workload_health,
                        step.workload_message,
                    );
                    if self.health == "Healthy" {
                        self.healthy_since = Some(at);
                    }
                }
            }
            self.reconciled_at = SystemTime::now();
            changed = true;
        }
        if changed {
            self.bump();
        }
        changed
    }

    fn start_sync(&mut self, initiated_by: Option<String>, at: Instant) {
        let revision = self.revision.clone().unwrap_or_default();
        self.operation = Some(OpState {
            phase: "Running",
            message: "one or more tasks are running".into(),
            started_at: SystemTime::now(),
            finished_at: None,
            revision,
            initiated_by,
        });
        self.set_health(
            "Progressing",
            None,
            None,
            Some("Waiting for rollout to finish: 0 of 1 updated replicas are available...".into()),
        );
        self.timeline
            .push_back((at + ms(self.cfg.sync_duration_ms), Phase::FinishSync));
    }

    fn finish_sync(&mut self, at: Instant) {
        let now = SystemTime::now();
        let Some(op) = self.operation.as_mut() else {
            return;
        };
        op.phase = "Succeeded";
        op.message = "successfully synced (all tasks run)".into();
        op.finished_at = Some(now);
        let (revision, started, user) =
            (op.revision.clone(), op.started_at, op.initiated_by.clone());
        self.requested = false;
        self.sync_status = "Synced";
        self.deployed_version = self.target_version.clone();
        self.push_history(&revision, started);
        if let Some(h) = self.history.last_mut() {
            h.deployed_at = now;
            h.initiated_by = user;
        }
        let mut when = at;
        if self.cfg.script.is_empty() {
            when += ms(self.cfg.progress_ms);
            let degrade = match (&self.degrade, &self.deployed_version) {
                (Some(re), Some(v)) => re.is_match(v),
                _ => false,
            };
            let step = if degrade {
                let message = match self.cfg.workload {
                    WorkloadKind::Rollout => "Rollout is aborted".to_owned(),
                    WorkloadKind::Deployment => {
                        format!(
                            "Deployment \"{}\" exceeded its progress deadline",
                            self.cfg.name
                        )
                    }
                };
                HealthStep {
                    workload_message: Some(message),
                    ..HealthStep::new("Degraded", 0)
                }
            } else {
                HealthStep::new("Healthy", 0)
            };
            self.timeline.push_back((when, Phase::Health(step)));
        } else {
            for step in self.cfg.script.clone() {
                let hold = ms(step.hold_ms);
                self.timeline.push_back((when, Phase::Health(step)));
                when += hold;
            }
        }
    }

    fn set_health(
        &mut self,
        health: &str,
        message: Option<String>,
        workload_health: Option<String>,
        workload_message: Option<String>,
    ) {
        if self.health != health {
            self.health_since = SystemTime::now();
        }
        self.health = health.to_owned();
        self.health_message = message;
        self.workload_health = workload_health.unwrap_or_else(|| health.to_owned());
        self.workload_message = workload_message;
        if health != "Healthy" {
            self.healthy_since = None;
        }
    }

    fn push_history(&mut self, revision: &str, started: SystemTime) {
        let id = self.history.last().map_or(0, |h| h.id + 1);
        self.history.push(History {
            id,
            revision: revision.to_owned(),
            deploy_started_at: started,
            deployed_at: SystemTime::now(),
            initiated_by: None,
        });
        // Argo CD keeps `revisionHistoryLimit` (default 10) entries.
        if self.history.len() > 10 {
            self.history.remove(0);
        }
    }

    fn bump(&mut self) {
        self.resource_version += 1;
    }

    pub(super) fn dest_namespace(&self) -> &str {
        self.cfg.dest_namespace.as_deref().unwrap_or(&self.cfg.name)
    }

    pub(super) fn image(&self) -> Option<String> {
        let repo = self.cfg.image_repo.as_deref().unwrap_or(&self.cfg.name);
        self.deployed_version
            .as_ref()
            .map(|v| format!("{repo}:{v}"))
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) & 0xffff_ffff_ffff
}
