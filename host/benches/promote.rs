//! The benchmark of the command users run: the release `baton promote`
//! end to end (policy, dev commit, health gate against `baton sim argocd`
//! with no sync delay, staging merge request against `baton sim gitlab`)
//! against the seed's shell step (`git clone` + `sed` + `git commit` +
//! `git push`), on generated env repos of 1,000 apps x 3 stages with
//! 20,000 and 200,000 commits (generated once, cached under the target
//! dir). Runs alternate with the seed's step; it prints medians, ratios and
//! peak RSS for a cold and a warm cache, 20 concurrent promotes from one
//! cold cache (a new cache each round, set against one cold promote run
//! right before it, as the seed's step alternates with Baton's; with the
//! CPU the jobs and the simulators used, and the wall-time floor that CPU
//! sets on this machine's cores), last-good lookups (library) and `baton rollback`
//! (cold and warm), and how fetching history by `--deepen`,
//! `--shallow-since` and a `--filter=blob:none` clone compare.
//!
//! `cargo bench --bench promote`. `PROMOTE_BENCH_ITERS` (default 5) sets
//! the runs per measurement, `PROMOTE_BENCH_SIZES` (default
//! `20000,200000`) the repos.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use baton::capabilities::git::{EnvRepo, OpenOptions, RepoSource, StageField};

#[path = "support/envgen.rs"]
mod envgen;

use envgen::{app, cached_origin, git, git_output, seed_shell_step, stage_file};

const BATON: &str = env!("CARGO_BIN_EXE_baton");
const APPS: usize = 1000;
/// Apps the promotes use (and the Argo CD simulator watches).
const POOL: usize = 20;
const CONCURRENT: usize = 20;

fn main() {
    let iters = envgen::iters_from_env("PROMOTE_BENCH_ITERS", 5);
    let sizes: Vec<usize> = std::env::var("PROMOTE_BENCH_SIZES")
        .unwrap_or_else(|_| "20000,200000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    // Cargo's scratch space for benches, inside the target dir: the
    // generated repos survive between bench runs.
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("promote-bench");
    let mut results = Vec::new();
    for (n, &commits) in sizes.iter().enumerate() {
        let origin = cached_origin(&root, APPS, commits);
        let result = Bench::new(&root, &origin, commits).run(iters);
        result.print();
        if n == 0 {
            strategies(&root, &origin, iters.min(3));
        }
        results.push(result);
    }
    if let [small, large, ..] = results.as_slice() {
        growth(small, large);
    }
    for &commits in &sizes {
        remove_seed_checkouts(&root.join(format!("work-{commits}")));
    }
}

/// Removes the seed's working copies, once every measurement is done.
/// Removing a 3,000-file checkout right after its run left ext4 scanning
/// the freed inodes (`recently_deleted`) on every file created for minutes
/// after, which doubled the CPU of the concurrent round that followed: the
/// harness's own deletions, not the command measured.
fn remove_seed_checkouts(work: &Path) {
    let Ok(entries) = std::fs::read_dir(work) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("seed-") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// One finished `baton` or seed run.
struct Run {
    wall: Duration,
    rss_kb: Option<u64>,
    /// User plus system time (of the process and the git it ran).
    cpu: Option<Duration>,
}

/// What one repo size measured.
#[derive(Default)]
struct Results {
    commits: usize,
    seed_cold: Vec<Duration>,
    cold: Vec<Duration>,
    cold_rss: Vec<u64>,
    cold_cpu: Vec<Duration>,
    seed_warm: Vec<Duration>,
    warm: Vec<Duration>,
    warm_rss: Vec<u64>,
    concurrent: Vec<Duration>,
    /// One cold promote run right before each round: the round's yardstick
    /// under the same machine conditions (this VM's speed drifts over a run).
    concurrent_single: Vec<Duration>,
    concurrent_cpu: Vec<Duration>,
    /// What the simulators used in each round (none off Linux).
    concurrent_sims_cpu: Vec<Duration>,
    /// Promotes that landed, in the run with fewest.
    concurrent_landed: usize,
    last_good_first: Duration,
    last_good_warm: Vec<Duration>,
    last_good_cold: Vec<Duration>,
    cold_cached_commits: Vec<usize>,
    cold_stayed_shallow: usize,
    rollback_cold: Vec<Duration>,
    rollback_cold_host: Vec<Duration>,
    rollback_warm: Vec<Duration>,
    rollback_warm_host: Vec<Duration>,
}

/// The simulators, as `baton sim` processes; killed when dropped.
struct Sims {
    children: Vec<Child>,
    argocd: String,
    gitlab: String,
}

impl Drop for Sims {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Sims {
    /// The CPU time the simulators, and the git processes they waited for,
    /// have used so far (`/proc/<pid>/stat`); `None` where there is no
    /// `/proc`.
    fn cpu(&self) -> Option<Duration> {
        let mut ticks = 0;
        for child in &self.children {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).ok()?;
            // After the command name: state is field 3, so utime, stime,
            // cutime and cstime (fields 14 to 17) are 11 to 14 here.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            for field in &fields[11..15] {
                ticks += field.parse::<u64>().ok()?;
            }
        }
        Some(Duration::from_millis(ticks * 1000 / clock_ticks()))
    }
}

/// Clock ticks per second, for `/proc` times (`getconf CLK_TCK`, else 100).
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&hz| hz > 0)
        .unwrap_or(100)
}

/// Starts `baton sim ARGS` and returns it with the URL it listens on.
fn sim(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BATON)
        .arg("sim")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("baton sim starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reads the first line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    (child, url)
}

/// One repo size: a working copy of the generated repo, the simulators
/// over it, a `baton.yaml`, and fresh tags.
struct Bench {
    commits: usize,
    work: PathBuf,
    bare: PathBuf,
    url: String,
    config: PathBuf,
    pool: Vec<String>,
    counter: usize,
    sims: Sims,
}

impl Bench {
    fn new(root: &Path, origin: &Path, commits: usize) -> Self {
        let work = root.join(format!("work-{commits}"));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).expect("work dir");
        let bare = work.join("env.git");
        // A copy: every run pushes, and the generated repo stays as made.
        let status = Command::new("cp")
            .arg("-a")
            .arg(origin)
            .arg(&bare)
            .status()
            .expect("cp runs");
        assert!(status.success());
        let pool: Vec<String> = (0..POOL).map(|i| app(i * 37 % APPS)).collect();
        let mut scenario = String::from("poll_interval_ms: 50\napps:\n");
        for a in &pool {
            scenario.push_str(&format!(
                "  - {{ name: {a}-dev, file: {}, field: image.tag, sync_delay_ms: 0, \
                 sync_duration_ms: 0, progress_ms: 0 }}\n",
                stage_file("dev", a)
            ));
        }
        let scenario_path = work.join("argocd.yaml");
        std::fs::write(&scenario_path, scenario).expect("scenario");
        let repo = bare.to_str().expect("utf-8");
        let (argo, argocd) = sim(&[
            "argocd",
            "--repo",
            repo,
            "--scenario",
            scenario_path.to_str().expect("utf-8"),
        ]);
        let (lab, gitlab) = sim(&["gitlab", "--repo", repo, "--project", "acme/env"]);
        let sims = Sims {
            children: vec![argo, lab],
            argocd,
            gitlab,
        };
        let url = format!("file://{}", bare.display());
        let config = work.join("baton.yaml");
        let mut yaml = format!(
            "env_repo:\n  url: {url}\n  branch: main\nargocd:\n  url: {}\n\
             forge:\n  kind: gitlab\n  api_url: {}\n  project: acme/env\n\
             policy:\n  path: builtin:default\n  settings: {{ health_timeout: 2m }}\n\
             guardrails:\n  direct_commit_stages: [dev]\n  auto_merge_stages: []\n  \
             max_health_wait: 5m\napps:\n",
            sims.argocd, sims.gitlab
        );
        for a in &pool {
            yaml.push_str(&format!("  {a}:\n    stages:\n"));
            for stage in envgen::STAGES {
                yaml.push_str(&format!(
                    "      - {{ name: {stage}, file: {}, field: \"helm:image.tag\", argocd_app: {a}-{stage} }}\n",
                    stage_file(stage, a)
                ));
            }
        }
        std::fs::write(&config, yaml).expect("config");
        Self {
            commits,
            work,
            bare,
            url,
            config,
            pool,
            counter: 0,
            sims,
        }
    }

    /// The next pool app and a version nobody used yet.
    fn next(&mut self) -> (String, String) {
        self.counter += 1;
        (
            self.pool[self.counter % POOL].clone(),
            format!("v9.{}.{}", self.commits, self.counter),
        )
    }

    /// `baton ARGS` over the cache at `cache`, under `/usr/bin/time` when
    /// there is one; panics unless it exits 0.
    fn baton(&self, args: &[&str], cache: &Path, audit: Option<&Path>) -> Run {
        self.baton_command(args, cache, audit).finish()
    }

    fn baton_command(&self, args: &[&str], cache: &Path, audit: Option<&Path>) -> Timed {
        let rss = self.work.join(format!("rss-{}", next_id()));
        let time = Path::new("/usr/bin/time");
        let mut cmd = if time.exists() {
            let mut cmd = Command::new(time);
            cmd.args(["-f", "%M %U %S", "-o"]).arg(&rss).arg(BATON);
            cmd
        } else {
            Command::new(BATON)
        };
        cmd.args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--cache-dir")
            .arg(cache)
            .current_dir(&self.work)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.work)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(audit) = audit {
            cmd.arg("--audit-log").arg(audit);
        }
        Timed {
            started: Instant::now(),
            child: Some(cmd.spawn().expect("baton starts")),
            rss,
            what: args.join(" "),
        }
    }

    fn seed(&mut self) -> Run {
        let (app, version) = self.next();
        let dir = self.work.join(format!("seed-{}", self.counter));
        let started = Instant::now();
        seed_shell_step(&self.url, &dir, &app, &version);
        let wall = started.elapsed();
        // Kept until the end: see `remove_seed_checkouts`.
        Run {
            wall,
            rss_kb: None,
            cpu: None,
        }
    }

    fn promote(&mut self, cache: &Path) -> Run {
        let (app, version) = self.next();
        self.baton(&["promote", "--app", &app, "--tag", &version], cache, None)
    }

    fn run(mut self, iters: usize) -> Results {
        let mut r = Results {
            commits: self.commits,
            ..Results::default()
        };
        println!(
            "\n== {APPS} apps x 3 stages, {} commits ({}); {iters} runs each",
            self.commits, self.url
        );
        for i in 0..iters {
            r.seed_cold.push(self.seed().wall);
            let cache = self.work.join(format!("cold-{i}"));
            let run = self.promote(&cache);
            r.cold.push(run.wall);
            r.cold_rss.extend(run.rss_kb);
            r.cold_cpu.extend(run.cpu);
            let _ = std::fs::remove_dir_all(&cache);
        }
        let warm = self.work.join("warm");
        self.promote(&warm);
        for _ in 0..iters {
            r.seed_warm.push(self.seed().wall);
            let run = self.promote(&warm);
            r.warm.push(run.wall);
            r.warm_rss.extend(run.rss_kb);
        }
        r.concurrent_landed = CONCURRENT;
        for round in 0..iters {
            self.concurrent(&mut r, round);
        }
        self.last_good(&mut r, &warm, iters);
        self.rollbacks(&mut r, &warm, iters);
        r
    }

    /// One cold promote, then 20 promotes of 20 apps at once from one cold
    /// cache root (a new one each round): all must land, one commit each on
    /// a linear main.
    fn concurrent(&mut self, r: &mut Results, round: usize) {
        let single = self.work.join(format!("concurrent-single-{round}"));
        r.concurrent_single.push(self.promote(&single).wall);
        let _ = std::fs::remove_dir_all(&single);
        let before: usize = git_output(&self.bare, &["rev-list", "--count", "main"])
            .parse()
            .expect("count");
        let cache = self.work.join(format!("concurrent-{round}"));
        let mut runs = Vec::new();
        let sims_before = self.sims.cpu();
        let started = Instant::now();
        for i in 0..CONCURRENT {
            self.counter += 1;
            let app = self.pool[i % POOL].clone();
            let version = format!("v9.{}.{}", self.commits, self.counter);
            let timed =
                self.baton_command(&["promote", "--app", &app, "--tag", &version], &cache, None);
            runs.push((app, version, timed));
        }
        let mut cpu = Duration::ZERO;
        for (_, _, timed) in runs.iter_mut() {
            cpu += timed.wait_and_account().cpu.unwrap_or_default();
        }
        r.concurrent.push(started.elapsed());
        r.concurrent_cpu.push(cpu);
        if let (Some(before), Some(after)) = (sims_before, self.sims.cpu()) {
            r.concurrent_sims_cpu.push(after.saturating_sub(before));
        }
        let after: usize = git_output(&self.bare, &["rev-list", "--count", "main"])
            .parse()
            .expect("count");
        let merges = git_output(&self.bare, &["rev-list", "--merges", "--count", "main"]);
        assert_eq!(merges, "0", "main must stay linear");
        assert_eq!(after - before, CONCURRENT, "one commit per promote");
        let landed = runs
            .iter()
            .filter(|(app, version, _)| {
                let text = git_output(
                    &self.bare,
                    &["show", &format!("main:{}", stage_file("dev", app))],
                );
                text.contains(&format!("tag: \"{version}\""))
            })
            .count();
        r.concurrent_landed = r.concurrent_landed.min(landed);
    }

    /// Last-good lookups through the library, each from a fresh handle
    /// (a new process's view; lookup time after the open): on the warm
    /// cache, the first lookup (which deepens what the promotes left
    /// shallow and learns the changed-path index) then lookups of other
    /// stages; on a fresh shallow cache each.
    fn last_good(&self, r: &mut Results, warm: &Path, iters: usize) {
        let source = RepoSource {
            url: self.url.clone(),
            token: None,
        };
        let mut options = OpenOptions::new(warm.join("repos"), "main");
        options.shallow = true;
        let fields: Vec<StageField> = (0..iters.max(3) + 1)
            .map(|i| dev_field(&app(100 + i * 131 % APPS)))
            .collect();
        for (i, field) in fields.iter().enumerate() {
            let mut repo = EnvRepo::open(&source, &options).expect("opens the warm cache");
            let t = Instant::now();
            repo.last_good("main", field).expect("last good");
            if i == 0 {
                r.last_good_first = t.elapsed();
            } else {
                r.last_good_warm.push(t.elapsed());
            }
        }
        let fields = &fields[1..];
        for (i, field) in fields.iter().enumerate() {
            let cache = self.work.join(format!("lg-cold-{i}"));
            let mut options = OpenOptions::new(&cache, "main");
            options.shallow = true;
            let mut repo = EnvRepo::open(&source, &options).expect("opens");
            let t = Instant::now();
            repo.last_good("main", field).expect("last good");
            r.last_good_cold.push(t.elapsed());
            let dir = repo.cache_dir().to_owned();
            if dir.join("shallow").exists() {
                r.cold_stayed_shallow += 1;
            }
            let cached: usize =
                git_output(&dir, &["rev-list", "--count", "refs/remotes/origin/main"])
                    .parse()
                    .expect("count");
            r.cold_cached_commits.push(cached);
            let _ = std::fs::remove_dir_all(&cache);
        }
    }

    /// `baton rollback --stage dev` (the policy looks up the last good
    /// version), on a cold and on the warm cache; the audit record tells
    /// how long its history reads took.
    fn rollbacks(&mut self, r: &mut Results, warm: &Path, iters: usize) {
        for i in 0..iters {
            let app = self.pool[(self.counter + i) % POOL].clone();
            let cache = self.work.join(format!("rb-cold-{i}"));
            let audit = self.work.join(format!("rb-cold-{i}.json"));
            let run = self.baton(
                &["rollback", "--app", &app, "--stage", "dev"],
                &cache,
                Some(&audit),
            );
            r.rollback_cold.push(run.wall);
            r.rollback_cold_host.push(history_host_time(&audit));
            let _ = std::fs::remove_dir_all(&cache);

            let app = self.pool[(self.counter + i + POOL / 2) % POOL].clone();
            let audit = self.work.join(format!("rb-warm-{i}.json"));
            let run = self.baton(
                &["rollback", "--app", &app, "--stage", "dev"],
                warm,
                Some(&audit),
            );
            r.rollback_warm.push(run.wall);
            r.rollback_warm_host.push(history_host_time(&audit));
        }
    }
}

/// A running `baton`.
struct Timed {
    started: Instant,
    child: Option<Child>,
    rss: PathBuf,
    what: String,
}

impl Timed {
    /// Waits for it; panics unless it exits 0.
    fn wait_ok(&mut self) -> Duration {
        let child = self.child.take().expect("waited once");
        let out: Output = child.wait_with_output().expect("baton runs");
        let wall = self.started.elapsed();
        assert!(
            out.status.success(),
            "baton {} failed: {}\n{}",
            self.what,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        wall
    }

    /// Waits for it and reads its peak RSS and CPU time.
    fn finish(mut self) -> Run {
        self.wait_and_account()
    }

    fn wait_and_account(&mut self) -> Run {
        let wall = self.wait_ok();
        let text = std::fs::read_to_string(&self.rss).unwrap_or_default();
        let _ = std::fs::remove_file(&self.rss);
        let fields: Vec<&str> = text
            .lines()
            .last()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let seconds = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        Run {
            wall,
            rss_kb: fields.first().and_then(|f| f.parse().ok()),
            cpu: seconds(1)
                .zip(seconds(2))
                .map(|(user, sys)| Duration::from_secs_f64(user + sys)),
        }
    }
}

/// A number for file names, unique within the process.
fn next_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn dev_field(app: &str) -> StageField {
    StageField {
        file: stage_file("dev", app),
        field: "helm:image.tag".parse().expect("valid field"),
    }
}

/// The host-call time of the decide calls that read a stage's history.
fn history_host_time(audit: &Path) -> Duration {
    let text = std::fs::read_to_string(audit).expect("audit record");
    let record: serde_json::Value = serde_json::from_str(&text).expect("json");
    let micros: u64 = record["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter(|d| {
            d["calls"]
                .as_array()
                .is_some_and(|calls| calls.iter().any(|c| c["function"] == "stage-history"))
        })
        .filter_map(|d| d["host_us"].as_u64())
        .sum();
    Duration::from_micros(micros)
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn mb(kb: &[u64]) -> String {
    kb.iter().max().map_or_else(
        || "n/a".into(),
        |kb| format!("{:.0} MB", *kb as f64 / 1024.0),
    )
}

impl Results {
    fn print(&self) {
        let (sc, c, sw, w) = (
            median(&self.seed_cold),
            median(&self.cold),
            median(&self.seed_warm),
            median(&self.warm),
        );
        println!("seed shell step (clone+sed+commit+push), alternating with cold: {sc:>9.2?}");
        println!(
            "baton promote, cold cache:                {c:>9.2?}  ratio {:.3}  peak RSS {}  CPU {:.2?}",
            ratio(c, sc),
            mb(&self.cold_rss),
            median(&self.cold_cpu)
        );
        println!("seed shell step, alternating with warm:   {sw:>9.2?}");
        println!(
            "baton promote, warm cache:                {w:>9.2?}  ratio {:.3}  peak RSS {}",
            ratio(w, sw),
            mb(&self.warm_rss)
        );
        let single = median(&self.concurrent_single);
        println!(
            "{CONCURRENT} concurrent promotes, one cold cache:  {:>9.2?}  {} of {CONCURRENT} landed \
             (fewest of {} rounds), CPU {:.2?} in all",
            median(&self.concurrent),
            self.concurrent_landed,
            self.concurrent.len(),
            median(&self.concurrent_cpu)
        );
        println!(
            "  against one cold promote run before each round ({single:.2?}): {:.2}x; against the \
             cold promote above: {:.2}x",
            ratio(median(&self.concurrent), single),
            ratio(median(&self.concurrent), c),
        );
        if !self.concurrent_sims_cpu.is_empty() {
            // No round can take less wall time than its CPU time spread
            // over every core.
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
            let sims = median(&self.concurrent_sims_cpu);
            let floor = (median(&self.concurrent_cpu) + sims) / cores;
            println!("  the simulators' CPU in a round:          {sims:>9.2?}");
            println!(
                "  floor (the jobs' and simulators' CPU over {cores} cores): {floor:.2?} = {:.2}x the \
                 promote before each round",
                ratio(floor, single)
            );
        }
        println!(
            "last good (library), warm cache, first:   {:>9.2?}  (deepens, learns the changed-path index)",
            self.last_good_first
        );
        println!(
            "last good (library), warm cache, others:  {:>9.2?}  (other stages, a new handle each)",
            median(&self.last_good_warm)
        );
        println!(
            "last good (library), cold shallow cache:  {:>9.2?}  still shallow {}/{}, commits \
             fetched (median) {}",
            median(&self.last_good_cold),
            self.cold_stayed_shallow,
            self.last_good_cold.len(),
            {
                let mut c = self.cold_cached_commits.clone();
                c.sort_unstable();
                c.get(c.len() / 2).copied().unwrap_or_default()
            }
        );
        let (rc, rw) = (median(&self.rollback_cold), median(&self.rollback_warm));
        println!(
            "baton rollback, cold cache:               {rc:>9.2?}  ratio {:.3}  (history reads {:.2?})",
            ratio(rc, sc),
            median(&self.rollback_cold_host)
        );
        println!(
            "baton rollback, warm cache:               {rw:>9.2?}  ratio {:.3}  (history reads {:.2?})",
            ratio(rw, sw),
            median(&self.rollback_warm_host)
        );
    }
}

/// How the costs grow from the first repo to the second.
fn growth(small: &Results, large: &Results) {
    let grow = |a: &[Duration], b: &[Duration]| ratio(median(b), median(a));
    println!(
        "\n== growth from {} to {} commits",
        small.commits, large.commits
    );
    println!(
        "seed shell step: {:.2}x   cold promote: {:.2}x   warm promote: {:.2}x   cold rollback: {:.2}x   last good (cold): {:.2}x",
        grow(&small.seed_cold, &large.seed_cold),
        grow(&small.cold, &large.cold),
        grow(&small.warm, &large.warm),
        grow(&small.rollback_cold, &large.rollback_cold),
        grow(&small.last_good_cold, &large.last_good_cold),
    );
}

/// Ways to fetch enough history for one stage's last good version into an
/// empty cache, with plain git: `--depth=1` then `--deepen` in growing
/// steps, `--depth=1` then `--shallow-since` in growing windows, and a
/// `--filter=blob:none` partial clone (every commit and tree; the few
/// blobs a walk reads would still have to be fetched one by one).
fn strategies(root: &Path, origin: &Path, iters: usize) {
    let url = format!("file://{}", origin.display());
    let dir = root.join("strategies");
    let field = stage_file("dev", &app(7));
    // The walk for app0007's last good needs the parent of its second
    // newest dev deployment.
    let log = git_output(
        origin,
        &[
            "log",
            "--first-parent",
            "--format=%H %ct",
            "-n",
            "2",
            "main",
            "--",
            &field,
        ],
    );
    let (needed, needed_time) = {
        let second = log.lines().nth(1).expect("two deployments");
        let (sha, time) = second.split_once(' ').expect("sha and time");
        (format!("{sha}^"), time.parse::<i64>().expect("time"))
    };
    let tip_time: i64 = git_output(origin, &["log", "-1", "--format=%ct", "main"])
        .parse()
        .expect("time");
    let has = |repo: &Path| {
        Command::new("git")
            .current_dir(repo)
            .args(["cat-file", "-e", &format!("{needed}^{{commit}}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let refspec = "+refs/heads/main:refs/remotes/origin/main";
    let mut deepen = Vec::new();
    let mut since = Vec::new();
    let mut partial = Vec::new();
    let mut fetches = (0, 0);
    for i in 0..iters {
        let repo = dir.join(format!("deepen-{i}"));
        let t = Instant::now();
        init_shallow(&repo, &url, refspec);
        let mut step = 256;
        let mut n = 1;
        while !has(&repo) {
            git(
                &repo,
                &["fetch", "-q", &format!("--deepen={step}"), &url, refspec],
            );
            step *= 4;
            n += 1;
        }
        deepen.push(t.elapsed());
        fetches.0 = n;

        let repo = dir.join(format!("since-{i}"));
        let t = Instant::now();
        init_shallow(&repo, &url, refspec);
        let mut window = 86_400i64;
        let mut n = 1;
        while !has(&repo) {
            let from = tip_time - window;
            git(
                &repo,
                &[
                    "fetch",
                    "-q",
                    &format!("--shallow-since={from}"),
                    &url,
                    refspec,
                ],
            );
            window *= 4;
            n += 1;
        }
        since.push(t.elapsed());
        fetches.1 = n;

        let repo = dir.join(format!("partial-{i}"));
        let t = Instant::now();
        git(
            &dir,
            &[
                "clone",
                "-q",
                "--bare",
                "--filter=blob:none",
                &url,
                repo.to_str().expect("utf-8"),
            ],
        );
        partial.push(t.elapsed());
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "\n== fetching the history of one last-good lookup ({} back from the tip, {:.1} days)",
        needed,
        (tip_time - needed_time) as f64 / 86_400.0
    );
    println!(
        "--depth=1, then --deepen 256, 1024, ...:        {:>9.2?}  ({} fetches)",
        median(&deepen),
        fetches.0
    );
    println!(
        "--depth=1, then --shallow-since 1, 4, 16 days:  {:>9.2?}  ({} fetches)",
        median(&since),
        fetches.1
    );
    println!(
        "clone --filter=blob:none (commits and trees):   {:>9.2?}  (before any blob is read)",
        median(&partial)
    );
}

fn init_shallow(repo: &Path, url: &str, refspec: &str) {
    let _ = std::fs::remove_dir_all(repo);
    std::fs::create_dir_all(repo).expect("dir");
    git(repo, &["init", "-q", "--bare"]);
    git(repo, &["fetch", "-q", "--depth=1", url, refspec]);
}
