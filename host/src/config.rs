//! `baton.yaml`: the raw serde form (unknown keys rejected) and the
//! validated form with resolved paths, parsed durations and checked stages.
//!
//! Every error names the file, and where it can, the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::capabilities::git::FieldSpec;
use crate::engine::guardrails::Guardrails;

/// Default config file name.
pub const DEFAULT_PATH: &str = "baton.yaml";

/// `baton.yaml` as written.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The environment repository Argo CD deploys from.
    pub env_repo: RawEnvRepo,
    /// The Argo CD server.
    #[serde(default)]
    pub argocd: Option<RawArgocd>,
    /// The forge hosting the env repo (merge requests).
    #[serde(default)]
    pub forge: Option<RawForge>,
    /// The policy that makes every decision.
    #[serde(default)]
    pub policy: RawPolicy,
    /// Limits on what any policy may ask for.
    #[serde(default)]
    pub guardrails: RawGuardrails,
    /// Commit messages and authorship of Baton's commits.
    #[serde(default)]
    pub commit: RawCommit,
    /// Applications and their stages, in promotion order.
    pub apps: BTreeMap<String, RawApp>,
}

/// `env_repo:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvRepo {
    /// `https://`, `http://`, `file://` URL or a local path.
    pub url: String,
    /// Branch Argo CD deploys from.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// Name of the environment variable holding the token (never the token).
    #[serde(default)]
    pub token_env: Option<String>,
}

/// `argocd:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawArgocd {
    /// Server URL; the client adds `/api/v1/...`.
    pub url: String,
    /// Name of the environment variable holding the bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Skip TLS verification. Only for test servers; never in production.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// Which forge hosts the env repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// GitLab (REST v4).
    Gitlab,
    /// GitHub (REST).
    Github,
}

/// `forge:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawForge {
    /// `gitlab` or `github`.
    pub kind: ForgeKind,
    /// API root, e.g. `https://gitlab.example.com/api/v4` or `https://api.github.com`.
    pub api_url: String,
    /// GitLab project id or path; GitHub `owner/repo`.
    pub project: String,
    /// Name of the environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
}

/// `policy:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// `builtin:default` or a `.wasm` file relative to this config file.
    #[serde(default = "default_policy")]
    pub path: String,
    /// Optional sha256 pin of the component.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Settings handed to the policy.
    #[serde(default)]
    pub settings: serde_json::Value,
}

impl Default for RawPolicy {
    fn default() -> Self {
        Self {
            path: default_policy(),
            sha256: None,
            settings: serde_json::Value::Null,
        }
    }
}

/// `guardrails:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGuardrails {
    /// Stages a policy may change by direct commit.
    #[serde(default = "default_direct")]
    pub direct_commit_stages: Vec<String>,
    /// Stages whose merge requests a policy may auto-merge.
    #[serde(default)]
    pub auto_merge_stages: Vec<String>,
    /// Hard cap on any health gate, e.g. `30m`.
    #[serde(default = "default_max_wait")]
    pub max_health_wait: String,
}

impl Default for RawGuardrails {
    fn default() -> Self {
        Self {
            direct_commit_stages: default_direct(),
            auto_merge_stages: Vec::new(),
            max_health_wait: default_max_wait(),
        }
    }
}

/// `commit:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCommit {
    /// Message template; `{stage}`, `{app}`, `{version}` are replaced.
    #[serde(default)]
    pub message: Option<String>,
    /// Author name (default: CI user, else `Baton`).
    #[serde(default)]
    pub author_name: Option<String>,
    /// Author email (default: CI user's, else `baton@localhost`).
    #[serde(default)]
    pub author_email: Option<String>,
}

/// One app.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    /// Stages in promotion order.
    pub stages: Vec<RawStage>,
}

/// One stage.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    /// Stage name, e.g. `dev`.
    pub name: String,
    /// File in the env repo holding the version.
    pub file: String,
    /// Field kind and path, e.g. `helm:image.tag`.
    pub field: String,
    /// Argo CD application deploying this stage.
    pub argocd_app: String,
}

fn default_branch() -> String {
    "main".into()
}
fn default_policy() -> String {
    "builtin:default".into()
}
fn default_direct() -> Vec<String> {
    vec!["dev".into()]
}
fn default_max_wait() -> String {
    "30m".into()
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Directory relative paths resolve against.
    pub base_dir: PathBuf,
    /// The raw values (validated).
    pub raw: RawConfig,
    /// Parsed guardrails.
    pub guardrails: Guardrails,
    /// sha256 of the config file bytes, for the audit record.
    pub digest: String,
    /// The file's text, to point errors found later at their line.
    text: String,
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
    #[error("{}{}: {key}: {message}", .path.display(), line_suffix(*.line))]
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
        let invalid = |needle: &str, key: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: line_of(text, needle),
            key,
            message,
        };

        if raw.apps.is_empty() {
            return Err(invalid(
                "apps:",
                "apps".into(),
                "at least one app is required".into(),
            ));
        }
        let mut all_stages: Vec<&str> = Vec::new();
        for (app, spec) in &raw.apps {
            if spec.stages.is_empty() {
                return Err(invalid(
                    &format!("{app}:"),
                    format!("apps.{app}.stages"),
                    "at least one stage is required".into(),
                ));
            }
            let mut seen: Vec<&str> = Vec::new();
            for (i, stage) in spec.stages.iter().enumerate() {
                if seen.contains(&stage.name.as_str()) {
                    return Err(invalid(
                        &format!("name: {}", stage.name),
                        format!("apps.{app}.stages[{i}].name"),
                        format!("duplicate stage name {:?}", stage.name),
                    ));
                }
                seen.push(&stage.name);
                all_stages.push(&stage.name);
                if let Err(e) = stage.field.parse::<FieldSpec>() {
                    return Err(invalid(
                        &stage.field,
                        format!("apps.{app}.stages[{i}].field"),
                        e.to_string(),
                    ));
                }
            }
        }
        for (list, key) in [
            (&raw.guardrails.direct_commit_stages, "direct_commit_stages"),
            (&raw.guardrails.auto_merge_stages, "auto_merge_stages"),
        ] {
            if let Some(unknown) = list.iter().find(|s| !all_stages.contains(&s.as_str())) {
                return Err(invalid(
                    key,
                    format!("guardrails.{key}"),
                    format!(
                        "unknown stage {unknown:?}; stages are: {}",
                        dedup(&all_stages).join(", ")
                    ),
                ));
            }
        }
        let max_health_wait = parse_duration(&raw.guardrails.max_health_wait).ok_or_else(|| {
            invalid(
                "max_health_wait",
                "guardrails.max_health_wait".into(),
                format!(
                    "{:?} is not a duration like 90s, 10m or 1h30m",
                    raw.guardrails.max_health_wait
                ),
            )
        })?;
        if let Some(pin) = &raw.policy.sha256
            && crate::runtime::Digest::parse_pin(pin).is_err()
        {
            return Err(invalid(
                "sha256",
                "policy.sha256".into(),
                format!("{pin:?} is not a sha256 digest (64 hex digits)"),
            ));
        }
        for (key, name) in token_envs(&raw) {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(
                    "token_env",
                    key.into(),
                    format!("{name:?} is not an environment variable name"),
                ));
            }
        }
        if !(raw.policy.settings.is_null() || raw.policy.settings.is_object()) {
            return Err(invalid(
                "settings",
                "policy.settings".into(),
                "must be a mapping".into(),
            ));
        }

        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Self {
            path: path.to_path_buf(),
            base_dir,
            guardrails: Guardrails {
                direct_commit_stages: raw.guardrails.direct_commit_stages.clone(),
                auto_merge_stages: raw.guardrails.auto_merge_stages.clone(),
                max_health_wait,
            },
            digest: crate::runtime::Digest::of(text.as_bytes()).to_string(),
            text: text.to_owned(),
            raw,
        })
    }

    /// The stages of `app`, or an error listing the apps.
    pub fn app(&self, app: &str) -> Result<&RawApp, ConfigError> {
        self.raw.apps.get(app).ok_or_else(|| ConfigError::Invalid {
            path: self.path.clone(),
            line: 0,
            key: "apps".into(),
            message: format!(
                "no app {app:?}; configured apps: {}",
                self.raw.apps.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })
    }

    /// Checks that the token variable configured at `key` is set, when that
    /// system is used; returns its name.
    pub fn require_token(&self, key: &str, name: Option<&str>) -> Result<(), ConfigError> {
        let Some(name) = name else { return Ok(()) };
        if std::env::var_os(name).is_some_and(|v| !v.is_empty()) {
            return Ok(());
        }
        Err(ConfigError::Invalid {
            path: self.path.clone(),
            line: line_in_section(&self.text, key),
            key: key.into(),
            message: format!("environment variable {name} is not set"),
        })
    }
}

fn token_envs(raw: &RawConfig) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    if let Some(t) = &raw.env_repo.token_env {
        out.push(("env_repo.token_env", t.as_str()));
    }
    if let Some(t) = raw.argocd.as_ref().and_then(|a| a.token_env.as_deref()) {
        out.push(("argocd.token_env", t));
    }
    if let Some(t) = raw.forge.as_ref().and_then(|f| f.token_env.as_deref()) {
        out.push(("forge.token_env", t));
    }
    out
}

fn dedup<'a>(items: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for i in items {
        if !out.contains(i) {
            out.push(i);
        }
    }
    out
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

/// 1-based line of `section.field` (e.g. `argocd.token_env`): the first
/// line naming `field` after the top-level `section:` line; 0 when absent.
fn line_in_section(text: &str, dotted: &str) -> usize {
    let Some((section, field)) = dotted.split_once('.') else {
        return 0;
    };
    let header = format!("{section}:");
    let field = format!("{field}:");
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with(&header) {
            inside = true;
        } else if inside && !line.starts_with([' ', '\t', '#']) && !line.trim().is_empty() {
            inside = false;
        }
        if inside && line.trim_start().starts_with(&field) {
            return i + 1;
        }
    }
    0
}

/// 1-based line of the last occurrence of `needle` (0 when absent): a key
/// named in an error is usually its last mention (a duplicate, a bad value).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(0)
}

/// Parses `500ms`, `90s`, `10m`, `1h30m`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let step = match &rest[..unit] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(step)?;
        rest = &rest[unit..];
    }
    Some(total)
}

/// The JSON Schema of `baton.yaml`.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawConfig)).unwrap_or_default()
}
