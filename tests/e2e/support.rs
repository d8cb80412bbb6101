//! Shared helpers: hermetic commands, runtimes with small limits.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use baton::runtime::{Limits, LoadedPolicy, PolicyRuntime, PolicySource};

/// A `baton` command with a cleared environment and a temporary HOME, so
/// nothing from the developer's machine leaks into a test.
pub fn baton(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .current_dir(home);
    cmd
}

/// Runs git hermetically (no user or system config, fixed identity) in
/// `dir` and returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// Limits small enough that hostile policies fail fast.
pub fn test_limits() -> Limits {
    Limits {
        fuel: 200_000_000,
        deadline: Duration::from_secs(20),
        ..Limits::default()
    }
}

/// Loads a policy component by path with `limits`.
pub fn load(path: &str, limits: Limits) -> LoadedPolicy {
    let runtime = PolicyRuntime::new(limits, None).expect("runtime");
    runtime
        .load(&PolicySource::File(path.into()), None)
        .expect("policy loads")
}
