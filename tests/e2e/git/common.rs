//! Shared helpers: fixture env repos made with the real `git` binary, and a
//! smart-HTTP server on loopback.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use baton::capabilities::git::{
    CommitSettings, EnvRepo, FieldSpec, Identity, OpenOptions, Provenance, RepoSource, StageField,
    Target, WriteRequest,
};
use baton::secret::Secret;
use baton::sim::git_http::{self as http_server, GitHttpConfig, GitHttpHandle};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/git/");

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{name}")).expect("fixture exists")
}

/// Runs git hermetically (no user/system config, pinned identity) and
/// returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Seed")
        .env("GIT_AUTHOR_EMAIL", "seed@example.com")
        .env("GIT_COMMITTER_NAME", "Seed")
        .env("GIT_COMMITTER_EMAIL", "seed@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Creates `<root>/<name>` as a bare repo whose `main` holds `files` in one
/// commit. Returns its path.
pub fn make_origin(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let origin = root.join(name);
    git(
        root,
        &["init", "--quiet", "--bare", "--initial-branch=main", name],
    );
    let work = root.join(format!("{name}-seed"));
    git(
        root,
        &[
            "init",
            "--quiet",
            "--initial-branch=main",
            work.to_str().expect("utf-8"),
        ],
    );
    for (path, content) in files {
        let p = work.join(path);
        std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "--quiet", "-m", "seed env repo"]);
    git(
        &work,
        &["push", "--quiet", origin.to_str().expect("utf-8"), "main"],
    );
    origin
}

/// The standard fixture env repo: payments (Helm, 3 stages), orders
/// (kustomize), an Argo CD Application.
pub fn standard_origin(root: &Path) -> PathBuf {
    let helm = fixture("helm-values.yaml");
    let kust = fixture("kustomization-multi.yaml");
    let app = fixture("argo-cd__docs__operator-manual__application.yaml");
    make_origin(
        root,
        "env.git",
        &[
            ("overlays/dev/payments/values.yaml", &helm),
            ("overlays/staging/payments/values.yaml", &helm),
            ("overlays/prod/payments/values.yaml", &helm),
            ("overlays/staging/orders/kustomization.yaml", &kust),
            ("apps/dev/guestbook.yaml", &app),
        ],
    )
}

pub fn helm_stage(stage: &str) -> StageField {
    StageField {
        file: format!("overlays/{stage}/payments/values.yaml"),
        field: "helm:image.tag".parse::<FieldSpec>().expect("valid"),
    }
}

pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

pub fn open(url: &str, token: Option<&str>, cache: &Path) -> EnvRepo {
    EnvRepo::open(
        &RepoSource {
            url: url.to_owned(),
            token: token.map(Secret::new),
        },
        &OpenOptions::new(cache, "main"),
    )
    .expect("env repo opens")
}

pub fn settings() -> CommitSettings {
    CommitSettings {
        identity: Identity {
            name: "Baton Test".into(),
            email: "baton@test".into(),
        },
        time: Some(1_780_000_000),
        ..CommitSettings::default()
    }
}

pub fn request(
    app: &str,
    stage: &str,
    location: StageField,
    version: &str,
    target: Target,
) -> WriteRequest {
    WriteRequest {
        app: app.into(),
        stage: stage.into(),
        location,
        version: version.into(),
        target,
        provenance: Provenance {
            policy_digest: Some("sha256:0123abcd".into()),
            run_id: Some("run-1".into()),
            rollback_of: None,
        },
    }
}

/// A runtime plus a running smart-HTTP server over `root`.
pub struct HttpServer {
    pub handle: GitHttpHandle,
    _rt: tokio::runtime::Runtime,
}

pub fn http_server(root: &Path, token: Option<&str>) -> HttpServer {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = rt
        .block_on(http_server::spawn(GitHttpConfig {
            root: root.to_owned(),
            token: token.map(Secret::new),
        }))
        .expect("server binds");
    HttpServer { handle, _rt: rt }
}

/// Formats an error with its whole `source()` chain.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}
