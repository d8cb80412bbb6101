//! `baton sim ...` through the real binary: each simulator starts, prints
//! its URL and answers like the upstream API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};

use crate::support::{baton, git};

/// Kills the simulator when the test ends, even on failure.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A bare repo whose main branch has `values.yaml` with `image.tag: v1`.
fn bare_repo(root: &Path) -> (std::path::PathBuf, String) {
    let work = root.join("work");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("values.yaml"), "image:\n  tag: v1\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "init"]);
    let head = git(&work, &["rev-parse", "HEAD"]);
    let bare = root.join("env.git");
    git(root, &["clone", "-q", "--bare", "work", "env.git"]);
    (bare, head)
}

fn start(home: &Path, args: &[&str]) -> (Running, String) {
    let mut child = baton(home)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "first line: {line:?}");
    (Running(child), url)
}

/// A plain HTTP/1.1 GET; returns status and body.
fn get(url: &str, path: &str) -> (u16, String) {
    let host = url.trim_start_matches("http://").split('/').next().unwrap();
    let prefix = url.trim_start_matches("http://").trim_start_matches(host);
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {prefix}{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn sim_argocd_serves_an_application_synced_to_the_branch() {
    let home = tempfile::tempdir().unwrap();
    let (bare, head) = bare_repo(home.path());
    let (_sim, url) = start(
        home.path(),
        &[
            "sim",
            "argocd",
            "--repo",
            bare.to_str().unwrap(),
            "--app",
            "payments-dev=values.yaml:image.tag",
        ],
    );
    // The first sync runs after a short delay; poll until Synced.
    let mut app = serde_json::Value::Null;
    for _ in 0..200 {
        let (status, body) = get(&url, "/api/v1/applications/payments-dev");
        assert_eq!(status, 200, "{body}");
        app = serde_json::from_str(&body).unwrap();
        if app["status"]["sync"]["status"] == "Synced"
            && app["status"]["health"]["status"] == "Healthy"
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(app["metadata"]["name"], "payments-dev");
    assert_eq!(app["status"]["sync"]["revision"], head.as_str());
    assert_eq!(app["status"]["health"]["status"], "Healthy");
    // Unknown apps answer as the real server does without a project.
    let (status, body) = get(&url, "/api/v1/applications/nope");
    assert_eq!(status, 403);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"error": "permission denied", "code": 7, "message": "permission denied"})
    );
}

#[test]
fn sim_gitlab_and_github_list_merge_requests() {
    let home = tempfile::tempdir().unwrap();
    let (bare, _) = bare_repo(home.path());
    let (_gl, gl) = start(
        home.path(),
        &["sim", "gitlab", "--repo", bare.to_str().unwrap()],
    );
    assert!(gl.ends_with("/api/v4"), "{gl}");
    let (status, body) = get(
        &gl,
        "/projects/acme%2Fgitops-env/merge_requests?state=opened",
    );
    assert_eq!((status, body.as_str()), (200, "[]"));
    let (status, _) = get(&gl, "/projects/other%2Fproject/merge_requests");
    assert_eq!(status, 404);

    let (_gh, gh) = start(
        home.path(),
        &["sim", "github", "--repo", bare.to_str().unwrap()],
    );
    let (status, body) = get(&gh, "/repos/acme/gitops-env/pulls");
    assert_eq!((status, body.as_str()), (200, "[]"));
}

#[test]
fn sim_argocd_without_apps_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["sim", "argocd", "--repo", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: no applications: give --app NAME=FILE:FIELD or a --scenario with apps\n"
    );
}
