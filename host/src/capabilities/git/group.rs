//! Group commit: processes writing through one cache hand their edits to
//! whichever of them holds the lock they wait for, which pushes them all,
//! one commit each, in one push: to the tracked branch one on top of the
//! other (under the cache lock), or each to its own new merge-request
//! branch (under one of the merge-request pushes' locks, at most
//! [`MAX_BRANCHES_PER_PUSH`] branches a push).
//!
//! Writers through one cache push one after another under the cache lock,
//! and a push (the remote's unpack and connectivity check included) costs
//! the same for one commit as for twenty: twenty CI jobs promoting at once
//! spent most of their wall time queued behind each other's pushes. So a
//! writer about to wait for the lock first leaves an *offer* in
//! `<cache>/baton-queue/`: its request and commit settings, in a file it
//! keeps an OS lock on while it lives. The holder, once its own commit is
//! made, claims every live offer of its kind for its branch and makes each
//! one's commit (each with its own message, trailers, author and time). A
//! write to the tracked branch goes on top of the last, and the last is
//! pushed; a merge request's goes on the base the holder's own request
//! starts from, and each is pushed to its own branch, all in one push.
//!
//! What each side can rely on, whoever dies when:
//! - An offer is claimed by renaming it (`.want` -> `.taken`) and taken
//!   back by removing it: both under one name, so exactly one of them
//!   happens. An offer whose writer died (its file lock is free) is
//!   removed, never pushed.
//! - The holder records `pending` with the commit in `<id>.out` before it
//!   pushes, and pushes only the commits whose record was written; after
//!   the push it records `pushed` (or `declined`: the push was rejected, or
//!   the edit could not be made; the writer then writes alone, as before).
//! - The writer reads its record once it has had its turn at the lock. A
//!   holder of the cache lock is done by then. Merge requests are pushed
//!   two at a time, so a holder of one of their locks makes a *push token*
//!   (`<id>.push`, kept locked until every record of its push is final)
//!   and writes `claimed` with the token's name before it claims an offer
//!   (and `pending` with it after): the writer lets go of its own lock and
//!   waits for the token, not for the holder's lock. A holder that cannot
//!   make a token claims nobody.
//! - `pending` (or `claimed`), once the holder is done, means it died or
//!   its push failed mid-way: the writer fetches and finds its commit on
//!   the branch or not (a merge request's writer pushes its branch itself,
//!   and reuses the one the holder made if it landed). No record, or
//!   `declined`: it writes alone.
//!
//! The files are the writers' own, in a directory only Baton processes of
//! this runner share; the holder still reads them as untrusted input (an
//! offer that does not parse, or names another branch, is left alone; one
//! whose version Baton would not write is declined).

use std::fs::{File, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use gix::ObjectId;
use serde::{Deserialize, Serialize};

use super::repo::StageField;
use super::trailers::{Identity, Provenance};
use super::write::{CommitSettings, Target, WriteRequest};

/// The directory of offers in the cache directory.
const QUEUE: &str = "baton-queue";

/// The file name ending of a holder's push token.
const TOKEN_EXT: &str = ".push";

/// The most offers one push to the tracked branch carries.
pub(super) const MAX_GROUP: usize = 64;

/// The most branches one push of merge-request branches creates, the
/// holder's own included. GitLab treats a push of more refs differently:
/// past 3 it fires no webhooks or integrations for it
/// (`push_event_hooks_limit`), past 4 it creates no branch pipelines for
/// the rest (`git_push_pipeline_limit`), and a request whose pipeline must
/// succeed would wait forever.
pub(super) const MAX_BRANCHES_PER_PUSH: usize = 3;

/// Records of writers that died after their offer was claimed are removed
/// once this old.
const STALE: Duration = Duration::from_secs(3600);

/// An offer's contents.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Offer {
    /// The tracked branch (a merge request's base).
    branch: String,
    /// A merge request's new branch, not a commit to `branch`.
    #[serde(default)]
    merge_request: bool,
    app: String,
    stage: String,
    /// Each target's file and field (`Display` of its [`super::FieldSpec`]).
    targets: Vec<(String, String)>,
    version: String,
    policy_digest: Option<String>,
    run_id: Option<String>,
    rollback_of: Option<String>,
    digest: Option<String>,
    template: String,
    name: String,
    email: String,
    time: Option<i64>,
}

/// What became of an offer, as the holder records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase", deny_unknown_fields)]
enum Record {
    /// Claimed by a holder that pushes under its `token`: wait for it.
    Claimed {
        /// The holder's push token (see [`PushToken`]).
        token: String,
    },
    /// The commit is made and about to be pushed.
    Pending {
        /// The writer's commit.
        sha: String,
        /// The value it replaced.
        previous: String,
        /// The holder's push token (a file in the queue it keeps locked
        /// until every record of its push is final), when it pushes after
        /// letting go of the lock the writer waits for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// The commit is on the branch, below (or at) `tip`.
    Pushed {
        /// The writer's commit.
        sha: String,
        /// What the push left the branch at.
        tip: String,
        /// The value it replaced.
        previous: String,
    },
    /// Not pushed: the writer writes alone.
    Declined,
}

/// What a writer learns when it settles its offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Settled {
    /// Nobody took it: the writer writes alone.
    Mine,
    /// Pushed by another process.
    Pushed {
        sha: ObjectId,
        tip: ObjectId,
        previous: String,
    },
    /// Claimed and committed, but whether the push landed is unknown.
    Pending { sha: ObjectId, previous: String },
}

/// A writer's offer, kept while it waits for the cache lock.
#[derive(Debug)]
pub(super) struct Ticket {
    files: Names,
    /// Holds the OS lock that says this writer is alive.
    _alive: File,
}

/// Where an offer's files go.
#[derive(Debug)]
struct Names {
    want: PathBuf,
    taken: PathBuf,
    out: PathBuf,
}

fn names(dir: &Path, id: &str) -> Names {
    Names {
        want: dir.join(format!("{id}.want")),
        taken: dir.join(format!("{id}.taken")),
        out: dir.join(format!("{id}.out")),
    }
}

impl Ticket {
    /// Offers `req` (a write to the tracked `branch`, or a merge request
    /// into it) to the holder of the lock of the cache at `git_dir`. `None`
    /// when the offer cannot be left: the writer then writes alone.
    pub(super) fn offer(
        git_dir: &Path,
        branch: &str,
        req: &WriteRequest,
        settings: &CommitSettings,
    ) -> Option<Self> {
        let offer = Offer {
            branch: branch.to_owned(),
            merge_request: req.target == Target::MergeRequest,
            app: req.app.clone(),
            stage: req.stage.clone(),
            targets: std::iter::once(&req.location)
                .chain(&req.further)
                .map(|t| (t.file.clone(), t.field.to_string()))
                .collect(),
            version: req.version.clone(),
            policy_digest: req.provenance.policy_digest.clone(),
            run_id: req.provenance.run_id.clone(),
            rollback_of: req.provenance.rollback_of.clone(),
            digest: req.provenance.digest.clone(),
            template: settings.template.clone(),
            name: settings.identity.name.clone(),
            email: settings.identity.email.clone(),
            time: settings.time,
        };
        let dir = git_dir.join(QUEUE);
        let id = format!("{}-{:016x}", std::process::id(), fastrand::u64(..));
        let files = names(&dir, &id);
        let staged = dir.join(format!("{id}.tmp"));
        let left = serde_json::to_vec(&offer)
            .map_err(std::io::Error::other)
            .and_then(|bytes| publish_locked(&dir, &staged, &files.want, &bytes));
        match left {
            Ok(file) => Some(Self {
                files,
                _alive: file,
            }),
            Err(err) => {
                tracing::debug!(%err, dir = %dir.display(), "cannot offer the write; writing alone");
                None
            }
        }
    }

    /// Takes the offer back. `true` when nobody had claimed it; `false`
    /// when a holder has, and its record decides.
    pub(super) fn withdraw(&self) -> bool {
        match std::fs::remove_file(&self.files.want) {
            Ok(()) => true,
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        }
    }

    /// Once the writer has had its turn at the lock: takes the offer back,
    /// or learns what the holder that claimed it did, and clears its files.
    /// A holder that pushes after letting go of the lock is waited for (no
    /// later than `until`) until its records are final.
    pub(super) fn settle(self, until: Instant) -> Settled {
        if self.withdraw() {
            return Settled::Mine;
        }
        if let Some(
            Record::Claimed { token }
            | Record::Pending {
                token: Some(token), ..
            },
        ) = read(&self.files.out)
        {
            await_token(&self.files.out, &token, until);
        }
        let settled = read_record(&self.files.out).unwrap_or(Settled::Mine);
        for path in [&self.files.out, &self.files.taken] {
            let _ = std::fs::remove_file(path);
        }
        settled
    }
}

impl Drop for Ticket {
    /// A writer that leaves (an error, or settled) takes its offer back;
    /// one already claimed is the claimant's to record.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.files.want);
    }
}

/// Waits (no later than `until`) until the holder whose push token is `token`
/// (a name next to the record at `out`) lets go of it: its push is over
/// and its records final, or it died.
fn await_token(out: &Path, token: &str, until: Instant) {
    // A name the holder made, in the queue: never a path elsewhere.
    let Some(dir) = out.parent() else { return };
    if token.contains(['/', '\\']) || !token.ends_with(TOKEN_EXT) {
        return;
    }
    let Ok(file) = File::open(dir.join(token)) else {
        // Removed: the push is over.
        return;
    };
    if crate::flock::lock_until(file, Instant::now(), until, None).is_err() {
        tracing::debug!(
            token,
            "the holder's push outlasted the wait; its record stands"
        );
    }
}

/// The record at `path`, if there is one that parses.
fn read(path: &Path) -> Option<Record> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// The record at `path` as the writer reads it; `None` for none, or one
/// that says to write alone.
fn read_record(path: &Path) -> Option<Settled> {
    let parse = |sha: &str| ObjectId::from_hex(sha.as_bytes()).ok();
    match read(path)? {
        Record::Pending { sha, previous, .. } => Some(Settled::Pending {
            sha: parse(&sha)?,
            previous,
        }),
        Record::Pushed { sha, tip, previous } => Some(Settled::Pushed {
            sha: parse(&sha)?,
            tip: parse(&tip)?,
            previous,
        }),
        // Its holder died before it made the commit, or declined it.
        Record::Claimed { .. } | Record::Declined => None,
    }
}

/// An offer the holder claimed, to record what became of it.
#[derive(Debug)]
pub(super) struct Claim {
    out: PathBuf,
    /// The push token of the holder that claimed it, named in its records.
    token: Option<String>,
    /// The commit made for it, once recorded as pending.
    made: Option<(ObjectId, String)>,
}

impl Claim {
    /// Records that `sha` (replacing `previous`) is about to be pushed.
    /// `false` when it could not be recorded: the commit must not be
    /// pushed then (the writer would not know it had been).
    pub(super) fn pending(&mut self, sha: ObjectId, previous: &str) -> bool {
        let record = Record::Pending {
            sha: sha.to_string(),
            previous: previous.to_owned(),
            token: self.token.clone(),
        };
        let written = write_record(&self.out, &record);
        if written {
            self.made = Some((sha, previous.to_owned()));
        }
        written
    }

    /// Records that the push left the branch at `tip`.
    pub(super) fn pushed(self, tip: ObjectId) {
        if let Some((sha, previous)) = self.made {
            let record = Record::Pushed {
                sha: sha.to_string(),
                tip: tip.to_string(),
                previous,
            };
            write_record(&self.out, &record);
        }
    }

    /// Records that nothing of the writer's was pushed.
    pub(super) fn declined(self) {
        write_record(&self.out, &Record::Declined);
    }
}

/// A holder's push token: a file in the queue it keeps an OS lock on from
/// before it claims anything until every record of its push is final, so
/// a claimed writer whose turn at another lock comes first waits for the
/// token, not for this holder's lock. Removed when dropped; one whose
/// holder died is free, and removed by the next holder.
#[derive(Debug)]
pub(super) struct PushToken {
    name: String,
    path: PathBuf,
    _held: File,
}

impl PushToken {
    /// A new token in the queue of the cache at `git_dir`; `None` when it
    /// cannot be made (the holder then pushes nobody else's write).
    pub(super) fn new(git_dir: &Path) -> Option<Self> {
        let dir = git_dir.join(QUEUE);
        let name = format!(
            "{}-{:016x}{TOKEN_EXT}",
            std::process::id(),
            fastrand::u64(..)
        );
        let path = dir.join(&name);
        let staged = dir.join(format!("{name}-new"));
        match publish_locked(&dir, &staged, &path, &[]) {
            Ok(file) => Some(Self {
                name,
                path,
                _held: file,
            }),
            Err(err) => {
                tracing::debug!(%err, dir = %dir.display(), "cannot make a push token; claiming nobody");
                None
            }
        }
    }
}

/// Makes the file `path` in `dir` with `contents`, under an OS lock the
/// returned file holds, complete and locked before it has its name: it is
/// written as `staged`, then renamed (a holder clearing what dead processes
/// left never takes it for dead, nor reads it half-written). Nothing is
/// left behind on failure.
fn publish_locked(
    dir: &Path,
    staged: &Path,
    path: &Path,
    contents: &[u8],
) -> std::io::Result<File> {
    let made = (|| -> std::io::Result<File> {
        std::fs::create_dir_all(dir)?;
        let mut file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(staged)?;
        file.try_lock().map_err(std::io::Error::from)?;
        file.write_all(contents)?;
        std::fs::rename(staged, path)?;
        Ok(file)
    })();
    if made.is_err() {
        let _ = std::fs::remove_file(staged);
    }
    made
}

impl Drop for PushToken {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Replaces the record at `path` whole (written aside, then renamed).
fn write_record(path: &Path, record: &Record) -> bool {
    let staged = path.with_extension("out-staged");
    let written = serde_json::to_vec(record)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&staged, bytes))
        .and_then(|()| std::fs::rename(&staged, path));
    match written {
        Ok(()) => true,
        Err(err) => {
            tracing::debug!(%err, path = %path.display(), "cannot record a grouped write");
            let _ = std::fs::remove_file(&staged);
            false
        }
    }
}

/// Under the lock writes to `target` take turns under: claims the live
/// offers of writers to `target` of `branch` through the cache at
/// `git_dir` (at most `limit`, in name order), with their requests and
/// commit settings. With a push `token`, each claimed writer is told to
/// wait for it. Removes offers whose writer died.
pub(super) fn claim(
    git_dir: &Path,
    branch: &str,
    target: Target,
    limit: usize,
    token: Option<&PushToken>,
) -> Vec<(Claim, WriteRequest, CommitSettings)> {
    let dir = git_dir.join(QUEUE);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut wants = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("want") => wants.push(path),
            Some("tmp" | "push") => remove_if_dead(&path),
            Some(_) => remove_if_stale(&path),
            None => {}
        }
    }
    wants.sort();
    let mut claimed = Vec::new();
    for want in wants {
        if claimed.len() == limit {
            break;
        }
        let Some(offer) = live_offer(&want) else {
            continue;
        };
        if offer.branch != branch || offer.merge_request != (target == Target::MergeRequest) {
            continue;
        }
        let Some(id) = want.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let files = names(&dir, id);
        // A writer waiting for another lock than this holder's may have its
        // turn while this holder still pushes: the record names the token
        // to wait for before the claim can be seen.
        if let Some(token) = token {
            let claimed = Record::Claimed {
                token: token.name.clone(),
            };
            if !write_record(&files.out, &claimed) {
                continue;
            }
        }
        // The writer may be taking it back this very moment: one of the
        // two renames/removals of `.want` wins.
        if std::fs::rename(&want, &files.taken).is_err() {
            if token.is_some() {
                let _ = std::fs::remove_file(&files.out);
            }
            continue;
        }
        let claim = Claim {
            out: files.out,
            token: token.map(|t| t.name.clone()),
            made: None,
        };
        match request(offer) {
            Some((req, settings)) => claimed.push((claim, req, settings)),
            None => claim.declined(),
        }
    }
    claimed
}

/// The offer at `path` when its writer is alive (holds its lock) and it
/// parses; an offer whose writer died is removed.
fn live_offer(path: &Path) -> Option<Offer> {
    let mut file = File::open(path).ok()?;
    match file.try_lock() {
        Err(TryLockError::WouldBlock) => {}
        Ok(()) => {
            tracing::debug!(path = %path.display(), "removing the offer of a writer that died");
            let _ = std::fs::remove_file(path);
            return None;
        }
        Err(TryLockError::Error(_)) => return None,
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(offer) => Some(offer),
        Err(err) => {
            tracing::debug!(%err, path = %path.display(), "an offer that does not parse; left alone");
            None
        }
    }
}

/// The write an offer asks for.
fn request(offer: Offer) -> Option<(WriteRequest, CommitSettings)> {
    let mut targets = offer
        .targets
        .into_iter()
        .map(|(file, field)| field.parse().ok().map(|field| StageField { file, field }));
    let location = targets.next()??;
    let further = targets.collect::<Option<Vec<_>>>()?;
    crate::version::check(&offer.version).ok()?;
    let req = WriteRequest {
        app: offer.app,
        stage: offer.stage,
        location,
        further,
        version: offer.version,
        target: if offer.merge_request {
            Target::MergeRequest
        } else {
            Target::Branch
        },
        provenance: Provenance {
            policy_digest: offer.policy_digest,
            run_id: offer.run_id,
            rollback_of: offer.rollback_of,
            digest: offer.digest,
        },
    };
    let settings = CommitSettings {
        template: offer.template,
        identity: Identity {
            name: offer.name,
            email: offer.email,
        },
        time: offer.time,
        ..CommitSettings::default()
    };
    Some((req, settings))
}

/// Removes a half-written offer, or a push token, whose process died.
fn remove_if_dead(path: &Path) {
    if let Ok(file) = File::open(path)
        && file.try_lock().is_ok()
    {
        let _ = std::fs::remove_file(path);
    }
}

/// Removes a record no writer came back for.
fn remove_if_stale(path: &Path) {
    let old = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .is_some_and(|age| age > STALE);
    if old {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(app: &str) -> WriteRequest {
        WriteRequest {
            app: app.into(),
            stage: "dev".into(),
            location: StageField {
                file: format!("dev/{app}.yaml"),
                field: "helm:image.tag".parse().expect("field"),
            },
            further: Vec::new(),
            version: "v2".into(),
            target: Target::Branch,
            provenance: Provenance {
                run_id: Some(format!("run-{app}")),
                ..Provenance::default()
            },
        }
    }

    fn settings() -> CommitSettings {
        CommitSettings {
            time: Some(1_780_000_000),
            ..CommitSettings::default()
        }
    }

    fn queue(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join(QUEUE))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    const SHA: &str = "1111111111111111111111111111111111111111";

    #[test]
    fn an_offer_is_claimed_with_its_request_or_taken_back_never_both() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ticket = Ticket::offer(dir.path(), "main", &request("a"), &settings()).expect("offers");
        // Another branch's holder leaves it, and so does a merge request's.
        assert!(claim(dir.path(), "release", Target::Branch, MAX_GROUP, None).is_empty());
        assert!(claim(dir.path(), "main", Target::MergeRequest, MAX_GROUP, None).is_empty());
        let mut claimed = claim(dir.path(), "main", Target::Branch, MAX_GROUP, None);
        assert_eq!(claimed.len(), 1);
        let (claim_a, req, taken) = claimed.remove(0);
        assert_eq!(req.app, "a");
        assert_eq!(req.location.field.to_string(), "helm:image.tag");
        assert_eq!(req.provenance.run_id.as_deref(), Some("run-a"));
        assert_eq!(taken.time, Some(1_780_000_000));
        // Claimed: the writer cannot take it back, and no holder claims it twice.
        assert!(!ticket.withdraw());
        assert!(claim(dir.path(), "main", Target::Branch, MAX_GROUP, None).is_empty());
        claim_a.declined();
        assert_eq!(
            ticket.settle(Instant::now() + Duration::from_secs(5)),
            Settled::Mine
        );
        assert!(queue(dir.path()).is_empty(), "{:?}", queue(dir.path()));

        // Taken back first: no holder gets it.
        let ticket = Ticket::offer(dir.path(), "main", &request("b"), &settings()).expect("offers");
        assert!(ticket.withdraw());
        assert!(claim(dir.path(), "main", Target::Branch, MAX_GROUP, None).is_empty());
        assert_eq!(
            ticket.settle(Instant::now() + Duration::from_secs(5)),
            Settled::Mine
        );

        // A merge request's offer goes to a merge request's holder only,
        // and comes back a merge request.
        let mut req = request("c");
        req.target = Target::MergeRequest;
        let ticket = Ticket::offer(dir.path(), "main", &req, &settings()).expect("offers");
        assert!(claim(dir.path(), "main", Target::Branch, MAX_GROUP, None).is_empty());
        let (claim_c, req, _) =
            claim(dir.path(), "main", Target::MergeRequest, MAX_GROUP, None).remove(0);
        assert_eq!((req.app.as_str(), req.target), ("c", Target::MergeRequest));
        claim_c.declined();
        assert_eq!(
            ticket.settle(Instant::now() + Duration::from_secs(5)),
            Settled::Mine
        );
    }

    #[test]
    fn the_writer_reads_pending_and_pushed_records_as_the_holder_left_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sha = ObjectId::from_hex(SHA.as_bytes()).expect("sha");
        let ticket = Ticket::offer(dir.path(), "main", &request("a"), &settings()).expect("offers");
        let (mut held, _, _) = claim(dir.path(), "main", Target::Branch, MAX_GROUP, None).remove(0);
        assert!(held.pending(sha, "v1"));
        // The holder dies here, between recording and pushing.
        drop(held);
        assert_eq!(
            ticket.settle(Instant::now() + Duration::from_secs(5)),
            Settled::Pending {
                sha,
                previous: "v1".into()
            }
        );

        let ticket = Ticket::offer(dir.path(), "main", &request("b"), &settings()).expect("offers");
        let (mut held, _, _) = claim(dir.path(), "main", Target::Branch, MAX_GROUP, None).remove(0);
        assert!(held.pending(sha, "v1"));
        let tip = ObjectId::from_hex(b"2222222222222222222222222222222222222222").expect("tip");
        held.pushed(tip);
        assert_eq!(
            ticket.settle(Instant::now() + Duration::from_secs(5)),
            Settled::Pushed {
                sha,
                tip,
                previous: "v1".into()
            }
        );
        assert!(queue(dir.path()).is_empty(), "{:?}", queue(dir.path()));
    }

    #[test]
    fn offers_of_dead_writers_and_offers_that_do_not_parse_are_never_claimed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let queue_dir = dir.path().join(QUEUE);
        std::fs::create_dir_all(&queue_dir).expect("mkdir");
        // A writer killed while it waited: its offer is complete, but
        // nobody holds its lock.
        let offer = Offer {
            branch: "main".into(),
            merge_request: false,
            app: "dead".into(),
            stage: "dev".into(),
            targets: vec![("dev/dead.yaml".into(), "helm:image.tag".into())],
            version: "v9".into(),
            policy_digest: None,
            run_id: None,
            rollback_of: None,
            digest: None,
            template: "t".into(),
            name: "n".into(),
            email: "e@example.com".into(),
            time: None,
        };
        std::fs::write(
            queue_dir.join("1-dead.want"),
            serde_json::to_vec(&offer).expect("json"),
        )
        .expect("write");
        // A live writer whose offer is not what Baton writes, or asks for a
        // version no Baton would write.
        let keep = |name: &str, bytes: &[u8]| {
            let path = queue_dir.join(name);
            std::fs::write(&path, bytes).expect("write");
            let file = File::open(&path).expect("open");
            file.try_lock().expect("lock");
            file
        };
        let _garbled = keep("2-garbled.want", b"{\"branch\":\"main\",\"extra\":1}");
        let mut bad = serde_json::to_value(&offer).expect("json");
        bad["version"] = "v1\n; rm -rf /".into();
        let _bad = keep("3-bad.want", &serde_json::to_vec(&bad).expect("json"));
        assert!(claim(dir.path(), "main", Target::Branch, MAX_GROUP, None).is_empty());
        // The dead writer's offer is gone; the unparsable one is left to
        // its writer; the bad version was claimed and declined.
        let left = queue(dir.path());
        assert_eq!(
            left,
            ["2-garbled.want", "3-bad.out", "3-bad.taken"],
            "{left:?}"
        );
        assert_eq!(
            std::fs::read_to_string(queue_dir.join("3-bad.out")).expect("record"),
            r#"{"state":"declined"}"#
        );
    }
}
