//! The simulators: real HTTP servers on loopback that follow the upstream
//! APIs (Argo CD, GitLab, GitHub, git's smart HTTP) closely enough that the
//! real clients (Baton's own, `git`, python-gitlab, PyGithub) accept them.
//! They back `baton demo`, `baton sim`, policy development, the benchmarks
//! and the end-to-end tests.
//!
//! - [`argocd`]: Argo CD's application API and watch stream, driven by a git
//!   repository (a new commit goes OutOfSync, syncs, turns Healthy or not).
//! - [`forge`]: GitLab's merge requests and GitHub's pull requests over a
//!   real bare repository (a merge writes a real commit).
//! - [`git_http`]: bare repositories served over smart HTTP, optionally
//!   behind a bearer token.
//! - [`prometheus`]: the Prometheus query API answering scripted series
//!   (`baton demo --metrics`, policy work).
//!
//! This wing is compiled only with the `sim` cargo feature (on by default),
//! which is also the only thing that pulls in `axum`. The production
//! capabilities never import it, and it imports nothing of theirs: each
//! simulator speaks the upstream wire format with its own types, so a
//! client bug cannot hide behind a simulator sharing it. Building without
//! the feature (`cargo check -p baton --no-default-features`) proves the
//! first half; the simulators' `use` lines (only `crate::secret`,
//! `crate::time` and the duration lexer of `crate::config`) the second.

pub mod argocd;
pub mod forge;
pub mod git_http;
pub mod prometheus;
mod reads;
mod server;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Every line of code (not comment) of the `.rs` files under
    /// `src/<dir>` that mentions one of `needles`, as `file:line: text`.
    fn mentions(dir: &str, needles: &[&str]) -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        assert!(!files.is_empty(), "no sources under {}", root.display());
        let mut found = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source file");
            for (n, line) in text.lines().enumerate() {
                let code = !line.trim_start().starts_with("//");
                if code && needles.iter().any(|needle| line.contains(needle)) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
        found
    }

    #[test]
    fn capabilities_and_simulators_do_not_reach_into_each_other() {
        assert_eq!(
            mentions("capabilities", &[concat!("crate::", "sim"), "axum"]),
            Vec::<String>::new(),
            "the capabilities must build without the `sim` feature"
        );
        assert_eq!(
            // Spelled in two halves so that this line does not match itself.
            mentions(
                "sim",
                &[
                    concat!("crate::", "capabilities"),
                    concat!("super::", "super")
                ]
            ),
            Vec::<String>::new(),
            "the simulators speak the wire format with their own types"
        );
    }
}
