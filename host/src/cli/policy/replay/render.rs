//! The text report of `baton policy replay`: one line per record that
//! replays identically; for a divergence, or a shadow decision that
//! differs, the recorded and the new result as a line diff (`-` recorded,
//! `+` new), actions in their usual one-line form.

use std::fmt::Write as _;

use serde::Serialize;

use super::super::linediff;
use super::{DecisionReport, Mode, RecordReport, Report, Verdict};
use crate::engine::audit::DecisionResult;
use crate::runtime::{Event, HostCall, PolicyError};

/// The whole report as text.
pub(super) fn text(report: &Report) -> String {
    let mut out = String::new();
    match report.mode {
        Mode::Replay => {
            for record in &report.records {
                replayed(&mut out, record);
            }
        }
        Mode::Shadow => {
            if let Some(policy) = &report.policy {
                let _ = writeln!(
                    out,
                    "shadow evaluation of {} ({})",
                    policy.source, policy.digest
                );
            }
            for record in &report.records {
                out.push('\n');
                shadowed(&mut out, record);
            }
            let all: Vec<&DecisionReport> =
                report.records.iter().flat_map(|r| &r.decisions).collect();
            let records = match report.records.len() {
                1 => "1 record".to_owned(),
                n => format!("{n} records"),
            };
            let _ = writeln!(out, "\n{records}, {}", tally(&all));
        }
    }
    out
}

fn replayed(out: &mut String, record: &RecordReport) {
    let head = format!("{}: run {}", record.path, record.run_id);
    let Some(diverged) = record
        .decisions
        .iter()
        .find(|d| d.verdict != Verdict::Identical)
    else {
        let _ = writeln!(out, "{head}: {} identical", decisions(record.total));
        return;
    };
    let _ = writeln!(
        out,
        "{head}: decision {} of {} diverges",
        diverged.seq, record.total
    );
    let _ = writeln!(out, "  event: {}", event(&diverged.event));
    if super::same_result(&diverged.recorded, &diverged.actual) {
        let _ = writeln!(out, "  result: as recorded");
    } else {
        let _ = writeln!(out, "  result (- recorded, + replayed):");
        diff_lines(
            out,
            "    ",
            &result_lines(&diverged.recorded),
            &result_lines(&diverged.actual),
        );
    }
    match &diverged.calls {
        None => {
            let _ = writeln!(out, "  host calls: as recorded");
        }
        Some(calls) => {
            let _ = writeln!(out, "  host calls (- recorded, + replayed):");
            let recorded: Vec<String> = calls.recorded.iter().map(call_line).collect();
            let mut actual: Vec<String> = calls.actual.iter().map(call_line).collect();
            actual.extend(
                diverged
                    .unanswerable
                    .iter()
                    .map(|u| format!("{} {} (not answerable from the record)", u.call, u.request)),
            );
            if recorded == actual {
                let _ = writeln!(
                    out,
                    "    the same calls, but the policy saw other answers than the record holds"
                );
            }
            diff_lines(out, "    ", &recorded, &actual);
        }
    }
}

fn shadowed(out: &mut String, record: &RecordReport) {
    let _ = writeln!(
        out,
        "{}: run {}, decided by {} ({})",
        record.path, record.run_id, record.recorded_policy.source, record.recorded_policy.digest
    );
    for d in &record.decisions {
        let head = format!("  decision {}, {}", d.seq, event(&d.event));
        match d.verdict {
            Verdict::Identical => {
                let _ = writeln!(out, "{head}: same");
            }
            Verdict::Different => {
                let _ = writeln!(out, "{head}: different (- recorded, + shadow)");
                diff_lines(
                    out,
                    "      ",
                    &result_lines(&d.recorded),
                    &result_lines(&d.actual),
                );
            }
            Verdict::Unanswerable => {
                let _ = writeln!(out, "{head}: not answerable from the record");
                for u in &d.unanswerable {
                    let _ = writeln!(out, "      the policy asked for {} {}", u.call, u.request);
                }
                let _ = writeln!(out, "      recorded:");
                for line in result_lines(&d.recorded) {
                    let _ = writeln!(out, "        {line}");
                }
            }
        }
    }
    let all: Vec<&DecisionReport> = record.decisions.iter().collect();
    let _ = writeln!(out, "  {}", tally(&all));
}

/// `5 decisions: 3 same, 1 different, 1 not answerable`.
fn tally(all: &[&DecisionReport]) -> String {
    let count = |v: Verdict| all.iter().filter(|d| d.verdict == v).count();
    format!(
        "{}: {} same, {} different, {} not answerable",
        decisions(all.len()),
        count(Verdict::Identical),
        count(Verdict::Different),
        count(Verdict::Unanswerable)
    )
}

fn decisions(n: usize) -> String {
    if n == 1 {
        "1 decision".to_owned()
    } else {
        format!("{n} decisions")
    }
}

/// An event in one line: its kind and what it is about.
pub(in crate::cli) fn event(event: &Event) -> String {
    match event {
        Event::NewVersion(e) => format!("new-version {}", e.version),
        Event::StageChanged(e) => format!(
            "stage-changed: {} {} -> {}{}",
            e.stage,
            e.from_version.as_deref().unwrap_or("(none)"),
            e.to_version,
            if e.is_rollback { " (rollback)" } else { "" }
        ),
        Event::HealthObserved(e) => format!(
            "health-observed: {} at {} is {} / {}",
            e.stage,
            e.version,
            name(&e.status.health),
            name(&e.status.sync)
        ),
        Event::GateTimeout(e) => format!(
            "gate-timeout: {} at {} after {}s",
            e.stage,
            e.version,
            e.elapsed / 1000
        ),
        Event::RollbackRequested(e) => format!(
            "rollback-requested: {} to {}",
            e.stage,
            e.to_version.as_deref().unwrap_or("the last good version")
        ),
        Event::Reconcile(e) => format!(
            "reconcile: {} at {}",
            e.stage,
            e.version.as_deref().unwrap_or("(none)")
        ),
    }
}

/// A WIT enum case as written in records (`Healthy`, `OutOfSync`).
fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

/// A result as the lines that are compared: one per action, then reasons.
pub(in crate::cli) fn result_lines(result: &DecisionResult) -> Vec<String> {
    match result {
        DecisionResult::Decision(decision) => {
            let mut lines: Vec<String> = decision
                .actions
                .iter()
                .enumerate()
                .map(|(n, a)| format!("{}. {a}", n + 1))
                .collect();
            if lines.is_empty() {
                lines.push("(no actions: keep waiting)".to_owned());
            }
            lines.extend(decision.reasons.iter().map(|r| format!("reason: {r}")));
            lines
        }
        DecisionResult::PolicyError(e) => {
            let (kind, message) = match e {
                PolicyError::InvalidSettings(m) => ("invalid-settings", m),
                PolicyError::InvalidEvent(m) => ("invalid-event", m),
                PolicyError::Capability(m) => ("capability", m),
                PolicyError::Other(m) => ("other", m),
            };
            vec![format!("policy error ({kind}): {message}")]
        }
        DecisionResult::Oversized {
            actions,
            bytes,
            digest,
        } => vec![format!(
            "oversized decision: {actions} actions, {bytes} bytes of JSON, {digest}"
        )],
        DecisionResult::Trap { kind, .. } => vec![format!("trap: {kind}")],
    }
}

fn call_line(call: &HostCall) -> String {
    format!("{} {}", call.name(), call.request)
}

/// Writes a line diff of `old` and `new` (longest common subsequence):
/// common lines indented, `- ` only in `old`, `+ ` only in `new`.
fn diff_lines(out: &mut String, indent: &str, old: &[String], new: &[String]) {
    for line in diff(old, new) {
        let _ = writeln!(out, "{indent}{line}");
    }
}

fn diff(old: &[String], new: &[String]) -> Vec<String> {
    linediff::diff(old, new, |a, b| a == b, "+ ").1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn diff_keeps_common_lines_and_marks_the_rest() {
        let old = strings(&["1. a", "2. b", "reason: r"]);
        let new = strings(&["1. a", "2. c", "reason: r"]);
        assert_eq!(
            diff(&old, &new),
            strings(&["  1. a", "- 2. b", "+ 2. c", "  reason: r"])
        );
        assert_eq!(
            diff(&old, &[]),
            strings(&["- 1. a", "- 2. b", "- reason: r"])
        );
    }
}
