//! [`CommandError`]: what went wrong, kept as the error it is (its cause
//! chain is rendered only when printed), the exit code class it maps to,
//! and hints for the user. Library errors convert with `?`: each `From`
//! impl below decides, in one place, which exit code that kind of failure
//! gets.

use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::ConfigError;
pub use crate::exit::ExitKind;
use crate::report::error_chain;
use crate::secret::redact_all;

/// A boxed error that can cross threads.
type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// An error on its way to the user.
#[derive(Debug)]
pub struct CommandError {
    kind: ExitKind,
    error: BoxError,
    hints: Vec<String>,
}

impl CommandError {
    /// An error of `kind`: a library error, or a message (`String`, `&str`).
    pub fn new(kind: ExitKind, error: impl Into<BoxError>) -> Self {
        Self {
            kind,
            error: error.into(),
            hints: Vec::new(),
        }
    }

    /// Exit 1: the promotion (or the demo) failed.
    pub fn failed(error: impl Into<BoxError>) -> Self {
        Self::new(ExitKind::Failed, error)
    }

    /// Exit 2: usage or configuration error.
    pub fn usage(error: impl Into<BoxError>) -> Self {
        Self::new(ExitKind::Usage, error)
    }

    /// Exit 3: the policy failed.
    pub fn policy(error: impl Into<BoxError>) -> Self {
        Self::new(ExitKind::Policy, error)
    }

    /// Exit 4: an outside system failed.
    pub fn external(error: impl Into<BoxError>) -> Self {
        Self::new(ExitKind::External, error)
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Places the error at `key` of the configuration file `path`, keeping
    /// its exit code class and its cause.
    pub fn at_config_key(self, path: &Path, key: &'static str) -> Self {
        Self {
            kind: self.kind,
            error: Box::new(AtConfigKey {
                path: path.to_path_buf(),
                key,
                source: self.error,
            }),
            hints: self.hints,
        }
    }

    /// The exit code class.
    pub fn kind(&self) -> ExitKind {
        self.kind
    }

    /// The message and its causes on one line.
    pub fn message(&self) -> String {
        error_chain(&*self.error)
    }

    /// Prints to stderr.
    pub fn print(&self) {
        eprintln!("error: {}", redact_all(&self.message()));
        for hint in &self.hints {
            eprintln!("hint: {}", redact_all(hint));
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// An error found while using a value of the configuration file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {key}", .path.display())]
struct AtConfigKey {
    path: PathBuf,
    key: &'static str,
    #[source]
    source: BoxError,
}

impl From<ConfigError> for CommandError {
    fn from(e: ConfigError) -> Self {
        Self::usage(e)
    }
}

impl From<crate::runtime::LoadError> for CommandError {
    /// A missing file or unknown built-in is a usage error; anything about
    /// the component itself is a policy error.
    fn from(e: crate::runtime::LoadError) -> Self {
        use crate::runtime::LoadError;
        let kind = match e {
            LoadError::Read { .. } | LoadError::UnknownBuiltin { .. } => ExitKind::Usage,
            _ => ExitKind::Policy,
        };
        Self::new(kind, e)
    }
}

impl From<crate::capabilities::git::OpenError> for CommandError {
    fn from(e: crate::capabilities::git::OpenError) -> Self {
        Self::external(e)
    }
}

impl From<crate::capabilities::forge::ForgeError> for CommandError {
    fn from(e: crate::capabilities::forge::ForgeError) -> Self {
        Self::external(e)
    }
}

impl From<crate::capabilities::argocd::RequestError> for CommandError {
    fn from(e: crate::capabilities::argocd::RequestError) -> Self {
        Self::external(e)
    }
}

impl From<crate::engine::audit::WriteRecordError> for CommandError {
    fn from(e: crate::engine::audit::WriteRecordError) -> Self {
        Self::external(e)
    }
}

impl From<crate::engine::audit::ReadRecordError> for CommandError {
    fn from(e: crate::engine::audit::ReadRecordError) -> Self {
        Self::usage(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_kept_and_printed_with_its_place() {
        let cause = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = CommandError::usage(cause).at_config_key(Path::new("baton.yaml"), "policy.path");
        assert_eq!(err.kind(), ExitKind::Usage);
        assert_eq!(err.message(), "baton.yaml: policy.path: no such file");
        assert!(err.error.source().is_some());
    }
}
