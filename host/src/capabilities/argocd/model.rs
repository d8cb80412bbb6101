//! The typed view of an Argo CD `Application` that Baton reasons about
//! ([`AppStatus`]), parsed from the JSON the API serves. Independent of the
//! WIT types: the host maps it onto the policy contract.

use std::fmt;
use std::time::SystemTime;

use serde::Deserialize;

use crate::time::parse_rfc3339;

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* #[doc = concat!("`", stringify!($variant), "`")] $variant,)+
            /// A value this version of Baton does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// Parses the wire value; unknown values are kept in `Other`.
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $(stringify!($variant) => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => stringify!($variant),)+
                    Self::Other(s) => s,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Health of an application or a resource (gitops-engine `health.go`).
    HealthStatus { Healthy, Progressing, Degraded, Suspended, Missing, Unknown }
);
wire_enum!(
    /// Sync status of an application.
    SyncStatus { Synced, OutOfSync, Unknown }
);
wire_enum!(
    /// Phase of the application's current or last operation.
    OperationPhase { Running, Terminating, Failed, Error, Succeeded }
);

/// Health status plus the controller's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// `status.health.status` (or a resource's `health.status`).
    pub status: HealthStatus,
    /// `health.message`, when set (e.g. `CanaryPauseStep`).
    pub message: Option<String>,
}

/// `status.sync`: whether live state matches git, and at which revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    /// `status.sync.status`.
    pub status: SyncStatus,
    /// `status.sync.revision` (single-source applications).
    pub revision: Option<String>,
    /// `status.sync.revisions[]` (multi-source applications).
    pub revisions: Vec<String>,
}

/// `status.operationState`: the current or last sync operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationSummary {
    /// `phase`.
    pub phase: OperationPhase,
    /// `message`.
    pub message: Option<String>,
    /// `startedAt`.
    pub started_at: Option<SystemTime>,
    /// `finishedAt`.
    pub finished_at: Option<SystemTime>,
    /// `syncResult.revision`, else `operation.sync.revision`.
    pub revision: Option<String>,
}

/// One entry of `status.resources[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceHealth {
    /// API group (`""` for core, `argoproj.io` for a Rollout).
    pub group: String,
    /// Kind, e.g. `Deployment`, `Rollout`.
    pub kind: String,
    /// Namespace, empty for cluster-scoped resources.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Per-resource sync status.
    pub sync: Option<SyncStatus>,
    /// Per-resource health, absent for resources without a health check.
    pub health: Option<Health>,
}

/// One entry of `status.history[]`: a past deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// History id (used by rollback).
    pub id: i64,
    /// Revision deployed (single source).
    pub revision: Option<String>,
    /// Revisions deployed (multi-source).
    pub revisions: Vec<String>,
    /// `deployedAt`.
    pub deployed_at: Option<SystemTime>,
    /// `deployStartedAt`.
    pub deploy_started_at: Option<SystemTime>,
}

/// What Baton observes about one application at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppStatus {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (the Argo CD control-plane namespace).
    pub namespace: Option<String>,
    /// `spec.project`.
    pub project: Option<String>,
    /// `status.health`.
    pub health: Health,
    /// `status.sync`.
    pub sync: SyncState,
    /// `status.operationState`, if any operation ever ran.
    pub operation: Option<OperationSummary>,
    /// `status.reconciledAt`: when the controller last compared live and git.
    pub reconciled_at: Option<SystemTime>,
    /// `status.resources[]`.
    pub resources: Vec<ResourceHealth>,
    /// `status.history[]`, oldest first as the API serves it.
    pub history: Vec<HistoryEntry>,
}

impl AppStatus {
    /// Parses an `Application` JSON document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice::<RawApplication>(bytes).map(Self::from)
    }

    /// Parses an already decoded `Application` value.
    pub fn from_value(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value::<RawApplication>(value).map(Self::from)
    }

    /// Every revision the application reports being synced to: `revision`
    /// and, for multi-source applications, each of `revisions[]`.
    pub fn sync_revisions(&self) -> impl Iterator<Item = &str> {
        self.sync
            .revision
            .as_deref()
            .into_iter()
            .chain(self.sync.revisions.iter().map(String::as_str))
            .filter(|r| !r.is_empty())
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawApplication {
    metadata: RawMeta,
    spec: RawSpec,
    status: RawStatus,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawMeta {
    name: String,
    namespace: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawSpec {
    project: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawStatus {
    health: RawHealth,
    sync: RawSync,
    operation_state: Option<RawOperationState>,
    reconciled_at: Option<String>,
    resources: Vec<RawResource>,
    history: Vec<RawHistory>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawHealth {
    status: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawSync {
    status: Option<String>,
    revision: Option<String>,
    revisions: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawOperationState {
    phase: Option<String>,
    message: Option<String>,
    started_at: Option<String>,
    finished_at: Option<String>,
    operation: Option<RawOperation>,
    sync_result: Option<RawRevisionOnly>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawOperation {
    sync: Option<RawRevisionOnly>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRevisionOnly {
    revision: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawResource {
    group: String,
    kind: String,
    namespace: String,
    name: String,
    status: Option<String>,
    health: Option<RawHealth>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawHistory {
    id: i64,
    revision: Option<String>,
    revisions: Vec<String>,
    deployed_at: Option<String>,
    deploy_started_at: Option<String>,
}

fn time(s: Option<String>) -> Option<SystemTime> {
    s.as_deref().and_then(parse_rfc3339)
}

impl From<RawHealth> for Health {
    fn from(h: RawHealth) -> Self {
        Health {
            status: HealthStatus::from_wire(h.status.as_deref().unwrap_or("Unknown")),
            message: h.message.filter(|m| !m.is_empty()),
        }
    }
}

impl From<RawApplication> for AppStatus {
    fn from(raw: RawApplication) -> Self {
        let s = raw.status;
        AppStatus {
            name: raw.metadata.name,
            namespace: raw.metadata.namespace,
            project: raw.spec.project,
            health: s.health.into(),
            sync: SyncState {
                status: SyncStatus::from_wire(s.sync.status.as_deref().unwrap_or("Unknown")),
                revision: s.sync.revision,
                revisions: s.sync.revisions,
            },
            operation: s.operation_state.map(|o| OperationSummary {
                phase: OperationPhase::from_wire(o.phase.as_deref().unwrap_or("")),
                message: o.message.filter(|m| !m.is_empty()),
                started_at: time(o.started_at),
                finished_at: time(o.finished_at),
                revision: o
                    .sync_result
                    .and_then(|r| r.revision)
                    .or_else(|| o.operation.and_then(|op| op.sync).and_then(|s| s.revision)),
            }),
            reconciled_at: time(s.reconciled_at),
            resources: s
                .resources
                .into_iter()
                .map(|r| ResourceHealth {
                    group: r.group,
                    kind: r.kind,
                    namespace: r.namespace,
                    name: r.name,
                    sync: r.status.as_deref().map(SyncStatus::from_wire),
                    health: r.health.map(Health::from),
                })
                .collect(),
            history: s
                .history
                .into_iter()
                .map(|h| HistoryEntry {
                    id: h.id,
                    revision: h.revision,
                    revisions: h.revisions,
                    deployed_at: time(h.deployed_at),
                    deploy_started_at: time(h.deploy_started_at),
                })
                .collect(),
        }
    }
}
