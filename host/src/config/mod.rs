//! `baton.yaml`, parsed once into typed data.
//!
//! [`Config::load`] reads the file, deserializes its raw serde form (unknown
//! keys refused; private to this module), then validates and resolves every
//! section into the typed values the rest of Baton uses: stages with parsed
//! field specs, the policy source resolved against the file's directory,
//! guardrails with parsed durations, the token variables in one list.
//! Nothing downstream re-parses or re-validates.
//!
//! Every error names the file, and where it can, the line and the key.

mod duration;
mod lines;
mod raw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

pub use duration::parse_duration;
pub(crate) use duration::units as duration_units;
use raw::{RawApp, RawConfig};

use crate::capabilities::git::{FieldSpec, Identity, StageField, ValueTemplate};
use crate::runtime::{Digest, PolicySource};
use crate::secret::Secret;

/// Default config file name.
pub const DEFAULT_PATH: &str = "baton.yaml";

/// Which forge hosts the env repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// GitLab (REST v4).
    Gitlab,
    /// GitHub (REST).
    Github,
}

/// Which kind of metrics server `metrics:` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricsKind {
    /// The Prometheus HTTP API.
    Prometheus,
}

/// `guardrails.promotion_order`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PromotionOrder {
    /// A stage after the first only gets versions the stage before it held.
    #[default]
    Strict,
    /// No check.
    Off,
}

/// An environment variable that holds a token, and the key naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenVar {
    /// The dotted key in `baton.yaml`, e.g. `argocd.token_env`.
    pub key: &'static str,
    /// The variable's name.
    pub name: String,
}

/// `env_repo:`.
#[derive(Debug, Clone)]
pub struct EnvRepoConfig {
    /// A URL as written, or a local path resolved against the config file's
    /// directory.
    pub url: String,
    /// The branch Argo CD deploys from.
    pub branch: String,
    /// The token variable, if any.
    pub token: Option<TokenVar>,
}

/// `argocd:`.
#[derive(Debug, Clone)]
pub struct ArgoCdSection {
    /// Server URL.
    pub url: String,
    /// The token variable, if any.
    pub token: Option<TokenVar>,
    /// Skip TLS verification (test servers only).
    pub insecure_skip_verify: bool,
}

/// `forge:`.
#[derive(Debug, Clone)]
pub struct ForgeSection {
    /// GitLab or GitHub.
    pub kind: ForgeKind,
    /// API root.
    pub api_url: String,
    /// GitLab project id or path; GitHub `owner/repo` (checked).
    pub project: String,
    /// The token variable, if any.
    pub token: Option<TokenVar>,
}

/// `metrics:`.
#[derive(Debug, Clone)]
pub struct MetricsSection {
    /// The server's API.
    pub kind: MetricsKind,
    /// Server URL (checked: http(s), no credentials).
    pub url: String,
    /// The token variable, if any.
    pub token: Option<TokenVar>,
    /// How long one query may take (more than zero).
    pub timeout: Duration,
}

/// `policy:`.
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// `policy.path` as written (for the audit record).
    pub path: String,
    /// Where to load it from, resolved against the config file's directory.
    pub source: PolicySource,
    /// The sha256 pin, if any (checked to be a digest).
    pub sha256: Option<String>,
    /// Settings handed to the policy: a JSON object.
    pub settings: serde_json::Value,
}

/// The host's guardrails, from `guardrails:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardrails {
    /// Stages a policy may change by direct commit.
    pub direct_commit_stages: Vec<String>,
    /// Stages whose merge requests a policy may auto-merge.
    pub auto_merge_stages: Vec<String>,
    /// Hard cap on any health gate.
    pub max_health_wait: Duration,
    /// Whether versions must go through the stages in order.
    pub promotion_order: PromotionOrder,
}

/// `commit:`.
#[derive(Debug, Clone, Default)]
pub struct CommitConfig {
    /// Subject template, when configured.
    pub message: Option<String>,
    /// The configured author, when `author_name` is set.
    pub author: Option<Identity>,
}

/// `audit:`.
#[derive(Debug, Clone, Default)]
pub struct AuditConfig {
    /// The variable holding the Ed25519 signing key, when records are signed.
    pub signing_key_env: Option<String>,
    /// The public key (64 hex digits, checked) that verifies signatures.
    pub public_key: Option<String>,
    /// The directory holding the app's records, resolved against the config
    /// file's directory.
    pub records: Option<PathBuf>,
}

/// One stage of an app.
#[derive(Debug, Clone)]
pub struct StageConfig {
    /// Stage name.
    pub name: String,
    /// Where its version lives in the env repo: the first target's
    /// location, so single-target code reads a stage as before.
    pub location: StageField,
    /// The Argo CD application deploying it: the first target's.
    pub argocd_app: String,
    /// Every target in config order (at least one). A stage written
    /// without `targets:` has one, labelled "".
    pub targets: Vec<TargetConfig>,
}

/// One target of a stage: its own file, field and Argo CD application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetConfig {
    /// Label unique within the stage (e.g. `eu`); "" for the one target of
    /// a stage written without `targets:`.
    pub label: String,
    /// Where this target's version lives in the env repo.
    pub location: StageField,
    /// The Argo CD application deploying it.
    pub argocd_app: String,
}

impl StageConfig {
    /// A stage with one target, labelled "".
    pub fn single(
        name: impl Into<String>,
        location: StageField,
        argocd_app: impl Into<String>,
    ) -> Self {
        let argocd_app = argocd_app.into();
        Self {
            name: name.into(),
            targets: vec![TargetConfig {
                label: String::new(),
                location: location.clone(),
                argocd_app: argocd_app.clone(),
            }],
            location,
            argocd_app,
        }
    }

    /// Whether the stage has several targets.
    pub fn is_multi_target(&self) -> bool {
        self.targets.len() > 1
    }

    /// The targets after the first, which a write changes in the same
    /// commit as the first.
    pub fn further_targets(&self) -> &[TargetConfig] {
        self.targets.get(1..).unwrap_or_default()
    }

    /// Every Argo CD application of the stage, once each, in config order.
    pub fn argocd_apps(&self) -> Vec<&str> {
        let mut apps: Vec<&str> = Vec::new();
        for t in &self.targets {
            if !apps.contains(&t.argocd_app.as_str()) {
                apps.push(&t.argocd_app);
            }
        }
        apps
    }
}

impl TargetConfig {
    /// `eu (payments-prod-eu)`, or the application alone for an unlabelled
    /// target: how messages name a target.
    pub fn display(&self) -> String {
        if self.label.is_empty() {
            self.argocd_app.clone()
        } else {
            format!("{} ({})", self.label, self.argocd_app)
        }
    }
}

/// One app: its stages in promotion order.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The app's name under `apps:`.
    pub name: String,
    /// Stages in promotion order.
    pub stages: Vec<StageConfig>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    digest: String,
    text: String,
    env_repo: EnvRepoConfig,
    argocd: Option<ArgoCdSection>,
    forge: Option<ForgeSection>,
    metrics: Option<MetricsSection>,
    policy: PolicyConfig,
    guardrails: Guardrails,
    commit: CommitConfig,
    audit: AuditConfig,
    apps: BTreeMap<String, AppConfig>,
}

/// Why a configuration is invalid. Always exit 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// YAML syntax or shape error (unknown key, wrong type).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// yaml_serde's message, with line and column.
        message: String,
    },
    /// A semantic error at a key.
    #[error("{}{}: {key}: {message}", .path.display(), lines::suffix(*.line))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key (0 when unknown).
        line: usize,
        /// Dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Builds [`ConfigError::Invalid`] for one file.
struct Errors<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Errors<'_> {
    /// An error at the line of the last mention of `needle`.
    fn at(&self, needle: &str, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: lines::last_of(self.text, needle),
            key: key.into(),
            message: message.into(),
        }
    }

    /// An error at the line of the scalar at `key` (a dotted path with
    /// indexes), else of the last mention of `needle`.
    fn at_key(&self, key: String, needle: &str, message: impl Into<String>) -> ConfigError {
        let line = match lines::of_path(self.text, &key) {
            0 => lines::last_of(self.text, needle),
            line => line,
        };
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            key,
            message: message.into(),
        }
    }

    /// An error at `section.field`'s line.
    fn in_section(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: lines::in_section(self.text, key),
            key: key.into(),
            message: message.into(),
        }
    }
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Validates `text` as read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = yaml_serde::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let errors = Errors { path, text };
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        urls(&errors, &raw)?;
        let apps = apps(&errors, &raw.apps)?;
        let guardrails = guardrails(&errors, &raw, &apps)?;
        let policy = policy(&errors, &raw, &base_dir)?;
        let tokens = Tokens::check(&errors, &raw)?;
        Ok(Self {
            path: path.to_path_buf(),
            digest: Digest::of(text.as_bytes()).to_string(),
            text: text.to_owned(),
            env_repo: EnvRepoConfig {
                url: repo_url(&raw.env_repo.url, &base_dir),
                branch: raw.env_repo.branch.clone(),
                token: tokens.env_repo,
            },
            argocd: raw.argocd.as_ref().map(|a| ArgoCdSection {
                url: a.url.clone(),
                token: tokens.argocd,
                insecure_skip_verify: a.insecure_skip_verify,
            }),
            forge: forge(&errors, &raw, tokens.forge)?,
            metrics: metrics(&errors, &raw, tokens.metrics)?,
            commit: commit(&errors, &raw.commit)?,
            audit: audit(&errors, &raw.audit, &base_dir)?,
            apps,
            guardrails,
            policy,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `sha256:<hex>` of the file's bytes, for the audit record.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// `env_repo:`.
    pub fn env_repo(&self) -> &EnvRepoConfig {
        &self.env_repo
    }

    /// `argocd:`, when configured.
    pub fn argocd(&self) -> Option<&ArgoCdSection> {
        self.argocd.as_ref()
    }

    /// `forge:`, when configured.
    pub fn forge(&self) -> Option<&ForgeSection> {
        self.forge.as_ref()
    }

    /// `metrics:`, when configured.
    pub fn metrics(&self) -> Option<&MetricsSection> {
        self.metrics.as_ref()
    }

    /// `policy:`.
    pub fn policy(&self) -> &PolicyConfig {
        &self.policy
    }

    /// `guardrails:`.
    pub fn guardrails(&self) -> &Guardrails {
        &self.guardrails
    }

    /// `commit:`.
    pub fn commit(&self) -> &CommitConfig {
        &self.commit
    }

    /// `audit:`.
    pub fn audit(&self) -> &AuditConfig {
        &self.audit
    }

    /// Every app, by name.
    pub fn apps(&self) -> impl Iterator<Item = &AppConfig> {
        self.apps.values()
    }

    /// The app called `name`, or an error listing the apps.
    pub fn app(&self, name: &str) -> Result<&AppConfig, ConfigError> {
        self.apps.get(name).ok_or_else(|| ConfigError::Invalid {
            path: self.path.clone(),
            line: 0,
            key: "apps".into(),
            message: format!(
                "no app {name:?}; configured apps: {}",
                self.apps.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })
    }

    /// Every configured token variable, in file order.
    pub fn token_vars(&self) -> Vec<&TokenVar> {
        [
            self.env_repo.token.as_ref(),
            self.argocd.as_ref().and_then(|a| a.token.as_ref()),
            self.forge.as_ref().and_then(|f| f.token.as_ref()),
            self.metrics.as_ref().and_then(|m| m.token.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The token in `var`'s environment variable; an error naming the key's
    /// line when the variable is unset or empty. `None` when no variable is
    /// configured.
    pub fn token(&self, var: Option<&TokenVar>) -> Result<Option<Secret>, ConfigError> {
        let Some(var) = var else { return Ok(None) };
        let errors = Errors {
            path: &self.path,
            text: &self.text,
        };
        let secret = Secret::from_env(&var.name).ok_or_else(|| {
            errors.in_section(
                var.key,
                format!("environment variable {} is not set", var.name),
            )
        })?;
        // A CR or LF would let the token add HTTP headers of its own.
        if secret.expose().chars().any(char::is_control) {
            return Err(errors.in_section(
                var.key,
                format!(
                    "environment variable {} holds a control character (CR, LF, ...); a token \
                     never does",
                    var.name
                ),
            ));
        }
        Ok(Some(secret))
    }
}

/// `apps:`: at least one app, each with at least one uniquely named stage
/// whose names can go into a branch name, whose file is a relative path in
/// the repository and whose field spec parses.
fn apps(
    errors: &Errors<'_>,
    raw: &BTreeMap<String, RawApp>,
) -> Result<BTreeMap<String, AppConfig>, ConfigError> {
    if raw.is_empty() {
        return Err(errors.at("apps:", "apps", "at least one app is required"));
    }
    let mut apps = BTreeMap::new();
    for (app, spec) in raw {
        branch_component(app).map_err(|m| errors.at(&format!("{app}:"), "apps", m))?;
        if spec.stages.is_empty() {
            return Err(errors.at(
                &format!("{app}:"),
                format!("apps.{app}.stages"),
                "at least one stage is required",
            ));
        }
        let mut stages: Vec<StageConfig> = Vec::new();
        for (i, stage) in spec.stages.iter().enumerate() {
            let stage = self::stage(errors, &format!("apps.{app}.stages[{i}]"), stage)?;
            if stages.iter().any(|s| s.name == stage.name) {
                return Err(errors.at_key(
                    format!("apps.{app}.stages[{i}].name"),
                    &format!("name: {}", stage.name),
                    format!("duplicate stage name {:?}", stage.name),
                ));
            }
            stages.push(stage);
        }
        same_kind_of_version(errors, app, &stages)?;
        apps.insert(
            app.clone(),
            AppConfig {
                name: app.clone(),
                stages,
            },
        );
    }
    Ok(apps)
}

/// One stage at `key` (`apps.payments.stages[0]`): its name, and either
/// its one target (`file`, `field`, `value`, `argocd_app`) or its
/// `targets`, each validated the same way.
fn stage(errors: &Errors<'_>, key: &str, raw: &raw::RawStage) -> Result<StageConfig, ConfigError> {
    branch_component(&raw.name).map_err(|m| errors.at_key(format!("{key}.name"), &raw.name, m))?;
    let single = [
        raw.file.as_ref().map(|_| "file"),
        raw.field.as_ref().map(|_| "field"),
        raw.value.as_ref().map(|_| "value"),
        raw.argocd_app.as_ref().map(|_| "argocd_app"),
    ];
    let single: Vec<&str> = single.into_iter().flatten().collect();
    let targets = match &raw.targets {
        Some(targets) => {
            if let Some(first) = single.first() {
                return Err(errors.at_key(
                    format!("{key}.{first}"),
                    &format!("{first}:"),
                    format!(
                        "stage {} has targets:, so its {} belong{} in each target",
                        raw.name,
                        single.join(", "),
                        if single.len() == 1 { "s" } else { "" }
                    ),
                ));
            }
            multi_targets(errors, key, &raw.name, targets)?
        }
        None => {
            let missing: Vec<&str> = [
                raw.file.is_none().then_some("file"),
                raw.field.is_none().then_some("field"),
                raw.argocd_app.is_none().then_some("argocd_app"),
            ]
            .into_iter()
            .flatten()
            .collect();
            let (Some(file), Some(field), Some(argocd_app)) =
                (&raw.file, &raw.field, &raw.argocd_app)
            else {
                return Err(errors.at_key(
                    format!("{key}.name"),
                    &format!("name: {}", raw.name),
                    format!(
                        "stage {} needs {} (or targets: with them for each target)",
                        raw.name,
                        missing.join(", ")
                    ),
                ));
            };
            let raw_target = raw::RawTarget {
                label: String::new(),
                file: file.clone(),
                field: field.clone(),
                value: raw.value.clone(),
                argocd_app: argocd_app.clone(),
            };
            vec![target(errors, key, &raw_target)?]
        }
    };
    let first = targets[0].clone();
    Ok(StageConfig {
        name: raw.name.clone(),
        location: first.location,
        argocd_app: first.argocd_app,
        targets,
    })
}

/// `targets:` of the stage at `key`: at least one; labels that are
/// non-empty, plain and unique when there are several; no two targets on
/// the same file and field.
fn multi_targets(
    errors: &Errors<'_>,
    key: &str,
    stage: &str,
    raw: &[raw::RawTarget],
) -> Result<Vec<TargetConfig>, ConfigError> {
    if raw.is_empty() {
        return Err(errors.at(
            "targets:",
            format!("{key}.targets"),
            format!("stage {stage} needs at least one target"),
        ));
    }
    let mut targets: Vec<TargetConfig> = Vec::with_capacity(raw.len());
    for (j, t) in raw.iter().enumerate() {
        let at = format!("{key}.targets[{j}]");
        let label_error = |message: String| {
            errors.at_key(
                format!("{at}.label"),
                &format!("label: {}", t.label),
                message,
            )
        };
        if raw.len() > 1 && t.label.is_empty() {
            return Err(errors.at_key(
                format!("{at}.file"),
                &t.file,
                format!(
                    "target {} of stage {stage} needs a label: a stage with several targets \
                     names each (e.g. label: eu)",
                    j + 1
                ),
            ));
        }
        if !t
            .label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(label_error(format!(
                "{:?} is not a target label: use letters, digits, `.`, `_` and `-`",
                t.label
            )));
        }
        if targets.iter().any(|o| o.label == t.label) {
            return Err(label_error(format!(
                "duplicate target label {:?} in stage {stage}",
                t.label
            )));
        }
        let target = target(errors, &at, t)?;
        if let Some(same) = targets.iter().find(|o| {
            o.location.file == target.location.file
                && o.location.field.to_string() == target.location.field.to_string()
        }) {
            return Err(errors.at_key(
                format!("{at}.field"),
                &t.field,
                format!(
                    "target {} of stage {stage} writes {} {}, like target {}; each target needs \
                     a field of its own",
                    target.label, t.file, t.field, same.label
                ),
            ));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// One target at `key` (a stage's own key for a stage without `targets:`):
/// a file inside the repository, a field spec and value template that
/// parse, an Argo CD application.
fn target(
    errors: &Errors<'_>,
    key: &str,
    raw: &raw::RawTarget,
) -> Result<TargetConfig, ConfigError> {
    repo_path(&raw.file).map_err(|m| errors.at_key(format!("{key}.file"), &raw.file, m))?;
    if raw.argocd_app.trim().is_empty() {
        return Err(errors.at_key(
            format!("{key}.argocd_app"),
            "argocd_app",
            "must name the Argo CD application",
        ));
    }
    let mut field = raw
        .field
        .parse::<FieldSpec>()
        .map_err(|e| errors.at_key(format!("{key}.field"), &raw.field, e.to_string()))?;
    if let Some(text) = &raw.value {
        let template = text.parse::<ValueTemplate>().map_err(|e| {
            errors.at_key(
                format!("{key}.value"),
                text,
                format!("{text:?} is not a value template: {e}"),
            )
        })?;
        field = field.with_value(template);
    }
    Ok(TargetConfig {
        label: raw.label.clone(),
        location: StageField {
            file: raw.file.clone(),
            field,
        },
        argocd_app: raw.argocd_app.clone(),
    })
}

/// Versions are compared across an app's stages (promotion order, the
/// version a gate waits for) and across a stage's targets, so either every
/// target of every stage holds a version, or every one holds only a
/// digest, which is then its version.
fn same_kind_of_version(
    errors: &Errors<'_>,
    app: &str,
    stages: &[StageConfig],
) -> Result<(), ConfigError> {
    let all: Vec<(usize, Option<usize>, &StageConfig, &TargetConfig)> = stages
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            s.targets.iter().enumerate().map(move |(j, t)| {
                (
                    i,
                    (s.is_multi_target() || !t.label.is_empty()).then_some(j),
                    s,
                    t,
                )
            })
        })
        .collect();
    let digest_only = |t: &TargetConfig| t.location.field.value.digest_only();
    let Some(&(_, _, _, first)) = all.first() else {
        return Ok(());
    };
    let Some(&(i, j, odd_stage, odd)) = all
        .iter()
        .find(|(_, _, _, t)| digest_only(t) != digest_only(first))
    else {
        return Ok(());
    };
    let first_stage = all[0].2;
    let holds = |s: &StageConfig, t: &TargetConfig| {
        let who = if s.is_multi_target() {
            format!("{} {}", s.name, t.label)
        } else {
            s.name.clone()
        };
        if digest_only(t) {
            format!("{who} holds only a digest ({})", t.location.field)
        } else {
            format!("{who} holds a version ({})", t.location.field)
        }
    };
    let key = match j {
        Some(j) => format!("apps.{app}.stages[{i}].targets[{j}].field"),
        None => format!("apps.{app}.stages[{i}].field"),
    };
    Err(errors.at_key(
        key,
        &odd.location.field.to_string(),
        format!(
            "{} but {}: the stages of an app are compared by version, so all must hold a \
             version or all only a digest (give `value: \"...{{version}}@{{digest}}\"` to hold both)",
            holds(odd_stage, odd),
            holds(first_stage, first)
        ),
    ))
}

/// App and stage names become components of merge-request branch names
/// (`baton/<app>/<stage>/<version>`).
fn branch_component(name: &str) -> Result<(), String> {
    if name.contains('/') {
        return Err(format!(
            "{name:?} may not contain `/`: it is part of branch names"
        ));
    }
    crate::version::check_ref(name)
        .map_err(|e| format!("{name:?} is not usable in a branch name: {e}"))
}

/// A file in the env repository: a relative `/`-separated path without
/// empty, `.` or `..` components.
fn repo_path(file: &str) -> Result<(), String> {
    let bad = file.is_empty()
        || file.starts_with('/')
        || file.contains('\\')
        || file.chars().any(char::is_control)
        || file
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(format!(
            "{file:?} is not a file path inside the repository (relative, `/`-separated, no \
             empty, `.` or `..` components)"
        ));
    }
    Ok(())
}

/// `guardrails:`: stage lists naming configured stages, a parsed maximum.
fn guardrails(
    errors: &Errors<'_>,
    raw: &RawConfig,
    apps: &BTreeMap<String, AppConfig>,
) -> Result<Guardrails, ConfigError> {
    let mut known: Vec<&str> = Vec::new();
    for stage in apps.values().flat_map(|a| &a.stages) {
        if !known.contains(&stage.name.as_str()) {
            known.push(&stage.name);
        }
    }
    let g = &raw.guardrails;
    for (list, key) in [
        (&g.direct_commit_stages, "direct_commit_stages"),
        (&g.auto_merge_stages, "auto_merge_stages"),
    ] {
        if let Some(unknown) = list.iter().find(|s| !known.contains(&s.as_str())) {
            return Err(errors.at(
                key,
                format!("guardrails.{key}"),
                format!(
                    "unknown stage {unknown:?}; stages are: {}",
                    known.join(", ")
                ),
            ));
        }
    }
    let max_health_wait = parse_duration(&g.max_health_wait).ok_or_else(|| {
        errors.at(
            "max_health_wait",
            "guardrails.max_health_wait",
            format!(
                "{:?} is not a duration like 90s, 10m or 1h30m",
                g.max_health_wait
            ),
        )
    })?;
    Ok(Guardrails {
        direct_commit_stages: g.direct_commit_stages.clone(),
        auto_merge_stages: g.auto_merge_stages.clone(),
        max_health_wait,
        promotion_order: g.promotion_order,
    })
}

/// `policy:`: a pin that is a digest, settings that are a mapping.
fn policy(
    errors: &Errors<'_>,
    raw: &RawConfig,
    base_dir: &Path,
) -> Result<PolicyConfig, ConfigError> {
    let p = &raw.policy;
    if let Some(pin) = &p.sha256
        && Digest::parse_pin(pin).is_err()
    {
        return Err(errors.at(
            "sha256",
            "policy.sha256",
            format!("{pin:?} is not a sha256 digest (64 hex digits)"),
        ));
    }
    if !(p.settings.is_null() || p.settings.is_object()) {
        return Err(errors.at("settings", "policy.settings", "must be a mapping"));
    }
    Ok(PolicyConfig {
        path: p.path.clone(),
        source: PolicySource::parse(&p.path, base_dir),
        sha256: p.sha256.clone(),
        settings: if p.settings.is_null() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            p.settings.clone()
        },
    })
}

/// `forge:`: a GitHub project must be `owner/repo`.
fn forge(
    errors: &Errors<'_>,
    raw: &RawConfig,
    token: Option<TokenVar>,
) -> Result<Option<ForgeSection>, ConfigError> {
    let Some(f) = &raw.forge else { return Ok(None) };
    if f.kind == ForgeKind::Github && f.project.split_once('/').is_none() {
        return Err(errors.in_section(
            "forge.project",
            format!("{:?} must be owner/repo for GitHub", f.project),
        ));
    }
    Ok(Some(ForgeSection {
        kind: f.kind,
        api_url: f.api_url.clone(),
        project: f.project.clone(),
        token,
    }))
}

/// `metrics:`: a query timeout that is a duration above zero.
fn metrics(
    errors: &Errors<'_>,
    raw: &RawConfig,
    token: Option<TokenVar>,
) -> Result<Option<MetricsSection>, ConfigError> {
    let Some(m) = &raw.metrics else {
        return Ok(None);
    };
    let timeout = parse_duration(&m.timeout)
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            errors.in_section(
                "metrics.timeout",
                format!(
                    "{:?} is not a duration above zero like 10s, 30s or 1m",
                    m.timeout
                ),
            )
        })?;
    Ok(Some(MetricsSection {
        kind: m.kind,
        url: m.url.clone(),
        token,
        timeout,
    }))
}

/// `commit:`: an author is a name (and optionally an email) that a commit
/// header can hold.
fn commit(errors: &Errors<'_>, raw: &raw::RawCommit) -> Result<CommitConfig, ConfigError> {
    for (key, value) in [
        ("commit.author_name", &raw.author_name),
        ("commit.author_email", &raw.author_email),
    ] {
        if let Some(v) = value
            && (v.trim().is_empty() || v.contains(['<', '>']) || v.chars().any(char::is_control))
        {
            return Err(errors.in_section(
                key,
                format!("{v:?} must be non-empty, without `<`, `>` or control characters"),
            ));
        }
    }
    if raw.author_email.is_some() && raw.author_name.is_none() {
        return Err(errors.in_section(
            "commit.author_email",
            "author_email needs author_name (the identity is used as a pair)",
        ));
    }
    Ok(CommitConfig {
        message: raw.message.clone(),
        author: raw.author_name.clone().map(|name| Identity {
            name,
            email: raw
                .author_email
                .clone()
                .unwrap_or_else(|| Identity::default().email),
        }),
    })
}

/// `audit:`: a variable name, a public key that parses.
fn audit(
    errors: &Errors<'_>,
    raw: &raw::RawAudit,
    base_dir: &Path,
) -> Result<AuditConfig, ConfigError> {
    if let Some(name) = &raw.signing_key_env
        && (name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(errors.in_section(
            "audit.signing_key_env",
            format!("{name:?} is not an environment variable name"),
        ));
    }
    if let Some(key) = &raw.public_key
        && let Err(e) = crate::engine::audit::integrity::public_key(key, "the value")
    {
        return Err(errors.in_section("audit.public_key", e.to_string()));
    }
    Ok(AuditConfig {
        signing_key_env: raw.signing_key_env.clone(),
        public_key: raw.public_key.as_ref().map(|k| k.trim().to_owned()),
        records: raw.records.as_ref().map(|r| base_dir.join(r)),
    })
}

/// The URLs: schemes Baton speaks, and no credentials (tokens come from
/// the variables `token_env` names, so they never sit in a file).
fn urls(errors: &Errors<'_>, raw: &RawConfig) -> Result<(), ConfigError> {
    let mut urls = vec![("env_repo.url", raw.env_repo.url.as_str(), "env_repo")];
    if let Some(a) = &raw.argocd {
        urls.push(("argocd.url", a.url.as_str(), "argocd"));
    }
    if let Some(f) = &raw.forge {
        urls.push(("forge.api_url", f.api_url.as_str(), "forge"));
    }
    if let Some(m) = &raw.metrics {
        urls.push(("metrics.url", m.url.as_str(), "metrics"));
    }
    for (key, url, section) in urls {
        url_problem(url, key == "env_repo.url", section)
            .map_or(Ok(()), |m| Err(errors.in_section(key, m)))?;
    }
    Ok(())
}

/// What is wrong with `url`, if anything. `repo` allows `file://` URLs and
/// local paths.
fn url_problem(url: &str, repo: bool, section: &str) -> Option<String> {
    let scp_like = !url.contains("://")
        && url
            .split_once(':')
            .is_some_and(|(host, _)| host.contains('@'));
    if url.starts_with("ssh://")
        || url.starts_with("git://")
        || url.starts_with("git+ssh://")
        || scp_like
    {
        return Some(format!(
            "{url:?}: ssh and git:// URLs are not supported; use https:// with {section}.token_env{}",
            if repo {
                ", file:// or a local path"
            } else {
                ""
            }
        ));
    }
    if !url.contains("://") {
        return (!repo).then(|| format!("{url:?} is not an http(s) URL"));
    }
    // Never echo a URL that might hold a password.
    let Ok(parsed) = url::Url::parse(url) else {
        return Some("not a valid URL".to_owned());
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some(format!(
            "credentials in the URL are not allowed; put the token in an environment variable \
             and name it in {section}.token_env"
        ));
    }
    let schemes: &[&str] = if repo {
        &["http", "https", "file"]
    } else {
        &["http", "https"]
    };
    (!schemes.contains(&parsed.scheme())).then(|| {
        format!(
            "unsupported scheme {:?}: use {}",
            parsed.scheme(),
            schemes.join(", ")
        )
    })
}

/// The token variables of every section, checked to be variable names.
struct Tokens {
    env_repo: Option<TokenVar>,
    argocd: Option<TokenVar>,
    forge: Option<TokenVar>,
    metrics: Option<TokenVar>,
}

impl Tokens {
    fn check(errors: &Errors<'_>, raw: &RawConfig) -> Result<Self, ConfigError> {
        let var = |key: &'static str, name: Option<&String>| -> Result<_, ConfigError> {
            let Some(name) = name else { return Ok(None) };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(errors.at(
                    "token_env",
                    key,
                    format!("{name:?} is not an environment variable name"),
                ));
            }
            Ok(Some(TokenVar {
                key,
                name: name.clone(),
            }))
        };
        Ok(Self {
            env_repo: var("env_repo.token_env", raw.env_repo.token_env.as_ref())?,
            argocd: var(
                "argocd.token_env",
                raw.argocd.as_ref().and_then(|a| a.token_env.as_ref()),
            )?,
            forge: var(
                "forge.token_env",
                raw.forge.as_ref().and_then(|f| f.token_env.as_ref()),
            )?,
            metrics: var(
                "metrics.token_env",
                raw.metrics.as_ref().and_then(|m| m.token_env.as_ref()),
            )?,
        })
    }
}

/// `env_repo.url`: a URL as is; a path relative to the config file's
/// directory.
fn repo_url(url: &str, base_dir: &Path) -> String {
    if url.contains("://") || Path::new(url).is_absolute() {
        return url.to_owned();
    }
    base_dir.join(url).display().to_string()
}

/// The JSON Schema of `baton.yaml`.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawConfig)).unwrap_or_default()
}
