//! Env repo benchmark: Baton's write path against the seed's shell step
//! (`git clone` + sed + `git commit` + `git push`), cold and warm, plus
//! history / last-good lookups, on a generated env repo of 1,000 apps x 3
//! stages with 20,000 commits. Prints medians and ratios.
//!
//! `cargo bench --bench envrepo` (set `ENVREPO_BENCH_ITERS` to change the
//! iteration count; the generated repo is cached under `target/tmp`).

use std::path::Path;
use std::time::{Duration, Instant};

use baton::capabilities::git::{
    CommitSettings, EnvRepo, OpenOptions, Provenance, RepoSource, StageField, Target, WriteRequest,
};

#[path = "support/envgen.rs"]
mod envgen;

use envgen::{STAGES, cached_origin, seed_shell_step};

const APPS: usize = 1000;
const COMMITS: usize = 20_000;

fn main() {
    let iters = envgen::iters_from_env("ENVREPO_BENCH_ITERS", 5);
    // Cargo's scratch space for benches, inside the target dir: the
    // generated repos survive between bench runs.
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("envrepo-bench");
    let origin = cached_origin(&root, APPS, COMMITS);
    let url = format!("file://{}", origin.display());
    let work = root.join("work");
    if std::env::var_os("ENVREPO_BENCH_PROFILE_HISTORY").is_some() {
        // Profiling aid: only the history lookups, on the warm cache of a previous run.
        let source = RepoSource { url, token: None };
        let mut repo =
            EnvRepo::open(&source, &OpenOptions::new(work.join("warm"), "main")).expect("open");
        let t = Instant::now();
        let n = repo
            .history("main", &stage_field("dev", "app0007"), None)
            .expect("history")
            .len();
        println!("history: {n} entries in {:.1?}", t.elapsed());
        let t = Instant::now();
        let good = repo
            .last_good("main", &stage_field("dev", "app0007"))
            .expect("last good");
        println!("last good: {good:?} in {:.1?}", t.elapsed());
        return;
    }
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let mut counter = 0usize;
    let mut next_version = || {
        counter += 1;
        (
            format!("app{:04}", (counter * 37) % APPS),
            format!("v9.{}.{counter}", std::process::id()),
        )
    };

    let mut seed = Vec::new();
    for i in 0..iters {
        let (app, version) = next_version();
        let dir = work.join(format!("seed{i}"));
        let t = Instant::now();
        seed_shell_step(&url, &dir, &app, &version);
        seed.push(t.elapsed());
        let _ = std::fs::remove_dir_all(&dir);
    }

    let settings = CommitSettings::default();
    let mut cold = Vec::new();
    let mut cold_full = Vec::new();
    for i in 0..iters {
        for (shallow, out) in [(true, &mut cold), (false, &mut cold_full)] {
            let (app, version) = next_version();
            let cache = work.join(format!("cold{i}-{shallow}"));
            let t = Instant::now();
            baton_write(&url, &cache, shallow, &app, &version, &settings);
            out.push(t.elapsed());
            let _ = std::fs::remove_dir_all(&cache);
        }
    }

    let warm_cache = work.join("warm");
    let (app, version) = next_version();
    baton_write(&url, &warm_cache, false, &app, &version, &settings);
    let mut warm = Vec::new();
    for _ in 0..iters * 2 {
        let (app, version) = next_version();
        let t = Instant::now();
        baton_write(&url, &warm_cache, false, &app, &version, &settings);
        warm.push(t.elapsed());
    }

    let source = RepoSource {
        url: url.clone(),
        token: None,
    };
    let mut repo = EnvRepo::open(&source, &OpenOptions::new(&warm_cache, "main")).expect("open");
    let stage = stage_field("dev", "app0007");
    let mut history = Vec::new();
    let mut last_good = Vec::new();
    let mut entries = 0;
    let mut good = None;
    for _ in 0..iters * 2 {
        let t = Instant::now();
        entries = repo.history("main", &stage, None).expect("history").len();
        history.push(t.elapsed());
        let t = Instant::now();
        good = repo.last_good("main", &stage).expect("last good");
        last_good.push(t.elapsed());
    }

    let (s, c, cf, w) = (
        median(&mut seed),
        median(&mut cold),
        median(&mut cold_full),
        median(&mut warm),
    );
    let (h, lg) = (median(&mut history), median(&mut last_good));
    println!(
        "env repo: {APPS} apps x {} stages, {COMMITS} commits; {iters} iterations (x2 for warm/history)",
        STAGES.len()
    );
    println!("seed shell step (clone+sed+commit+push): {s:>10.1?}");
    println!(
        "baton write, cold shallow cache:         {c:>10.1?}  ratio {:.3}",
        ratio(c, s)
    );
    println!(
        "baton write, cold full cache:            {cf:>10.1?}  ratio {:.3}",
        ratio(cf, s)
    );
    println!(
        "baton write, warm cache:                 {w:>10.1?}  ratio {:.3}",
        ratio(w, s)
    );
    println!("history of one stage over {COMMITS} commits: {h:>10.1?}  ({entries} entries)");
    println!("last good over {COMMITS} commits:             {lg:>10.1?}  ({good:?})");
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn stage_field(stage: &str, app: &str) -> StageField {
    StageField {
        file: format!("overlays/{stage}/{app}/values.yaml"),
        field: "helm:image.tag".parse().expect("valid field"),
    }
}

fn baton_write(
    url: &str,
    cache: &Path,
    shallow: bool,
    app: &str,
    version: &str,
    settings: &CommitSettings,
) {
    let source = RepoSource {
        url: url.to_owned(),
        token: None,
    };
    let mut options = OpenOptions::new(cache, "main");
    options.shallow = shallow;
    let mut repo = EnvRepo::open(&source, &options).expect("open");
    let req = WriteRequest {
        app: app.to_owned(),
        stage: "dev".into(),
        location: stage_field("dev", app),
        further: Vec::new(),
        version: version.to_owned(),
        target: Target::Branch,
        provenance: Provenance {
            policy_digest: Some("sha256:bench".into()),
            run_id: Some("bench".into()),
            rollback_of: None,
            digest: None,
        },
    };
    repo.write_version(&req, settings).expect("write");
}
