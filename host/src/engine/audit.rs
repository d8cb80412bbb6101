//! The audit record: one JSON document per run that says what the policy
//! was (digest, contract version), what it was asked (context and events),
//! what it read (every host call with its answer), what it decided, what
//! Baton did about it (commits, merge requests, gates) and how the run
//! ended. `baton policy replay` re-runs the decisions from it.
//!
//! The format is versioned by [`SCHEMA`]; `schemas/audit-record.v1.json`
//! in the repository is its JSON Schema. Fields may be added within a
//! version, never renamed or removed: who ran it (CI identity), the merge
//! requests it built on (approvers, merger), how each changed stage arrived,
//! and the record's integrity (the chain to the app's previous record and an
//! Ed25519 signature, [`integrity`]) were added that way, all optional, so
//! records written before them still read and validate.

mod heads;
pub mod integrity;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exit::ExitKind;
use crate::runtime::{
    Action, AppStatus, Context, DecideError, Decided, Decision, Event, HostCall, LogEntry,
    PolicyError, TargetStatus,
};

/// The format identifier written into every record.
pub const SCHEMA: &str = "baton.audit-record/v1";

/// One run, as written to disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Unique id of the run; also in commit trailers (`Baton-Run`) and MRs.
    pub run_id: String,
    /// The `baton` version that ran.
    pub baton_version: String,
    /// The command and what it was given.
    pub command: CommandInfo,
    /// When the run started (RFC 3339, UTC, milliseconds).
    pub started_at: String,
    /// When it ended (RFC 3339, UTC, milliseconds).
    pub finished_at: String,
    /// Wall-clock duration.
    pub duration_ms: u64,
    /// Planned only; nothing was written.
    pub dry_run: bool,
    /// The policy that decided.
    pub policy: PolicyInfo,
    /// The configuration file.
    pub config: ConfigInfo,
    /// The env repo.
    pub env_repo: RepoInfo,
    /// The context every decide call of the run received (records of a
    /// 0.1-only host read too).
    #[serde(deserialize_with = "crate::runtime::legacy::context")]
    pub context: Context,
    /// Every decide call, in order.
    pub decisions: Vec<DecisionRecord>,
    /// Every action, with what Baton did about it.
    pub actions: Vec<ActionRecord>,
    /// Every health gate.
    pub gates: Vec<GateRecord>,
    /// How the run ended.
    pub outcome: OutcomeRecord,
    /// The CI job that ran Baton, as its CI system's variables say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<CiInfo>,
    /// The author of Baton's commits in this run (`Name <email>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_author: Option<String>,
    /// How each changed stage reached the branch (`advance`), as checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arrivals: Vec<ArrivalRecord>,
    /// The merged merge requests the run's stage changes came through:
    /// approvers and merger, as the forge reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_requests: Vec<MergedRequest>,
    /// Chain and signature; set when the record is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<integrity::Integrity>,
}

/// The CI job, from the variables GitLab CI or GitHub Actions set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiInfo {
    /// `gitlab` or `github`.
    pub system: String,
    /// `CI_PIPELINE_ID` / `GITHUB_RUN_ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// `CI_JOB_ID` / `GITHUB_JOB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// `CI_JOB_URL` / the workflow run's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Who started it: `GITLAB_USER_LOGIN` / `GITHUB_ACTOR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `CI_PROJECT_PATH` / `GITHUB_REPOSITORY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// `GITHUB_WORKFLOW_REF` (GitHub only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
}

impl CiInfo {
    /// The CI job described by the environment `var` reads, if any.
    pub fn detect(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let var = |k: &str| var(k).filter(|v| !v.is_empty());
        if var("GITLAB_CI").is_some() || var("CI_PIPELINE_ID").is_some() {
            return Some(Self {
                system: "gitlab".into(),
                pipeline: var("CI_PIPELINE_ID"),
                job: var("CI_JOB_ID"),
                url: var("CI_JOB_URL"),
                user: var("GITLAB_USER_LOGIN"),
                project: var("CI_PROJECT_PATH"),
                workflow: None,
            });
        }
        if var("GITHUB_ACTIONS").is_some() || var("GITHUB_RUN_ID").is_some() {
            let url = match (
                var("GITHUB_SERVER_URL"),
                var("GITHUB_REPOSITORY"),
                var("GITHUB_RUN_ID"),
            ) {
                (Some(server), Some(repo), Some(run)) => {
                    Some(format!("{server}/{repo}/actions/runs/{run}"))
                }
                _ => None,
            };
            return Some(Self {
                system: "github".into(),
                pipeline: var("GITHUB_RUN_ID"),
                job: var("GITHUB_JOB"),
                url,
                user: var("GITHUB_ACTOR"),
                project: var("GITHUB_REPOSITORY"),
                workflow: var("GITHUB_WORKFLOW_REF"),
            });
        }
        None
    }
}

/// How one changed stage reached the branch, as `advance` checked it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalRecord {
    /// The stage.
    pub stage: String,
    /// The version it changed to.
    pub version: String,
    /// The first-parent commit on the branch that changed it.
    pub commit: String,
    /// The commit carrying the change (the merged side's Baton commit for a
    /// merge), when it differs from `commit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// The run its `Baton-Run` trailer names, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The merge request the merge commit names, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_request: Option<u64>,
    /// `baton-commit`, `baton-merge-request` or `out-of-band`: what the
    /// policy was told.
    pub origin: String,
    /// Why a change whose trailers claim Baton was judged out of band.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// A merged merge request a stage change of the run came through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedRequest {
    /// The stage it changed.
    pub stage: String,
    /// GitLab iid / GitHub number.
    pub number: u64,
    /// Web URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Who merged it (forge login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_by: Option<String>,
    /// When (RFC 3339, UTC, milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_at: Option<String>,
    /// Who approved it, and when when the forge says.
    pub approvals: Vec<Approval>,
    /// Why the forge could not be asked, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One approval of a merge request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The approver's forge login.
    pub user: String,
    /// When (RFC 3339, UTC, milliseconds), when the forge says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// The command line that started the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandInfo {
    /// `promote`, `advance` or `rollback`.
    pub name: String,
    /// The application.
    pub app: String,
    /// The command's own arguments (`tag`, `since`, `stage`, `to`, ...).
    pub args: serde_json::Map<String, serde_json::Value>,
}

/// Which policy decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInfo {
    /// `builtin:default` or the file path as configured.
    pub source: String,
    /// `sha256:<hex>` of the component bytes.
    pub digest: String,
    /// The contract version the component was built for.
    pub wit_version: String,
    /// The policy's own name (metadata).
    pub name: String,
    /// The policy's own version (metadata).
    pub version: String,
    /// The component file as resolved for this run (absolute); absent for
    /// builtins. Lets `policy replay` find it from any directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
}

/// The configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigInfo {
    /// Path as given.
    pub path: String,
    /// `sha256:<hex>` of its bytes.
    pub digest: String,
}

/// The env repo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoInfo {
    /// Remote URL (never with credentials).
    pub url: String,
    /// Tracked branch.
    pub branch: String,
    /// The branch tip when the run started.
    pub tip_at_start: String,
}

/// One decide call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// 1-based position in the run.
    pub seq: u32,
    /// The event the policy was given (records of a 0.1-only host read too).
    #[serde(deserialize_with = "crate::runtime::legacy::event")]
    pub event: Event,
    /// Capability calls in order, with the host's answers (replay input).
    pub calls: Vec<HostCall>,
    /// The policy's log lines.
    pub logs: Vec<LogEntry>,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Wall-clock time of the call in microseconds.
    pub elapsed_us: u64,
    /// Of `elapsed_us`, the guest's own time (what `limits.deadline`
    /// bounds). Absent from records written before it was recorded.
    #[serde(default)]
    pub guest_us: u64,
    /// Of `elapsed_us`, the time the host spent answering the policy's
    /// capability calls.
    #[serde(default)]
    pub host_us: u64,
    /// What the policy answered.
    pub result: DecisionResult,
}

/// The answer of one decide call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionResult {
    /// A decision.
    Decision(Decision),
    /// The policy returned its own error.
    PolicyError(PolicyError),
    /// A decision too large to record whole (a policy that answered with
    /// megabytes; always refused as invalid): its size and digest, which a
    /// replay compares.
    Oversized {
        /// Number of actions.
        actions: usize,
        /// Size of the decision as JSON.
        bytes: usize,
        /// `sha256:<hex>` of the decision as JSON.
        digest: String,
    },
    /// The call trapped or hit a limit.
    Trap {
        /// Short kind ([`DecideError::kind`]), e.g. `out-of-fuel`,
        /// `memory-limit`, `panic`, `host-call`.
        kind: String,
        /// The full message.
        message: String,
    },
}

impl DecisionResult {
    /// The result as recorded from a decide call.
    pub fn of(result: &Result<Result<Decision, PolicyError>, DecideError>) -> Self {
        match result {
            Ok(Ok(d)) => Self::decision(d),
            Ok(Err(e)) => Self::PolicyError(e.clone()),
            Err(e) => Self::Trap {
                kind: e.kind().to_owned(),
                message: e.to_string(),
            },
        }
    }
}

impl DecisionResult {
    /// Decisions larger than this are recorded as [`Self::Oversized`].
    pub const MAX_RECORDED_BYTES: usize = 256 << 10;

    fn decision(d: &Decision) -> Self {
        let json = serde_json::to_vec(d).unwrap_or_default();
        if json.len() <= Self::MAX_RECORDED_BYTES {
            return Self::Decision(d.clone());
        }
        Self::Oversized {
            actions: d.actions.len(),
            bytes: json.len(),
            digest: crate::runtime::Digest::of(&json).to_string(),
        }
    }
}

impl DecisionRecord {
    /// Records one decide call.
    pub fn new(seq: u32, event: Event, decided: &Decided) -> Self {
        Self {
            seq,
            event,
            calls: decided.calls.clone(),
            logs: decided.logs.clone(),
            fuel_used: decided.fuel_used,
            elapsed_us: micros(decided.elapsed),
            guest_us: micros(decided.guest_time()),
            host_us: micros(decided.host_time),
            result: DecisionResult::of(&decided.result),
        }
    }
}

/// Microseconds, saturating.
fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// What became of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Executed: a commit, a merge request, a gate, a hold or a fail.
    Done,
    /// Nothing to do: the stage already held the version.
    Unchanged,
    /// `--dry-run`: this is what would be done.
    Planned,
    /// Refused by a guardrail or as invalid; nothing of its decision ran.
    Refused,
    /// Tried and failed.
    Failed,
    /// Not reached: an earlier action ended the run.
    Skipped,
}

/// A merge request Baton opened or reused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRequestRef {
    /// GitLab iid / GitHub number.
    pub number: u64,
    /// Web URL.
    pub url: String,
    /// Source branch.
    pub source_branch: String,
    /// An open MR for the same change already existed.
    pub reused: bool,
    /// Merged by Baton (auto-merge that the forge carried out at once).
    pub merged: bool,
    /// Auto-merge armed but not yet carried out: the forge merges the
    /// request once its pipeline or required checks pass.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_merge_armed: bool,
    /// Older open Baton merge requests for the same app and stage that this
    /// one replaced: Baton closed them with a note linking this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<SupersededMr>,
}

/// An open merge request Baton closed because a newer one replaced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupersededMr {
    /// GitLab iid / GitHub number.
    pub number: u64,
    /// Web URL.
    pub url: String,
    /// Source branch (`baton/<app>/<stage>/<version>`).
    pub source_branch: String,
}

/// One action of one decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// The decision it belongs to ([`DecisionRecord::seq`]).
    pub decision: u32,
    /// 1-based position in that decision.
    pub index: u32,
    /// The action as the policy asked for it.
    pub action: Action,
    /// What became of it.
    pub status: ActionStatus,
    /// The version the stage held before (set-version, rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// The commit written (or the branch tip, when unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The branch the commit went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The merge request opened or reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_request: Option<MergeRequestRef>,
    /// A human-readable line: what was (or would be) done, or why not.
    pub detail: String,
    /// Guardrails that did not apply as written, and why (an operator's
    /// explicit target exempt from history checks, a capped wait).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<GuardrailNote>,
}

/// A guardrail that applied differently than as written in `baton.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardrailNote {
    /// The rule, as named in `baton.yaml` (`promotion_order`, ...).
    pub rule: String,
    /// What happened: `exempt`, `capped`.
    pub effect: String,
    /// Why, for people.
    pub detail: String,
}

/// How a gate ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateResult {
    /// The policy decided on an observation.
    Decided,
    /// The wait ran out.
    TimedOut,
    /// Argo CD could not be observed.
    Error,
    /// The run was cancelled while waiting.
    Cancelled,
}

/// One health gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateRecord {
    /// The decision whose await-health started it.
    pub decision: u32,
    /// The stage.
    pub stage: String,
    /// The Argo CD application watched.
    pub argocd_app: String,
    /// The version waited for.
    pub version: String,
    /// The commit the application had to be synced to (or contain).
    pub commit: String,
    /// The wait actually allowed: the policy's timeout capped by the guardrail.
    pub timeout_ms: u64,
    /// The policy's timeout, when the guardrail capped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_timeout_ms: Option<u64>,
    /// How it ended.
    pub result: GateResult,
    /// Time waited.
    pub elapsed_ms: u64,
    /// Observations at the right revision passed to the policy.
    pub observations: u32,
    /// The last of those, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<AppStatus>,
    /// Every target of the stage with its application's latest counted
    /// observation (`None` when none counted); absent in records written
    /// before stages had targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetStatus>,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The policy's actions ran and nothing more was asked.
    Done,
    /// The policy held (waiting for a merge, a window, ...).
    Held,
    /// `--dry-run`: planned only.
    Planned,
    /// The promotion failed (gate failed, rolled back, policy said fail).
    Failed,
    /// The configuration or the command was unusable.
    UsageError,
    /// The policy trapped, hit a limit, erred or decided something invalid.
    PolicyError,
    /// Git, Argo CD or the forge failed after retries.
    ExternalError,
    /// A guardrail refused an action.
    Refused,
    /// Cancelled (SIGTERM / Ctrl-C); re-running converges.
    Cancelled,
}

impl Status {
    /// The documented exit code class of a run that ended so.
    pub fn exit_kind(self) -> ExitKind {
        match self {
            Self::Done | Self::Held | Self::Planned => ExitKind::Success,
            Self::Failed | Self::Cancelled => ExitKind::Failed,
            Self::UsageError => ExitKind::Usage,
            Self::PolicyError => ExitKind::Policy,
            Self::ExternalError => ExitKind::External,
            Self::Refused => ExitKind::Guardrail,
        }
    }
}

/// The end of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    /// The class of the ending.
    pub status: Status,
    /// The process exit code it maps to.
    pub exit_code: u8,
    /// A sentence for people: the policy's hold or fail reason, or the error.
    pub message: String,
    /// A rollback was executed during the run.
    pub rolled_back: bool,
}

/// Writing the record failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the audit record {path}")]
pub struct WriteRecordError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

impl AuditRecord {
    /// Writes the record as pretty JSON, creating parent directories; the
    /// file appears complete or not at all (written aside, then renamed).
    /// The record is chained to the app's newest record in the same
    /// directory, unsigned (see [`AuditRecord::write_sealed`]).
    pub fn write(&self, path: &Path) -> Result<(), WriteRecordError> {
        self.write_sealed(path, None)
    }

    /// Like [`AuditRecord::write`], signed with `signer` when given. Tokens
    /// are redacted before the record is chained and signed, so the
    /// signature covers exactly the bytes on disk.
    pub fn write_sealed(
        &self,
        path: &Path,
        signer: Option<&integrity::Signer>,
    ) -> Result<(), WriteRecordError> {
        let err = |source| WriteRecordError {
            path: path.to_path_buf(),
            source,
        };
        let invalid =
            |e: serde_json::Error| err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let json = serde_json::to_string(self).map_err(invalid)?;
        // A remote system may have echoed a token into an error message.
        let mut value: serde_json::Value =
            serde_json::from_str(&crate::secret::redact_all(&json)).map_err(invalid)?;
        // Held until the record is in place: a run writing to the same
        // directory meanwhile chains to this record, not past it.
        let mut heads = heads::Heads::lock(dir);
        let previous = heads.previous(&self.command.app);
        integrity::seal(&mut value, previous, signer);
        let json = serde_json::to_string_pretty(&value).map_err(invalid)?;
        let tmp = path.with_extension("json.partial");
        std::fs::write(&tmp, format!("{json}\n")).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)?;
        if let Some(file) = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| n.ends_with(".json"))
        {
            heads.advance(&value, file);
        }
        Ok(())
    }

    /// Reads a record, checking its schema identifier.
    pub fn read(path: &Path) -> Result<Self, ReadRecordError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReadRecordError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ReadRecordError::Invalid {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        let schema = value.get("schema").and_then(|s| s.as_str()).unwrap_or("");
        if schema != SCHEMA {
            return Err(ReadRecordError::Schema {
                path: path.to_path_buf(),
                found: schema.to_owned(),
            });
        }
        serde_json::from_value(value).map_err(|e| ReadRecordError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// Reading a record failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadRecordError {
    /// The file cannot be read.
    #[error("cannot read audit record {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not JSON, or not the shape of a record.
    #[error("{path} is not a valid audit record: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another format or version.
    #[error("{path}: unsupported audit record schema {found:?} (this baton reads {SCHEMA:?})")]
    Schema {
        /// The file.
        path: PathBuf,
        /// The `schema` field found.
        found: String,
    },
}
