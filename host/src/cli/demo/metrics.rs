//! `baton demo --metrics`: the demo gated on metrics. A Prometheus
//! simulator answers each stage's error ratio and p95 latency, `baton.yaml`
//! gets a `metrics:` section, and the SLO policy (`builtin:slo`) bakes
//! every healthy stage for a few seconds before it moves on. `v1.0.1` goes
//! to prod as in the plain demo; `v1.0.2` is Healthy in Argo CD, but its
//! error ratio in dev climbs to 27%, so its bake rolls it back.

use std::time::Instant;

use super::{APP, Demo, STAGES, Stack, bad_release, failed, good_release};
use crate::cli::error::CommandError;
use crate::cli::output::OutputFormat;
use crate::sim::argocd::HealthStep;
use crate::sim::prometheus::{self as prometheus_sim, PromSimConfig, PromSimHandle, SimAnswer};

/// The policy of the metrics demo.
pub(super) const POLICY: &str = "builtin:slo";

/// The error ratio of a stage: 5xx responses over all responses.
const ERROR_RATIO: &str = r#"sum(rate(http_requests_total{job="{app}",env="{stage}",code=~"5.."}[1m])) / sum(rate(http_requests_total{job="{app}",env="{stage}"}[1m]))"#;

/// The 95th percentile of a stage's request latency, in seconds.
const P95_LATENCY: &str = r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="{app}",env="{stage}"}[1m])))"#;

/// A healthy stage's error ratio and p95 latency.
const HEALTHY_ERROR_RATIO: f64 = 0.004;
const HEALTHY_P95: f64 = 0.12;

/// What v1.0.2 does in dev: fails 27% of its requests.
const BAD_ERROR_RATIO: f64 = 0.27;

/// The SLO policy's settings: a 6-second bake checked every 2 seconds.
pub(super) fn settings() -> String {
    serde_json::json!({
        "bake": "6s",
        "interval": "2s",
        "health_timeout": "40s",
        "error_ratio": { "query": ERROR_RATIO, "max": 0.02 },
        "p95_latency": { "query": P95_LATENCY, "max": 0.4 },
    })
    .to_string()
}

/// A template as the policy expands it for `stage`.
fn query(template: &str, stage: &str) -> String {
    template.replace("{app}", APP).replace("{stage}", stage)
}

/// The simulator, every stage healthy.
pub(super) async fn spawn_prometheus() -> Result<PromSimHandle, CommandError> {
    let prometheus = prometheus_sim::spawn(PromSimConfig::default())
        .await
        .map_err(|e| failed(format!("cannot start the Prometheus simulator: {e}")))?;
    for stage in STAGES {
        prometheus.set(
            &query(ERROR_RATIO, stage),
            SimAnswer::value(HEALTHY_ERROR_RATIO),
        );
        prometheus.set(&query(P95_LATENCY, stage), SimAnswer::value(HEALTHY_P95));
    }
    Ok(prometheus)
}

/// After each sync: Progressing, then Healthy, re-reported every second
/// for a minute (as a controller's periodic reconciles do, only faster),
/// so the gate keeps hearing from a baking stage.
pub(super) fn argocd_script() -> Vec<HealthStep> {
    HealthStep::healthy_reports(600, 60)
}

/// The story: v1.0.1 to prod through three bakes, v1.0.2 rolled back by
/// its error ratio.
pub(super) async fn demo(
    root: &std::path::Path,
    stack: &Stack,
    format: OutputFormat,
    policy: &str,
    settings: &str,
) -> Result<(), CommandError> {
    let started = Instant::now();
    let prometheus = stack
        .prometheus
        .as_ref()
        .ok_or_else(|| failed("the metrics demo needs the Prometheus simulator"))?;
    let d = Demo::new(root, stack, format, policy, settings)?;
    d.say(&format!(
        "Baton demo with metrics: {APP} through dev, staging and prod; each healthy stage \
         bakes on its error ratio and p95 latency\n  \
         env repo    {}\n  Argo CD     {} (simulated)\n  GitLab      {} (simulated)\n  \
         Prometheus  {} (simulated)\n  policy      {policy}",
        stack.repo_url,
        stack.argocd.base_url(),
        stack.gitlab.api_url(),
        prometheus.base_url()
    ));
    good_release(&d).await?;
    slo_release(&d, prometheus).await?;
    d.status(8).await?;
    d.say(&format!(
        "\nDemo finished in {:.1}s: v1.0.1 is in prod after three clean bakes; v1.0.2 was \
         Healthy in Argo CD but failed {}% of its requests in dev, and was rolled back.\n\
         Audit records hold every PromQL query and answer; `baton policy replay` reproduces \
         each decision (keep them with --keep).",
        started.elapsed().as_secs_f64(),
        (BAD_ERROR_RATIO * 100.0).round()
    ));
    Ok(())
}

/// Steps 6 and 7: v1.0.2 breaches dev's error ratio during its bake and
/// is rolled back; the rollback commit is gated (and not baked).
async fn slo_release(d: &Demo, prometheus: &PromSimHandle) -> Result<(), CommandError> {
    let dev_errors = query(ERROR_RATIO, "dev");
    prometheus.set(&dev_errors, SimAnswer::value(BAD_ERROR_RATIO));
    bad_release(d, "fails a quarter of its requests", || {
        prometheus.set(&dev_errors, SimAnswer::value(HEALTHY_ERROR_RATIO));
    })
    .await
}
