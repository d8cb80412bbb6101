//! The GitLab components, included by consumer pipelines that have their
//! own stages and jobs, run by gitlab-ci-local with the shell executor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use baton::sim::git_http::{self as http_server, GitHttpConfig, GitHttpHandle};
use sha2::{Digest, Sha256};

use super::{BinaryServer, copy_dir, repo_root, text, tool};
use crate::engine::env::{APP, ARGO_TOKEN, Env, FORGE_TOKEN, REPO_TOKEN, Setup};
use crate::support::git;

/// A command with a cleared environment: PATH (with the tools' directory
/// first, so gitlab-ci-local's jobs find nothing else first), a temporary
/// HOME and a fixed git identity.
fn hermetic(program: &Path, home: &Path) -> Command {
    let mut path = vec![
        program
            .parent()
            .expect("a tool has a directory")
            .to_path_buf(),
    ];
    if let Some(p) = std::env::var_os("PATH") {
        path.extend(std::env::split_paths(&p));
    }
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
        .env("GIT_AUTHOR_NAME", "Platform Team")
        .env("GIT_AUTHOR_EMAIL", "platform@example.com")
        .env("GIT_COMMITTER_NAME", "Platform Team")
        .env("GIT_COMMITTER_EMAIL", "platform@example.com");
    cmd
}

/// The component version the consumers include.
const COMPONENT_REF: &str = "0.1.0";

/// A GitLab instance as far as `include: component` needs one: the
/// component project `platform/baton` (this repository's `templates/`,
/// tagged [`COMPONENT_REF`]) served over git HTTP. Consumer projects get
/// an `origin` on the same host, as they would on one GitLab.
struct ComponentHost {
    git: GitHttpHandle,
}

impl ComponentHost {
    fn start(env: &Env) -> Self {
        let root = env.dir().join("gitlab");
        let bare = root.join("platform/baton.git");
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "-q", "--bare", "-b", "main"]);
        git(&bare, &["config", "uploadpack.allowFilter", "true"]);
        let work = env.dir().join("component-project");
        copy_dir(&repo_root().join("templates"), &work.join("templates"));
        std::fs::copy(repo_root().join("README.md"), work.join("README.md")).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "Baton CI/CD components"]);
        git(&work, &["tag", COMPONENT_REF]);
        git(
            &work,
            &["push", "-q", bare.to_str().unwrap(), "main", COMPONENT_REF],
        );
        let git = env
            .rt
            .block_on(http_server::spawn(GitHttpConfig { root, token: None }))
            .unwrap();
        Self { git }
    }

    /// `git remote` URL of a project on this host.
    fn project_url(&self, path: &str) -> String {
        format!("{}/{path}.git", self.git.base_url())
    }
}

/// A project whose `.gitlab-ci.yml` includes a component: its own stages
/// and jobs, Baton's `baton.yaml`, and the CI/CD variables of its settings
/// (the tokens baton.yaml names).
struct Consumer {
    dir: PathBuf,
    home: PathBuf,
    gitlab_ci_local: PathBuf,
}

impl Consumer {
    fn new(env: &Env, gitlab_ci_local: PathBuf, dir: PathBuf, ci_yaml: &str) -> Self {
        std::fs::write(dir.join(".gitlab-ci.yml"), ci_yaml).unwrap();
        std::fs::copy(env.dir().join("baton.yaml"), dir.join("baton.yaml")).unwrap();
        std::fs::write(
            dir.join(".gitlab-ci-local-variables.yml"),
            format!(
                "ENV_REPO_TOKEN: {REPO_TOKEN}\nARGOCD_TOKEN: {ARGO_TOKEN}\nGITLAB_TOKEN: {FORGE_TOKEN}\n"
            ),
        )
        .unwrap();
        let home = dir.with_extension("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Platform Team\n\temail = platform@example.com\n",
        )
        .unwrap();
        Self {
            dir,
            home,
            gitlab_ci_local,
        }
    }

    /// Runs `gitlab-ci-local ARGS` in the project with the shell executor.
    fn run(&self, args: &[&str]) -> Output {
        let out = hermetic(&self.gitlab_ci_local, &self.home)
            .current_dir(&self.dir)
            .args([
                "--force-shell-executor",
                "--no-color",
                "--max-job-name-padding",
                "0",
            ])
            .args(args)
            .output()
            .unwrap();
        let all = text(&out);
        for token in [REPO_TOKEN, ARGO_TOKEN, FORGE_TOKEN] {
            assert!(
                !all.contains(token),
                "a token leaked into the job log:\n{all}"
            );
        }
        out
    }

    /// `--list-json` under `variables`: job name -> (stage, when).
    fn jobs(&self, variables: &[&str]) -> BTreeMap<String, (String, String)> {
        let mut args = vec!["--list-json".to_owned()];
        for v in variables {
            args.extend(["--variable".to_owned(), (*v).to_owned()]);
        }
        // Overriding CI_PIPELINE_SOURCE is how a schedule or a web pipeline
        // is simulated; say so, instead of a warning before the JSON.
        let names: Vec<&str> = variables
            .iter()
            .filter_map(|v| v.split('=').next())
            .collect();
        if !names.is_empty() {
            args.extend(["--ignore-predefined-vars".to_owned(), names.join(",")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run(&args);
        assert!(out.status.success(), "{}", text(&out));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("--list-json: {e}\n{}", text(&out)));
        list.as_array()
            .unwrap()
            .iter()
            .filter(|j| j["when"] != "never")
            .map(|j| {
                (
                    j["name"].as_str().unwrap().to_owned(),
                    (
                        j["stage"].as_str().unwrap().to_owned(),
                        j["when"].as_str().unwrap().to_owned(),
                    ),
                )
            })
            .collect()
    }

    /// Audit records the jobs left as artifacts, parsed.
    fn audit_records(&self) -> Vec<serde_json::Value> {
        let dir = self.dir.join("baton-audit");
        crate::support::record_files(&dir)
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

/// The app repository: a build and a test job of its own in its own
/// stages, and the `promote` component in `deploy`.
fn app_repo(host: &ComponentHost, bin: &BinaryServer, sha256: &str) -> String {
    format!(
        r#"stages: [build, test, deploy]

include:
  - component: $CI_SERVER_FQDN/platform/baton/promote@{COMPONENT_REF}
    inputs:
      app: {APP}
      download_url: {url}
      sha256: "{sha256}"

build-image:
  stage: build
  script:
    - echo "image built for $CI_COMMIT_TAG" > image.txt

unit-tests:
  stage: test
  script:
    - test -s image.txt
"#,
        url = bin.url(),
    )
    .replace("$CI_SERVER_FQDN", &host_fqdn(host))
}

/// The env repository: a lint job of its own and the `advance` component;
/// the binary's checksum comes from the `.sha256` file next to it.
fn env_repo_ci(host: &ComponentHost, bin: &BinaryServer) -> String {
    format!(
        r#"stages: [lint, promote]

include:
  - component: $CI_SERVER_FQDN/platform/baton/advance@{COMPONENT_REF}
    inputs:
      app: {APP}
      stage: promote
      download_url: {url}

lint-yaml:
  stage: lint
  script:
    - test -f overlays/staging/{APP}/values.yaml
"#,
        url = bin.url(),
    )
    .replace("$CI_SERVER_FQDN", &host_fqdn(host))
}

fn host_fqdn(host: &ComponentHost) -> String {
    host.git.base_url().trim_start_matches("http://").to_owned()
}

/// A git repository in `dir` whose `origin` is `url` (only its host and
/// path matter to gitlab-ci-local), with everything committed.
fn init_project(dir: &Path, url: &str) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "project"]);
    git(dir, &["remote", "add", "origin", url]);
    git(
        dir,
        &[
            "symbolic-ref",
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/main",
        ],
    );
}

fn assert_stage(jobs: &BTreeMap<String, (String, String)>, job: &str, stage: &str, when: &str) {
    let got = jobs
        .get(job)
        .unwrap_or_else(|| panic!("job {job} missing from the pipeline: {jobs:?}"));
    assert_eq!(
        (got.0.as_str(), got.1.as_str()),
        (stage, when),
        "job {job}: {jobs:?}"
    );
}

/// An Env with the component host and the binary server.
fn gitlab_world() -> (Env, ComponentHost, BinaryServer) {
    let env = Env::new(Setup::default());
    let host = ComponentHost::start(&env);
    let bin = BinaryServer::start(&env);
    (env, host, bin)
}

#[test]
fn promote_joins_the_app_pipeline_and_promotes_to_dev() {
    let Some(gcl) = tool("gitlab-ci-local") else {
        return;
    };
    let (env, host, bin) = gitlab_world();
    let app_dir = env.dir().join("app");
    std::fs::create_dir_all(&app_dir).unwrap();
    let app = Consumer::new(
        &env,
        gcl,
        app_dir.clone(),
        &app_repo(&host, &bin, &bin.sha256),
    );
    init_project(&app_dir, &host.project_url("acme/payments"));

    // The component's job joined the pipeline's own stages and jobs.
    let jobs = app.jobs(&["CI_COMMIT_TAG=v1.1.0"]);
    assert_stage(&jobs, "build-image", "build", "on_success");
    assert_stage(&jobs, "unit-tests", "test", "on_success");
    assert_stage(&jobs, "baton-promote-payments", "deploy", "on_success");
    // Not a release tag, or no tag at all: no promotion.
    assert!(!app.jobs(&[]).contains_key("baton-promote-payments"));
    assert!(
        !app.jobs(&["CI_COMMIT_TAG=nightly"])
            .contains_key("baton-promote-payments")
    );

    // The tag pipeline: build, test, then the promotion.
    let out = app.run(&["--variable", "CI_COMMIT_TAG=v1.1.0"]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert_eq!(
        std::fs::read_to_string(app_dir.join("image.txt")).unwrap(),
        "image built for v1.1.0\n",
        "{log}"
    );
    // dev got the version by a direct commit, staging a merge request.
    assert!(
        env.file("dev").contains("tag: \"v1.1.0\" # set by Baton"),
        "{}\n{log}",
        env.file("dev")
    );
    assert!(env.file("staging").contains("tag: \"v1.0.0\""));
    assert_eq!(
        env.git(&["log", "-1", "--format=%s", "main"]),
        "dev(payments): v1.1.0"
    );
    let mrs = env.merge_requests();
    assert_eq!(mrs.len(), 1, "{log}");
    assert_eq!(mrs[0].source_branch, "baton/payments/staging/v1.1.0");
    assert_eq!(mrs[0].title, "staging(payments): v1.1.0");
    // The verified binary stayed in the project directory.
    let installed = std::fs::read(app_dir.join(".baton-bin/baton")).unwrap();
    assert_eq!(format!("{:x}", Sha256::digest(&installed)), bin.sha256);
    // The audit record is left for the job's artifacts.
    let records = app.audit_records();
    assert_eq!(records.len(), 1, "{log}");
    assert_eq!(records[0]["command"]["name"], "promote");
    assert_eq!(records[0]["outcome"]["status"], "held");
    assert_eq!(records[0]["gates"][0]["stage"], "dev");
    assert_eq!(records[0]["gates"][0]["result"], "decided");
}

/// The env repo's project: a clone of the env repo (its CI runs in a
/// checkout) whose `origin` is on the component host, with the `advance`
/// component included.
fn env_repo_project(env: &Env, host: &ComponentHost, bin: &BinaryServer, gcl: PathBuf) -> Consumer {
    let dir = env.clone_to("env-repo");
    git(
        &dir,
        &[
            "remote",
            "set-url",
            "origin",
            &host.project_url("acme/gitops-env"),
        ],
    );
    Consumer::new(env, gcl, dir, &env_repo_ci(host, bin))
}

#[test]
fn advance_gates_a_merged_mr_and_opens_the_next() {
    let Some(gcl) = tool("gitlab-ci-local") else {
        return;
    };
    let (env, host, bin) = gitlab_world();
    // The app repo promoted v1.1.0 (see the test above); a reviewer merges
    // the staging MR, and the env repo's push pipeline runs. Its CI cache
    // is its own: Baton starts from an empty cache directory.
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.1.0"]);
    assert!(out.status.success(), "{}", text(&out));
    env.merge("staging", "v1.1.0");
    let env_ci = env_repo_project(&env, &host, &bin, gcl);

    // Which jobs each kind of pipeline gets, next to the project's own.
    let jobs = env_ci.jobs(&[]);
    assert_stage(&jobs, "lint-yaml", "lint", "on_success");
    assert_stage(&jobs, "baton-advance-payments", "promote", "on_success");
    assert!(!jobs.contains_key("baton-reconcile-payments"), "{jobs:?}");
    assert!(!jobs.contains_key("baton-rollback-payments"), "{jobs:?}");
    let scheduled = env_ci.jobs(&["CI_PIPELINE_SOURCE=schedule"]);
    assert_stage(
        &scheduled,
        "baton-reconcile-payments",
        "promote",
        "on_success",
    );
    assert!(!scheduled.contains_key("baton-advance-payments"));
    let web = env_ci.jobs(&["CI_PIPELINE_SOURCE=web"]);
    assert_stage(&web, "baton-rollback-payments", "promote", "manual");
    assert!(!web.contains_key("baton-advance-payments"));

    let out = env_ci.run(&[]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    // staging was gated healthy and the policy opened the prod MR.
    let mrs = env.merge_requests();
    let prod = mrs
        .iter()
        .find(|m| m.source_branch == "baton/payments/prod/v1.1.0")
        .unwrap_or_else(|| panic!("no prod MR: {mrs:?}\n{log}"));
    assert_eq!(prod.title, "prod(payments): v1.1.0");
    let records = env_ci.audit_records();
    assert_eq!(records.len(), 1, "{log}");
    assert_eq!(records[0]["command"]["name"], "advance");
    assert_eq!(records[0]["outcome"]["status"], "held");
    assert_eq!(records[0]["gates"][0]["stage"], "staging");
    assert_eq!(records[0]["gates"][0]["result"], "decided");
}

#[test]
fn promote_refuses_a_binary_with_the_wrong_checksum() {
    let Some(gcl) = tool("gitlab-ci-local") else {
        return;
    };
    let (env, host, bin) = gitlab_world();
    let app_dir = env.dir().join("app");
    std::fs::create_dir_all(&app_dir).unwrap();
    let wrong = "0".repeat(64);
    let app = Consumer::new(&env, gcl, app_dir.clone(), &app_repo(&host, &bin, &wrong));
    init_project(&app_dir, &host.project_url("acme/payments"));
    let before = env.fingerprint();

    let out = app.run(&[
        "--variable",
        "CI_COMMIT_TAG=v1.1.0",
        "baton-promote-payments",
    ]);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains(&format!(
            "checksum mismatch for {}: expected sha256 {wrong}, got {}; not running it",
            bin.url(),
            bin.sha256
        )),
        "{log}"
    );
    assert!(!log.contains("> baton 0.1.0"), "the binary ran:\n{log}");
    assert!(
        !app_dir.join(".baton-bin/baton").exists(),
        "the download is kept"
    );
    assert_eq!(env.fingerprint(), before, "{log}");
    assert!(app.audit_records().is_empty());
}

#[test]
fn rollback_is_a_manual_job_that_rolls_the_stage_back() {
    let Some(gcl) = tool("gitlab-ci-local") else {
        return;
    };
    let (env, host, bin) = gitlab_world();
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.1.0"]);
    assert!(out.status.success(), "{}", text(&out));
    let env_ci = env_repo_project(&env, &host, &bin, gcl);
    let web = [
        "--variable",
        "CI_PIPELINE_SOURCE=web",
        "--ignore-predefined-vars",
        "CI_PIPELINE_SOURCE",
        "--manual",
        "baton-rollback-payments",
    ];

    // Played without saying which stage: refused before Baton runs.
    let before = env.fingerprint();
    let mut args = web.to_vec();
    args.push("baton-rollback-payments");
    let out = env_ci.run(&args);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("set BATON_STAGE (the stage to roll back) in this job's variables"),
        "{log}"
    );
    assert_eq!(env.fingerprint(), before);

    // With the job's variables set, dev goes back by a Baton commit.
    let mut args = web.to_vec();
    args.extend([
        "--variable",
        "BATON_STAGE=dev",
        "--variable",
        "BATON_TO=v1.0.0",
        "baton-rollback-payments",
    ]);
    let out = env_ci.run(&args);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        env.file("dev").contains("tag: \"v1.0.0\""),
        "{}\n{log}",
        env.file("dev")
    );
    let message = env.git(&["log", "-1", "--format=%B", "main"]);
    assert!(message.contains("Baton-Rollback-Of: v1.1.0"), "{message}");
    let records = env_ci.audit_records();
    assert_eq!(records.len(), 1, "{log}");
    assert_eq!(records[0]["command"]["name"], "rollback");
    assert_eq!(records[0]["command"]["args"]["stage"], "dev");
    assert_eq!(records[0]["command"]["args"]["to"], "v1.0.0");
    let reason = records[0]["command"]["args"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("manual rollback by "), "{reason}");
}
