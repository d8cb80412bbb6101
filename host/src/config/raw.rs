//! `baton.yaml` as written: the serde form, with unknown keys refused. Only
//! the parser in [`super`] reads it; everything else sees the typed
//! [`super::Config`]. The JSON Schema (`baton config schema`) is generated
//! from these types, so their doc comments are the schema's descriptions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{ForgeKind, MetricsKind, PromotionOrder};

/// `baton.yaml` as written.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    /// The environment repository Argo CD deploys from.
    pub(super) env_repo: RawEnvRepo,
    /// The Argo CD server.
    #[serde(default)]
    pub(super) argocd: Option<RawArgocd>,
    /// The forge hosting the env repo (merge requests).
    #[serde(default)]
    pub(super) forge: Option<RawForge>,
    /// The metrics server policies may query (`baton:policy/metrics`).
    #[serde(default)]
    pub(super) metrics: Option<RawMetrics>,
    /// The policy that makes every decision.
    #[serde(default)]
    pub(super) policy: RawPolicy,
    /// Limits on what any policy may ask for.
    #[serde(default)]
    pub(super) guardrails: RawGuardrails,
    /// Commit messages and authorship of Baton's commits.
    #[serde(default)]
    pub(super) commit: RawCommit,
    /// Audit records: signing, the key that verifies them, where they are kept.
    #[serde(default)]
    pub(super) audit: RawAudit,
    /// Applications and their stages, in promotion order.
    pub(super) apps: BTreeMap<String, RawApp>,
}

/// `env_repo:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEnvRepo {
    /// `https://`, `http://`, `file://` URL or a local path.
    pub(super) url: String,
    /// Branch Argo CD deploys from.
    #[serde(default = "default_branch")]
    pub(super) branch: String,
    /// Name of the environment variable holding the token (never the token).
    #[serde(default)]
    pub(super) token_env: Option<String>,
}

/// `argocd:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArgocd {
    /// Server URL; the client adds `/api/v1/...`.
    pub(super) url: String,
    /// Name of the environment variable holding the bearer token.
    #[serde(default)]
    pub(super) token_env: Option<String>,
    /// Skip TLS verification. Only for test servers; never in production.
    #[serde(default)]
    pub(super) insecure_skip_verify: bool,
}

/// `forge:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawForge {
    /// `gitlab` or `github`.
    pub(super) kind: ForgeKind,
    /// API root, e.g. `https://gitlab.example.com/api/v4` or `https://api.github.com`.
    pub(super) api_url: String,
    /// GitLab project id or path; GitHub `owner/repo`.
    pub(super) project: String,
    /// Name of the environment variable holding the token.
    #[serde(default)]
    pub(super) token_env: Option<String>,
}

/// `metrics:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    /// `prometheus`: the Prometheus HTTP API (`/api/v1/query`,
    /// `/api/v1/query_range`), also served by Thanos, Mimir and
    /// VictoriaMetrics.
    pub(super) kind: MetricsKind,
    /// Server URL, e.g. `https://prometheus.example.com`; the client adds
    /// `/api/v1/...` after any path prefix it has.
    pub(super) url: String,
    /// Name of the environment variable holding the bearer token.
    #[serde(default)]
    pub(super) token_env: Option<String>,
    /// How long one query may take, e.g. `30s`: sent to Prometheus as its
    /// `timeout` parameter and bounding the request.
    #[serde(default = "default_metrics_timeout")]
    pub(super) timeout: String,
}

/// `policy:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    /// `builtin:default` or a `.wasm` file relative to this config file.
    #[serde(default = "default_policy")]
    pub(super) path: String,
    /// Optional sha256 pin of the component.
    #[serde(default)]
    pub(super) sha256: Option<String>,
    /// Settings handed to the policy.
    #[serde(default)]
    pub(super) settings: serde_json::Value,
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
pub(super) struct RawGuardrails {
    /// Stages a policy may change by direct commit.
    #[serde(default = "default_direct")]
    pub(super) direct_commit_stages: Vec<String>,
    /// Stages whose merge requests a policy may auto-merge.
    #[serde(default)]
    pub(super) auto_merge_stages: Vec<String>,
    /// Hard cap on any health gate, e.g. `30m`.
    #[serde(default = "default_max_wait")]
    pub(super) max_health_wait: String,
    /// `strict` (default): a stage after the first may only be set to a
    /// version the stage before it holds or held (and did not roll back),
    /// read from the env repo; `off` turns the check off.
    #[serde(default)]
    pub(super) promotion_order: PromotionOrder,
}

impl Default for RawGuardrails {
    fn default() -> Self {
        Self {
            direct_commit_stages: default_direct(),
            auto_merge_stages: Vec::new(),
            max_health_wait: default_max_wait(),
            promotion_order: PromotionOrder::default(),
        }
    }
}

/// `commit:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCommit {
    /// Message template; `{stage}`, `{app}`, `{version}` are replaced.
    #[serde(default)]
    pub(super) message: Option<String>,
    /// Author name (default: CI user, else `Baton`).
    #[serde(default)]
    pub(super) author_name: Option<String>,
    /// Author email (default: CI user's, else `baton@localhost`).
    #[serde(default)]
    pub(super) author_email: Option<String>,
}

/// `audit:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    /// Name of the environment variable holding the Ed25519 signing key (the
    /// 32-byte seed as 64 hex digits); records are signed when it is set.
    #[serde(default)]
    pub(super) signing_key_env: Option<String>,
    /// The Ed25519 public key (64 hex digits) `baton audit verify` checks
    /// signatures with when `--public-key` is not given.
    #[serde(default)]
    pub(super) public_key: Option<String>,
    /// A directory holding the app's audit records (`<app>-<run id>.json`),
    /// relative to this file. When set, `advance` and `status` require a
    /// record for every change whose trailers name a Baton run.
    #[serde(default)]
    pub(super) records: Option<String>,
}

/// One app.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApp {
    /// Stages in promotion order.
    pub(super) stages: Vec<RawStage>,
}

/// One stage: written with one target (`file`, `field`, `value`,
/// `argocd_app`), or with several under `targets` (one promotion changes
/// every target in one commit or merge request, and the gate waits for every
/// target's Argo CD application).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    /// Stage name, e.g. `dev`.
    pub(super) name: String,
    /// File in the env repo holding the version (a stage without `targets`).
    #[serde(default)]
    pub(super) file: Option<String>,
    /// Field kind and path, e.g. `helm:image.tag` (a stage without
    /// `targets`).
    #[serde(default)]
    pub(super) field: Option<String>,
    /// What the field holds, when it is more than the version: a template
    /// with `{version}` and/or `{digest}`, e.g. `ghcr.io/acme/app:{version}`
    /// or `ghcr.io/acme/app@{digest}`. Default: `{digest}` for
    /// `kustomize:<image>:digest` and paths ending in `digest`, else
    /// `{version}`.
    #[serde(default)]
    pub(super) value: Option<String>,
    /// Argo CD application deploying this stage (a stage without `targets`).
    #[serde(default)]
    pub(super) argocd_app: Option<String>,
    /// The stage's targets, e.g. one per region, instead of `file`, `field`,
    /// `value` and `argocd_app`: each with its own file, field and Argo CD
    /// application, and a label unique within the stage.
    #[serde(default)]
    pub(super) targets: Option<Vec<RawTarget>>,
}

/// One target of a stage (`targets:`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    /// Label unique within the stage, e.g. `eu`: letters, digits, `.`, `_`,
    /// `-` (may be empty only when the stage has one target).
    #[serde(default)]
    pub(super) label: String,
    /// File in the env repo holding this target's version.
    pub(super) file: String,
    /// Field kind and path, e.g. `helm:image.tag`.
    pub(super) field: String,
    /// What the field holds, as a stage's `value`.
    #[serde(default)]
    pub(super) value: Option<String>,
    /// Argo CD application deploying this target.
    pub(super) argocd_app: String,
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
fn default_metrics_timeout() -> String {
    "30s".into()
}
