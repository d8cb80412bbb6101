//! The forge simulators against the real client libraries: this test runs
//! the GitLab simulator (merge commit and fast-forward projects) and the
//! GitHub simulator on loopback, each over a bare repository of its own,
//! and runs `tests/conformance/` (pytest) against them, which drives them
//! with python-gitlab and PyGithub as a user's script would.
//!
//! The libraries come from `.ci/conformance.sh` (pinned, in a virtual
//! environment under `target/conformance/venv`, or `$BATON_CONFORMANCE_VENV`).
//! Without it this test prints why and passes; with `BATON_REQUIRE_TOOLS=1`
//! (CI) a missing environment fails it. The Argo CD simulator's
//! conformance (plain HTTP against the vendored swagger) is in
//! `argocd::sim_shapes`.

use std::path::{Path, PathBuf};
use std::process::Command;

use baton::secret::Secret;
use baton::sim::forge::{MergeStrategy, SimHandle, github, gitlab};

use crate::forge_support::commit;
use crate::support::git;

const TOKEN: &str = "conformance-token-7d41";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The virtual environment with pytest, python-gitlab and PyGithub.
fn venv() -> Option<PathBuf> {
    let dir = std::env::var_os("BATON_CONFORMANCE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/conformance/venv"));
    if dir.join("bin/python").is_file() && dir.join(".installed").is_file() {
        return Some(dir);
    }
    let required = std::env::var("BATON_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "no conformance environment at {} and BATON_REQUIRE_TOOLS=1: run .ci/conformance.sh",
        dir.display()
    );
    eprintln!(
        "skipped: no conformance environment at {}; run .ci/conformance.sh to install python-gitlab, PyGithub and pytest",
        dir.display()
    );
    None
}

/// A bare repository `name` under `dir` whose `main` holds `values.yaml`.
fn bare_repo(dir: &Path, name: &str) -> PathBuf {
    git(dir, &["init", "--bare", "-q", "-b", "main", name]);
    let repo = dir.join(name);
    commit(&repo, "main", None, "image:\n  tag: 1.0.0\n");
    repo
}

/// How many test functions the suite has: each must pass, none skip.
fn suite_size() -> usize {
    let dir = repo_root().join("tests/conformance");
    std::fs::read_dir(&dir)
        .expect("tests/conformance")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("test_") && n.ends_with(".py"))
        })
        .map(|p| {
            std::fs::read_to_string(&p)
                .expect("test file")
                .lines()
                .filter(|l| l.starts_with("def test_"))
                .count()
        })
        .sum()
}

#[test]
fn python_gitlab_and_pygithub_accept_the_simulators() {
    let Some(venv) = venv() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = crate::support::sim_runtime();
    let gitlab_sim = |repo: PathBuf, method| {
        rt.block_on(gitlab::spawn(gitlab::GitLabSimConfig {
            repo,
            project_path: "acme/gitops-env".into(),
            project_id: 42,
            token: Some(Secret::new(TOKEN)),
            merge_method: method,
        }))
        .expect("gitlab simulator")
    };
    let repos: Vec<PathBuf> = ["gitlab.git", "gitlab-ff.git", "github.git"]
        .iter()
        .map(|name| bare_repo(dir.path(), name))
        .collect();
    let gl = gitlab_sim(repos[0].clone(), MergeStrategy::MergeCommit);
    let gl_ff = gitlab_sim(repos[1].clone(), MergeStrategy::FastForward);
    let gh: SimHandle = rt
        .block_on(github::spawn(github::GitHubSimConfig {
            repo: repos[2].clone(),
            owner: "acme".into(),
            name: "gitops-env".into(),
            token: Some(Secret::new(TOKEN)),
        }))
        .expect("github simulator");

    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let out = Command::new(venv.join("bin/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"])
        .arg(repo_root().join("tests/conformance"))
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Conformance")
        .env("GIT_AUTHOR_EMAIL", "conformance@baton.invalid")
        .env("GIT_COMMITTER_NAME", "Conformance")
        .env("GIT_COMMITTER_EMAIL", "conformance@baton.invalid")
        .env("BATON_CONFORMANCE_TOKEN", TOKEN)
        .env("BATON_CONFORMANCE_GITLAB_URL", gl.base_url())
        .env("BATON_CONFORMANCE_GITLAB_REPO", &repos[0])
        .env("BATON_CONFORMANCE_GITLAB_FF_URL", gl_ff.base_url())
        .env("BATON_CONFORMANCE_GITLAB_FF_REPO", &repos[1])
        .env("BATON_CONFORMANCE_GITHUB_URL", gh.base_url())
        .env("BATON_CONFORMANCE_GITHUB_REPO", &repos[2])
        .output()
        .expect("pytest runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the conformance suite failed:\n{report}"
    );
    let expected = suite_size();
    assert!(expected >= 20, "only {expected} conformance tests found");
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed"))
        .unwrap_or_default();
    assert!(
        summary.starts_with(&format!("{expected} passed")) && !summary.contains("skipped"),
        "expected {expected} passed tests and none skipped, got {summary:?}:\n{report}"
    );
    // The clients really went through the simulators' GraphQL endpoint.
    let graphql = gh
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.uri == "/graphql")
        .count();
    assert!(graphql >= 4, "{graphql} GraphQL requests");
}
