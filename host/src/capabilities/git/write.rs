//! Writing a stage's new version: edit the file of each of its targets in
//! memory, build blobs, tree and one commit with gix in the bare cache,
//! push fast-forward to the branch (or a new merge-request branch). A rejected push is retried on the new tip
//! with jittered backoff ([`crate::retry`]), a bounded number of times and
//! never past the deadline; never forced.
//!
//! A round holds its lock from its fetch to its push (the cache lock; a
//! merge request, one of the locks merge-request pushes take turns under),
//! so processes writing through one cache take turns instead of rejecting
//! each other's pushes. A merge-request branch is only created, never
//! moved: the push leases it as absent, and one the remote has already is
//! fetched and reused when it holds the change (no `git ls-remote` first).
//! The push writes no local ref (this process's view of the branch moves
//! in memory), so no git lock file is involved. Instead the pusher leaves the tip it pushed in
//! `<cache>/baton.pushed` before releasing the lock: the next writer through
//! the cache builds on it when it descends from what that writer fetched
//! (its objects are in the shared cache already), instead of pushing onto a
//! stale tip, being rejected and fetching again. A writer waiting for the
//! lock offers its write to the holder meanwhile, which pushes it along
//! with its own, one commit each, in one push ([`super::group`]): on top of
//! its own to the tracked branch, or to the offer's own merge-request
//! branch.

use std::time::{Duration, Instant};

use gix::ObjectId;

use super::error::{ReadError, TransportError, WriteError};
use super::group::{self, Claim, MAX_BRANCHES_PER_PUSH, MAX_GROUP, PushToken, Settled, Ticket};
use super::lock::CacheLock;
use super::repo::{EnvRepo, StageField};
use super::trailers::{DEFAULT_TEMPLATE, Identity, Provenance, render_message};
use super::transport::{PushResult, RefUpdate};
use super::yaml::{self, Edited};
use crate::retry::{self, Jitter, RetryPolicy};

/// The file in the cache that names the tip the last writer through the
/// cache pushed to the tracked branch.
const PUSHED: &str = "baton.pushed";

/// How far back from the last pushed tip this process's tip is looked for
/// (writers through one cache push one commit each).
const PUSHED_REACH: usize = 256;

/// Where a write goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A direct fast-forward commit to the tracked branch.
    Branch,
    /// A new branch `baton/<app>/<stage>/<version>` (a rollback:
    /// `…/rollback-<version>`) off the tracked branch, for a merge request.
    MergeRequest,
}

/// One stage update.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    /// The application, e.g. `payments`.
    pub app: String,
    /// The stage, e.g. `dev`.
    pub stage: String,
    /// Where the stage's version lives (its first target's location).
    pub location: StageField,
    /// The stage's further targets (a stage with several), changed in the
    /// same commit; empty for a stage with one target.
    pub further: Vec<StageField>,
    /// The version to set.
    pub version: String,
    /// Direct commit or merge-request branch.
    pub target: Target,
    /// Trailers to record.
    pub provenance: Provenance,
}

/// How commits are made and pushes retried.
#[derive(Debug, Clone)]
pub struct CommitSettings {
    /// Subject template (`{stage}`, `{app}`, `{version}`, `{rollback_of}`).
    pub template: String,
    /// Author and committer.
    pub identity: Identity,
    /// Push attempts before giving up on a contended branch.
    pub max_attempts: u32,
    /// Base delay of the jittered exponential backoff between attempts.
    pub backoff_base: Duration,
    /// Longest single wait between attempts.
    pub backoff_cap: Duration,
    /// Commit time (seconds since the epoch); `None` for now. Tests pin it.
    pub time: Option<i64>,
}

impl Default for CommitSettings {
    fn default() -> Self {
        Self {
            template: DEFAULT_TEMPLATE.into(),
            identity: Identity::default(),
            max_attempts: 10,
            backoff_base: Duration::from_millis(50),
            backoff_cap: Duration::from_secs(1),
            time: None,
        }
    }
}

impl CommitSettings {
    /// The push retries as a [`RetryPolicy`]: jittered, so writers racing
    /// for one branch spread out.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            attempts: self.max_attempts,
            base: self.backoff_base,
            cap: self.backoff_cap,
            jitter: Jitter::Spread,
        }
    }
}

/// The files a write changes at one base: each with its new bytes, and
/// the first changed target's previous value.
struct FileEdits {
    old: String,
    files: Vec<(String, Vec<u8>)>,
}

/// One round of a write: fetch, edit, commit, push.
enum Round {
    /// Final: written, unchanged, reused, or failed for good.
    Done(Result<WriteOutcome, WriteError>),
    /// The push was rejected (someone pushed first): git's line about it.
    Rejected(String),
}

/// How a write's turn at its lock began.
enum Turn {
    /// This process holds the lock and writes, unless its offer's holder
    /// recorded a commit for it (`sha`, replacing `previous`) and died
    /// before recording the push: the branch then says whether it landed.
    Held(CacheLock, Option<(ObjectId, String)>),
    /// The lock could not be had, but a holder had pushed this write.
    Pushed {
        sha: ObjectId,
        tip: ObjectId,
        previous: String,
    },
}

/// What [`EnvRepo::write_version`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// A new commit is on `branch`.
    Committed {
        /// The new commit.
        sha: String,
        /// The branch it was pushed to.
        branch: String,
        /// The value it replaced.
        previous: String,
        /// Pushes that were rejected before this one landed.
        retries: u32,
    },
    /// The stage already held the version on the tracked branch; nothing
    /// was written.
    Unchanged {
        /// The tracked branch's tip.
        sha: String,
        /// The tracked branch.
        branch: String,
    },
    /// The merge-request branch already exists with this change.
    ReusedBranch {
        /// Its tip.
        sha: String,
        /// The branch.
        branch: String,
    },
}

/// The merge-request branch name for a change:
/// `baton/<app>/<stage>/<version>`, the version encoded so that any version
/// (a digest, an image reference) makes a valid ref and the same version
/// always the same branch ([`crate::version::encode_ref_component`];
/// `v1.2.3` stays `v1.2.3`, `sha256:ab…` becomes `sha256%3Aab…`).
pub fn mr_branch_name(app: &str, stage: &str, version: &str) -> String {
    format!(
        "baton/{app}/{stage}/{}",
        crate::version::encode_ref_component(version)
    )
}

/// The merge-request branch name of a rollback of `stage` to `version`:
/// `baton/<app>/<stage>/rollback-<version>`, its own, so a rollback never
/// reuses the promotion branch of the same version (merged long ago, or
/// left behind by a squash merge) and never lands without its
/// `Baton-Rollback-Of` trailer.
pub fn rollback_branch_name(app: &str, stage: &str, version: &str) -> String {
    format!(
        "baton/{app}/{stage}/rollback-{}",
        crate::version::encode_ref_component(version)
    )
}

impl WriteRequest {
    /// The merge-request branch this change goes to.
    fn mr_branch(&self) -> String {
        if self.provenance.rollback_of.is_some() {
            rollback_branch_name(&self.app, &self.stage, &self.version)
        } else {
            mr_branch_name(&self.app, &self.stage, &self.version)
        }
    }
}

impl EnvRepo {
    /// Sets `req.location` (and every further target) to `req.version` and
    /// pushes one commit. Idempotent: a stage whose every target holds the
    /// value, or an existing identical MR branch, writes nothing.
    /// A rejected push is re-applied on the new tip within
    /// [`CommitSettings::retry_policy`] and the repo's deadline.
    pub fn write_version(
        &mut self,
        req: &WriteRequest,
        settings: &CommitSettings,
    ) -> Result<WriteOutcome, WriteError> {
        let push_branch = match req.target {
            Target::Branch => self.branch.clone(),
            Target::MergeRequest => req.mr_branch(),
        };
        let rejected = |round: &Round| match round {
            Round::Rejected(line) => {
                tracing::debug!(%line, branch = %push_branch, "push rejected, re-applying on the new tip");
                true
            }
            Round::Done(_) => false,
        };
        let deadline = self.remote.deadline;
        let finished = retry::run_blocking(
            settings.retry_policy(),
            deadline,
            |attempt| {
                self.write_round(req, settings, attempt.number)
                    .unwrap_or_else(|e| Round::Done(Err(e)))
            },
            rejected,
        )
        .map_err(|_| {
            transport_error(
                req,
                &push_branch,
                TransportError::Deadline {
                    url: self.remote.url.clone(),
                    command: "push",
                },
            )
        })?;
        match finished.result {
            Round::Done(outcome) => outcome,
            Round::Rejected(last) => Err(WriteError::Contended {
                app: req.app.clone(),
                stage: req.stage.clone(),
                value: req.version.clone(),
                branch: push_branch,
                attempts: finished.attempts,
                last,
            }),
        }
    }

    /// Attempt `attempt` (from 1) of [`Self::write_version`].
    fn write_round(
        &mut self,
        req: &WriteRequest,
        settings: &CommitSettings,
        attempt: u32,
    ) -> Result<Round, WriteError> {
        let mr = req.mr_branch();
        let push_branch = match req.target {
            Target::Branch => self.branch.clone(),
            Target::MergeRequest => mr.clone(),
        };
        let transport = |source| transport_error(req, &push_branch, source);
        // Held through the push: writers sharing this cache take turns
        // instead of racing each other to the remote, and a writer waiting
        // meanwhile offers its write to the holder, which may push it along
        // with its own ([`super::group`]). Merge requests take turns among
        // themselves (the cache lock is for fetches and the tracked branch).
        let ticket = Ticket::offer(&self.git_dir, &self.branch, req, settings);
        let lock = match self.lock_offering(req.target, ticket).map_err(transport)? {
            Turn::Held(lock, pending) => {
                match self.landed(pending, req, attempt).map_err(transport)? {
                    Some(outcome) => return Ok(Round::Done(Ok(outcome))),
                    None => lock,
                }
            }
            Turn::Pushed { sha, tip, previous } => {
                return Ok(Round::Done(Ok(
                    self.pushed_by_another(req, sha, tip, previous, attempt)
                )));
            }
        };
        self.catch_up(req.target, attempt, &mr).map_err(transport)?;
        let base = self.tip_of(&self.branch).ok_or_else(|| {
            transport(TransportError::BranchMissing {
                url: self.remote.url.clone(),
                branch: self.branch.clone(),
            })
        })?;
        let Some(FileEdits { old, files }) = self.edit_at(base, req)? else {
            return Ok(Round::Done(Ok(WriteOutcome::Unchanged {
                sha: base.to_string(),
                branch: self.branch.clone(),
            })));
        };
        let sha = self.commit_edit(base, req, settings, &files)?;
        let committed = WriteOutcome::Committed {
            sha: sha.to_string(),
            branch: push_branch.clone(),
            previous: old,
            retries: attempt - 1,
        };
        match req.target {
            Target::Branch => self.push_branch(sha, committed, lock),
            Target::MergeRequest => self.push_requests(req, base, sha, committed, lock),
        }
        .map_err(transport)
    }

    /// Pushes this write's commit `sha` to the tracked branch, with the
    /// writes other processes offered meanwhile on top, then lets go of
    /// the cache `lock`.
    fn push_branch(
        &mut self,
        sha: ObjectId,
        committed: WriteOutcome,
        lock: CacheLock,
    ) -> Result<Round, TransportError> {
        let (tip, claims) = self.gather(sha);
        // A push that fails leaves the claimed writers' records pending:
        // each finds out by fetching whether its commit landed.
        match self
            .remote
            .push(&self.git_dir, &tip.to_string(), &self.branch)?
        {
            PushResult::Pushed => {
                for claim in claims {
                    claim.pushed(tip);
                }
                self.record_push(&self.branch.clone(), tip);
                self.leave_pushed(tip);
                drop(lock);
                Ok(Round::Done(Ok(committed)))
            }
            PushResult::Rejected(line) => {
                for claim in claims {
                    claim.declined();
                }
                Ok(Round::Rejected(line))
            }
        }
    }

    /// Pushes this write's commit `sha` (on `base`) to its new
    /// merge-request branch, along with the merge-request branches other
    /// processes offered meanwhile, in one push, then lets go of `lock`
    /// (one of the merge-request pushes' locks). Every branch is only
    /// created, never moved: one the remote has already is fetched (under
    /// the cache lock), and reused when it holds this change.
    fn push_requests(
        &mut self,
        req: &WriteRequest,
        base: ObjectId,
        sha: ObjectId,
        committed: WriteOutcome,
        lock: CacheLock,
    ) -> Result<Round, TransportError> {
        let mr = req.mr_branch();
        // Claimed writers waiting for the other push's lock wait for this
        // token instead, until their records are final. Without one,
        // nobody else's request goes in this push.
        let token = PushToken::new(&self.git_dir);
        let claims = match &token {
            Some(token) => self.gather_requests(base, &mr, token),
            None => Vec::new(),
        };
        let own = sha.to_string();
        let theirs: Vec<(String, String)> = claims
            .iter()
            .map(|(_, branch, sha)| (branch.clone(), sha.to_string()))
            .collect();
        let updates: Vec<RefUpdate<'_>> = std::iter::once((mr.as_str(), own.as_str()))
            .chain(theirs.iter().map(|(b, s)| (b.as_str(), s.as_str())))
            .map(|(branch, sha)| RefUpdate {
                sha,
                branch,
                create_only: true,
            })
            .collect();
        // A push that fails as a whole leaves the claimed writers' records
        // pending: each then writes alone, and finds its branch if it landed.
        let mut answers = self.remote.push_refs(&self.git_dir, &updates)?.into_iter();
        let mine = answers.next();
        for ((claim, _, sha), answer) in claims.into_iter().zip(answers) {
            match answer {
                Ok(PushResult::Pushed) => claim.pushed(sha),
                Ok(PushResult::Rejected(_)) | Err(_) => claim.declined(),
            }
        }
        // Every record is final: the writers waiting for the token go.
        drop(token);
        let round = match mine {
            Some(Ok(PushResult::Pushed)) => {
                self.record_push(&mr, sha);
                Round::Done(Ok(committed))
            }
            // The branch exists (or moved, or its lock was taken): the
            // remote's tip decides.
            Some(Ok(PushResult::Rejected(line))) => {
                let _cache = self.lock()?;
                self.fetch_locked(Some(&mr))?;
                self.fresh = false;
                match self.tip_of(&mr) {
                    Some(existing) => Round::Done(self.reuse_branch(existing, req, &mr)),
                    None => Round::Rejected(line),
                }
            }
            Some(Err(e)) => return Err(e),
            None => return Err(self.remote.no_answer(&mr)),
        };
        drop(lock);
        Ok(round)
    }

    /// Takes the lock writes to `target` take turns under (the cache
    /// lock, or the merge-request pushes' lock), with `ticket` (this
    /// write's offer) waiting meanwhile, and settles the offer. A claimed
    /// offer's holder may still be pushing it: it is waited for without the
    /// lock, which is taken again only to write alone. A wait for the lock
    /// that runs out after a holder claimed the offer waits once more, for
    /// that holder's record.
    fn lock_offering(
        &mut self,
        target: Target,
        ticket: Option<Ticket>,
    ) -> Result<Turn, TransportError> {
        let take = |repo: &Self| match target {
            Target::Branch => repo.lock(),
            Target::MergeRequest => repo.lock_requests(),
        };
        let Some(ticket) = ticket else {
            return Ok(Turn::Held(take(self)?, None));
        };
        let taken = match take(self) {
            Ok(lock) if ticket.withdraw() => return Ok(Turn::Held(lock, None)),
            Err(waited) if ticket.withdraw() => return Err(waited.into()),
            Ok(lock) => Ok(lock),
            // Claimed while it waited: wait once more.
            Err(_) => take(self),
        };
        // The lock is let go of while the holder is waited for.
        let again = taken.err();
        let pending = match ticket.settle(self.wait().end(Instant::now())) {
            Settled::Pushed { sha, tip, previous } => {
                return Ok(Turn::Pushed { sha, tip, previous });
            }
            Settled::Pending { sha, previous } => Some((sha, previous)),
            Settled::Mine => None,
        };
        // Only `pushed` is final without the lock.
        if let Some(again) = again {
            return Err(again.into());
        }
        Ok(Turn::Held(take(self)?, pending))
    }

    /// Holding the lock: the outcome of this write when the holder that
    /// claimed it recorded its commit (`pending`) and died before recording
    /// the push, and the commit landed; `None` when this process writes it.
    fn landed(
        &mut self,
        pending: Option<(ObjectId, String)>,
        req: &WriteRequest,
        attempt: u32,
    ) -> Result<Option<WriteOutcome>, TransportError> {
        let Some((sha, previous)) = pending else {
            return Ok(None);
        };
        // A merge request's writer pushes its branch itself, and reuses
        // the holder's if it landed.
        if req.target == Target::MergeRequest {
            return Ok(None);
        }
        self.fetch_locked(None)?;
        self.fresh = false;
        Ok(match self.tip_of(&self.branch) {
            Some(tip) if tip == sha || self.descends(tip, sha) => {
                Some(self.pushed_by_another(req, sha, tip, previous, attempt))
            }
            _ => None,
        })
    }

    /// The outcome of `req` when another process pushed its commit `sha`,
    /// leaving the branch it went to at `tip`.
    fn pushed_by_another(
        &mut self,
        req: &WriteRequest,
        sha: ObjectId,
        tip: ObjectId,
        previous: String,
        attempt: u32,
    ) -> WriteOutcome {
        tracing::debug!(%sha, %tip, "another writer through the cache pushed this commit");
        let branch = match req.target {
            Target::Branch => {
                self.fresh = false;
                self.branch.clone()
            }
            Target::MergeRequest => req.mr_branch(),
        };
        self.record_push(&branch, tip);
        WriteOutcome::Committed {
            sha: sha.to_string(),
            branch,
            previous,
            retries: attempt - 1,
        }
    }

    /// Under the cache lock, this process's commit `own` made: claims the
    /// writes other processes offered meanwhile and makes each one's commit
    /// on top of the last. The tip to push, and the claims to record its
    /// outcome in. An offer whose edit cannot be made here is declined (its
    /// writer makes it, and reports why not).
    fn gather(&self, own: ObjectId) -> (ObjectId, Vec<Claim>) {
        let mut tip = own;
        let mut claims = Vec::new();
        for (mut claim, req, settings) in
            group::claim(&self.git_dir, &self.branch, Target::Branch, MAX_GROUP, None)
        {
            let made = match self.edit_at(tip, &req) {
                Ok(Some(FileEdits { old, files })) => self
                    .commit_edit(tip, &req, &settings, &files)
                    .ok()
                    .map(|sha| (sha, old)),
                Ok(None) | Err(_) => None,
            };
            match made {
                Some((sha, old)) if claim.pending(sha, &old) => {
                    tip = sha;
                    claims.push(claim);
                }
                _ => claim.declined(),
            }
        }
        if !claims.is_empty() {
            tracing::debug!(count = claims.len(), %tip, "pushing the writes other processes offered");
        }
        (tip, claims)
    }

    /// Under the cache lock, this process's merge-request commit made on
    /// `base` (for branch `own`): claims the merge-request writes other
    /// processes offered meanwhile (as many as fit in one push with its
    /// own, [`MAX_BRANCHES_PER_PUSH`]) and makes each one's commit on
    /// `base`, as its writer would. Each claim with its branch and commit; an offer
    /// whose edit cannot be made here, or whose branch is already in this
    /// push, is declined (its writer makes it).
    fn gather_requests(
        &self,
        base: ObjectId,
        own: &str,
        token: &PushToken,
    ) -> Vec<(Claim, String, ObjectId)> {
        let mut claims: Vec<(Claim, String, ObjectId)> = Vec::new();
        let offered = group::claim(
            &self.git_dir,
            &self.branch,
            Target::MergeRequest,
            MAX_BRANCHES_PER_PUSH - 1,
            Some(token),
        );
        for (mut claim, req, settings) in offered {
            let branch = req.mr_branch();
            let taken = branch == own || claims.iter().any(|(_, b, _)| *b == branch);
            let made = match self.edit_at(base, &req) {
                Ok(Some(FileEdits { old, files })) if !taken => self
                    .commit_edit(base, &req, &settings, &files)
                    .ok()
                    .map(|sha| (sha, old)),
                Ok(_) | Err(_) => None,
            };
            match made {
                Some((sha, old)) if claim.pending(sha, &old) => claims.push((claim, branch, sha)),
                _ => claim.declined(),
            }
        }
        if !claims.is_empty() {
            tracing::debug!(
                count = claims.len(),
                "pushing the merge-request branches other processes offered"
            );
        }
        claims
    }

    /// Brings this process's tips up to date for attempt `attempt` of a
    /// write to `target` (`mr`: the merge-request branch), holding the
    /// lock that write takes turns under: it fetches under the cache lock.
    fn catch_up(&mut self, target: Target, attempt: u32, mr: &str) -> Result<(), TransportError> {
        let fresh = std::mem::take(&mut self.fresh);
        let fetch = match target {
            Target::Branch => !(attempt == 1 && fresh),
            // A new request starts from this process's tip (its own push
            // included) or a newer one another writer pushed; a rejected
            // one fetches.
            Target::MergeRequest => attempt > 1,
        };
        if fetch {
            let _cache = match target {
                Target::Branch => None,
                Target::MergeRequest => Some(self.lock()?),
            };
            self.fetch_locked(None)?;
            self.fresh = false;
        } else {
            self.adopt_pushed();
        }
        self.tips.remove(mr);
        Ok(())
    }

    /// Every target's edit on top of `base`, file by file (targets sharing
    /// a file are edited one after the other in it); `None` when every
    /// target already holds the value.
    fn edit_at(&self, base: ObjectId, req: &WriteRequest) -> Result<Option<FileEdits>, WriteError> {
        let mut old: Option<String> = None;
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for location in std::iter::once(&req.location).chain(&req.further) {
            let fail = |source: ReadError| WriteError::Edit {
                app: req.app.clone(),
                stage: req.stage.clone(),
                file: location.file.clone(),
                value: req.version.clone(),
                source: Box::new(source),
            };
            let edited = files.iter().position(|(file, _)| *file == location.file);
            let bytes = match edited {
                Some(i) => files[i].1.clone(),
                None => self
                    .blob_at(base, &location.file)
                    .map_err(fail)?
                    .ok_or_else(|| {
                        fail(self.missing(base, location, &format!("{} ({base})", self.branch)))
                    })?,
            };
            let Edited::Changed { old: was, bytes } = yaml::set_value(
                &location.file,
                &location.field,
                &bytes,
                &req.version,
                req.provenance.digest.as_deref(),
            )
            .map_err(|e| fail(ReadError::Field(e)))?
            else {
                continue;
            };
            old.get_or_insert(was);
            match edited {
                Some(i) => files[i].1 = bytes,
                None => files.push((location.file.clone(), bytes)),
            }
        }
        Ok(old.map(|old| FileEdits { old, files }))
    }

    /// The existing MR branch is reused when its tip already holds exactly
    /// the value this write sets (version and digest alike).
    fn reuse_branch(
        &self,
        tip: ObjectId,
        req: &WriteRequest,
        branch: &str,
    ) -> Result<WriteOutcome, WriteError> {
        match self.edit_at(tip, req)? {
            None => Ok(WriteOutcome::ReusedBranch {
                sha: tip.to_string(),
                branch: branch.to_owned(),
            }),
            Some(FileEdits { old, .. }) => Err(WriteError::BranchDiverged {
                app: req.app.clone(),
                stage: req.stage.clone(),
                value: req.version.clone(),
                branch: branch.to_owned(),
                found: old,
            }),
        }
    }

    /// Writes blobs, trees and commit for the edited files on top of `base`.
    fn commit_edit(
        &self,
        base: ObjectId,
        req: &WriteRequest,
        settings: &CommitSettings,
        files: &[(String, Vec<u8>)],
    ) -> Result<ObjectId, WriteError> {
        let objects = |source| WriteError::Objects {
            app: req.app.clone(),
            stage: req.stage.clone(),
            value: req.version.clone(),
            source,
        };
        let repo = &self.repo;
        let base_commit = repo.find_commit(base).map_err(objects)?;
        let base_tree = base_commit.tree().map_err(objects)?;
        let mut editor = repo.edit_tree(base_tree.id).map_err(objects)?;
        for (file, bytes) in files {
            let kind = base_tree
                .lookup_entry_by_path(file)
                .map_err(objects)?
                .map_or(gix::object::tree::EntryKind::Blob, |e| e.mode().kind());
            let blob = repo.write_blob(bytes).map_err(objects)?.detach();
            editor.upsert(file.as_str(), kind, blob).map_err(objects)?;
        }
        let tree = editor.write().map_err(objects)?.detach();

        let seconds = settings.time.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
        let signature = gix::actor::Signature {
            name: settings.identity.name.as_str().into(),
            email: settings.identity.email.as_str().into(),
            time: gix::date::Time { seconds, offset: 0 },
        };
        let message = render_message(
            &settings.template,
            &req.app,
            &req.stage,
            &req.version,
            &req.provenance,
        );
        let commit = gix::objs::Commit {
            tree,
            parents: [base].into_iter().collect(),
            author: signature.clone(),
            committer: signature,
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        Ok(repo.write_object(&commit).map_err(objects)?.detach())
    }

    /// Takes what we pushed as this process's view of `branch`, so reads
    /// right after a write see it without another fetch. The cache's shared
    /// refs are left to fetches (under the cache lock): a ref written here
    /// could race another process's fetch.
    fn record_push(&mut self, branch: &str, sha: ObjectId) {
        self.tips.insert(branch.to_owned(), sha);
    }

    /// Leaves `sha` in the cache as the tracked branch's last pushed tip
    /// (under the cache lock). A hint only: a writer that cannot leave it
    /// costs the next writer a rejected push, nothing else.
    fn leave_pushed(&self, sha: ObjectId) {
        self.leave_hint(PUSHED, &sha.to_string());
    }

    /// Takes the tracked branch's last pushed tip (see [`Self::leave_pushed`])
    /// as this process's when it descends from this process's tip: another
    /// writer through this cache pushed since this process fetched. Called
    /// under the cache lock.
    fn adopt_pushed(&mut self) {
        let Some(ours) = self.tip_of(&self.branch) else {
            return;
        };
        let Some(pushed) = self
            .hint(PUSHED)
            .and_then(|sha| ObjectId::from_hex(sha.as_bytes()).ok())
        else {
            return;
        };
        if pushed == ours || !self.descends(pushed, ours) {
            return;
        }
        tracing::debug!(%pushed, %ours, "building on the tip another writer pushed");
        self.tips.insert(self.branch.clone(), pushed);
    }

    /// Whether `ancestor` is on `commit`'s first-parent line within
    /// [`PUSHED_REACH`] commits (objects in the cache only).
    fn descends(&self, commit: ObjectId, ancestor: ObjectId) -> bool {
        let mut current = commit;
        for _ in 0..PUSHED_REACH {
            let Ok(links) = self.links(current) else {
                return false;
            };
            match links.parent {
                Some(parent) if parent == ancestor => return true,
                Some(parent) => current = parent,
                None => return false,
            }
        }
        false
    }
}

/// A transport failure while writing `req` to `branch`.
fn transport_error(req: &WriteRequest, branch: &str, source: TransportError) -> WriteError {
    WriteError::Transport {
        app: req.app.clone(),
        stage: req.stage.clone(),
        value: req.version.clone(),
        branch: branch.to_owned(),
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use super::*;
    use crate::capabilities::git::{FieldSpec, LockError, OpenOptions, RepoSource};

    const REGIONS: &str =
        "# both regions\neu:\n  image:\n    tag: \"v1\" # eu\nus:\n  image:\n    tag: 'v1'\n";
    const ASIA: &str = "image:\n  tag: v1\n";

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Seed")
            .env("GIT_AUTHOR_EMAIL", "seed@example.com")
            .env("GIT_COMMITTER_NAME", "Seed")
            .env("GIT_COMMITTER_EMAIL", "seed@example.com")
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// A bare origin whose `main` holds `prod/regions.yaml` (two targets in
    /// one file) and `prod/asia.yaml`, and the env repo opened on it.
    fn origin(root: &Path) -> (std::path::PathBuf, EnvRepo) {
        let bare = root.join("env.git");
        git(root, &["init", "-q", "--bare", "-b", "main", "env.git"]);
        let work = root.join("seed");
        std::fs::create_dir_all(work.join("prod")).expect("mkdir");
        std::fs::write(work.join("prod/regions.yaml"), REGIONS).expect("write");
        std::fs::write(work.join("prod/asia.yaml"), ASIA).expect("write");
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "seed"]);
        git(
            &work,
            &["push", "-q", bare.to_str().expect("utf-8"), "main"],
        );
        let repo = EnvRepo::open(
            &RepoSource {
                url: format!("file://{}", bare.display()),
                token: None,
            },
            &OpenOptions::new(root.join("cache"), "main"),
        )
        .expect("opens");
        (bare, repo)
    }

    fn field(file: &str, path: &str) -> StageField {
        StageField {
            file: file.into(),
            field: path.parse::<FieldSpec>().expect("valid"),
        }
    }

    fn request(version: &str) -> WriteRequest {
        WriteRequest {
            app: "payments".into(),
            stage: "prod".into(),
            location: field("prod/regions.yaml", "helm:eu.image.tag"),
            further: vec![
                field("prod/regions.yaml", "helm:us.image.tag"),
                field("prod/asia.yaml", "helm:image.tag"),
            ],
            version: version.into(),
            target: Target::Branch,
            provenance: Provenance::default(),
        }
    }

    fn settings() -> CommitSettings {
        CommitSettings {
            time: Some(1_780_000_000),
            ..CommitSettings::default()
        }
    }

    #[test]
    fn a_fetch_waited_for_takes_the_fetch_that_ran_meanwhile() {
        let root = tempfile::tempdir().expect("tempdir");
        let (bare, mut first) = origin(root.path());
        let mut second = EnvRepo::open(
            &RepoSource {
                url: format!("file://{}", bare.display()),
                token: None,
            },
            &OpenOptions::new(root.path().join("cache"), "main"),
        )
        .expect("opens the same cache");
        let held = first.lock().expect("locks");
        let waiter = std::thread::spawn(move || {
            let fetched = second.fetch(None);
            (second, fetched)
        });
        // The second process is waiting for the lock; meanwhile the remote
        // moves and the first process fetches it.
        std::thread::sleep(Duration::from_millis(500));
        let seed = root.path().join("seed");
        git(&seed, &["commit", "-q", "--allow-empty", "-m", "later"]);
        git(
            &seed,
            &["push", "-q", bare.to_str().expect("utf-8"), "main"],
        );
        first.fetch_locked(None).expect("fetches");
        // With the remote gone, the second can only take the first's fetch.
        std::fs::rename(&bare, root.path().join("gone")).expect("moves");
        drop(held);
        let (second, fetched) = waiter.join().expect("joins");
        fetched.expect("takes the fetch that ran while it waited");
        let later = git(&seed, &["rev-parse", "HEAD"]);
        assert_eq!(second.tip_of("main").map(|id| id.to_string()), Some(later));
    }

    #[test]
    fn every_target_changes_in_one_commit_even_two_in_one_file() {
        let root = tempfile::tempdir().expect("tempdir");
        let (bare, mut repo) = origin(root.path());
        let outcome = repo
            .write_version(&request("v2"), &settings())
            .expect("writes");
        let WriteOutcome::Committed { previous, .. } = outcome else {
            panic!("expected a commit, got {outcome:?}");
        };
        assert_eq!(previous, "v1");
        assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "2");
        assert_eq!(
            git(&bare, &["show", "--name-only", "--format=", "main"]),
            "prod/asia.yaml\nprod/regions.yaml"
        );
        assert_eq!(
            git(&bare, &["show", "main:prod/regions.yaml"]),
            REGIONS
                .replace("tag: \"v1\"", "tag: \"v2\"")
                .replace("tag: 'v1'", "tag: 'v2'")
                .trim_end()
        );
        assert_eq!(
            git(&bare, &["show", "main:prod/asia.yaml"]),
            "image:\n  tag: v2"
        );

        // Every target at the version: nothing to write.
        let again = repo
            .write_version(&request("v2"), &settings())
            .expect("runs");
        assert!(matches!(again, WriteOutcome::Unchanged { .. }), "{again:?}");
    }

    #[test]
    fn a_stage_is_unchanged_only_when_every_target_holds_the_value() {
        let root = tempfile::tempdir().expect("tempdir");
        let (bare, mut repo) = origin(root.path());
        // Only the first target is behind v1 -> its further targets at v2.
        let mut first_only = request("v2");
        first_only.further.clear();
        first_only.location = field("prod/asia.yaml", "helm:image.tag");
        repo.write_version(&first_only, &settings())
            .expect("writes");
        let mut rest = request("v2");
        rest.location = field("prod/asia.yaml", "helm:image.tag");
        rest.further = vec![
            field("prod/regions.yaml", "helm:eu.image.tag"),
            field("prod/regions.yaml", "helm:us.image.tag"),
        ];
        let outcome = repo.write_version(&rest, &settings()).expect("writes");
        assert!(
            matches!(&outcome, WriteOutcome::Committed { previous, .. } if previous == "v1"),
            "{outcome:?}"
        );
        assert_eq!(
            git(&bare, &["show", "--name-only", "--format=", "main"]),
            "prod/regions.yaml"
        );
    }

    fn open_again(root: &Path, bare: &Path) -> EnvRepo {
        EnvRepo::open(
            &RepoSource {
                url: format!("file://{}", bare.display()),
                token: None,
            },
            &OpenOptions::new(root.join("cache"), "main"),
        )
        .expect("opens the same cache")
    }

    fn one_target(app: &str, location: StageField, version: &str) -> WriteRequest {
        WriteRequest {
            app: app.into(),
            location,
            further: Vec::new(),
            provenance: Provenance {
                run_id: Some(format!("run-{app}")),
                ..Provenance::default()
            },
            ..request(version)
        }
    }

    /// Every lock merge-request pushes take turns under, held.
    fn every_request_lock(repo: &EnvRepo) -> Vec<CacheLock> {
        (0..super::super::lock::REQUEST_SLOTS)
            .map(|_| repo.lock_requests().expect("locks"))
            .collect()
    }

    /// Logs each push `bare` receives to `log`, one line per push (pushes
    /// may run side by side): the refs it updated.
    fn log_pushes(bare: &Path, log: &Path) {
        let hook = bare.join("hooks/post-receive");
        std::fs::write(
            &hook,
            format!(
                "#!/bin/sh\nrefs=$(awk '{{print $3}}' | tr '\\n' ' ')\necho \"$refs\" >> '{}'\n",
                log.display()
            ),
        )
        .expect("hook");
        std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
    }

    /// Starts every write, each in its own thread, while `held` (locks of
    /// `first`'s cache) keeps them waiting; lets go once every one has
    /// offered its write. Their outcomes, in order.
    fn write_once_offered<H>(
        first: &EnvRepo,
        held: H,
        writers: Vec<(EnvRepo, WriteRequest)>,
    ) -> Vec<WriteOutcome> {
        let count = writers.len();
        let waiting: Vec<_> = writers
            .into_iter()
            .map(|(mut repo, req)| {
                std::thread::spawn(move || repo.write_version(&req, &settings()))
            })
            .collect();
        let waited = Instant::now();
        while offers(first) < count {
            assert!(waited.elapsed() < Duration::from_secs(30), "no offers");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(held);
        waiting
            .into_iter()
            .map(|w| w.join().expect("joins").expect("writes"))
            .collect()
    }

    /// A merge request setting asia's tag to `version`.
    fn asia_request(version: &str) -> WriteRequest {
        WriteRequest {
            target: Target::MergeRequest,
            ..one_target("asia", field("prod/asia.yaml", "helm:image.tag"), version)
        }
    }

    fn offers(repo: &EnvRepo) -> usize {
        std::fs::read_dir(repo.git_dir.join("baton-queue"))
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "want"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// The commit of `req` on the tip of `holder`'s main, as a holder makes
    /// it for a writer whose offer it claimed, and the value it replaces.
    fn commit_on_tip(
        holder: &EnvRepo,
        req: &WriteRequest,
        settings: &CommitSettings,
    ) -> (ObjectId, String) {
        let base = holder.tip_of("main").expect("tip");
        let edits = holder.edit_at(base, req).expect("edits").expect("changes");
        let sha = holder
            .commit_edit(base, req, settings, &edits.files)
            .expect("commits");
        (sha, edits.old)
    }

    /// As the holder of the cache lock: claims the one waiting offer, makes
    /// its commit on the tracked branch's tip and records it pending; pushes
    /// it when `push`.
    fn carry_the_offer(holder: &EnvRepo, push: bool) -> (Claim, ObjectId) {
        let (mut claim, req, settings) =
            group::claim(&holder.git_dir, "main", Target::Branch, MAX_GROUP, None).remove(0);
        let (sha, old) = commit_on_tip(holder, &req, &settings);
        assert!(claim.pending(sha, &old));
        if push {
            let pushed = holder
                .remote
                .push(&holder.git_dir, &sha.to_string(), "main")
                .expect("pushes");
            assert_eq!(pushed, PushResult::Pushed);
        }
        (claim, sha)
    }

    #[test]
    fn writers_waiting_for_the_cache_go_out_in_one_push_one_commit_each() {
        let root = tempfile::tempdir().expect("tempdir");
        let (bare, first) = origin(root.path());
        let pushes = root.path().join("pushes");
        log_pushes(&bare, &pushes);
        let writers = [
            one_target("asia", field("prod/asia.yaml", "helm:image.tag"), "v2"),
            one_target("eu", field("prod/regions.yaml", "helm:eu.image.tag"), "v3"),
        ]
        .map(|req| (open_again(root.path(), &bare), req));
        // Both wait for the cache while another process holds it.
        let held = first.lock().expect("locks");
        let shas: Vec<String> = write_once_offered(&first, held, writers.into())
            .into_iter()
            .map(|outcome| match outcome {
                WriteOutcome::Committed {
                    sha,
                    previous,
                    retries,
                    ..
                } => {
                    assert_eq!(previous, "v1");
                    assert_eq!(retries, 0);
                    sha
                }
                other => panic!("expected a commit, got {other:?}"),
            })
            .collect();
        // Whichever took the lock first pushed both commits, once.
        assert_eq!(
            std::fs::read_to_string(&pushes).expect("hook ran"),
            "refs/heads/main \n"
        );
        let mut newest = vec![
            git(&bare, &["rev-parse", "main"]),
            git(&bare, &["rev-parse", "main~1"]),
        ];
        newest.sort();
        let mut ours = shas.clone();
        ours.sort();
        assert_eq!(newest, ours);
        assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "3");
        assert_eq!(git(&bare, &["rev-list", "--merges", "main"]), "");
        for (sha, run) in shas.iter().zip(["run-asia", "run-eu"]) {
            let message = git(&bare, &["show", "-s", "--format=%B", sha]);
            assert!(message.contains(&format!("Baton-Run: {run}")), "{message}");
        }
        assert_eq!(
            git(&bare, &["show", "main:prod/asia.yaml"]),
            "image:\n  tag: v2"
        );
        assert!(git(&bare, &["show", "main:prod/regions.yaml"]).contains("tag: \"v3\" # eu"));
        assert_eq!(offers(&first), 0);
        assert_eq!(
            std::fs::read_dir(first.git_dir.join("baton-queue"))
                .expect("queue")
                .count(),
            0,
            "every record is cleared"
        );
    }

    #[test]
    fn merge_requests_waiting_for_the_cache_go_out_in_one_push_each_to_its_branch() {
        let root = tempfile::tempdir().expect("tempdir");
        let (bare, first) = origin(root.path());
        let base = git(&bare, &["rev-parse", "main"]);
        // Someone opened asia's v4 request already.
        let seed = root.path().join("seed");
        git(&seed, &["checkout", "-q", "-b", "asia-v4"]);
        std::fs::write(seed.join("prod/asia.yaml"), "image:\n  tag: v4\n").expect("write");
        git(&seed, &["commit", "-q", "-am", "asia v4"]);
        let existing = git(&seed, &["rev-parse", "HEAD"]);
        let to = bare.to_str().expect("utf-8");
        git(
            &seed,
            &["push", "-q", to, "HEAD:refs/heads/baton/asia/prod/v4"],
        );
        let pushes = root.path().join("pushes");
        log_pushes(&bare, &pushes);
        let writers = [
            one_target("asia", field("prod/asia.yaml", "helm:image.tag"), "v2"),
            one_target("eu", field("prod/regions.yaml", "helm:eu.image.tag"), "v3"),
            one_target("asia", field("prod/asia.yaml", "helm:image.tag"), "v4"),
        ]
        .map(|mut req| {
            req.target = Target::MergeRequest;
            (open_again(root.path(), &bare), req)
        });
        // All three wait for their turn while another process has every one.
        let held = every_request_lock(&first);
        let outcomes = write_once_offered(&first, held, writers.into());
        let mut created = Vec::new();
        for (outcome, (branch, run)) in outcomes.iter().zip([
            ("baton/asia/prod/v2", "run-asia"),
            ("baton/eu/prod/v3", "run-eu"),
        ]) {
            let WriteOutcome::Committed {
                sha,
                branch: pushed,
                previous,
                retries,
            } = outcome
            else {
                panic!("expected a commit, got {outcome:?}");
            };
            assert_eq!(
                (pushed.as_str(), previous.as_str(), *retries),
                (branch, "v1", 0)
            );
            assert_eq!(&git(&bare, &["rev-parse", branch]), sha);
            assert_eq!(git(&bare, &["rev-parse", &format!("{branch}~1")]), base);
            let message = git(&bare, &["show", "-s", "--format=%B", sha]);
            assert!(message.contains(&format!("Baton-Run: {run}")), "{message}");
            created.push(format!("refs/heads/{branch}"));
        }
        // The request already open is reused, not moved.
        assert_eq!(
            outcomes[2],
            WriteOutcome::ReusedBranch {
                sha: existing.clone(),
                branch: "baton/asia/prod/v4".into()
            }
        );
        assert_eq!(git(&bare, &["rev-parse", "baton/asia/prod/v4"]), existing);
        assert_eq!(git(&bare, &["rev-parse", "main"]), base, "main untouched");
        // Whichever took a lock first carried another's branch: fewer
        // pushes than requests, and no branch pushed twice.
        let log = std::fs::read_to_string(&pushes).expect("hook ran");
        assert!(log.lines().count() < 3, "{log}");
        let mut refs: Vec<&str> = log.split_whitespace().collect();
        refs.sort_unstable();
        created.sort_unstable();
        assert_eq!(refs, created, "{log}");
        assert_eq!(offers(&first), 0);
        let left: Vec<_> = std::fs::read_dir(first.git_dir.join("baton-queue"))
            .expect("queue")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "every record is cleared: {left:?}");
    }

    #[test]
    fn a_writer_whose_holder_died_mid_push_asks_the_branch() {
        for landed in [true, false] {
            let root = tempfile::tempdir().expect("tempdir");
            let (bare, holder) = origin(root.path());
            let mut writer = open_again(root.path(), &bare);
            let req = one_target("asia", field("prod/asia.yaml", "helm:image.tag"), "v2");
            let ticket = Ticket::offer(&writer.git_dir, "main", &req, &settings()).expect("offers");
            let sha = {
                let _lock = holder.lock().expect("locks");
                // The holder dies before recording the push.
                let (_claim, sha) = carry_the_offer(&holder, landed);
                sha
            };
            let _lock = writer.lock().expect("locks");
            let settled = ticket.settle(Instant::now() + Duration::from_secs(5));
            let Settled::Pending {
                sha: made,
                previous,
            } = settled
            else {
                panic!("expected pending, got {settled:?}");
            };
            let outcome = writer
                .landed(Some((made, previous)), &req, 1)
                .expect("asks the branch");
            if landed {
                assert_eq!(
                    outcome,
                    Some(WriteOutcome::Committed {
                        sha: sha.to_string(),
                        branch: "main".into(),
                        previous: "v1".into(),
                        retries: 0,
                    })
                );
                assert_eq!(writer.tip_of("main"), Some(sha));
            } else {
                assert_eq!(outcome, None, "not on the branch: the writer writes it");
                assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "1");
            }
        }
    }

    #[test]
    fn a_merge_request_is_pushed_while_another_process_fetches_through_the_cache() {
        let root = tempfile::tempdir().expect("tempdir");
        let (bare, first) = origin(root.path());
        let mut writer = open_again(root.path(), &bare);
        writer.lock_wait = Duration::from_millis(500);
        let req = asia_request("v2");
        let _fetching = first.lock().expect("locks");
        let outcome = writer.write_version(&req, &settings()).expect("writes");
        let WriteOutcome::Committed { sha, branch, .. } = outcome else {
            panic!("expected a commit, got {outcome:?}");
        };
        assert_eq!(branch, "baton/asia/prod/v2");
        assert_eq!(git(&bare, &["rev-parse", &branch]), sha);
    }

    #[test]
    fn a_push_of_merge_request_branches_creates_at_most_three() {
        let root = tempfile::tempdir().expect("tempdir");
        let (bare, first) = origin(root.path());
        let pushes = root.path().join("pushes");
        log_pushes(&bare, &pushes);
        let writers = ["v2", "v3", "v4", "v5", "v6"]
            .map(|version| (open_again(root.path(), &bare), asia_request(version)));
        // All five wait for their turn while another process has every one.
        let held = every_request_lock(&first);
        for outcome in write_once_offered(&first, held, writers.into()) {
            assert!(
                matches!(outcome, WriteOutcome::Committed { .. }),
                "{outcome:?}"
            );
        }
        let log = std::fs::read_to_string(&pushes).expect("hook ran");
        let per_push: Vec<usize> = log
            .lines()
            .map(|refs| refs.split_whitespace().count())
            .collect();
        assert_eq!(per_push.iter().sum::<usize>(), 5, "{log}");
        assert!(per_push.iter().all(|&n| (1..=3).contains(&n)), "{log}");
        assert!(
            per_push.len() < 5,
            "some push carried another's branch: {log}"
        );
    }

    #[test]
    fn a_claimed_request_waits_for_its_holders_push_not_for_the_lock() {
        let root = tempfile::tempdir().expect("tempdir");
        let (bare, holder) = origin(root.path());
        let mut writer = open_again(root.path(), &bare);
        let req = asia_request("v2");
        let held = every_request_lock(&holder);
        let waiting = std::thread::spawn(move || writer.write_version(&req, &settings()));
        let waited = Instant::now();
        while offers(&holder) < 1 {
            assert!(waited.elapsed() < Duration::from_secs(30), "no offer");
            std::thread::sleep(Duration::from_millis(10));
        }
        // The holder claims it; the writer gets a lock of its own before
        // the holder has even made the commit.
        let token = PushToken::new(&holder.git_dir).expect("token");
        let (mut claim, req, settings) = group::claim(
            &holder.git_dir,
            "main",
            Target::MergeRequest,
            MAX_GROUP,
            Some(&token),
        )
        .remove(0);
        drop(held);
        std::thread::sleep(Duration::from_millis(300));
        let (sha, old) = commit_on_tip(&holder, &req, &settings);
        assert!(claim.pending(sha, &old));
        std::thread::sleep(Duration::from_millis(300));
        assert!(!waiting.is_finished(), "the writer waits for the push");
        let update = RefUpdate {
            sha: &sha.to_string(),
            branch: "baton/asia/prod/v2",
            create_only: true,
        };
        let answers = holder.remote.push_refs(&holder.git_dir, &[update]);
        assert!(matches!(answers.as_deref(), Ok([Ok(PushResult::Pushed)])));
        claim.pushed(sha);
        drop(token);
        assert_eq!(
            waiting.join().expect("joins").expect("writes"),
            WriteOutcome::Committed {
                sha: sha.to_string(),
                branch: "baton/asia/prod/v2".into(),
                previous: "v1".into(),
                retries: 0,
            }
        );
    }

    #[test]
    fn a_merge_request_whose_holder_died_mid_push_is_pushed_or_reused_by_its_writer() {
        for landed in [true, false] {
            let root = tempfile::tempdir().expect("tempdir");
            let (bare, holder) = origin(root.path());
            let mut writer = open_again(root.path(), &bare);
            let req = asia_request("v2");
            let ticket = Ticket::offer(&writer.git_dir, "main", &req, &settings()).expect("offers");
            let branch = "baton/asia/prod/v2";
            let sha = {
                let _lock = holder.lock_requests().expect("locks");
                let (mut claim, req, settings) = group::claim(
                    &holder.git_dir,
                    "main",
                    Target::MergeRequest,
                    MAX_GROUP,
                    None,
                )
                .remove(0);
                let (sha, old) = commit_on_tip(&holder, &req, &settings);
                assert!(claim.pending(sha, &old));
                if landed {
                    let update = RefUpdate {
                        sha: &sha.to_string(),
                        branch,
                        create_only: true,
                    };
                    let answers = holder.remote.push_refs(&holder.git_dir, &[update]);
                    assert!(matches!(answers.as_deref(), Ok([Ok(PushResult::Pushed)])));
                }
                // The holder dies before recording the push.
                sha
            };
            {
                let _lock = writer.lock_requests().expect("locks");
                let settled = ticket.settle(Instant::now() + Duration::from_secs(5));
                let Settled::Pending {
                    sha: made,
                    previous,
                } = settled
                else {
                    panic!("expected pending, got {settled:?}");
                };
                let landed = writer.landed(Some((made, previous)), &req, 1);
                assert_eq!(landed.expect("settles"), None);
            }
            let outcome = writer.write_version(&req, &settings()).expect("writes");
            match outcome {
                WriteOutcome::ReusedBranch {
                    sha: reused,
                    branch: b,
                } if landed => {
                    assert_eq!((reused, b.as_str()), (sha.to_string(), branch));
                }
                WriteOutcome::Committed {
                    sha: own,
                    branch: b,
                    ..
                } if !landed => {
                    assert_eq!(b, branch);
                    assert_eq!(git(&bare, &["rev-parse", branch]), own);
                }
                other => panic!("landed: {landed}, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_wait_that_runs_out_takes_the_offer_back_or_reports_the_push_that_carried_it() {
        for claimed in [false, true] {
            let root = tempfile::tempdir().expect("tempdir");
            let (bare, holder) = origin(root.path());
            let mut writer = open_again(root.path(), &bare);
            writer.lock_wait = Duration::from_millis(300);
            let req = one_target("asia", field("prod/asia.yaml", "helm:image.tag"), "v2");
            // Held for the writer's whole wait, and its second one.
            let held = holder.lock().expect("locks");
            let waiting = std::thread::spawn(move || writer.write_version(&req, &settings()));
            let waited = Instant::now();
            while offers(&holder) < 1 {
                assert!(waited.elapsed() < Duration::from_secs(30), "no offer");
                std::thread::sleep(Duration::from_millis(10));
            }
            let pushed = claimed.then(|| {
                let (claim, sha) = carry_the_offer(&holder, true);
                claim.pushed(sha);
                sha
            });
            let outcome = waiting.join().expect("joins");
            drop(held);
            match pushed {
                Some(sha) => {
                    let outcome = outcome.expect("the holder's push carried it");
                    let expected = sha.to_string();
                    assert!(
                        matches!(&outcome, WriteOutcome::Committed { sha, .. } if *sha == expected),
                        "{outcome:?}"
                    );
                }
                None => {
                    let err = outcome.expect_err("the cache stayed busy");
                    assert!(
                        matches!(&err, WriteError::Transport { source, .. }
                            if matches!(**source, TransportError::Lock(LockError::Timeout { .. }))),
                        "{err:?}"
                    );
                    assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "1");
                }
            }
            assert_eq!(
                std::fs::read_dir(holder.git_dir.join("baton-queue"))
                    .expect("queue")
                    .count(),
                0,
                "no offer or record is left behind"
            );
        }
    }
}
