//! `CommandError`: what went wrong, the exit code it maps to, and hints.

use std::fmt;

/// The documented exit-code classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// 1: the promotion failed (gate, rollback, policy said fail).
    Failed,
    /// 2: usage or configuration error.
    Usage,
    /// 3: the policy failed (trap, limit, invalid decision, digest).
    Policy,
    /// 4: an outside system failed after retries.
    External,
    /// 5: a guardrail refused an action.
    Guardrail,
}

impl ExitKind {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Failed => 1,
            Self::Usage => 2,
            Self::Policy => 3,
            Self::External => 4,
            Self::Guardrail => 5,
        }
    }
}

/// An error on its way to the user.
#[derive(Debug)]
pub struct CommandError {
    /// Exit-code class.
    pub kind: ExitKind,
    /// The message, with its causes.
    pub message: String,
    /// Suggestions printed after the message.
    pub hints: Vec<String>,
}

impl CommandError {
    /// An error of `kind` whose message is `error` and its source chain.
    pub fn new(kind: ExitKind, error: &dyn std::error::Error) -> Self {
        Self {
            kind,
            message: crate::report::error_chain(error),
            hints: Vec::new(),
        }
    }

    /// An error from a plain message.
    pub fn msg(kind: ExitKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Prints to stderr.
    pub fn print(&self) {
        eprintln!("error: {}", self.message);
        for hint in &self.hints {
            eprintln!("hint: {hint}");
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
