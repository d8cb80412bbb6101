//! The simulator's view of the env repo, through the `git` CLI (no dependency
//! on Baton's git capability), and the [`VersionReader`] seam that turns a
//! file's content into the version it deploys.

use std::path::{Path, PathBuf};

use tokio::process::Command;

/// Reading the repository failed.
#[derive(Debug, thiserror::Error)]
pub enum RepoReadError {
    /// `git` could not be run.
    #[error("cannot run `git {args}` in {repo}")]
    Spawn {
        /// The repository.
        repo: PathBuf,
        /// The git arguments.
        args: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Reading a version out of a file failed.
#[derive(Debug, thiserror::Error)]
pub enum VersionReadError {
    /// The file is not valid YAML.
    #[error("file is not valid YAML")]
    Yaml(#[source] yaml_serde::Error),
    /// The field is missing or not a scalar.
    #[error("field `{field}` is missing or not a scalar")]
    Field {
        /// The field path.
        field: String,
    },
}

/// Says which version a file holds. The default reads a dotted YAML path;
/// the host plugs in its own field reader (Kustomize images, …).
pub trait VersionReader: Send + Sync + 'static {
    /// The version `content` holds at `field`.
    fn read_version(&self, content: &[u8], field: &str) -> Result<String, VersionReadError>;
}

/// Reads a dotted path (`image.tag`) from a YAML document.
#[derive(Debug, Default, Clone, Copy)]
pub struct YamlPathReader;

impl VersionReader for YamlPathReader {
    fn read_version(&self, content: &[u8], field: &str) -> Result<String, VersionReadError> {
        let doc: yaml_serde::Value =
            yaml_serde::from_slice(content).map_err(VersionReadError::Yaml)?;
        let missing = || VersionReadError::Field {
            field: field.to_owned(),
        };
        let mut node = &doc;
        for key in field.split('.') {
            node = node.get(key).ok_or_else(missing)?;
        }
        match node {
            yaml_serde::Value::String(s) => Ok(s.clone()),
            yaml_serde::Value::Number(n) => Ok(n.to_string()),
            yaml_serde::Value::Bool(b) => Ok(b.to_string()),
            _ => Err(missing()),
        }
    }
}

/// The commit `branch` points at, or `None` when the branch does not exist.
pub async fn branch_head(repo: &Path, branch: &str) -> Result<Option<String>, RepoReadError> {
    let rev = format!("refs/heads/{branch}^{{commit}}");
    let out = git(repo, &["rev-parse", "--verify", "--quiet", &rev]).await?;
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok((out.status.success() && !sha.is_empty()).then_some(sha))
}

/// The content of `file` at `commit`, or `None` when it does not exist there.
pub async fn file_at(
    repo: &Path,
    commit: &str,
    file: &str,
) -> Result<Option<Vec<u8>>, RepoReadError> {
    let spec = format!("{commit}:{file}");
    let out = git(repo, &["show", &spec]).await?;
    Ok(out.status.success().then_some(out.stdout))
}

async fn git(repo: &Path, args: &[&str]) -> Result<std::process::Output, RepoReadError> {
    Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| RepoReadError::Spawn {
            repo: repo.to_owned(),
            args: args.join(" "),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dotted_yaml_path() {
        let yaml = b"# comment\nimage:\n  repository: x\n  tag: \"v1.2.3\"\nreplicas: 3\n";
        assert_eq!(
            YamlPathReader
                .read_version(yaml, "image.tag")
                .expect("present"),
            "v1.2.3"
        );
        assert_eq!(
            YamlPathReader
                .read_version(yaml, "replicas")
                .expect("present"),
            "3"
        );
        let err = YamlPathReader
            .read_version(yaml, "image.missing")
            .expect_err("absent");
        assert_eq!(
            err.to_string(),
            "field `image.missing` is missing or not a scalar"
        );
    }
}
