//! The simulator's configuration: plain data, deserializable from the YAML
//! given to `baton sim argocd --scenario FILE`. Its JSON Schema (`baton sim
//! argocd --scenario-schema`) is derived from these types; `repo` and
//! `token` come from the command line, so the schema leaves them out.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

/// Everything the simulator needs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// The git repository (bare or not) the applications track.
    #[schemars(skip)]
    pub repo: PathBuf,
    /// Branch the applications track (`targetRevision`).
    #[serde(default = "default_branch")]
    pub branch: String,
    /// How often the branch is checked for new commits, in milliseconds.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// Bearer token every request must carry; no authentication when absent.
    /// Like the real server, only tokens with three dot-separated parts are
    /// considered at all.
    #[serde(default)]
    #[schemars(skip)]
    pub token: Option<String>,
    /// Argo CD control-plane namespace (`metadata.namespace` of every app).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Interval of `:` keepalive lines on `text/event-stream` watches, in ms.
    #[serde(default = "default_keepalive_ms")]
    pub sse_keepalive_ms: u64,
    /// The applications served.
    #[serde(default)]
    pub apps: Vec<SimApp>,
    /// Faults injected from the start (more can be injected at run time).
    #[serde(default)]
    pub faults: FaultConfig,
}

/// One Argo CD application backed by one file of the repository.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimApp {
    /// Application name, e.g. `payments-dev`.
    pub name: String,
    /// Argo CD project (`spec.project`).
    #[serde(default = "default_project")]
    pub project: String,
    /// Path of the file holding the version, relative to the repo root.
    pub file: String,
    /// Field holding the version, as the version reader understands it
    /// (the default reader takes a dotted YAML path such as `image.tag`).
    #[serde(default = "default_field")]
    pub field: String,
    /// Destination namespace; the application name when absent.
    #[serde(default)]
    pub dest_namespace: Option<String>,
    /// Image repository shown in `summary.images` as `<repo>:<version>`;
    /// the application name when absent.
    #[serde(default)]
    pub image_repo: Option<String>,
    /// Kind of the workload: a Deployment or an Argo Rollouts Rollout.
    #[serde(default)]
    pub workload: WorkloadKind,
    /// Delay between seeing a new commit and starting the sync, in ms.
    #[serde(default = "default_sync_delay_ms")]
    pub sync_delay_ms: u64,
    /// How long the sync operation runs, in ms.
    #[serde(default = "default_sync_duration_ms")]
    pub sync_duration_ms: u64,
    /// How long health stays `Progressing` after the sync, in ms (unless a
    /// script is given).
    #[serde(default = "default_progress_ms")]
    pub progress_ms: u64,
    /// Versions matching this regex end `Degraded` instead of `Healthy`.
    #[serde(default)]
    pub degrade_versions: Option<String>,
    /// Scripted health after each sync, replacing `Progressing` -> final.
    /// Each step holds for `hold_ms`; the last one stays.
    #[serde(default)]
    pub script: Vec<HealthStep>,
}

/// Workload kind of a simulated application.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum WorkloadKind {
    /// `apps/v1` Deployment.
    #[default]
    Deployment,
    /// `argoproj.io/v1alpha1` Rollout.
    Rollout,
}

/// One step of a scripted health sequence.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthStep {
    /// Application health (`Healthy`, `Progressing`, `Degraded`, `Suspended`, …).
    pub health: String,
    /// Application health message.
    #[serde(default)]
    pub message: Option<String>,
    /// Workload health when it differs from the application's (e.g.
    /// `Suspended` with message `CanaryPauseStep` for a paused canary).
    #[serde(default)]
    pub workload_health: Option<String>,
    /// Workload health message.
    #[serde(default)]
    pub workload_message: Option<String>,
    /// How long this step holds before the next, in ms.
    #[serde(default)]
    pub hold_ms: u64,
}

impl HealthStep {
    /// Application health `health` without messages, held `hold_ms`.
    pub fn new(health: &str, hold_ms: u64) -> Self {
        Self {
            health: health.into(),
            message: None,
            workload_health: None,
            workload_message: None,
            hold_ms,
        }
    }

    /// `Progressing` for `progressing_ms`, then `Healthy` reported again
    /// every second, `reports` times: a controller's periodic reconciles,
    /// only faster, so a gate that bakes a stage keeps hearing from it.
    pub fn healthy_reports(progressing_ms: u64, reports: usize) -> Vec<Self> {
        std::iter::once(Self::new("Progressing", progressing_ms))
            .chain(std::iter::repeat_n(Self::new("Healthy", 1000), reports))
            .collect()
    }
}

/// Faults to inject.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// The next N requests answer 503 `Unavailable`.
    #[serde(default)]
    pub fail_next: u32,
    /// Every request answers 401, whatever token it carries.
    #[serde(default)]
    pub unauthorized: bool,
    /// Delay before every response, in ms.
    #[serde(default)]
    pub delay_ms: u64,
    /// Close every watch stream after this many events.
    #[serde(default)]
    pub stream_drop_after: Option<u32>,
    /// Before closing a dropped stream, send a `{"error":…}` frame.
    #[serde(default)]
    pub stream_error_frame: bool,
    /// The watch endpoint answers 501, as behind a proxy without streaming.
    #[serde(default)]
    pub stream_unavailable: bool,
}

fn default_branch() -> String {
    "main".into()
}
fn default_poll_ms() -> u64 {
    1000
}
fn default_namespace() -> String {
    "argocd".into()
}
fn default_keepalive_ms() -> u64 {
    15_000
}
fn default_project() -> String {
    "default".into()
}
fn default_field() -> String {
    "image.tag".into()
}
fn default_sync_delay_ms() -> u64 {
    200
}
fn default_sync_duration_ms() -> u64 {
    200
}
fn default_progress_ms() -> u64 {
    500
}

impl SimConfig {
    /// A configuration with defaults for `repo` and no applications.
    pub fn new(repo: impl Into<PathBuf>) -> Self {
        Self {
            repo: repo.into(),
            branch: default_branch(),
            poll_interval_ms: default_poll_ms(),
            token: None,
            namespace: default_namespace(),
            sse_keepalive_ms: default_keepalive_ms(),
            apps: Vec::new(),
            faults: FaultConfig::default(),
        }
    }
}

impl SimApp {
    /// An application with defaults for everything but name and file.
    pub fn new(name: impl Into<String>, file: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            project: default_project(),
            file: file.into(),
            field: default_field(),
            dest_namespace: None,
            image_repo: None,
            workload: WorkloadKind::default(),
            sync_delay_ms: default_sync_delay_ms(),
            sync_duration_ms: default_sync_duration_ms(),
            progress_ms: default_progress_ms(),
            degrade_versions: None,
            script: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_file_deserializes() {
        let yaml = r#"
repo: /srv/env.git
branch: main
poll_interval_ms: 100
token: a.b.c
apps:
  - name: payments-dev
    file: envs/dev/values.yaml
    degrade_versions: '^v9\.'
  - name: payments-prod
    project: payments
    file: envs/prod/values.yaml
    workload: Rollout
    script:
      - { health: Suspended, workload_message: CanaryPauseStep, hold_ms: 2000 }
      - { health: Healthy }
faults: { fail_next: 2, stream_drop_after: 3 }
"#;
        let c: SimConfig = yaml_serde::from_str(yaml).expect("valid scenario");
        assert_eq!(c.apps.len(), 2);
        assert_eq!(c.apps[0].field, "image.tag");
        assert_eq!(c.apps[0].sync_delay_ms, 200);
        assert_eq!(c.apps[1].workload, WorkloadKind::Rollout);
        assert_eq!(
            c.apps[1].script[0].workload_message.as_deref(),
            Some("CanaryPauseStep")
        );
        assert_eq!(
            (c.faults.fail_next, c.faults.stream_drop_after),
            (2, Some(3))
        );
        assert!(yaml_serde::from_str::<SimConfig>("repo: x\ncolour: red\n").is_err());
    }
}
