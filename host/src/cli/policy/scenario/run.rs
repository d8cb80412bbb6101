//! Running a scenario: each step is one decide call of the real component in
//! the sandboxed runtime, with a fresh [`ScenarioWorld`] at the step's time.
//! The outcome is compared with the expectation in the compact action form
//! and the comparison is kept as a line diff for people.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::super::linediff;
use super::world::ScenarioWorld;
use super::{ErrorKind, Expectation, Scenario, Step};
use crate::runtime::{DecideError, Decision, LoadedPolicy, PolicyError};

/// The outcome of one case.
#[derive(Debug, Serialize)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// Whether the outcome met the expectation.
    pub passed: bool,
    /// What was expected.
    pub expected: Expectation,
    /// Reasons the decision had to give (patterns).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expected_reasons: Vec<String>,
    /// What the policy did.
    pub actual: Actual,
    /// Expected against actual, one line each: `  ` both, `- ` expected
    /// only, `+ ` actual only.
    pub diff: Vec<String>,
    /// Time of the decide call, instantiation included.
    #[serde(rename = "elapsed_us", serialize_with = "micros")]
    pub elapsed: Duration,
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// What the policy answered.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Actual {
    /// A decision.
    Decision {
        /// The actions in the compact form.
        actions: Vec<String>,
        /// The full decision.
        decision: Decision,
    },
    /// A WIT `policy-error`.
    PolicyError {
        /// Its variant.
        variant: ErrorKind,
        /// Its text.
        message: String,
    },
    /// The call trapped.
    Trap {
        /// The kind of trap (`panic`, `out-of-fuel`, `host-call`, ...).
        trap: String,
        /// The full message, with backtrace when there is one.
        message: String,
    },
}

impl Actual {
    fn from_result(result: Result<Result<Decision, PolicyError>, DecideError>) -> Self {
        match result {
            Ok(Ok(decision)) => Self::Decision {
                actions: decision.actions.iter().map(ToString::to_string).collect(),
                decision,
            },
            Ok(Err(error)) => {
                let (variant, message) = match error {
                    PolicyError::InvalidSettings(m) => (ErrorKind::InvalidSettings, m),
                    PolicyError::InvalidEvent(m) => (ErrorKind::InvalidEvent, m),
                    PolicyError::Capability(m) => (ErrorKind::Capability, m),
                    PolicyError::Other(m) => (ErrorKind::Other, m),
                };
                Self::PolicyError { variant, message }
            }
            Err(error) => Self::Trap {
                trap: error.kind().to_owned(),
                message: error.to_string(),
            },
        }
    }

    /// The outcome as diff lines: one per action, or one for the error.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Decision { actions, .. } => actions.clone(),
            Self::PolicyError { variant, message } => vec![format!("error {variant}: {message}")],
            Self::Trap { trap, message } => {
                let first = message.lines().next().unwrap_or_default();
                vec![format!("error trap ({trap}): {first}")]
            }
        }
    }

    /// The decision's reasons, if it is a decision.
    pub fn reasons(&self) -> &[String] {
        match self {
            Self::Decision { decision, .. } => &decision.reasons,
            _ => &[],
        }
    }
}

/// The outcomes of one scenario file.
#[derive(Debug, Serialize)]
pub struct ScenarioReport {
    /// The file, as named on the command line.
    pub file: String,
    /// The scenario's name.
    pub name: String,
    /// What it shows.
    pub description: Option<String>,
    /// One result per step.
    pub cases: Vec<CaseResult>,
}

impl ScenarioReport {
    /// How many cases failed.
    pub fn failures(&self) -> usize {
        self.cases.iter().filter(|c| !c.passed).count()
    }

    /// Total time of the decide calls.
    pub fn elapsed(&self) -> Duration {
        self.cases.iter().map(|c| c.elapsed).sum()
    }
}

/// Runs every step of `scenario` against `policy`.
pub fn run(policy: &LoadedPolicy, scenario: &Scenario) -> ScenarioReport {
    ScenarioReport {
        file: scenario.path.display().to_string(),
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        cases: scenario
            .steps
            .iter()
            .map(|step| run_step(policy, scenario, step))
            .collect(),
    }
}

fn run_step(policy: &LoadedPolicy, scenario: &Scenario, step: &Step) -> CaseResult {
    let started = Instant::now();
    let world = Box::new(ScenarioWorld::new(scenario.world.clone(), step.now));
    let (decided, _) = policy.decide(world, &scenario.context, &step.event);
    let elapsed = started.elapsed();
    let actual = Actual::from_result(decided.result);
    let (mut passed, mut diff) = compare(&step.expect, &actual);
    for pattern in &step.reasons {
        if !actual.reasons().iter().any(|r| glob(pattern, r)) {
            passed = false;
            diff.push(format!("- reason: {pattern}"));
        }
    }
    CaseResult {
        name: step.name.clone(),
        passed,
        expected: step.expect.clone(),
        expected_reasons: step.reasons.clone(),
        actual,
        diff,
        elapsed,
    }
}

/// Whether `actual` meets `expect`, and the line diff between them.
fn compare(expect: &Expectation, actual: &Actual) -> (bool, Vec<String>) {
    let lines = actual.lines();
    match expect {
        Expectation::Nothing => {
            let passed = matches!(actual, Actual::Decision { actions, .. } if actions.is_empty());
            (passed, lines.iter().map(|l| format!("+ {l}")).collect())
        }
        Expectation::Actions { actions: expected } => {
            let (matched, diff) = align(expected, &lines, "+ ");
            let is_decision = matches!(actual, Actual::Decision { .. });
            let passed = is_decision && matched == expected.len() && matched == lines.len();
            (passed, diff)
        }
        Expectation::Contains {
            actions: expected,
            excludes,
        } => {
            // Extra actions are allowed: they show as context, not as errors;
            // an excluded one shows as `! `.
            let (matched, mut diff) = align(expected, &lines, "  ");
            let mut present = false;
            for line in &mut diff {
                let excluded = line
                    .strip_prefix("  ")
                    .is_some_and(|text| excludes.iter().any(|pattern| glob(pattern, text)));
                if excluded {
                    line.replace_range(..2, "! ");
                    present = true;
                }
            }
            let is_decision = matches!(actual, Actual::Decision { .. });
            (is_decision && matched == expected.len() && !present, diff)
        }
        Expectation::Error { error: want } => {
            let (kind, message) = match actual {
                Actual::Decision { .. } => (None, ""),
                Actual::PolicyError { variant, message } => (Some(*variant), message.as_str()),
                Actual::Trap { message, .. } => (Some(ErrorKind::Trap), message.as_str()),
            };
            let passed = kind.is_some()
                && want.kind.is_none_or(|k| Some(k) == kind)
                && want.message.as_deref().is_none_or(|m| message.contains(m));
            if passed {
                return (true, lines.iter().map(|l| format!("  {l}")).collect());
            }
            let mut expected = String::from("error");
            if let Some(k) = want.kind {
                expected.push_str(&format!(" {k}"));
            }
            if let Some(m) = &want.message {
                expected.push_str(&format!(" containing {m:?}"));
            }
            let mut diff = vec![format!("- {expected}")];
            diff.extend(lines.iter().map(|l| format!("+ {l}")));
            (false, diff)
        }
    }
}

/// Aligns expected patterns with actual lines (`*` matching any text).
/// Returns how many patterns matched and the diff; unmatched actual lines
/// get `extra` as their prefix.
fn align(expected: &[String], actual: &[String], extra: &str) -> (usize, Vec<String>) {
    linediff::diff(expected, actual, glob, extra)
}

/// Does `text` match `pattern`, where `*` matches any run of characters?
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn glob_matches_stars_anywhere() {
        assert!(glob("fail: *", "fail: dev is Degraded"));
        assert!(glob(
            "fail: * rolled back to v1",
            "fail: x; rolled back to v1"
        ));
        assert!(glob("a*b*c", "a-b-c"));
        assert!(!glob("a*b*c", "a-c-b"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn exact_actions_diff_shows_missing_and_unexpected_lines() {
        let expected = strings(&["set dev to v2 by direct commit", "await health of dev*"]);
        let actual = Actual::Decision {
            actions: strings(&["set dev to v2 by direct commit", "hold: waiting"]),
            decision: Decision {
                actions: Vec::new(),
                reasons: Vec::new(),
                recheck_after: None,
            },
        };
        let (passed, diff) = compare(&Expectation::Actions { actions: expected }, &actual);
        assert!(!passed);
        assert_eq!(
            diff,
            strings(&[
                "  set dev to v2 by direct commit",
                "- await health of dev*",
                "+ hold: waiting"
            ])
        );
    }

    #[test]
    fn contains_allows_extra_actions_in_between() {
        let actual = Actual::Decision {
            actions: strings(&["a", "b", "c"]),
            decision: Decision {
                actions: Vec::new(),
                reasons: Vec::new(),
                recheck_after: None,
            },
        };
        let ok = Expectation::Contains {
            actions: strings(&["a", "c"]),
            excludes: Vec::new(),
        };
        assert!(compare(&ok, &actual).0);
        let wrong_order = Expectation::Contains {
            actions: strings(&["c", "a"]),
            excludes: Vec::new(),
        };
        assert!(!compare(&wrong_order, &actual).0);
    }

    #[test]
    fn excludes_fail_on_a_present_action_and_mark_it() {
        let actual = Actual::Decision {
            actions: strings(&["set prod to v2 by merge request [baton]", "hold: waiting"]),
            decision: Decision {
                actions: Vec::new(),
                reasons: Vec::new(),
                recheck_after: None,
            },
        };
        let absent = Expectation::Contains {
            actions: Vec::new(),
            excludes: strings(&["* (auto-merge)", "fail: *"]),
        };
        assert_eq!(
            compare(&absent, &actual),
            (
                true,
                strings(&[
                    "  set prod to v2 by merge request [baton]",
                    "  hold: waiting"
                ])
            )
        );
        let present = Expectation::Contains {
            actions: strings(&["hold: *"]),
            excludes: strings(&["set prod to *"]),
        };
        assert_eq!(
            compare(&present, &actual),
            (
                false,
                strings(&[
                    "! set prod to v2 by merge request [baton]",
                    "  hold: waiting"
                ])
            )
        );
    }

    #[test]
    fn an_error_expectation_checks_kind_and_message() {
        let actual = Actual::PolicyError {
            variant: ErrorKind::InvalidEvent,
            message: "app payments has no stage qa".into(),
        };
        let want = |kind, message: Option<&str>| Expectation::Error {
            error: super::super::ErrorFile {
                kind,
                message: message.map(Into::into),
            },
        };
        assert!(
            compare(
                &want(Some(ErrorKind::InvalidEvent), Some("no stage qa")),
                &actual
            )
            .0
        );
        let (passed, diff) = compare(&want(Some(ErrorKind::Capability), None), &actual);
        assert!(!passed);
        assert_eq!(
            diff,
            strings(&[
                "- error capability",
                "+ error invalid-event: app payments has no stage qa"
            ])
        );
    }
}
