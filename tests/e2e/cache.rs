//! One env repo cache, many processes (issue #12): real `baton` processes
//! side by side on one cache root, a run killed while it holds the cache,
//! a cache held past the wait limit, failed opens still recorded, and
//! history read from a shallow cache on demand.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use baton::capabilities::git::{StageField, cache_dir_for, lock_path};
use baton::secret::Secret;
use baton::sim::argocd::{self as argocd_sim, SimApp, SimConfig};
use baton::sim::forge::{MergeStrategy, SimHandle, gitlab};
use serde_json::Value;

use crate::git::common::{open, open_shallow};
use crate::support::{GitInput, baton, git, git_with};

const ARGO_TOKEN: &str = "eyJhbGciOi.cache-argo.9c1d";
const FORGE_TOKEN: &str = "glpat-cache-forge";
const STAGES: [&str; 3] = ["dev", "staging", "prod"];

/// Several apps in one env repo (served over `file://`), with Argo CD and
/// GitLab simulators, and a `baton.yaml` naming them all.
pub struct Fleet {
    root: tempfile::TempDir,
    pub bare: PathBuf,
    rt: tokio::runtime::Runtime,
    gitlab: SimHandle,
    _argocd: argocd_sim::SimHandle,
}

pub fn app_name(i: usize) -> String {
    format!("app{i:02}")
}

fn stage_file(stage: &str, app: &str) -> String {
    format!("overlays/{stage}/{app}/values.yaml")
}

fn values(app: &str, version: &str) -> String {
    format!("# {app}\nimage:\n  repository: registry.example.com/{app}\n  tag: \"{version}\"\n")
}

impl Fleet {
    /// `apps` apps at v1.0.0 everywhere, in two commits (so a shallow
    /// clone has a boundary).
    pub fn new(apps: usize) -> Self {
        let root = tempfile::tempdir().unwrap();
        let bare = root.path().join("git/env.git");
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "-q", "--bare", "-b", "main"]);
        let work = root.path().join("seed");
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        std::fs::write(work.join("README.md"), "env repo\n").unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "start"]);
        for i in 0..apps {
            let app = app_name(i);
            for stage in STAGES {
                let path = work.join(stage_file(stage, &app));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, values(&app, "v1.0.0")).unwrap();
            }
        }
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "every app at v1.0.0"]);
        git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);

        let rt = crate::support::sim_runtime();
        let mut argo = SimConfig::new(&bare);
        argo.poll_interval_ms = 50;
        argo.token = Some(ARGO_TOKEN.into());
        for i in 0..apps {
            let app = app_name(i);
            for stage in STAGES {
                let mut sim = SimApp::new(format!("{app}-{stage}"), stage_file(stage, &app));
                sim.sync_delay_ms = 0;
                sim.sync_duration_ms = 20;
                sim.progress_ms = 20;
                argo.apps.push(sim);
            }
        }
        let argocd = rt.block_on(argocd_sim::spawn(argo)).unwrap();
        let gitlab = rt
            .block_on(gitlab::spawn(gitlab::GitLabSimConfig {
                repo: bare.clone(),
                project_path: "acme/env".into(),
                project_id: 7,
                token: Some(Secret::new(FORGE_TOKEN)),
                merge_method: MergeStrategy::MergeCommit,
            }))
            .unwrap();
        let mut yaml = format!(
            "env_repo:\n  url: file://{}\n  branch: main\n\
             argocd:\n  url: {}\n  token_env: ARGOCD_TOKEN\n\
             forge:\n  kind: gitlab\n  api_url: {}\n  project: acme/env\n  token_env: GITLAB_TOKEN\n\
             policy:\n  path: builtin:default\n  settings: {{ health_timeout: 60s }}\n\
             guardrails:\n  direct_commit_stages: [dev]\n  auto_merge_stages: []\n  max_health_wait: 2m\n\
             apps:\n",
            bare.display(),
            argocd.base_url(),
            gitlab.api_url(),
        );
        for i in 0..apps {
            let app = app_name(i);
            yaml.push_str(&format!("  {app}:\n    stages:\n"));
            for stage in STAGES {
                yaml.push_str(&format!(
                    "      - {{ name: {stage}, file: {}, field: \"helm:image.tag\", argocd_app: {app}-{stage} }}\n",
                    stage_file(stage, &app)
                ));
            }
        }
        std::fs::write(root.path().join("baton.yaml"), yaml).unwrap();
        Self {
            root,
            bare,
            rt,
            gitlab,
            _argocd: argocd,
        }
    }

    pub fn dir(&self) -> &Path {
        self.root.path()
    }

    pub fn cache_root(&self) -> PathBuf {
        self.dir().join("cache")
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    /// The cached repo's directory under the cache root.
    pub fn cache_dir(&self) -> PathBuf {
        cache_dir_for(&self.cache_root().join("repos"), &self.url())
    }

    /// `baton ARGS --cache-dir <root>/cache` with the tokens set.
    /// `baton promote --app app00 --tag v2.0.0 --audit-log AUDIT` and
    /// `extra` arguments, run to its end.
    pub fn promote_recorded(&self, audit: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "promote",
            "--app",
            "app00",
            "--tag",
            "v2.0.0",
            "--audit-log",
            audit.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.command(&args).output().unwrap()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = baton(self.dir());
        cmd.args(args)
            .arg("--cache-dir")
            .arg(self.cache_root())
            .env("ARGOCD_TOKEN", ARGO_TOKEN)
            .env("GITLAB_TOKEN", FORGE_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// The value of `stage` of `app` on main.
    pub fn version(&self, app: &str, stage: &str) -> String {
        let text = git(
            &self.bare,
            &["show", &format!("main:{}", stage_file(stage, app))],
        );
        let line = text.lines().find(|l| l.contains("tag:")).unwrap();
        line.split('"').nth(1).unwrap().to_owned()
    }

    /// Source branches of the open merge requests.
    pub fn open_mr_branches(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .rt
            .block_on(self.gitlab.merge_requests())
            .into_iter()
            .map(|m| m.source_branch)
            .collect();
        out.sort();
        out
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A directory holding a `git` that runs `script` (POSIX sh, with `$REAL`
/// set to the real git) before handing over to the real git.
pub fn git_shim(dir: &Path, script: &str) -> String {
    let real = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("git"))
                .find(|p| p.is_file())
        })
        .expect("git on PATH");
    let bin = dir.join("shim-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = bin.join("git");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nREAL='{}'\n{script}\nexec \"$REAL\" \"$@\"\n",
            real.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Waits (bounded) until `path` exists.
fn wait_for(path: &Path) {
    let end = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(Instant::now() < end, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lock files git would trip over, anywhere in the cache directory.
fn git_lock_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "lock")
                // Baton's own: `baton.lock`, `baton-requests-<n>.lock`.
                && !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("baton"))
            {
                out.push(path);
            }
        }
    }
    out
}

fn spawn_promotes(fleet: &Fleet, apps: usize, tag: &str) -> Vec<(String, Child)> {
    (0..apps)
        .map(|i| {
            let app = app_name(i);
            let child = fleet
                .command(&["promote", "--app", &app, "--tag", tag])
                .spawn()
                .unwrap();
            (app, child)
        })
        .collect()
}

#[test]
fn ten_processes_promote_ten_apps_on_one_cache_cold_then_warm() {
    let fleet = Fleet::new(10);
    for (round, tag) in ["v2.0.0", "v3.0.0"].into_iter().enumerate() {
        let children = spawn_promotes(&fleet, 10, tag);
        for (app, child) in children {
            let out = child.wait_with_output().unwrap();
            assert_exit(&out, 0);
            assert_eq!(fleet.version(&app, "dev"), tag, "round {round}, {app}");
        }
        // One commit per promote on main, no merges: every update landed
        // on top of the others.
        let merges = git(&fleet.bare, &["rev-list", "--merges", "--count", "main"]);
        assert_eq!(merges, "0");
        let commits = git(&fleet.bare, &["rev-list", "--count", "main"]);
        assert_eq!(commits, (2 + 10 * (round + 1)).to_string());
        let open = fleet.open_mr_branches();
        for i in 0..10 {
            let branch = format!("baton/{}/staging/{tag}", app_name(i));
            assert!(
                open.contains(&branch),
                "round {round}: no {branch} in {open:?}"
            );
        }
    }
    assert_eq!(git_lock_files(&fleet.cache_dir()), Vec::<PathBuf>::new());
}

#[test]
fn a_promote_on_a_cold_cache_reads_its_own_commit_as_the_newest_deployment() {
    let fleet = Fleet::new(2);
    let audit = fleet.dir().join("record.json");
    let out = fleet.promote_recorded(&audit, &[]);
    assert_exit(&out, 0);
    let record = record_at(&audit);
    let dev_commit = record["actions"][0]["commit"].as_str().unwrap();
    // The policy read dev's newest deployment, Baton's own commit of this
    // run, from the cache the run started shallow (the library test
    // `git::repo::a_limit_one_history_read_after_the_write_fetches_nothing`
    // asserts that this read fetches nothing).
    let answer = record["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["calls"].as_array().unwrap())
        .find(|c| c["function"] == "stage-history" && c["request"]["stage"] == "dev")
        .map(|c| &c["result"]["Ok"])
        .unwrap_or_else(|| panic!("no stage-history call: {record:#}"));
    assert_eq!(answer.as_array().unwrap().len(), 1, "{answer:#}");
    assert_eq!(answer[0]["commit"], dev_commit, "{answer:#}");
    assert_eq!(answer[0]["origin"], "BatonCommit");
    assert_eq!(answer[0]["to_version"], "v2.0.0");
}

#[test]
fn a_run_killed_while_it_holds_the_cache_does_not_block_the_next() {
    let fleet = Fleet::new(1);
    let marker = fleet.dir().join("fetching");
    // A fetch that takes its time, killed midway the way a CI runner kills
    // a cancelled job: the whole process group, SIGKILL, leaving behind
    // the lock file git had taken.
    let path = git_shim(
        fleet.dir(),
        &format!(
            "if [ \"$1\" = fetch ]; then : > \"$GIT_DIR/shallow.lock\"; : > '{}'; sleep 60; fi",
            marker.display()
        ),
    );
    let mut victim = fleet.command(&["promote", "--app", "app00", "--tag", "v2.0.0"]);
    std::os::unix::process::CommandExt::process_group(&mut victim, 0);
    let victim = victim.env("PATH", &path).spawn().unwrap();
    wait_for(&marker);
    let status = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", victim.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let out = victim.wait_with_output().unwrap();
    assert_eq!(out.status.code(), None, "killed by a signal");
    assert!(fleet.cache_dir().join("shallow.lock").exists());

    let out = fleet
        .command(&[
            "promote",
            "--app",
            "app00",
            "--tag",
            "v2.0.0",
            "--cache-wait",
            "30s",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(fleet.version("app00", "dev"), "v2.0.0");
    assert_eq!(git_lock_files(&fleet.cache_dir()), Vec::<PathBuf>::new());
}

#[test]
fn a_git_that_outlives_its_killed_baton_keeps_the_cache_until_it_ends() {
    let fleet = Fleet::new(1);
    let marker = fleet.dir().join("fetching");
    let path = git_shim(
        fleet.dir(),
        &format!(
            "if [ \"$1\" = fetch ] && [ ! -e '{m}' ]; then : > '{m}'; sleep 5; fi",
            m = marker.display()
        ),
    );
    // Only Baton dies; its git goes on for a while, still holding the lock.
    let mut victim = fleet
        .command(&["promote", "--app", "app00", "--tag", "v2.0.0"])
        .env("PATH", &path)
        .spawn()
        .unwrap();
    wait_for(&marker);
    victim.kill().unwrap();
    victim.wait().unwrap();

    let out = fleet
        .command(&[
            "promote",
            "--app",
            "app00",
            "--tag",
            "v2.0.0",
            "--cache-wait",
            "60s",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "waiting for the env repo cache {}",
            fleet.cache_dir().display()
        )),
        "{stderr}"
    );
    assert_eq!(fleet.version("app00", "dev"), "v2.0.0");
}

/// The audit record a run left at `path`, checked against the schema.
fn record_at(path: &Path) -> Value {
    let record: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/audit-record.v1.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&record)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{record:#}");
    record
}

#[test]
fn a_cache_held_past_the_wait_limit_exits_4_naming_it_and_is_recorded() {
    let fleet = Fleet::new(1);
    let dir = open_shallow(&fleet.url(), &fleet.cache_root().join("repos"))
        .cache_dir()
        .to_owned();
    assert_eq!(dir, fleet.cache_dir());
    let lock = File::create(lock_path(&dir)).unwrap();
    lock.lock().unwrap();
    let audit = fleet.dir().join("record.json");
    let out = fleet.promote_recorded(&audit, &["--cache-wait", "1s"]);
    assert_exit(&out, 4);
    let stderr = text(&out.stderr);
    let named = format!("the env repo cache {} is in use", dir.display());
    assert!(stderr.contains(&named), "{stderr}");
    let record = record_at(&audit);
    assert_eq!(record["outcome"]["status"], "external_error");
    assert_eq!(record["outcome"]["exit_code"], 4);
    assert!(
        record["outcome"]["message"]
            .as_str()
            .unwrap()
            .contains(&named),
        "{record:#}"
    );
    assert_eq!(record["command"]["name"], "promote");
    assert_eq!(record["env_repo"]["url"], fleet.url());
    assert_eq!(record["decisions"], Value::Array(Vec::new()));
    assert_eq!(fleet.version("app00", "dev"), "v1.0.0");
}

#[test]
fn an_env_repo_that_cannot_be_fetched_still_leaves_a_record() {
    let fleet = Fleet::new(1);
    let config = fleet.dir().join("baton.yaml");
    let yaml = std::fs::read_to_string(&config).unwrap();
    for (case, broken) in [
        ("unreachable", yaml.replace("env.git", "gone.git")),
        (
            "missing branch",
            yaml.replace("branch: main", "branch: nope"),
        ),
    ] {
        std::fs::write(&config, &broken).unwrap();
        let audit = fleet.dir().join(format!("{case}.json"));
        let out = fleet.promote_recorded(&audit, &[]);
        assert_exit(&out, 4);
        let record = record_at(&audit);
        assert_eq!(record["outcome"]["status"], "external_error", "{case}");
        assert_eq!(record["outcome"]["exit_code"], 4, "{case}");
        let message = record["outcome"]["message"].as_str().unwrap();
        assert!(message.contains("cannot fetch"), "{case}: {message}");
        assert_eq!(record["policy"]["source"], "builtin:default", "{case}");
    }
}

/// Writes `commits` commits with `git fast-import`: `dev` of `payments` set
/// to `v1` after `before` filler commits, then `gap` filler commits, then
/// `v2`, then `after` more. Fillers touch one of 50 other files.
fn long_history(dir: &Path, before: usize, gap: usize, after: usize) -> PathBuf {
    let bare = dir.join("long.git");
    git(
        dir,
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    let mut script = String::new();
    let mut mark = 0usize;
    let mut commit = |script: &mut String, path: &str, body: &str, message: &str| {
        mark += 1;
        let time = 1_700_000_000 + mark;
        script.push_str(&format!(
            "commit refs/heads/main\nmark :{mark}\ncommitter Seed <seed@example.com> {time} +0000\n\
             data {}\n{message}\n",
            message.len() + 1
        ));
        if mark > 1 {
            script.push_str(&format!("from :{}\n", mark - 1));
        }
        script.push_str(&format!(
            "M 644 inline {path}\ndata {}\n{body}\n",
            body.len()
        ));
    };
    let dev = "overlays/dev/payments/values.yaml";
    let filler = |i: usize| {
        (
            format!("overlays/dev/other{:02}/values.yaml", i % 50),
            format!("image:\n  tag: \"f{i}\"\n"),
        )
    };
    commit(
        &mut script,
        dev,
        "image:\n  tag: \"v0\"\n",
        "dev(payments): v0",
    );
    for i in 0..before {
        let (p, b) = filler(i);
        commit(&mut script, &p, &b, &format!("other {i}"));
    }
    commit(
        &mut script,
        dev,
        "image:\n  tag: \"v1\"\n",
        "dev(payments): v1",
    );
    for i in 0..gap {
        let (p, b) = filler(before + i);
        commit(&mut script, &p, &b, &format!("other {}", before + i));
    }
    commit(
        &mut script,
        dev,
        "image:\n  tag: \"v2\"\n",
        "dev(payments): v2",
    );
    for i in 0..after {
        let (p, b) = filler(before + gap + i);
        commit(&mut script, &p, &b, &format!("other {}", before + gap + i));
    }
    script.push_str("done\n");
    git_with(
        &bare,
        &["fast-import", "--quiet", "--done"],
        GitInput {
            stdin: Some(&script),
            date: None,
        },
    );
    bare
}

#[test]
fn history_5000_commits_back_reads_the_same_from_a_shallow_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = long_history(tmp.path(), 3000, 5000, 20);
    let url = format!("file://{}", bare.display());
    let dev = StageField {
        file: "overlays/dev/payments/values.yaml".into(),
        field: "helm:image.tag".parse().unwrap(),
    };
    let mut full = open(&url, None, &tmp.path().join("full"));
    let mut shallow = open_shallow(&url, &tmp.path().join("shallow"));
    let shallow_file = shallow.cache_dir().join("shallow");
    assert_eq!(
        std::fs::read_to_string(&shallow_file)
            .unwrap()
            .lines()
            .count(),
        1
    );

    let expected = full.history("main", &dev, Some(2)).unwrap();
    assert_eq!(
        expected
            .iter()
            .map(|e| e.new.as_deref())
            .collect::<Vec<_>>(),
        [Some("v2"), Some("v1")]
    );
    assert_eq!(shallow.history("main", &dev, Some(2)).unwrap(), expected);
    assert_eq!(
        shallow.last_good("main", &dev).unwrap(),
        full.last_good("main", &dev).unwrap()
    );
    // The walk stopped at v1: the 3,000 commits before it were not needed,
    // and the cache is still shallow.
    assert!(shallow_file.exists(), "the cache was unshallowed");
    let cached: usize = git(
        shallow.cache_dir(),
        &["rev-list", "--count", "refs/remotes/origin/main"],
    )
    .parse()
    .unwrap();
    assert!(cached < 8000, "{cached} commits cached");

    // The whole history, when asked for, is the remote's.
    assert_eq!(
        shallow.history("main", &dev, None).unwrap(),
        full.history("main", &dev, None).unwrap()
    );
    assert!(!shallow_file.exists());
}

#[test]
fn ancestry_and_change_detection_deepen_a_shallow_cache_as_far_as_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = long_history(tmp.path(), 3000, 600, 10);
    let url = format!("file://{}", bare.display());
    let mut repo = open_shallow(&url, &tmp.path().join("cache"));
    let old = git(&bare, &["rev-parse", "main~500"]);
    let tip = git(&bare, &["rev-parse", "main"]);
    assert_eq!(repo.is_ancestor(&old, &tip), None, "not cached yet");
    assert_eq!(repo.resolve_deepening(&old).unwrap().to_string(), old);
    assert_eq!(repo.is_ancestor(&old, &tip), Some(true));
    assert_eq!(repo.is_ancestor(&tip, &old), Some(false));
    let dev = StageField {
        file: "overlays/dev/payments/values.yaml".into(),
        field: "helm:image.tag".parse().unwrap(),
    };
    let changes = repo.changed_stages("main~611", "main", &[dev]).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].from.as_deref(), Some("v1"));
    assert_eq!(changes[0].to.as_deref(), Some("v2"));
    assert!(repo.cache_dir().join("shallow").exists());
}

#[test]
fn the_changed_path_index_left_by_one_walk_gives_the_next_the_same_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = long_history(tmp.path(), 300, 500, 20);
    let url = format!("file://{}", bare.display());
    let field = |file: &str| StageField {
        file: file.into(),
        field: "helm:image.tag".parse().unwrap(),
    };
    let dev = field("overlays/dev/payments/values.yaml");
    let other = field("overlays/dev/other07/values.yaml");
    let cache = tmp.path().join("cache");

    // A cache whose first walk has no index to read: it learns one.
    let mut first = open(&url, None, &cache);
    let index = first.cache_dir().join("baton.paths");
    assert!(!index.exists());
    let whole = first.history("main", &dev, None).unwrap();
    let others = first.history("main", &other, None).unwrap();
    let last_good = first.last_good("main", &dev).unwrap();
    assert_eq!(
        whole.iter().map(|e| e.new.as_deref()).collect::<Vec<_>>(),
        [Some("v2"), Some("v1"), Some("v0")]
    );
    assert_eq!(others.len(), 17, "other07 is set every 50th filler");
    // One line per commit past the first 16 of a walk, each walk's new
    // ones appended once.
    let lines = std::fs::read_to_string(&index).unwrap().lines().count();
    // 823 commits: 822 with a parent, less the 16 a walk starts with.
    assert_eq!(lines, 822 - 16);

    // The next process reads the index: same answers, nothing learnt anew.
    let mut second = open(&url, None, &cache);
    assert_eq!(second.history("main", &dev, None).unwrap(), whole);
    assert_eq!(second.history("main", &other, None).unwrap(), others);
    assert_eq!(second.last_good("main", &dev).unwrap(), last_good);
    assert_eq!(
        std::fs::read_to_string(&index).unwrap().lines().count(),
        lines
    );

    // A torn append and a line altered after it was written are skipped,
    // not believed: the walk learns those commits again.
    let mut text = std::fs::read_to_string(&index).unwrap();
    let first_line = text.lines().next().unwrap().to_owned();
    text = text.replacen(
        &first_line,
        &first_line.replace("overlays/dev", "overlays/prod"),
        1,
    );
    text.push_str(&first_line[..first_line.len() / 2]);
    std::fs::write(&index, text).unwrap();
    let mut third = open(&url, None, &cache);
    assert_eq!(third.history("main", &dev, None).unwrap(), whole);
    assert_eq!(third.history("main", &other, None).unwrap(), others);
}
