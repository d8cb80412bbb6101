//! `baton policy test`: runs scenario files against a policy and reports
//! every case, with a diff of expected and actual decisions for failures.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::scenario::run::{self, CaseResult, ScenarioReport};
use super::scenario::{self, Expectation, ScenarioError, junit};
use crate::cli::error::{CommandError, ExitKind};
use crate::cli::load;
use crate::cli::output::{self, OutputFormat};
use crate::runtime::PolicySource;

/// Arguments of `baton policy test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The policy: `builtin:default` or a path to a `.wasm` component.
    policy: String,
    /// Scenario files (YAML), or directories whose `*.yaml` files run in
    /// name order.
    #[arg(required = true, value_name = "SCENARIO")]
    scenarios: Vec<PathBuf>,
    /// Also write a JUnit XML report to this file (for CI).
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Keep compiled policies under DIR/policies (the layout of the engine
    /// commands' --cache-dir), so later runs skip compilation.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Serialize)]
struct Report<'a> {
    policy: String,
    digest: String,
    passed: usize,
    failed: usize,
    elapsed_ms: u128,
    scenarios: &'a [ScenarioReport],
}

/// Runs `baton policy test`: exit 0 when every case passes, 1 when one
/// fails, 2 for an unusable scenario, 3 when the policy cannot load.
pub fn run(args: TestArgs) -> Result<(), CommandError> {
    let started = Instant::now();
    let usage = |e: ScenarioError| CommandError::usage(e);
    let files = scenario::collect(&args.scenarios).map_err(usage)?;
    let scenarios = files
        .iter()
        .map(|path| scenario::load(path))
        .collect::<Result<Vec<_>, _>>()
        .map_err(usage)?;
    let runtime = load::runtime(args.cache_dir.map(|d| d.join("policies")))?;
    let source = PolicySource::parse(&args.policy, Path::new("."));
    // Any policy that does not load is exit 3 here, a missing file too.
    let policy = runtime
        .load(&source, None)
        .map_err(|e| CommandError::new(ExitKind::Policy, e))?;

    let reports: Vec<ScenarioReport> = scenarios.iter().map(|s| run::run(&policy, s)).collect();
    let elapsed = started.elapsed();
    let cases: usize = reports.iter().map(|r| r.cases.len()).sum();
    let failed: usize = reports.iter().map(ScenarioReport::failures).sum();

    if let Some(path) = &args.junit {
        std::fs::write(path, junit::render(&reports, elapsed)).map_err(|e| {
            CommandError::usage(format!(
                "cannot write the JUnit report {}: {e}",
                path.display()
            ))
        })?;
    }
    let report = Report {
        policy: policy.source.to_string(),
        digest: policy.digest.to_string(),
        passed: cases - failed,
        failed,
        elapsed_ms: elapsed.as_millis(),
        scenarios: &reports,
    };
    if args.output == OutputFormat::Json {
        output::print_json(&report);
    } else {
        output::print(&render(&report, elapsed));
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(CommandError::failed(format!(
            "{failed} of {cases} scenario cases failed"
        )))
    }
}

fn render(report: &Report<'_>, elapsed: Duration) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "policy {} ({})", report.policy, report.digest);
    for scenario in report.scenarios {
        let _ = write!(text, "\n{}", scenario.file);
        if scenario.name != file_name(&scenario.file) {
            let _ = write!(text, " ({})", scenario.name);
        }
        text.push('\n');
        for (n, case) in scenario.cases.iter().enumerate() {
            let mark = if case.passed { "ok  " } else { "FAIL" };
            let _ = writeln!(text, "  {mark}  {}. {}", n + 1, case.name);
            if !case.passed {
                render_failure(&mut text, case);
            }
        }
    }
    let cases = report.passed + report.failed;
    let files = match report.scenarios.len() {
        1 => "1 scenario file".to_owned(),
        n => format!("{n} scenario files"),
    };
    let _ = writeln!(
        text,
        "\n{}: {} passed, {} failed; {cases} cases in {files} ({} ms)",
        if report.failed == 0 { "ok" } else { "FAILED" },
        report.passed,
        report.failed,
        elapsed.as_millis()
    );
    text
}

fn render_failure(text: &mut String, case: &CaseResult) {
    let header = match &case.expected {
        Expectation::Nothing => "expected nothing (keep waiting); the policy decided (+):",
        Expectation::Actions { .. } => "expected these actions (- expected, + actual):",
        Expectation::Contains { excludes, .. } if excludes.is_empty() => {
            "expected to contain, in order (- missing):"
        }
        Expectation::Contains { actions, .. } if actions.is_empty() => {
            "expected none of the excluded actions (! present):"
        }
        Expectation::Contains { .. } => {
            "expected to contain, in order (- missing), and none of the excluded (! present):"
        }
        Expectation::Error { .. } => "expected an error (- expected, + actual):",
    };
    let _ = writeln!(text, "          {header}");
    for line in &case.diff {
        let _ = writeln!(text, "          {line}");
    }
    if case.actual.lines().is_empty() {
        let _ = writeln!(text, "          + (no actions: keep waiting)");
    }
    for reason in case.actual.reasons() {
        let _ = writeln!(text, "          reason: {reason}");
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}
