//! The checks of one record on its own: is it complete and coherent? Each
//! returns findings that name the field and what was expected.
//!
//! - decisions numbered 1..n in order, the first following from the
//!   command, every health observation and timeout belonging to a gate
//!   (as many observations as the gate counted, its last one the gate's
//!   `last`), every gate started by a decision that asked for it;
//! - every action record the action its decision asked for, in order, and
//!   none missing from a run that succeeded;
//! - the outcome following from the actions and gates (status, exit code,
//!   rolled back);
//! - timestamps that parse (RFC 3339), run forward, and agree with the
//!   duration and the run id;
//! - with the loaded policy: its name, version and contract version; with
//!   `--config`: the configuration digest and the guardrails in the
//!   recorded context.

use serde_json::Value;

use super::verify::{Finding, Loaded};
use crate::config::Config;
use crate::engine::audit::{
    ActionRecord, ActionStatus, AuditRecord, DecisionRecord, DecisionResult, GateRecord,
    GateResult, OutcomeRecord, Status,
};
use crate::engine::guardrails::bounded;
use crate::engine::provenance::run_started;
use crate::runtime::{Action, AppStatus, Decision, Event, LoadedPolicy};

/// Every check of one record that needs nothing but the record (and the
/// configuration, when given).
pub fn record(item: &Loaded, config: Option<&Config>) -> Vec<Finding> {
    let mut out = Vec::new();
    let at = |field: String, expected: String, found: String| {
        Finding::new(&item.path, field, expected, found)
    };
    let r = &item.record;
    times(r, &mut out, &at);
    if r.context.run_id != r.run_id {
        out.push(at(
            "context.run_id".into(),
            format!("the record's run id {}", r.run_id),
            r.context.run_id.clone(),
        ));
    }
    decisions(r, &mut out, &at);
    gates(r, &mut out, &at);
    actions(r, &mut out, &at);
    outcome(r, &mut out, &at);
    if let Some(config) = config {
        configuration(r, config, &mut out, &at);
    }
    out
}

type At<'a> = dyn Fn(String, String, String) -> Finding + 'a;

fn times(r: &AuditRecord, out: &mut Vec<Finding>, at: &At<'_>) {
    let parse = |field: &str, value: &str, out: &mut Vec<Finding>| {
        let t = crate::time::parse_rfc3339(value);
        if t.is_none() {
            out.push(at(
                field.into(),
                "an RFC 3339 time (YYYY-MM-DDTHH:MM:SS.mmmZ)".into(),
                format!("{value:?}"),
            ));
        }
        t
    };
    let started = parse("started_at", &r.started_at, out);
    let finished = parse("finished_at", &r.finished_at, out);
    let (Some(started), Some(finished)) = (started, finished) else {
        return;
    };
    let Ok(span) = finished.duration_since(started) else {
        out.push(at(
            "finished_at".into(),
            format!("a time after started_at ({})", r.started_at),
            r.finished_at.clone(),
        ));
        return;
    };
    let span_ms = u64::try_from(span.as_millis()).unwrap_or(u64::MAX);
    if span_ms.abs_diff(r.duration_ms) > 1000 {
        out.push(at(
            "duration_ms".into(),
            format!("finished_at - started_at ({span_ms} ms, within a second)"),
            r.duration_ms.to_string(),
        ));
    }
    let start_secs = started
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match run_started(&r.run_id) {
        // The id is made when the engine is built, just before the run.
        Some(t) if t <= start_secs && start_secs - t <= 600 => {}
        _ => out.push(at(
            "run_id".into(),
            format!(
                "a run id made when the run started ({}, YYYYMMDDTHHMMSSZ-xxxxxx)",
                r.started_at
            ),
            r.run_id.clone(),
        )),
    }
    let total: u64 = r.gates.iter().map(|g| g.elapsed_ms).sum();
    if total > r.duration_ms.saturating_add(1000) {
        out.push(at(
            "gates".into(),
            format!("gates that waited at most the run's {} ms", r.duration_ms),
            format!("{total} ms of gates"),
        ));
    }
    for (i, mr) in r.merge_requests.iter().enumerate() {
        let times = mr
            .merged_at
            .iter()
            .map(|t| (format!("merge_requests[{i}].merged_at"), t))
            .chain(mr.approvals.iter().enumerate().filter_map(|(j, a)| {
                a.at.as_ref()
                    .map(|t| (format!("merge_requests[{i}].approvals[{j}].at"), t))
            }));
        for (field, t) in times {
            match crate::time::parse_rfc3339(t) {
                Some(t) if t <= finished => {}
                _ => out.push(at(
                    field,
                    format!("an RFC 3339 time before the run ended ({})", r.finished_at),
                    t.clone(),
                )),
            }
        }
    }
}

fn decisions(r: &AuditRecord, out: &mut Vec<Finding>, at: &At<'_>) {
    for (i, d) in r.decisions.iter().enumerate() {
        let expected = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if d.seq != expected {
            out.push(at(
                format!("decisions[{i}].seq"),
                format!("{expected} (decisions numbered from 1, in order)"),
                d.seq.to_string(),
            ));
        }
    }
    let Some(first) = r.decisions.first() else {
        if !r.actions.is_empty() || !r.gates.is_empty() {
            out.push(at(
                "decisions".into(),
                "the decisions the actions and gates came from".into(),
                "no decisions".into(),
            ));
        }
        return;
    };
    let arg = |k: &str| {
        r.command
            .args
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let matches = match (r.command.name.as_str(), &first.event) {
        ("promote", Event::NewVersion(e)) => arg("tag").as_deref() == Some(e.version.as_str()),
        ("rollback", Event::RollbackRequested(e)) => {
            arg("stage").as_deref() == Some(e.stage.as_str())
                && arg("to") == e.to_version
                && arg("reason").as_deref() == Some(e.reason.as_str())
        }
        ("advance", Event::StageChanged(_) | Event::Reconcile(_)) => true,
        _ => false,
    };
    if !matches {
        out.push(at(
            "decisions[0].event".into(),
            format!(
                "the event `baton {}` sends ({})",
                r.command.name,
                Value::Object(r.command.args.clone())
            ),
            crate::cli::policy::replay::render::event(&first.event),
        ));
    }
}

/// The (stage, version, commit) a gate event is about.
fn gate_key(event: &Event) -> Option<(&str, &str, &str, bool)> {
    match event {
        Event::HealthObserved(e) => Some((&e.stage, &e.version, &e.commit, false)),
        Event::GateTimeout(e) => Some((&e.stage, &e.version, &e.commit, true)),
        _ => None,
    }
}

/// The gates: each started by a decision that asked for it, within the
/// health-wait guardrail, its observations and timeout as the decisions
/// record them; every gate event belonging to a gate.
fn gates(r: &AuditRecord, out: &mut Vec<Finding>, at: &At<'_>) {
    for (i, g) in r.gates.iter().enumerate() {
        gate_start(r, i, g, out, at);
        gate_observations(r, i, g, out, at);
    }
    gate_events(r, out, at);
}

/// Whether `g` is the gate of (`stage`, `version`, `commit`).
fn is_gate(g: &GateRecord, (stage, version, commit): (&str, &str, &str)) -> bool {
    (g.stage.as_str(), g.version.as_str(), g.commit.as_str()) == (stage, version, commit)
}

/// Gate `i` was asked for by its decision and waits no longer than the
/// guardrail allows.
fn gate_start(r: &AuditRecord, i: usize, g: &GateRecord, out: &mut Vec<Finding>, at: &At<'_>) {
    let asked = r
        .decisions
        .iter()
        .find(|d| d.seq == g.decision)
        .is_some_and(|d| match &d.result {
            DecisionResult::Decision(dec) => dec.actions.iter().any(
                |a| matches!(a, Action::AwaitHealth(w) if w.stage == g.stage && w.version == g.version),
            ),
            _ => false,
        });
    if !asked {
        out.push(at(
            format!("gates[{i}].decision"),
            format!(
                "a decision that asked to await health of {} at {}",
                g.stage, g.version
            ),
            g.decision.to_string(),
        ));
    }
    if g.timeout_ms > r.context.max_health_wait {
        out.push(at(
            format!("gates[{i}].timeout_ms"),
            format!(
                "at most guardrails.max_health_wait ({} ms)",
                r.context.max_health_wait
            ),
            g.timeout_ms.to_string(),
        ));
    }
}

/// Gate `i` counted as many observations as the record's health-observed
/// decisions of its (stage, version, commit), timed out as its gate-timeout
/// decisions say, and kept the last observation as its `last`.
fn gate_observations(
    r: &AuditRecord,
    i: usize,
    g: &GateRecord,
    out: &mut Vec<Finding>,
    at: &At<'_>,
) {
    let key = (g.stage.as_str(), g.version.as_str(), g.commit.as_str());
    let same = |k: (&str, &str, &str)| k == key;
    let observed: Vec<(usize, &AppStatus)> = r
        .decisions
        .iter()
        .enumerate()
        .filter_map(|(j, d)| match &d.event {
            Event::HealthObserved(e) if same((&e.stage, &e.version, &e.commit)) => {
                Some((j, &e.status))
            }
            _ => None,
        })
        .collect();
    let counted: u32 = r
        .gates
        .iter()
        .filter(|o| is_gate(o, key))
        .map(|o| o.observations)
        .sum();
    if usize::try_from(counted).ok() != Some(observed.len()) {
        out.push(at(
            format!("gates[{i}].observations"),
            format!(
                "{} (the health-observed decisions of {} at {} in the record)",
                observed.len(),
                g.stage,
                g.version
            ),
            g.observations.to_string(),
        ));
    }
    let timeouts = r
        .decisions
        .iter()
        .filter(|d| matches!(gate_key(&d.event), Some((s, v, c, true)) if same((s, v, c))))
        .count();
    let timed_out = r
        .gates
        .iter()
        .filter(|o| is_gate(o, key) && o.result == GateResult::TimedOut)
        .count();
    if timeouts != timed_out && g.result == GateResult::TimedOut {
        out.push(at(
            format!("gates[{i}].result"),
            format!("{timeouts} gate-timeout decisions for this gate"),
            format!("{timed_out} timed-out gates"),
        ));
    }
    if let (Some(last), Some((j, status))) = (&g.last, observed.last())
        && g.result == GateResult::Decided
        && serde_json::to_value(last).ok() != serde_json::to_value(status).ok()
    {
        out.push(at(
            format!("gates[{i}].last"),
            format!("the status of the last observation (decisions[{j}].event)"),
            serde_json::to_string(last).unwrap_or_default(),
        ));
    }
}

/// Every health observation and gate timeout belongs to a gate started
/// before it.
fn gate_events(r: &AuditRecord, out: &mut Vec<Finding>, at: &At<'_>) {
    for (j, d) in r.decisions.iter().enumerate() {
        let Some((stage, version, commit, _)) = gate_key(&d.event) else {
            continue;
        };
        let gated = r.gates.iter().any(|g| {
            g.stage == stage && g.version == version && g.commit == commit && g.decision < d.seq
        });
        if !gated {
            out.push(at(
                format!("decisions[{j}].event"),
                format!("an event of a gate in `gates` (of {stage} at {version}, commit {commit})"),
                "no such gate started before it".into(),
            ));
        }
    }
}

/// The actions: each what its decision asked for, in order, none missing
/// from a run that succeeded; each of a decision in the record; every
/// executed write with its commit.
fn actions(r: &AuditRecord, out: &mut Vec<Finding>, at: &At<'_>) {
    let succeeded = r.outcome.status.exit_kind() == crate::exit::ExitKind::Success;
    for d in &r.decisions {
        let DecisionResult::Decision(decision) = &d.result else {
            continue;
        };
        decision_actions(r, d, decision, succeeded, out, at);
    }
    for (i, a) in r.actions.iter().enumerate() {
        if !r.decisions.iter().any(|d| d.seq == a.decision) {
            out.push(at(
                format!("actions[{i}].decision"),
                format!("one of the {} decisions of the record", r.decisions.len()),
                a.decision.to_string(),
            ));
        }
        let writes = matches!(a.action, Action::SetVersion(_) | Action::Rollback(_));
        if writes && a.status == ActionStatus::Done && a.commit.is_none() {
            out.push(at(
                format!("actions[{i}].commit"),
                "the commit an executed write made".into(),
                "none".into(),
            ));
        }
    }
}

/// The actions recorded for decision `d`: numbered 1..n, each what
/// `decision` asked for at its index, all of them when the run `succeeded`.
fn decision_actions(
    r: &AuditRecord,
    d: &DecisionRecord,
    decision: &Decision,
    succeeded: bool,
    out: &mut Vec<Finding>,
    at: &At<'_>,
) {
    let recorded: Vec<(usize, &ActionRecord)> = r
        .actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.decision == d.seq)
        .collect();
    for (n, (i, a)) in recorded.iter().enumerate() {
        let expected_index = u32::try_from(n + 1).unwrap_or(u32::MAX);
        if a.index != expected_index {
            out.push(at(
                format!("actions[{i}].index"),
                format!(
                    "{expected_index} (the actions of decision {} in order)",
                    d.seq
                ),
                a.index.to_string(),
            ));
        }
        action_asked(d, decision, *i, a, out, at);
    }
    if succeeded && recorded.len() < decision.actions.len() {
        out.push(at(
            "actions".into(),
            format!(
                "a record of each of the {} actions of decision {} (the run succeeded)",
                decision.actions.len(),
                d.seq
            ),
            format!("{}", recorded.len()),
        ));
    }
}

/// Action record `i` is what `decision` (of `d`) asked for at its index.
fn action_asked(
    d: &DecisionRecord,
    decision: &Decision,
    i: usize,
    a: &ActionRecord,
    out: &mut Vec<Finding>,
    at: &At<'_>,
) {
    let asked = usize::try_from(a.index)
        .ok()
        .and_then(|k| k.checked_sub(1))
        .and_then(|k| decision.actions.get(k));
    match asked {
        Some(asked) => {
            let want = serde_json::to_value(bounded(asked)).ok();
            if want != serde_json::to_value(&a.action).ok() {
                out.push(at(
                    format!("actions[{i}].action"),
                    format!(
                        "what decision {} asked for as its action {} ({asked})",
                        d.seq, a.index
                    ),
                    a.action.to_string(),
                ));
            }
        }
        None => out.push(at(
            format!("actions[{i}].index"),
            format!(
                "one of the {} actions decision {} asked for",
                decision.actions.len(),
                d.seq
            ),
            a.index.to_string(),
        )),
    }
}

/// The status the actions and gates of `r` lead to, when they determine it.
fn outcome(r: &AuditRecord, out: &mut Vec<Finding>, at: &At<'_>) {
    let o: &OutcomeRecord = &r.outcome;
    let code = o.status.exit_kind().code();
    if o.exit_code != code {
        out.push(at(
            "outcome.exit_code".into(),
            format!("{code} (the exit code of status {:?})", o.status),
            o.exit_code.to_string(),
        ));
    }
    let done = |a: &&ActionRecord| a.status == ActionStatus::Done;
    let fail = r.actions.iter().filter(done).find_map(|a| match &a.action {
        Action::Fail(reason) => Some(reason.as_str()),
        _ => None,
    });
    let holds: Vec<&str> = r
        .actions
        .iter()
        .filter(done)
        .filter_map(|a| match &a.action {
            Action::Hold(reason) => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    let any = |s: ActionStatus| r.actions.iter().any(|a| a.status == s);
    // Anything that ended the run early: the status is one of the failure
    // statuses, which the record alone cannot tell apart.
    let stopped = any(ActionStatus::Refused)
        || any(ActionStatus::Failed)
        || r.gates.iter().any(|g| g.result != GateResult::Decided)
        || r.decisions
            .iter()
            .any(|d| !matches!(d.result, DecisionResult::Decision(_)));
    let expected: Option<(Status, String)> = if let Some(reason) = fail {
        Some((Status::Failed, reason.to_owned()))
    } else if r.dry_run {
        Some((Status::Planned, "planned only (--dry-run)".into()))
    } else if stopped {
        None
    } else if !holds.is_empty() {
        Some((Status::Held, holds.join("; ")))
    } else if r.actions.is_empty() {
        Some((Status::Done, "nothing to do".into()))
    } else {
        Some((Status::Done, "done".into()))
    };
    match expected {
        Some((status, message)) if status != o.status || message != o.message => {
            out.push(at(
                "outcome".into(),
                format!("{status:?}: {message} (what the actions and gates lead to)"),
                format!("{:?}: {}", o.status, o.message),
            ));
        }
        Some(_) => {}
        None if matches!(o.status, Status::Done | Status::Held | Status::Planned) => {
            out.push(at(
                "outcome.status".into(),
                "a failure status: an action was refused or failed, a gate did not decide, or \
                 the policy erred"
                    .into(),
                format!("{:?}", o.status),
            ));
        }
        None => {}
    }
    let rolled_back = r.actions.iter().any(|a| {
        matches!(a.action, Action::Rollback(_))
            && matches!(a.status, ActionStatus::Done | ActionStatus::Failed)
            && a.commit.is_some()
    });
    if o.rolled_back != rolled_back {
        out.push(at(
            "outcome.rolled_back".into(),
            format!("{rolled_back} (whether a rollback action wrote a commit)"),
            o.rolled_back.to_string(),
        ));
    }
}

/// The configuration the run used, as given with `--config`.
fn configuration(r: &AuditRecord, config: &Config, out: &mut Vec<Finding>, at: &At<'_>) {
    let digest = super::verify::config_digest(config);
    if r.config.digest != digest {
        out.push(at(
            "config.digest".into(),
            format!("{digest} (of {})", config.path().display()),
            r.config.digest.clone(),
        ));
    }
    let g = config.guardrails();
    let max = u64::try_from(g.max_health_wait.as_millis()).unwrap_or(u64::MAX);
    if r.context.max_health_wait != max {
        out.push(at(
            "context.max_health_wait".into(),
            format!("{max} (guardrails.max_health_wait)"),
            r.context.max_health_wait.to_string(),
        ));
    }
    for (i, stage) in r.context.stages.iter().enumerate() {
        let direct = g.direct_commit_stages.contains(&stage.name);
        if stage.direct_commit_allowed != direct {
            out.push(at(
                format!("context.stages[{i}].direct_commit_allowed"),
                format!("{direct} (guardrails.direct_commit_stages)"),
                stage.direct_commit_allowed.to_string(),
            ));
        }
        let auto = g.auto_merge_stages.contains(&stage.name);
        if stage.auto_merge_allowed != auto {
            out.push(at(
                format!("context.stages[{i}].auto_merge_allowed"),
                format!("{auto} (guardrails.auto_merge_stages)"),
                stage.auto_merge_allowed.to_string(),
            ));
        }
    }
}

/// The recorded policy against the component that replays it.
pub fn policy(item: &Loaded, policy: &LoadedPolicy) -> Vec<Finding> {
    let r = &item.record.policy;
    let checks = [
        ("policy.digest", policy.digest.to_string(), &r.digest),
        ("policy.name", policy.metadata.name.clone(), &r.name),
        (
            "policy.version",
            policy.metadata.version.clone(),
            &r.version,
        ),
        (
            "policy.wit_version",
            policy.wit_version.clone(),
            &r.wit_version,
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, want, found)| want != *found)
        .map(|(field, want, found)| {
            Finding::new(
                &item.path,
                field,
                format!("{want} (of the component {})", policy.source),
                found.clone(),
            )
        })
        .collect()
}
