//! The gate's deadline is a hard deadline and SIGTERM ends a run
//! promptly, whatever Argo CD does: through the real binary against an
//! Argo CD simulator that answers slowly.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::env::{APP, ARGO_TOKEN, Env, FORGE_TOKEN, REPO_TOKEN, Setup, assert_code, stderr};

/// A promote of v1.0.1 started in the background.
fn spawn_promote(env: &Env) -> Child {
    crate::support::baton(env.dir())
        .args(["promote", "--app", APP, "--tag", "v1.0.1", "--cache-dir"])
        .arg(env.dir().join("cache"))
        .env("ENV_REPO_TOKEN", REPO_TOKEN)
        .env("ARGOCD_TOKEN", ARGO_TOKEN)
        .env("GITLAB_TOKEN", FORGE_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_slow_argo_cd_ends_the_gate_at_its_deadline_with_a_gate_timeout() {
    // Every Argo CD answer takes 6 s; the gate allows 3 s.
    let env = Env::new(Setup {
        policy: "  path: builtin:default\n  settings: { health_timeout: 3s }\n".into(),
        argocd_delay_ms: 6_000,
        ..Setup::default()
    });
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]);
    // The default policy rolls dev back on a gate timeout and fails.
    assert_code(&out, 1);
    let record = &env.audit_records()[0];
    let gate = &record["gates"][0];
    assert_eq!(gate["result"], "timed_out", "{gate}");
    assert_eq!(gate["timeout_ms"], 3000);
    // The gate ended at its deadline, not when Argo CD finally answered.
    let elapsed = gate["elapsed_ms"].as_u64().unwrap();
    assert!(elapsed < 3000 + 1000, "the gate ran {elapsed} ms");
    let timeout_event = record["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event"].get("GateTimeout").is_some());
    assert!(
        timeout_event.is_some(),
        "the policy got no gate-timeout event"
    );
    assert_eq!(record["outcome"]["rolled_back"], true);
    assert!(env.file("dev").contains("tag: \"v1.0.0\""));
}

#[test]
fn sigterm_ends_a_run_blocked_on_a_slow_request_and_records_it_cancelled() {
    // Argo CD takes a minute to answer: the check before writing waits.
    let env = Env::new(Setup {
        argocd_delay_ms: 60_000,
        ..Setup::default()
    });
    let before = env.fingerprint();
    let child = spawn_promote(&env);
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    // Far less than the request's own 30 s timeout and its retries.
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "baton took {:?} to stop",
        sent.elapsed()
    );
    assert_code(&out, 1);
    assert!(stderr(&out).contains("cancelled"), "{}", stderr(&out));
    let record = &env.audit_records()[0];
    assert_eq!(record["outcome"]["status"], "cancelled");
    assert_eq!(env.fingerprint(), before);
}
