//! `baton policy replay`: re-checks audit records. Every recorded decide
//! call runs again with the recorded context and event, against a world
//! that answers only from the host calls recorded for that call; the result
//! and the calls the policy made must be exactly those recorded. With
//! `--policy NEW` the recorded events go to another policy instead (shadow
//! evaluation), and the report is a diff per decision.

pub(in crate::cli) mod render;
mod world;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use clap::Args;
use serde::Serialize;

use self::world::{Answering, Unanswered};
use crate::cli::error::CommandError;
use crate::cli::output::{self, OutputFormat};
use crate::engine::audit::{AuditRecord, DecisionRecord, DecisionResult};
use crate::runtime::{Context, Event, HostCall, LoadedPolicy, PolicyRuntime, PolicySource};

/// Arguments of `baton policy replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Audit records (the JSON files `promote`, `advance` and `rollback`
    /// write, by default under `baton-audit/`).
    #[arg(required = true, value_name = "AUDIT_RECORD")]
    records: Vec<PathBuf>,
    /// Shadow evaluation: what this policy (`builtin:NAME` or a path to a
    /// `.wasm` component) would have decided on the recorded events, as a
    /// diff per decision. Exit 0 unless --fail-on-diff.
    #[arg(long, value_name = "NEW")]
    policy: Option<String>,
    /// The component file of the recorded policy, when the path in the
    /// record cannot be reached from here; its digest must still match.
    #[arg(long, value_name = "PATH", conflicts_with = "policy")]
    policy_path: Option<PathBuf>,
    /// With --policy: exit 1 when any decision differs from the record or
    /// cannot be answered from it.
    #[arg(long, requires = "policy")]
    fail_on_diff: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// Which question the run answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(in crate::cli) enum Mode {
    /// Does the recorded policy decide exactly as recorded?
    Replay,
    /// What would another policy have decided?
    Shadow,
}

/// How one re-run decision compares with the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(in crate::cli) enum Verdict {
    /// Same result (and, when replaying, the same host calls).
    Identical,
    /// Another result, or other host calls.
    Different,
    /// The policy asked for something the record holds no answer to.
    Unanswerable,
}

/// One re-run decide call.
#[derive(Debug, Serialize)]
pub(in crate::cli) struct DecisionReport {
    seq: u32,
    event: Event,
    pub(in crate::cli) verdict: Verdict,
    /// What the record holds.
    recorded: DecisionResult,
    /// What the policy answered this time.
    pub(in crate::cli) actual: DecisionResult,
    /// Only when the calls differ (replay mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    calls: Option<CallsDiff>,
    /// The call the record could not answer (the decide call stopped there).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unanswerable: Vec<Unanswered>,
}

/// Host calls as recorded and as made again.
#[derive(Debug, Serialize)]
struct CallsDiff {
    recorded: Vec<HostCall>,
    actual: Vec<HostCall>,
}

/// A policy, as named in reports.
#[derive(Debug, Clone, Serialize)]
struct PolicyRef {
    source: String,
    digest: String,
}

/// One audit record and its re-run decisions.
#[derive(Debug, Serialize)]
struct RecordReport {
    path: String,
    run_id: String,
    /// The policy that made the recorded decisions.
    recorded_policy: PolicyRef,
    /// Decisions in the record.
    total: usize,
    /// Re-run decisions; when replaying, this stops at the first divergence.
    decisions: Vec<DecisionReport>,
}

impl RecordReport {
    fn count(&self, verdict: Verdict) -> usize {
        self.decisions
            .iter()
            .filter(|d| d.verdict == verdict)
            .count()
    }
}

/// The whole run, as printed.
#[derive(Debug, Serialize)]
struct Report {
    mode: Mode,
    /// Shadow mode: the policy evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<PolicyRef>,
    /// Every decision re-run was identical.
    identical: bool,
    records: Vec<RecordReport>,
}

/// Runs `baton policy replay`: exit 0 when every record replays
/// identically (or, with `--policy`, after the report), 1 on the first
/// divergence (or any difference with `--fail-on-diff`), 2 for an unusable
/// record or unreachable policy, 3 for a digest mismatch or a policy that
/// does not load.
pub fn run(args: ReplayArgs) -> Result<(), CommandError> {
    let records = args
        .records
        .iter()
        .map(|path| {
            AuditRecord::read(path)
                .map(|record| (path.clone(), record))
                .map_err(CommandError::from)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let runtime = super::runtime()?;
    let report = match &args.policy {
        Some(new) => shadow(&runtime, new, &records)?,
        None => replay(&runtime, args.policy_path.as_deref(), &records)?,
    };
    if args.output == OutputFormat::Json {
        output::print_json(&report);
    } else {
        output::print(&render::text(&report));
    }
    verdict(&report, args.fail_on_diff)
}

/// The exit status of a finished report.
fn verdict(report: &Report, fail_on_diff: bool) -> Result<(), CommandError> {
    let not_identical = report.records.iter().flat_map(|r| {
        r.decisions
            .iter()
            .filter(|d| d.verdict != Verdict::Identical)
            .map(move |d| (r, d))
    });
    match report.mode {
        Mode::Replay => match not_identical.into_iter().next() {
            None => Ok(()),
            Some((record, decision)) => Err(CommandError::failed(format!(
                "{}: decision {} ({}) did not replay identically",
                record.path,
                decision.seq,
                render::event(&decision.event)
            ))),
        },
        Mode::Shadow => {
            let differing = not_identical.count();
            if fail_on_diff && differing > 0 {
                let total: usize = report.records.iter().map(|r| r.decisions.len()).sum();
                Err(CommandError::failed(format!(
                    "{differing} of {total} decisions differ from the record"
                )))
            } else {
                Ok(())
            }
        }
    }
}

/// Replays every record with the policy it names; stops at the first
/// divergence. Every policy is resolved and checked before anything runs.
fn replay(
    runtime: &PolicyRuntime,
    policy_path: Option<&Path>,
    records: &[(PathBuf, AuditRecord)],
) -> Result<Report, CommandError> {
    let mut loaded: HashMap<String, Rc<LoadedPolicy>> = HashMap::new();
    let mut policies = Vec::with_capacity(records.len());
    for (path, record) in records {
        let source = recorded_source(path, record, policy_path)?;
        let key = source.to_string();
        let policy = match loaded.get(&key) {
            Some(policy) => policy.clone(),
            None => {
                let policy = Rc::new(runtime.load(&source, None).map_err(CommandError::from)?);
                loaded.insert(key, policy.clone());
                policy
            }
        };
        if policy.digest.to_string() != record.policy.digest {
            return Err(CommandError::policy(format!(
                "{}: the recorded policy {} has digest {}, but {} here has digest {}",
                path.display(),
                record.policy.source,
                record.policy.digest,
                policy.source,
                policy.digest
            ))
            .hint(format!(
                "to see what {} would have decided on these events, run \
                 `baton policy replay --policy {} ...` (shadow evaluation)",
                policy.source, policy.source
            )));
        }
        policies.push(policy);
    }

    let mut reports = Vec::with_capacity(records.len());
    for ((path, record), policy) in records.iter().zip(&policies) {
        let mut report = record_report(path, record);
        for decision in &record.decisions {
            let rerun = rerun(policy, &record.context, decision, Mode::Replay);
            let diverged = rerun.verdict != Verdict::Identical;
            report.decisions.push(rerun);
            if diverged {
                break;
            }
        }
        let diverged = report.count(Verdict::Identical) < report.total;
        reports.push(report);
        if diverged {
            break;
        }
    }
    Ok(finish(Mode::Replay, None, reports))
}

/// Evaluates every recorded event with `new` instead of the recorded policy.
fn shadow(
    runtime: &PolicyRuntime,
    new: &str,
    records: &[(PathBuf, AuditRecord)],
) -> Result<Report, CommandError> {
    let source = PolicySource::parse(new, Path::new("."));
    let policy = runtime.load(&source, None).map_err(CommandError::from)?;
    let reports = records
        .iter()
        .map(|(path, record)| {
            let mut report = record_report(path, record);
            report.decisions = record
                .decisions
                .iter()
                .map(|d| rerun(&policy, &record.context, d, Mode::Shadow))
                .collect();
            report
        })
        .collect();
    let policy = PolicyRef {
        source: policy.source.to_string(),
        digest: policy.digest.to_string(),
    };
    Ok(finish(Mode::Shadow, Some(policy), reports))
}

fn finish(mode: Mode, policy: Option<PolicyRef>, records: Vec<RecordReport>) -> Report {
    let identical = records
        .iter()
        .all(|r| r.count(Verdict::Identical) == r.total);
    Report {
        mode,
        policy,
        identical,
        records,
    }
}

fn record_report(path: &Path, record: &AuditRecord) -> RecordReport {
    RecordReport {
        path: path.display().to_string(),
        run_id: record.run_id.clone(),
        recorded_policy: PolicyRef {
            source: record.policy.source.clone(),
            digest: record.policy.digest.clone(),
        },
        total: record.decisions.len(),
        decisions: Vec::new(),
    }
}

/// Where the recorded policy is: `--policy-path`, a built-in, or the
/// configured path resolved the way the configuration resolves it (against
/// the config file's directory). A relative config path is tried from the
/// current directory, then from the directory above the record's (the
/// default layout: `baton-audit/<app>-<run id>.json` beside `baton.yaml`).
pub(in crate::cli) fn recorded_source(
    record_path: &Path,
    record: &AuditRecord,
    policy_path: Option<&Path>,
) -> Result<PolicySource, CommandError> {
    if let Some(path) = policy_path {
        return Ok(PolicySource::File(path.to_path_buf()));
    }
    let config_dir = Path::new(&record.config.path)
        .parent()
        .unwrap_or(Path::new(""));
    let source = PolicySource::parse(&record.policy.source, config_dir);
    let PolicySource::File(configured) = &source else {
        return Ok(source);
    };
    let mut tried: Vec<PathBuf> = record.policy.resolved.iter().map(PathBuf::from).collect();
    tried.push(configured.clone());
    if configured.is_relative()
        && let Some(run_dir) = record_path.parent().and_then(Path::parent)
    {
        tried.push(run_dir.join(configured));
    }
    match tried.iter().find(|p| p.is_file()) {
        Some(found) => Ok(PolicySource::File(found.clone())),
        None => Err(CommandError::usage(format!(
            "{}: cannot find the recorded policy {} (looked for {})",
            record_path.display(),
            record.policy.source,
            tried
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .hint("point --policy-path at the component file; its digest must match the record")),
    }
}

/// Runs one recorded decide call again and compares it with the record.
/// Host calls are compared only when replaying: another policy may read
/// other things and still decide the same.
pub(in crate::cli) fn rerun(
    policy: &LoadedPolicy,
    context: &Context,
    recorded: &DecisionRecord,
    mode: Mode,
) -> DecisionReport {
    let (world, unanswered) = Answering::new(&recorded.calls);
    let (decided, _) = policy.decide(Box::new(world), context, &recorded.event);
    let actual = DecisionResult::of(&decided.result);
    let unanswerable = unanswered.take();
    let same_calls =
        mode == Mode::Shadow || (decided.calls == recorded.calls && unanswerable.is_empty());
    let verdict = if same_result(&recorded.result, &actual) && same_calls {
        Verdict::Identical
    } else if unanswerable.is_empty() {
        Verdict::Different
    } else {
        Verdict::Unanswerable
    };
    DecisionReport {
        seq: recorded.seq,
        event: recorded.event.clone(),
        verdict,
        recorded: recorded.result.clone(),
        actual,
        calls: (!same_calls).then(|| CallsDiff {
            recorded: recorded.calls.clone(),
            actual: decided.calls,
        }),
        unanswerable: if verdict == Verdict::Identical {
            Vec::new()
        } else {
            unanswerable
        },
    }
}

/// Decisions and policy errors must be equal; traps of the same kind are
/// the same result (their messages carry host details such as backtraces).
fn same_result(recorded: &DecisionResult, actual: &DecisionResult) -> bool {
    match (recorded, actual) {
        (DecisionResult::Trap { kind: a, .. }, DecisionResult::Trap { kind: b, .. }) => a == b,
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Action, Decision};

    fn trap(kind: &str, message: &str) -> DecisionResult {
        DecisionResult::Trap {
            kind: kind.into(),
            message: message.into(),
        }
    }

    #[test]
    fn traps_compare_by_kind_and_decisions_exactly() {
        assert!(same_result(
            &trap("host-call", "git broke"),
            &trap("host-call", "no recorded answer")
        ));
        assert!(!same_result(&trap("panic", "x"), &trap("out-of-fuel", "x")));
        let hold = |why: &str| {
            DecisionResult::Decision(Decision {
                actions: vec![Action::Hold(why.into())],
                reasons: Vec::new(),
                recheck_after: None,
            })
        };
        assert!(same_result(&hold("a"), &hold("a")));
        assert!(!same_result(&hold("a"), &hold("b")));
    }

    fn record(source: &str, config: &str) -> AuditRecord {
        let json = serde_json::json!({
            "schema": crate::engine::audit::SCHEMA,
            "run_id": "r1",
            "baton_version": "0",
            "command": { "name": "promote", "app": "a", "args": {} },
            "started_at": "", "finished_at": "", "duration_ms": 0, "dry_run": false,
            "policy": { "source": source, "digest": "sha256:00", "wit_version": "0.1.0",
                        "name": "p", "version": "1" },
            "config": { "path": config, "digest": "sha256:00" },
            "env_repo": { "url": "", "branch": "main", "tip_at_start": "" },
            "context": { "app": "a", "stages": [], "settings": "{}", "run_id": "r1",
                         "max_health_wait": 0, "dry_run": false },
            "decisions": [], "actions": [], "gates": [],
            "outcome": { "status": "done", "exit_code": 0, "message": "", "rolled_back": false }
        });
        serde_json::from_value(json).expect("a valid record")
    }

    #[test]
    fn recorded_paths_resolve_against_the_config_then_beside_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let run_dir = dir.path().join("job");
        std::fs::create_dir_all(run_dir.join("policies")).unwrap();
        std::fs::write(run_dir.join("policies/p.wasm"), b"").unwrap();
        let record_path = run_dir.join("baton-audit/a-r1.json");

        let builtin = record("builtin:default", "baton.yaml");
        assert_eq!(
            recorded_source(&record_path, &builtin, None).unwrap(),
            PolicySource::Builtin("default".into())
        );
        let relative = record("policies/p.wasm", "./baton.yaml");
        assert_eq!(
            recorded_source(&record_path, &relative, None).unwrap(),
            PolicySource::File(run_dir.join("./policies/p.wasm"))
        );
        let absolute_config = record(
            "policies/p.wasm",
            &run_dir.join("baton.yaml").display().to_string(),
        );
        assert_eq!(
            recorded_source(&record_path, &absolute_config, None).unwrap(),
            PolicySource::File(run_dir.join("policies/p.wasm"))
        );
        let missing = record("gone.wasm", "baton.yaml");
        let err = recorded_source(&record_path, &missing, None).unwrap_err();
        assert_eq!(err.kind(), crate::exit::ExitKind::Usage);
        assert!(
            err.message()
                .contains("cannot find the recorded policy gone.wasm")
        );
        let given = Path::new("/elsewhere/p.wasm");
        assert_eq!(
            recorded_source(&record_path, &missing, Some(given)).unwrap(),
            PolicySource::File(given.into())
        );
    }
}
