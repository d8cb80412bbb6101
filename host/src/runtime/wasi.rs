//! The deterministic, empty WASI a policy sees.
//!
//! A `wasm32-wasip2` Rust guest imports parts of WASI even if it never uses
//! them (std's runtime pulls in environment, clocks, random, stdio). They are
//! satisfied here without any authority: no environment variables, no
//! arguments, no preopened directories (so every open fails), no network,
//! a wall clock fixed at the Unix epoch, a monotonic clock that never moves,
//! and randomness from a fixed byte cycle. Two runs of the same policy on the
//! same inputs therefore see exactly the same world. Stdout and stderr go to
//! bounded in-memory pipes (stderr carries panic messages).

use std::time::Duration;

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// Wall clock stuck at the Unix epoch: policies must use `baton:policy/clock`.
struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// Monotonic clock that never advances.
struct FixedMonotonicClock;

impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Bytes cycled by the deterministic random sources.
const RANDOM_CYCLE: [u8; 8] = [0x42, 0x61, 0x74, 0x6f, 0x6e, 0x21, 0x5a, 0x17];

/// Captured output of one call: stderr carries panic messages; both are
/// bounded, and a full pipe tells the limit was hit.
pub(crate) struct Outputs {
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
}

impl Outputs {
    /// Is either pipe (nearly) full? A write that does not fit is refused
    /// whole, so "full" means within one typical write of the limit.
    pub(crate) fn full(&self, limit: usize) -> bool {
        let near = limit.saturating_sub(4096);
        self.stdout.contents().len() > near || self.stderr.contents().len() > near
    }
}

/// Builds the WASI context of one decide call.
pub(crate) fn context(output_bytes: usize) -> (WasiCtx, Outputs) {
    let stdout = MemoryOutputPipe::new(output_bytes);
    let stderr = MemoryOutputPipe::new(output_bytes);
    let ctx = WasiCtxBuilder::new()
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .wall_clock(FixedWallClock)
        .monotonic_clock(FixedMonotonicClock)
        .secure_random(Deterministic::new(RANDOM_CYCLE.to_vec()))
        .insecure_random(Deterministic::new(RANDOM_CYCLE.to_vec()))
        .insecure_random_seed(0x4261_746f_6e21)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
        .build();
    (ctx, Outputs { stdout, stderr })
}
