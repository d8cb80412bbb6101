//! The env repo capability: everything Baton reads from and writes to the
//! GitOps environment repository.
//!
//! The API is synchronous and blocks (git processes, retries' backoff); the
//! engine calls it on a runtime worker inside `tokio::task::block_in_place`.
//! Every fetch and push is bounded by [`OpenOptions::deadline`]. Objects are read and written with gix in
//! a bare cache directory (no working tree); the network goes through the
//! `git` binary, with the token only in `http.extraHeader` via
//! `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`.
//!
//! # Engine-facing API
//!
//! - [`EnvRepo::open`]`(&RepoSource, &OpenOptions)`: clone into
//!   `<cache_root>/<slug>-<hash>` on first use, fetch afterwards.
//!   [`OpenOptions::shallow`] fetches only the tip (enough for writes);
//!   history calls deepen on demand ([`EnvRepo::resolve_deepening`] for a
//!   revision older than the cache). [`EnvRepo::refresh`] fetches again.
//!   Many processes may share a cache: fetches and deepens take the
//!   cache lock ([`lock_path`], waiting [`OpenOptions::lock_wait`]), and
//!   each process reads the tips it fetched itself.
//! - [`EnvRepo::within`]`(deadline, ..)`: bounds fetches, history walks and
//!   lock waits of a call by a deadline (a policy's capability call).
//! - [`EnvRepo::read_file`]`(rev, path)`: a file's bytes at any revision
//!   (branch name, SHA, or any rev-parse expression).
//! - [`EnvRepo::read_version`]`(rev, &StageField)`: a stage's version.
//! - [`EnvRepo::history`]`(rev, &StageField, limit)`: first-parent commits
//!   that changed the stage's value ([`HistoryEntry`]: id, time, author,
//!   old -> new, message, trailers), newest first.
//! - [`EnvRepo::last_good`]`(rev, &StageField)`: the newest earlier value
//!   that no later commit rolled back (`Baton-Rollback-Of`); also
//!   [`last_good_in`] over a loaded history.
//! - [`EnvRepo::changed_stages`]`(from, to, &[StageField])`: for
//!   `baton advance`, which stages changed between two commits, from -> to.
//! - [`EnvRepo::write_version`]`(&WriteRequest, &CommitSettings)`: edit,
//!   commit, push to the branch ([`Target::Branch`]) or to
//!   `baton/<app>/<stage>/<version>` ([`Target::MergeRequest`]); returns
//!   [`WriteOutcome`] (`Committed`, `Unchanged`, `ReusedBranch`).
//!
//! Field kinds ([`FieldSpec`], parsed from text, `Display` round-trips):
//! `helm:image.tag`, `kustomize:<image>` (`newTag`),
//! `kustomize:<image>:newName` and `kustomize:<image>:digest`,
//! `argocd:targetRevision`, `argocd:sources[N].targetRevision`,
//! `yaml:a.b[name=x].c[0]`; a document selector for multi-document files is
//! written `<kind>[N]:...`. What the field holds is its [`ValueTemplate`]:
//! the version, only a digest (the default for `...:digest` fields), or a
//! template such as `ghcr.io/acme/app:{version}@{digest}`.
//!
//! The pure YAML layer is public too: [`read_field`] / [`read_value`] /
//! [`set_field`] / [`set_value`] work on bytes (used by `--dry-run`
//! previews and tests).

mod error;
mod field;
mod group;
mod history;
mod locate;
mod lock;
mod paths;
mod repo;
mod scalar;
mod shallow;
mod trailers;
mod transport;
mod value;
mod write;
mod yaml;

pub use error::{FieldError, OpenError, ReadError, TransportError, WriteError};
pub use field::{FieldKind, FieldSpec, FieldSpecError, KustomizeKey, Segment};
pub use history::{DeploymentState, HistoryEntry, LastGood, StageChange, last_good_in};
pub use lock::{DEFAULT_LOCK_WAIT, LockError, LockProgress, lock_path};
pub use repo::{EnvRepo, OpenOptions, RepoSource, StageField, cache_dir_for, default_cache_root};
pub use scalar::Style;
pub use trailers::{
    DEFAULT_TEMPLATE, DIGEST, Identity, POLICY, Provenance, ROLLBACK_OF, RUN, Trailer,
    parse_trailers, render_message,
};
pub use value::{StageValue, TemplateError, ValueError, ValueTemplate};
pub use write::{
    CommitSettings, Target, WriteOutcome, WriteRequest, mr_branch_name, rollback_branch_name,
};
pub(crate) use yaml::offset_of;
pub use yaml::{Edited, MAX_FILE_SIZE, read_field, read_value, set_field, set_value};
