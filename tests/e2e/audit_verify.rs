//! `baton audit verify` on records of real runs (the binary, git over
//! HTTP, the simulators, the default policy, records signed with an Ed25519
//! key): untouched records verify; each tampering an auditor worries about
//! is caught with a finding naming the record and field; a change made by
//! hand with copied trailers is flagged out of band, fails `advance` and is
//! marked by `status`; approvals and mergers are recorded from the GitLab
//! and the GitHub simulator.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::engine::env::{APP, Env, FORGE_TOKEN, Setup, assert_code, stdout};
use crate::support::{git, record_files};

/// RFC 8032's first test key: secret seed and public key.
pub const KEY: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
pub const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// One world's runs, once per test process: `a` promotes v1.0.1 (dev
/// commit, gate, staging MR, approved by alice and merged by carol), `b`
/// advances (staging gated, prod MR), `c` promotes v1.0.2 (Degraded in
/// dev, rolled back), then prod is changed by hand with trailers copied
/// from `c`'s dev commit and `d` advances on it.
pub struct World {
    pub env: Env,
    /// `a`, `b`, `c`, `d` in the env's `baton-audit/`.
    pub records: [PathBuf; 4],
    /// The hand-made prod commit.
    pub hand_commit: String,
    /// What the out-of-band `advance` printed, and its exit code.
    pub advance_out: (String, i32),
    /// When the world started (RFC 3339).
    pub started: String,
}

pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(build)
}

fn run(env: &Env, args: &[&str]) -> Output {
    env.baton_with(args, &[("BATON_AUDIT_KEY", KEY)])
}

/// `PUT`/`POST` on the GitLab simulator as `user` (GitLab's `Sudo`).
fn gitlab_as(env: &Env, method: reqwest::Method, path: &str, user: &str) -> Value {
    let url = format!(
        "{}/projects/acme%2Fgitops-env/merge_requests/{path}",
        env.forge.api_url()
    );
    env.rt.block_on(async {
        let reply = reqwest::Client::new()
            .request(method, url)
            .header("PRIVATE-TOKEN", FORGE_TOKEN)
            .header("Sudo", user)
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success(), "{}", reply.status());
        reply.json().await.unwrap()
    })
}

fn build() -> World {
    let env = Env::new(Setup {
        degrade: vec![("dev", r"^v1\.0\.2$")],
        ..Setup::default()
    });
    let yaml = env.dir().join("baton.yaml");
    let mut text = std::fs::read_to_string(&yaml).unwrap();
    text.push_str("audit:\n  signing_key_env: BATON_AUDIT_KEY\n");
    std::fs::write(&yaml, text).unwrap();
    let started = env.git(&["log", "-1", "--format=%cI", "main"]);

    assert_code(&run(&env, &["promote", "--app", APP, "--tag", "v1.0.1"]), 0);
    let mr = env
        .merge_requests()
        .into_iter()
        .find(|m| m.source_branch == "baton/payments/staging/v1.0.1")
        .unwrap();
    let approvals = gitlab_as(
        &env,
        reqwest::Method::POST,
        &format!("{}/approve", mr.iid),
        "alice",
    );
    assert_eq!(approvals["approved_by"][0]["user"]["username"], "alice");
    gitlab_as(
        &env,
        reqwest::Method::PUT,
        &format!("{}/merge", mr.iid),
        "carol",
    );
    assert_code(&run(&env, &["advance", "--app", APP]), 0);
    assert_code(&run(&env, &["promote", "--app", APP, "--tag", "v1.0.2"]), 1);

    // By hand: prod set to the version that failed in dev, author "Baton",
    // the message (and so the trailers) of Baton's dev commit copied.
    let c = newest(&env, "promote");
    let record: Value = serde_json::from_slice(&std::fs::read(&c).unwrap()).unwrap();
    let dev_commit = record["actions"][0]["commit"].as_str().unwrap().to_owned();
    let work = env.clone_to("by-hand");
    let message = git(&work, &["log", "-1", "--format=%B", &dev_commit]);
    let file = work.join("overlays/prod/payments/values.yaml");
    let values = std::fs::read_to_string(&file)
        .unwrap()
        .replace("v1.0.1", "v1.0.2")
        .replace("v1.0.0", "v1.0.2");
    std::fs::write(&file, values).unwrap();
    git(
        &work,
        &[
            "commit",
            "-q",
            "-a",
            "--author",
            "Baton <baton@localhost>",
            "-m",
            &message,
        ],
    );
    git(&work, &["push", "-q", "origin", "main"]);
    let hand_commit = git(&work, &["rev-parse", "HEAD"]);
    let out = run(&env, &["advance", "--app", APP]);
    let advance_out = (stdout(&out), out.status.code().unwrap_or(-1));

    let mut paths = record_files(&env.dir().join("baton-audit"));
    paths.sort_by_key(|p| started_at(p));
    assert_eq!(paths.len(), 4, "{paths:?}");
    let records = [
        paths[0].clone(),
        paths[1].clone(),
        paths[2].clone(),
        paths[3].clone(),
    ];
    World {
        env,
        records,
        hand_commit,
        advance_out,
        started,
    }
}

fn started_at(path: &Path) -> String {
    let record: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    record["started_at"].as_str().unwrap().to_owned()
}

fn newest(env: &Env, command: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = record_files(&env.dir().join("baton-audit"))
        .into_iter()
        .filter(|p| {
            let r: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            r["command"]["name"] == command
        })
        .collect();
    found.sort_by_key(|p| started_at(p));
    found.pop().unwrap()
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Copies of the records in a scratch directory, `a.json` .. `d.json`.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, path) in ["a", "b", "c", "d"].iter().zip(&world().records) {
        std::fs::copy(path, dir.path().join(format!("{name}.json"))).unwrap();
    }
    dir
}

/// Writes a changed copy of record `name` (`a`..`d`) into `dir`.
fn tamper(dir: &Path, name: &str, change: impl FnOnce(&mut Value)) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    let mut record = read(&path);
    change(&mut record);
    std::fs::write(&path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    path
}

/// `baton audit verify` with the world's config and the public key, JSON out.
fn verify(files: &[&Path], extra: &[&str]) -> (i32, Value) {
    let env = &world().env;
    let config = env.dir().join("baton.yaml");
    let mut args: Vec<String> = vec![
        "audit".into(),
        "verify".into(),
        "--config".into(),
        config.display().to_string(),
        "--public-key".into(),
        PUBLIC.into(),
        "--output".into(),
        "json".into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.extend(files.iter().map(|p| p.display().to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = env.baton(&refs);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// Every finding of a report, record and across.
fn findings(report: &Value) -> Vec<Value> {
    let mut all: Vec<Value> = report["findings"].as_array().unwrap().clone();
    for r in report["records"].as_array().unwrap() {
        all.extend(r["findings"].as_array().unwrap().iter().cloned());
    }
    all
}

/// Asserts a finding at `field` in `record` whose text contains `text`.
fn assert_finding(report: &Value, record: &str, field: &str, text: &str) {
    let all = findings(report);
    assert!(
        all.iter().any(|f| {
            f["record"].as_str().unwrap().ends_with(record)
                && f["field"] == field
                && format!("{} {}", f["expected"], f["found"]).contains(text)
        }),
        "no finding {record} {field} ~ {text:?} in {}",
        serde_json::to_string_pretty(&all).unwrap()
    );
}

/// Index of the first action of `record` matching `pred`.
fn action_index(record: &Value, pred: impl Fn(&Value) -> bool) -> usize {
    record["actions"]
        .as_array()
        .unwrap()
        .iter()
        .position(pred)
        .unwrap()
}

#[test]
fn records_of_real_runs_verify_signed_chained_and_complete() {
    let w = world();
    let files: Vec<&Path> = w.records.iter().map(PathBuf::as_path).collect();
    let (code, report) = verify(&files, &["--since", &w.started]);
    // The hand commit names run c, whose record does not list it.
    assert_eq!(code, 1, "{report:#}");
    assert_finding(&report, "", "actions", &w.hand_commit);
    assert_eq!(findings(&report).len(), 1, "{report:#}");
    for r in report["records"].as_array().unwrap() {
        assert_eq!(r["signature"], "valid");
        assert_eq!(r["decisions"], r["decisions_identical"]);
    }
    // Without the period, nothing is wrong with the records themselves.
    let (code, report) = verify(&files, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);

    // The chain: each record names the previous one's digest.
    let digests: Vec<&str> = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["digest"].as_str().unwrap())
        .collect();
    let b = read(&w.records[1]);
    assert_eq!(b["integrity"]["previous"], digests[0]);
    assert_eq!(b["integrity"]["signature"]["public_key"], PUBLIC);

    // Text output.
    let env = &w.env;
    let out = env.baton(&[
        "audit",
        "verify",
        "--public-key",
        PUBLIC,
        "--config",
        "baton.yaml",
        w.records[0].to_str().unwrap(),
    ]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("decisions replay identically; signature valid; no findings"),
        "{text}"
    );
    assert!(text.ends_with("verified: no findings\n"), "{text}");
}

#[test]
fn the_record_names_who_ran_it_and_who_approved_and_merged() {
    let b = read(&world().records[1]);
    let mr = &b["merge_requests"][0];
    assert_eq!(mr["stage"], "staging");
    assert_eq!(mr["merged_by"], "carol");
    assert_eq!(mr["approvals"][0]["user"], "alice");
    let millis = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").unwrap();
    for t in [
        &mr["merged_at"],
        &mr["approvals"][0]["at"],
        &b["started_at"],
        &b["finished_at"],
    ] {
        assert!(millis.is_match(t.as_str().unwrap()), "{t}");
    }
    assert_eq!(b["arrivals"][0]["origin"], "baton-merge-request");
    assert_eq!(b["commit_author"], "Baton <baton@localhost>");
}

#[test]
fn ci_identity_is_recorded_and_a_capped_wait_says_so() {
    let env = Env::new(Setup {
        policy: "  path: builtin:default\n  settings: { health_timeout: 2h }\n".into(),
        ..Setup::default()
    });
    let out = env.baton_with(
        &["promote", "--app", APP, "--tag", "v1.0.1"],
        &[
            ("GITLAB_CI", "true"),
            ("CI_PIPELINE_ID", "4242"),
            ("CI_JOB_ID", "777"),
            ("CI_JOB_URL", "https://gitlab.example/acme/app/-/jobs/777"),
            ("GITLAB_USER_LOGIN", "dana"),
            ("CI_PROJECT_PATH", "acme/app"),
        ],
    );
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("await health of dev at v1.0.1 (timeout 60s) (capped by max_health_wait; the policy asked for 7200s)"),
        "{text}"
    );
    assert!(!text.contains("(timeout 7200s)"), "{text}");
    assert!(text.contains("max_health_wait capped: the policy asked to wait up to 2h; guardrails.max_health_wait allows 1m"), "{text}");
    let record = &env.audit_records()[0];
    assert_eq!(
        record["ci"],
        json!({ "system": "gitlab", "pipeline": "4242", "job": "777",
                "url": "https://gitlab.example/acme/app/-/jobs/777", "user": "dana", "project": "acme/app" })
    );
    let gate = &record["gates"][0];
    assert_eq!(
        (
            gate["timeout_ms"].as_u64(),
            gate["requested_timeout_ms"].as_u64()
        ),
        (Some(60_000), Some(7_200_000))
    );
    let wait = action_index(record, |a| a["action"].get("AwaitHealth").is_some());
    assert_eq!(record["actions"][wait]["guardrails"][0]["effect"], "capped");
    assert_eq!(
        record["actions"][wait]["guardrails"][0]["rule"],
        "max_health_wait"
    );
}

#[test]
fn a_hand_made_prod_change_with_copied_trailers_is_out_of_band() {
    let w = world();
    let (text, code) = &w.advance_out;
    assert_eq!(*code, 1, "{text}");
    assert!(
        text.contains("[done] fail: prod changed v1.0.0 -> v1.0.2 out of band"),
        "{text}"
    );
    assert!(!text.contains("complete"), "{text}");
    let d = read(&w.records[3]);
    let arrival = &d["arrivals"][0];
    assert_eq!(arrival["stage"], "prod");
    assert_eq!(arrival["origin"], "out-of-band");
    assert_eq!(arrival["commit"], w.hand_commit.as_str());
    let reasons = arrival["reasons"].to_string();
    assert!(reasons.contains("committed directly to prod"), "{reasons}");
    assert!(reasons.contains("lists no commit"), "{reasons}");
    assert_eq!(
        d["decisions"][0]["event"]["StageChanged"]["origin"],
        "OutOfBand"
    );

    let out = w.env.baton(&["status", "--app", APP]);
    let status = stdout(&out);
    assert!(status.contains("v1.0.2 (OUT OF BAND)"), "{status}");
    assert!(status.contains("out of band: prod v1.0.2 reached the branch outside Baton: it was committed directly to prod"), "{status}");
}

#[test]
fn a_changed_outcome_action_or_timestamp_is_found() {
    let dir = scratch();
    let c = read(&dir.path().join("c.json"));
    let rollback = action_index(&c, |a| a["action"].get("Rollback").is_some());
    let path = tamper(dir.path(), "c", |r| {
        r["outcome"]["status"] = json!("done");
        r["outcome"]["exit_code"] = json!(0);
        r["actions"][rollback]["action"]["Rollback"]["to_version"] = json!("v0.0.1");
        r["started_at"] = json!("yesterday-ish");
    });
    let (code, report) = verify(&[&path], &["--offline"]);
    assert_eq!(code, 1);
    assert_finding(&report, "c.json", "outcome", "Failed");
    assert_finding(
        &report,
        "c.json",
        &format!("actions[{rollback}].action"),
        "v0.0.1",
    );
    assert_finding(&report, "c.json", "started_at", "yesterday-ish");
    assert_finding(
        &report,
        "c.json",
        "integrity.signature",
        "changed after it was signed",
    );

    let path = tamper(dir.path(), "b", |r| {
        r["finished_at"] = json!("2001-01-01T00:00:00.000Z");
    });
    let (_, report) = verify(&[&path], &["--offline"]);
    assert_finding(&report, "b.json", "finished_at", "a time after started_at");
}

#[test]
fn a_changed_gate_policy_config_run_or_guardrail_is_found() {
    let dir = scratch();
    let path = tamper(dir.path(), "c", |r| {
        r["gates"][0]["last"]["health"] = json!("Healthy");
        r["policy"]["name"] = json!("trusted-policy");
        r["policy"]["version"] = json!("9.9.9");
        r["config"]["digest"] = json!(format!("sha256:{}", "1".repeat(64)));
        r["context"]["stages"][2]["direct_commit_allowed"] = json!(true);
    });
    let (code, report) = verify(&[&path], &["--offline"]);
    assert_eq!(code, 1);
    assert_finding(&report, "c.json", "gates[0].last", "Healthy");
    assert_finding(&report, "c.json", "policy.name", "trusted-policy");
    assert_finding(&report, "c.json", "policy.version", "9.9.9");
    assert_finding(&report, "c.json", "config.digest", "1111");
    assert_finding(
        &report,
        "c.json",
        "context.stages[2].direct_commit_allowed",
        "guardrails.direct_commit_stages",
    );

    let path = tamper(dir.path(), "a", |r| {
        r["run_id"] = json!("20200101T000000Z-abcdef");
    });
    let (_, report) = verify(&[&path], &[]);
    assert_finding(
        &report,
        "a.json",
        "context.run_id",
        "20200101T000000Z-abcdef",
    );
    assert_finding(
        &report,
        "a.json",
        "actions[0].commit",
        "Baton-Run: 20200101T000000Z-abcdef",
    );
}

#[test]
fn deleted_or_forged_decisions_and_moved_commits_are_found() {
    let dir = scratch();
    let c = read(&dir.path().join("c.json"));
    let n = c["decisions"].as_array().unwrap().len();
    assert!(n >= 3, "{n} decisions");
    // The last three decisions go (the Degraded observation among them).
    let path = tamper(dir.path(), "c", |r| {
        r["decisions"].as_array_mut().unwrap().truncate(n - 3);
    });
    let (_, report) = verify(&[&path], &["--offline"]);
    let rollback = action_index(&c, |a| a["action"].get("Rollback").is_some());
    assert_finding(
        &report,
        "c.json",
        &format!("actions[{rollback}].decision"),
        "decisions of the record",
    );
    assert_finding(
        &report,
        "c.json",
        "gates[0].observations",
        "health-observed decisions",
    );

    // A whole decision forged from a real one: its host calls replay.
    let path = tamper(dir.path(), "b", |r| {
        let decisions = r["decisions"].as_array_mut().unwrap();
        let mut forged = decisions
            .iter()
            .find(|d| d["event"].get("HealthObserved").is_some())
            .unwrap()
            .clone();
        forged["seq"] = json!(decisions.len() + 1);
        decisions.push(forged);
    });
    let (_, report) = verify(&[&path], &["--offline"]);
    assert_finding(
        &report,
        "b.json",
        "gates[0].observations",
        "health-observed decisions",
    );

    // The executed action's commit changed to another commit of the branch.
    let seed = world().env.git(&["rev-list", "--max-parents=0", "main"]);
    let path = tamper(dir.path(), "a", |r| {
        r["actions"][0]["commit"] = json!(seed);
    });
    let (_, report) = verify(&[&path], &[]);
    assert_finding(
        &report,
        "a.json",
        "actions[0].commit",
        "no Baton-Run trailer",
    );
}

#[test]
fn gaps_forks_and_foreign_keys_are_found() {
    let dir = scratch();
    let (a, b, c) = (
        dir.path().join("a.json"),
        dir.path().join("b.json"),
        dir.path().join("c.json"),
    );
    let (_, report) = verify(&[&a, &c], &["--offline"]);
    assert_finding(&report, "c.json", "integrity.previous", "a gap");

    std::fs::copy(&b, dir.path().join("b2.json")).unwrap();
    let b2 = tamper(dir.path(), "b2", |r| {
        r["run_id"] = json!("20990101T000000Z-ffffff")
    });
    let (_, report) = verify(&[&a, &b, &b2], &["--offline"]);
    assert_finding(&report, "b.json", "integrity.previous", "a fork");

    let other = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    let env = &world().env;
    let out = env.baton(&[
        "audit",
        "verify",
        "--offline",
        "--output",
        "json",
        "--public-key",
        other,
        a.to_str().unwrap(),
    ]);
    assert_code(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_finding(
        &report,
        "a.json",
        "integrity.signature",
        "another key signed it",
    );

    let out = env.baton(&[
        "audit",
        "verify",
        "--offline",
        "--public-key",
        "xyz",
        a.to_str().unwrap(),
    ]);
    assert_code(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public-key is not an Ed25519 key"));

    let out = crate::support::baton(env.dir())
        .args(["audit", "public-key"])
        .env("BATON_AUDIT_KEY", KEY)
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert_eq!(stdout(&out), format!("{PUBLIC}\n"));
}

#[test]
fn a_force_pushed_history_with_a_rewritten_trailer_is_found() {
    let w = world();
    let copy = tempfile::tempdir().unwrap();
    let bare = copy.path().join("env");
    git(
        copy.path(),
        &[
            "clone",
            "-q",
            w.env.bare.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let a = read(&w.records[0]);
    let run = a["run_id"].as_str().unwrap();
    // Every commit's message rewritten: run a's trailer names another run.
    let out = crate::support::git_command(&bare)
        .env("FILTER_BRANCH_SQUELCH_WARNING", "1")
        .args(["filter-branch", "-f", "--msg-filter"])
        .arg(format!("sed 's/{run}/20250101T000000Z-000000/'"))
        .args(["--", "main"])
        .output()
        .unwrap();
    assert_code(&out, 0);
    let yaml = std::fs::read_to_string(w.env.dir().join("baton.yaml")).unwrap();
    let yaml = yaml
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("url: http") && l.contains("gitops-env.git") {
                format!("  url: {}", bare.display())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config = copy.path().join("baton.yaml");
    std::fs::write(&config, yaml.replace("  token_env: ENV_REPO_TOKEN\n", "")).unwrap();
    let out = w.env.baton(&[
        "audit",
        "verify",
        "--output",
        "json",
        "--config",
        config.to_str().unwrap(),
        w.records[0].to_str().unwrap(),
    ]);
    assert_code(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_finding(&report, "", "actions[0].commit", "not in main's history");
    assert_finding(&report, "", "gates[0].commit", "force-pushed");
}

#[test]
fn approvals_and_merger_are_recorded_from_the_github_simulator() {
    use baton::secret::Secret;
    use baton::sim::forge::github;
    let env = Env::new(Setup::default());
    let sim = env
        .rt
        .block_on(github::spawn(github::GitHubSimConfig {
            repo: env.bare.clone(),
            owner: "acme".into(),
            name: "gitops-env".into(),
            token: Some(Secret::new(FORGE_TOKEN)),
        }))
        .unwrap();
    let yaml_path = env.dir().join("baton.yaml");
    let yaml = std::fs::read_to_string(&yaml_path).unwrap();
    let gitlab_api = env.forge.api_url().to_owned();
    let yaml = yaml
        .replace("kind: gitlab", "kind: github")
        .replace(&gitlab_api, sim.api_url());
    std::fs::write(&yaml_path, yaml).unwrap();

    assert_code(&env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]), 0);
    let http = reqwest::Client::new();
    let pulls = format!("{}/repos/acme/gitops-env/pulls/1", sim.api_url());
    let send = |method: reqwest::Method, url: String, user: &str, body: Value| {
        env.rt
            .block_on(
                http.request(method, url)
                    .bearer_auth(FORGE_TOKEN)
                    .header("X-Baton-Sim-User", user)
                    .json(&body)
                    .send(),
            )
            .unwrap()
    };
    // The author cannot approve its own pull request.
    let own = send(
        reqwest::Method::POST,
        format!("{pulls}/reviews"),
        "baton",
        json!({ "event": "APPROVE" }),
    );
    assert_eq!(own.status().as_u16(), 422);
    for (user, event) in [
        ("erin", "REQUEST_CHANGES"),
        ("bob", "APPROVE"),
        ("erin", "APPROVE"),
        ("erin", "COMMENT"),
    ] {
        let reply = send(
            reqwest::Method::POST,
            format!("{pulls}/reviews"),
            user,
            json!({ "event": event }),
        );
        assert_eq!(reply.status().as_u16(), 200);
    }
    let merged = send(
        reqwest::Method::PUT,
        format!("{pulls}/merge"),
        "dana",
        json!({}),
    );
    assert_eq!(merged.status().as_u16(), 200);

    assert_code(&env.baton(&["advance", "--app", APP]), 0);
    let records = env.audit_records();
    let advance = records
        .iter()
        .find(|r| r["command"]["name"] == "advance")
        .unwrap();
    let mr = &advance["merge_requests"][0];
    assert_eq!(mr["number"], 1);
    assert_eq!(mr["merged_by"], "dana");
    let approvers: Vec<&str> = mr["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["user"].as_str().unwrap())
        .collect();
    assert_eq!(approvers, ["bob", "erin"]);
    assert!(
        mr["url"]
            .as_str()
            .unwrap()
            .ends_with("/acme/gitops-env/pull/1")
    );
    assert!(mr["merged_at"].as_str().unwrap().ends_with(".000Z"));
}
