//! From the raw file to a runnable [`Scenario`]: checks that need the whole
//! file (names that must match the context, one event per step, time order)
//! and the defaults that come from the simulated history (an event's commit
//! and elapsed time, `status: argocd`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::super::context::ContextFile;
use super::file::{
    ClockFile, EventFile, Expect, ExpectFile, ObservationFile, ScenarioFile, StageRepoFile,
    StepFile,
};
use super::time::TimeSpec;
use super::world::{MergeRequestData, StageData, WorldData};
use super::{Expectation, Scenario, ScenarioError, Step};
use crate::runtime::{
    AppStatus, ChangeOrigin, Context, Deployment, Event, MergeRequest, MergeRequestState,
    ResourceHealth, Trailer,
};

/// The clock start when a scenario sets none: 2025-01-01T00:00:00Z.
pub(super) const DEFAULT_START: i64 = 1_735_689_600_000;

/// Names a field of the file that does not fit.
pub(super) struct Problem {
    pub(super) field: String,
    pub(super) message: String,
}

pub(super) fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks `raw` and resolves its defaults.
pub(super) fn resolve(path: &Path, raw: ScenarioFile) -> Result<Scenario, ScenarioError> {
    let name = raw.name.clone().unwrap_or_else(|| {
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    });
    let description = raw.description.clone();
    Resolver::new(raw)
        .and_then(Resolver::finish)
        .map(|(context, world, steps)| Scenario {
            path: path.to_owned(),
            name,
            description,
            context,
            world: Arc::new(world),
            steps,
        })
        .map_err(|p| ScenarioError::Invalid {
            path: path.to_owned(),
            field: p.field,
            message: p.message,
        })
}

/// Resolves one event written in the scenario syntax outside a scenario
/// (`policy eval --event`): the world is empty, so a default that comes
/// from the history or the `argocd` section must be given instead, and
/// times count from `now`. Field paths start at the event's variant.
pub(super) fn lone_event(
    context: ContextFile,
    event: EventFile,
    now: i64,
) -> Result<Event, Problem> {
    let raw = ScenarioFile {
        name: None,
        description: None,
        context,
        clock: ClockFile {
            start: Some(TimeSpec::Absolute(now)),
        },
        env_repo: Default::default(),
        argocd: BTreeMap::new(),
        merge_requests: Vec::new(),
        metrics: None,
        steps: Vec::new(),
    };
    let mut resolver = Resolver::new(raw)?;
    resolver.lone = true;
    resolver.env_repo()?;
    resolver.event("", now, event).map(|(event, _)| event)
}

/// The file being resolved and what has been resolved so far.
pub(super) struct Resolver {
    raw: ScenarioFile,
    pub(super) context: Context,
    pub(super) start: i64,
    pub(super) world: WorldData,
    /// A lone event (`policy eval`), not a scenario: there is no history
    /// or `argocd` section to take defaults from.
    pub(super) lone: bool,
}

impl Resolver {
    fn new(raw: ScenarioFile) -> Result<Self, Problem> {
        let context = raw.context.clone().into_context("scenario");
        let mut seen = Vec::new();
        for (i, stage) in context.stages.iter().enumerate() {
            if seen.contains(&&stage.name) {
                return Err(problem(
                    format!("context.stages[{i}].name"),
                    format!("stage {} appears twice", stage.name),
                ));
            }
            seen.push(&stage.name);
        }
        let start = raw.clock.start.map_or(DEFAULT_START, |t| t.resolve(0));
        Ok(Self {
            raw,
            context,
            start,
            world: WorldData::default(),
            lone: false,
        })
    }

    fn finish(mut self) -> Result<(Context, WorldData, Vec<Step>), Problem> {
        self.env_repo()?;
        self.argocd()?;
        self.merge_requests()?;
        self.metrics()?;
        let steps = std::mem::take(&mut self.raw.steps);
        if steps.is_empty() {
            return Err(problem("steps", "a scenario needs at least one step"));
        }
        let mut resolved = Vec::with_capacity(steps.len());
        let mut now = self.start;
        for (i, step) in steps.into_iter().enumerate() {
            let field = format!("steps[{i}]");
            let at = step.at.map_or(now, |t| t.resolve(self.start));
            if at < now {
                return Err(problem(
                    format!("{field}.at"),
                    format!(
                        "{} is earlier than the previous step ({}); steps run in time order",
                        self.offset(at),
                        self.offset(now)
                    ),
                ));
            }
            now = at;
            resolved.push(self.step(&field, now, step)?);
        }
        Ok((self.context, self.world, resolved))
    }

    /// `90s`: a time as an offset from the clock start, for messages.
    pub(super) fn offset(&self, at: i64) -> String {
        let ms = at - self.start;
        if ms % 1000 == 0 {
            format!("{}s", ms / 1000)
        } else {
            format!("{ms}ms")
        }
    }

    pub(super) fn argocd_app(&self, stage: &str) -> Option<&str> {
        self.context
            .stages
            .iter()
            .find(|s| s.name == stage)
            .map(|s| s.argocd_app.as_str())
    }

    /// Is `app` the Argo CD application of a stage or of one of its targets?
    fn known_app(&self, app: &str) -> bool {
        self.context
            .stages
            .iter()
            .any(|s| s.argocd_app == app || s.targets.iter().any(|t| t.argocd_app == app))
    }

    fn env_repo(&mut self) -> Result<(), Problem> {
        let mut given = std::mem::take(&mut self.raw.env_repo.stages);
        if let Some(unknown) = given
            .keys()
            .find(|k| !self.context.stages.iter().any(|s| &s.name == *k))
        {
            return Err(problem(
                format!("env_repo.stages.{unknown}"),
                format!("no stage {unknown} in context.stages"),
            ));
        }
        for stage in &self.context.stages {
            let repo = given.remove(&stage.name).unwrap_or_default();
            let mut data = self.stage_data(&stage.name, repo)?;
            data.targets = stage.targets.iter().map(|t| t.label.clone()).collect();
            self.world.stages.push(data);
        }
        self.world.files = std::mem::take(&mut self.raw.env_repo.files)
            .into_iter()
            .map(|(path, text)| (path, text.into_bytes()))
            .collect();
        Ok(())
    }

    fn stage_data(&self, stage: &str, repo: StageRepoFile) -> Result<StageData, Problem> {
        let count = repo.history.len();
        let mut history: Vec<Deployment> = Vec::with_capacity(count);
        for (i, d) in repo.history.iter().enumerate() {
            let field = format!("env_repo.stages.{stage}.history[{i}]");
            let time = d.time.map_or(self.start, |t| t.resolve(self.start));
            if let Some(newer) = history.last()
                && newer.time < time
            {
                return Err(problem(
                    format!("{field}.time"),
                    format!(
                        "history is newest first, but this deployment ({}) is newer than the one above it ({})",
                        self.offset(time),
                        self.offset(newer.time)
                    ),
                ));
            }
            let commit = d
                .commit
                .clone()
                .unwrap_or_else(|| format!("{stage}-{}", count - i));
            if history.iter().any(|h| h.commit == commit) {
                return Err(problem(
                    format!("{field}.commit"),
                    format!("commit {commit} appears twice"),
                ));
            }
            let from_version = d.from_version.clone().or_else(|| {
                repo.history
                    .get(i + 1)
                    .map(|older| older.to_version.clone())
            });
            history.push(Deployment {
                commit,
                time,
                author: d
                    .author
                    .clone()
                    .unwrap_or_else(|| "Baton <baton@example.com>".into()),
                from_version,
                to_version: d.to_version.clone(),
                subject: d
                    .subject
                    .clone()
                    .unwrap_or_else(|| format!("{stage}({}): {}", self.context.app, d.to_version)),
                trailers: d
                    .trailers
                    .0
                    .iter()
                    .map(|(key, value)| Trailer {
                        key: key.clone(),
                        value: value.trim().to_owned(),
                    })
                    .collect(),
                digest: d.digest.clone(),
                origin: d.origin.map_or(
                    if d.merge_request.is_some() {
                        ChangeOrigin::BatonMergeRequest
                    } else {
                        ChangeOrigin::BatonCommit
                    },
                    Into::into,
                ),
                merge_request: d.merge_request,
            });
        }
        Ok(StageData {
            name: stage.to_owned(),
            version: repo.version,
            targets: vec![String::new()],
            history,
        })
    }

    fn argocd(&mut self) -> Result<(), Problem> {
        let apps = std::mem::take(&mut self.raw.argocd);
        for (app, observations) in apps {
            if !self.known_app(&app) {
                return Err(problem(
                    format!("argocd.{app}"),
                    format!("{app} is not the argocd_app of any stage or target in context.stages"),
                ));
            }
            let mut timeline: Vec<(i64, AppStatus)> = observations
                .into_iter()
                .map(|o| self.observation(&app, o, self.start))
                .collect();
            timeline.sort_by_key(|(at, _)| *at);
            self.world.argocd.insert(app, timeline);
        }
        Ok(())
    }

    /// An observation and the time from which it holds (`default_at` when
    /// it names none).
    pub(super) fn observation(
        &self,
        app: &str,
        o: ObservationFile,
        default_at: i64,
    ) -> (i64, AppStatus) {
        let at = o.at.map_or(default_at, |t| t.resolve(self.start));
        let status = AppStatus {
            app: app.to_owned(),
            health: o.health,
            health_message: o.health_message,
            sync: o.sync,
            revision: o.revision,
            operation_phase: o.operation_phase,
            operation_message: o.operation_message,
            reconciled_at: Some(o.reconciled_at.map_or(at, |t| t.resolve(self.start))),
            resources: o
                .resources
                .into_iter()
                .map(|r| ResourceHealth {
                    group: r.group,
                    kind: r.kind,
                    namespace: r.namespace,
                    name: r.name,
                    health: r.health,
                    message: r.message,
                    sync: r.sync,
                })
                .collect(),
        };
        (at, status)
    }

    fn merge_requests(&mut self) -> Result<(), Problem> {
        let requests = std::mem::take(&mut self.raw.merge_requests);
        let mut numbers = BTreeMap::new();
        for (i, m) in requests.into_iter().enumerate() {
            if let Some(first) = numbers.insert(m.number, i) {
                return Err(problem(
                    format!("merge_requests[{i}].number"),
                    format!(
                        "merge request !{} is already merge_requests[{first}]",
                        m.number
                    ),
                ));
            }
            let at = |t: Option<TimeSpec>| t.map(|t| t.resolve(self.start));
            let state = m.state.unwrap_or(MergeRequestState::Opened);
            self.world.merge_requests.push(MergeRequestData {
                base: MergeRequest {
                    number: m.number,
                    url: m.url.unwrap_or_else(|| {
                        format!("https://forge.example/env/-/merge_requests/{}", m.number)
                    }),
                    title: m.title,
                    state,
                    source_branch: m.source_branch,
                    target_branch: m.target_branch.unwrap_or_else(|| "main".into()),
                    labels: m.labels,
                    merge_status: m.merge_status.unwrap_or_else(|| "mergeable".into()),
                    merge_commit: None,
                },
                merge_commit: m.merge_commit,
                opened_at: at(m.opened_at).unwrap_or(self.start),
                merged_at: at(m.merged_at),
                closed_at: at(m.closed_at),
            });
        }
        Ok(())
    }

    fn metrics(&mut self) -> Result<(), Problem> {
        let Some(scripts) = self.raw.metrics.take() else {
            return Ok(());
        };
        let mut resolved = BTreeMap::new();
        for (promql, answers) in scripts {
            let mut timeline = Vec::with_capacity(answers.len());
            for (i, answer) in answers.into_iter().enumerate() {
                let field = format!("metrics.{promql:?}[{i}]");
                let at = answer.at.map_or(self.start, |t| t.resolve(self.start));
                timeline.push((at, super::metrics::resolve(&field, answer)?));
            }
            timeline.sort_by_key(|(at, _)| *at);
            resolved.insert(promql.trim().to_owned(), timeline);
        }
        self.world.metrics = Some(resolved);
        Ok(())
    }

    fn step(&self, field: &str, now: i64, step: StepFile) -> Result<Step, Problem> {
        let (event, label) = self.event(&format!("{field}.event"), now, step.event)?;
        let (expect, reasons) = expectation(&format!("{field}.expect"), step.expect)?;
        Ok(Step {
            name: step.name.unwrap_or(label),
            now,
            event,
            expect,
            reasons,
        })
    }
}

/// The step's expectation and the reasons it names.
fn expectation(field: &str, expect: Expect) -> Result<(Expectation, Vec<String>), Problem> {
    let mut detailed = match expect {
        Expect::Nothing => return Ok((Expectation::Nothing, Vec::new())),
        Expect::Detailed(d) => d,
    };
    let reasons = detailed.reasons.take().unwrap_or_default();
    if detailed.error.is_some() && !reasons.is_empty() {
        return Err(problem(
            format!("{field}.reasons"),
            "an error has no reasons: give reasons with actions, contains or excludes",
        ));
    }
    if !reasons.is_empty()
        && detailed.actions.is_none()
        && detailed.contains.is_none()
        && detailed.excludes.is_none()
    {
        return Err(problem(
            format!("{field}.reasons"),
            "give reasons with actions (`actions: []` for a decision without actions), \
             contains or excludes",
        ));
    }
    expected_outcome(field, detailed).map(|e| (e, reasons))
}

/// The outcome part of a detailed expectation (its reasons taken out).
fn expected_outcome(field: &str, detailed: ExpectFile) -> Result<Expectation, Problem> {
    if detailed.excludes.as_ref().is_some_and(Vec::is_empty) {
        return Err(problem(
            format!("{field}.excludes"),
            "list at least one action that must not be decided",
        ));
    }
    match (
        detailed.actions,
        detailed.contains,
        detailed.excludes,
        detailed.error,
    ) {
        (Some(actions), None, None, None) => Ok(Expectation::Actions { actions }),
        (None, contains, excludes, None) if contains.is_some() || excludes.is_some() => {
            Ok(Expectation::Contains {
                actions: contains.unwrap_or_default(),
                excludes: excludes.unwrap_or_default(),
            })
        }
        (None, None, None, Some(error)) => {
            if error.kind.is_none() && error.message.is_none() {
                Err(problem(
                    format!("{field}.error"),
                    "give kind, message or both",
                ))
            } else {
                Ok(Expectation::Error { error })
            }
        }
        _ => Err(problem(
            field,
            "give `nothing`, or exactly one of actions, error, or contains and/or excludes",
        )),
    }
}
