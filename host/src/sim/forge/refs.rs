//! Reading the repository for the forges' own objects: a ref resolved to
//! its commit, the branches, the refs under a prefix, the default branch,
//! and a commit as the project/repository endpoints show it.

use super::SimError;
use super::repo::Repo;
use crate::sim::reads::Reads;

/// A commit as the forges' commit objects show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitInfo {
    /// Full id.
    pub sha: String,
    /// Its tree.
    pub tree: String,
    /// Parent ids.
    pub parents: Vec<String>,
    /// Author name.
    pub author_name: String,
    /// Author email.
    pub author_email: String,
    /// Author date (ISO 8601 with offset).
    pub authored_at: String,
    /// Committer name.
    pub committer_name: String,
    /// Committer email.
    pub committer_email: String,
    /// Commit date (ISO 8601 with offset).
    pub committed_at: String,
    /// Whole message.
    pub message: String,
}

impl Repo {
    /// The full id of the commit `rev` names (a branch, a full or short
    /// id), `None` when it names none.
    pub async fn resolve(&self, rev: &str) -> Result<Option<String>, SimError> {
        if rev.starts_with('-') {
            return Ok(None);
        }
        self.commit_id(rev).await
    }

    /// Every branch and its head, by name.
    pub async fn branches(&self) -> Result<Vec<(String, String)>, SimError> {
        if let Some(refs) = self
            .reads
            .as_ref()
            .and_then(|r| r.refs(&["refs/heads/"], false))
        {
            return Ok(refs
                .into_iter()
                .filter_map(|(name, sha, _)| {
                    Some((name.strip_prefix("refs/heads/")?.to_owned(), sha))
                })
                .collect());
        }
        let out = self
            .ok(&[
                "for-each-ref",
                "--sort=refname",
                "--format=%(refname:lstrip=2)%00%(objectname)",
                "refs/heads",
            ])
            .await?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\0'))
            .map(|(name, sha)| (name.to_owned(), sha.to_owned()))
            .collect())
    }

    /// Every branch and tag whose full name (`refs/heads/…`, `refs/tags/…`)
    /// starts with `prefix`, as a plain string prefix (GitHub's
    /// matching-refs; git's own patterns only match whole path
    /// components): name, object id and object type, by name.
    pub async fn refs_starting(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String, String)>, SimError> {
        if let Some(refs) = self
            .reads
            .as_ref()
            .and_then(|r| r.refs(&["refs/heads/", "refs/tags/"], true))
        {
            return Ok(refs
                .into_iter()
                .filter(|(name, _, _)| name.starts_with(prefix))
                .collect());
        }
        let out = self
            .ok(&[
                "for-each-ref",
                "--sort=refname",
                "--format=%(refname)%00%(objectname)%00%(objecttype)",
                "refs/heads",
                "refs/tags",
            ])
            .await?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut f = l.split('\0');
                Some((f.next()?, f.next()?, f.next()?))
            })
            .filter(|(name, _, _)| name.starts_with(prefix))
            .map(|(name, sha, kind)| (name.to_owned(), sha.to_owned(), kind.to_owned()))
            .collect())
    }

    /// The branch `HEAD` names (the default branch), `main` when unborn
    /// or detached.
    pub async fn default_branch(&self) -> String {
        if let Some(name) = self.reads.as_ref().and_then(Reads::default_branch) {
            return name.unwrap_or_else(|| "main".to_owned());
        }
        match self
            .ok(&["symbolic-ref", "--quiet", "--short", "HEAD"])
            .await
        {
            Ok(name) if !name.is_empty() => name,
            _ => "main".to_owned(),
        }
    }

    /// What the forges show of commit `sha`.
    pub async fn commit_info(&self, sha: &str) -> Result<CommitInfo, SimError> {
        if let Some(info) = self.reads.as_ref().and_then(|r| r.commit_info(sha)) {
            return Ok(info);
        }
        let out = self
            .ok(&[
                "log",
                "-1",
                "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B",
                sha,
                "--",
            ])
            .await?;
        let mut f = out.splitn(10, '\0').map(str::to_owned);
        let mut next = || f.next().unwrap_or_default();
        Ok(CommitInfo {
            sha: next(),
            tree: next(),
            parents: next().split_whitespace().map(str::to_owned).collect(),
            author_name: next(),
            author_email: next(),
            authored_at: next(),
            committer_name: next(),
            committer_email: next(),
            committed_at: next(),
            message: next().trim_end().to_owned(),
        })
    }
}
