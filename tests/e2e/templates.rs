//! The CI templates, used the way a platform engineer uses them.
//!
//! GitLab: each component is included by a consumer pipeline that has its
//! own `stages:` and jobs, from a component project served over git HTTP,
//! and `gitlab-ci-local` (shell executor) runs the real jobs: they download
//! the built `baton` from a local HTTP server, check its SHA-256 and run it
//! against the env repo, Argo CD and GitLab simulators of [`Env`].
//! GitHub: `actionlint` (with shellcheck) lints the action and the
//! workflows. Both kinds are validated against check-jsonschema's vendored
//! schemas, and the GitLab job scripts pass shellcheck as POSIX sh.
//!
//! The tools come from `.ci/pipelines.sh` (pinned, cached under
//! `target/pipeline-tools`) or PATH. Without them these tests print why and
//! pass; with `BATON_REQUIRE_TOOLS=1` (CI) a missing tool fails them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use baton::capabilities::git::http_server::{self, GitHttpConfig, GitHttpHandle};
use sha2::{Digest, Sha256};

use crate::engine::env::{APP, ARGO_TOKEN, Env, FORGE_TOKEN, REPO_TOKEN, Setup};
use crate::support::git;

/// The repository root (the templates, `.github/`, `action.yml`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Finds a tool installed by `.ci/pipelines.sh` or on PATH. Missing: fails
/// the test under `BATON_REQUIRE_TOOLS=1`, else prints why it is skipped.
fn tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("BATON_TOOLS_DIR") {
        dirs.push(PathBuf::from(dir).join("bin"));
    }
    dirs.push(repo_root().join("target/pipeline-tools/bin"));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(found);
    }
    let required = std::env::var("BATON_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{name} is missing and BATON_REQUIRE_TOOLS=1: run .ci/pipelines.sh (it installs into target/pipeline-tools)"
    );
    eprintln!("skipped: {name} not found; run .ci/pipelines.sh to install the template tools");
    None
}

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

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Serves the built `baton` and its `.sha256` (in `sha256sum` format) over
/// HTTP on loopback, as a release page would.
struct BinaryServer {
    addr: SocketAddr,
    sha256: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl BinaryServer {
    fn start(env: &Env) -> Self {
        let bytes = std::fs::read(env!("CARGO_BIN_EXE_baton")).unwrap();
        let sha256 = format!("{:x}", Sha256::digest(&bytes));
        let sidecar = format!("{sha256}  baton-x86_64-unknown-linux-musl\n");
        let app = axum::Router::new()
            .route("/baton", axum::routing::get(move || async move { bytes }))
            .route(
                "/baton.sha256",
                axum::routing::get(move || async move { sidecar }),
            );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let addr = env.rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
            addr
        });
        Self {
            addr,
            sha256,
            _stop: stop,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/baton", self.addr)
    }
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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
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
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
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
fn gitlab_promote_component_runs_in_the_app_pipeline_and_promotes_to_dev() {
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
    // The audit record is left for the job's artifacts.
    let records = app.audit_records();
    assert_eq!(records.len(), 1, "{log}");
    assert_eq!(records[0]["command"]["name"], "promote");
    assert_eq!(records[0]["outcome"]["status"], "held");
    assert_eq!(records[0]["gates"][0]["stage"], "dev");
    assert_eq!(records[0]["gates"][0]["result"], "decided");
}

#[test]
fn gitlab_advance_component_gates_a_merged_mr_and_opens_the_next() {
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
    let env_dir = env.dir().join("env-repo");
    git(
        env.dir(),
        &[
            "clone",
            "-q",
            env.bare.to_str().unwrap(),
            env_dir.to_str().unwrap(),
        ],
    );
    git(
        &env_dir,
        &[
            "remote",
            "set-url",
            "origin",
            &host.project_url("acme/gitops-env"),
        ],
    );
    let env_ci = Consumer::new(&env, gcl, env_dir.clone(), &env_repo_ci(&host, &bin));

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
fn gitlab_promote_component_refuses_a_binary_with_the_wrong_checksum() {
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
    assert_eq!(env.fingerprint(), before, "{log}");
    assert!(app.audit_records().is_empty());
}

/// The documents of a YAML file (a component has a `spec:` header, `---`,
/// then its jobs).
fn documents(path: &Path) -> Vec<yaml_serde::Value> {
    use serde::Deserialize as _;
    let text = std::fs::read_to_string(path).unwrap();
    yaml_serde::Deserializer::from_str(&text)
        .map(|doc| {
            yaml_serde::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// Runs shellcheck on `script` as `shell` (`sh` or `bash`); returns its
/// findings, empty when clean.
fn shellcheck(shellcheck: &Path, dir: &Path, name: &str, shell: &str, script: &str) -> String {
    let file = dir.join(format!("{name}.{shell}"));
    std::fs::write(&file, format!("#!/bin/{shell}\n{script}\n")).unwrap();
    let out = Command::new(shellcheck)
        .args(["--shell", shell, "--severity", "style"])
        .arg(&file)
        .output()
        .unwrap();
    if out.status.success() {
        String::new()
    } else {
        text(&out)
    }
}

#[test]
fn the_scripts_of_the_components_and_the_action_pass_shellcheck() {
    let Some(sc) = tool("shellcheck") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut findings = String::new();
    let mut checked = 0;
    // GitLab runs before_script and script of a job in one shell, in any
    // image: POSIX sh.
    for component in ["promote", "advance"] {
        let path = repo_root().join(format!("templates/{component}.yml"));
        let docs = documents(&path);
        assert_eq!(docs.len(), 2, "{}: spec header and jobs", path.display());
        let jobs = docs[1].as_mapping().unwrap();
        for (name, job) in jobs {
            let name = name.as_str().unwrap();
            let Some(job) = job.as_mapping() else {
                continue;
            };
            let mut script = String::new();
            let hidden = job
                .get("extends")
                .and_then(|e| jobs.get(e.as_str().unwrap()))
                .and_then(|h| h.get("before_script"));
            for key in ["before_script", "script"] {
                let lines = job
                    .get(key)
                    .or(if key == "before_script" { hidden } else { None });
                for line in lines.and_then(|l| l.as_sequence()).into_iter().flatten() {
                    script.push_str(line.as_str().unwrap());
                    script.push('\n');
                }
            }
            if !job.contains_key("script") {
                continue;
            }
            let file = name.replace(['$', '[', ']', ' ', '.'], "");
            findings.push_str(&shellcheck(&sc, dir.path(), &file, "sh", &script));
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "promote, advance, reconcile and rollback jobs");
    // The action's steps run in bash; inputs reach them only through env,
    // never as ${{ }} inside a script (that would be script injection).
    let action = &documents(&repo_root().join("action.yml"))[0];
    for (i, step) in action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .enumerate()
    {
        let Some(run) = step.get("run").and_then(|r| r.as_str()) else {
            continue;
        };
        assert_eq!(step["shell"], "bash", "step {i}");
        assert!(
            !run.contains("${{"),
            "step {i} expands an expression in its script:\n{run}"
        );
        findings.push_str(&shellcheck(
            &sc,
            dir.path(),
            &format!("action-{i}"),
            "bash",
            run,
        ));
        checked += 1;
    }
    assert_eq!(checked, 6, "and the action's two scripts");
    for script in [
        "dist/install.sh",
        "dist/build-static.sh",
        ".ci/pipelines.sh",
    ] {
        let out = Command::new(&sc)
            .arg(repo_root().join(script))
            .output()
            .unwrap();
        if !out.status.success() {
            findings.push_str(&text(&out));
        }
    }
    assert!(findings.is_empty(), "{findings}");
}

#[test]
fn the_github_action_and_workflows_pass_actionlint_with_shellcheck() {
    let (Some(actionlint), Some(sc)) = (tool("actionlint"), tool("shellcheck")) else {
        return;
    };
    let root = repo_root();
    let mut files = Vec::new();
    for dir in [".github/workflows", ".github/examples"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    // release.yml runs the action as `./`: actionlint checks its inputs
    // against action.yml.
    let out = Command::new(&actionlint)
        .current_dir(&root)
        .arg("-shellcheck")
        .arg(&sc)
        .arg("-no-color")
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));

    // It does find mistakes: an unknown input of the action and a script
    // shellcheck rejects.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github/workflows")).unwrap();
    copy_dir(&root.join("dist"), &dir.path().join("dist"));
    std::fs::copy(root.join("action.yml"), dir.path().join("action.yml")).unwrap();
    // actionlint finds local actions from the repository root.
    git(dir.path(), &["init", "-q"]);
    let bad = dir.path().join(".github/workflows/bad.yml");
    std::fs::write(
        &bad,
        "on: push\npermissions: {}\njobs:\n  j:\n    runs-on: ubuntu-24.04\n    timeout-minutes: 5\n    steps:\n      - uses: ./\n        with: { command: status, app: a, colour: red }\n      - run: echo $UNQUOTED_THING\n",
    )
    .unwrap();
    let out = Command::new(&actionlint)
        .current_dir(dir.path())
        .arg("-shellcheck")
        .arg(&sc)
        .arg("-no-color")
        .arg(&bad)
        .output()
        .unwrap();
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("input \"colour\" is not defined"), "{log}");
    assert!(log.contains("SC2086"), "{log}");
}

#[test]
fn every_template_validates_against_the_vendored_schemas() {
    let Some(cj) = tool("check-jsonschema") else {
        return;
    };
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    // A component is two YAML documents; each is GitLab CI configuration.
    let mut gitlab = Vec::new();
    for component in ["promote", "advance"] {
        let text =
            std::fs::read_to_string(root.join(format!("templates/{component}.yml"))).unwrap();
        let (header, jobs) = text
            .split_once("\n---\n")
            .unwrap_or_else(|| panic!("templates/{component}.yml: no --- after the spec header"));
        for (part, body) in [("spec", header), ("jobs", jobs)] {
            let file = dir.path().join(format!("{component}-{part}.yml"));
            std::fs::write(&file, body).unwrap();
            gitlab.push(file);
        }
    }
    let workflows: Vec<PathBuf> = [".github/workflows", ".github/examples"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    for (schema, files) in [
        ("vendor.gitlab-ci", gitlab),
        ("vendor.github-workflows", workflows),
        ("vendor.github-actions", vec![root.join("action.yml")]),
    ] {
        let mut cmd = Command::new(&cj);
        cmd.args(["--builtin-schema", schema]);
        if schema == "vendor.gitlab-ci" {
            // Reads GitLab's !reference tags, should a template use them.
            cmd.args(["--data-transform", "gitlab-ci"]);
        }
        let out = cmd.args(&files).output().unwrap();
        assert!(out.status.success(), "{schema} {files:?}\n{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("ok -- validation done"),
            "{}",
            text(&out)
        );
    }
    // And the schema is strict enough to notice a wrong job key.
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "job:\n  stage: deploy\n  script: [true]\n  timeout: [45m]\n",
    )
    .unwrap();
    let out = Command::new(&cj)
        .args(["--builtin-schema", "vendor.gitlab-ci"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
}

/// Runs one `run:` step of action.yml as the runner does (`bash
/// --noprofile --norc -eo pipefail`), with `vars` as its environment.
fn action_step(step: usize, cwd: &Path, vars: &[(&str, &str)]) -> Output {
    let action = &documents(&repo_root().join("action.yml"))[0];
    let script = action["runs"]["steps"][step]["run"].as_str().unwrap();
    let mut cmd = Command::new("bash");
    cmd.env_clear()
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(cwd)
        .env("HOME", cwd)
        .env("GITHUB_ACTION_PATH", repo_root())
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_ACTOR", "octocat")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "acme/payments")
        .env("ENV_REPO_TOKEN", REPO_TOKEN)
        .env("ARGOCD_TOKEN", ARGO_TOKEN)
        .env("GITLAB_TOKEN", FORGE_TOKEN);
    cmd.envs(vars.iter().copied());
    let out = cmd.output().unwrap();
    let all = text(&out);
    for token in [REPO_TOKEN, ARGO_TOKEN, FORGE_TOKEN] {
        assert!(
            !all.contains(token),
            "a token leaked into the step log:\n{all}"
        );
    }
    out
}

#[test]
fn the_github_action_steps_install_baton_then_promote_and_roll_back() {
    let env = Env::new(Setup::default());
    let bin = BinaryServer::start(&env);
    let work = env.dir().join("github-workspace");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::copy(env.dir().join("baton.yaml"), work.join("baton.yaml")).unwrap();
    let runner_temp = env.dir().join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let github_path = runner_temp.join("github-path");
    let system_path = std::env::var("PATH").unwrap();
    let installer = [
        ("PATH", system_path.as_str()),
        ("RUNNER_TEMP", runner_temp.to_str().unwrap()),
        ("GITHUB_PATH", github_path.to_str().unwrap()),
        ("BATON_VERSION", "0.1.0"),
        ("BATON_DOWNLOAD_URL", &bin.url()),
    ];

    // A wrong pinned checksum: nothing installed, nothing added to PATH.
    let wrong = "f".repeat(64);
    let mut vars = installer.to_vec();
    vars.push(("BATON_SHA256", &wrong));
    let out = action_step(0, &work, &vars);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("checksum mismatch"), "{}", text(&out));
    assert!(!runner_temp.join("baton-bin/baton").exists());
    assert!(!github_path.exists());

    // The published .sha256 next to the binary.
    let mut vars = installer.to_vec();
    vars.push(("BATON_SHA256", ""));
    let out = action_step(0, &work, &vars);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("baton 0.1.0"));
    let added = std::fs::read_to_string(&github_path).unwrap();
    assert_eq!(
        added.trim(),
        runner_temp.join("baton-bin").to_str().unwrap()
    );
    let installed = std::fs::read(runner_temp.join("baton-bin/baton")).unwrap();
    assert_eq!(format!("{:x}", Sha256::digest(&installed)), bin.sha256);

    // The command step, with baton found through GITHUB_PATH.
    let path = format!("{}:{system_path}", added.trim());
    let cache = env.dir().join("gh-cache");
    let command = |vars: &[(&str, &str)]| {
        let mut all = vec![
            ("PATH", path.as_str()),
            ("BATON_CONFIG", "baton.yaml"),
            ("BATON_CACHE_DIR", cache.to_str().unwrap()),
            ("BATON_ARGS", ""),
            ("BATON_ALL", "false"),
            ("BATON_TAG", ""),
            ("BATON_STAGE", ""),
            ("BATON_TO", ""),
            ("BATON_REASON", ""),
            ("CI_COMMIT_BEFORE_SHA", ""),
        ];
        all.extend_from_slice(vars);
        action_step(2, &work, &all)
    };
    let out = command(&[
        ("BATON_COMMAND", "promote"),
        ("BATON_APP", APP),
        ("BATON_TAG", "v1.1.0"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        env.file("dev").contains("tag: \"v1.1.0\""),
        "{}",
        env.file("dev")
    );
    assert_eq!(env.merge_requests().len(), 1);
    let record = work.join("baton-audit/promote-payments-4242-1.json");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(record["outcome"]["status"], "held");

    // Extra arguments, one per line, reach baton as they are.
    let out = command(&[
        ("BATON_COMMAND", "rollback"),
        ("BATON_APP", APP),
        ("BATON_STAGE", "dev"),
        ("BATON_TO", "v1.0.0"),
        ("BATON_ARGS", "--output\njson\n"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("--output json: {e}\n{}", text(&out)));
    assert_eq!(report["exit_code"], 0, "{report}");
    assert!(
        env.file("dev").contains("tag: \"v1.0.0\""),
        "{}",
        env.file("dev")
    );
    let message = env.git(&["log", "-1", "--format=%B", "main"]);
    assert!(message.contains("Baton-Rollback-Of: v1.1.0"), "{message}");
    let record = work.join("baton-audit/rollback-payments-4242-1.json");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(
        record["command"]["args"]["reason"],
        "rollback by octocat in run https://github.com/acme/payments/actions/runs/4242"
    );

    // Mistakes are reported before baton runs, with usage's exit code.
    let out = command(&[("BATON_COMMAND", "promote"), ("BATON_APP", APP)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("::error::command promote needs the tag input"));
    let out = command(&[("BATON_COMMAND", "deploy"), ("BATON_APP", APP)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("::error::unknown command 'deploy'"),
        "{}",
        text(&out)
    );
}
