//! `baton policy diff OLD NEW`: what changed between two policies, for
//! reviewers: digests, contract versions, imports (capabilities added or
//! removed), exports and metadata. A policy Baton would refuse to load is
//! still compared: its imports and exports are read from the compiled
//! component, and the refusal is shown instead of its metadata.

use std::fmt::Write as _;
use std::path::Path;

use clap::Args;
use serde::Serialize;

use super::inspect::{self, Interface, Metadata};
use crate::cli::error::CommandError;
use crate::cli::output::{self, OutputFormat};
use crate::runtime::{
    ComponentInterfaces, Digest, InterfaceName, LoadError, PolicyRuntime, PolicySource,
};

/// Arguments of `baton policy diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The policy before: `builtin:default` or a path to a `.wasm` component.
    old: String,
    /// The policy after.
    new: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// What is known about one of the two policies.
#[derive(Serialize)]
struct Side {
    policy: String,
    digest: String,
    size: usize,
    /// The `baton:policy` version it was built for; none if it exports no policy.
    wit_version: Option<String>,
    /// None when the policy cannot be loaded.
    metadata: Option<Metadata>,
    /// Why Baton refuses to load it, if it does.
    refused: Option<String>,
    imports: Vec<Interface>,
    exports: Vec<Interface>,
}

#[derive(Serialize)]
struct Change<T> {
    old: T,
    new: T,
    changed: bool,
}

impl<T: PartialEq> Change<T> {
    fn of(old: T, new: T) -> Self {
        let changed = old != new;
        Self { old, new, changed }
    }
}

/// An interface present on both sides at different versions.
#[derive(Serialize)]
struct VersionChange {
    interface: String,
    old: String,
    new: String,
}

#[derive(Serialize)]
struct InterfaceChanges {
    added: Vec<Interface>,
    removed: Vec<Interface>,
    version_changed: Vec<VersionChange>,
    unchanged: Vec<String>,
}

impl InterfaceChanges {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.version_changed.is_empty()
    }
}

#[derive(Serialize)]
struct MetadataChanges {
    name: Change<Option<String>>,
    version: Change<Option<String>>,
    description: Change<Option<String>>,
    authors: Change<Option<Vec<String>>>,
}

#[derive(Serialize)]
struct Changes {
    digest: Change<String>,
    wit_version: Change<Option<String>>,
    metadata: MetadataChanges,
    imports: InterfaceChanges,
    exports: InterfaceChanges,
}

#[derive(Serialize)]
struct Report {
    old: Side,
    new: Side,
    identical: bool,
    changes: Changes,
}

/// Runs `baton policy diff`.
pub fn run(args: DiffArgs) -> Result<(), CommandError> {
    let runtime = super::runtime()?;
    let old = side(&runtime, &args.old)?;
    let new = side(&runtime, &args.new)?;
    let changes = changes(&old, &new);
    let report = Report {
        identical: !changes.digest.changed,
        old,
        new,
        changes,
    };
    if args.output == OutputFormat::Json {
        output::print_json(&report);
    } else {
        output::print(&render(&report));
    }
    Ok(())
}

/// Loads a policy for comparison; one that loads but would be refused
/// (imports not offered, another contract version, not a policy) is read
/// from its compiled component instead.
fn side(runtime: &PolicyRuntime, text: &str) -> Result<Side, CommandError> {
    let source = PolicySource::parse(text, Path::new("."));
    let refusal = match runtime.load(&source, None) {
        Ok(policy) => {
            let report = inspect::report(&policy);
            return Ok(Side {
                policy: report.policy,
                digest: report.digest,
                size: report.size,
                wit_version: Some(report.wit.version),
                metadata: Some(report.metadata),
                refused: None,
                imports: report.imports,
                exports: report.exports,
            });
        }
        Err(e) => e,
    };
    let refusable = matches!(
        refusal,
        LoadError::UnofferedImports { .. }
            | LoadError::IncompatibleVersion { .. }
            | LoadError::NotAPolicy { .. }
            | LoadError::Instantiate { .. }
            | LoadError::Metadata { .. }
    );
    let PolicySource::File(path) = &source else {
        return Err(CommandError::from(refusal));
    };
    if !refusable {
        return Err(CommandError::from(refusal));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| CommandError::usage(format!("cannot read policy {}: {e}", path.display())))?;
    let digest = Digest::of(&bytes);
    let name = source.to_string();
    let (component, _) = runtime
        .compile(&bytes, digest.hex(), &name)
        .map_err(CommandError::from)?;
    let interfaces = ComponentInterfaces::of(&component, &runtime.engine);
    Ok(Side {
        policy: name,
        digest: digest.to_string(),
        size: bytes.len(),
        wit_version: interfaces.policy_version().map(str::to_owned),
        metadata: None,
        refused: Some(crate::report::error_chain(&refusal)),
        imports: interfaces.imports.iter().map(inspect::interface).collect(),
        exports: interfaces.exports.iter().map(inspect::interface).collect(),
    })
}

fn changes(old: &Side, new: &Side) -> Changes {
    let meta = |side: &Side, f: fn(&Metadata) -> String| side.metadata.as_ref().map(f);
    Changes {
        digest: Change::of(old.digest.clone(), new.digest.clone()),
        wit_version: Change::of(old.wit_version.clone(), new.wit_version.clone()),
        metadata: MetadataChanges {
            name: Change::of(meta(old, |m| m.name.clone()), meta(new, |m| m.name.clone())),
            version: Change::of(
                meta(old, |m| m.version.clone()),
                meta(new, |m| m.version.clone()),
            ),
            description: Change::of(
                meta(old, |m| m.description.clone()),
                meta(new, |m| m.description.clone()),
            ),
            authors: Change::of(
                old.metadata.as_ref().map(|m| m.authors.clone()),
                new.metadata.as_ref().map(|m| m.authors.clone()),
            ),
        },
        imports: compare(&old.imports, &new.imports),
        exports: compare(&old.exports, &new.exports),
    }
}

/// `package/interface` without the version: the identity of an interface.
fn unversioned(name: &str) -> String {
    let parsed = InterfaceName::parse(name);
    InterfaceName {
        version: None,
        ..parsed
    }
    .to_string()
}

fn compare(old: &[Interface], new: &[Interface]) -> InterfaceChanges {
    let find = |list: &[Interface], name: &str| {
        list.iter()
            .find(|i| unversioned(&i.name) == unversioned(name))
            .cloned()
    };
    let mut changes = InterfaceChanges {
        added: Vec::new(),
        removed: Vec::new(),
        version_changed: Vec::new(),
        unchanged: Vec::new(),
    };
    for n in new {
        match find(old, &n.name) {
            None => changes.added.push(n.clone()),
            Some(o) if o.name == n.name => changes.unchanged.push(n.name.clone()),
            Some(o) => changes.version_changed.push(VersionChange {
                interface: unversioned(&n.name),
                old: o.name,
                new: n.name.clone(),
            }),
        }
    }
    changes.removed = old
        .iter()
        .filter(|o| find(new, &o.name).is_none())
        .cloned()
        .collect();
    changes
}

fn render(report: &Report) -> String {
    let mut text = String::new();
    for (label, side) in [("old", &report.old), ("new", &report.new)] {
        let _ = writeln!(text, "{label}:         {}", side.policy);
        if let Some(refused) = &side.refused {
            let first = refused.lines().next().unwrap_or_default();
            let _ = writeln!(text, "  refused at load: {first}");
        }
    }
    let c = &report.changes;
    let _ = writeln!(text, "digest:      {}", change(&c.digest, |d| d.clone()));
    let _ = writeln!(
        text,
        "contract:    {}",
        change(&c.wit_version, |v| v.as_deref().map_or_else(
            || "(no baton:policy export)".into(),
            |v| format!("baton:policy@{v}")
        ))
    );
    let unknown = |v: &Option<String>| {
        v.clone()
            .unwrap_or_else(|| "(unknown: refused at load)".into())
    };
    let _ = writeln!(text, "metadata:");
    let m = &c.metadata;
    let _ = writeln!(text, "  name:        {}", change(&m.name, unknown));
    let _ = writeln!(text, "  version:     {}", change(&m.version, unknown));
    let _ = writeln!(text, "  description: {}", change(&m.description, unknown));
    let _ = writeln!(
        text,
        "  authors:     {}",
        change(&m.authors, |a| a.as_ref().map_or_else(
            || "(unknown: refused at load)".into(),
            |a| a.join(", ")
        ))
    );
    render_interfaces(&mut text, "imports", &c.imports);
    render_interfaces(&mut text, "exports", &c.exports);
    text
}

fn change<T>(c: &Change<T>, show: impl Fn(&T) -> String) -> String {
    if c.changed {
        format!("{} -> {}", show(&c.old), show(&c.new))
    } else {
        format!("{} (unchanged)", show(&c.new))
    }
}

fn render_interfaces(text: &mut String, label: &str, changes: &InterfaceChanges) {
    if changes.is_empty() {
        let _ = writeln!(text, "{label}:     unchanged ({})", changes.unchanged.len());
        return;
    }
    let _ = writeln!(text, "{label}:");
    let width = changes
        .added
        .iter()
        .chain(&changes.removed)
        .map(|i| i.name.len())
        .max()
        .unwrap_or(0);
    for i in &changes.added {
        let _ = writeln!(text, "  + {:width$}  {}", i.name, i.grants);
    }
    for i in &changes.removed {
        let _ = writeln!(text, "  - {:width$}  {}", i.name, i.grants);
    }
    for v in &changes.version_changed {
        let _ = writeln!(text, "  ~ {} -> {}", v.old, v.new);
    }
    let _ = writeln!(text, "  ({} unchanged)", changes.unchanged.len());
}
