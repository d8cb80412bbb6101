//! The engine's shared vocabulary: the [`Engine`] a run executes with, the
//! systems it talks to, why a run stops ([`Stop`]), and what a run
//! accumulates ([`RunState`]). The run loop, the executor, the triggers and
//! the gate all build on these and not on each other.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::audit::{
    ActionRecord, ActionStatus, ArrivalRecord, ConfigInfo, DecisionRecord, GateRecord,
    MergedRequest, PolicyInfo, Status,
};
use super::guardrails::{DecisionLimits, Exemption};
use super::repo::SharedRepo;
use crate::capabilities::argocd::ArgoCdClient;
use crate::capabilities::forge::Forge;
use crate::capabilities::forge::content::{CiEnv, TitleTemplates};
use crate::capabilities::git::CommitSettings;
use crate::capabilities::metrics::PrometheusClient;
use crate::config::{Guardrails, StageConfig};
use crate::report::error_chain;
use crate::runtime::{Action, Context, LoadedPolicy};

/// Where gate progress lines go.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// The clock policies read: milliseconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The outside systems of a run, opened from `baton.yaml`.
pub struct Systems {
    /// The env repo cache (fetched when opened).
    pub repo: SharedRepo,
    /// Argo CD, when configured.
    pub argocd: Option<Arc<ArgoCdClient>>,
    /// The forge, when configured.
    pub forge: Option<Arc<dyn Forge>>,
    /// The metrics server, when configured.
    pub metrics: Option<Arc<PrometheusClient>>,
}

/// How a run behaves, beyond what `baton.yaml` says.
pub struct RunOptions {
    /// Plan only: decide on the real state, write nothing.
    pub dry_run: bool,
    /// The clock policies read.
    pub clock: Clock,
    /// Minimum interval between gate progress lines.
    pub progress_every: Duration,
    /// Gate progress lines.
    pub progress: Progress,
    /// Flips to `true` when the run must stop (SIGTERM, Ctrl-C).
    pub cancel: watch::Receiver<bool>,
}

/// Everything a run needs, resolved from `baton.yaml` and the command line
/// (see [`Engine::new`]).
pub struct Engine {
    pub(super) app: String,
    pub(super) stages: Vec<StageConfig>,
    pub(super) context: Context,
    pub(super) policy: Arc<LoadedPolicy>,
    pub(super) policy_info: PolicyInfo,
    pub(super) config_info: ConfigInfo,
    pub(super) guardrails: Guardrails,
    pub(super) limits: DecisionLimits,
    pub(super) systems: Systems,
    pub(super) commit: CommitSettings,
    pub(super) titles: TitleTemplates,
    pub(super) ci: CiEnv,
    pub(super) options: RunOptions,
    /// `audit.records`: where every Baton change's run record must be.
    pub(super) audit_records: Option<std::path::PathBuf>,
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stop {
    /// The policy said fail.
    Failed(String),
    /// Anything else that ends the run: its status and message.
    Error(Status, String),
}

impl Stop {
    pub(super) fn usage(message: impl Into<String>) -> Self {
        Self::Error(Status::UsageError, message.into())
    }
    pub(super) fn policy(message: impl Into<String>) -> Self {
        Self::Error(Status::PolicyError, message.into())
    }
    pub(super) fn external(message: impl Into<String>) -> Self {
        Self::Error(Status::ExternalError, message.into())
    }
    /// Ends the run with `status`, saying `error` and its causes.
    pub(super) fn caused(status: Status, error: &dyn std::error::Error) -> Self {
        Self::Error(status, error_chain(error))
    }
    /// The sentence for people.
    pub(super) fn message(&self) -> &str {
        match self {
            Self::Failed(m) | Self::Error(_, m) => m,
        }
    }
}

/// A commit this run pushed for a stage.
#[derive(Debug, Clone)]
pub(super) struct Pushed {
    pub version: String,
    pub commit: String,
    /// When the write began (not when the push returned): no reconcile of
    /// the commit can come before it.
    pub at: SystemTime,
}

/// What a run accumulates.
#[derive(Default)]
pub(super) struct RunState {
    pub decisions: Vec<DecisionRecord>,
    pub actions: Vec<ActionRecord>,
    pub gates: Vec<GateRecord>,
    pub pushed: HashMap<String, Pushed>,
    pub rolled_back: bool,
    /// `baton rollback --stage S --to V`: the operator's explicit target.
    pub operator_target: Option<(String, String)>,
    /// Guardrail exemptions applied, by decision seq.
    pub exemptions: Vec<(u32, Exemption)>,
    /// The systems were checked before the first write.
    pub preflighted: bool,
    /// How each changed stage arrived (`advance`).
    pub arrivals: Vec<ArrivalRecord>,
    /// The merged merge requests those changes came through.
    pub merge_requests: Vec<MergedRequest>,
}

/// Where an action sits: decision seq and 1-based index.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub decision: u32,
    pub index: u32,
}

impl Slot {
    /// The slot of the `i`-th (0-based) action of decision `decision`.
    pub(super) fn of(decision: u32, i: usize) -> Self {
        Self {
            decision,
            index: u32::try_from(i + 1).unwrap_or(u32::MAX),
        }
    }

    /// A record of `action` in this slot, without write results.
    pub(super) fn record(
        self,
        action: &Action,
        status: ActionStatus,
        detail: String,
    ) -> ActionRecord {
        ActionRecord {
            decision: self.decision,
            index: self.index,
            action: super::guardrails::bounded(action),
            status,
            previous: None,
            commit: None,
            branch: None,
            merge_request: None,
            detail,
            guardrails: Vec::new(),
        }
    }
}

impl RunState {
    /// Records `action` in `slot` as `status`.
    pub(super) fn record(
        &mut self,
        slot: Slot,
        action: &Action,
        status: ActionStatus,
        detail: String,
    ) {
        self.actions.push(slot.record(action, status, detail));
    }
}

impl Engine {
    /// The application this engine runs for.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// Whether this run only plans.
    pub fn dry_run(&self) -> bool {
        self.options.dry_run
    }

    /// The fetched tip of the tracked branch.
    pub(super) fn tip(&self) -> Result<String, Stop> {
        self.systems.repo.with(|repo| {
            let branch = repo.branch().to_owned();
            repo.resolve(&branch)
                .map(|id| id.to_string())
                .map_err(|e| Stop::caused(Status::ExternalError, &e))
        })
    }

    /// The configured stage called `name`.
    pub(super) fn stage(&self, name: &str) -> Result<&StageConfig, Stop> {
        self.stages.iter().find(|s| s.name == name).ok_or_else(|| {
            Stop::usage(format!(
                "app {} has no stage {name:?} (stages: {})",
                self.app,
                self.stages
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

/// Milliseconds, saturating.
pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `90s`, `10m`, `1h30m`.
pub(super) fn human_ms(ms: u128) -> String {
    let secs = ms / 1000;
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) if secs > 0 || ms.is_multiple_of(1000) => format!("{s}s"),
        (0, 0, _) => format!("{ms}ms"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// `https://user:pass@host/x` -> `https://host/x`.
pub(super) fn strip_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_config() {
        assert_eq!(human_ms(90_000), "1m30s");
        assert_eq!(human_ms(600_000), "10m");
        assert_eq!(human_ms(5_400_000), "1h30m");
        assert_eq!(human_ms(2_000), "2s");
        assert_eq!(human_ms(250), "250ms");
    }

    #[test]
    fn credentials_never_reach_the_record() {
        assert_eq!(
            strip_credentials("https://oauth2:glpat-xyz@gitlab.example.com/acme/env.git"),
            "https://gitlab.example.com/acme/env.git"
        );
        assert_eq!(strip_credentials("/srv/env.git"), "/srv/env.git");
    }
}
