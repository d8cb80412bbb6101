//! Fault injection, adjustable while the simulator runs.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::config::FaultConfig;

/// Live fault switches (see [`FaultConfig`] for the meaning of each).
#[derive(Debug, Default)]
pub struct Faults {
    fail_next: AtomicU32,
    unauthorized: AtomicBool,
    delay_ms: AtomicU64,
    /// 0 = never drop.
    stream_drop_after: AtomicU32,
    stream_error_frame: AtomicBool,
    stream_unavailable: AtomicBool,
}

impl Faults {
    pub(crate) fn from_config(c: &FaultConfig) -> Self {
        let f = Self::default();
        f.fail_next(c.fail_next);
        f.set_unauthorized(c.unauthorized);
        f.set_delay(Duration::from_millis(c.delay_ms));
        f.set_stream_drop_after(c.stream_drop_after);
        f.set_stream_error_frame(c.stream_error_frame);
        f.set_stream_unavailable(c.stream_unavailable);
        f
    }

    /// The next `n` requests answer 503.
    pub fn fail_next(&self, n: u32) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every request answers 401 while set.
    pub fn set_unauthorized(&self, on: bool) {
        self.unauthorized.store(on, Ordering::SeqCst);
    }

    /// Delays every response.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Closes every watch stream after `n` events (`None`: never).
    pub fn set_stream_drop_after(&self, n: Option<u32>) {
        self.stream_drop_after
            .store(n.unwrap_or(0), Ordering::SeqCst);
    }

    /// Sends a `{"error":…}` frame before dropping a stream.
    pub fn set_stream_error_frame(&self, on: bool) {
        self.stream_error_frame.store(on, Ordering::SeqCst);
    }

    /// The watch endpoint answers 501 while set.
    pub fn set_stream_unavailable(&self, on: bool) {
        self.stream_unavailable.store(on, Ordering::SeqCst);
    }

    /// Consumes one injected 5xx, if any is left.
    pub(crate) fn take_failure(&self) -> bool {
        self.fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    pub(crate) fn unauthorized(&self) -> bool {
        self.unauthorized.load(Ordering::SeqCst)
    }

    pub(crate) fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Ordering::SeqCst))
    }

    pub(crate) fn stream_drop_after(&self) -> Option<u32> {
        Some(self.stream_drop_after.load(Ordering::SeqCst)).filter(|n| *n > 0)
    }

    pub(crate) fn stream_error_frame(&self) -> bool {
        self.stream_error_frame.load(Ordering::SeqCst)
    }

    pub(crate) fn stream_unavailable(&self) -> bool {
        self.stream_unavailable.load(Ordering::SeqCst)
    }
}
