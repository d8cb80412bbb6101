//! What a component asks for and what Baton offers: parsed interface names,
//! the offered set, and contract version compatibility.

use std::fmt;

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Component;

/// The contract's WIT package.
pub const WIT_PACKAGE: &str = "baton:policy";

/// The contract version this host implements (from `wit/world.wit`).
pub const WIT_VERSION: &str = "0.1.0";

/// Baton interfaces a policy may import.
const BATON_IMPORTS: &[&str] = &["types", "git", "argocd", "forge", "clock", "log"];

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
            return BATON_IMPORTS.contains(&self.interface.as_str())
                && self.version.as_deref().is_some_and(compatible);
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

/// Is a policy built for contract `version` usable by this host? Semver:
/// same major, and for 0.x the same minor.
fn compatible(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split(['.', '-', '+']);
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(version), parse(WIT_VERSION)) {
        (Some((0, minor)), Some((0, ours))) => minor == ours,
        (Some((major, _)), Some((ours, _))) => major == ours,
        _ => false,
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

    /// The contract version the policy was built for, from its
    /// `baton:policy/policy` export.
    pub fn policy_version(&self) -> Option<&str> {
        self.exports
            .iter()
            .find(|e| e.is_baton() && e.interface == "policy")
            .and_then(|e| e.version.as_deref())
    }

    /// Is the contract version the policy was built for compatible?
    pub(crate) fn version_compatible(version: &str) -> bool {
        compatible(version)
    }
}

/// Everything Baton offers, for error messages and `policy inspect`.
pub fn offered() -> Vec<String> {
    let mut all: Vec<String> = BATON_IMPORTS
        .iter()
        .map(|i| format!("{WIT_PACKAGE}/{i}@{WIT_VERSION}"))
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
        assert!(!InterfaceName::parse("baton:policy/git@0.2.0").offered());
        assert!(InterfaceName::parse("baton:policy/git@0.1.3").offered());
    }

    #[test]
    fn semver_compatibility() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.9"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.0.0"));
        assert!(!compatible("garbage"));
    }
}
