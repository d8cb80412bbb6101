//! History on demand. A write needs only the branch tip, so a cache starts
//! shallow (`--depth=1`); reads that go further back (a stage's history,
//! the last good version, `advance`'s change detection, ancestry) walk
//! what is cached and, when they reach the shallow boundary before their
//! answer, deepen it in doubling steps (`git fetch --deepen=N`, N = 256,
//! 512, ... up to 65,536, then `--unshallow`) and go on: a deployment k
//! commits back costs at most about 2k commits fetched (with steps that
//! grew fourfold, one 6,000 commits back in a 20,000-commit repo fetched
//! all of it). A read that
//! needs everything (a stage's whole history) unshallows at once; a read of
//! N entries that found k of them in the commits walked so far makes its
//! next step at least what that rate says the rest needs.
//!
//! The boundary is found by object presence: a parent missing from the
//! object store is where the cached history ends. A parent missing from a
//! cache that is not shallow any more is damage, reported as such, never
//! taken for the start of history.

use std::collections::{HashSet, VecDeque};

use gix::ObjectId;

use super::error::ReadError;
use super::repo::{EnvRepo, tracking_refspec};

/// The first deepening step, in commits.
const FIRST_STEP: u32 = 256;
/// Each step fetches this many times more than the one before (each step
/// is a fetch round trip; doubling keeps the overshoot under the distance).
const GROWTH: u32 = 2;
/// Past this step, the rest of the history is fetched at once.
const LAST_STEP: u32 = 65_536;
/// How much older than the ancestor a commit may claim to be and still be
/// walked by [`EnvRepo::is_ancestor`] (committer clocks disagree).
const CLOCK_SKEW_SECS: i64 = 24 * 3600;

/// The deepening steps of one read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deepening {
    /// Commits to fetch next; `None`: everything.
    next: Option<u32>,
}

impl Deepening {
    /// Growing steps, for reads that stop at their answer.
    pub(crate) fn stepwise() -> Self {
        Self {
            next: Some(FIRST_STEP),
        }
    }

    /// Everything at once, for reads that walk to the first commit.
    pub(crate) fn whole() -> Self {
        Self { next: None }
    }

    /// Makes the next step at least `commits` (the caller's estimate of
    /// what it still needs); past the last step, everything.
    pub(crate) fn at_least(&mut self, commits: u64) {
        if let Some(next) = self.next {
            self.next = u32::try_from(commits)
                .ok()
                .filter(|c| *c <= LAST_STEP)
                .map(|c| c.max(next));
        }
    }

    fn advance(&mut self) {
        self.next = self
            .next
            .and_then(|n| n.checked_mul(GROWTH))
            .filter(|n| *n <= LAST_STEP);
    }
}

/// A commit's tree and first parent, read once per commit of a walk.
pub(crate) struct Links {
    pub tree: ObjectId,
    pub parent: Option<ObjectId>,
}

impl EnvRepo {
    /// Whether the cache is shallow now (another process may have deepened
    /// it since this handle was opened).
    pub(crate) fn is_shallow(&self) -> bool {
        self.repo.is_shallow().unwrap_or(false)
    }

    /// The tree and first parent of `id`.
    pub(crate) fn links(&self, id: ObjectId) -> Result<Links, gix::Error> {
        let commit = self.repo.find_commit(id)?;
        let decoded = commit.decode().map_err(gix::Error::from_error)?;
        Ok(Links {
            tree: decoded.tree(),
            parent: decoded.parents().next(),
        })
    }

    /// Makes sure `parent` (of `commit`) is in the cache, deepening it as
    /// `plan` says until it is.
    pub(crate) fn ensure_parent(
        &mut self,
        commit: ObjectId,
        parent: ObjectId,
        plan: &mut Deepening,
    ) -> Result<(), ReadError> {
        while !self.repo.has_object(parent) {
            if !self.is_shallow() {
                return Err(ReadError::MissingParent {
                    url: self.remote.url.clone(),
                    cache: self.git_dir.clone(),
                    commit: commit.to_string(),
                    parent: parent.to_string(),
                });
            }
            self.deepen(plan)?;
        }
        Ok(())
    }

    /// Fetches the next step of `plan` below the shallow boundary, under
    /// the cache lock; then grows the plan.
    pub(crate) fn deepen(&mut self, plan: &mut Deepening) -> Result<(), ReadError> {
        let failed = |url: &str, source| ReadError::Deepen {
            url: url.to_owned(),
            source,
        };
        {
            let _lock = self
                .lock()
                .map_err(|e| failed(&self.remote.url, e.into()))?;
            // Another process may have deepened the cache while this one
            // waited: its objects are as good as ours.
            self.reload();
            if !self.is_shallow() {
                return Ok(());
            }
            let refspecs = [tracking_refspec(&self.branch)];
            let fetched = match plan.next {
                Some(by) => {
                    tracing::debug!(by, url = %self.remote.url, "deepening the cache");
                    self.remote
                        .deepen(&self.git_dir, &refspecs, &self.branch, by)
                }
                None => {
                    tracing::debug!(url = %self.remote.url, "fetching the whole history");
                    self.remote
                        .unshallow(&self.git_dir, &refspecs, &self.branch)
                }
            };
            fetched.map_err(|e| failed(&self.remote.url, e))?;
        }
        plan.advance();
        self.reload();
        Ok(())
    }

    /// Like [`Self::resolve`], deepening the cache in steps while a commit
    /// id or an ancestry expression (`<sha>~3`) is not in it yet.
    pub fn resolve_deepening(&mut self, rev: &str) -> Result<ObjectId, ReadError> {
        let mut plan = Deepening::stepwise();
        loop {
            match self.resolve(rev) {
                Ok(id) => return Ok(id),
                Err(e) if !may_be_deeper(rev) || !self.is_shallow() => return Err(e),
                Err(_) => self.deepen(&mut plan)?,
            }
        }
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors; `None`
    /// when either is not in this process's view (fetch, then ask again).
    ///
    /// Two walks take turns, one commit at a time, through every parent:
    /// back from `descendant` looking for `ancestor` (yes), and back from
    /// `ancestor` looking for `descendant` (no: `descendant` is older on
    /// the same line, the gate's usual "not synced yet"). So the cost
    /// follows the distance between the two, not the size of the repo. The
    /// cache is deepened (in steps) only when neither walk can go on with
    /// what it holds. A walk stops going down a line at commits more than a
    /// day older than the commit it looks for (nothing that old descends
    /// from it); when the first walk has nowhere left to go, the answer is
    /// no.
    pub fn is_ancestor(&mut self, ancestor: &str, descendant: &str) -> Option<bool> {
        let target = self.resolve(ancestor).ok()?;
        let start = self.resolve(descendant).ok()?;
        if target == start {
            return Some(true);
        }
        let mut plan = Deepening::stepwise();
        let mut down = Walk::new(start, self.commit_time(target)?);
        let mut up = Walk::new(target, self.commit_time(start)?);
        loop {
            let went_down = match down.step(self)? {
                Step::Found(id) if id == target => return Some(true),
                Step::Done => return Some(false),
                Step::Found(_) => true,
                Step::Missing => false,
            };
            let went_up = match up.step(self)? {
                Step::Found(id) if id == start => return Some(false),
                Step::Found(_) => true,
                Step::Missing | Step::Done => false,
            };
            if !went_down && !went_up {
                if !self.is_shallow() {
                    tracing::warn!(url = %self.remote.url, "a commit is missing from a complete cache");
                    return None;
                }
                self.deepen(&mut plan).ok()?;
            }
        }
    }

    fn commit_time(&self, id: ObjectId) -> Option<i64> {
        let commit = self.repo.find_commit(id).ok()?;
        let decoded = commit.decode().ok()?;
        decoded.committer().ok()?.time().ok().map(|t| t.seconds)
    }

    fn parents(&self, id: ObjectId) -> Option<Vec<ObjectId>> {
        let commit = self.repo.find_commit(id).ok()?;
        let decoded = commit.decode().ok()?;
        Some(decoded.parents().collect())
    }
}

/// What one step of a [`Walk`] saw.
enum Step {
    /// A commit (the walk goes on through its parents).
    Found(ObjectId),
    /// The next commit is below the cache's shallow boundary.
    Missing,
    /// Nothing left to walk.
    Done,
}

/// A breadth-first walk back through every parent, cut off at commits
/// older than `cutoff`.
struct Walk {
    queue: VecDeque<ObjectId>,
    seen: HashSet<ObjectId>,
    cutoff: i64,
}

impl Walk {
    /// A walk from `from`, looking for a commit made at `looking_for`.
    fn new(from: ObjectId, looking_for: i64) -> Self {
        Self {
            queue: VecDeque::from([from]),
            seen: HashSet::from([from]),
            cutoff: looking_for.saturating_sub(CLOCK_SKEW_SECS),
        }
    }

    /// Takes the next commit, if the cache has it, and queues its parents;
    /// `None` when the cache cannot be read.
    fn step(&mut self, repo: &EnvRepo) -> Option<Step> {
        let Some(&id) = self.queue.front() else {
            return Some(Step::Done);
        };
        if !repo.repo.has_object(id) {
            return Some(Step::Missing);
        }
        self.queue.pop_front();
        if repo.commit_time(id)? >= self.cutoff {
            for parent in repo.parents(id)? {
                if self.seen.insert(parent) {
                    self.queue.push_back(parent);
                }
            }
        }
        Some(Step::Found(id))
    }
}

/// Whether more history could make `rev` resolve: a (possibly abbreviated)
/// commit id or an ancestry expression; not a branch name.
fn may_be_deeper(rev: &str) -> bool {
    let base = rev.split(['~', '^']).next().unwrap_or(rev);
    let hex = base.len() >= 7 && base.bytes().all(|b| b.is_ascii_hexdigit());
    hex || base.len() != rev.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_grow_then_fetch_everything() {
        let mut plan = Deepening::stepwise();
        let mut steps = Vec::new();
        while let Some(n) = plan.next {
            steps.push(n);
            plan.advance();
        }
        assert_eq!(
            steps,
            [256, 512, 1024, 2048, 4096, 8192, 16_384, 32_768, 65_536]
        );
        assert!(Deepening::whole().next.is_none());
    }

    #[test]
    fn an_estimate_past_the_last_step_fetches_everything() {
        let mut plan = Deepening::stepwise();
        plan.at_least(10);
        assert_eq!(plan.next, Some(256));
        plan.at_least(50_000);
        assert_eq!(plan.next, Some(50_000));
        plan.at_least(70_000);
        assert_eq!(plan.next, None);
    }

    #[test]
    fn only_ids_and_ancestry_expressions_are_worth_deepening_for() {
        assert!(may_be_deeper("0123abc"));
        assert!(may_be_deeper("main~3"));
        assert!(may_be_deeper("0123abcdef0123abcdef0123abcdef0123abcdef^2"));
        assert!(!may_be_deeper("main"));
        assert!(!may_be_deeper("feature/x"));
    }
}
