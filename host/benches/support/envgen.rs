//! The generated env repo the env repo and promote benchmarks share: `apps`
//! apps x 3 stages of Helm values, one seed commit with every file, then
//! single-file promotions (every 50th a rollback with a `Baton-Rollback-Of`
//! trailer), one minute apart, until `commits`; repacked with bitmaps as a
//! forge keeps it. Also the seed's shell step Baton is compared against.

// Each bench that includes this module uses part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The stages of every app.
pub const STAGES: [&str; 3] = ["dev", "staging", "prod"];

/// Runs per measurement: the environment variable `var`, else `default`.
pub fn iters_from_env(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The name of app `i`.
pub fn app(i: usize) -> String {
    format!("app{i:04}")
}

/// The values file of `app` in `stage`.
pub fn stage_file(stage: &str, app: &str) -> String {
    format!("overlays/{stage}/{app}/values.yaml")
}

/// Runs git quietly in `dir` without the user's configuration; panics on
/// failure.
pub fn git(dir: &Path, args: &[&str]) {
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
    assert!(status.success(), "git {args:?} failed in {}", dir.display());
}

/// git's stdout, trimmed.
pub fn git_output(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The seed's `promote_dev` job: clone, edit with sed (its yq stand-in),
/// commit, push.
pub fn seed_shell_step(url: &str, dir: &Path, app: &str, version: &str) {
    let parent = dir.parent().expect("has parent");
    git(
        parent,
        &["clone", "--quiet", url, dir.to_str().expect("utf-8")],
    );
    let file = stage_file("dev", app);
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

/// The values file of `app` in `stage` at `tag`.
pub fn values(app: &str, stage: &str, tag: &str) -> String {
    format!(
        "# {app} ({stage}) values, managed by Baton\nreplicaCount: 2\n\nimage:\n  repository: ghcr.io/acme/{app}\n  # Set by the promotion pipeline.\n  tag: \"{tag}\"\n  pullPolicy: IfNotPresent\n\nservice:\n  type: ClusterIP\n  port: 8080\n"
    )
}

/// The generated repository of `apps` x 3 stages and `commits` commits
/// under `root`, generating it on first use.
pub fn cached_origin(root: &Path, apps: usize, commits: usize) -> PathBuf {
    let origin = root.join(format!("origin-{apps}x{}-{commits}.git", STAGES.len()));
    if !origin.join("packed-refs").exists() && !origin.join("refs/heads/main").exists() {
        let t = Instant::now();
        generate(&origin, apps, commits);
        println!("generated {} in {:.1?}", origin.display(), t.elapsed());
    }
    origin
}

/// Writes the env repo with `git fast-import`.
pub fn generate(origin: &Path, apps: usize, commits: usize) {
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
    let mut versions = vec![vec![0usize; STAGES.len()]; apps];
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
            let app = app(a);
            all.push((
                stage_file(stage, &app),
                values(&app, stage, &format!("v1.0.{}", app_versions[s])),
            ));
        }
    }
    commit(&mut input, "seed env repo\n", &all, t);
    for i in 1..commits {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let a = (rng % apps as u64) as usize;
        let s = ((rng >> 32) % STAGES.len() as u64) as usize;
        let app = app(a);
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
        commit(
            &mut input,
            &msg,
            &[(
                stage_file(STAGES[s], &app),
                values(&app, STAGES[s], &version),
            )],
            t,
        );
    }
    input.flush().expect("flush");
    drop(input);
    assert!(child.wait().expect("fast-import exits").success());
    // Bitmaps, as forges keep them: clones and fetches count objects fast.
    git(origin, &["repack", "-a", "-d", "-b", "-q"]);
}
