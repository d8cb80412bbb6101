//! `baton status`: for each stage of an app, the version in the env repo
//! (and its image digest, short in the table), what Argo CD reports, the
//! open merge requests Baton opened and the rollback target (where `baton
//! rollback` goes by default); a stage with several targets gets a row per
//! target under it (label, application, version, Argo CD state). As a table
//! or one JSON document (every stage with its `targets`).

use std::fmt::Write as _;

use clap::Args;

use super::error::CommandError;
use super::load::{self, CommonArgs};
use super::output::{self, OutputFormat};
use super::process;
use crate::config::AppConfig;
use crate::engine::Systems;
use crate::engine::status::{ArgoState, StageStatus, StatusReport, TargetRow, status};
use crate::version::short_digest;

/// Arguments of `baton status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The application, as named under `apps:`.
    #[arg(long)]
    app: String,
    #[command(flatten)]
    common: CommonArgs,
}

/// `baton status`.
pub fn run(args: StatusArgs) -> Result<(), CommandError> {
    process::block_on("status", async move {
        let config = load::config(&args.common.config)?;
        let app = config.app(&args.app)?;
        let systems = load::systems(&config, &args.common.cache_root())?;
        let mut report = report(app, &systems).await?;
        let rules = crate::engine::provenance::OriginRules {
            app: &app.name,
            direct_commit_stages: &config.guardrails().direct_commit_stages,
            records: match &config.audit().records {
                Some(dir) => crate::engine::provenance::Records::Required(dir),
                None => crate::engine::provenance::Records::IfPresent("baton-audit".as_ref()),
            },
        };
        let mut attribution = crate::engine::arrival::Attribution::new(app.name.clone());
        if let Some(forge) = &systems.forge {
            attribution = attribution.with_forge(forge.clone(), tokio::runtime::Handle::current());
        }
        crate::engine::status::mark_out_of_band(
            &mut report,
            &app.stages,
            &systems.repo,
            &mut attribution,
            &rules,
        )
        .map_err(CommandError::external)?;
        match args.common.output {
            OutputFormat::Json => output::print_json(&report),
            OutputFormat::Text => output::print(&text(&report)),
        }
        if report.errors.is_empty() {
            Ok(())
        } else {
            Err(CommandError::external(format!(
                "could not reach every system: {}",
                report.errors.join("; ")
            )))
        }
    })
}

/// Gathers `baton status` for `app` from opened systems.
pub(super) async fn report(
    app: &AppConfig,
    systems: &Systems,
) -> Result<StatusReport, CommandError> {
    status(
        &app.name,
        &app.stages,
        &systems.repo,
        systems.argocd.as_deref(),
        systems.forge.as_ref(),
    )
    .await
    .map_err(CommandError::external)
}

/// The status table.
pub(super) fn text(report: &StatusReport) -> String {
    let with_digest = has_digest_column(report);
    let mut rows = vec![header(with_digest)];
    for s in &report.stages {
        rows.push(stage_row(s, with_digest));
        if s.targets.len() > 1 {
            rows.extend(s.targets.iter().map(|t| target_row(t, with_digest)));
        }
    }
    let mut out = format!(
        "{} on {} @{}\n",
        report.app,
        report.branch,
        short(&report.tip)
    );
    write_table(&mut out, &rows);
    write_notes(&mut out, report);
    out
}

/// The first seven characters of a commit id.
fn short(s: &str) -> String {
    s[..s.len().min(7)].to_owned()
}

/// A version as the table shows it: digests shortened.
fn shown(v: &str) -> String {
    short_digest(v).to_owned()
}

/// Whether any stage or target carries a digest other than its version,
/// which earns the table a DIGEST column.
fn has_digest_column(report: &StatusReport) -> bool {
    report.stages.iter().any(|s| {
        (s.digest.is_some() && s.digest != s.version)
            || s.targets
                .iter()
                .any(|t| t.digest.is_some() && t.digest != t.version)
    })
}

/// The header row.
fn header(with_digest: bool) -> Vec<String> {
    let mut header = vec!["STAGE", "VERSION"];
    if with_digest {
        header.push("DIGEST");
    }
    header.extend(["ARGO CD", "ROLLBACK TARGET", "OPEN MERGE REQUESTS"]);
    header.into_iter().map(str::to_owned).collect()
}

/// The DIGEST cell: the digest when it differs from the version, else `-`.
fn digest_cell(digest: Option<&str>, version: Option<&str>) -> String {
    digest
        .filter(|d| Some(*d) != version)
        .map_or_else(|| "-".into(), shown)
}

/// The ARGO CD cell: health / sync @revision, or `-` without Argo CD.
fn argo_cell(argocd: Option<&ArgoState>) -> String {
    argocd.map_or_else(
        || "-".to_owned(),
        |a| {
            format!(
                "{} / {} @{}",
                a.health,
                a.sync,
                a.revision.as_deref().map_or_else(|| "-".into(), short)
            )
        },
    )
}

/// The row of one stage; a stage with several targets summarises them.
fn stage_row(s: &StageStatus, with_digest: bool) -> Vec<String> {
    let multi = s.targets.len() > 1;
    let argo = if multi {
        format!("{} targets", s.targets.len())
    } else {
        argo_cell(s.argocd.as_ref())
    };
    let mrs = if s.open_merge_requests.is_empty() {
        "-".to_owned()
    } else {
        s.open_merge_requests
            .iter()
            .map(|m| format!("#{} {} {}", m.number, shown(&m.version), m.url))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut row = vec![
        s.name.clone(),
        match (&s.version, s.out_of_band.is_empty()) {
            (Some(v), true) => shown(v),
            (Some(v), false) => format!("{} (OUT OF BAND)", shown(v)),
            (None, _) if multi => "(targets differ)".into(),
            (None, _) => "(none)".into(),
        },
    ];
    if with_digest {
        row.push(digest_cell(s.digest.as_deref(), s.version.as_deref()));
    }
    row.extend([
        argo,
        s.rollback_target
            .as_deref()
            .map_or_else(|| "-".into(), shown),
        mrs,
    ]);
    row
}

/// The indented row of one target of a multi-target stage.
fn target_row(t: &TargetRow, with_digest: bool) -> Vec<String> {
    let mut row = vec![
        format!("  {} ({})", t.label, t.argocd_app),
        t.version.as_deref().map_or_else(|| "(none)".into(), shown),
    ];
    if with_digest {
        row.push(digest_cell(t.digest.as_deref(), t.version.as_deref()));
    }
    row.extend([argo_cell(t.argocd.as_ref()), String::new(), String::new()]);
    row
}

/// Appends `rows` as columns padded to their widest cell; the last column
/// is not padded and trailing blanks are trimmed.
fn write_table(out: &mut String, rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// Appends the out-of-band explanations and the unreachable systems.
fn write_notes(out: &mut String, report: &StatusReport) {
    for s in report.stages.iter().filter(|s| !s.out_of_band.is_empty()) {
        let _ = writeln!(
            out,
            "out of band: {} {} reached the branch outside Baton: {}",
            s.name,
            s.version.as_deref().unwrap_or("(none)"),
            s.out_of_band.join("; ")
        );
    }
    for e in &report.errors {
        let _ = writeln!(out, "error: {e}");
    }
}
