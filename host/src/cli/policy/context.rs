//! The context file shape shared by `policy eval --context` and the
//! `context:` section of `policy test` scenarios: the app, its stages and the
//! policy settings as people write them, with defaults filled in.

use serde::Deserialize;

use crate::runtime::{Context, Stage};

/// A [`Context`] as written in YAML or JSON: settings as a mapping, every
/// guardrail and run field optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContextFile {
    app: String,
    stages: Vec<StageFile>,
    #[serde(default)]
    settings: serde_json::Value,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default = "default_max_wait")]
    max_health_wait: u64,
    #[serde(default)]
    dry_run: bool,
}

/// One stage as configured in `baton.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StageFile {
    name: String,
    #[serde(default)]
    file: String,
    #[serde(default)]
    field: String,
    #[serde(default)]
    argocd_app: String,
    #[serde(default)]
    direct_commit_allowed: bool,
    #[serde(default)]
    auto_merge_allowed: bool,
}

/// The host's default `guardrails.max_health_wait`: thirty minutes.
fn default_max_wait() -> u64 {
    30 * 60 * 1000
}

impl ContextFile {
    /// The runtime context; `run_id` applies when the file names none.
    pub(super) fn into_context(self, run_id: &str) -> Context {
        Context {
            app: self.app,
            stages: self
                .stages
                .into_iter()
                .map(|s| Stage {
                    name: s.name,
                    file: s.file,
                    field: s.field,
                    argocd_app: s.argocd_app,
                    direct_commit_allowed: s.direct_commit_allowed,
                    auto_merge_allowed: s.auto_merge_allowed,
                })
                .collect(),
            settings: if self.settings.is_null() {
                "{}".into()
            } else {
                self.settings.to_string()
            },
            run_id: self.run_id.unwrap_or_else(|| run_id.to_owned()),
            max_health_wait: self.max_health_wait,
            dry_run: self.dry_run,
        }
    }
}
