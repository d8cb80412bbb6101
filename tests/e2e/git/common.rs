//! Shared helpers: fixture env repos made with the real `git` binary, and a
//! smart-HTTP server on loopback.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use baton::capabilities::git::{
    CommitSettings, EnvRepo, FieldSpec, Identity, OpenOptions, Provenance, RepoSource, StageField,
    Target, WriteOutcome, WriteRequest,
};
use baton::secret::Secret;
use baton::sim::git_http::{self as http_server, GitHttpConfig, GitHttpHandle};

use crate::support::{GitInput, git_with};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/git/");

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{name}")).expect("fixture exists")
}

/// Runs git hermetically with every commit at one pinned date, so seeded
/// histories are the same on every run; returns stdout untrimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_with(
        dir,
        args,
        GitInput {
            date: Some("2026-01-01T00:00:00Z"),
            ..GitInput::default()
        },
    )
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

/// A cache of `url` under `cache` whose first fetch takes the branch tip
/// alone (`--depth=1`), as Baton's runs open it.
pub fn open_shallow(url: &str, cache: &Path) -> EnvRepo {
    let mut options = OpenOptions::new(cache, "main");
    options.shallow = true;
    EnvRepo::open(
        &RepoSource {
            url: url.to_owned(),
            token: None,
        },
        &options,
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
        further: Vec::new(),
        version: version.into(),
        target,
        provenance: Provenance {
            policy_digest: Some("sha256:0123abcd".into()),
            run_id: Some("run-1".into()),
            rollback_of: None,
            digest: None,
        },
    }
}

/// The write most tests make: `payments`' Helm tag of `stage` set to
/// `version` by a commit on the branch.
pub fn helm_write(stage: &str, version: &str) -> WriteRequest {
    request(
        "payments",
        stage,
        helm_stage(stage),
        version,
        Target::Branch,
    )
}

/// A runtime plus a running smart-HTTP server over `root`.
pub struct HttpServer {
    pub handle: GitHttpHandle,
    _rt: tokio::runtime::Runtime,
}

pub fn http_server(root: &Path, token: Option<&str>) -> HttpServer {
    let rt = crate::support::sim_runtime();
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

/// Writes `req` with [`settings`] and returns the commit's SHA and the
/// rejected pushes it took; panics unless it committed.
pub fn commit(repo: &mut EnvRepo, req: &WriteRequest) -> (String, u32) {
    match repo.write_version(req, &settings()).expect("writes") {
        WriteOutcome::Committed { sha, retries, .. } => (sha, retries),
        other => panic!("expected a commit, got {other:?}"),
    }
}
