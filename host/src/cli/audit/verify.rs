//! `baton audit verify RECORD...`: what `policy replay` checks (every
//! decision re-run against its recorded host calls) and what it cannot:
//!
//! - the record is complete and coherent ([`super::checks`]): decisions
//!   numbered in order and following from the command and the gates,
//!   every executed action the one its decision asked for, the outcome and
//!   exit code following from the actions and gates, timestamps that parse
//!   and run forward, the policy's own name and version, and with
//!   `--config` the configuration digest and the guardrail flags;
//! - the chain per app has no gap or fork, and signatures verify with the
//!   trusted public key ([`super::chain`]);
//! - the record matches the env repo ([`super::repo`]): recorded commits
//!   reachable from the branch with trailers naming the run and the policy
//!   digest, and with `--since`/`--until` every Baton commit of the period
//!   listed by one of the given records.
//!
//! Each finding names the record, the field and what was expected. Exit 0
//! when nothing is found, 1 when anything is (verification failed), 2 for
//! unusable input, 3 when a recorded policy does not load, 4 when the env
//! repo cannot be read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::chain;
use crate::cli::error::CommandError;
use crate::cli::output::{self, OutputFormat};
use crate::cli::policy::replay::{self, Mode, Verdict};
use crate::config::Config;
use crate::engine::audit::AuditRecord;
use crate::engine::audit::integrity::{self, SignatureCheck};
use crate::runtime::LoadedPolicy;

/// Arguments of `baton audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Audit records, e.g. every record of a period: `baton-audit/*.json`.
    #[arg(required = true, value_name = "AUDIT_RECORD")]
    records: Vec<PathBuf>,
    /// The configuration the runs used: its digest is compared, its
    /// guardrails checked against the recorded context, and the env repo
    /// is reached through it (with its token).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// The Ed25519 public key (64 hex digits) signatures must verify with
    /// [default: audit.public_key of --config]. With a key, an unsigned
    /// record is a finding.
    #[arg(long, value_name = "HEX")]
    public_key: Option<String>,
    /// The records given are all the records of the period from this time
    /// (RFC 3339): every Baton commit on the branch in the period must be
    /// listed by one of them.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// End of the period (RFC 3339) [default: now].
    #[arg(long, value_name = "TIME", requires = "since")]
    until: Option<String>,
    /// The component file of the recorded policy, when the path in the
    /// records cannot be reached from here; its digest must still match.
    #[arg(long, value_name = "PATH")]
    policy_path: Option<PathBuf>,
    /// Do not read the env repo (record, chain and signature checks only).
    #[arg(long)]
    offline: bool,
    /// Baton's cache directory (env repo clones under `repos/`).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The record (its path), or `env repo` / `chain` for findings across
    /// records.
    pub record: String,
    /// The field, as a JSON path into the record (`actions[2].commit`).
    pub field: String,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub found: String,
}

impl Finding {
    /// A finding in `record` at `field`.
    pub fn new(
        record: &str,
        field: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Self {
            record: record.to_owned(),
            field: field.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    fn line(&self) -> String {
        format!(
            "{}: {}: expected {}, found {}",
            self.record, self.field, self.expected, self.found
        )
    }
}

/// One record as read: its file, its JSON and its parsed form.
pub struct Loaded {
    /// The path as given.
    pub path: String,
    /// The JSON as on disk.
    pub raw: Value,
    /// The record.
    pub record: AuditRecord,
}

/// One record's part of the report.
#[derive(Debug, Serialize)]
struct RecordReport {
    path: String,
    run_id: String,
    app: String,
    /// `sha256:` of its canonical form (what the next record chains to).
    digest: String,
    signature: SignatureCheck,
    decisions: usize,
    decisions_identical: usize,
    findings: Vec<Finding>,
}

/// The whole report.
#[derive(Debug, Serialize)]
struct Report {
    /// No findings.
    ok: bool,
    records: Vec<RecordReport>,
    /// Findings across records: the chain, and the env repo's commits of
    /// the period.
    findings: Vec<Finding>,
}

/// Runs `baton audit verify`.
pub fn run(args: VerifyArgs) -> Result<(), CommandError> {
    let loaded = read_all(&args.records)?;
    let config = args
        .config
        .as_deref()
        .map(crate::cli::load::config)
        .transpose()?;
    let key_text = args
        .public_key
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.audit().public_key.clone()));
    let key = key_text
        .as_deref()
        .map(|k| integrity::public_key(k, "--public-key"))
        .transpose()
        .map_err(CommandError::usage)?;
    let period = super::repo::Period::parse(args.since.as_deref(), args.until.as_deref())?;

    let runtime = crate::cli::load::runtime(None)?;
    let mut policies: HashMap<String, Rc<LoadedPolicy>> = HashMap::new();
    let mut reports = Vec::new();
    for item in &loaded {
        let policy = policy_of(&runtime, &mut policies, item, args.policy_path.as_deref())?;
        let mut findings = super::checks::record(item, config.as_ref());
        let (total, identical) = replay_all(item, &policy, &mut findings);
        let signature = integrity::check_signature(&item.raw, key.as_ref());
        findings.extend(chain::signature_finding(&item.path, &signature));
        reports.push(RecordReport {
            path: item.path.clone(),
            run_id: item.record.run_id.clone(),
            app: item.record.command.app.clone(),
            digest: integrity::digest(&item.raw),
            signature,
            decisions: total,
            decisions_identical: identical,
            findings,
        });
    }
    let mut across = chain::check(&loaded);
    if !args.offline {
        let repo_findings = tokio::task::block_in_place(|| {
            super::repo::check(&loaded, config.as_ref(), args.cache_dir.as_deref(), period)
        })?;
        for finding in repo_findings {
            match reports.iter_mut().find(|r| r.path == finding.record) {
                Some(report) => report.findings.push(finding),
                None => across.push(finding),
            }
        }
    }
    let ok = across.is_empty() && reports.iter().all(|r| r.findings.is_empty());
    let report = Report {
        ok,
        records: reports,
        findings: across,
    };
    match args.output {
        OutputFormat::Json => output::print_json(&report),
        OutputFormat::Text => output::print(&text(&report)),
    }
    if report.ok {
        Ok(())
    } else {
        let count = report.findings.len()
            + report
                .records
                .iter()
                .map(|r| r.findings.len())
                .sum::<usize>();
        Err(CommandError::failed(format!(
            "verification failed: {count} finding{}",
            if count == 1 { "" } else { "s" }
        )))
    }
}

/// Reads every record (any schema this baton reads).
fn read_all(paths: &[PathBuf]) -> Result<Vec<Loaded>, CommandError> {
    paths
        .iter()
        .map(|path| {
            let record = AuditRecord::read(path)?;
            let bytes = std::fs::read(path)
                .map_err(|e| CommandError::usage(format!("cannot read {}: {e}", path.display())))?;
            let raw = serde_json::from_slice(&bytes)
                .map_err(|e| CommandError::usage(format!("{} is not JSON: {e}", path.display())))?;
            Ok(Loaded {
                path: path.display().to_string(),
                raw,
                record,
            })
        })
        .collect()
}

/// The recorded policy of `item`, loaded once per source. A policy whose
/// digest differs from the record's is loaded all the same: the mismatch
/// is a finding of the record ([`super::checks::policy`]).
fn policy_of(
    runtime: &crate::runtime::PolicyRuntime,
    loaded: &mut HashMap<String, Rc<LoadedPolicy>>,
    item: &Loaded,
    policy_path: Option<&Path>,
) -> Result<Rc<LoadedPolicy>, CommandError> {
    let source = replay::recorded_source(Path::new(&item.path), &item.record, policy_path)?;
    let key = source.to_string();
    if let Some(policy) = loaded.get(&key) {
        return Ok(policy.clone());
    }
    let policy = Rc::new(runtime.load(&source, None).map_err(CommandError::from)?);
    loaded.insert(key, policy.clone());
    Ok(policy)
}

/// Replays every decision; a decision that does not replay identically is
/// a finding. Returns (total, identical).
fn replay_all(item: &Loaded, policy: &LoadedPolicy, findings: &mut Vec<Finding>) -> (usize, usize) {
    findings.extend(super::checks::policy(item, policy));
    if policy.digest.to_string() != item.record.policy.digest {
        // Another component: its decisions say nothing about the record's.
        return (item.record.decisions.len(), 0);
    }
    let mut identical = 0;
    for (i, decision) in item.record.decisions.iter().enumerate() {
        let rerun = replay::rerun(policy, &item.record.context, decision, Mode::Replay);
        if rerun.verdict == Verdict::Identical {
            identical += 1;
            continue;
        }
        let found = replay::render::result_lines(&rerun.actual).join("; ");
        let expected = replay::render::result_lines(&decision.result).join("; ");
        let why = match rerun.verdict {
            Verdict::Unanswerable => "the policy asked for something the record holds no answer to",
            _ if found == expected => "the same result from other host calls than recorded",
            _ => "another result",
        };
        findings.push(Finding::new(
            &item.path,
            format!("decisions[{i}].result"),
            format!("what the policy decides on the recorded event and host calls ({found})"),
            format!("{expected} ({why})"),
        ));
    }
    (item.record.decisions.len(), identical)
}

fn text(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for r in &report.records {
        let signature = match &r.signature {
            SignatureCheck::Valid => "signature valid".to_owned(),
            SignatureCheck::Unsigned => "unsigned".to_owned(),
            SignatureCheck::NoKey => "signature not checked (no public key)".to_owned(),
            SignatureCheck::Invalid(why) => format!("signature INVALID: {why}"),
        };
        let _ = writeln!(
            out,
            "{}: run {} ({}): {} of {} decisions replay identically; {}; {}",
            r.path,
            r.run_id,
            r.app,
            r.decisions_identical,
            r.decisions,
            signature,
            match r.findings.len() {
                0 => "no findings".to_owned(),
                1 => "1 finding".to_owned(),
                n => format!("{n} findings"),
            }
        );
        for f in &r.findings {
            let _ = writeln!(out, "  {}", f.line());
        }
    }
    for f in &report.findings {
        let _ = writeln!(out, "{}", f.line());
    }
    let _ = writeln!(
        out,
        "{}",
        if report.ok {
            "verified: no findings"
        } else {
            "verification failed"
        }
    );
    out
}

/// The configuration's digest as the record writes it.
pub(super) fn config_digest(config: &Config) -> &str {
    config.digest()
}
