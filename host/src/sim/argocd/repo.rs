//! The simulator's view of the env repo, through the `git` CLI (no dependency
//! on Baton's git capability; each poll reads the branch head in process
//! through `sim::reads` first), and the [`VersionReader`] seam that
//! turns a file's content into the version it deploys.

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

/// The content of each of `files` at `commit` (`None` where one does not
/// exist there), read by one `git cat-file --batch`: Argo CD renders every
/// application on each new commit, and a git process per application made
/// the simulator the busiest process on the machine.
pub async fn files_at(
    repo: &Path,
    commit: &str,
    files: &[String],
) -> Result<Vec<Option<Vec<u8>>>, RepoReadError> {
    use tokio::io::AsyncWriteExt;
    let args = ["cat-file", "--batch"];
    let spawn_error = |source| RepoReadError::Spawn {
        repo: repo.to_owned(),
        args: args.join(" "),
        source,
    };
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)?;
    let mut input = String::new();
    for file in files {
        if file.contains('\n') {
            // No such file can exist; the null id answers `missing`.
            input.push_str(&format!("{}\n", "0".repeat(40)));
        } else {
            input.push_str(&format!("{commit}:{file}\n"));
        }
    }
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .await
            .map_err(spawn_error)?;
    }
    let out = child.wait_with_output().await.map_err(spawn_error)?;
    Ok(parse_batch(&out.stdout, files.len()))
}

/// `git cat-file --batch` output for `count` requests: `<id> <type>
/// <size>` and the content, or `<name> missing` (or `ambiguous`).
fn parse_batch(mut out: &[u8], count: usize) -> Vec<Option<Vec<u8>>> {
    let mut found = Vec::with_capacity(count);
    for _ in 0..count {
        let Some(end) = out.iter().position(|b| *b == b'\n') else {
            found.push(None);
            continue;
        };
        let header = String::from_utf8_lossy(&out[..end]).into_owned();
        out = &out[end + 1..];
        let mut words = header.split(' ');
        let (kind, size) = (words.nth(1), words.next());
        match (kind, size.and_then(|s| s.parse::<usize>().ok())) {
            (Some("blob"), Some(size)) if out.len() > size => {
                found.push(Some(out[..size].to_vec()));
                out = &out[size + 1..];
            }
            (Some(_), Some(size)) if out.len() > size => {
                // A tree or other object where a file was expected.
                found.push(None);
                out = &out[size + 1..];
            }
            _ => found.push(None),
        }
    }
    found
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
    fn batch_output_gives_each_file_or_none() {
        let out = b"aaaa blob 3\nab\n\nx.yaml missing\ncccc tree 5\n12345\ndddd blob 0\n\n";
        assert_eq!(
            parse_batch(out, 5),
            [Some(b"ab\n".to_vec()), None, None, Some(Vec::new()), None]
        );
    }

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
