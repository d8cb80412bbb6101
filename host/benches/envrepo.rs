//! Env repo benchmark: Baton's write path against the seed's shell step
//! (`git clone` + sed + `git commit` + `git push`), cold and warm, plus
//! history / last-good lookups, on a generated env repo of 1,000 apps x 3
//! stages with 20,000 commits. Prints medians and ratios.
//!
//! `cargo bench --bench envrepo` (set `ENVREPO_BENCH_ITERS` to change the
//! iteration count; the generated repo is cached under the target dir).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use baton::capabilities::git::{
    CommitSettings, EnvRepo, OpenOptions, Provenance, RepoSource, StageField, Target, WriteRequest,
};

const APPS: usize = 1000;
const STAGES: [&str; 3] = ["dev", "staging", "prod"];
const COMMITS: usize = 20_000;

fn main() {
    let iters: usize = std::env::var("ENVREPO_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let target =
        std::env::var("CARGO_TARGET_DIR").map_or_else(|_| PathBuf::from("target"), PathBuf::from);
    let root = std::path::absolute(target.join("envrepo-bench")).expect("absolute path");
    let origin = root.join(format!("origin-{APPS}x{}-{COMMITS}.git", STAGES.len()));
    if !origin.join("packed-refs").exists() && !origin.join("refs/heads/main").exists() {
        let t = Instant::now();
        generate(&origin);
        println!("generated {} in {:.1?}", origin.display(), t.elapsed());
    }
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

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "ci-bot")
        .env("GIT_AUTHOR_EMAIL", "ci@acme")
        .env("GIT_COMMITTER_NAME", "ci-bot")
        .env("GIT_COMMITTER_EMAIL", "ci@acme")
        .stdout(Stdio::null())
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

/// The seed's `promote_dev` job: clone, edit with sed (its yq stand-in),
/// commit, push.
fn seed_shell_step(url: &str, dir: &Path, app: &str, version: &str) {
    let parent = dir.parent().expect("has parent");
    git(
        parent,
        &["clone", "--quiet", url, dir.to_str().expect("utf-8")],
    );
    let file = format!("overlays/dev/{app}/values.yaml");
    let status = Command::new("sed")
        .current_dir(dir)
        .args(["-i", &format!("s/^  tag: .*/  tag: \"{version}\"/"), &file])
        .status()
        .expect("sed runs");
    assert!(status.success());
    git(
        dir,
        &[
            "commit",
            "--quiet",
            "-am",
            &format!("dev({app}): {version}"),
        ],
    );
    git(dir, &["push", "--quiet", "origin", "HEAD:main"]);
}

fn values(app: &str, stage: &str, tag: &str) -> String {
    format!(
        "# {app} ({stage}) values, managed by Baton\nreplicaCount: 2\n\nimage:\n  repository: ghcr.io/acme/{app}\n  # Set by the promotion pipeline.\n  tag: \"{tag}\"\n  pullPolicy: IfNotPresent\n\nservice:\n  type: ClusterIP\n  port: 8080\n"
    )
}

/// Writes the env repo with `git fast-import`: one seed commit with every
/// file, then single-file promotions (every 50th a rollback with a
/// `Baton-Rollback-Of` trailer) until `COMMITS`.
fn generate(origin: &Path) {
    let parent = origin.parent().expect("has parent");
    std::fs::create_dir_all(parent).expect("bench dir");
    let _ = std::fs::remove_dir_all(origin);
    git(
        parent,
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            origin.to_str().expect("utf-8"),
        ],
    );
    let mut child = Command::new("git")
        .current_dir(origin)
        .args(["fast-import", "--quiet"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import runs");
    let mut input = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
    let mut versions = vec![vec![0usize; STAGES.len()]; APPS];
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut t = 1_700_000_000u64;
    let commit = |input: &mut dyn Write, msg: &str, files: &[(String, String)], t: u64| {
        writeln!(input, "commit refs/heads/main").expect("write");
        writeln!(input, "committer Baton <baton@localhost> {t} +0000").expect("write");
        writeln!(input, "data {}\n{msg}", msg.len()).expect("write");
        for (path, content) in files {
            writeln!(
                input,
                "M 100644 inline {path}\ndata {}\n{content}",
                content.len()
            )
            .expect("write");
        }
        writeln!(input).expect("write");
    };
    let mut all = Vec::new();
    for (a, app_versions) in versions.iter().enumerate() {
        for (s, stage) in STAGES.iter().enumerate() {
            let app = format!("app{a:04}");
            all.push((
                format!("overlays/{stage}/{app}/values.yaml"),
                values(&app, stage, &format!("v1.0.{}", app_versions[s])),
            ));
        }
    }
    commit(&mut input, "seed env repo\n", &all, t);
    for i in 1..COMMITS {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let a = (rng % APPS as u64) as usize;
        let s = ((rng >> 32) % STAGES.len() as u64) as usize;
        let app = format!("app{a:04}");
        let (version, msg) = if i % 50 == 0 && versions[a][s] > 0 {
            let bad = versions[a][s];
            versions[a][s] -= 1;
            let v = format!("v1.0.{}", versions[a][s]);
            let m = format!(
                "{}({app}): {v}\n\nBaton-Run: gen-{i}\nBaton-Rollback-Of: v1.0.{bad}\n",
                STAGES[s]
            );
            (v, m)
        } else {
            versions[a][s] += 1;
            let v = format!("v1.0.{}", versions[a][s]);
            let m = format!("{}({app}): {v}\n\nBaton-Run: gen-{i}\n", STAGES[s]);
            (v, m)
        };
        t += 60;
        let path = format!("overlays/{}/{app}/values.yaml", STAGES[s]);
        commit(
            &mut input,
            &msg,
            &[(path, values(&app, STAGES[s], &version))],
            t,
        );
    }
    input.flush().expect("flush");
    drop(input);
    assert!(child.wait().expect("fast-import exits").success());
    // Bitmaps, as forges keep them: clones and fetches count objects fast.
    git(origin, &["repack", "-a", "-d", "-b", "-q"]);
}
