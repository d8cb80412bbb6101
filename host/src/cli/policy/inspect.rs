//! `baton policy inspect`: what a policy is and what it may do.

use std::fmt::Write as _;

use clap::Args;
use serde::Serialize;

use crate::cli::error::CommandError;
use crate::cli::output::{self, OutputFormat};
use crate::runtime::{
    InterfaceName, LoadedPolicy, PolicySource, Producers, WIT_PACKAGE, WIT_VERSION, WIT_VERSIONS,
};

/// Arguments of `baton policy inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The policy: `builtin:default` or a path to a `.wasm` component.
    policy: String,
    /// Expected sha256 digest; a mismatch is refused.
    #[arg(long)]
    sha256: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// What `policy inspect` reports; `policy diff` compares two of them.
#[derive(Serialize)]
pub(super) struct Report {
    pub(super) policy: String,
    pub(super) digest: String,
    pub(super) size: usize,
    pub(super) wit: Wit,
    pub(super) metadata: Metadata,
    /// Language and toolchain from the component's producers sections.
    pub(super) producers: Producers,
    pub(super) imports: Vec<Interface>,
    pub(super) exports: Vec<Interface>,
}

/// The contract a policy was built for, and what the host implements.
#[derive(Serialize)]
pub(super) struct Wit {
    pub(super) package: &'static str,
    /// The version the policy was built for.
    pub(super) version: String,
    /// The host's current contract version.
    pub(super) host_version: &'static str,
    /// Every contract version the host implements, oldest first.
    pub(super) host_versions: Vec<&'static str>,
    pub(super) world: &'static str,
}

/// What the policy says about itself.
#[derive(Clone, Serialize)]
pub(super) struct Metadata {
    pub(super) name: String,
    pub(super) version: String,
    pub(super) description: String,
    pub(super) authors: Vec<String>,
}

/// One import or export and what it grants.
#[derive(Clone, Serialize)]
pub(super) struct Interface {
    pub(super) name: String,
    pub(super) provider: &'static str,
    pub(super) grants: &'static str,
}

/// What each interface lets a policy do, for auditors.
fn grants(name: &InterfaceName) -> (&'static str, &'static str) {
    match (name.package.as_str(), name.interface.as_str()) {
        ("baton:policy", "types") => ("baton", "type definitions only"),
        ("baton:policy", "git") => (
            "baton",
            "read env repo files, stage versions and deployment history (read-only)",
        ),
        ("baton:policy", "argocd") => (
            "baton",
            "read status of this app's Argo CD applications (read-only)",
        ),
        ("baton:policy", "forge") => (
            "baton",
            "read merge requests of the env repo project (read-only)",
        ),
        ("baton:policy", "clock") => ("baton", "the host's time, recorded for replay"),
        ("baton:policy", "log") => ("baton", "write bounded diagnostics to the audit record"),
        ("baton:policy", "metrics") => (
            "baton",
            "read-only PromQL queries against the configured Prometheus, recorded for replay",
        ),
        ("baton:policy", "policy") => ("baton", "the decision function and metadata"),
        ("wasi:cli", "environment") => ("wasi", "empty: no environment variables, no arguments"),
        ("wasi:cli", "exit") => ("wasi", "ends the call (treated as a trap)"),
        ("wasi:cli", "stdin") => ("wasi", "empty input"),
        ("wasi:cli", "stdout" | "stderr") => ("wasi", "bounded in-memory buffer"),
        ("wasi:cli", _) => ("wasi", "no terminal"),
        ("wasi:io", _) => ("wasi", "streams of the above"),
        ("wasi:clocks", _) => ("wasi", "fixed at the Unix epoch (deterministic)"),
        ("wasi:filesystem", _) => ("wasi", "no preopened directories: nothing can be opened"),
        ("wasi:random", _) => ("wasi", "fixed byte cycle (deterministic)"),
        _ => ("other", "not offered by Baton"),
    }
}

/// An interface with what it grants, for auditors.
pub(super) fn interface(name: &InterfaceName) -> Interface {
    let (provider, grants) = grants(name);
    Interface {
        name: name.to_string(),
        provider,
        grants,
    }
}

/// Everything `policy inspect` shows about a loaded policy.
pub(super) fn report(policy: &LoadedPolicy) -> Report {
    Report {
        policy: policy.source.to_string(),
        digest: policy.digest.to_string(),
        size: policy.size,
        wit: Wit {
            package: WIT_PACKAGE,
            version: policy.wit_version.clone(),
            host_version: WIT_VERSION,
            host_versions: WIT_VERSIONS.iter().map(|v| v.as_str()).collect(),
            world: "promotion-policy",
        },
        metadata: Metadata {
            name: policy.metadata.name.clone(),
            version: policy.metadata.version.clone(),
            description: policy.metadata.description.clone(),
            authors: policy.metadata.authors.clone(),
        },
        producers: producers(&policy.source),
        imports: policy.interfaces.imports.iter().map(interface).collect(),
        exports: policy.interfaces.exports.iter().map(interface).collect(),
    }
}

/// The producers sections of the policy's bytes (read again: loading keeps
/// only the compiled code). Empty when the bytes cannot be read any more.
fn producers(source: &PolicySource) -> Producers {
    match source {
        PolicySource::File(path) => std::fs::read(path)
            .map(|bytes| Producers::of(&bytes))
            .unwrap_or_default(),
        PolicySource::Builtin(name) if name == "default" => Producers::of(crate::policies::DEFAULT),
        PolicySource::Builtin(_) => Producers::default(),
    }
}

/// Runs `baton policy inspect`.
pub fn run(args: InspectArgs) -> Result<(), CommandError> {
    let policy = super::load(&args.policy, args.sha256.as_deref())?;
    let report = report(&policy);
    if args.output == OutputFormat::Json {
        output::print_json(&report);
        return Ok(());
    }
    let mut text = String::new();
    let m = &report.metadata;
    let _ = writeln!(text, "policy:      {}", report.policy);
    let _ = writeln!(text, "name:        {} {}", m.name, m.version);
    if !m.description.is_empty() {
        let _ = writeln!(text, "description: {}", m.description);
    }
    if !m.authors.is_empty() {
        let _ = writeln!(text, "authors:     {}", m.authors.join(", "));
    }
    let producers = &report.producers;
    if !producers.language.is_empty() {
        let _ = writeln!(text, "language:    {}", producers.language.join(", "));
    }
    if !producers.is_empty() {
        let _ = writeln!(text, "toolchain:   {}", producers.tools());
    }
    let _ = writeln!(text, "digest:      {}", report.digest);
    let _ = writeln!(text, "size:        {} bytes", report.size);
    let _ = writeln!(
        text,
        "contract:    {}@{} world {} (host implements {})",
        report.wit.package,
        report.wit.version,
        report.wit.world,
        report.wit.host_versions.join(", ")
    );
    let width = report
        .imports
        .iter()
        .chain(&report.exports)
        .map(|i| i.name.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(text, "imports:");
    for i in &report.imports {
        let _ = writeln!(text, "  {:width$}  {}", i.name, i.grants);
    }
    let _ = writeln!(text, "exports:");
    for e in &report.exports {
        let _ = writeln!(text, "  {:width$}  {}", e.name, e.grants);
    }
    output::print(&text);
    Ok(())
}
