//! The network half of the env repo: `git fetch` and `git push` through the
//! `git` binary (gix has no push), isolated from the user's and the system's
//! git configuration. The token reaches git only as an `http.extraHeader`
//! passed through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`,
//! never through argv, URLs or files, and is redacted from every stderr this
//! module returns.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::error::TransportError;
use crate::secret::Secret;

/// Environment variables passed through to git (proxies and CA bundles that
/// CI runners rely on); everything else is cleared.
const PASSTHROUGH_ENV: &[&str] = &[
    "PATH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "GIT_SSL_CAINFO",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "TMPDIR",
];

/// Network attempts for fetch and push before a transient failure is final.
const NETWORK_ATTEMPTS: u32 = 3;

/// How a push ended when git itself ran fine.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushResult {
    /// The remote branch now points at the pushed commit.
    Pushed,
    /// The remote refused a non-fast-forward (someone pushed first) or could
    /// not take the ref lock: fetch, re-apply, try again.
    Rejected(String),
}

/// A remote env repo as git sees it: URL plus optional bearer token.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    /// The URL exactly as given (never contains the token).
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` for http(s) URLs.
    pub token: Option<Secret>,
}

impl Remote {
    /// A `git` command running in `git_dir`, with a cleared environment and
    /// the token (if any) as an extra HTTP header.
    fn command(&self, git_dir: &Path) -> Command {
        let mut cmd = Command::new("git");
        cmd.env_clear();
        for key in PASSTHROUGH_ENV {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        cmd.env("GIT_DIR", git_dir)
            .env("HOME", git_dir)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_ASKPASS", "")
            .env("SSH_ASKPASS", "");
        let mut config: Vec<(&str, String)> = vec![
            ("credential.helper", String::new()),
            ("gc.auto", "0".into()),
            ("maintenance.auto", "false".into()),
            ("http.lowSpeedLimit", "1000".into()),
            ("http.lowSpeedTime", "30".into()),
            ("protocol.version", "2".into()),
        ];
        if let Some(token) = &self.token {
            config.push((
                "http.extraHeader",
                format!("Authorization: Bearer {}", token.expose()),
            ));
        }
        cmd.env("GIT_CONFIG_COUNT", config.len().to_string());
        for (i, (k, v)) in config.into_iter().enumerate() {
            cmd.env(format!("GIT_CONFIG_KEY_{i}"), k)
                .env(format!("GIT_CONFIG_VALUE_{i}"), v);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    fn redact(&self, text: &str) -> String {
        let text = text.trim();
        match &self.token {
            Some(t) => t.redact(text),
            None => text.to_owned(),
        }
    }

    pub(crate) fn run(
        &self,
        git_dir: &Path,
        op: &'static str,
        args: &[&str],
    ) -> Result<Output, TransportError> {
        self.command(git_dir)
            .args(args)
            .output()
            .map_err(|source| TransportError::Spawn {
                command: op,
                source,
            })
    }

    /// Fetches `refspecs` from the remote into the bare repo at `git_dir`,
    /// retrying transient network failures. `shallow` fetches only the tips.
    pub fn fetch(
        &self,
        git_dir: &Path,
        refspecs: &[String],
        branch: &str,
        shallow: bool,
    ) -> Result<(), TransportError> {
        let mode: &[&str] = if shallow {
            &["--prune", "--depth=1"]
        } else {
            &["--prune"]
        };
        self.fetch_with(git_dir, "fetch", mode, refspecs, branch)
    }

    /// Deepens a shallow cache to full history.
    pub fn unshallow(
        &self,
        git_dir: &Path,
        refspecs: &[String],
        branch: &str,
    ) -> Result<(), TransportError> {
        self.fetch_with(
            git_dir,
            "fetch --unshallow",
            &["--unshallow"],
            refspecs,
            branch,
        )
    }

    /// `git fetch` of `refspecs` with the `mode` flags, retried on
    /// transient network failures; `op` names it in errors.
    fn fetch_with(
        &self,
        git_dir: &Path,
        op: &'static str,
        mode: &[&str],
        refspecs: &[String],
        branch: &str,
    ) -> Result<(), TransportError> {
        let mut args = vec!["fetch", "--quiet", "--no-tags", "--no-write-fetch-head"];
        args.extend_from_slice(mode);
        args.push("--");
        args.push(&self.url);
        args.extend(refspecs.iter().map(String::as_str));
        self.with_retries(|| {
            let out = self.run(git_dir, op, &args)?;
            if out.status.success() {
                Ok(())
            } else {
                Err(self.classify(op, branch, &out))
            }
        })
    }

    /// Pushes commit `sha` to `refs/heads/<branch>` without force. A
    /// non-fast-forward or lock failure is [`PushResult::Rejected`], not an
    /// error.
    pub fn push(
        &self,
        git_dir: &Path,
        sha: &str,
        branch: &str,
    ) -> Result<PushResult, TransportError> {
        let refspec = format!("{sha}:refs/heads/{branch}");
        let args = ["push", "--porcelain", "--quiet", "--", &self.url, &refspec];
        self.with_retries(|| {
            let out = self.run(git_dir, "push", &args)?;
            if out.status.success() {
                return Ok(PushResult::Pushed);
            }
            let stdout = String::from_utf8_lossy(&out.stdout);
            if let Some(line) = stdout.lines().find(|l| l.starts_with('!')) {
                let retryable = line.contains("[rejected]")
                    || line.contains("lock")
                    || line.contains("failed to update ref");
                if retryable {
                    return Ok(PushResult::Rejected(self.redact(line)));
                }
            }
            Err(self.classify("push", branch, &out))
        })
    }

    /// Runs `op`, retrying [`TransportError::Network`] with jittered backoff.
    fn with_retries<T>(
        &self,
        mut op: impl FnMut() -> Result<T, TransportError>,
    ) -> Result<T, TransportError> {
        let mut attempt = 1;
        loop {
            match op() {
                Err(TransportError::Network { url, stderr, .. }) if attempt < NETWORK_ATTEMPTS => {
                    tracing::debug!(%url, %stderr, attempt, "transient git network failure, retrying");
                    std::thread::sleep(backoff(
                        attempt,
                        Duration::from_millis(200),
                        Duration::from_secs(2),
                    ));
                    attempt += 1;
                }
                Err(TransportError::Network { url, stderr, .. }) => {
                    return Err(TransportError::Network {
                        url,
                        stderr,
                        attempts: attempt,
                    });
                }
                other => return other,
            }
        }
    }

    /// Maps a failed git run to an error kind by its (C-locale) stderr.
    fn classify(&self, command: &'static str, branch: &str, out: &Output) -> TransportError {
        let stderr = self.redact(&String::from_utf8_lossy(&out.stderr));
        let url = self.url.clone();
        let has = |needles: &[&str]| needles.iter().any(|n| stderr.contains(n));
        if has(&[
            "Authentication failed",
            "could not read Username",
            "could not read Password",
            "returned error: 401",
            "returned error: 403",
            "terminal prompts disabled",
        ]) {
            TransportError::Auth { url, stderr }
        } else if has(&["couldn't find remote ref"]) {
            TransportError::BranchMissing {
                url,
                branch: branch.to_owned(),
            }
        } else if has(&[
            "Could not resolve host",
            "Failed to connect",
            "Couldn't connect",
            "Connection refused",
            "Connection reset",
            "timed out",
            "returned error: 5",
            "RPC failed",
            "early EOF",
            "unexpected disconnect",
            "remote end hung up",
            "Empty reply",
            "SSL",
        ]) {
            TransportError::Network {
                url,
                stderr,
                attempts: 1,
            }
        } else {
            TransportError::Failed {
                url,
                command,
                stderr,
            }
        }
    }
}

/// Exponential backoff with jitter: a random delay in
/// `[base / 2, min(cap, base * 2^(attempt-1))]`.
pub(crate) fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(cap);
    let floor = (base / 2).min(ceiling);
    let span = ceiling.saturating_sub(floor).as_millis() as u64;
    floor + Duration::from_millis(fastrand::u64(0..=span))
}
