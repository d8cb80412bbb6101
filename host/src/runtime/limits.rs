//! Resource limits of one decide call and the limiter that enforces them.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::ResourceLimiter;

/// Limits applied to every decide call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Fuel (roughly: wasm instructions) per call.
    pub fuel: u64,
    /// Maximum linear memory per instance, in bytes.
    pub memory_bytes: usize,
    /// Maximum elements per table.
    pub table_elements: usize,
    /// Maximum core module instances per component. A component cannot
    /// create instances at run time: its count is fixed by what it declares
    /// and checked when it is compiled, so this ceiling only decides which
    /// components load and never loosens what a loaded policy may do. Rust
    /// policies declare a handful; componentize-py (Python) components 38,
    /// so the ceiling is 64.
    pub instances: usize,
    /// Maximum tables and memories per component (declared, like
    /// `instances`; the Python and JS runtimes need fewer than 16).
    pub tables_and_memories: usize,
    /// Maximum native stack for wasm code, in bytes.
    pub stack_bytes: usize,
    /// Wall-clock deadline per call.
    pub deadline: Duration,
    /// Maximum bytes a call may write through `log` (more is dropped).
    pub log_bytes: usize,
    /// Maximum bytes a call may write to stdout or stderr (more traps).
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 1_000_000_000,
            memory_bytes: 64 << 20,
            table_elements: 100_000,
            instances: 64,
            tables_and_memories: 16,
            stack_bytes: 512 << 10,
            deadline: Duration::from_secs(5),
            log_bytes: 64 << 10,
            output_bytes: 64 << 10,
        }
    }
}

/// Which limit stopped the guest, kept so the trap can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitHit {
    Memory { desired: usize, limit: usize },
    Table { desired: usize, limit: usize },
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory { desired, limit } => {
                write!(
                    f,
                    "memory growth to {desired} bytes over the limit of {limit}"
                )
            }
            Self::Table { desired, limit } => {
                write!(
                    f,
                    "table growth to {desired} elements over the limit of {limit}"
                )
            }
        }
    }
}

impl std::error::Error for LimitHit {}

/// Enforces [`Limits`] and turns a refused growth into a trap that names it.
pub(crate) struct Limiter {
    pub(crate) limits: Limits,
    pub(crate) hit: Option<LimitHit>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.memory_bytes {
            let hit = LimitHit::Memory {
                desired,
                limit: self.limits.memory_bytes,
            };
            self.hit = Some(hit);
            return Err(hit.into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.table_elements {
            let hit = LimitHit::Table {
                desired,
                limit: self.limits.table_elements,
            };
            self.hit = Some(hit);
            return Err(hit.into());
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.limits.instances
    }

    fn tables(&self) -> usize {
        self.limits.tables_and_memories
    }

    fn memories(&self) -> usize {
        self.limits.tables_and_memories
    }
}
