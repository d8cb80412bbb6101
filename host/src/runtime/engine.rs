//! The wasmtime engine shared by every policy of a process: configuration,
//! the epoch ticker behind the wall-clock deadline, the linker with Baton's
//! interfaces (of every implemented contract version) and WASI, and the
//! on-disk compilation cache.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Strategy,
};

use super::bindings::{v0_1, v0_2};
use super::error::LoadError;
use super::limits::Limits;
use super::store::StoreState;

/// Granularity of the wall-clock deadline.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Compiles, caches and links policies. Create one per process.
pub struct PolicyRuntime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<StoreState>,
    pub(crate) limits: Limits,
    cache_dir: Option<PathBuf>,
}

impl PolicyRuntime {
    /// A runtime with the given limits; `cache_dir` enables the on-disk
    /// cache of compiled policies.
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(limits.stack_bytes)
            .strategy(compiler())
            .cranelift_opt_level(OptLevel::Speed)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool(&limits)));
        let engine = Engine::new(&config)?;
        start_epoch_ticker(&engine);

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        // Every implemented contract version's imports: their interface
        // names carry the version, so they sit side by side.
        v0_1::PromotionPolicy::add_to_linker::<StoreState, HasSelf<StoreState>>(
            &mut linker,
            |s| s,
        )?;
        v0_2::PromotionPolicy::add_to_linker::<StoreState, HasSelf<StoreState>>(
            &mut linker,
            |s| s,
        )?;

        Ok(Self {
            engine,
            linker,
            limits,
            cache_dir,
        })
    }

    /// The limits applied to every decide call.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles `bytes`, through the cache when one is configured. Returns
    /// the component and whether it came from the cache.
    pub(crate) fn compile(
        &self,
        bytes: &[u8],
        digest_hex: &str,
        source_name: &str,
    ) -> Result<(Component, bool), LoadError> {
        let compile = || {
            Component::new(&self.engine, bytes).map_err(|source| LoadError::Compile {
                source_name: source_name.to_owned(),
                source,
            })
        };
        let Some(dir) = &self.cache_dir else {
            return compile().map(|c| (c, false));
        };
        let path = dir.join(format!(
            "{digest_hex}-{:016x}.cwasm",
            self.compatibility_hash()
        ));
        if let Some(component) = self.load_cached(&path) {
            return Ok((component, true));
        }
        // Jobs started together on one runner would each compile the same
        // policy: one compiles, the others wait and load what it stored.
        let _turn = compile_turn(dir);
        if let Some(component) = self.load_cached(&path) {
            return Ok((component, true));
        }
        let component = compile()?;
        if let Err(e) = store_cached(&path, &component) {
            tracing::warn!("cannot write policy cache {}: {e}", path.display());
        }
        Ok((component, false))
    }

    fn compatibility_hash(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        hasher.finish()
    }

    #[allow(unsafe_code)]
    fn load_cached(&self, path: &Path) -> Option<Component> {
        if !path.is_file() {
            return None;
        }
        // SAFETY: the file was written by `store_cached` from a component
        // this engine configuration compiled; its name carries the policy
        // digest and the engine compatibility hash, and wasmtime verifies
        // the header against the engine before use. The cache directory is
        // the user's own, as trusted as the baton binary itself.
        match unsafe { Component::deserialize_file(&self.engine, path) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!("ignoring unusable policy cache {}: {e}", path.display());
                None
            }
        }
    }
}

/// The compiler: Winch, wasmtime's single-pass baseline compiler, where it
/// is available (x86-64, Tier 1 there), else Cranelift. A `baton` process
/// loads one policy and makes a handful of decide calls, so compile time is
/// what a run waits for: Winch compiles the default policy about four times
/// faster (see the runtime bench), while a decide call, dominated by
/// instantiation, is about as fast with either. Fuel metering, epoch
/// deadlines and stack limits work the same with both.
fn compiler() -> Strategy {
    if cfg!(target_arch = "x86_64") {
        Strategy::Winch
    } else {
        Strategy::Cranelift
    }
}

/// Instances come from a small pre-reserved pool sized by the limits: a
/// fresh store per decide call then costs a slot reuse, not fresh mappings.
/// Decide calls run one at a time, so a few slots suffice.
fn pool(limits: &Limits) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(8)
        .total_core_instances(8 * limits.instances as u32)
        .total_memories(8 * limits.tables_and_memories as u32)
        .total_tables(8 * limits.tables_and_memories as u32)
        .max_memories_per_component(limits.tables_and_memories as u32)
        .max_tables_per_component(limits.tables_and_memories as u32)
        .max_core_instances_per_component(limits.instances as u32)
        .max_memory_size(limits.memory_bytes)
        .table_elements(limits.table_elements)
        // Policies run synchronously, on no fiber stack: the default of
        // 1,000 stacks made every process map and guard a thousand stacks
        // it never uses, then unmap them at exit.
        .total_stacks(1);
    pool
}

/// The longest a process waits for another's compilation before compiling
/// the policy itself.
const COMPILE_WAIT: Duration = Duration::from_secs(120);

/// The turn to compile into the cache `dir`: an OS file lock on the
/// directory itself (no lock file; the kernel releases it when its holder
/// dies), held until dropped. `None` when the directory cannot be locked,
/// or after [`COMPILE_WAIT`]: the policy is then compiled regardless, as
/// it was without a cache.
fn compile_turn(dir: &Path) -> Option<std::fs::File> {
    let started = std::time::Instant::now();
    let taken = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::File::open(dir))
        .map_err(crate::flock::Waited::Failed)
        .and_then(|file| crate::flock::lock_until(file, started, started + COMPILE_WAIT, None));
    match taken {
        Ok(file) => Some(file),
        Err(crate::flock::Waited::Out(_)) => {
            tracing::warn!(dir = %dir.display(), "another baton has been compiling into the policy cache for {}s; compiling here too", COMPILE_WAIT.as_secs());
            None
        }
        Err(crate::flock::Waited::Failed(err)) => {
            tracing::debug!(%err, dir = %dir.display(), "compiling without waiting for others");
            None
        }
    }
}

fn store_cached(path: &Path, component: &Component) -> std::io::Result<()> {
    let bytes = component.serialize().map_err(std::io::Error::other)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile_in(dir, path)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// A sibling temp name, so a concurrent reader never sees half a file.
fn tempfile_in(dir: &Path, path: &Path) -> std::io::Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(dir.join(format!(".{name}.{}.tmp", std::process::id())))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is
/// dropped; stores turn a passed deadline into a trap.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("baton-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the policy deadline ticker: {e}; deadlines are not enforced");
    }
}
