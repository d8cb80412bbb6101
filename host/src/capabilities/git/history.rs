//! A stage's deployment history from the env repo alone: the first-parent
//! commits that changed its value, their trailers, the last good version
//! (skipping versions a later commit rolled back), and which stages changed
//! between two commits (for `baton advance`). Every walk reads the cache
//! first and deepens it only at its boundary ([`super::shallow`]). Past its
//! first commits a walk asks the changed-path index ([`super::paths`])
//! whether a commit changed the stage's file, and reads trees only where
//! it did (or where no walk has been before, learning it for the next).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use gix::ObjectId;
use gix::bstr::ByteSlice;

use super::error::ReadError;
use super::repo::{EnvRepo, StageField};
use super::shallow::{Deepening, Links};
use super::trailers::{ROLLBACK_OF, Trailer, parse_trailers};

/// A history walk looks at its deadline every this many commits.
const DEADLINE_CHECK_EVERY: u32 = 256;

/// A history walk consults the changed-path index after this many commits
/// (reads of the newest deployments, a promote's, never load it).
const INDEX_AFTER: u32 = 16;

/// One commit that changed a stage's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Full hex commit id.
    pub commit: String,
    /// Committer time, seconds since the Unix epoch.
    pub time: i64,
    /// Author name.
    pub author_name: String,
    /// Author email.
    pub author_email: String,
    /// The value before this commit (`None`: file or field absent).
    pub old: Option<String>,
    /// The value after this commit (`None`: file or field absent).
    pub new: Option<String>,
    /// Full commit message.
    pub message: String,
    /// Trailers of the message's last paragraph, in order.
    pub trailers: Vec<Trailer>,
}

impl HistoryEntry {
    /// The value of the first trailer named `key` (case-insensitive).
    pub fn trailer(&self, key: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|t| t.key.eq_ignore_ascii_case(key))
            .map(|t| t.value.as_str())
    }
}

/// The last good version of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastGood {
    /// The version.
    pub version: String,
    /// The commit that set it.
    pub commit: String,
}

/// Where a version stands in a stage's history
/// ([`EnvRepo::deployment_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentState {
    /// The stage's newest deployment set it: it holds it now.
    Now,
    /// An older deployment set it and no later commit rolled it back.
    Before,
    /// An older deployment set it and a later commit rolled it back.
    RolledBack,
    /// No deployment set it.
    Never,
}

/// A stage whose value differs between two commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageChange {
    /// Index of the stage in the slice given to [`EnvRepo::changed_stages`].
    pub index: usize,
    /// Value at the first commit.
    pub from: Option<String>,
    /// Value at the second commit.
    pub to: Option<String>,
}

/// How far a walk that wants `want` entries has got: `found` of them in
/// `walked` commits.
#[derive(Debug, Clone, Copy)]
struct Need {
    walked: u32,
    found: usize,
    want: usize,
}

/// The error of reading object `id` of the cache of `url`.
fn objects(url: &str, id: ObjectId) -> impl FnOnce(gix::Error) -> ReadError {
    let url = url.to_owned();
    move |source| ReadError::Objects {
        url,
        rev: id.to_string(),
        source,
    }
}

/// Memoised path lookups: most commits touch one file, so most subtrees are
/// shared with the previous commit and need no decoding.
#[derive(Default)]
struct BlobFinder {
    subtree: HashMap<(ObjectId, usize), Option<ObjectId>>,
    values: HashMap<ObjectId, Option<String>>,
}

impl BlobFinder {
    fn blob(
        &mut self,
        repo: &gix::Repository,
        tree: ObjectId,
        parts: &[&str],
    ) -> Result<Option<ObjectId>, gix::Error> {
        let mut id = tree;
        for (depth, name) in parts.iter().enumerate() {
            let next = match self.subtree.get(&(id, depth)) {
                Some(next) => *next,
                None => {
                    let tree = repo.find_tree(id)?;
                    let next = tree.find_entry(*name).and_then(|e| {
                        let is_last = depth + 1 == parts.len();
                        let ok = if is_last {
                            e.mode().is_blob()
                        } else {
                            e.mode().is_tree()
                        };
                        ok.then(|| e.object_id())
                    });
                    self.subtree.insert((id, depth), next);
                    next
                }
            };
            match next {
                Some(next) => id = next,
                None => return Ok(None),
            }
        }
        Ok(Some(id))
    }

    fn value(
        &mut self,
        repo: &gix::Repository,
        stage: &StageField,
        blob: Option<ObjectId>,
    ) -> Result<Option<String>, gix::Error> {
        let Some(blob) = blob else { return Ok(None) };
        if let Some(v) = self.values.get(&blob) {
            return Ok(v.clone());
        }
        let data = repo.find_blob(blob)?.detach().data;
        let value = match EnvRepo::version_in(stage, &data) {
            Ok(v) => Some(v),
            Err(err) => {
                // An unreadable old revision must not make history unusable.
                tracing::debug!(%err, %blob, "history: value unreadable, treated as absent");
                None
            }
        };
        self.values.insert(blob, value.clone());
        Ok(value)
    }
}

impl EnvRepo {
    /// Every first-parent commit reachable from `rev` that changed `stage`'s
    /// value, newest first; at most `limit` entries when given. Reads what
    /// is cached and deepens the cache only when the walk reaches its
    /// boundary first (all at once without a limit: the walk goes to the
    /// first commit).
    pub fn history(
        &mut self,
        rev: &str,
        stage: &StageField,
        limit: Option<usize>,
    ) -> Result<Vec<HistoryEntry>, ReadError> {
        let plan = match limit {
            Some(_) => Deepening::stepwise(),
            None => Deepening::whole(),
        };
        self.history_until(rev, stage, plan, limit, |found| {
            limit.is_some_and(|l| found.len() >= l)
        })
    }

    /// The history walk, stopping as soon as `done(entries so far)` holds;
    /// the cache is deepened as `plan` says when the walk reaches its
    /// boundary, by at least what the entries found so far say `want`
    /// entries need. Gives up with [`ReadError::Deadline`] once the repo's
    /// deadline passes. What the walk learnt for the changed-path index is
    /// kept whatever the outcome.
    fn history_until(
        &mut self,
        rev: &str,
        stage: &StageField,
        plan: Deepening,
        want: Option<usize>,
        done: impl FnMut(&[HistoryEntry]) -> bool,
    ) -> Result<Vec<HistoryEntry>, ReadError> {
        let walked = self.walk_history(rev, stage, plan, want, done);
        self.paths.flush();
        walked
    }

    fn walk_history(
        &mut self,
        rev: &str,
        stage: &StageField,
        mut plan: Deepening,
        want: Option<usize>,
        mut done: impl FnMut(&[HistoryEntry]) -> bool,
    ) -> Result<Vec<HistoryEntry>, ReadError> {
        let started = Instant::now();
        let tip = self.resolve_deepening(rev)?;
        let parts: Vec<&str> = stage.file.split('/').filter(|p| !p.is_empty()).collect();
        let file = parts.join("/");
        let mut finder = BlobFinder::default();
        let mut out = Vec::new();
        let mut current = tip;
        let mut links = self
            .links(current)
            .map_err(objects(&self.remote.url, current))?;
        let mut blob = finder
            .blob(&self.repo, links.tree, &parts)
            .map_err(objects(&self.remote.url, current))?;
        let mut walked: u32 = 0;
        loop {
            if done(&out) {
                break;
            }
            walked = walked.wrapping_add(1);
            if walked.is_multiple_of(DEADLINE_CHECK_EVERY) {
                self.within_deadline(started)?;
            }
            let parent = match links.parent {
                Some(parent) => {
                    let need = want.map(|want| Need {
                        walked,
                        found: out.len(),
                        want,
                    });
                    Some((parent, self.parent_links(current, parent, &mut plan, need)?))
                }
                None => None,
            };
            let parent_blob = match &parent {
                // Past its first commits, a walk asks the changed-path
                // index whether the file may have changed here at all.
                Some((id, l))
                    if walked > INDEX_AFTER
                        && !self
                            .may_change(current, links.tree, *id, l.tree, &file)
                            .map_err(objects(&self.remote.url, current))? =>
                {
                    blob
                }
                Some((id, l)) => finder
                    .blob(&self.repo, l.tree, &parts)
                    .map_err(objects(&self.remote.url, *id))?,
                None => None,
            };
            if blob != parent_blob {
                let url = &self.remote.url;
                let new = finder
                    .value(&self.repo, stage, blob)
                    .map_err(objects(url, current))?;
                let old = finder
                    .value(&self.repo, stage, parent_blob)
                    .map_err(objects(url, current))?;
                if new != old {
                    out.push(self.entry(current, old, new)?);
                }
            }
            match parent {
                Some((id, l)) => {
                    current = id;
                    links = l;
                    blob = parent_blob;
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// [`ReadError::Deadline`] once the repo's deadline has passed, for a
    /// walk that started at `started`.
    fn within_deadline(&self, started: Instant) -> Result<(), ReadError> {
        if self.remote.deadline.passed() {
            return Err(ReadError::Deadline {
                url: self.remote.url.clone(),
                after: started.elapsed(),
            });
        }
        Ok(())
    }

    /// The links of `parent` (of `commit`), deepening the cache as `plan`
    /// says while it is below the boundary; for a walk that wants a number
    /// of entries, the next step is at least what the rate found so far
    /// says the rest needs.
    fn parent_links(
        &mut self,
        commit: ObjectId,
        parent: ObjectId,
        plan: &mut Deepening,
        need: Option<Need>,
    ) -> Result<Links, ReadError> {
        if let Some(Need {
            walked,
            found,
            want,
        }) = need
            && found > 0
            && !self.repo.has_object(parent)
        {
            let rate = u64::from(walked) / found as u64;
            plan.at_least(rate.saturating_mul(want.saturating_sub(found) as u64));
        }
        self.ensure_parent(commit, parent, plan)?;
        self.links(parent)
            .map_err(objects(&self.remote.url, parent))
    }

    /// Whether `commit` (tree `tree`) may have changed `file` against its
    /// first parent `parent` (tree `parent_tree`): from the changed-path
    /// index, which learns it now when it does not know it yet.
    fn may_change(
        &mut self,
        commit: ObjectId,
        tree: ObjectId,
        parent: ObjectId,
        parent_tree: ObjectId,
        file: &str,
    ) -> Result<bool, gix::Error> {
        if let Some(changes) = self.paths.get(commit)
            && changes.parent == parent
        {
            return Ok(changes.touches(file));
        }
        let changes = self
            .paths
            .learn(&self.repo, commit, tree, parent, parent_tree)?;
        Ok(changes.touches(file))
    }

    /// The history entry of commit `id`, which changed a value from `old`
    /// to `new`.
    fn entry(
        &self,
        id: ObjectId,
        old: Option<String>,
        new: Option<String>,
    ) -> Result<HistoryEntry, ReadError> {
        let url = &self.remote.url;
        let commit = self.repo.find_commit(id).map_err(objects(url, id))?;
        let decoded = commit
            .decode()
            .map_err(|e| objects(url, id)(gix::Error::from_error(e)))?;
        let author = decoded
            .author()
            .map_err(|e| objects(url, id)(gix::Error::from_error(e)))?;
        let message = decoded.message.to_str_lossy().into_owned();
        Ok(HistoryEntry {
            commit: id.to_string(),
            time: decoded
                .committer()
                .ok()
                .and_then(|c| c.time().ok())
                .map_or(0, |t| t.seconds),
            author_name: author.name.to_str_lossy().trim().to_owned(),
            author_email: author.email.to_str_lossy().trim().to_owned(),
            old,
            new,
            trailers: parse_trailers(&message),
            message,
        })
    }

    /// The newest value of `stage` before its current one that no later
    /// commit rolled back (`Baton-Rollback-Of: <version>`), with the commit
    /// that set it. `None` when history has no such value.
    pub fn last_good(
        &mut self,
        rev: &str,
        stage: &StageField,
    ) -> Result<Option<LastGood>, ReadError> {
        // Stops at the answer: every commit newer than the candidate (the
        // only ones whose rollback trailers matter) has been seen by then.
        let history = self.history_until(rev, stage, Deepening::stepwise(), None, |found| {
            last_good_in(found).is_some()
        })?;
        Ok(last_good_in(&history))
    }

    /// Where `version` stands in `stage`'s history at `rev`: held now,
    /// held before (its newest deployment not rolled back by a later
    /// commit), rolled back, or never held. Walks only as far back as the
    /// newest deployment of `version`.
    pub fn deployment_state(
        &mut self,
        rev: &str,
        stage: &StageField,
        version: &str,
    ) -> Result<DeploymentState, ReadError> {
        let history = self.history_until(rev, stage, Deepening::stepwise(), None, |found| {
            found.iter().any(|e| e.new.as_deref() == Some(version))
        })?;
        let Some(at) = history
            .iter()
            .position(|e| e.new.as_deref() == Some(version))
        else {
            return Ok(DeploymentState::Never);
        };
        if at == 0 {
            return Ok(DeploymentState::Now);
        }
        let rolled_back = history[..at].iter().any(|e| {
            e.trailers
                .iter()
                .any(|t| t.key.eq_ignore_ascii_case(ROLLBACK_OF) && t.value == version)
        });
        Ok(if rolled_back {
            DeploymentState::RolledBack
        } else {
            DeploymentState::Before
        })
    }

    /// Which of `stages` have a different value at `to` than at `from`.
    /// A shallow cache is deepened in steps while either revision is not in
    /// it.
    pub fn changed_stages(
        &mut self,
        from: &str,
        to: &str,
        stages: &[StageField],
    ) -> Result<Vec<StageChange>, ReadError> {
        let (a, b) = (self.resolve_deepening(from)?, self.resolve_deepening(to)?);
        let mut out = Vec::new();
        for (index, stage) in stages.iter().enumerate() {
            let (x, y) = (self.blob_at(a, &stage.file)?, self.blob_at(b, &stage.file)?);
            if x == y {
                continue;
            }
            let read = |bytes: Option<Vec<u8>>| -> Result<Option<String>, ReadError> {
                bytes
                    .map(|b| EnvRepo::version_in(stage, &b))
                    .transpose()
                    .map_err(ReadError::from)
            };
            let (from_v, to_v) = (read(x)?, read(y)?);
            if from_v != to_v {
                out.push(StageChange {
                    index,
                    from: from_v,
                    to: to_v,
                });
            }
        }
        Ok(out)
    }
}

/// [`EnvRepo::last_good`] over an already loaded history (newest first).
pub fn last_good_in(history: &[HistoryEntry]) -> Option<LastGood> {
    let current = history.first()?.new.clone();
    let mut rolled_back: HashSet<&str> = HashSet::new();
    for entry in history {
        if let Some(v) = &entry.new
            && Some(v) != current.as_ref()
            && !rolled_back.contains(v.as_str())
        {
            return Some(LastGood {
                version: v.clone(),
                commit: entry.commit.clone(),
            });
        }
        for t in &entry.trailers {
            if t.key.eq_ignore_ascii_case(ROLLBACK_OF) {
                rolled_back.insert(t.value.as_str());
            }
        }
    }
    None
}
