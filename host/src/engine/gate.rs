//! The health gate: after Baton pushes commit C for a stage, wait until the
//! policy accepts an observation of the stage's Argo CD application (of any
//! of them, for a stage with several targets: the source merges their
//! watches) that is trustworthy for C. An observation counts only when the
//! app reports a sync revision that is C or contains it (a merge commit),
//! and was reconciled after the push; anything older could be a stale
//! `Healthy` from the previous version. The host enforces the hard maximum
//! wait; progress goes to a sink at most every `progress_every`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::capabilities::argocd::{AppStatus, RequestError, StatusSource};
use crate::time::truncate_to_second;

/// What to wait for.
#[derive(Debug, Clone)]
pub struct GateSpec {
    /// Label for progress lines, e.g. `payments-dev`.
    pub label: String,
    /// The commit Baton pushed (full SHA).
    pub expected_commit: String,
    /// When the push happened.
    pub pushed_at: SystemTime,
    /// Hard maximum wait (the guardrail).
    pub max_wait: Duration,
    /// Minimum interval between two progress lines.
    pub progress_every: Duration,
}

/// An observation that passed the revision and freshness filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The application status.
    pub status: AppStatus,
    /// Time since the gate started.
    pub elapsed: Duration,
}

/// The answer to one observation: the gate ends with a value (the
/// policy's decision, for the engine), or keeps waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<T> {
    /// Decided: the gate ends with this value.
    Done(T),
    /// Not yet decided.
    KeepWaiting,
    /// Not yet decided; ask again after this long even if nothing new is
    /// observed (at most once a second).
    RecheckAfter(Duration),
}

/// How the gate ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateOutcome<T> {
    /// An observation was decided.
    Decided {
        /// The verdict's value.
        value: T,
        /// The observation that was decided.
        last: Observation,
    },
    /// `max_wait` elapsed without a verdict.
    TimedOut {
        /// How long the gate waited.
        waited: Duration,
        /// The last observation the policy saw, if any counted.
        last: Option<Observation>,
    },
}

/// The gate could not keep observing.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The status source failed for good (401, 403, 404, …).
    #[error("health gate for {label}: cannot observe the application")]
    Observe {
        /// The gate's label.
        label: String,
        /// The underlying error.
        #[source]
        source: RequestError,
    },
    /// The status source ended without an error.
    #[error("health gate for {label}: the status source ended")]
    SourceEnded {
        /// The gate's label.
        label: String,
    },
}

/// Where progress lines go.
pub trait ProgressSink {
    /// Emits one line (no trailing newline).
    fn line(&mut self, line: &str);
}

impl ProgressSink for Vec<String> {
    fn line(&mut self, line: &str) {
        self.push(line.to_owned());
    }
}

/// `payments-dev: Progressing / Synced @ab12cd3 (34s)`.
pub fn progress_line(label: &str, status: Option<&AppStatus>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    match status {
        None => format!("{label}: waiting for Argo CD ({secs}s)"),
        Some(s) => {
            let rev = s
                .sync_revisions()
                .next()
                .map(|r| &r[..r.len().min(7)])
                .unwrap_or("-");
            format!(
                "{label}: {} / {} @{rev} ({secs}s)",
                s.health.status, s.sync.status
            )
        }
    }
}

/// What a gate keeps between wake-ups.
struct Watch {
    start: Instant,
    deadline: Instant,
    not_before: SystemTime,
    ancestry: HashMap<String, bool>,
    /// The latest status of each application seen (a multi-target gate
    /// watches several), in the order they first reported.
    last_seen: Vec<AppStatus>,
    last_counted: Option<Observation>,
    last_line: Option<Instant>,
    /// When the policy asked to be asked again without a new observation.
    recheck_at: Option<Instant>,
}

impl Watch {
    fn new(spec: &GateSpec) -> Self {
        let start = Instant::now();
        Self {
            start,
            deadline: start + spec.max_wait,
            // reconciledAt has whole-second precision: a reconcile in the
            // push's own second must count. The revision check rules out
            // pre-push states.
            not_before: truncate_to_second(spec.pushed_at),
            ancestry: HashMap::new(),
            last_seen: Vec::new(),
            last_counted: None,
            last_line: None,
            recheck_at: None,
        }
    }

    /// The next time anything is due: a progress line, a recheck, the end.
    fn wake(&self, spec: &GateSpec) -> Instant {
        let next_line = self.last_line.unwrap_or(self.start) + spec.progress_every;
        let mut wake = next_line.max(Instant::now()).min(self.deadline);
        if let Some(at) = self.recheck_at {
            wake = wake.min(at);
        }
        wake
    }

    /// Whether `status` is trustworthy for the gated commit.
    fn counts(
        &mut self,
        status: &AppStatus,
        spec: &GateSpec,
        is_descendant_or_equal: &mut impl FnMut(&str) -> bool,
    ) -> bool {
        status.reconciled_at.is_some_and(|t| t >= self.not_before)
            && status.sync_revisions().any(|rev| {
                *self
                    .ancestry
                    .entry(rev.to_owned())
                    .or_insert_with(|| rev == spec.expected_commit || is_descendant_or_equal(rev))
            })
    }

    /// Hands `obs` to the policy; `Some` ends the gate.
    fn ask<T>(
        &mut self,
        obs: Observation,
        now: Instant,
        on_observation: &mut impl FnMut(&Observation) -> Verdict<T>,
    ) -> Option<GateOutcome<T>> {
        self.recheck_at = None;
        match on_observation(&obs) {
            Verdict::Done(value) => return Some(GateOutcome::Decided { value, last: obs }),
            Verdict::KeepWaiting => {}
            // At most once a second: a recheck is not a busy loop.
            Verdict::RecheckAfter(after) => {
                self.recheck_at = Some(now + after.max(Duration::from_secs(1)));
            }
        }
        self.last_counted = Some(obs);
        None
    }

    /// Keeps `status` as its application's latest.
    fn seen(&mut self, status: &AppStatus) {
        match self.last_seen.iter_mut().find(|s| s.name == status.name) {
            Some(seen) => *seen = status.clone(),
            None => self.last_seen.push(status.clone()),
        }
    }

    /// The progress line: the gate's label with the one application seen,
    /// or one part per application when it watches several.
    fn progress(&self, spec: &GateSpec, now: Instant) -> String {
        let elapsed = now - self.start;
        match self.last_seen.as_slice() {
            [] => progress_line(&spec.label, None, elapsed),
            [one] if one.name == spec.label || one.name.is_empty() => {
                progress_line(&spec.label, Some(one), elapsed)
            }
            seen => seen
                .iter()
                .map(|s| progress_line(&s.name, Some(s), elapsed))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    fn timed_out<T>(&mut self, now: Instant) -> GateOutcome<T> {
        GateOutcome::TimedOut {
            waited: now - self.start,
            last: self.last_counted.take(),
        }
    }
}

/// Runs the gate. `is_descendant_or_equal(rev)` says whether `rev` is the
/// expected commit or contains it; `on_observation` forwards each counted
/// observation to the policy, and again the last one when the policy asked
/// to be rechecked. The gate ends at `max_wait` whatever the source does.
pub async fn wait_for_health<S: StatusSource, T>(
    source: &mut S,
    spec: &GateSpec,
    mut is_descendant_or_equal: impl FnMut(&str) -> bool,
    mut on_observation: impl FnMut(&Observation) -> Verdict<T>,
    sink: &mut (dyn ProgressSink + Send),
) -> Result<GateOutcome<T>, GateError> {
    let mut w = Watch::new(spec);
    loop {
        let received = tokio::select! {
            r = source.next_status() => Some(r),
            () = tokio::time::sleep_until(w.wake(spec)) => None,
        };
        let now = Instant::now();
        match received {
            Some(Some(Ok(status))) => {
                let counts = w.counts(&status, spec, &mut is_descendant_or_equal);
                w.seen(&status);
                if counts {
                    let obs = Observation {
                        status,
                        elapsed: now - w.start,
                    };
                    if let Some(done) = w.ask(obs, now, &mut on_observation) {
                        return Ok(done);
                    }
                }
            }
            // An error that only says the gate's deadline passed is the
            // gate's timeout, not a failure to observe.
            Some(Some(Err(_))) if now >= w.deadline => return Ok(w.timed_out(now)),
            Some(Some(Err(source))) => {
                return Err(GateError::Observe {
                    label: spec.label.clone(),
                    source,
                });
            }
            Some(None) => {
                return Err(GateError::SourceEnded {
                    label: spec.label.clone(),
                });
            }
            None => {
                if w.recheck_at.is_some_and(|at| now >= at)
                    && let Some(last) = w.last_counted.take()
                {
                    let obs = Observation {
                        status: last.status,
                        elapsed: now - w.start,
                    };
                    if let Some(done) = w.ask(obs, now, &mut on_observation) {
                        return Ok(done);
                    }
                }
            }
        }
        if now >= w.deadline {
            return Ok(w.timed_out(now));
        }
        if w.last_line.is_none_or(|t| now >= t + spec.progress_every) {
            sink.line(&w.progress(spec, now));
            w.last_line = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::capabilities::argocd::{Health, HealthStatus, SyncState, SyncStatus};

    /// Yields scripted statuses, then stays silent.
    struct Scripted(VecDeque<AppStatus>);

    impl StatusSource for Scripted {
        async fn next_status(&mut self) -> Option<Result<AppStatus, RequestError>> {
            match self.0.pop_front() {
                Some(s) => Some(Ok(s)),
                None => std::future::pending().await,
            }
        }
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn status(health: HealthStatus, sync: SyncStatus, rev: &str, reconciled: u64) -> AppStatus {
        AppStatus {
            name: "payments-dev".into(),
            namespace: None,
            project: None,
            health: Health {
                status: health,
                message: None,
            },
            sync: SyncState {
                status: sync,
                revision: Some(rev.into()),
                revisions: Vec::new(),
            },
            operation: None,
            reconciled_at: Some(at(reconciled)),
            resources: Vec::new(),
            history: Vec::new(),
        }
    }

    fn spec(max_wait: Duration) -> GateSpec {
        GateSpec {
            label: "payments-dev".into(),
            expected_commit: "c0ffee1234".into(),
            // Mid-second: a reconcile in the same second still counts.
            pushed_at: at(1000) + Duration::from_millis(600),
            max_wait,
            progress_every: Duration::from_secs(3600),
        }
    }

    fn healthy_synced(obs: &Observation) -> Verdict<&'static str> {
        let s = &obs.status;
        match (&s.health.status, &s.sync.status) {
            (HealthStatus::Healthy, SyncStatus::Synced) => Verdict::Done("pass"),
            (HealthStatus::Degraded, _) => Verdict::Done("Degraded"),
            _ => Verdict::KeepWaiting,
        }
    }

    #[tokio::test]
    async fn stale_or_foreign_observations_never_reach_the_policy() {
        use HealthStatus::*;
        use SyncStatus::*;
        let mut source = Scripted(VecDeque::from([
            status(Healthy, Synced, "0ld0ld", 1005), // previous revision
            status(Healthy, Synced, "c0ffee1234", 999), // reconciled before the push
            status(Healthy, OutOfSync, "c0ffee1234", 1000), // counts, waits
            status(Healthy, Synced, "beef", 1001),   // unrelated revision
            status(Healthy, Synced, "merge99", 1002), // merge commit containing C
        ]));
        let mut seen = Vec::new();
        let mut asked = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        let outcome = wait_for_health(
            &mut source,
            &spec(Duration::from_secs(60)),
            |rev| {
                asked.push(rev.to_owned());
                rev == "merge99"
            },
            |obs| {
                seen.push(obs.status.sync.revision.clone().unwrap_or_default());
                healthy_synced(obs)
            },
            &mut lines,
        )
        .await
        .expect("gate runs");
        assert!(
            matches!(&outcome, GateOutcome::Decided { value: "pass", last } if last.status.sync.revision.as_deref() == Some("merge99"))
        );
        assert_eq!(seen, ["c0ffee1234", "merge99"]);
        // The exact commit needs no ancestry lookup; each other revision is asked once.
        assert_eq!(asked, ["0ld0ld", "beef", "merge99"]);
        assert_eq!(lines, ["payments-dev: Healthy / Synced @0ld0ld (0s)"]);
    }

    /// A policy that asks to be rechecked is asked again with the last
    /// observation although nothing new arrives (a bake period), and the
    /// gate ends when it decides.
    #[tokio::test(start_paused = true)]
    async fn a_recheck_asks_again_without_a_new_observation() {
        let mut source = Scripted(VecDeque::from([status(
            HealthStatus::Healthy,
            SyncStatus::Synced,
            "c0ffee1234",
            1001,
        )]));
        let mut asked = Vec::new();
        let outcome = wait_for_health(
            &mut source,
            &spec(Duration::from_secs(60)),
            |_| false,
            |obs| {
                asked.push(obs.elapsed);
                if asked.len() < 3 {
                    Verdict::RecheckAfter(Duration::from_secs(5))
                } else {
                    Verdict::Done("baked")
                }
            },
            &mut Vec::new(),
        )
        .await
        .expect("gate runs");
        assert!(matches!(
            outcome,
            GateOutcome::Decided { value: "baked", .. }
        ));
        assert_eq!(asked.len(), 3);
        assert!(asked[1] >= asked[0] + Duration::from_secs(5), "{asked:?}");
        assert!(asked[2] >= asked[1] + Duration::from_secs(5), "{asked:?}");
    }

    #[tokio::test]
    async fn degraded_fails_and_silence_times_out() {
        let mut source = Scripted(VecDeque::from([status(
            HealthStatus::Degraded,
            SyncStatus::Synced,
            "c0ffee1234",
            1001,
        )]));
        let outcome = wait_for_health(
            &mut source,
            &spec(Duration::from_secs(60)),
            |_| false,
            healthy_synced,
            &mut Vec::new(),
        )
        .await
        .expect("gate runs");
        assert!(matches!(
            outcome,
            GateOutcome::Decided {
                value: "Degraded",
                ..
            }
        ));

        let mut source = Scripted(VecDeque::from([status(
            HealthStatus::Progressing,
            SyncStatus::Synced,
            "c0ffee1234",
            1001,
        )]));
        let outcome = wait_for_health(
            &mut source,
            &spec(Duration::from_millis(200)),
            |_| false,
            healthy_synced,
            &mut Vec::new(),
        )
        .await
        .expect("gate runs");
        match outcome {
            GateOutcome::TimedOut {
                last: Some(last), ..
            } => {
                assert_eq!(last.status.health.status, HealthStatus::Progressing);
            }
            other => panic!("expected timeout, got {other:?}"),
        }
    }

    /// A gate over several applications says where each one is.
    #[tokio::test(start_paused = true)]
    async fn progress_names_each_application_of_a_merged_source() {
        let named = |name: &str| AppStatus {
            name: name.into(),
            ..status(HealthStatus::Healthy, SyncStatus::Synced, "0ld0ld", 1005)
        };
        let mut source = Scripted(VecDeque::from([
            named("payments-prod-eu"),
            named("payments-prod-us"),
        ]));
        let spec = GateSpec {
            label: "payments-prod-eu, payments-prod-us".into(),
            max_wait: Duration::from_millis(1500),
            progress_every: Duration::from_secs(1),
            ..spec(Duration::ZERO)
        };
        let mut lines: Vec<String> = Vec::new();
        let outcome = wait_for_health(&mut source, &spec, |_| false, healthy_synced, &mut lines)
            .await
            .expect("gate runs");
        assert!(matches!(outcome, GateOutcome::TimedOut { last: None, .. }));
        assert_eq!(
            lines,
            [
                "payments-prod-eu: Healthy / Synced @0ld0ld (0s)",
                "payments-prod-eu: Healthy / Synced @0ld0ld (1s); payments-prod-us: Healthy / \
                 Synced @0ld0ld (1s)",
            ]
        );
    }

    #[test]
    fn progress_line_format() {
        let s = status(
            HealthStatus::Progressing,
            SyncStatus::Synced,
            "ab12cd3456789",
            1,
        );
        assert_eq!(
            progress_line("payments-dev", Some(&s), Duration::from_millis(34_900)),
            "payments-dev: Progressing / Synced @ab12cd3 (34s)"
        );
        assert_eq!(
            progress_line("payments-dev", None, Duration::ZERO),
            "payments-dev: waiting for Argo CD (0s)"
        );
    }
}
