//! Panics of guests written in languages other than Rust.
//!
//! A Rust guest prints its panic to stderr before it traps. The Python and
//! JavaScript components Baton accepts have no stderr (their WASI imports
//! are stubbed out or disabled at build time), so their SDKs report an
//! uncaught exception through `baton:policy/log` instead, at `error` level
//! as `panic: <type>: <message> (at <file>:<line>)`, and then trap. Such a
//! trap is the same kind of failure as a Rust panic and is reported as one.

use super::record::LogEntry;

/// The prefix the Python and JavaScript SDKs give the message.
pub(crate) const PANIC_PREFIX: &str = "panic: ";

/// The message of the panic a guest reported before it trapped, if any:
/// the last `error`-level log entry with the panic prefix.
pub(crate) fn reported(logs: &[LogEntry]) -> Option<String> {
    logs.iter()
        .rev()
        .find(|l| l.level == "error" && l.message.starts_with(PANIC_PREFIX))
        .map(|l| l.message[PANIC_PREFIX.len()..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(level: &str, message: &str) -> LogEntry {
        LogEntry {
            level: level.into(),
            message: message.into(),
        }
    }

    #[test]
    fn the_last_error_with_the_prefix_is_the_panic() {
        let logs = [
            entry("error", "panic: first"),
            entry("info", "panic: not an error"),
            entry("error", "panic: ValueError: boom (at policy.py:3)"),
            entry("error", "something else"),
        ];
        assert_eq!(
            reported(&logs).as_deref(),
            Some("ValueError: boom (at policy.py:3)")
        );
        assert_eq!(reported(&[entry("warn", "panic: x")]), None);
        assert_eq!(reported(&[]), None);
    }
}
