//! What a component asks for and what Baton offers: parsed interface names,
//! the offered set, and the contract versions the host implements
//! ([`WIT_VERSIONS`], defined here once).

use std::fmt;

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Component;

/// The contract's WIT package.
pub const WIT_PACKAGE: &str = "baton:policy";

/// A version of the contract this host implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ContractVersion {
    /// `baton:policy@0.1.0`, frozen in `wit/compat/0.1.0/`.
    V0_1,
    /// `baton:policy@0.2.0`, the current contract in `wit/`.
    V0_2,
}

/// Every contract version the host implements, oldest first: the one place
/// they are listed. A test checks it against `wit/world.wit`, the frozen
/// copies and the SDK's `WIT_VERSION`.
pub const WIT_VERSIONS: &[ContractVersion] = &[ContractVersion::V0_1, ContractVersion::V0_2];

/// The current contract version (`wit/world.wit`): the newest implemented.
pub const WIT_VERSION: &str = ContractVersion::CURRENT.as_str();

impl ContractVersion {
    /// The current contract (`wit/`), whose types the engine uses.
    pub const CURRENT: Self = Self::V0_2;

    /// The full version, e.g. `0.2.0`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V0_1 => "0.1.0",
            Self::V0_2 => "0.2.0",
        }
    }

    /// The Baton interfaces a policy built for this version may import.
    fn interfaces(self) -> &'static [&'static str] {
        match self {
            Self::V0_1 => &["types", "git", "argocd", "forge", "clock", "log"],
            Self::V0_2 => &["types", "git", "argocd", "forge", "clock", "log", "metrics"],
        }
    }

    /// The implemented version a policy built for `version` runs against,
    /// by semver: the same major, and for 0.x the same minor (a policy
    /// built for 0.1.3 runs as 0.1). `None` for any other version.
    pub fn implementing(version: &str) -> Option<Self> {
        let (major, minor) = major_minor(version)?;
        WIT_VERSIONS.iter().copied().find(|v| {
            let (ours_major, ours_minor) =
                major_minor(v.as_str()).expect("implemented versions are semver");
            major == ours_major && (major != 0 || minor == ours_minor)
        })
    }

    /// Every implemented version as `baton:policy@X`, joined for messages.
    pub fn implemented_list() -> String {
        let names: Vec<String> = WIT_VERSIONS
            .iter()
            .map(|v| format!("{WIT_PACKAGE}@{}", v.as_str()))
            .collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }
}

impl fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `(major, minor)` of a semver version; pre-release and build parts ignored.
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.split(['.', '-', '+']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The WASI 0.2 subset a `wasm32-wasip2` Rust guest carries, satisfied with
/// deterministic, empty implementations. Sockets are deliberately absent.
const WASI_IMPORTS: &[(&str, &[&str])] = &[
    (
        "wasi:cli",
        &[
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        ],
    ),
    ("wasi:io", &["error", "poll", "streams"]),
    ("wasi:clocks", &["wall-clock", "monotonic-clock"]),
    ("wasi:filesystem", &["types", "preopens"]),
    ("wasi:random", &["random", "insecure", "insecure-seed"]),
];

/// A component-model interface name: `namespace:package/interface@version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceName {
    /// `namespace:package`, e.g. `wasi:cli`; empty for a plain function name.
    pub package: String,
    /// Interface (or function) name.
    pub interface: String,
    /// Version, if any.
    pub version: Option<String>,
}

impl InterfaceName {
    /// Parses an import or export name.
    pub fn parse(name: &str) -> Self {
        let (path, version) = match name.split_once('@') {
            Some((p, v)) => (p, Some(v.to_owned())),
            None => (name, None),
        };
        match path.split_once('/') {
            Some((package, interface)) => Self {
                package: package.into(),
                interface: interface.into(),
                version,
            },
            None => Self {
                package: String::new(),
                interface: path.into(),
                version,
            },
        }
    }

    fn is_baton(&self) -> bool {
        self.package == WIT_PACKAGE
    }

    /// Does Baton offer this import?
    fn offered(&self) -> bool {
        if self.is_baton() {
            return self
                .version
                .as_deref()
                .and_then(ContractVersion::implementing)
                .is_some_and(|v| v.interfaces().contains(&self.interface.as_str()));
        }
        WASI_IMPORTS.iter().any(|(package, interfaces)| {
            *package == self.package
                && interfaces.contains(&self.interface.as_str())
                && self
                    .version
                    .as_deref()
                    .is_some_and(|v| v.starts_with("0.2."))
        })
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.package.is_empty() {
            write!(f, "{}/", self.package)?;
        }
        f.write_str(&self.interface)?;
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        Ok(())
    }
}

/// A component's imports and exports.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentInterfaces {
    /// Imports in declaration order.
    pub imports: Vec<InterfaceName>,
    /// Exports in declaration order.
    pub exports: Vec<InterfaceName>,
}

impl ComponentInterfaces {
    /// Reads them from a compiled component.
    pub fn of(component: &Component, engine: &Engine) -> Self {
        let ty = component.component_type();
        Self {
            imports: ty
                .imports(engine)
                .map(|(n, _)| InterfaceName::parse(n))
                .collect(),
            exports: ty
                .exports(engine)
                .map(|(n, _)| InterfaceName::parse(n))
                .collect(),
        }
    }

    /// Imports Baton does not offer.
    pub fn unoffered(&self) -> Vec<&InterfaceName> {
        self.imports.iter().filter(|i| !i.offered()).collect()
    }

    /// The import of the contract's `interface` (e.g. `metrics`), if the
    /// component imports it.
    pub fn baton_import(&self, interface: &str) -> Option<&InterfaceName> {
        self.imports
            .iter()
            .find(|i| i.is_baton() && i.interface == interface)
    }

    /// The contract version the policy was built for, from its
    /// `baton:policy/policy` export.
    pub fn policy_version(&self) -> Option<&str> {
        self.exports
            .iter()
            .find(|e| e.is_baton() && e.interface == "policy")
            .and_then(|e| e.version.as_deref())
    }
}

/// Everything Baton offers, for error messages and `policy inspect`.
pub fn offered() -> Vec<String> {
    let mut all: Vec<String> = WIT_VERSIONS
        .iter()
        .flat_map(|v| {
            v.interfaces()
                .iter()
                .map(move |i| format!("{WIT_PACKAGE}/{i}@{v}"))
        })
        .collect();
    for (package, interfaces) in WASI_IMPORTS {
        all.extend(interfaces.iter().map(|i| format!("{package}/{i}@0.2.x")));
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        let n = InterfaceName::parse("wasi:cli/environment@0.2.6");
        assert_eq!(n.package, "wasi:cli");
        assert_eq!(n.interface, "environment");
        assert_eq!(n.version.as_deref(), Some("0.2.6"));
        assert_eq!(n.to_string(), "wasi:cli/environment@0.2.6");
        assert!(n.offered());
        assert!(!InterfaceName::parse("wasi:sockets/tcp@0.2.6").offered());
        assert!(InterfaceName::parse("baton:policy/git@0.2.0").offered());
        assert!(InterfaceName::parse("baton:policy/git@0.1.3").offered());
        assert!(!InterfaceName::parse("baton:policy/git@0.3.0").offered());
    }

    #[test]
    fn metrics_exists_from_0_2_on() {
        assert!(InterfaceName::parse("baton:policy/metrics@0.2.0").offered());
        assert!(!InterfaceName::parse("baton:policy/metrics@0.1.0").offered());
    }

    #[test]
    fn semver_compatibility() {
        use ContractVersion::{V0_1, V0_2};
        assert_eq!(ContractVersion::implementing("0.1.0"), Some(V0_1));
        assert_eq!(ContractVersion::implementing("0.1.9"), Some(V0_1));
        assert_eq!(ContractVersion::implementing("0.2.0"), Some(V0_2));
        assert_eq!(ContractVersion::implementing("0.2.1-rc.1"), Some(V0_2));
        assert_eq!(ContractVersion::implementing("0.3.0"), None);
        assert_eq!(ContractVersion::implementing("1.0.0"), None);
        assert_eq!(ContractVersion::implementing("garbage"), None);
    }

    #[test]
    fn the_current_version_is_the_newest_implemented() {
        assert_eq!(WIT_VERSIONS.last(), Some(&ContractVersion::CURRENT));
        assert_eq!(WIT_VERSION, "0.2.0");
        assert_eq!(
            ContractVersion::implemented_list(),
            "baton:policy@0.1.0 and baton:policy@0.2.0"
        );
    }
}
