//! The simulators' git side: a real bare repository driven with the `git`
//! CLI. Merges are computed with `git merge-tree --write-tree` (no working
//! tree needed), committed with `git commit-tree`, and published with
//! `git update-ref` guarded by the old value, so a concurrent push to the
//! target branch makes the merge fail instead of being overwritten.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use super::SimError;

/// How a merge lands on the target branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Always a two-parent merge commit (GitLab's and GitHub's default).
    MergeCommit,
    /// Move the target to the source head; fails if the target diverged.
    FastForward,
    /// One new commit on the target with the merged tree.
    Squash,
}

/// Why a merge did not happen.
#[derive(Debug)]
pub(crate) enum MergeFailure {
    /// The branches conflict.
    Conflict,
    /// Fast-forward asked, target is not an ancestor of the source.
    NotFastForward,
    /// The target moved between reading and updating it.
    TargetMoved,
    /// Git itself failed.
    Git(SimError),
}

/// A merge request about to land on its target branch.
#[derive(Debug)]
pub(crate) struct Landing<'a> {
    /// The branch with the change.
    pub source_branch: &'a str,
    /// The branch it lands on.
    pub target_branch: &'a str,
    /// The source head the client merges against, if it named one.
    pub expected_sha: Option<&'a str>,
    /// How it lands.
    pub strategy: Strategy,
    /// A fast-forward that is not possible becomes a squash (GitHub's
    /// `rebase`, approximated) instead of failing (GitLab's `ff` method).
    pub squash_unless_ff: bool,
    /// The message of a new commit.
    pub message: &'a str,
}

/// What landed.
#[derive(Debug)]
pub(crate) struct Landed {
    /// The source head that was merged.
    pub source: String,
    /// The target branch's new head.
    pub head: String,
}

/// Why a merge request did not land.
#[derive(Debug)]
pub(crate) enum LandFailure {
    /// The source or the target branch does not exist.
    BranchMissing,
    /// The source head is not the one the client named.
    ShaMismatch,
    /// The merge itself failed.
    Merge(MergeFailure),
}

/// A bare repository.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    path: PathBuf,
}

impl Repo {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }

    async fn run(
        &self,
        args: &[&str],
        stdin_empty: bool,
    ) -> Result<std::process::Output, SimError> {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.path).args(args);
        // Identity and config come from here, not from the user's files.
        cmd.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Forge Simulator")
            .env("GIT_AUTHOR_EMAIL", "sim@baton.invalid")
            .env("GIT_COMMITTER_NAME", "Forge Simulator")
            .env("GIT_COMMITTER_EMAIL", "sim@baton.invalid");
        if stdin_empty {
            cmd.stdin(std::process::Stdio::null());
        }
        cmd.output().await.map_err(|source| SimError::GitSpawn {
            args: args.join(" "),
            source,
        })
    }

    async fn ok(&self, args: &[&str]) -> Result<String, SimError> {
        let out = self.run(args, true).await?;
        if !out.status.success() {
            return Err(SimError::Git {
                args: args.join(" "),
                status: out.status.code().unwrap_or(-1),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Head commit of `branch`, `None` if the branch does not exist.
    pub async fn head(&self, branch: &str) -> Result<Option<String>, SimError> {
        let spec = format!("refs/heads/{branch}^{{commit}}");
        let out = self
            .run(&["rev-parse", "--verify", "--quiet", &spec], true)
            .await?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()))
    }

    /// Whether `ancestor` is reachable from `descendant`.
    pub async fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, SimError> {
        let out = self
            .run(&["merge-base", "--is-ancestor", ancestor, descendant], true)
            .await?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            code => Err(SimError::Git {
                args: format!("merge-base --is-ancestor {ancestor} {descendant}"),
                status: code.unwrap_or(-1),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            }),
        }
    }

    /// Merge base of two commits.
    pub async fn merge_base(&self, a: &str, b: &str) -> Result<String, SimError> {
        self.ok(&["merge-base", a, b]).await
    }

    /// The merged tree of two commits, `None` on conflicts.
    pub async fn merge_tree(&self, ours: &str, theirs: &str) -> Result<Option<String>, SimError> {
        let args = ["merge-tree", "--write-tree", "--no-messages", ours, theirs];
        let out = self.run(&args, true).await?;
        match out.status.code() {
            Some(0) => Ok(Some(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned(),
            )),
            Some(1) => Ok(None),
            code => Err(SimError::Git {
                args: args.join(" "),
                status: code.unwrap_or(-1),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            }),
        }
    }

    /// Whether merging `source` into `target` would conflict.
    pub async fn conflicts(&self, target: &str, source: &str) -> Result<bool, SimError> {
        Ok(self.merge_tree(target, source).await?.is_none())
    }

    /// Number of files changed between the merge base and the source.
    pub async fn changes_count(&self, target: &str, source: &str) -> Result<usize, SimError> {
        let base = self.merge_base(target, source).await?;
        let out = self.ok(&["diff", "--name-only", &base, source]).await?;
        Ok(out.lines().filter(|l| !l.is_empty()).count())
    }

    /// Lands `source` on `target_branch` (whose head must still be
    /// `target`) and returns the new head.
    pub async fn merge(
        &self,
        target_branch: &str,
        target: &str,
        source: &str,
        strategy: Strategy,
        message: &str,
    ) -> Result<String, MergeFailure> {
        let new_head = match strategy {
            Strategy::FastForward => {
                if !self
                    .is_ancestor(target, source)
                    .await
                    .map_err(MergeFailure::Git)?
                {
                    return Err(MergeFailure::NotFastForward);
                }
                source.to_owned()
            }
            Strategy::MergeCommit | Strategy::Squash => {
                let tree = self
                    .merge_tree(target, source)
                    .await
                    .map_err(MergeFailure::Git)?;
                let tree = tree.ok_or(MergeFailure::Conflict)?;
                let mut args = vec!["commit-tree", tree.as_str(), "-p", target];
                if strategy == Strategy::MergeCommit {
                    args.extend(["-p", source]);
                }
                args.extend(["-m", message]);
                self.ok(&args).await.map_err(MergeFailure::Git)?
            }
        };
        let refname = format!("refs/heads/{target_branch}");
        let out = self
            .run(
                &[
                    "update-ref",
                    "-m",
                    "forge simulator merge",
                    &refname,
                    &new_head,
                    target,
                ],
                true,
            )
            .await
            .map_err(MergeFailure::Git)?;
        if !out.status.success() {
            return Err(MergeFailure::TargetMoved);
        }
        Ok(new_head)
    }

    /// Lands a merge request: reads both heads, checks the expected source
    /// head, merges; when the target moves meanwhile (someone pushed),
    /// reads again, three times at most.
    pub async fn land(&self, landing: &Landing<'_>) -> Result<Landed, LandFailure> {
        for _ in 0..3 {
            let (Ok(Some(source)), Ok(Some(target))) = (
                self.head(landing.source_branch).await,
                self.head(landing.target_branch).await,
            ) else {
                return Err(LandFailure::BranchMissing);
            };
            if landing.expected_sha.is_some_and(|sha| sha != source) {
                return Err(LandFailure::ShaMismatch);
            }
            let strategy = match landing.strategy {
                Strategy::FastForward
                    if landing.squash_unless_ff
                        && !self.is_ancestor(&target, &source).await.unwrap_or(false) =>
                {
                    Strategy::Squash
                }
                s => s,
            };
            match self
                .merge(
                    landing.target_branch,
                    &target,
                    &source,
                    strategy,
                    landing.message,
                )
                .await
            {
                Ok(head) => return Ok(Landed { source, head }),
                Err(MergeFailure::TargetMoved) => {}
                Err(e) => return Err(LandFailure::Merge(e)),
            }
        }
        Err(LandFailure::Merge(MergeFailure::TargetMoved))
    }

    /// Deletes `branch` if it still points at `expected`.
    pub async fn delete_branch(&self, branch: &str, expected: &str) -> Result<(), SimError> {
        let refname = format!("refs/heads/{branch}");
        self.ok(&["update-ref", "-d", &refname, expected])
            .await
            .map(|_| ())
    }
}
