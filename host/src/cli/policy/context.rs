//! The context file shape shared by `policy eval --context` and the
//! `context:` section of `policy test` scenarios: the app, its stages and the
//! policy settings as people write them, with defaults filled in.

use serde::Deserialize;

use crate::runtime::{Context, Stage, Target};

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
    /// Several targets; absent: one target, labelled "", from the fields
    /// above. When given, `file`, `field` and `argocd_app` default to the
    /// first target's.
    #[serde(default)]
    targets: Option<Vec<TargetFile>>,
}

/// One target of a stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TargetFile {
    #[serde(default)]
    label: String,
    #[serde(default)]
    file: String,
    #[serde(default)]
    field: String,
    #[serde(default)]
    argocd_app: String,
}

impl StageFile {
    fn into_stage(self) -> Stage {
        let targets = match self.targets {
            Some(targets) if !targets.is_empty() => targets
                .into_iter()
                .map(|t| Target {
                    label: t.label,
                    file: t.file,
                    field: t.field,
                    argocd_app: t.argocd_app,
                })
                .collect(),
            _ => vec![Target {
                label: String::new(),
                file: self.file.clone(),
                field: self.field.clone(),
                argocd_app: self.argocd_app.clone(),
            }],
        };
        let first = |given: String, of: fn(&Target) -> &String| {
            if given.is_empty() {
                targets.first().map(of).cloned().unwrap_or_default()
            } else {
                given
            }
        };
        Stage {
            name: self.name,
            file: first(self.file, |t| &t.file),
            field: first(self.field, |t| &t.field),
            argocd_app: first(self.argocd_app, |t| &t.argocd_app),
            direct_commit_allowed: self.direct_commit_allowed,
            auto_merge_allowed: self.auto_merge_allowed,
            targets,
        }
    }
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
            stages: self.stages.into_iter().map(StageFile::into_stage).collect(),
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
