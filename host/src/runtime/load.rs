//! Loading a policy and running its decide function.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use wasmtime::component::Component;
use wasmtime::{Store, UpdateDeadline};

use super::bindings::{v0_1, v0_2};
use super::compat::{self, ContractError};
use super::engine::{EPOCH_TICK, PolicyRuntime};
use super::error::{DecideError, LoadError};
use super::imports::{ComponentInterfaces, ContractVersion};
use super::limits::{Limiter, Limits};
use super::record::Decided;
use super::store::{Grants, NoWorld, StoreState, World};
use super::trap::classify;
use super::{Context, Decision, Event, PolicyError, PolicyMetadata, wasi};

/// Where a policy comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// A policy embedded in the binary, `builtin:NAME`.
    Builtin(String),
    /// A component file.
    File(PathBuf),
}

/// Built-in policies: name and component bytes.
const BUILTINS: &[(&str, &[u8])] = &[
    ("default", crate::policies::DEFAULT),
    ("slo", crate::policies::SLO),
];

impl PolicySource {
    /// Parses `builtin:NAME` or a path (relative paths resolve against `base`).
    pub fn parse(text: &str, base: &Path) -> Self {
        match text.strip_prefix("builtin:") {
            Some(name) => Self::Builtin(name.to_owned()),
            None => {
                let path = Path::new(text);
                Self::File(if path.is_absolute() {
                    path.to_path_buf()
                } else {
                    base.join(path)
                })
            }
        }
    }

    fn bytes(&self) -> Result<Cow<'static, [u8]>, LoadError> {
        match self {
            Self::Builtin(name) => BUILTINS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, bytes)| Cow::Borrowed(*bytes))
                .ok_or_else(|| LoadError::UnknownBuiltin {
                    name: name.clone(),
                    known: BUILTINS
                        .iter()
                        .map(|(n, _)| format!("builtin:{n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            Self::File(path) => {
                std::fs::read(path)
                    .map(Cow::Owned)
                    .map_err(|source| LoadError::Read {
                        path: path.clone(),
                        source,
                    })
            }
        }
    }
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Builtin(name) => write!(f, "builtin:{name}"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A sha256 digest, shown as `sha256:<hex>`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Digest(String);

impl Digest {
    /// Digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let hash = Sha256::digest(bytes);
        Self(format!("sha256:{}", hex(&hash)))
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        self.0.trim_start_matches("sha256:")
    }

    /// Parses a pin: 64 hex digits, optionally prefixed `sha256:`.
    pub fn parse_pin(pin: &str) -> Result<Self, LoadError> {
        let hex_part = pin
            .trim()
            .trim_start_matches("sha256:")
            .to_ascii_lowercase();
        if hex_part.len() == 64 && hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(format!("sha256:{hex_part}")))
        } else {
            Err(LoadError::BadPin {
                pin: pin.to_owned(),
            })
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A component pre-linked for the world of its contract version.
enum Pre {
    V0_1(v0_1::PromotionPolicyPre<StoreState>),
    V0_2(v0_2::PromotionPolicyPre<StoreState>),
}

impl Pre {
    fn engine(&self) -> &wasmtime::Engine {
        match self {
            Self::V0_1(pre) => pre.engine(),
            Self::V0_2(pre) => pre.engine(),
        }
    }
}

/// A compiled, checked, pre-linked policy, ready for many decide calls.
pub struct LoadedPolicy {
    /// Where it came from.
    pub source: PolicySource,
    /// sha256 of the component bytes.
    pub digest: Digest,
    /// Size in bytes.
    pub size: usize,
    /// Imports and exports.
    pub interfaces: ComponentInterfaces,
    /// Metadata the policy reports.
    pub metadata: PolicyMetadata,
    /// The contract version the policy was built for, as its
    /// `baton:policy/policy` export names it (e.g. `0.1.0`).
    pub wit_version: String,
    /// The implemented contract version it runs against.
    pub contract: ContractVersion,
    /// Whether the compiled code came from the on-disk cache.
    pub from_cache: bool,
    pre: Pre,
    limits: Limits,
}

impl PolicyRuntime {
    /// Loads a policy: digest and pin check, compile (or cache), import and
    /// version checks, pre-linking, metadata.
    pub fn load(
        &self,
        source: &PolicySource,
        pin: Option<&str>,
    ) -> Result<LoadedPolicy, LoadError> {
        let name = source.to_string();
        let bytes = source.bytes()?;
        let digest = Digest::of(&bytes);
        if let Some(pin) = pin {
            let expected = Digest::parse_pin(pin)?;
            if expected != digest {
                return Err(LoadError::DigestMismatch {
                    source_name: name,
                    expected: expected.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        let (component, from_cache) = self.compile(&bytes, digest.hex(), &name)?;
        let (interfaces, contract) = check_interfaces(&component, &self.engine, &name)?;
        let wit_version = interfaces
            .policy_version()
            .unwrap_or(contract.as_str())
            .to_owned();

        let instantiate = |source| LoadError::Instantiate {
            source_name: name.clone(),
            source,
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(instantiate)?;
        let pre = match contract {
            ContractVersion::V0_1 => {
                Pre::V0_1(v0_1::PromotionPolicyPre::new(instance_pre).map_err(instantiate)?)
            }
            ContractVersion::V0_2 => {
                Pre::V0_2(v0_2::PromotionPolicyPre::new(instance_pre).map_err(instantiate)?)
            }
        };

        let mut policy = LoadedPolicy {
            source: source.clone(),
            digest,
            size: bytes.len(),
            interfaces,
            metadata: PolicyMetadata {
                name: String::new(),
                version: String::new(),
                description: String::new(),
                authors: Vec::new(),
            },
            wit_version,
            contract,
            from_cache,
            pre,
            limits: self.limits,
        };
        policy.metadata = policy.read_metadata().map_err(|e| LoadError::Metadata {
            source_name: name.clone(),
            source: Box::new(e),
        })?;
        Ok(policy)
    }
}

/// Checks the component's exports and imports; answers its contract version.
fn check_interfaces(
    component: &Component,
    engine: &wasmtime::Engine,
    name: &str,
) -> Result<(ComponentInterfaces, ContractVersion), LoadError> {
    let interfaces = ComponentInterfaces::of(component, engine);
    let contract = match interfaces.policy_version() {
        None => {
            return Err(LoadError::NotAPolicy {
                source_name: name.to_owned(),
                exports: interfaces.exports.iter().map(ToString::to_string).collect(),
            });
        }
        Some(v) => {
            ContractVersion::implementing(v).ok_or_else(|| LoadError::IncompatibleVersion {
                source_name: name.to_owned(),
                policy_version: v.to_owned(),
                host_versions: ContractVersion::implemented_list(),
            })?
        }
    };
    let missing = interfaces.unoffered();
    if !missing.is_empty() {
        return Err(LoadError::UnofferedImports {
            source_name: name.to_owned(),
            missing: missing.iter().map(ToString::to_string).collect(),
            asked: interfaces.imports.iter().map(ToString::to_string).collect(),
            offered: super::imports::offered(),
        });
    }
    Ok((interfaces, contract))
}

/// Epoch ticks that cover `time` (one more than its whole ticks: the first
/// tick may come at once).
fn ticks(time: Duration) -> u64 {
    u64::try_from(time.as_millis() / EPOCH_TICK.as_millis())
        .unwrap_or(u64::MAX - 1)
        .max(1)
        + 1
}

/// A store and instance for one call.
struct Call {
    store: Store<StoreState>,
    outputs: wasi::Outputs,
    started: Instant,
}

impl LoadedPolicy {
    fn start(
        &self,
        world: Box<dyn World>,
        grants: Grants,
    ) -> Result<Call, (Box<dyn World>, wasmtime::Error)> {
        let started = Instant::now();
        let (wasi, outputs) = wasi::context(self.limits.output_bytes);
        let state = StoreState {
            wasi,
            table: wasmtime::component::ResourceTable::new(),
            limiter: Limiter {
                limits: self.limits,
                hit: None,
            },
            world,
            grants,
            calls: Vec::new(),
            logs: Vec::new(),
            log_bytes: 0,
            logs_dropped: 0,
            host_failure: None,
            host_time: Duration::ZERO,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limiter);
        if let Err(e) = store.set_fuel(self.limits.fuel) {
            return Err((store.into_data().world, e));
        }
        // The deadline bounds the guest's own time: when the epoch deadline
        // passes, the time spent in host calls is given back, and only a
        // guest that has really run for `limit` is interrupted.
        let limit = self.limits.deadline;
        store.set_epoch_deadline(ticks(limit));
        store.epoch_deadline_callback(move |store| {
            let guest = started.elapsed().saturating_sub(store.data().host_time);
            Ok(match limit.checked_sub(guest) {
                Some(left) if !left.is_zero() => UpdateDeadline::Continue(ticks(left)),
                _ => UpdateDeadline::Interrupt,
            })
        });
        Ok(Call {
            store,
            outputs,
            started,
        })
    }

    fn read_metadata(&self) -> Result<PolicyMetadata, DecideError> {
        let mut call = self
            .start(Box::new(NoWorld), Grants::default())
            .map_err(|(_, e)| DecideError::Instantiate(e))?;
        let store = &mut call.store;
        let result = match &self.pre {
            Pre::V0_1(pre) => pre
                .instantiate(&mut *store)
                .and_then(|p| p.baton_policy_policy().call_metadata(&mut *store))
                .map(Into::into),
            Pre::V0_2(pre) => pre
                .instantiate(&mut *store)
                .and_then(|p| p.baton_policy_policy().call_metadata(&mut *store)),
        };
        result.map_err(|e| classify(e, call.store.data(), &call.outputs, &self.limits))
    }

    /// Can this policy be given `ctx`? A policy built for 0.1.0 cannot see
    /// a stage with several targets; the error names the stage and the
    /// policy's contract version. The engine checks this once at setup.
    pub fn check_context(&self, ctx: &Context) -> Result<(), ContractError> {
        compat::check_context(ctx, self.contract)
    }

    /// Calls `decide` on a fresh instance, in the policy's own contract
    /// version: the context and event projected down, the answer lifted up.
    fn call_decide(
        &self,
        store: &mut Store<StoreState>,
        ctx: &Context,
        event: &Event,
    ) -> Result<wasmtime::Result<Result<Decision, PolicyError>>, ContractError> {
        Ok(match &self.pre {
            Pre::V0_2(pre) => pre
                .instantiate(&mut *store)
                .and_then(|p| p.baton_policy_policy().call_decide(&mut *store, ctx, event)),
            Pre::V0_1(pre) => {
                let ctx = compat::context_v0_1(ctx)?;
                let event = compat::event_v0_1(event)?;
                pre.instantiate(&mut *store)
                    .and_then(|p| {
                        p.baton_policy_policy()
                            .call_decide(&mut *store, &ctx, &event)
                    })
                    .map(|r| r.map(Into::into).map_err(Into::into))
            }
        })
    }

    /// Runs one decide call in a fresh store. The world is handed back with
    /// the outcome so the caller can keep using it.
    pub fn decide(
        &self,
        world: Box<dyn World>,
        ctx: &Context,
        event: &Event,
    ) -> (Decided, Box<dyn World>) {
        let mut argocd_apps: Vec<String> = Vec::new();
        for stage in &ctx.stages {
            let apps = std::iter::once(&stage.argocd_app)
                .chain(stage.targets.iter().map(|t| &t.argocd_app));
            for app in apps {
                if !argocd_apps.contains(app) {
                    argocd_apps.push(app.clone());
                }
            }
        }
        let grants = Grants {
            stages: ctx.stages.iter().map(|s| s.name.clone()).collect(),
            argocd_apps,
        };
        let mut call = match self.start(world, grants) {
            Ok(call) => call,
            Err((world, e)) => {
                let decided = Decided {
                    result: Err(DecideError::Instantiate(e)),
                    calls: Vec::new(),
                    logs: Vec::new(),
                    fuel_used: 0,
                    elapsed: Duration::ZERO,
                    host_time: Duration::ZERO,
                };
                return (decided, world);
            }
        };
        let result = match self.call_decide(&mut call.store, ctx, event) {
            Ok(outcome) => {
                outcome.map_err(|e| classify(e, call.store.data(), &call.outputs, &self.limits))
            }
            Err(e) => Err(DecideError::Contract(e)),
        };
        let fuel_used = self
            .limits
            .fuel
            .saturating_sub(call.store.get_fuel().unwrap_or(0));
        let elapsed = call.started.elapsed();
        let state = call.store.into_data();
        let decided = Decided {
            result,
            calls: state.calls,
            logs: state.logs,
            fuel_used,
            elapsed,
            host_time: state.host_time,
        };
        (decided, state.world)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_validated() {
        assert!(Digest::parse_pin("sha256:abc").is_err());
        let hex = "a".repeat(64);
        assert_eq!(
            Digest::parse_pin(&hex).unwrap().to_string(),
            format!("sha256:{hex}")
        );
    }
}
