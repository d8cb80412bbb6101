//! The raw serde form of a scenario file, read straight from YAML so an
//! error names the field path, line and column. Checks that need the whole
//! file (stages exist, one event per step, defaults taken from the history)
//! happen in the resolving step, [`super::resolve`].

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor, value::MapAccessDeserializer};
use serde::{Deserialize, Serialize};

use super::super::context::ContextFile;
use super::time::{DurationSpec, TimeSpec};
use crate::runtime::{ChangeOrigin, HealthStatus, MergeRequestState, OperationPhase, SyncStatus};

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioFile {
    /// Shown in reports; defaults to the file name.
    #[serde(default)]
    pub(super) name: Option<String>,
    /// What the scenario shows, for people.
    #[serde(default)]
    #[allow(dead_code, reason = "documentation for people reading the file")]
    pub(super) description: Option<String>,
    /// The context handed to every decide call (as in `policy eval --context`).
    pub(super) context: ContextFile,
    /// When the scenario starts.
    #[serde(default)]
    pub(super) clock: ClockFile,
    /// Stage versions, deployment history and files.
    #[serde(default)]
    pub(super) env_repo: EnvRepoFile,
    /// Observations over time per Argo CD application.
    #[serde(default)]
    pub(super) argocd: std::collections::BTreeMap<String, Vec<ObservationFile>>,
    /// Merge requests and their states.
    #[serde(default)]
    pub(super) merge_requests: Vec<MergeRequestFile>,
    /// Scripted answers of metrics queries, by PromQL text; absent: every
    /// query is denied, as with no `metrics:` in `baton.yaml`.
    #[serde(default)]
    pub(super) metrics:
        Option<std::collections::BTreeMap<String, Vec<super::metrics::MetricAnswerFile>>>,
    /// Events and the decisions they must produce, in time order.
    pub(super) steps: Vec<StepFile>,
}

/// The scenario clock.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClockFile {
    /// Absolute start time (RFC 3339); every offset counts from it.
    #[serde(default)]
    pub(super) start: Option<TimeSpec>,
}

/// The env repo as the policy can read it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EnvRepoFile {
    /// Per stage name: version and deployment history.
    #[serde(default)]
    pub(super) stages: std::collections::BTreeMap<String, StageRepoFile>,
    /// File contents by path (the same at every revision).
    #[serde(default)]
    pub(super) files: std::collections::BTreeMap<String, String>,
}

/// One stage's state in the env repo.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StageRepoFile {
    /// The current version; defaults to the newest deployment visible at
    /// each step's time.
    #[serde(default)]
    pub(super) version: Option<String>,
    /// Deployments, newest first.
    #[serde(default)]
    pub(super) history: Vec<DeploymentFile>,
}

/// One commit that changed a stage's version.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeploymentFile {
    /// Commit id; defaults to `<stage>-<n>`, n counting from the oldest.
    #[serde(default)]
    pub(super) commit: Option<String>,
    /// Commit time; defaults to the clock start. Invisible before it.
    #[serde(default)]
    pub(super) time: Option<TimeSpec>,
    /// `Name <email>`.
    #[serde(default)]
    pub(super) author: Option<String>,
    /// Version before; defaults to the next older deployment's version.
    #[serde(default)]
    pub(super) from_version: Option<String>,
    /// Version after.
    pub(super) to_version: String,
    /// Subject line; defaults to `<stage>(<app>): <version>`.
    #[serde(default)]
    pub(super) subject: Option<String>,
    /// Trailers in order, e.g. `Baton-Rollback-Of: v1.2.3`.
    #[serde(default)]
    pub(super) trailers: Trailers,
    /// The image digest the commit set.
    #[serde(default)]
    pub(super) digest: Option<String>,
    /// How the change arrived; default `baton-merge-request` when
    /// `merge_request` is given, else `baton-commit`.
    #[serde(default)]
    pub(super) origin: Option<OriginFile>,
    /// The merge request that brought the change.
    #[serde(default)]
    pub(super) merge_request: Option<u64>,
}

/// A WIT `change-origin`, spelled as in the WIT.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum OriginFile {
    BatonCommit,
    BatonMergeRequest,
    OutOfBand,
}

impl From<OriginFile> for ChangeOrigin {
    fn from(o: OriginFile) -> Self {
        match o {
            OriginFile::BatonCommit => Self::BatonCommit,
            OriginFile::BatonMergeRequest => Self::BatonMergeRequest,
            OriginFile::OutOfBand => Self::OutOfBand,
        }
    }
}

/// Commit trailers written as a mapping, kept in file order.
#[derive(Debug, Default)]
pub(super) struct Trailers(pub(super) Vec<(String, String)>);

impl<'de> Deserialize<'de> for Trailers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TrailerVisitor;
        impl<'de> Visitor<'de> for TrailerVisitor {
            type Value = Trailers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of trailer keys to values, e.g. Baton-Rollback-Of: v1.2.3")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Trailers, A::Error> {
                let mut trailers = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    trailers.push((key, value));
                }
                Ok(Trailers(trailers))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Trailers, E> {
                Ok(Trailers::default())
            }
        }
        deserializer.deserialize_any(TrailerVisitor)
    }
}

/// One Argo CD observation of an application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ObservationFile {
    /// From when this observation holds (until the next one); default: start.
    #[serde(default)]
    pub(super) at: Option<TimeSpec>,
    /// Aggregated health: Healthy, Progressing, Degraded, Suspended, Missing, Unknown.
    pub(super) health: HealthStatus,
    /// Aggregated health message.
    #[serde(default)]
    pub(super) health_message: Option<String>,
    /// Synced, OutOfSync or Unknown; default Synced.
    #[serde(default = "synced")]
    pub(super) sync: SyncStatus,
    /// `status.sync.revision`.
    #[serde(default)]
    pub(super) revision: Option<String>,
    /// Running, Terminating, Failed, Error or Succeeded.
    #[serde(default)]
    pub(super) operation_phase: Option<OperationPhase>,
    /// Message of the operation.
    #[serde(default)]
    pub(super) operation_message: Option<String>,
    /// `status.reconciledAt`; defaults to the observation's time.
    #[serde(default)]
    pub(super) reconciled_at: Option<TimeSpec>,
    /// Per-resource health.
    #[serde(default)]
    pub(super) resources: Vec<ResourceFile>,
}

/// Health of one resource of an application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResourceFile {
    #[serde(default)]
    pub(super) group: String,
    pub(super) kind: String,
    #[serde(default)]
    pub(super) namespace: String,
    pub(super) name: String,
    #[serde(default)]
    pub(super) health: Option<HealthStatus>,
    #[serde(default)]
    pub(super) message: Option<String>,
    #[serde(default = "synced")]
    pub(super) sync: SyncStatus,
}

fn synced() -> SyncStatus {
    SyncStatus::Synced
}

/// A merge request and how its state changes over time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MergeRequestFile {
    pub(super) number: u64,
    #[serde(default)]
    pub(super) url: Option<String>,
    #[serde(default)]
    pub(super) title: String,
    pub(super) source_branch: String,
    #[serde(default)]
    pub(super) target_branch: Option<String>,
    #[serde(default)]
    pub(super) labels: Vec<String>,
    /// State from `opened_at` on: Opened (default), Closed, Merged, Locked.
    #[serde(default)]
    pub(super) state: Option<MergeRequestState>,
    #[serde(default)]
    pub(super) merge_status: Option<String>,
    /// Merge commit, reported once the MR is merged.
    #[serde(default)]
    pub(super) merge_commit: Option<String>,
    /// Invisible before this time; default: start.
    #[serde(default)]
    pub(super) opened_at: Option<TimeSpec>,
    /// Merged from this time on.
    #[serde(default)]
    pub(super) merged_at: Option<TimeSpec>,
    /// Closed from this time on.
    #[serde(default)]
    pub(super) closed_at: Option<TimeSpec>,
}

/// One event and the decision it must produce.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepFile {
    /// Case name in reports.
    #[serde(default)]
    pub(super) name: Option<String>,
    /// Offset from the clock start; default: the previous step's time.
    #[serde(default)]
    pub(super) at: Option<TimeSpec>,
    pub(super) event: EventFile,
    pub(super) expect: Expect,
}

/// The event of a step: exactly one key, named like the WIT `event` variant.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct EventFile {
    #[serde(default)]
    pub(super) new_version: Option<NewVersionFile>,
    #[serde(default)]
    pub(super) stage_changed: Option<StageChangedFile>,
    #[serde(default)]
    pub(super) health_observed: Option<HealthObservedFile>,
    #[serde(default)]
    pub(super) gate_timeout: Option<GateTimeoutFile>,
    #[serde(default)]
    pub(super) rollback_requested: Option<RollbackRequestedFile>,
    #[serde(default)]
    pub(super) reconcile: Option<ReconcileFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewVersionFile {
    pub(super) version: String,
    #[serde(default)]
    pub(super) digest: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StageChangedFile {
    pub(super) stage: String,
    /// Defaults to the deployment's `from_version`.
    #[serde(default)]
    pub(super) from_version: Option<String>,
    pub(super) to_version: String,
    /// Defaults to the newest visible deployment of `to_version`.
    #[serde(default)]
    pub(super) commit: Option<String>,
    /// Defaults to whether that deployment has a `Baton-Rollback-Of` trailer.
    #[serde(default)]
    pub(super) is_rollback: Option<bool>,
    /// Defaults to that deployment's digest.
    #[serde(default)]
    pub(super) digest: Option<String>,
    /// Defaults to that deployment's origin (`baton-commit` without one).
    #[serde(default)]
    pub(super) origin: Option<OriginFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HealthObservedFile {
    pub(super) stage: String,
    pub(super) version: String,
    /// Defaults to the newest visible deployment of `version`.
    #[serde(default)]
    pub(super) commit: Option<String>,
    /// Defaults to the time since that commit.
    #[serde(default)]
    pub(super) elapsed: Option<DurationSpec>,
    /// The label of the target whose observation this is (a stage with
    /// several targets); defaults to the first target.
    #[serde(default)]
    pub(super) target: Option<String>,
    pub(super) status: StatusRef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GateTimeoutFile {
    pub(super) stage: String,
    pub(super) version: String,
    #[serde(default)]
    pub(super) commit: Option<String>,
    #[serde(default)]
    pub(super) elapsed: Option<DurationSpec>,
    /// `argocd`, an observation, or absent (none).
    #[serde(default)]
    pub(super) last_status: Option<StatusRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReconcileFile {
    pub(super) stage: String,
    /// Defaults to the stage's version at the step's time.
    #[serde(default)]
    pub(super) version: Option<String>,
    /// Defaults to the newest visible deployment's digest.
    #[serde(default)]
    pub(super) digest: Option<String>,
    /// Defaults to the newest visible deployment's commit.
    #[serde(default)]
    pub(super) commit: Option<String>,
    /// Defaults to the newest visible deployment's origin.
    #[serde(default)]
    pub(super) origin: Option<OriginFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RollbackRequestedFile {
    pub(super) stage: String,
    #[serde(default)]
    pub(super) to_version: Option<String>,
    #[serde(default)]
    pub(super) reason: Option<String>,
}

/// An application status: `argocd` (the observation of the stage's Argo CD
/// application at the step's time) or one written out.
#[derive(Debug)]
pub(super) enum StatusRef {
    /// Look it up in the `argocd` section.
    Argocd,
    /// Written in the step.
    Inline(Box<ObservationFile>),
}

impl<'de> Deserialize<'de> for StatusRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatusVisitor;
        impl<'de> Visitor<'de> for StatusVisitor {
            type Value = StatusRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`argocd` or an observation mapping (health, sync, revision, ...)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusRef, E> {
                if v == "argocd" {
                    Ok(StatusRef::Argocd)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StatusRef, A::Error> {
                ObservationFile::deserialize(MapAccessDeserializer::new(map))
                    .map(|o| StatusRef::Inline(Box::new(o)))
            }
        }
        deserializer.deserialize_any(StatusVisitor)
    }
}

/// What a step must produce.
#[derive(Debug)]
pub(super) enum Expect {
    /// `nothing`: an empty decision (keep waiting).
    Nothing,
    /// A mapping with `actions`, `error`, or `contains` and/or `excludes`.
    Detailed(ExpectFile),
}

/// The mapping form of an expectation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExpectFile {
    /// Exactly these actions, in order, in the compact form.
    #[serde(default)]
    pub(super) actions: Option<Vec<String>>,
    /// At least these actions, in this order.
    #[serde(default)]
    pub(super) contains: Option<Vec<String>>,
    /// None of these actions (alone, or with `contains`).
    #[serde(default)]
    pub(super) excludes: Option<Vec<String>>,
    /// A policy error or trap.
    #[serde(default)]
    pub(super) error: Option<ErrorFile>,
    /// With actions, contains or excludes: each pattern matches one of the
    /// decision's reasons (`*` any text).
    #[serde(default)]
    pub(super) reasons: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExpectVisitor;
        impl<'de> Visitor<'de> for ExpectVisitor {
            type Value = Expect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "`nothing` or a mapping with actions, error, or contains and/or excludes \
                     (and reasons)",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Expect, E> {
                if v == "nothing" {
                    Ok(Expect::Nothing)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Expect, A::Error> {
                ExpectFile::deserialize(MapAccessDeserializer::new(map)).map(Expect::Detailed)
            }
        }
        deserializer.deserialize_any(ExpectVisitor)
    }
}

/// An expected error: its kind, a message substring, or both.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorFile {
    /// `invalid-settings`, `invalid-event`, `capability`, `other` (the WIT
    /// `policy-error` variants) or `trap`.
    #[serde(default)]
    pub kind: Option<ErrorKind>,
    /// Text the error's message must contain.
    #[serde(default)]
    pub message: Option<String>,
}

/// Kinds of expected errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// `policy-error::invalid-settings`.
    InvalidSettings,
    /// `policy-error::invalid-event`.
    InvalidEvent,
    /// `policy-error::capability`.
    Capability,
    /// `policy-error::other`.
    Other,
    /// The call trapped (panic, limit, host-call failure).
    Trap,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidSettings => "invalid-settings",
            Self::InvalidEvent => "invalid-event",
            Self::Capability => "capability",
            Self::Other => "other",
            Self::Trap => "trap",
        })
    }
}
