//! Policy runtime benchmark: cold load (read + compile + instantiate for
//! metadata), load from the compilation cache, and warm decide of the
//! default policy in Rust, Python and JavaScript.
//!
//! `cargo bench --bench runtime`. Prints medians and p95; goals on a
//! 2-core machine: Rust cold load <= 100 ms and warm decide <= 50 us
//! median; any policy (an 18 MB Python one included) <= 100 ms from the
//! cache. The Python and JS ports are measured when their `policy.wasm` is
//! built (`policies/python/default/build.sh`, `policies/js/default/build.sh`)
//! and skipped with a message otherwise.

use std::time::{Duration, Instant};

use baton::runtime::{
    Context, Event, Limits, NewVersion, NoWorld, PolicyRuntime, PolicySource, Stage,
};

/// Paths of the components `build.rs` built (test and bench only).
mod policies {
    include!(concat!(env!("OUT_DIR"), "/test_policies.rs"));
}

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let p95 = samples[(samples.len() * 95 / 100).min(samples.len() - 1)];
    (median, p95)
}

fn context() -> Context {
    let stage = |name: &str, direct| Stage {
        name: name.into(),
        file: format!("overlays/{name}/payments/values.yaml"),
        field: "helm:image.tag".into(),
        argocd_app: format!("payments-{name}"),
        direct_commit_allowed: direct,
        auto_merge_allowed: false,
        targets: Vec::new(),
    };
    Context {
        app: "payments".into(),
        stages: vec![
            stage("dev", true),
            stage("staging", false),
            stage("prod", false),
        ],
        settings: r#"{"health_timeout":"10m"}"#.into(),
        run_id: "bench".into(),
        max_health_wait: 1_800_000,
        dry_run: false,
    }
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf();
    bench(
        "Rust",
        PolicySource::File(policies::DEFAULT_PATH.into()),
        5000,
    );
    for (language, dir) in [("Python", "python"), ("JavaScript", "js")] {
        let path = root.join("policies").join(dir).join("default/policy.wasm");
        if path.is_file() {
            bench(language, PolicySource::File(path), 300);
        } else {
            println!(
                "{language}: skipped, {} is not built (run policies/{dir}/default/build.sh)",
                path.display()
            );
        }
    }
}

/// Measures one policy; `warm_samples` decide calls after a warm-up.
fn bench(language: &str, source: PolicySource, warm_samples: usize) {
    println!("{language} ({source}):");
    let mut cold = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let runtime = PolicyRuntime::new(Limits::default(), None).expect("runtime");
        let policy = runtime.load(&source, None).expect("load");
        cold.push(start.elapsed());
        drop(policy);
    }
    let (median, p95) = stats(cold);
    println!("  cold load (engine + read + compile + instantiate): median {median:?}, p95 {p95:?}");

    let cache = std::env::temp_dir().join(format!(
        "baton-bench-cache-{}-{language}",
        std::process::id()
    ));
    let runtime = PolicyRuntime::new(Limits::default(), Some(cache.clone())).expect("runtime");
    runtime.load(&source, None).expect("warm the cache");
    let mut cached = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let policy = runtime.load(&source, None).expect("load");
        cached.push(start.elapsed());
        assert!(policy.from_cache);
    }
    let (median, p95) = stats(cached);
    println!("  load from the compilation cache: median {median:?}, p95 {p95:?}");
    let _ = std::fs::remove_dir_all(cache);

    let policy = runtime.load(&source, None).expect("load");
    let ctx = context();
    let event = Event::NewVersion(NewVersion {
        version: "v1.2.3".into(),
        digest: None,
    });
    let mut world: Box<dyn baton::runtime::World> = Box::new(NoWorld);
    for _ in 0..warm_samples / 10 {
        let (decided, w) = policy.decide(world, &ctx, &event);
        world = w;
        assert!(decided.result.is_ok());
    }
    let mut warm = Vec::new();
    for _ in 0..warm_samples {
        let start = Instant::now();
        let (decided, w) = policy.decide(world, &ctx, &event);
        warm.push(start.elapsed());
        world = w;
        assert!(matches!(decided.result, Ok(Ok(_))));
    }
    let (median, p95) = stats(warm);
    println!("  warm decide (fresh store + instantiate + call): median {median:?}, p95 {p95:?}");
}
