//! Gate latency: the simulator flips an application to Healthy at a random
//! moment; measure the time from that flip to the gate passing. Prints the
//! median and p95 for the watch stream and, for comparison, for polling.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use baton::capabilities::argocd::{AppRef, ArgoCdClient, ArgoCdConfig};
use baton::engine::gate::{GateOutcome, GateSpec, Observation, Verdict, wait_for_health};
use baton::secret::Secret;
use baton::sim::argocd::{SimApp, SimConfig, spawn};
use tokio::time::Instant;

const FILE: &str = "values.yaml";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn commit(dir: &Path, version: &str) -> String {
    std::fs::write(dir.join(FILE), format!("image:\n  tag: {version}\n")).expect("write");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", version]);
    git(dir, &["rev-parse", "HEAD"])
}

/// xorshift64*: enough randomness for flip times, no extra crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

async fn one_run(repo: &Path, run: usize, progress_ms: u64, poll: Option<Duration>) -> Duration {
    let mut app = SimApp::new("payments-dev", FILE);
    app.sync_delay_ms = 20;
    app.sync_duration_ms = 20;
    app.progress_ms = progress_ms;
    let mut config = SimConfig::new(repo);
    config.poll_interval_ms = 20;
    config.apps = vec![app];
    let sim = spawn(config).await.expect("simulator starts");
    let mut client_config =
        ArgoCdConfig::new(sim.base_url(), Secret::new("unused"), "ARGOCD_AUTH_TOKEN");
    if let Some(interval) = poll {
        sim.faults().set_stream_unavailable(true);
        client_config.poll_interval = interval;
    }
    let client = ArgoCdClient::new(client_config).expect("client");

    let pushed_at = SystemTime::now();
    let sha = commit(repo, &format!("v1.0.{run}"));
    let mut source = client.watch(AppRef::named("payments-dev"));
    let spec = GateSpec {
        label: "payments-dev".into(),
        expected_commit: sha.clone(),
        pushed_at,
        max_wait: Duration::from_secs(60),
        progress_every: Duration::from_secs(60),
    };
    let mut passed_at = None;
    let outcome = wait_for_health(
        &mut source,
        &spec,
        |rev| rev == sha,
        |obs: &Observation| {
            if obs.status.health.status.as_str() == "Healthy"
                && obs.status.sync.status.as_str() == "Synced"
            {
                passed_at = Some(Instant::now());
                Verdict::Done(())
            } else {
                Verdict::KeepWaiting
            }
        },
        &mut Vec::new(),
    )
    .await
    .expect("gate runs");
    assert!(
        matches!(outcome, GateOutcome::Decided { .. }),
        "{outcome:?}"
    );
    let flipped = sim.healthy_since("payments-dev").expect("healthy");
    let latency = passed_at
        .expect("passed")
        .saturating_duration_since(flipped);
    sim.shutdown().await;
    latency
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name}: n={} median={:.1} ms p95={:.1} ms min={:.1} ms max={:.1} ms",
        samples.len(),
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.95).as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    commit(repo, "v0.0.0");
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut rng = Rng(seed);
    runtime.block_on(async {
        let mut stream = Vec::new();
        for run in 0..30 {
            let progress = 100 + rng.next() % 900;
            stream.push(one_run(repo, run, progress, None).await);
        }
        report("watch stream (flip -> gate pass)", stream);
        let mut polled = Vec::new();
        for run in 30..40 {
            let progress = 100 + rng.next() % 900;
            polled.push(one_run(repo, run, progress, Some(Duration::from_secs(1))).await);
        }
        report("polling every 1 s, stream unavailable", polled);
    });
}
