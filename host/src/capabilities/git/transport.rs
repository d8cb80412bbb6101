//! The network half of the env repo: `git fetch` and `git push` through the
//! `git` binary (gix has no push), isolated from the user's and the system's
//! git configuration. The token reaches git only as an `http.extraHeader`
//! passed through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`,
//! never through argv, URLs or files, and is redacted from every stderr this
//! module returns.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::error::TransportError;
use crate::retry::{self, Attempt, Deadline, Jitter, RetryPolicy};
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

/// Fetch and push attempts before a transient network failure is final.
const NETWORK_RETRY: RetryPolicy = RetryPolicy {
    attempts: 3,
    base: Duration::from_millis(200),
    cap: Duration::from_secs(2),
    jitter: Jitter::Spread,
};

/// How often a running git's deadline and the run's cancellation are
/// checked (its exit is seen at once).
const POLL: Duration = Duration::from_millis(20);

/// How a push ended when git itself ran fine.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushResult {
    /// The remote branch now points at the pushed commit.
    Pushed,
    /// The remote refused a non-fast-forward (someone pushed first) or could
    /// not take the ref lock: fetch, re-apply, try again.
    Rejected(String),
}

/// One ref a push updates: `refs/heads/<branch>` to commit `sha`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefUpdate<'a> {
    /// The commit.
    pub sha: &'a str,
    /// The branch, without `refs/heads/`.
    pub branch: &'a str,
    /// Only create the branch: [`PushResult::Rejected`] when the remote
    /// has it already, at another commit (`--force-with-lease=<ref>:`,
    /// checked by the remote as it updates) or at this one.
    pub create_only: bool,
}

/// The `--porcelain` line of a push about `refs/heads/<branch>`:
/// `<flag>\t<from>:<to>\t<summary>`.
fn porcelain_line<'o>(stdout: &'o str, branch: &str) -> Option<&'o str> {
    let to = format!("refs/heads/{branch}");
    stdout.lines().find(|line| {
        line.split('\t')
            .nth(1)
            .and_then(|spec| spec.rsplit_once(':'))
            .is_some_and(|(_, dst)| dst == to)
    })
}

/// Whether a rejected ref's line says to fetch and try again: the branch
/// moved (`[rejected]`: non-fast-forward, or a lease the branch broke) or
/// its lock was taken.
fn retryable(line: &str) -> bool {
    line.contains("[rejected]") || line.contains("lock") || line.contains("failed to update ref")
}

/// A remote env repo as git sees it: URL plus optional bearer token.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    /// The URL exactly as given (never contains the token).
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` for http(s) URLs.
    pub token: Option<Secret>,
    /// No fetch or push starts after it, and one still running then is
    /// stopped.
    pub deadline: Deadline,
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

    /// Deepens a shallow cache by `by` commits below its shallow boundary.
    pub fn deepen(
        &self,
        git_dir: &Path,
        refspecs: &[String],
        branch: &str,
        by: u32,
    ) -> Result<(), TransportError> {
        let arg = format!("--deepen={by}");
        self.fetch_with(git_dir, "fetch --deepen", &[&arg], refspecs, branch)
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
        self.with_retries(op, |attempt| {
            let out = self.run_network(git_dir, op, &args, attempt)?;
            if out.status.success() {
                Ok(())
            } else {
                Err(self.classify(op, branch, &out))
            }
        })
    }

    /// The names of the remote's refs matching `pattern` (`git ls-remote`),
    /// retrying transient network failures.
    pub fn ls_remote(
        &self,
        git_dir: &Path,
        pattern: &str,
        branch: &str,
    ) -> Result<Vec<String>, TransportError> {
        let args = ["ls-remote", "--quiet", "--", &self.url, pattern];
        let out = self.with_retries("ls-remote", |attempt| {
            let out = self.run_network(git_dir, "ls-remote", &args, attempt)?;
            if out.status.success() {
                Ok(out)
            } else {
                Err(self.classify("ls-remote", branch, &out))
            }
        })?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| line.split_once('\t').map(|(_, name)| name.to_owned()))
            .collect())
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
        let update = RefUpdate {
            sha,
            branch,
            create_only: false,
        };
        self.push_refs(git_dir, &[update])?
            .pop()
            .unwrap_or_else(|| Err(self.no_answer(branch)))
    }

    /// For a push that gave no answer about `branch`; [`Self::push_refs`]
    /// answers every update it is given, so this is never expected.
    pub(crate) fn no_answer(&self, branch: &str) -> TransportError {
        TransportError::Failed {
            url: self.url.clone(),
            command: "push",
            stderr: format!("no answer about {branch}"),
        }
    }

    /// Pushes every update in one `git push`, none forced; each ref lands or
    /// not on its own (the push is not atomic), and each gets its own
    /// answer, in order. An update that is [`RefUpdate::create_only`] is
    /// refused (`stale info`) when the branch exists. A failure of the push
    /// as a whole is the outer error.
    pub fn push_refs(
        &self,
        git_dir: &Path,
        updates: &[RefUpdate<'_>],
    ) -> Result<Vec<Result<PushResult, TransportError>>, TransportError> {
        let leases: Vec<String> = updates
            .iter()
            .filter(|u| u.create_only)
            .map(|u| format!("--force-with-lease=refs/heads/{}:", u.branch))
            .collect();
        let refspecs: Vec<String> = updates
            .iter()
            .map(|u| format!("{}:refs/heads/{}", u.sha, u.branch))
            .collect();
        // Not `--quiet`: it leaves out the lines of refs already up to date.
        let mut args = vec!["push", "--porcelain"];
        args.extend(leases.iter().map(String::as_str));
        args.push("--");
        args.push(&self.url);
        args.extend(refspecs.iter().map(String::as_str));
        let branches = updates
            .iter()
            .map(|u| u.branch)
            .collect::<Vec<_>>()
            .join(", ");
        self.with_retries("push", |attempt| {
            let out = self.run_network(git_dir, "push", &args, attempt)?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let answers: Option<Vec<_>> = updates
                .iter()
                .map(|u| {
                    let line = porcelain_line(&stdout, u.branch);
                    let flag = line.and_then(|l| l.chars().next());
                    Some(match (flag, line) {
                        // Already there: not created by this push.
                        (Some('='), Some(line)) if u.create_only => {
                            Ok(PushResult::Rejected(self.redact(line)))
                        }
                        (Some('!'), Some(line)) if retryable(line) => {
                            Ok(PushResult::Rejected(self.redact(line)))
                        }
                        (Some('!'), _) => Err(self.classify("push", u.branch, &out)),
                        (Some(_), _) => Ok(PushResult::Pushed),
                        (None, _) if out.status.success() => Ok(PushResult::Pushed),
                        (None, _) => return None,
                    })
                })
                .collect();
            // Without a line for every ref, the push failed as a whole.
            answers.ok_or_else(|| self.classify("push", &branches, &out))
        })
    }

    /// Runs `op`, retrying [`TransportError::Network`] with jittered
    /// backoff within the deadline; `command` names it in errors.
    fn with_retries<T>(
        &self,
        command: &'static str,
        op: impl FnMut(Attempt) -> Result<T, TransportError>,
    ) -> Result<T, TransportError> {
        let transient = |r: &Result<T, TransportError>| {
            if let Err(TransportError::Network { url, stderr, .. }) = r {
                tracing::debug!(%url, %stderr, "transient git network failure");
            }
            matches!(r, Err(TransportError::Network { .. }))
        };
        let finished = retry::run_blocking(NETWORK_RETRY, self.deadline, op, transient)
            .map_err(|_| self.deadline_passed(command))?;
        match finished.result {
            Err(TransportError::Network { url, stderr, .. }) => Err(TransportError::Network {
                url,
                stderr,
                attempts: finished.attempts,
            }),
            other => other,
        }
    }

    /// [`Self::run`] for a network command: without a deadline git runs to
    /// its end; with one it is stopped when the attempt's time is up.
    fn run_network(
        &self,
        git_dir: &Path,
        op: &'static str,
        args: &[&str],
        attempt: Attempt,
    ) -> Result<Output, TransportError> {
        // Without a deadline git runs to its end, unless the run is
        // cancelled (SIGTERM), which `output_within` also watches for.
        let limit = attempt.time_left.unwrap_or(Duration::MAX);
        let mut cmd = self.command(git_dir);
        cmd.args(args);
        match output_within(cmd, limit) {
            Ok(Some(out)) => Ok(out),
            Ok(None) => Err(self.deadline_passed(op)),
            Err(source) => Err(TransportError::Spawn {
                command: op,
                source,
            }),
        }
    }

    fn deadline_passed(&self, command: &'static str) -> TransportError {
        TransportError::Deadline {
            url: self.url.clone(),
            command,
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

/// Runs `cmd` to its end and collects its output, or kills it once `limit`
/// has passed or the process is cancelled (`Ok(None)`).
fn output_within(mut cmd: Command, limit: Duration) -> std::io::Result<Option<Output>> {
    let end = Instant::now().checked_add(limit);
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    // Both pipes are drained while waiting (a full pipe would stall git), on
    // threads of their own: after a kill, a helper git started may hold a
    // pipe open a while longer, and nobody needs to wait for it.
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let stdout = std::thread::spawn(move || drain(stdout));
    let stderr = std::thread::spawn(move || drain(stderr));
    // Told the moment git exits; polling for it cost every command half a
    // poll on average (a promote runs four or five).
    let mut exited = Some(exit_signal(&child));
    loop {
        let left = end.map_or(POLL, |end| end.saturating_duration_since(Instant::now()));
        if left.is_zero() || retry::cancelled() {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        let wait = POLL.min(left);
        let done = match &exited {
            Some(signal) => match signal.recv_timeout(wait) {
                Ok(()) => true,
                Err(mpsc::RecvTimeoutError::Timeout) => false,
                // The watcher could not wait: poll from here on.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    exited = None;
                    child.try_wait()?.is_some()
                }
            },
            None => {
                let done = child.try_wait()?.is_some();
                if !done {
                    std::thread::sleep(wait);
                }
                done
            }
        };
        if done {
            let status = child.wait()?;
            return Ok(Some(Output {
                status,
                stdout: stdout.join().unwrap_or_default(),
                stderr: stderr.join().unwrap_or_default(),
            }));
        }
    }
}

/// A channel that receives once `child` has exited, without reaping it
/// (`waitid` with `WNOWAIT`): only the owner reaps, so until it does the
/// pid is still this child's and a kill cannot reach another process. The
/// sender is dropped, unsent, when the wait fails. A watcher that only gets
/// to wait after its child was killed and reaped finds no such child, or
/// (the pid taken again by another child) returns when that one exits,
/// never reaping it.
fn exit_signal(child: &std::process::Child) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    #[cfg(unix)]
    {
        use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
        let pid = Pid::from_child(child);
        std::thread::spawn(move || {
            loop {
                match waitid(
                    WaitId::Pid(pid),
                    WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
                ) {
                    Ok(_) => {
                        let _ = tx.send(());
                        return;
                    }
                    Err(rustix::io::Errno::INTR) => {}
                    Err(_) => return,
                }
            }
        });
    }
    #[cfg(not(unix))]
    drop((tx, child));
    rx
}

/// Everything a child's pipe yields until it closes.
fn drain(pipe: Option<impl Read>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        // A read error ends the output early; git's exit status still decides.
        let _ = pipe.read_to_end(&mut bytes);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_within_its_limit_is_collected() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let out = output_within(cmd, Duration::from_secs(60))
            .expect("runs")
            .expect("finishes in time");
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    fn the_exit_is_signalled_and_its_status_left_to_the_owner() {
        let mut child = Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .expect("spawns");
        let exited = exit_signal(&child);
        exited
            .recv_timeout(Duration::from_secs(60))
            .expect("told of the exit");
        // Not reaped by the watcher: the owner still gets the status.
        let status = child.wait().expect("reaps");
        assert_eq!(status.code(), Some(7));
    }

    #[test]
    fn a_process_past_its_limit_is_killed() {
        let mut cmd = Command::new("sleep");
        cmd.arg("600");
        let out = output_within(cmd, Duration::from_millis(50)).expect("runs");
        assert!(out.is_none(), "{out:?}");
    }
}
