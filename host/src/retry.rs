//! The one retry loop of every transport (git fetch and push, the Argo CD
//! client, the forge clients): a [`RetryPolicy`] (how many attempts, how long
//! to back off) bounded by a [`Deadline`] the caller passes in.
//!
//! Each transport decides what is transient (a 5xx, a refused connection, a
//! rejected push) and what the last failure becomes; this module decides
//! when to try again:
//! - no attempt starts once the deadline has passed;
//! - a backoff sleep never sleeps past the deadline: when the delay would
//!   reach it, the loop stops with the last result instead;
//! - each attempt is told the time left ([`Attempt::timeout`]), so a request
//!   timeout never outlasts the deadline either.
//!
//! [`run`] drives an async operation on tokio's clock, [`run_blocking`] a
//! blocking one on the thread. Both are the same state machine ([`Run`]),
//! which is tested on its own with a fake clock.
//!
//! A run cancelled by SIGTERM ends every wait at once: [`cancel`] makes
//! every deadline pass, interrupts the request an async [`run`] is
//! waiting for, and the git transport kills the process it waits for.

use std::future::Future;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// A cancellation flag that waiters can also sleep on.
#[derive(Debug, Default)]
pub struct Cancel {
    flag: AtomicBool,
    notify: Notify,
}

impl Cancel {
    /// Raises the flag and wakes every waiter.
    pub fn raise(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether the flag is up.
    pub fn is_raised(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Resolves once the flag is up.
    pub async fn raised(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }
}

/// The process's cancellation: raised by SIGTERM or Ctrl-C.
static PROCESS: LazyLock<Cancel> = LazyLock::new(Cancel::default);

/// Cancels everything this process waits for: every [`Deadline`] passes.
pub fn cancel() {
    PROCESS.raise();
}

/// Whether the process was cancelled.
pub fn cancelled() -> bool {
    PROCESS.is_raised()
}

/// Resolves once the process is cancelled.
pub async fn until_cancelled() {
    PROCESS.raised().await;
}

/// How a backoff delay is spread around the exponential curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the exponential delay.
    None,
    /// A random delay between half the base delay and the exponential delay,
    /// so that processes contending for one resource (writers pushing to one
    /// branch) do not retry in lockstep.
    Spread,
}

/// How often to try and how long to wait in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; at least one is always allowed.
    pub attempts: u32,
    /// The delay after the first failed attempt, doubled after each further
    /// failure.
    pub base: Duration,
    /// The longest single delay.
    pub cap: Duration,
    /// How the delay is spread.
    pub jitter: Jitter,
}

impl RetryPolicy {
    /// The exponential delay after `failed` failed attempts (from 1):
    /// `base * 2^(failed-1)`, at most `cap`.
    pub fn ceiling(&self, failed: u32) -> Duration {
        let shift = failed.saturating_sub(1).min(16);
        self.base.saturating_mul(1u32 << shift).min(self.cap)
    }

    /// The delay before the next attempt after `failed` failed attempts,
    /// jittered as the policy says; never more than [`Self::ceiling`].
    pub fn delay(&self, failed: u32) -> Duration {
        let ceiling = self.ceiling(failed);
        match self.jitter {
            Jitter::None => ceiling,
            Jitter::Spread => {
                let floor = (self.base / 2).min(ceiling);
                let span = ceiling.saturating_sub(floor).as_millis() as u64;
                floor + Duration::from_millis(fastrand::u64(0..=span))
            }
        }
    }

    fn max_attempts(&self) -> u32 {
        self.attempts.max(1)
    }
}

/// The point in time after which nothing more may be started: a run's or a
/// gate's deadline. [`Deadline::NONE`] never passes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline: only the retry policy bounds the work.
    pub const NONE: Self = Self(None);

    /// A deadline at `when`.
    pub fn at(when: Instant) -> Self {
        Self(Some(when))
    }

    /// A deadline `duration` from now (none if that is beyond what an
    /// [`Instant`] can hold).
    pub fn after(duration: Duration) -> Self {
        Self(Instant::now().checked_add(duration))
    }

    /// The instant, if there is a deadline.
    pub fn instant(self) -> Option<Instant> {
        self.0
    }

    /// Time left at `now`: `None` without a deadline, zero once it passed
    /// (or once the process is cancelled).
    pub fn left_at(self, now: Instant) -> Option<Duration> {
        if cancelled() {
            return Some(Duration::ZERO);
        }
        self.0.map(|end| end.saturating_duration_since(now))
    }

    /// Time left now (see [`Self::left_at`]).
    pub fn left(self) -> Option<Duration> {
        self.left_at(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn passed(self) -> bool {
        self.left() == Some(Duration::ZERO)
    }

    /// `timeout`, shortened to the time left.
    pub fn bound(self, timeout: Duration) -> Duration {
        self.left().map_or(timeout, |left| left.min(timeout))
    }
}

impl From<Option<Instant>> for Deadline {
    fn from(when: Option<Instant>) -> Self {
        Self(when)
    }
}

/// One attempt about to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Its number, from 1.
    pub number: u32,
    /// Time left until the deadline when it starts (`None`: no deadline).
    pub time_left: Option<Duration>,
}

impl Attempt {
    /// The attempt's timeout: `configured`, shortened to the time left.
    pub fn timeout(&self, configured: Duration) -> Duration {
        self.time_left
            .map_or(configured, |left| left.min(configured))
    }
}

/// How a retried operation ended: the result of its last attempt (a
/// success, a final failure, or a transient failure with no attempt or no
/// time left) and how many attempts were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished<R> {
    /// The last attempt's result.
    pub result: R,
    /// Attempts made, at least 1.
    pub attempts: u32,
}

/// The deadline had passed before the first attempt could start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the deadline passed before the first attempt could start")]
pub struct Expired;

/// Retries the async `op` while `transient` says its result is worth
/// another attempt, within `policy` and `deadline`. Sleeps on tokio's clock.
pub async fn run<R, F, Fut>(
    policy: RetryPolicy,
    deadline: Deadline,
    mut op: F,
    transient: impl Fn(&R) -> bool,
) -> Result<Finished<R>, Expired>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = R>,
{
    let now = || tokio::time::Instant::now().into_std();
    let mut run = Run::new(policy, deadline);
    loop {
        match run.next(now()) {
            Step::Attempt(attempt) => {
                let result = tokio::select! {
                    result = op(attempt) => result,
                    () = until_cancelled() => return run.finish(),
                };
                let again = transient(&result);
                run.record(result, again);
            }
            Step::Sleep(delay) => tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = until_cancelled() => return run.finish(),
            },
            Step::Done => return run.finish(),
        }
    }
}

/// Retries the blocking `op` while `transient` says its result is worth
/// another attempt, within `policy` and `deadline`. Sleeps on this thread.
pub fn run_blocking<R>(
    policy: RetryPolicy,
    deadline: Deadline,
    op: impl FnMut(Attempt) -> R,
    transient: impl Fn(&R) -> bool,
) -> Result<Finished<R>, Expired> {
    drive_blocking(
        Run::new(policy, deadline),
        Instant::now,
        std::thread::sleep,
        op,
        transient,
    )
}

fn drive_blocking<R>(
    mut run: Run<R>,
    now: impl Fn() -> Instant,
    sleep: impl Fn(Duration),
    mut op: impl FnMut(Attempt) -> R,
    transient: impl Fn(&R) -> bool,
) -> Result<Finished<R>, Expired> {
    loop {
        match run.next(now()) {
            Step::Attempt(attempt) => {
                let result = op(attempt);
                let again = transient(&result);
                run.record(result, again);
            }
            Step::Sleep(delay) => sleep(delay),
            Step::Done => return run.finish(),
        }
    }
}

/// What the driver does next.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Start this attempt.
    Attempt(Attempt),
    /// Back off this long, then ask again.
    Sleep(Duration),
    /// Stop: [`Run::finish`] has the outcome.
    Done,
}

/// The retry loop as a state machine over an injected clock.
#[derive(Debug)]
struct Run<R> {
    policy: RetryPolicy,
    deadline: Deadline,
    made: u32,
    last: Option<R>,
    transient: bool,
    slept: bool,
}

impl<R> Run<R> {
    fn new(policy: RetryPolicy, deadline: Deadline) -> Self {
        Self {
            policy,
            deadline,
            made: 0,
            last: None,
            transient: false,
            slept: false,
        }
    }

    fn next(&mut self, now: Instant) -> Step {
        let left = self.deadline.left_at(now);
        if left == Some(Duration::ZERO) {
            return Step::Done;
        }
        if self.made == 0 || self.slept {
            self.slept = false;
            self.made += 1;
            return Step::Attempt(Attempt {
                number: self.made,
                time_left: left,
            });
        }
        if !self.transient || self.made >= self.policy.max_attempts() {
            return Step::Done;
        }
        let delay = self.policy.delay(self.made);
        if left.is_some_and(|left| delay >= left) {
            tracing::debug!(
                attempt = self.made,
                ?delay,
                "no time left to retry before the deadline"
            );
            return Step::Done;
        }
        tracing::debug!(attempt = self.made, ?delay, "transient failure, retrying");
        self.slept = true;
        Step::Sleep(delay)
    }

    fn record(&mut self, result: R, transient: bool) {
        self.last = Some(result);
        self.transient = transient;
    }

    fn finish(self) -> Result<Finished<R>, Expired> {
        match self.last {
            Some(result) => Ok(Finished {
                result,
                attempts: self.made,
            }),
            None => Err(Expired),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use super::*;

    #[tokio::test]
    async fn a_raised_cancel_wakes_its_waiters() {
        let cancel = std::sync::Arc::new(Cancel::default());
        let waiter = tokio::spawn({
            let cancel = cancel.clone();
            async move { cancel.raised().await }
        });
        tokio::task::yield_now().await;
        assert!(!cancel.is_raised());
        cancel.raise();
        waiter.await.expect("the waiter ends");
        assert!(cancel.is_raised());
        // Raised stays raised: a later waiter returns at once.
        cancel.raised().await;
    }

    const MS: Duration = Duration::from_millis(1);

    /// What a test's retried operation returns: success or failure number.
    type Outcome = Result<Finished<Result<u32, u32>>, Expired>;

    fn policy(attempts: u32, jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            attempts,
            base: 100 * MS,
            cap: 1000 * MS,
            jitter,
        }
    }

    /// A clock that only moves when the code under test sleeps or an
    /// attempt takes time.
    struct FakeClock {
        now: Cell<Instant>,
        sleeps: RefCell<Vec<Duration>>,
    }

    impl FakeClock {
        fn new(start: Instant) -> Self {
            Self {
                now: Cell::new(start),
                sleeps: RefCell::new(Vec::new()),
            }
        }

        fn advance(&self, by: Duration) {
            self.now.set(self.now.get() + by);
        }

        fn run(
            &self,
            policy: RetryPolicy,
            deadline: Deadline,
            attempt_takes: Duration,
            mut outcome: impl FnMut(u32) -> Result<u32, u32>,
        ) -> (Outcome, Vec<Attempt>) {
            let mut seen = Vec::new();
            let finished = drive_blocking(
                Run::new(policy, deadline),
                || self.now.get(),
                |d| {
                    self.sleeps.borrow_mut().push(d);
                    self.advance(d);
                },
                |attempt| {
                    seen.push(attempt);
                    self.advance(attempt_takes);
                    outcome(attempt.number)
                },
                Result::is_err,
            );
            (finished, seen)
        }
    }

    #[test]
    fn attempts_are_bounded_and_the_last_failure_is_returned() {
        let clock = FakeClock::new(Instant::now());
        let (finished, seen) = clock.run(policy(4, Jitter::None), Deadline::NONE, MS, Err);
        assert_eq!(
            finished,
            Ok(Finished {
                result: Err(4),
                attempts: 4
            })
        );
        assert_eq!(seen.len(), 4);
        assert!(seen.iter().all(|a| a.time_left.is_none()));
        assert_eq!(*clock.sleeps.borrow(), [100 * MS, 200 * MS, 400 * MS]);
    }

    #[test]
    fn a_final_result_stops_at_once() {
        let clock = FakeClock::new(Instant::now());
        let (finished, _) = clock.run(policy(5, Jitter::Spread), Deadline::NONE, MS, |n| {
            if n == 2 { Ok(n) } else { Err(n) }
        });
        assert_eq!(
            finished,
            Ok(Finished {
                result: Ok(2),
                attempts: 2
            })
        );
        let (finished, _) = clock.run(policy(0, Jitter::None), Deadline::NONE, MS, Err);
        assert_eq!(
            finished.map(|f| f.attempts),
            Ok(1),
            "one attempt always allowed"
        );
    }

    #[test]
    fn no_sleep_reaches_past_the_deadline_and_attempts_see_the_time_left() {
        let start = Instant::now();
        let clock = FakeClock::new(start);
        let deadline = Deadline::at(start + 450 * MS);
        // Attempts take 10 ms: fail at 10, sleep 100, fail at 120, sleep
        // 200, fail at 330; a 400 ms sleep would end past 450: stop there.
        let (finished, seen) = clock.run(policy(10, Jitter::None), deadline, 10 * MS, Err);
        assert_eq!(
            finished,
            Ok(Finished {
                result: Err(3),
                attempts: 3
            })
        );
        assert_eq!(*clock.sleeps.borrow(), [100 * MS, 200 * MS]);
        let left: Vec<Option<Duration>> = seen.iter().map(|a| a.time_left).collect();
        assert_eq!(left, [Some(450 * MS), Some(340 * MS), Some(130 * MS)]);
        assert_eq!(seen[2].timeout(Duration::from_secs(30)), 130 * MS);
        assert!(clock.now.get() <= start + 450 * MS);
    }

    #[test]
    fn nothing_starts_after_the_deadline() {
        let start = Instant::now();
        let clock = FakeClock::new(start);
        let (finished, seen) = clock.run(policy(3, Jitter::None), Deadline::at(start), MS, Ok);
        assert_eq!(finished, Err(Expired));
        assert!(seen.is_empty());

        // An attempt that overruns the deadline is not followed by another.
        let (finished, seen) = clock.run(
            policy(3, Jitter::None),
            Deadline::at(start + 50 * MS),
            60 * MS,
            Err,
        );
        assert_eq!(finished.map(|f| f.attempts), Ok(1));
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_within_it() {
        let exact = policy(20, Jitter::None);
        let delays: Vec<Duration> = (1..=6).map(|n| exact.delay(n)).collect();
        assert_eq!(
            delays,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
        assert_eq!(exact.ceiling(u32::MAX), 1000 * MS);
        let spread = policy(20, Jitter::Spread);
        for failed in 1..=8 {
            for _ in 0..50 {
                let d = spread.delay(failed);
                assert!(
                    d >= 50 * MS && d <= spread.ceiling(failed),
                    "{failed}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn the_async_driver_honours_the_deadline_on_tokios_clock() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let calls = Cell::new(0u32);
        let calls = &calls;
        let finished = rt.block_on(run(
            RetryPolicy {
                attempts: 5,
                base: Duration::ZERO,
                cap: Duration::ZERO,
                jitter: Jitter::None,
            },
            Deadline::after(Duration::from_secs(60)),
            |attempt| {
                calls.set(attempt.number);
                let left = attempt.time_left;
                async move { left.map(|l| l > Duration::ZERO) }
            },
            |r| *r == Some(true),
        ));
        assert_eq!(finished.map(|f| f.attempts), Ok(5));
        assert_eq!(calls.get(), 5);
        let expired = rt.block_on(run(
            policy(3, Jitter::None),
            Deadline::at(Instant::now()),
            move |_| async move { calls.set(99) },
            |_| true,
        ));
        assert_eq!(expired, Err(Expired));
        assert_eq!(calls.get(), 5, "no attempt after the deadline");
    }

    #[test]
    fn deadline_bounds_timeouts() {
        assert_eq!(Deadline::NONE.bound(30 * MS), 30 * MS);
        assert!(!Deadline::NONE.passed());
        assert!(Deadline::after(Duration::from_secs(3600)).bound(30 * MS) == 30 * MS);
        assert!(
            Deadline::after(Duration::from_secs(3600)).bound(Duration::from_secs(7200))
                <= Duration::from_secs(3600)
        );
        assert!(Deadline::at(Instant::now()).passed());
        let start = Instant::now();
        assert_eq!(Deadline::at(start + 5 * MS).left_at(start), Some(5 * MS));
        assert_eq!(
            Deadline::at(start).left_at(start + MS),
            Some(Duration::ZERO)
        );
    }
}
