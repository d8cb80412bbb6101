//! Error types of the env repo capability, one per operation. Variants carry
//! the input that failed (URL, file, field, value, branch); causes sit in
//! `#[source]`. No message ever contains a token: git's stderr is redacted
//! before it is stored here.

use std::path::PathBuf;
use std::time::Duration;

use super::lock::LockError;

/// A stage's field could not be read or edited in one YAML file.
#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    /// The file is larger than [`super::yaml::MAX_FILE_SIZE`].
    #[error(
        "{file}: {size} bytes is over the {limit}-byte limit for env repo files (field {field})"
    )]
    TooLarge {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The file is not UTF-8.
    #[error("{file}: not valid UTF-8 (field {field})")]
    InvalidUtf8 {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// Where decoding failed.
        #[source]
        source: std::str::Utf8Error,
    },
    /// The file is not valid YAML.
    #[error("{file}:{line}:{column}: YAML syntax error (field {field})")]
    Syntax {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's complaint.
        #[source]
        source: yaml_serde::Error,
    },
    /// The file holds several documents and the field names none.
    #[error(
        "{file}: {count} YAML documents and field {field} selects none (write `<kind>[N]:...`)"
    )]
    MultiDocument {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// How many documents the file holds.
        count: usize,
    },
    /// The selected document does not exist.
    #[error("{file}: field {field} selects document {index} but the file has {count}")]
    DocumentMissing {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// The requested document.
        index: usize,
        /// How many documents the file holds.
        count: usize,
    },
    /// A key, index or selector on the path matched nothing.
    #[error("{file}: field {field} not found (no `{missing}`)")]
    KeyMissing {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// The path prefix that was not found.
        missing: String,
    },
    /// More than one sequence item matches a `[key=value]` selector (two
    /// Kustomize `images` entries with the same name): which one is meant
    /// is a guess, so nothing is read or written.
    #[error("{file}: field {field} is ambiguous: {count} items match `{at}`")]
    Ambiguous {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// The path up to and including the selector.
        at: String,
        /// How many items match.
        count: usize,
    },
    /// The value does not fit the field (a digest where none is given, a
    /// digest or tag that is not one), or the field's text does not match
    /// its value template.
    #[error("{file}: field {field}: {reason}")]
    Value {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// What does not fit.
        reason: super::value::ValueError,
    },
    /// The path leads to a mapping or sequence, not a scalar; or an
    /// intermediate step is not the collection the path needs.
    #[error("{file}: field {field} is a {found} at `{at}`, not {expected}")]
    WrongType {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// The path prefix where the mismatch is.
        at: String,
        /// What is there (`mapping`, `sequence`, `scalar`).
        found: &'static str,
        /// What the path needs there.
        expected: &'static str,
    },
    /// An alias (`*name`) or anchor (`&name`) sits on the path: editing it
    /// would change other values too.
    #[error("{file}: field {field} goes through YAML {what} at `{at}`; edit it by hand")]
    AliasOrAnchor {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// `alias` or `anchor`.
        what: &'static str,
        /// The path prefix where it is.
        at: String,
    },
    /// A mapping on the path has a merge key (`<<`), so the key's value may
    /// come from elsewhere.
    #[error("{file}: field {field} is in a mapping with a merge key `<<` at `{at}`")]
    MergeKey {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// The mapping's path.
        at: String,
    },
    /// The scalar is a block (`|`, `>`) or multi-line scalar.
    #[error("{file}: field {field} is a {style} scalar, which Baton does not edit")]
    UnsupportedScalar {
        /// Path of the file in the repo.
        file: String,
        /// The field being read or written.
        field: String,
        /// `block` or `multi-line`.
        style: &'static str,
    },
    /// After the edit the document did not differ from the original in
    /// exactly the intended value; nothing was written.
    #[error("{file}: setting {field} to `{value}` would change more than that value: {reason}")]
    VerifyFailed {
        /// Path of the file in the repo.
        file: String,
        /// The field being written.
        field: String,
        /// The value being written.
        value: String,
        /// What the check found.
        reason: String,
    },
}

/// A `git fetch` or `git push` failed. Every `stderr` is token-redacted.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The remote refused the credentials (or asked for some).
    #[error("authentication failed for {url}: {stderr}")]
    Auth {
        /// The remote URL.
        url: String,
        /// git's stderr, token redacted.
        stderr: String,
    },
    /// Connection-level failure that persisted through retries.
    #[error("network failure talking to {url} after {attempts} attempts: {stderr}")]
    Network {
        /// The remote URL.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// git's stderr of the last attempt, token redacted.
        stderr: String,
    },
    /// The remote has no such branch.
    #[error("branch `{branch}` does not exist on {url}")]
    BranchMissing {
        /// The remote URL.
        url: String,
        /// The branch.
        branch: String,
    },
    /// Any other git failure.
    #[error("`git {command}` failed for {url}: {stderr}")]
    Failed {
        /// The remote URL.
        url: String,
        /// The git subcommand.
        command: &'static str,
        /// git's stderr, token redacted.
        stderr: String,
    },
    /// The deadline passed before `git` could start, or while it ran (it
    /// was stopped).
    #[error("`git {command}` for {url} did not finish before the deadline")]
    Deadline {
        /// The remote URL.
        url: String,
        /// The git subcommand.
        command: &'static str,
    },
    /// The `git` binary could not be started.
    #[error("could not run `git {command}`")]
    Spawn {
        /// The git subcommand.
        command: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The cache lock could not be taken before `git` could start.
    #[error(transparent)]
    Lock(#[from] LockError),
}

impl TransportError {
    /// Whether this failure is a deadline or a lock wait running out (not
    /// the remote failing).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Self::Deadline { .. } | Self::Lock(LockError::Timeout { .. })
        )
    }
}

/// [`super::EnvRepo::open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is neither http(s)://, file:// nor an existing local path.
    #[error("unsupported env repo URL `{url}`")]
    UnsupportedUrl {
        /// The URL as given.
        url: String,
    },
    /// A token was given for a URL that is not http(s).
    #[error("a token was given for `{url}`, but tokens are only sent over http(s)")]
    TokenWithoutHttp {
        /// The URL as given.
        url: String,
    },
    /// The cache directory could not be created or prepared.
    #[error("cannot prepare cache directory {path}")]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// gix could not create or open the bare cache repository.
    #[error("cannot open cache repository {path}")]
    Repo {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: gix::Error,
    },
    /// Fetching failed.
    #[error("cannot fetch {url}")]
    Fetch {
        /// The remote URL.
        url: String,
        /// Why.
        #[source]
        source: TransportError,
    },
}

/// Reading a file, a stage's version or its history failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The revision does not resolve to a commit in the cache.
    #[error("revision `{rev}` not found in {url}")]
    Revision {
        /// The revision as given.
        rev: String,
        /// The env repo URL.
        url: String,
        /// Why.
        #[source]
        source: gix::Error,
    },
    /// The file is not in the tree at that revision.
    #[error("file {file} does not exist at {rev} (field {field})")]
    FileMissing {
        /// Path of the file in the repo.
        file: String,
        /// The field being read.
        field: String,
        /// The revision.
        rev: String,
    },
    /// The path is there but is not a regular file (a symlink, a directory,
    /// a submodule): Baton neither follows nor replaces it.
    #[error("{file} at {rev} is a {kind}, not a regular file (field {field})")]
    NotAFile {
        /// Path of the file in the repo.
        file: String,
        /// The field being read.
        field: String,
        /// The revision.
        rev: String,
        /// `symbolic link`, `directory` or `submodule`.
        kind: &'static str,
    },
    /// The field could not be read from the file.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The object database failed.
    #[error("reading objects of {url} at {rev}")]
    Objects {
        /// The env repo URL.
        url: String,
        /// The commit or revision being read.
        rev: String,
        /// Why.
        #[source]
        source: gix::Error,
    },
    /// Deepening a shallow cache for history failed.
    #[error("cannot fetch more history of {url}")]
    Deepen {
        /// The env repo URL.
        url: String,
        /// Why.
        #[source]
        source: TransportError,
    },
    /// A history walk was still reading when the deadline passed.
    #[error("reading the history of {url} did not finish within {}s", .after.as_secs())]
    Deadline {
        /// The env repo URL.
        url: String,
        /// How long it had read.
        after: Duration,
    },
    /// A commit's parent is missing although the cache holds the whole
    /// history: the cache is damaged (delete it; the next run clones again).
    #[error("commit {commit} of {url}: parent {parent} is missing from the cache {}", .cache.display())]
    MissingParent {
        /// The env repo URL.
        url: String,
        /// The cache directory.
        cache: PathBuf,
        /// The commit whose parent is missing.
        commit: String,
        /// The missing parent.
        parent: String,
    },
}

impl ReadError {
    /// Whether the read ran out of time (its deadline, or the wait for the
    /// cache lock), as opposed to failing.
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Deadline { .. } => true,
            Self::Deepen { source, .. } => source.is_timeout(),
            _ => false,
        }
    }
}

/// [`super::EnvRepo::write_version`] failed; nothing was pushed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The stage's current value could not be read or edited.
    #[error("cannot set {stage}({app}) in {file} to `{value}`")]
    Edit {
        /// The app.
        app: String,
        /// The stage.
        stage: String,
        /// Path of the file in the repo.
        file: String,
        /// The version being written.
        value: String,
        /// Why.
        #[source]
        source: Box<ReadError>,
    },
    /// Writing objects or refs into the cache failed.
    #[error("cannot write the {stage}({app}) commit for `{value}` into the cache")]
    Objects {
        /// The app.
        app: String,
        /// The stage.
        stage: String,
        /// The version being written.
        value: String,
        /// Why.
        #[source]
        source: gix::Error,
    },
    /// Fetching or pushing failed.
    #[error("cannot push {stage}({app}) = `{value}` to branch `{branch}`")]
    Transport {
        /// The app.
        app: String,
        /// The stage.
        stage: String,
        /// The version being written.
        value: String,
        /// The target branch.
        branch: String,
        /// Why.
        #[source]
        source: Box<TransportError>,
    },
    /// Every attempt was rejected because others kept pushing first.
    #[error(
        "push of {stage}({app}) = `{value}` to `{branch}` rejected {attempts} times (last: {last})"
    )]
    Contended {
        /// The app.
        app: String,
        /// The stage.
        stage: String,
        /// The version being written.
        value: String,
        /// The target branch.
        branch: String,
        /// Attempts made.
        attempts: u32,
        /// The last rejection line from git.
        last: String,
    },
    /// The merge-request branch exists but sets the stage to something else.
    #[error(
        "branch `{branch}` exists but sets {stage}({app}) to `{found}`, not `{value}`; refusing to force-push"
    )]
    BranchDiverged {
        /// The app.
        app: String,
        /// The stage.
        stage: String,
        /// The version being written.
        value: String,
        /// The MR branch.
        branch: String,
        /// What the branch holds.
        found: String,
    },
}
