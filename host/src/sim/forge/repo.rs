//! The simulators' git side: a real bare repository driven with the `git`
//! CLI. Merges are computed with `git merge-tree --write-tree` (no working
//! tree needed), committed with `git commit-tree`, and published with
//! `git update-ref` guarded by the old value, so a concurrent push to the
//! target branch makes the merge fail instead of being overwritten.
//!
//! The merge methods land as the forges land them: a two-parent merge
//! commit; a fast-forward (the source's own commits); a squash (one new
//! commit with the merged tree, whose message the forge chooses); GitLab's
//! squash before a merge commit or a fast-forward (the squash commit, then
//! the merge); and GitHub's rebase (each source commit replayed onto the
//! target with its message and author kept, a new committer and a new
//! id, as GitHub does even when a fast-forward would be possible).

use std::path::{Path, PathBuf};

use tokio::process::Command;

use super::SimError;
use crate::sim::reads::Reads;

/// How a merge lands on the target branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Always a two-parent merge commit (GitLab's and GitHub's default).
    MergeCommit,
    /// Move the target to the source head; fails if the target diverged.
    FastForward,
    /// One new commit on the target with the merged tree.
    Squash,
    /// The source's commits replayed onto the target one by one (GitHub's
    /// `rebase`).
    Rebase,
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
    /// GitLab's `squash`: the source's changes become one commit with this
    /// message first, which is then merged (merge commit) or fast-forwarded.
    pub squash_first: Option<&'a str>,
    /// The message of the merge commit or of the squash commit.
    pub message: &'a str,
}

/// What landed.
#[derive(Debug)]
pub(crate) struct Landed {
    /// The source head that was merged.
    pub source: String,
    /// The target branch's new head.
    pub head: String,
    /// The squash commit GitLab made first, when asked to squash.
    pub squash: Option<String>,
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

/// Who wrote a commit (`GIT_AUTHOR_*`), kept when it is replayed.
#[derive(Debug, Clone)]
struct Author {
    name: String,
    email: String,
    /// `git log --date=raw`: seconds and zone.
    date: String,
}

/// A bare repository.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    path: PathBuf,
    /// The frequent reads, in process; git answers what they cannot.
    pub(super) reads: Option<Reads>,
}

impl Repo {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            reads: Reads::open(path),
        }
    }

    pub(super) async fn run(
        &self,
        args: &[&str],
        stdin_empty: bool,
    ) -> Result<std::process::Output, SimError> {
        self.run_as(args, stdin_empty, None).await
    }

    /// Runs git with the simulator's identity, or with `author` as the
    /// author (a replayed commit keeps its own).
    async fn run_as(
        &self,
        args: &[&str],
        stdin_empty: bool,
        author: Option<&Author>,
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
        if let Some(a) = author {
            cmd.env("GIT_AUTHOR_NAME", &a.name)
                .env("GIT_AUTHOR_EMAIL", &a.email)
                .env("GIT_AUTHOR_DATE", &a.date);
        }
        if stdin_empty {
            cmd.stdin(std::process::Stdio::null());
        }
        cmd.output().await.map_err(|source| SimError::GitSpawn {
            args: args.join(" "),
            source,
        })
    }

    pub(super) async fn ok(&self, args: &[&str]) -> Result<String, SimError> {
        self.ok_as(args, None).await
    }

    async fn ok_as(&self, args: &[&str], author: Option<&Author>) -> Result<String, SimError> {
        let out = self.run_as(args, true, author).await?;
        if !out.status.success() {
            return Err(SimError::Git {
                args: args.join(" "),
                status: out.status.code().unwrap_or(-1),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The full message of `commit`.
    pub async fn message(&self, commit: &str) -> Result<String, SimError> {
        self.ok(&["log", "-1", "--format=%B", commit]).await
    }

    /// The commits on `source` that `target` lacks, oldest first.
    pub async fn commits_between(
        &self,
        target: &str,
        source: &str,
    ) -> Result<Vec<String>, SimError> {
        let range = format!("{target}..{source}");
        let out = self.ok(&["rev-list", "--reverse", &range]).await?;
        Ok(out.lines().map(str::to_owned).collect())
    }

    /// The author of `commit`.
    async fn author(&self, commit: &str) -> Result<Author, SimError> {
        let out = self
            .ok(&[
                "log",
                "-1",
                "--format=%an%x00%ae%x00%ad",
                "--date=raw",
                commit,
            ])
            .await?;
        let mut parts = out.split('\0').map(str::to_owned);
        Ok(Author {
            name: parts.next().unwrap_or_default(),
            email: parts.next().unwrap_or_default(),
            date: parts.next().unwrap_or_default(),
        })
    }

    /// Head commit of `branch`, `None` if the branch does not exist.
    pub async fn head(&self, branch: &str) -> Result<Option<String>, SimError> {
        if let Some(head) = self.reads.as_ref().and_then(|r| r.branch_head(branch)) {
            return Ok(head);
        }
        self.commit_id(&format!("refs/heads/{branch}")).await
    }

    /// Whether `sha` names a commit of the repository.
    pub async fn has_commit(&self, sha: &str) -> Result<bool, SimError> {
        Ok(self.commit_id(sha).await?.is_some())
    }

    /// The full id of the commit `rev` names (`git rev-parse --verify
    /// rev^{commit}`), `None` when it names none.
    pub(super) async fn commit_id(&self, rev: &str) -> Result<Option<String>, SimError> {
        if let Some(id) = self.reads.as_ref().and_then(|r| r.commit_of_id(rev)) {
            return Ok(id);
        }
        let spec = format!("{rev}^{{commit}}");
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
        // `ancestor` is reachable exactly when it is the merge base.
        if let Some(base) = self
            .reads
            .as_ref()
            .and_then(|r| r.merge_base(ancestor, descendant))
        {
            return Ok(base.as_deref() == Some(ancestor));
        }
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
        match self.reads.as_ref().and_then(|r| r.merge_base(a, b)) {
            Some(Some(base)) => Ok(base),
            // What `git merge-base` answers for unrelated histories.
            Some(None) => Err(SimError::Git {
                args: format!("merge-base {a} {b}"),
                status: 1,
                stderr: String::new(),
            }),
            None => self.ok(&["merge-base", a, b]).await,
        }
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

    /// Number of files changed between `base` and `source`.
    pub async fn changes_since(&self, base: &str, source: &str) -> Result<usize, SimError> {
        if let Some(files) = self
            .reads
            .as_ref()
            .and_then(|r| r.files_changed(base, source))
        {
            return Ok(files);
        }
        let out = self.ok(&["diff", "--name-only", base, source]).await?;
        Ok(out.lines().filter(|l| !l.is_empty()).count())
    }

    /// One commit on top of `target` with the tree of `target` and
    /// `source` merged: a squash commit, or with `source` as a second
    /// parent a merge commit.
    async fn merged_commit(
        &self,
        target: &str,
        source: &str,
        second_parent: bool,
        message: &str,
    ) -> Result<String, MergeFailure> {
        let tree = self
            .merge_tree(target, source)
            .await
            .map_err(MergeFailure::Git)?
            .ok_or(MergeFailure::Conflict)?;
        let mut args = vec!["commit-tree", tree.as_str(), "-p", target];
        if second_parent {
            args.extend(["-p", source]);
        }
        args.extend(["-m", message]);
        self.ok(&args).await.map_err(MergeFailure::Git)
    }

    /// Fails unless `target` is an ancestor of `source`.
    async fn fast_forwardable(&self, target: &str, source: &str) -> Result<(), MergeFailure> {
        if self
            .is_ancestor(target, source)
            .await
            .map_err(MergeFailure::Git)?
        {
            Ok(())
        } else {
            Err(MergeFailure::NotFastForward)
        }
    }

    /// Replays each commit of `source` missing from `target` onto it,
    /// keeping its message and author; returns the new head.
    async fn replay(&self, target: &str, source: &str) -> Result<String, MergeFailure> {
        let commits = self
            .commits_between(target, source)
            .await
            .map_err(MergeFailure::Git)?;
        let mut head = target.to_owned();
        for commit in commits {
            let parent = format!("{commit}^");
            let base = format!("--merge-base={parent}");
            let args = [
                "merge-tree",
                "--write-tree",
                "--no-messages",
                base.as_str(),
                head.as_str(),
                commit.as_str(),
            ];
            let out = self.run(&args, true).await.map_err(MergeFailure::Git)?;
            let tree = match out.status.code() {
                Some(0) => String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned(),
                Some(1) => return Err(MergeFailure::Conflict),
                code => {
                    return Err(MergeFailure::Git(SimError::Git {
                        args: args.join(" "),
                        status: code.unwrap_or(-1),
                        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    }));
                }
            };
            let message = self.message(&commit).await.map_err(MergeFailure::Git)?;
            let author = self.author(&commit).await.map_err(MergeFailure::Git)?;
            head = self
                .ok_as(
                    &["commit-tree", &tree, "-p", &head, "-m", &message],
                    Some(&author),
                )
                .await
                .map_err(MergeFailure::Git)?;
        }
        Ok(head)
    }

    /// Lands `source` on `target_branch` (whose head must still be
    /// `target`) and returns the new head and the squash commit made first,
    /// if any.
    async fn merge(
        &self,
        landing: &Landing<'_>,
        target: &str,
        source: &str,
    ) -> Result<(String, Option<String>), MergeFailure> {
        let strategy = landing.strategy;
        let squash = match landing.squash_first {
            Some(message) => {
                if strategy == Strategy::FastForward {
                    // GitLab's fast-forward method wants the source rebased
                    // first, squashed or not.
                    self.fast_forwardable(target, source).await?;
                }
                Some(self.merged_commit(target, source, false, message).await?)
            }
            None => None,
        };
        let source = squash.as_deref().unwrap_or(source);
        let new_head = match strategy {
            Strategy::FastForward => {
                self.fast_forwardable(target, source).await?;
                source.to_owned()
            }
            Strategy::MergeCommit => {
                self.merged_commit(target, source, true, landing.message)
                    .await?
            }
            Strategy::Squash => {
                self.merged_commit(target, source, false, landing.message)
                    .await?
            }
            Strategy::Rebase => self.replay(target, source).await?,
        };
        let target_branch = landing.target_branch;
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
        Ok((new_head, squash))
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
            match self.merge(landing, &target, &source).await {
                Ok((head, squash)) => {
                    return Ok(Landed {
                        source,
                        head,
                        squash,
                    });
                }
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
