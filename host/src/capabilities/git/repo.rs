//! [`EnvRepo`]: a bare cache of one remote env repo (one directory per URL
//! under a cache root), refreshed with `git fetch`, read with gix.
//!
//! Many processes share one cache: objects are shared (git's object store
//! takes concurrent writers), every fetch, deepen and write runs under the
//! cache lock ([`super::lock`]), and each process keeps the branch tips it
//! fetched in memory, so another process's fetch never moves the state a
//! run reads.
//!
//! Fetches coalesce: a process that waited for the lock while another
//! fetched the same branch, a fetch that started after this one was asked
//! for, takes that fetch's result (`<cache>/baton.fetched` says when it
//! started) instead of fetching again: what it reads is as new as its own
//! fetch would have been when it asked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gix::ObjectId;
use sha2::{Digest, Sha256};

use super::error::{FieldError, OpenError, ReadError, TransportError};
use super::field::FieldSpec;
use super::lock::{self, CacheLock, DEFAULT_LOCK_WAIT, LockError, LockProgress, LockWait};
use super::paths::PathIndex;
use super::transport::Remote;
use super::yaml;
use crate::retry::Deadline;
use crate::secret::Secret;

/// The file in the cache that says when the last successful fetch of the
/// tracked branch started.
const FETCHED: &str = "baton.fetched";

/// `at` in nanoseconds since the Unix epoch (0 for a clock before it).
fn nanos(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Where the env repo lives and how to authenticate.
#[derive(Debug, Clone)]
pub struct RepoSource {
    /// `https://…`, `http://…`, `file://…` or a local path. Never contains a
    /// token.
    pub url: String,
    /// Bearer token for http(s) remotes, sent as `http.extraHeader`.
    pub token: Option<Secret>,
}

/// How [`EnvRepo::open`] prepares the cache.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Root under which each repo URL gets its own directory.
    pub cache_root: PathBuf,
    /// The branch Argo CD tracks (usually `main`).
    pub branch: String,
    /// The first fetch into an empty cache takes only the branch tip
    /// (`--depth=1`): enough for writes. Later fetches take what is new and
    /// keep the history already cached; history reads deepen the cache on
    /// demand.
    pub shallow: bool,
    /// No fetch or push starts after it, and a running one is stopped then
    /// ([`Deadline::NONE`] by default; see [`EnvRepo::set_deadline`]).
    pub deadline: Deadline,
    /// The longest wait for the cache lock while another process fetches
    /// or writes the same cache ([`DEFAULT_LOCK_WAIT`] by default).
    pub lock_wait: Duration,
    /// Told when this process waits for the cache lock.
    pub progress: Option<LockProgress>,
}

impl OpenOptions {
    /// Full-history cache of `branch` under `cache_root`.
    pub fn new(cache_root: impl Into<PathBuf>, branch: impl Into<String>) -> Self {
        Self {
            cache_root: cache_root.into(),
            branch: branch.into(),
            shallow: false,
            deadline: Deadline::NONE,
            lock_wait: DEFAULT_LOCK_WAIT,
            progress: None,
        }
    }
}

/// One stage's version location: a file in the repo and a field in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageField {
    /// Path of the file inside the repo, `/`-separated.
    pub file: String,
    /// Where the version sits in the file.
    pub field: FieldSpec,
}

/// A bare cache of the env repo, fetched from the remote.
pub struct EnvRepo {
    pub(crate) remote: Remote,
    pub(crate) git_dir: PathBuf,
    pub(crate) branch: String,
    pub(crate) repo: gix::Repository,
    /// Set by a fetch, consumed by the next write: a write right after
    /// `open` does not fetch the same tip again.
    pub(crate) fresh: bool,
    /// The first fetch into an empty cache takes only the tip.
    pub(crate) shallow: bool,
    /// This process's view of the remote branches: what its own fetches
    /// and pushes saw, by branch name. Other processes move the shared
    /// `refs/remotes/origin/*` of the cache; never this.
    pub(crate) tips: HashMap<String, ObjectId>,
    /// The longest wait for the cache lock.
    pub(crate) lock_wait: Duration,
    /// Told while waiting for the cache lock.
    pub(crate) progress: Option<LockProgress>,
    /// Which files each commit walked changed ([`super::paths`]).
    pub(crate) paths: PathIndex,
}

impl std::fmt::Debug for EnvRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvRepo")
            .field("url", &self.remote.url)
            .field("git_dir", &self.git_dir)
            .field("branch", &self.branch)
            .finish_non_exhaustive()
    }
}

/// The default cache root when no `--cache-dir` is given: the user's cache
/// directory (`$XDG_CACHE_HOME`, else `$HOME/.cache`) plus `baton/repos`,
/// from the variables `env` returns; the system temp dir as a last resort.
pub fn default_cache_root(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    let base = env("XDG_CACHE_HOME")
        .filter(|v| Path::new(v).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(&h).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    base.join("baton").join("repos")
}

/// The cache directory for `url` under `root`: a readable slug plus a short
/// hash of the full URL, so different URLs never share a directory.
pub fn cache_dir_for(root: &Path, url: &str) -> PathBuf {
    let slug: String = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug = slug.trim_matches('-');
    let slug = &slug[slug.len().saturating_sub(48)..];
    let hash = Sha256::digest(url.as_bytes());
    let hex: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
    root.join(format!("{slug}-{hex}"))
}

impl EnvRepo {
    /// Opens (cloning on first use, fetching afterwards) the env repo's
    /// `branch` into its cache directory under `options.cache_root`.
    pub fn open(source: &RepoSource, options: &OpenOptions) -> Result<Self, OpenError> {
        let url = normalize_url(source)?;
        let git_dir = cache_dir_for(&options.cache_root, &url);
        if !git_dir.join("HEAD").exists() {
            init_cache(&options.cache_root, &git_dir)?;
        }
        let repo = open_repo(&git_dir)?;
        let mut this = Self {
            remote: Remote {
                url,
                token: source.token.clone(),
                deadline: options.deadline,
            },
            branch: options.branch.clone(),
            paths: PathIndex::new(&git_dir),
            git_dir,
            repo,
            fresh: false,
            shallow: options.shallow,
            tips: HashMap::new(),
            lock_wait: options.lock_wait,
            progress: options.progress.clone(),
        };
        this.fetch(None).map_err(|source| OpenError::Fetch {
            url: this.remote.url.clone(),
            source,
        })?;
        Ok(this)
    }

    /// The remote URL this cache mirrors.
    pub fn url(&self) -> &str {
        &self.remote.url
    }

    /// The tracked branch.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The bare cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.git_dir
    }

    /// Bounds every later fetch and push (and their retries) by `deadline`.
    pub fn set_deadline(&mut self, deadline: Deadline) {
        self.remote.deadline = deadline;
    }

    /// The deadline of fetches, pushes and history walks.
    pub fn deadline(&self) -> Deadline {
        self.remote.deadline
    }

    /// Runs `f` with fetches, pushes, history walks and lock waits bounded
    /// by `deadline` as well (the earlier of it and the repo's own), then
    /// restores the repo's own deadline.
    pub fn within<T>(&mut self, deadline: Deadline, f: impl FnOnce(&mut Self) -> T) -> T {
        let own = self.remote.deadline;
        self.remote.deadline = match (own.instant(), deadline.instant()) {
            (Some(a), Some(b)) => Deadline::at(a.min(b)),
            (None, _) => deadline,
            (Some(_), None) => own,
        };
        let out = f(self);
        self.remote.deadline = own;
        out
    }

    /// Takes the cache lock for one fetch or write.
    pub(crate) fn lock(&self) -> Result<CacheLock, LockError> {
        lock::acquire(&self.git_dir, &self.wait())
    }

    /// Takes the lock of the cache's merge-request pushes
    /// ([`lock::acquire_requests`]).
    pub(crate) fn lock_requests(&self) -> Result<CacheLock, LockError> {
        lock::acquire_requests(&self.git_dir, &self.wait())
    }

    /// How this process waits for a lock of the cache.
    pub(crate) fn wait(&self) -> LockWait {
        LockWait {
            limit: self.lock_wait,
            deadline: self.remote.deadline,
            progress: self.progress.clone(),
        }
    }

    /// Fetches the tracked branch, and `mr_branch` (a merge-request
    /// branch) when given, under the cache lock, and takes their tips as
    /// this process's view. Only the first fetch into a cache without the
    /// branch is shallow (`--depth=1`, when opened shallow); later ones
    /// fetch what is new and keep the history already cached.
    pub(crate) fn fetch(&mut self, mr_branch: Option<&str>) -> Result<(), TransportError> {
        let asked = nanos(SystemTime::now());
        let _lock = self.lock()?;
        if mr_branch.is_none() && self.fetched_since(asked) {
            self.reload();
            if let Some(id) = self.shared_tip(&self.branch) {
                tracing::debug!(%id, "another process fetched while this one waited");
                self.tips.insert(self.branch.clone(), id);
                self.fresh = true;
                return Ok(());
            }
        }
        self.fetch_locked(mr_branch)
    }

    /// Whether a fetch of the tracked branch into this cache started at or
    /// after `asked` (nanoseconds since the epoch) and succeeded.
    fn fetched_since(&self, asked: u128) -> bool {
        self.hint(FETCHED)
            .and_then(|at| at.parse::<u128>().ok())
            .is_some_and(|at| at >= asked)
    }

    /// Records that a fetch of the tracked branch that started at
    /// `started` succeeded (under the cache lock). A hint only: without it
    /// the next process fetches again.
    fn record_fetch(&self, started: u128) {
        self.leave_hint(FETCHED, &started.to_string());
    }

    /// What the hint file `name` in the cache says about the tracked
    /// branch (`<branch> <value>`), if it is about it.
    pub(crate) fn hint(&self, name: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.git_dir.join(name)).ok()?;
        let (branch, value) = text.trim().split_once(' ')?;
        (branch == self.branch).then(|| value.to_owned())
    }

    /// Replaces the hint file `name` with `value` for the tracked branch,
    /// whole (written aside, then renamed), under the cache lock. A hint
    /// that cannot be left costs the next process some work, nothing else.
    pub(crate) fn leave_hint(&self, name: &str, value: &str) {
        let path = self.git_dir.join(name);
        let staged = self.git_dir.join(format!("{name}.{}", std::process::id()));
        let written = std::fs::write(&staged, format!("{} {value}\n", self.branch))
            .and_then(|()| std::fs::rename(&staged, &path));
        if let Err(err) = written {
            tracing::debug!(%err, path = %path.display(), "could not leave a cache hint");
        }
    }

    /// [`Self::fetch`] for a caller that holds the cache lock. A
    /// merge-request branch is fetched tip only, in a fetch of its own: one
    /// based on a commit below the cache's shallow boundary would otherwise
    /// bring the whole history along.
    pub(crate) fn fetch_locked(&mut self, mr_branch: Option<&str>) -> Result<(), TransportError> {
        let shallow = self.shallow && self.shared_tip(&self.branch).is_none();
        let started = nanos(SystemTime::now());
        self.remote.fetch(
            &self.git_dir,
            &[tracking_refspec(&self.branch)],
            &self.branch,
            shallow,
        )?;
        self.record_fetch(started);
        self.reload();
        if let Some(id) = self.shared_tip(&self.branch) {
            self.tips.insert(self.branch.clone(), id);
        }
        if let Some(branch) = mr_branch {
            let fetched =
                self.remote
                    .fetch(&self.git_dir, &[tracking_refspec(branch)], branch, true);
            match fetched {
                Ok(()) => {
                    self.reload();
                    match self.shared_tip(branch) {
                        Some(id) => self.tips.insert(branch.to_owned(), id),
                        None => self.tips.remove(branch),
                    };
                }
                Err(TransportError::BranchMissing { .. }) => {
                    self.tips.remove(branch);
                }
                Err(e) => return Err(e),
            }
        }
        self.fresh = true;
        Ok(())
    }

    /// Fetches the latest state of the tracked branch.
    pub fn refresh(&mut self) -> Result<(), OpenError> {
        self.fetch(None).map_err(|source| OpenError::Fetch {
            url: self.remote.url.clone(),
            source,
        })
    }

    /// The merge-request branches Baton pushed for `app`
    /// (`baton/<app>/<stage>/<version>`) that exist on the remote now (asked
    /// with `git ls-remote`; nothing is fetched).
    pub fn mr_branches(&mut self, app: &str) -> Result<Vec<String>, OpenError> {
        let pattern = format!("refs/heads/baton/{app}/*");
        let refs = self
            .remote
            .ls_remote(&self.git_dir, &pattern, &self.branch)
            .map_err(|source| OpenError::Fetch {
                url: self.remote.url.clone(),
                source,
            })?;
        let mut out: Vec<String> = refs
            .iter()
            .filter_map(|name| name.strip_prefix("refs/heads/"))
            .map(str::to_owned)
            .collect();
        out.sort();
        Ok(out)
    }

    pub(crate) fn reload(&mut self) {
        // A fresh handle sees new packs and refs written by `git fetch`.
        if let Ok(repo) = open_repo(&self.git_dir) {
            self.repo = repo;
        }
    }

    /// This process's view of `branch`'s tip: what its last fetch (or its
    /// own push) saw.
    pub(crate) fn tip_of(&self, branch: &str) -> Option<ObjectId> {
        self.tips.get(branch).copied()
    }

    /// The cache's shared `refs/remotes/origin/<branch>`, which any
    /// process's fetch moves (read it under the lock).
    fn shared_tip(&self, branch: &str) -> Option<ObjectId> {
        let mut r = self
            .repo
            .try_find_reference(format!("refs/remotes/origin/{branch}").as_str())
            .ok()??;
        r.peel_to_id().ok().map(|id| id.detach())
    }

    /// `rev` with a leading branch name replaced by this process's tip of
    /// it (`main~2` -> `<sha>~2`), so expressions read the same state.
    fn pinned(&self, rev: &str) -> String {
        self.tips
            .iter()
            .filter(|(name, _)| {
                rev.strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with(['~', '^']))
            })
            .max_by_key(|(name, _)| name.len())
            .map_or_else(
                || rev.to_owned(),
                |(name, id)| format!("{id}{}", &rev[name.len()..]),
            )
    }

    /// Resolves a revision: a fetched branch name first, then anything
    /// `git rev-parse` understands (a SHA, `main~3`, ...).
    pub fn resolve(&self, rev: &str) -> Result<ObjectId, ReadError> {
        if let Some(id) = self.tip_of(rev) {
            return Ok(id);
        }
        let id = self
            .repo
            .rev_parse_single(self.pinned(rev).as_str())
            .map_err(|e| ReadError::Revision {
                rev: rev.to_owned(),
                url: self.remote.url.clone(),
                source: gix::Error::from_error(e),
            })?;
        let commit = id
            .object()
            .and_then(|o| o.peel_to_commit())
            .map_err(|source| ReadError::Revision {
                rev: rev.to_owned(),
                url: self.remote.url.clone(),
                source,
            })?;
        Ok(commit.id)
    }

    /// The bytes of `file` at commit `commit`; `None` when absent.
    pub(crate) fn blob_at(
        &self,
        commit: ObjectId,
        file: &str,
    ) -> Result<Option<Vec<u8>>, ReadError> {
        let objects = |source| ReadError::Objects {
            url: self.remote.url.clone(),
            rev: commit.to_string(),
            source,
        };
        let tree = self
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(objects)?;
        let Some(entry) = tree.lookup_entry_by_path(file).map_err(objects)? else {
            return Ok(None);
        };
        if !entry.mode().is_blob() {
            return Ok(None);
        }
        let blob = entry.object().map_err(objects)?;
        Ok(Some(blob.detach().data))
    }

    /// The bytes of `file` at revision `rev` (for policies' `read-file`);
    /// `None` when the file does not exist there.
    pub fn read_file(&self, rev: &str, file: &str) -> Result<Option<Vec<u8>>, ReadError> {
        let commit = self.resolve(rev)?;
        self.blob_at(commit, file)
    }

    /// The version a stage holds at revision `rev`.
    pub fn read_version(&self, rev: &str, stage: &StageField) -> Result<String, ReadError> {
        let commit = self.resolve(rev)?;
        self.version_at(commit, stage, rev)
    }

    pub(crate) fn version_at(
        &self,
        commit: ObjectId,
        stage: &StageField,
        rev: &str,
    ) -> Result<String, ReadError> {
        let bytes = match self.blob_at(commit, &stage.file)? {
            Some(bytes) => bytes,
            None => return Err(self.missing(commit, stage, rev)),
        };
        yaml::read_field(&stage.file, &stage.field, &bytes).map_err(ReadError::from)
    }

    /// Why a stage's file cannot be read at `commit`: absent, or not a
    /// regular file.
    pub(crate) fn missing(&self, commit: ObjectId, stage: &StageField, rev: &str) -> ReadError {
        let kind = self
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .ok()
            .and_then(|tree| tree.lookup_entry_by_path(&stage.file).ok().flatten())
            .map(|entry| {
                let mode = entry.mode();
                if mode.is_link() {
                    "symbolic link"
                } else if mode.is_tree() {
                    "directory"
                } else {
                    "submodule"
                }
            });
        match kind {
            Some(kind) => ReadError::NotAFile {
                file: stage.file.clone(),
                field: stage.field.to_string(),
                rev: rev.to_owned(),
                kind,
            },
            None => ReadError::FileMissing {
                file: stage.file.clone(),
                field: stage.field.to_string(),
                rev: rev.to_owned(),
            },
        }
    }

    /// The version of `stage` in `bytes`, for callers holding a blob.
    pub(crate) fn version_in(stage: &StageField, bytes: &[u8]) -> Result<String, FieldError> {
        yaml::read_field(&stage.file, &stage.field, bytes)
    }
}

pub(crate) fn tracking_refspec(branch: &str) -> String {
    format!("+refs/heads/{branch}:refs/remotes/origin/{branch}")
}

fn open_repo(git_dir: &Path) -> Result<gix::Repository, OpenError> {
    // Like git's default delta base cache: history walks decode long
    // delta chains of the same big trees over and over without it.
    let options =
        gix::open::Options::isolated().config_overrides(["core.deltaBaseCacheLimit=100663296"]);
    let mut repo = gix::open_opts(git_dir, options).map_err(|source| OpenError::Repo {
        path: git_dir.to_owned(),
        source: gix::Error::from_error(source),
    })?;
    repo.object_cache_size_if_unset(32 * 1024 * 1024);

    Ok(repo)
}

/// Creates the bare cache atomically: init in a temporary sibling, then
/// rename, so concurrent first runs never see a half-made repository.
fn init_cache(root: &Path, git_dir: &Path) -> Result<(), OpenError> {
    let io_err = |source| OpenError::CacheDir {
        path: git_dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(root).map_err(io_err)?;
    let tmp = tempfile_dir(root).map_err(io_err)?;
    gix::init_bare(&tmp).map_err(|source| OpenError::Repo {
        path: tmp.clone(),
        source: gix::Error::from_error(source),
    })?;
    if std::fs::rename(&tmp, git_dir).is_err() {
        // Another process won the race; use its directory.
        let _ = std::fs::remove_dir_all(&tmp);
        if !git_dir.join("HEAD").exists() {
            return Err(io_err(std::io::Error::other(
                "cache directory exists but is not a git repository",
            )));
        }
    }
    Ok(())
}

fn tempfile_dir(root: &Path) -> std::io::Result<PathBuf> {
    let path = root.join(format!(
        ".tmp-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir(&path)?;
    Ok(path)
}

/// Validates the URL and turns a local path into an absolute one.
fn normalize_url(source: &RepoSource) -> Result<String, OpenError> {
    let url = source.url.trim();
    let http = url.starts_with("https://") || url.starts_with("http://");
    if source.token.is_some() && !http {
        return Err(OpenError::TokenWithoutHttp {
            url: url.to_owned(),
        });
    }
    if http || url.starts_with("file://") {
        return Ok(url.to_owned());
    }
    if url.contains("://") {
        return Err(OpenError::UnsupportedUrl {
            url: url.to_owned(),
        });
    }
    std::fs::canonicalize(url)
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|_| OpenError::UnsupportedUrl {
            url: url.to_owned(),
        })
}

#[cfg(test)]
mod cache_root_tests {
    use super::*;

    #[test]
    fn default_cache_root_follows_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            default_cache_root(env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            Path::new("/x/baton/repos")
        );
        assert_eq!(
            default_cache_root(env(&[("XDG_CACHE_HOME", "relative"), ("HOME", "/h")])),
            Path::new("/h/.cache/baton/repos")
        );
        assert_eq!(
            default_cache_root(env(&[])),
            std::env::temp_dir().join("baton/repos")
        );
    }
}
