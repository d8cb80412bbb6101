//! `baton policy new`: a policy project that builds and passes `baton
//! policy test` right away, in Rust, Python or JavaScript.
//!
//! The project is self-contained: the SDK of its language and the contract
//! (`wit/`) are embedded in the binary and written into it, so it builds
//! outside this repository and offline (once its toolchain is installed).
//! It starts as the reference flow, with a unit test and a scenario file.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::cli::error::CommandError;

/// Arguments of `baton policy new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Name of the policy (lower case letters, digits and dashes), e.g.
    /// `payments-policy`.
    name: String,
    /// Language of the project.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Directory to create (default: ./NAME); it must not exist or be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Languages `policy new` scaffolds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Rust with the baton-policy crate (cargo, wasm32-wasip2).
    Rust,
    /// Python with the baton-policy package (componentize-py).
    Python,
    /// JavaScript with the baton-policy npm package (componentize-js).
    Js,
}

/// Why a project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    /// The name is not usable as a package name.
    #[error(
        "policy name {name:?} is not valid: use lower case letters, digits and dashes, starting with a letter"
    )]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// The directory exists and holds files.
    #[error("{} already exists and is not empty", .dir.display())]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// A file could not be written.
    #[error("cannot write {}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// An embedded file of this repository: its path here and its text.
macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $path)))),*]
    };
}

/// The contract, written to `wit/` of every project.
const WIT: &[(&str, &str)] = embedded!(
    "wit/argocd.wit",
    "wit/clock.wit",
    "wit/forge.wit",
    "wit/git.wit",
    "wit/log.wit",
    "wit/metrics.wit",
    "wit/types.wit",
    "wit/world.wit",
);

const RUST_SDK: &[(&str, &str)] = embedded!(
    "policies/sdk/src/lib.rs",
    "policies/sdk/src/actions.rs",
    "policies/sdk/src/health.rs",
    "policies/sdk/src/history.rs",
    "policies/sdk/src/settings.rs",
    "policies/sdk/src/testing.rs",
    "policies/sdk/src/world.rs",
    "policies/sdk/src/flow/mod.rs",
    "policies/sdk/src/flow/digest.rs",
    "policies/sdk/src/flow/gate.rs",
    "policies/sdk/src/flow/rollback.rs",
    "policies/sdk/src/flow/rollback/tests.rs",
    "policies/sdk/src/flow/settings.rs",
    "policies/sdk/src/flow/tests.rs",
    "policies/sdk/src/calendar/mod.rs",
    "policies/sdk/src/calendar/civil.rs",
    "policies/sdk/src/calendar/window.rs",
    "policies/sdk/src/calendar/zone.rs",
);

/// The release profile of the repository's own policies
/// (`policies/Cargo.toml`), which a Rust project gets too: the reference
/// flow is a component of about 170 KB with it, 226 KB with cargo's
/// default release profile.
const RELEASE_PROFILE: &str = r#"[profile.release]
# Small components compile fast in the host: size over speed, one unit, LTO.
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
debug = false
strip = "debuginfo"
"#;

const PYTHON_SDK: &[(&str, &str)] = embedded!(
    "policies/python/sdk/pyproject.toml",
    "policies/python/sdk/baton_policy/__init__.py",
    "policies/python/sdk/baton_policy/_wit.py",
    "policies/python/sdk/baton_policy/actions.py",
    "policies/python/sdk/baton_policy/display.py",
    "policies/python/sdk/baton_policy/errors.py",
    "policies/python/sdk/baton_policy/events.py",
    "policies/python/sdk/baton_policy/export.py",
    "policies/python/sdk/baton_policy/flow.py",
    "policies/python/sdk/baton_policy/health.py",
    "policies/python/sdk/baton_policy/history.py",
    "policies/python/sdk/baton_policy/settings.py",
    "policies/python/sdk/baton_policy/testing.py",
    "policies/python/sdk/baton_policy/world.py",
    "policies/python/toolchain.sh",
    "policies/python/producers.py",
);

const JS_SDK: &[(&str, &str)] = embedded!(
    "policies/js/sdk/package.json",
    "policies/js/sdk/src/actions.js",
    "policies/js/sdk/src/display.js",
    "policies/js/sdk/src/errors.js",
    "policies/js/sdk/src/events.js",
    "policies/js/sdk/src/flow.js",
    "policies/js/sdk/src/health.js",
    "policies/js/sdk/src/history.js",
    "policies/js/sdk/src/host.js",
    "policies/js/sdk/src/index.js",
    "policies/js/sdk/src/settings.js",
    "policies/js/sdk/src/testing.js",
    "policies/js/toolchain.sh",
    "policies/js/toolchain/package.json",
    "policies/js/toolchain/package-lock.json",
    "policies/js/toolchain/gentypes.mjs",
);

/// The guest workspace's lockfile: a Rust project builds with the same
/// crate versions as Baton's own policies.
const RUST_LOCK: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../policies/Cargo.lock"
));
const RUST_TOOLCHAIN: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../rust-toolchain.toml"
));

const SCENARIO: &str = r#"# A new version goes to the first stage by direct commit and is gated; a
# Degraded gate rolls back to the last good version. Run it with
# `baton policy test policy.wasm scenarios`.
name: promotion
context:
  app: payments
  stages:
    - { name: dev, argocd_app: payments-dev, direct_commit_allowed: true }
    - { name: prod, argocd_app: payments-prod }
  settings: { health_timeout: 5m }
env_repo:
  stages:
    dev:
      history:
        - { commit: aa11bb22cc33, time: 0s, to_version: v1.1.0 }
        - { commit: 9c41d07e2b66, time: -24h, to_version: v1.0.0 }
argocd:
  payments-dev:
    - { at: 1m, health: Degraded, health_message: "CrashLoopBackOff", revision: aa11bb22cc33 }
steps:
  - name: a new version goes to dev by direct commit and is gated
    event: { new-version: { version: v1.1.0 } }
    expect:
      actions:
        - set dev to v1.1.0 by direct commit
        - await health of dev at v1.1.0 (timeout 300s)

  - name: Degraded dev rolls back to the last good version and fails
    at: 1m
    event: { health-observed: { stage: dev, version: v1.1.0, status: argocd } }
    expect:
      actions:
        - roll back dev from v1.1.0 to v1.0.0 by direct commit
        - "fail: dev is Degraded at v1.1.0 (CrashLoopBackOff); rolled back to v1.0.0"
"#;

/// Runs `baton policy new`.
pub fn run(args: NewArgs) -> Result<(), CommandError> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    let files = scaffold(&args.name, args.lang, &dir).map_err(CommandError::usage)?;
    let build = match args.lang {
        Lang::Rust => "./build.sh   (cargo build --target wasm32-wasip2 --release)",
        Lang::Python => "./build.sh   (installs componentize-py into .toolchain/ once)",
        Lang::Js => "./build.sh   (installs componentize-js and jco into .toolchain/ once)",
    };
    let test = match args.lang {
        Lang::Rust => "cargo test",
        Lang::Python => ".toolchain/python-*/venv/bin/pytest",
        Lang::Js => "node --test",
    };
    crate::cli::output::print(&format!(
        "created {} ({} files)\nnext:\n  cd {}\n  {build}\n  {test}\n  baton policy test policy.wasm scenarios\n",
        dir.display(),
        files,
        dir.display()
    ));
    Ok(())
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// Writes the project for `name` in `lang` into `dir`; returns how many
/// files it wrote.
pub fn scaffold(name: &str, lang: Lang, dir: &Path) -> Result<usize, NewError> {
    if !valid_name(name) {
        return Err(NewError::InvalidName {
            name: name.to_owned(),
        });
    }
    if dir
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        return Err(NewError::NotEmpty {
            dir: dir.to_path_buf(),
        });
    }
    let mut files: Vec<(PathBuf, String)> = WIT
        .iter()
        .map(|(path, text)| (PathBuf::from(path), (*text).to_owned()))
        .collect();
    files.push(("scenarios/01-promotion.yaml".into(), SCENARIO.to_owned()));
    match lang {
        Lang::Rust => rust(name, &mut files),
        Lang::Python => python(name, &mut files),
        Lang::Js => js(name, &mut files),
    }
    for (path, text) in &files {
        let path = dir.join(path);
        let write = |source| NewError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write)?;
        }
        std::fs::write(&path, text).map_err(write)?;
        if path.extension().is_some_and(|e| e == "sh") {
            executable(&path).map_err(write)?;
        }
    }
    Ok(files.len())
}

#[cfg(unix)]
fn executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn executable(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// `rel` with `from` (a prefix of this repository's layout) replaced by `to`.
fn relocate(rel: &str, from: &str, to: &str) -> PathBuf {
    PathBuf::from(format!("{to}{}", rel.strip_prefix(from).unwrap_or(rel)))
}

fn rust(name: &str, files: &mut Vec<(PathBuf, String)>) {
    let lib = name.replace('-', "_");
    for (path, text) in RUST_SDK {
        // The SDK's bindings read the contract two levels up in this
        // repository; in the project it sits one level up.
        let text = text.replace("path: \"../../wit\"", "path: \"../wit\"");
        files.push((relocate(path, "policies/sdk/", "baton-policy-sdk/"), text));
    }
    files.push((
        "baton-policy-sdk/Cargo.toml".into(),
        r#"[package]
name = "baton-policy"
description = "SDK for writing Baton promotion policies as WebAssembly components"
version = "0.1.0"
edition = "2024"
license = "Apache-2.0"

[dependencies]
serde = { version = "1", default-features = false, features = ["derive", "alloc"] }
serde_json = { version = "1", default-features = false, features = ["alloc"] }
wit-bindgen = { version = "0.61", default-features = false, features = ["macros", "realloc"] }
"#
        .into(),
    ));
    files.push((
        "Cargo.toml".into(),
        format!(
            r#"[package]
name = "{name}"
description = "A Baton promotion policy"
version = "0.1.0"
edition = "2024"
authors = []

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
baton-policy = {{ path = "baton-policy-sdk" }}

[workspace]

{RELEASE_PROFILE}"#
        ),
    ));
    files.push(("Cargo.lock".into(), RUST_LOCK.to_owned()));
    files.push(("rust-toolchain.toml".into(), RUST_TOOLCHAIN.to_owned()));
    files.push((
        "src/lib.rs".into(),
        format!(
            r##"//! {name}: a Baton promotion policy. It starts as the reference flow
//! (`baton_policy::flow`); change the rules in `decide`.

use baton_policy::flow::{{Flow, FlowSettings}};
use baton_policy::{{Context, Decision, Event, Policy, PolicyError, World}};

/// The policy.
pub struct ThisPolicy;

impl Policy for ThisPolicy {{
    // `&impl World`, not `&dyn World`: the component then imports only the
    // capabilities this code calls (`baton policy inspect policy.wasm`).
    fn decide(ctx: &Context, event: &Event, world: &impl World) -> Result<Decision, PolicyError> {{
        let settings = FlowSettings::parse(&ctx.settings)?;
        Flow::new(ctx, world, &settings).decide(event)
    }}
}}

baton_policy::export_policy!(ThisPolicy);

#[cfg(test)]
mod tests {{
    use super::*;
    use baton_policy::actions;
    use baton_policy::testing::{{FakeWorld, context, new_version}};

    #[test]
    fn a_new_version_goes_to_dev_by_commit_and_is_gated() {{
        // `payments` with dev (direct commits allowed), staging and prod.
        let ctx = context(r#"{{"health_timeout": "5m"}}"#);
        let decision = ThisPolicy::decide(&ctx, &new_version("v1"), &FakeWorld::default())
            .expect("a decision");
        assert_eq!(
            decision.actions,
            vec![
                actions::commit("dev", "v1", "v1 is a new version of payments"),
                actions::await_health("dev", "v1", 300_000),
            ]
        );
    }}
}}
"##
        ),
    ));
    files.push((
        "build.sh".into(),
        format!(
            r#"#!/usr/bin/env bash
# Builds policy.wasm next to this script (rust-toolchain.toml brings the
# wasm32-wasip2 target).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
cargo build --target wasm32-wasip2 --release
cp "${{CARGO_TARGET_DIR:-$here/target}}/wasm32-wasip2/release/{lib}.wasm" "$here/policy.wasm"
echo "built $here/policy.wasm" >&2
"#
        ),
    ));
    files.push((".gitignore".into(), "/target\n/policy.wasm\n".into()));
}

fn python(name: &str, files: &mut Vec<(PathBuf, String)>) {
    for (path, text) in PYTHON_SDK {
        let rel = if path.starts_with("policies/python/sdk/") {
            relocate(path, "policies/python/sdk/", "sdk/")
        } else {
            relocate(path, "policies/python/", "")
        };
        files.push((rel, (*text).to_owned()));
    }
    files.push((
        "rules.py".into(),
        format!(
            r#""""{name}: a Baton promotion policy. It starts as the reference flow
(`baton_policy.flow`); change the rules in `decide`."""

from baton_policy import Flow, FlowSettings


def decide(ctx, event, world):
    """The policy's answer to one event."""
    settings = FlowSettings.parse(ctx.settings)
    return Flow(ctx, world, settings).decide(event)
"#
        ),
    ));
    files.push((
        "app.py".into(),
        format!(
            r#""""The component's entry point: exports `rules.decide`."""

from baton_policy import export

import rules

Policy = export(rules.decide, name="{name}", version="0.1.0", description="A Baton promotion policy")
"#
        ),
    ));
    files.push((
        "test_rules.py".into(),
        r#""""Unit tests of the rules, natively, with the SDK's FakeWorld."""

from baton_policy import testing as t
from baton_policy.display import texts

import rules


def test_a_new_version_goes_to_dev_by_commit_and_is_gated():
    ctx = t.context([t.stage("dev", True), t.stage("prod")], '{"health_timeout": "5m"}')
    decision = rules.decide(ctx, t.new_version("v1"), t.FakeWorld())
    assert texts(decision) == ["set dev to v1 by direct commit", "await health of dev at v1 (timeout 300s)"]
"#
        .into(),
    ));
    files.push((
        "conftest.py".into(),
        r#""""pytest setup: the SDK, its generated bindings (build.sh writes them)
and this directory are importable, as inside the component."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.join(HERE, "sdk", "bindings"), os.path.join(HERE, "sdk"), HERE):
    sys.path.insert(0, path)
"#
        .into(),
    ));
    files.push((
        "build.sh".into(),
        r#"#!/usr/bin/env bash
# Builds policy.wasm next to this script, installing the pinned
# componentize-py into .toolchain/ first when missing (BATON_TOOLCHAIN_CACHE
# overrides where).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export BATON_WIT="$here/wit" BATON_PY_SDK="$here/sdk"
export BATON_TOOLCHAIN_CACHE="${BATON_TOOLCHAIN_CACHE:-$here/.toolchain}"
# shellcheck source=toolchain.sh
source "$here/toolchain.sh"
baton_python_toolchain
baton_python_bindings
baton_python_componentize app "$here/policy.wasm" "$here"
echo "built $here/policy.wasm" >&2
"#
        .into(),
    ));
    files.push((
        ".gitignore".into(),
        "/.toolchain/\n/policy.wasm\n/sdk/bindings/\n__pycache__/\n".into(),
    ));
}

fn js(name: &str, files: &mut Vec<(PathBuf, String)>) {
    for (path, text) in JS_SDK {
        let rel = if path.starts_with("policies/js/sdk/") {
            relocate(path, "policies/js/sdk/", "sdk/")
        } else {
            relocate(path, "policies/js/", "")
        };
        files.push((rel, (*text).to_owned()));
    }
    files.push((
        "rules.js".into(),
        format!(
            r#"// {name}: a Baton promotion policy. It starts as the reference flow
// (the SDK's Flow); change the rules in `decide`.

import {{ Flow, FlowSettings }} from './sdk/src/index.js';

/** The policy's answer to one event. */
export function decide(ctx, event, world) {{
  return new Flow(ctx, world, FlowSettings.parse(ctx.settings)).decide(event);
}}
"#
        ),
    ));
    files.push((
        "app.js".into(),
        format!(
            r#"// The component's entry point: exports rules.js's decide.

import {{ exportPolicy }} from './sdk/src/host.js';
import {{ decide }} from './rules.js';

export const policy = exportPolicy(decide, {{ name: '{name}', version: '0.1.0', description: 'A Baton promotion policy' }});
"#
        ),
    ));
    files.push((
        "rules.test.js".into(),
        r#"// Unit tests of the rules, natively, with the SDK's FakeWorld.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { texts } from './sdk/src/display.js';
import * as t from './sdk/src/testing.js';
import { decide } from './rules.js';

test('a new version goes to dev by commit and is gated', () => {
  const ctx = t.context([t.stage('dev', { directCommitAllowed: true }), t.stage('prod')], { settings: '{"health_timeout": "5m"}' });
  assert.deepEqual(texts(decide(ctx, t.newVersion('v1'), new t.FakeWorld())), [
    'set dev to v1 by direct commit',
    'await health of dev at v1 (timeout 300s)',
  ]);
});
"#
        .into(),
    ));
    files.push((
        "package.json".into(),
        format!(
            r#"{{
  "name": "{name}",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "scripts": {{ "build": "./build.sh", "test": "node --test" }}
}}
"#
        ),
    ));
    files.push((
        "build.sh".into(),
        r#"#!/usr/bin/env bash
# Builds policy.wasm next to this script, installing the pinned
# componentize-js and jco into .toolchain/ first when missing
# (BATON_TOOLCHAIN_CACHE overrides where).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export BATON_WIT="$here/wit" BATON_JS_SDK="$here/sdk"
export BATON_TOOLCHAIN_CACHE="${BATON_TOOLCHAIN_CACHE:-$here/.toolchain}"
# shellcheck source=toolchain.sh
source "$here/toolchain.sh"
baton_js_toolchain
baton_js_types
baton_js_componentize "$here" app.js "$here/policy.wasm"
echo "built $here/policy.wasm" >&2
"#
        .into(),
    ));
    files.push((
        ".gitignore".into(),
        "/.toolchain/\n/policy.wasm\n/sdk/types/\nnode_modules/\n".into(),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of the directories a project embeds is embedded: a file
    /// added to the contract or an SDK is not silently left out.
    #[test]
    fn the_embedded_lists_cover_their_directories() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let listed = |list: &[(&str, &str)]| -> Vec<String> {
            list.iter().map(|(p, _)| (*p).to_owned()).collect()
        };
        for (dir, ext, list) in [
            ("wit", "wit", listed(WIT)),
            ("policies/sdk/src", "rs", listed(RUST_SDK)),
            ("policies/python/sdk/baton_policy", "py", listed(PYTHON_SDK)),
            ("policies/js/sdk/src", "js", listed(JS_SDK)),
        ] {
            let mut stack = vec![root.join(dir)];
            while let Some(d) = stack.pop() {
                for entry in std::fs::read_dir(&d).expect("readable").flatten() {
                    let path = entry.path();
                    // The frozen 0.1 contract is not part of a new project.
                    if path.is_dir() && !path.ends_with("compat") {
                        stack.push(path);
                    } else if path.extension().is_some_and(|e| e == ext) {
                        let rel = path
                            .strip_prefix(&root)
                            .expect("under the root")
                            .display()
                            .to_string();
                        assert!(list.contains(&rel), "{rel} is not embedded");
                    }
                }
            }
        }
    }

    /// A Rust project builds with the release profile of the repository's
    /// own policies, line for line.
    #[test]
    fn a_rust_project_has_the_policies_release_profile() {
        let workspace = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies/Cargo.toml"
        ));
        let profile = |toml: &str| -> Vec<String> {
            toml.lines()
                .skip_while(|l| l.trim() != "[profile.release]")
                .skip(1)
                .take_while(|l| !l.trim_start().starts_with('['))
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        let ours = profile(workspace);
        assert!(ours.contains(&"lto = true".to_owned()), "{ours:?}");
        assert_eq!(profile(RELEASE_PROFILE), ours);
        let dir = tempfile::tempdir().expect("temp dir");
        scaffold("p", Lang::Rust, dir.path()).expect("scaffolded");
        let manifest = std::fs::read_to_string(dir.path().join("Cargo.toml")).expect("written");
        assert_eq!(profile(&manifest), ours);
        assert!(
            manifest.starts_with("[package]\nname = \"p\"\n"),
            "{manifest}"
        );
    }

    #[test]
    fn names_are_package_names() {
        assert!(valid_name("payments-policy2"));
        for bad in ["", "Payments", "2fast", "a_b", "a-", "a b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_project_is_refused_over_existing_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("keep"), "x").expect("write");
        let err = scaffold("p", Lang::Python, dir.path()).expect_err("refused");
        assert!(err.to_string().ends_with("already exists and is not empty"));
        let err = scaffold("P", Lang::Js, &dir.path().join("new")).expect_err("refused");
        assert!(
            err.to_string()
                .starts_with("policy name \"P\" is not valid")
        );
    }
}
