//! Writing a stage's new version: edit the file in memory, build blob, tree
//! and commit with gix in the bare cache, push fast-forward to the branch (or
//! a new merge-request branch). A rejected push is retried on the new tip
//! with jittered backoff ([`crate::retry`]), a bounded number of times and
//! never past the deadline; never forced.
//!
//! A round holds the cache lock from its fetch to its push to the tracked
//! branch, so processes writing through one cache take turns instead of
//! rejecting each other's pushes (a merge-request branch is pushed after
//! the lock is released: it is this change's own). The push writes no
//! local ref (this process's view of the branch moves in memory), so no git
//! lock file is involved.

use std::time::Duration;

use gix::ObjectId;

use super::error::{ReadError, TransportError, WriteError};
use super::repo::{EnvRepo, StageField};
use super::trailers::{DEFAULT_TEMPLATE, Identity, Provenance, render_message};
use super::transport::PushResult;
use super::yaml::{self, Edited};
use crate::retry::{self, Jitter, RetryPolicy};

/// Where a write goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A direct fast-forward commit to the tracked branch.
    Branch,
    /// A new branch `baton/<app>/<stage>/<version>` off the tracked branch,
    /// for a merge request.
    MergeRequest,
}

/// One stage update.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    /// The application, e.g. `payments`.
    pub app: String,
    /// The stage, e.g. `dev`.
    pub stage: String,
    /// Where the stage's version lives.
    pub location: StageField,
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

/// One round of a write: fetch, edit, commit, push.
enum Round {
    /// Final: written, unchanged, reused, or failed for good.
    Done(Result<WriteOutcome, WriteError>),
    /// The push was rejected (someone pushed first): git's line about it.
    Rejected(String),
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

/// The merge-request branch name for a change.
pub fn mr_branch_name(app: &str, stage: &str, version: &str) -> String {
    format!("baton/{app}/{stage}/{version}")
}

impl EnvRepo {
    /// Sets `req.location` to `req.version` and pushes the commit. Idempotent:
    /// an unchanged stage or an existing identical MR branch writes nothing.
    /// A rejected push is re-applied on the new tip within
    /// [`CommitSettings::retry_policy`] and the repo's deadline.
    pub fn write_version(
        &mut self,
        req: &WriteRequest,
        settings: &CommitSettings,
    ) -> Result<WriteOutcome, WriteError> {
        let push_branch = match req.target {
            Target::Branch => self.branch.clone(),
            Target::MergeRequest => mr_branch_name(&req.app, &req.stage, &req.version),
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
        let mr = mr_branch_name(&req.app, &req.stage, &req.version);
        let push_branch = match req.target {
            Target::Branch => self.branch.clone(),
            Target::MergeRequest => mr.clone(),
        };
        let transport = |source| transport_error(req, &push_branch, source);
        let mr_branch = match req.target {
            Target::Branch => None,
            Target::MergeRequest => Some(mr.as_str()),
        };
        // Held through a push to the tracked branch: writers sharing this
        // cache take turns instead of racing each other to the remote. A
        // merge-request branch is this change's own; nobody races for it.
        let mut lock = Some(
            self.lock()
                .map_err(|e| transport(TransportError::from(e)))?,
        );
        let fresh = std::mem::take(&mut self.fresh);
        if !(attempt == 1 && fresh && mr_branch.is_none()) {
            self.fetch_locked(mr_branch).map_err(transport)?;
            self.fresh = false;
        }
        let base = self.tip_of(&self.branch).ok_or_else(|| {
            transport(TransportError::BranchMissing {
                url: self.remote.url.clone(),
                branch: self.branch.clone(),
            })
        })?;
        let Edited::Changed { old, bytes } = self.edit_at(base, req)? else {
            return Ok(Round::Done(Ok(WriteOutcome::Unchanged {
                sha: base.to_string(),
                branch: self.branch.clone(),
            })));
        };
        if req.target == Target::MergeRequest
            && let Some(existing) = self.tip_of(&mr)
        {
            return Ok(Round::Done(self.reuse_branch(existing, req, &mr)));
        }
        let sha = self.commit_edit(base, req, settings, &bytes)?;
        if req.target == Target::MergeRequest {
            lock.take();
        }
        match self
            .remote
            .push(&self.git_dir, &sha.to_string(), &push_branch)
            .map_err(transport)?
        {
            PushResult::Pushed => {
                self.record_push(&push_branch, sha);
                Ok(Round::Done(Ok(WriteOutcome::Committed {
                    sha: sha.to_string(),
                    branch: push_branch,
                    previous: old,
                    retries: attempt - 1,
                })))
            }
            PushResult::Rejected(line) => Ok(Round::Rejected(line)),
        }
    }

    fn edit_at(&self, base: ObjectId, req: &WriteRequest) -> Result<Edited, WriteError> {
        let fail = |source: ReadError| WriteError::Edit {
            app: req.app.clone(),
            stage: req.stage.clone(),
            file: req.location.file.clone(),
            value: req.version.clone(),
            source: Box::new(source),
        };
        let bytes = self
            .blob_at(base, &req.location.file)
            .map_err(fail)?
            .ok_or_else(|| {
                fail(self.missing(base, &req.location, &format!("{} ({base})", self.branch)))
            })?;
        yaml::set_field(
            &req.location.file,
            &req.location.field,
            &bytes,
            &req.version,
        )
        .map_err(|e| fail(ReadError::Field(e)))
    }

    fn reuse_branch(
        &self,
        tip: ObjectId,
        req: &WriteRequest,
        branch: &str,
    ) -> Result<WriteOutcome, WriteError> {
        let found = self
            .version_at(tip, &req.location, branch)
            .map_err(|source| WriteError::Edit {
                app: req.app.clone(),
                stage: req.stage.clone(),
                file: req.location.file.clone(),
                value: req.version.clone(),
                source: Box::new(source),
            })?;
        if found == req.version {
            Ok(WriteOutcome::ReusedBranch {
                sha: tip.to_string(),
                branch: branch.to_owned(),
            })
        } else {
            Err(WriteError::BranchDiverged {
                app: req.app.clone(),
                stage: req.stage.clone(),
                value: req.version.clone(),
                branch: branch.to_owned(),
                found,
            })
        }
    }

    /// Writes blob, trees and commit for the edited file on top of `base`.
    fn commit_edit(
        &self,
        base: ObjectId,
        req: &WriteRequest,
        settings: &CommitSettings,
        bytes: &[u8],
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
        let kind = base_tree
            .lookup_entry_by_path(&req.location.file)
            .map_err(objects)?
            .map_or(gix::object::tree::EntryKind::Blob, |e| e.mode().kind());
        let blob = repo.write_blob(bytes).map_err(objects)?.detach();
        let mut editor = repo.edit_tree(base_tree.id).map_err(objects)?;
        editor
            .upsert(req.location.file.as_str(), kind, blob)
            .map_err(objects)?;
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
