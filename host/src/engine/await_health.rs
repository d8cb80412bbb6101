//! `await-health`: the gate as the engine runs it. Which commit to wait
//! for, the guardrail's cap on the wait, one read before watching, every
//! counted observation handed to the policy as *health observed* (an empty
//! answer keeps waiting), a timeout handed over as *gate timeout*, and a
//! cancelled run recorded as such.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::audit::{ActionStatus, GateRecord, GateResult, Status};
use super::gate::{self, GateOutcome, GateSpec, ProgressSink, Verdict};
use super::run::{
    Engine, EngineStage, Progress, RunState, Slot, Stop, error_chain, human_ms, millis,
};
use super::world;
use crate::capabilities::argocd::AppRef;
use crate::capabilities::git::EnvRepo;
use crate::runtime::{
    Action, AppStatus, AwaitHealth, Decision, Event, GateTimeout, HealthObserved, TargetStatus,
};

impl Engine {
    pub(super) fn gate_timeout(&self, wait: &AwaitHealth) -> Duration {
        Duration::from_millis(wait.timeout).min(self.guardrails.max_health_wait)
    }

    /// The commit that brought `stage` to `version`: the one this run
    /// pushed, else the newest commit on the branch that set it.
    fn gate_commit(
        &self,
        st: &RunState,
        stage: &EngineStage,
        version: &str,
    ) -> Result<(String, SystemTime), Stop> {
        if let Some(p) = st.pushed.get(&stage.name).filter(|p| p.version == version) {
            return Ok((p.commit.clone(), p.at));
        }
        let tip = self.tip()?;
        let history = tokio::task::block_in_place(|| {
            self.lock_repo()?
                .history(&tip, &stage.location, Some(1))
                .map_err(|e| Stop::external(error_chain(&e)))
        })?;
        match history.first() {
            Some(entry) if entry.new.as_deref() == Some(version) => Ok((
                entry.commit.clone(),
                UNIX_EPOCH + Duration::from_secs(u64::try_from(entry.time).unwrap_or(0)),
            )),
            other => Err(Stop::policy(format!(
                "await-health {} {version}: the env repo's {} has {} for {}, so there is nothing \
                 to gate (is its merge request still open?)",
                stage.name,
                self.branch(),
                other
                    .and_then(|e| e.new.clone())
                    .unwrap_or_else(|| "no version".into()),
                stage.name
            ))),
        }
    }

    /// Runs one health gate; returns the decision that ended it, if any
    /// remains to run.
    pub(super) async fn gate(
        &self,
        st: &mut RunState,
        slot: Slot,
        action: &Action,
        wait: &AwaitHealth,
    ) -> Result<Option<(u32, Decision)>, Stop> {
        let stage = self.stage(&wait.stage)?.clone();
        let Some(client) = self.argocd.clone() else {
            return Err(Stop::usage("await-health needs an argocd: section"));
        };
        let (commit, pushed_at) = self.gate_commit(st, &stage, &wait.version)?;
        let timeout = self.gate_timeout(wait);
        let spec = GateSpec {
            label: stage.argocd_app.clone(),
            expected_commit: commit.clone(),
            pushed_at,
            max_wait: timeout,
            progress_every: self.progress_every,
        };
        // One read first (with the client's retries): an Argo CD that never
        // answers, or an app it does not know, fails the run now instead of
        // waiting out the whole gate.
        if let Err(e) = client
            .get_application(&AppRef::named(&stage.argocd_app), false)
            .await
        {
            let message = format!("health gate for {}: {}", stage.name, error_chain(&e));
            st.gates.push(GateRecord {
                decision: slot.decision,
                stage: stage.name.clone(),
                argocd_app: stage.argocd_app.clone(),
                version: wait.version.clone(),
                commit,
                timeout_ms: millis(timeout),
                result: GateResult::Error,
                elapsed_ms: 0,
                observations: 0,
                last: None,
            });
            self.record(st, slot, action, ActionStatus::Failed, message.clone());
            return Err(Stop::external(message));
        }
        let mut source = client.watch(AppRef::named(&stage.argocd_app));
        let repo = self.repo.clone();
        let mut observations = 0u32;
        let mut sink = ProgressFn(self.progress.clone());
        let mut cancel = self.cancel.clone();
        let started = Instant::now();
        let outcome = {
            let st = &mut *st;
            let observations = &mut observations;
            let gate = gate::wait_for_health(
                &mut source,
                &spec,
                |rev| contains(&repo, rev, &commit),
                |obs| {
                    *observations += 1;
                    let status = world::app_status(&obs.status);
                    let event = Event::HealthObserved(HealthObserved {
                        stage: stage.name.clone(),
                        version: wait.version.clone(),
                        commit: commit.clone(),
                        elapsed: millis(obs.elapsed),
                        targets: vec![target_status(&stage.argocd_app, Some(status.clone()))],
                        status,
                    });
                    match self.decide(st, event) {
                        Ok((_, d)) if d.actions.is_empty() => Verdict::KeepWaiting,
                        other => Verdict::Done(other),
                    }
                },
                &mut sink,
            );
            tokio::select! {
                r = gate => Some(r),
                () = cancelled(&mut cancel) => None,
            }
        };
        let mut record = GateRecord {
            decision: slot.decision,
            stage: stage.name.clone(),
            argocd_app: stage.argocd_app.clone(),
            version: wait.version.clone(),
            commit: commit.clone(),
            timeout_ms: millis(timeout),
            result: GateResult::Decided,
            elapsed_ms: millis(started.elapsed()),
            observations,
            last: None,
        };
        let (result, next) = match outcome {
            None => {
                record.result = GateResult::Cancelled;
                st.gates.push(record);
                self.record(
                    st,
                    slot,
                    action,
                    ActionStatus::Failed,
                    "cancelled while waiting".into(),
                );
                return Err(Stop::Error(
                    Status::Cancelled,
                    format!(
                        "cancelled while waiting for {}; run the same command again to continue",
                        stage.argocd_app
                    ),
                ));
            }
            Some(Err(e)) => {
                record.result = GateResult::Error;
                st.gates.push(record);
                let message = error_chain(&e);
                self.record(st, slot, action, ActionStatus::Failed, message.clone());
                return Err(Stop::external(message));
            }
            Some(Ok(GateOutcome::Decided { value, last })) => {
                record.last = Some(world::app_status(&last.status));
                let detail = format!(
                    "{} observed after {}s: {} / {}",
                    stage.argocd_app,
                    last.elapsed.as_secs(),
                    last.status.health.status,
                    last.status.sync.status
                );
                (detail, value.map(Some))
            }
            Some(Ok(GateOutcome::TimedOut { waited, last })) => {
                record.result = GateResult::TimedOut;
                record.last = last.as_ref().map(|l| world::app_status(&l.status));
                let event = Event::GateTimeout(GateTimeout {
                    stage: stage.name.clone(),
                    version: wait.version.clone(),
                    commit: commit.clone(),
                    elapsed: millis(waited),
                    last_status: record.last.clone(),
                    targets: vec![target_status(&stage.argocd_app, record.last.clone())],
                });
                let detail = format!(
                    "{} not decided within {}",
                    stage.argocd_app,
                    human_ms(timeout.as_millis())
                );
                let next = match self.decide(st, event) {
                    Ok((_, d)) if d.actions.is_empty() => Err(Stop::Failed(format!(
                        "{} was not healthy at {} within {} (the policy decided nothing on the timeout)",
                        stage.name,
                        wait.version,
                        human_ms(timeout.as_millis())
                    ))),
                    other => other.map(Some),
                };
                (detail, next)
            }
        };
        st.gates.push(record);
        self.record(st, slot, action, ActionStatus::Done, result);
        next
    }
}

/// The stage's one target (stages are single-target for now) with its
/// latest observation.
fn target_status(argocd_app: &str, status: Option<AppStatus>) -> TargetStatus {
    TargetStatus {
        label: String::new(),
        argocd_app: argocd_app.to_owned(),
        status,
    }
}

/// Gate progress through the engine's progress function.
struct ProgressFn(Progress);

impl ProgressSink for ProgressFn {
    fn line(&mut self, line: &str) {
        (self.0)(line);
    }
}

async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        // The sender is gone: nobody can cancel any more.
        std::future::pending::<()>().await;
    }
}

/// Does `rev` contain `commit` (is `commit` an ancestor of or equal to it)?
/// A revision the cache does not have yet is fetched once.
fn contains(repo: &Arc<Mutex<EnvRepo>>, rev: &str, commit: &str) -> bool {
    tokio::task::block_in_place(|| {
        let Ok(mut repo) = repo.lock() else {
            return false;
        };
        match repo.is_ancestor(commit, rev) {
            Some(answer) => answer,
            None => repo.refresh().is_ok() && repo.is_ancestor(commit, rev).unwrap_or(false),
        }
    })
}
