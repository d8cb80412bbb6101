//! The CI templates, used the way a platform engineer uses them.
//!
//! GitLab: each component is included by a consumer pipeline that has its
//! own `stages:` and jobs, from a component project served over git HTTP,
//! and `gitlab-ci-local` (shell executor) runs the real jobs: they download
//! the built `baton` from a local HTTP server, check its SHA-256 and run it
//! against the env repo, Argo CD and GitLab simulators of [`Env`].
//! GitHub: the action's install and command steps run as the runner runs
//! them, against the same simulators. Lints: actionlint (with shellcheck)
//! on the workflows, shellcheck on every script of the components and the
//! action, and check-jsonschema's vendored GitLab CI and GitHub schemas on
//! every template.
//!
//! The tools come from `.ci/pipelines.sh` (pinned, cached under
//! `target/pipeline-tools`) or PATH. Without them these tests print why and
//! pass; with `BATON_REQUIRE_TOOLS=1` (CI) a missing tool fails them.

use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};

use crate::engine::env::Env;

mod github;
mod gitlab;
mod lint;

/// The repository root (the templates, `.github/`, `action.yml`).
pub(super) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Finds a tool installed by `.ci/pipelines.sh` or on PATH. Missing: fails
/// the test under `BATON_REQUIRE_TOOLS=1`, else prints why it is skipped.
pub(super) fn tool(name: &str) -> Option<PathBuf> {
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

pub(super) fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(super) fn copy_dir(from: &Path, to: &Path) {
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

/// The documents of a YAML file (a component has a `spec:` header, `---`,
/// then its jobs).
pub(super) fn documents(path: &Path) -> Vec<yaml_serde::Value> {
    use serde::Deserialize as _;
    let text = std::fs::read_to_string(path).unwrap();
    yaml_serde::Deserializer::from_str(&text)
        .map(|doc| {
            yaml_serde::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// Serves the built `baton` and its `.sha256` (in `sha256sum` format) over
/// HTTP on loopback, as a release page would.
pub(super) struct BinaryServer {
    addr: std::net::SocketAddr,
    /// The binary's SHA-256, hex.
    pub(super) sha256: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl BinaryServer {
    pub(super) fn start(env: &Env) -> Self {
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

    /// Where the binary is; its checksum is at `<url>.sha256`.
    pub(super) fn url(&self) -> String {
        format!("http://{}/baton", self.addr)
    }
}
