//! The simulated world of a scenario: answers every capability call from the
//! scenario's data as it stands at the step's time. Deployments, observations
//! and merge requests later than that time are not visible yet; unknown
//! stages, revisions, applications and merge requests get the WIT errors the
//! live world gives. Metrics queries are answered from the scripted
//! timeline of their PromQL text, by evaluation time.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::runtime::{
    AppStatus, CapabilityError, Deployment, MergeRequest, MergeRequestState, MetricLabel,
    MetricsError, Point, Sample, Series, TargetVersion, World, WorldError,
};

/// Prometheus refuses range queries with more points per series than this.
const MAX_POINTS: i64 = 11_000;

/// Everything a scenario's policy can read, over time.
#[derive(Debug, Default)]
pub(super) struct WorldData {
    /// Per configured stage: version and history.
    pub(super) stages: Vec<StageData>,
    /// File contents by path, the same at every revision.
    pub(super) files: BTreeMap<String, Vec<u8>>,
    /// Observations per Argo CD application, in time order.
    pub(super) argocd: BTreeMap<String, Vec<(i64, AppStatus)>>,
    /// Merge requests with their timelines.
    pub(super) merge_requests: Vec<MergeRequestData>,
    /// Scripted metrics answers by PromQL text, in time order; `None`: the
    /// scenario has no `metrics:` section.
    pub(super) metrics: Option<BTreeMap<String, Vec<(i64, MetricAnswer)>>>,
}

/// One scripted metrics answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum MetricAnswer {
    /// Series (labels sorted by name) and their values.
    Samples(Vec<(Vec<MetricLabel>, f64)>),
    /// The query fails.
    Error(MetricsError),
}

/// One stage's data in the env repo.
#[derive(Debug)]
pub(super) struct StageData {
    /// Stage name.
    pub(super) name: String,
    /// A fixed current version, if the scenario sets one.
    pub(super) version: Option<String>,
    /// Labels of its targets, in config order (every target holds the
    /// stage's version).
    pub(super) targets: Vec<String>,
    /// Deployments, newest first.
    pub(super) history: Vec<Deployment>,
}

/// A merge request and when its state changes.
#[derive(Debug)]
pub(super) struct MergeRequestData {
    /// The request as reported while in its initial state.
    pub(super) base: MergeRequest,
    /// Merge commit, reported from `merged_at` on.
    pub(super) merge_commit: Option<String>,
    /// Not visible before.
    pub(super) opened_at: i64,
    /// Merged from then on.
    pub(super) merged_at: Option<i64>,
    /// Closed from then on.
    pub(super) closed_at: Option<i64>,
}

impl MergeRequestData {
    /// The request as the forge reports it at `now`, if it exists by then.
    fn at(&self, now: i64) -> Option<MergeRequest> {
        if self.opened_at > now {
            return None;
        }
        let mut mr = self.base.clone();
        if self.merged_at.is_some_and(|t| t <= now) {
            mr.state = MergeRequestState::Merged;
            mr.merge_commit.clone_from(&self.merge_commit);
        } else if self.closed_at.is_some_and(|t| t <= now) {
            mr.state = MergeRequestState::Closed;
        } else if mr.state == MergeRequestState::Merged {
            mr.merge_commit.clone_from(&self.merge_commit);
        }
        Some(mr)
    }
}

impl WorldData {
    /// The stage called `name`.
    pub(super) fn stage(&self, name: &str) -> Option<&StageData> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// Deployments of `stage` visible at `now`, newest first.
    pub(super) fn visible<'a>(
        &'a self,
        stage: &'a StageData,
        now: i64,
    ) -> impl Iterator<Item = &'a Deployment> + 'a {
        stage.history.iter().filter(move |d| d.time <= now)
    }

    /// The newest deployment of `version` to `stage` visible at `now`.
    pub(super) fn deployment_of(
        &self,
        stage: &str,
        version: &str,
        now: i64,
    ) -> Option<&Deployment> {
        let stage = self.stage(stage)?;
        self.visible(stage, now).find(|d| d.to_version == version)
    }

    /// A deployment commit of any stage, visible at `now`, by id.
    pub(super) fn commit(&self, id: &str, now: i64) -> Option<&Deployment> {
        self.stages
            .iter()
            .flat_map(|s| self.visible(s, now))
            .find(|d| d.commit == id)
    }

    /// The latest observation of `app` made at or before `now`.
    pub(super) fn observation(&self, app: &str, now: i64) -> Option<&AppStatus> {
        self.argocd
            .get(app)?
            .iter()
            .rev()
            .find(|(at, _)| *at <= now)
            .map(|(_, status)| status)
    }
}

/// The world of one step: the scenario's data at the step's time.
pub(super) struct ScenarioWorld {
    data: Arc<WorldData>,
    now: i64,
}

impl ScenarioWorld {
    /// The world as it stands at `now`.
    pub(super) fn new(data: Arc<WorldData>, now: i64) -> Self {
        Self { data, now }
    }

    fn stage(&self, name: &str) -> Result<&StageData, WorldError> {
        self.data
            .stage(name)
            .ok_or_else(|| CapabilityError::Invalid(format!("unknown stage {name:?}")).into())
    }

    /// The scripted timeline of `promql`.
    fn timeline(&self, promql: &str) -> Result<&[(i64, MetricAnswer)], WorldError<MetricsError>> {
        let Some(scripts) = &self.data.metrics else {
            return Err(MetricsError::Denied("no metrics: section in the scenario".into()).into());
        };
        scripts
            .get(promql.trim())
            .map(Vec::as_slice)
            .ok_or_else(|| {
                let known: Vec<&str> = scripts.keys().map(String::as_str).collect();
                WorldError::Host(format!(
                    "no scripted answer for metrics query {promql:?} in the scenario's metrics: \
                 section (scripted: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        format!("{known:?}")
                    }
                ))
            })
    }

    /// Checks that `revision` (if any) names a commit that exists by now.
    fn revision(&self, revision: Option<&str>) -> Result<Option<&Deployment>, WorldError> {
        match revision {
            None => Ok(None),
            Some(rev) => {
                self.data.commit(rev, self.now).map(Some).ok_or_else(|| {
                    CapabilityError::Invalid(format!("unknown revision {rev}")).into()
                })
            }
        }
    }
}

impl World for ScenarioWorld {
    fn read_file(&mut self, path: &str, revision: Option<&str>) -> Result<Vec<u8>, WorldError> {
        self.revision(revision)?;
        self.data.files.get(path).cloned().ok_or_else(|| {
            let rev = revision.unwrap_or("the branch tip");
            CapabilityError::NotFound(format!("{path} does not exist at {rev}")).into()
        })
    }

    fn stage_version(&mut self, stage: &str, revision: Option<&str>) -> Result<String, WorldError> {
        let data = self.stage(stage)?;
        let version = match self.revision(revision)? {
            None => data.version.clone().or_else(|| {
                self.data
                    .visible(data, self.now)
                    .next()
                    .map(|d| d.to_version.clone())
            }),
            // The stage's version at a commit: its own deployment there, or
            // the newest of its deployments made no later than that commit.
            Some(at) => data
                .history
                .iter()
                .find(|d| d.commit == at.commit)
                .or_else(|| data.history.iter().find(|d| d.time <= at.time))
                .map(|d| d.to_version.clone()),
        };
        version.ok_or_else(|| {
            let rev = revision.unwrap_or("the branch tip");
            CapabilityError::NotFound(format!("stage {stage} has no version at {rev}")).into()
        })
    }

    fn target_versions(
        &mut self,
        stage: &str,
        revision: Option<&str>,
    ) -> Result<Vec<TargetVersion>, WorldError> {
        let labels = self.stage(stage)?.targets.clone();
        let version = match self.stage_version(stage, revision) {
            Ok(version) => Some(version),
            Err(WorldError::Capability(CapabilityError::NotFound(_))) => None,
            Err(e) => return Err(e),
        };
        let digest = self
            .data
            .stage(stage)
            .and_then(|s| self.data.visible(s, self.now).next())
            .filter(|d| revision.is_none() && Some(&d.to_version) == version.as_ref())
            .and_then(|d| d.digest.clone());
        Ok(labels
            .into_iter()
            .map(|label| TargetVersion {
                label,
                version: version.clone(),
                digest: digest.clone(),
            })
            .collect())
    }

    fn stage_history(&mut self, stage: &str, limit: u32) -> Result<Vec<Deployment>, WorldError> {
        let data = self.stage(stage)?;
        Ok(self
            .data
            .visible(data, self.now)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    fn application_status(&mut self, app: &str) -> Result<AppStatus, WorldError> {
        self.data
            .observation(app, self.now)
            .cloned()
            .ok_or_else(|| {
                CapabilityError::NotFound(format!("application {app:?} not found")).into()
            })
    }

    fn find_open_merge_request(
        &mut self,
        source_branch: &str,
    ) -> Result<Option<MergeRequest>, WorldError> {
        Ok(self
            .data
            .merge_requests
            .iter()
            .filter_map(|m| m.at(self.now))
            .filter(|m| m.source_branch == source_branch && m.state == MergeRequestState::Opened)
            .max_by_key(|m| m.number))
    }

    fn merge_request(&mut self, number: u64) -> Result<MergeRequest, WorldError> {
        self.data
            .merge_requests
            .iter()
            .filter(|m| m.base.number == number)
            .find_map(|m| m.at(self.now))
            .ok_or_else(|| {
                CapabilityError::NotFound(format!("merge request !{number} not found")).into()
            })
    }

    fn now(&mut self) -> Result<i64, WorldError> {
        Ok(self.now)
    }

    fn metrics_query(
        &mut self,
        promql: &str,
        time: Option<i64>,
    ) -> Result<Vec<Sample>, WorldError<MetricsError>> {
        let at = time.unwrap_or(self.now);
        match holding(self.timeline(promql)?, at) {
            None => Ok(Vec::new()),
            Some(MetricAnswer::Error(e)) => Err(e.clone().into()),
            Some(MetricAnswer::Samples(samples)) => Ok(samples
                .iter()
                .map(|(labels, value)| Sample {
                    labels: labels.clone(),
                    time: at,
                    value: *value,
                })
                .collect()),
        }
    }

    fn metrics_query_range(
        &mut self,
        promql: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> Result<Vec<Series>, WorldError<MetricsError>> {
        let timeline = self.timeline(promql)?;
        let bad = |m: &str| Err(MetricsError::BadQuery(m.into()).into());
        let Ok(step) = i64::try_from(step) else {
            return bad("step is too large");
        };
        if step == 0 {
            return bad(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            );
        }
        if end < start {
            return bad("end timestamp must not be before start time");
        }
        if (end - start) / step >= MAX_POINTS {
            return bad(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            );
        }
        let mut series: BTreeMap<Vec<(String, String)>, Series> = BTreeMap::new();
        let mut at = start;
        while at <= end {
            match holding(timeline, at) {
                None => {}
                Some(MetricAnswer::Error(e)) => return Err(e.clone().into()),
                Some(MetricAnswer::Samples(samples)) => {
                    for (labels, value) in samples {
                        let key = labels
                            .iter()
                            .map(|l| (l.name.clone(), l.value.clone()))
                            .collect();
                        series
                            .entry(key)
                            .or_insert_with(|| Series {
                                labels: labels.clone(),
                                points: Vec::new(),
                            })
                            .points
                            .push(Point {
                                time: at,
                                value: *value,
                            });
                    }
                }
            }
            at += step;
        }
        Ok(series.into_values().collect())
    }
}

/// The answer holding at `at`: the latest one from then or earlier.
fn holding(timeline: &[(i64, MetricAnswer)], at: i64) -> Option<&MetricAnswer> {
    timeline
        .iter()
        .rev()
        .find(|(from, _)| *from <= at)
        .map(|(_, answer)| answer)
}

#[cfg(test)]
mod tests;
