//! From a failed decide or metadata call to the typed error that names
//! its cause: a host-call failure, an exhausted limit, the guest's panic
//! message with its backtrace, or the raw trap.

use wasmtime::{Trap, WasmBacktrace};

use super::error::DecideError;
use super::limits::{LimitHit, Limits};
use super::store::StoreState;
use super::wasi::Outputs;

/// Maps a failed call to the typed error that names its cause.
pub(crate) fn classify(
    error: wasmtime::Error,
    state: &StoreState,
    outputs: &Outputs,
    limits: &Limits,
) -> DecideError {
    if let Some(message) = &state.host_failure {
        return DecideError::HostCall {
            message: message.clone(),
        };
    }
    if let Some(hit) = state.limiter.hit {
        return match hit {
            LimitHit::Memory { desired, limit } => DecideError::Memory { desired, limit },
            LimitHit::Table { desired, limit } => DecideError::Table { desired, limit },
        };
    }
    let backtrace = error
        .downcast_ref::<WasmBacktrace>()
        .map(|b| format!("guest backtrace:\n{b}"))
        .unwrap_or_default();
    let stderr = String::from_utf8_lossy(&outputs.stderr.contents()).into_owned();
    // A full stdout/stderr pipe reaches the guest as a write error, which
    // Rust's `print!` turns into a panic: report the limit, not the panic.
    if outputs.full(limits.output_bytes) || stderr.contains("failed printing to std") {
        return DecideError::Output {
            limit: limits.output_bytes,
        };
    }
    // Python and JS guests log their uncaught exception, then trap.
    let guest_panic = super::guest_panic::reported(&state.logs);
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => DecideError::OutOfFuel { limit: limits.fuel },
        Some(Trap::Interrupt) => DecideError::Deadline {
            limit: limits.deadline,
        },
        Some(Trap::StackOverflow) => DecideError::StackOverflow {
            limit: limits.stack_bytes,
            backtrace,
        },
        Some(Trap::UnreachableCodeReached) if stderr.contains("panicked") => DecideError::Panic {
            message: panic_message(&stderr),
            backtrace,
        },
        Some(Trap::UnreachableCodeReached) if guest_panic.is_some() => DecideError::Panic {
            message: guest_panic.unwrap_or_default(),
            backtrace,
        },
        trap => DecideError::Trap {
            trap: trap.map_or_else(|| error.to_string(), ToString::to_string),
            backtrace,
        },
    }
}

/// The panic text from Rust's default hook output: `thread '..' panicked
/// at FILE:LINE:COL:\nMESSAGE\nnote: ...`.
fn panic_message(stderr: &str) -> String {
    let after = stderr
        .split_once("panicked at ")
        .map_or(stderr, |(_, rest)| rest);
    let (location, message) = after.split_once(":\n").unwrap_or(("", after));
    let message: Vec<&str> = message
        .lines()
        .take_while(|l| !l.starts_with("note: "))
        .collect();
    let message = message.join("\n");
    if location.is_empty() {
        message.trim().to_owned()
    } else {
        format!("{} (at {location})", message.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_text_is_extracted() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:49:24:\npolicy bug: x\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(stderr), "policy bug: x (at src/lib.rs:49:24)");
    }
}
