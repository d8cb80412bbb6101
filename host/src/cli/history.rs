//! `baton history --app APP`: one table of every promotion, rollback and
//! out-of-band change of an app's stages over a period (and each stage's
//! initial value, when the period reaches back to it), read from the env
//! repo's history (each change with the commit that carried it and how it
//! arrived, checked as `advance` checks it), joined with the audit records
//! in `--records DIR` when given: the reason of the run that wrote it, the
//! gate that followed (with its last observation), who approved and merged
//! its merge request. As text, JSON, CSV, or one self-contained HTML page
//! with a timeline ([`html`]).

mod html;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::error::CommandError;
use super::output;
use crate::capabilities::git::{
    EnvRepo, HistoryEntry, OpenOptions, ROLLBACK_OF, RUN, RepoSource, default_cache_root,
};
use crate::config::{AppConfig, Config, ForgeKind, StageConfig};
use crate::engine::audit::{Approval, AuditRecord};
use crate::engine::provenance::{self, OriginRules, Records};
use crate::runtime::{Action, ChangeOrigin};

/// Arguments of `baton history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The application, as named under `apps:`.
    #[arg(long)]
    app: String,
    /// Only changes from this time on (RFC 3339).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only changes up to this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// A directory of audit records (`baton-audit/`, or records collected
    /// from CI jobs) to join with the env repo's history
    /// [default: audit.records when configured].
    #[arg(long, value_name = "DIR")]
    records: Option<PathBuf>,
    /// The configuration file.
    #[arg(long, default_value = crate::config::DEFAULT_PATH)]
    config: PathBuf,
    /// Baton's cache directory (env repo clones under `repos/`).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: HistoryFormat,
}

/// `--output` of `baton history`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    /// A table.
    #[default]
    Text,
    /// One JSON document.
    Json,
    /// Comma-separated values, one row per change.
    Csv,
    /// One self-contained HTML page with a timeline.
    Html,
}

/// The whole history.
#[derive(Debug, Serialize)]
pub struct History {
    /// The app.
    pub app: String,
    /// The env repo branch.
    pub branch: String,
    /// The period (RFC 3339), when bounded.
    pub since: Option<String>,
    /// The period's end, when bounded.
    pub until: Option<String>,
    /// The app's stages in promotion order.
    pub stages: Vec<String>,
    /// Audit records joined.
    pub records: usize,
    /// Every change, oldest first.
    pub changes: Vec<Change>,
}

/// One change of one stage.
#[derive(Debug, Serialize)]
pub struct Change {
    /// Commit time (RFC 3339, UTC).
    pub time: String,
    /// Seconds since the epoch (for the timeline).
    #[serde(skip)]
    pub epoch: i64,
    /// The stage.
    pub stage: String,
    /// `promotion`, `rollback`, `out-of-band`, or `initial` (the stage's
    /// first value, made when the env repo was set up).
    pub kind: String,
    /// The version before.
    pub from: Option<String>,
    /// The version after.
    pub to: String,
    /// The first-parent commit on the branch.
    pub commit: String,
    /// Link to it, when the forge is known.
    pub commit_url: Option<String>,
    /// The author of the commit that carried the change.
    pub author: String,
    /// The run its trailer names.
    pub run: Option<String>,
    /// The merge request it came through.
    pub merge_request: Option<u64>,
    /// Link to the merge request.
    pub merge_request_url: Option<String>,
    /// The reason the run recorded (or why a rollback happened).
    pub reason: Option<String>,
    /// The version a rollback rolled back.
    pub rollback_of: Option<String>,
    /// Why the change is out of band.
    pub out_of_band: Vec<String>,
    /// The gate that followed, from the records.
    pub gate: Option<GateSummary>,
    /// Who merged the merge request.
    pub merged_by: Option<String>,
    /// Who approved it.
    pub approvals: Vec<Approval>,
}

/// A gate as the records tell it.
#[derive(Debug, Serialize)]
pub struct GateSummary {
    /// The run that gated.
    pub run: String,
    /// `decided`, `timed_out`, `error`, `cancelled`.
    pub result: String,
    /// The last observation: `Healthy / Synced`.
    pub last: Option<String>,
    /// Observations counted.
    pub observations: u32,
}

/// Runs `baton history`.
pub fn run(args: HistoryArgs) -> Result<(), CommandError> {
    let config = super::load::config(&args.config)?;
    let app = config.app(&args.app)?;
    let records_dir = args
        .records
        .clone()
        .or_else(|| config.audit().records.clone());
    let records = match &records_dir {
        Some(dir) => read_records(dir, &app.name)?,
        None => Vec::new(),
    };
    let since = time_arg("--since", args.since.as_deref())?;
    let until = time_arg("--until", args.until.as_deref())?;
    let history = tokio::task::block_in_place(|| {
        build(
            &config,
            app,
            &records,
            records_dir.as_deref(),
            args.cache_dir.as_deref(),
            (since, until),
        )
    })?;
    let history = History {
        since: args.since.clone(),
        until: args.until.clone(),
        ..history
    };
    let text = match args.output {
        HistoryFormat::Json => {
            output::print_json(&history);
            return Ok(());
        }
        HistoryFormat::Text => text(&history),
        HistoryFormat::Csv => csv(&history),
        HistoryFormat::Html => html::page(&history),
    };
    output::print(&text);
    Ok(())
}

fn time_arg(flag: &str, value: Option<&str>) -> Result<Option<i64>, CommandError> {
    value
        .map(|v| {
            crate::time::parse_rfc3339(v)
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .ok_or_else(|| {
                    CommandError::usage(format!(
                        "{flag} {v:?} is not an RFC 3339 time (e.g. 2025-03-01T00:00:00Z)"
                    ))
                })
        })
        .transpose()
}

/// Every record of `app` in `dir`.
fn read_records(dir: &Path, app: &str) -> Result<Vec<AuditRecord>, CommandError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CommandError::usage(format!(
            "cannot read the records directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        match AuditRecord::read(&path) {
            Ok(r) if r.command.app == app => out.push(r),
            Ok(_) => {}
            Err(e) => tracing::warn!("skipping {}: {e}", path.display()),
        }
    }
    Ok(out)
}

/// The history of `app` from the env repo, joined with `records`.
fn build(
    config: &Config,
    app: &AppConfig,
    records: &[AuditRecord],
    records_dir: Option<&Path>,
    cache_dir: Option<&Path>,
    period: (Option<i64>, Option<i64>),
) -> Result<History, CommandError> {
    let repo_config = config.env_repo();
    let mut repo = open_full_clone(config, cache_dir)?;
    let tip = repo
        .resolve(&repo_config.branch)
        .map_err(CommandError::external)?
        .to_string();
    let local = Path::new("baton-audit");
    let context = Context {
        rules: OriginRules {
            app: &app.name,
            direct_commit_stages: &config.guardrails().direct_commit_stages,
            records: Records::IfPresent(records_dir.unwrap_or(local)),
        },
        links: Links::of(config),
        by_run: records.iter().map(|r| (r.run_id.as_str(), r)).collect(),
        records,
    };
    let mut changes = Vec::new();
    for stage in &app.stages {
        changes.extend(stage_changes(&mut repo, &tip, stage, &context, period)?);
    }
    changes.sort_by(|a, b| (a.epoch, &a.stage).cmp(&(b.epoch, &b.stage)));
    Ok(History {
        app: app.name.clone(),
        branch: repo_config.branch.clone(),
        since: None,
        until: None,
        stages: app.stages.iter().map(|s| s.name.clone()).collect(),
        records: records.len(),
        changes,
    })
}

/// What turning a history entry into a [`Change`] reads besides the repo.
struct Context<'a> {
    /// How an arrival is checked, as `advance` checks it.
    rules: OriginRules<'a>,
    /// Web links to commits.
    links: Links,
    /// The records by run id.
    by_run: HashMap<&'a str, &'a AuditRecord>,
    /// Every record of the app.
    records: &'a [AuditRecord],
}

/// The env repo with its whole history (not a shallow clone), cached under
/// `cache_dir` (default: next to Baton's default cache).
fn open_full_clone(config: &Config, cache_dir: Option<&Path>) -> Result<EnvRepo, CommandError> {
    let repo_config = config.env_repo();
    let cache_root = cache_dir.map(Path::to_path_buf).unwrap_or_else(|| {
        default_cache_root(|k| std::env::var(k).ok())
            .parent()
            .map_or_else(|| PathBuf::from(".baton-cache"), Path::to_path_buf)
    });
    let mut options = OpenOptions::new(cache_root.join("repos"), repo_config.branch.clone());
    options.shallow = false;
    let source = RepoSource {
        url: repo_config.url.clone(),
        token: config.token(repo_config.token.as_ref())?,
    };
    Ok(EnvRepo::open(&source, &options)?)
}

/// The changes of `stage` up to `tip` within `(since, until)`, newest
/// first; a commit that removed the stage's value is no change.
fn stage_changes(
    repo: &mut EnvRepo,
    tip: &str,
    stage: &StageConfig,
    context: &Context<'_>,
    (since, until): (Option<i64>, Option<i64>),
) -> Result<Vec<Change>, CommandError> {
    let history = repo
        .history(tip, &stage.location, None)
        .map_err(CommandError::external)?;
    let mut changes = Vec::new();
    for entry in history {
        let in_period =
            since.is_none_or(|s| entry.time >= s) && until.is_none_or(|u| entry.time <= u);
        let Some(to) = entry.new.clone().filter(|_| in_period) else {
            continue;
        };
        changes.push(change(repo, stage, &entry, to, context)?);
    }
    Ok(changes)
}

/// The change `entry` made to `stage` (to the value `to`): how it arrived,
/// what kind it is, joined with what the records say about it.
fn change(
    repo: &mut EnvRepo,
    stage: &StageConfig,
    entry: &HistoryEntry,
    to: String,
    context: &Context<'_>,
) -> Result<Change, CommandError> {
    let arrival = crate::engine::arrival::from_git(repo, &stage.location, entry)
        .map_err(CommandError::external)?;
    let mut doubts = provenance::doubts(&context.rules, &stage.name, &arrival);
    let initial = entry.old.is_none() && arrival.origin == ChangeOrigin::OutOfBand;
    if arrival.origin == ChangeOrigin::OutOfBand && doubts.is_empty() && !initial {
        doubts.push(format!("its commit carries no {RUN} trailer"));
    }
    let carrier = &arrival.carrier;
    let run = carrier.trailer(RUN).map(str::to_owned);
    let rollback_of = carrier.trailer(ROLLBACK_OF).map(str::to_owned);
    let kind = change_kind(initial, &doubts, rollback_of.is_some());
    let mut change = Change {
        time: crate::time::format_rfc3339(
            std::time::UNIX_EPOCH
                + std::time::Duration::from_secs(u64::try_from(entry.time).unwrap_or(0)),
        ),
        epoch: entry.time,
        stage: stage.name.clone(),
        kind: kind.into(),
        from: entry.old.clone(),
        to,
        commit_url: context.links.commit(&entry.commit),
        commit: entry.commit.clone(),
        author: format!("{} <{}>", carrier.author_name, carrier.author_email),
        run: run.clone(),
        merge_request: arrival.merge_request,
        merge_request_url: None,
        reason: None,
        rollback_of,
        out_of_band: doubts,
        gate: None,
        merged_by: None,
        approvals: Vec::new(),
    };
    join(
        &mut change,
        &carrier.commit,
        context.by_run.get(run.as_deref().unwrap_or("")),
        context.records,
    );
    Ok(change)
}

/// `initial`, `out-of-band`, `rollback` or `promotion`, in that order of
/// precedence.
fn change_kind(initial: bool, doubts: &[String], rollback: bool) -> &'static str {
    if initial {
        "initial"
    } else if !doubts.is_empty() {
        "out-of-band"
    } else if rollback {
        "rollback"
    } else {
        "promotion"
    }
}

/// Fills in what the records say about `change`: the writing run's reason
/// and merge request, the gate that followed, the approvals.
fn join(
    change: &mut Change,
    carrier: &str,
    writer: Option<&&AuditRecord>,
    records: &[AuditRecord],
) {
    if let Some(record) = writer
        && let Some(action) = record
            .actions
            .iter()
            .find(|a| a.commit.as_deref() == Some(carrier))
    {
        change.reason = match &action.action {
            Action::SetVersion(s) => Some(s.reason.clone()),
            Action::Rollback(r) => Some(r.reason.clone()),
            _ => None,
        };
        if let Some(mr) = &action.merge_request {
            change.merge_request.get_or_insert(mr.number);
            change.merge_request_url = Some(mr.url.clone());
        }
    }
    let gate = records
        .iter()
        .flat_map(|r| r.gates.iter().map(move |g| (r, g)))
        .filter(|(_, g)| {
            g.stage == change.stage && (g.commit == change.commit || g.commit == carrier)
        })
        .max_by_key(|(r, _)| crate::time::parse_rfc3339(&r.started_at));
    change.gate = gate.map(|(r, g)| GateSummary {
        run: r.run_id.clone(),
        result: serde_json::to_value(g.result)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        last: g.last.as_ref().map(|l| {
            let name = |v: Value| v.as_str().map(str::to_owned).unwrap_or_default();
            format!(
                "{} / {}",
                name(serde_json::to_value(l.health).unwrap_or_default()),
                name(serde_json::to_value(l.sync).unwrap_or_default())
            )
        }),
        observations: g.observations,
    });
    if let Some(number) = change.merge_request
        && let Some(mr) = records
            .iter()
            .flat_map(|r| &r.merge_requests)
            .find(|m| m.number == number && m.stage == change.stage)
    {
        change.merged_by = mr.merged_by.clone();
        change.approvals = mr.approvals.clone();
        if change.merge_request_url.is_none() {
            change.merge_request_url = mr.url.clone();
        }
    }
}

/// Web links to commits, from the forge configuration.
struct Links(Option<String>);

impl Links {
    fn of(config: &Config) -> Self {
        let Some(forge) = config.forge() else {
            return Self(None);
        };
        let api = forge.api_url.trim_end_matches('/');
        let web = match forge.kind {
            ForgeKind::Gitlab => format!(
                "{}/{}/-/commit/",
                api.trim_end_matches("/api/v4"),
                forge.project
            ),
            ForgeKind::Github => {
                let root = if api == "https://api.github.com" {
                    "https://github.com"
                } else {
                    api.trim_end_matches("/api/v3")
                };
                format!("{root}/{}/commit/", forge.project)
            }
        };
        Self(Some(web))
    }

    fn commit(&self, sha: &str) -> Option<String> {
        self.0.as_ref().map(|base| format!("{base}{sha}"))
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(8)]
}

/// One line of the table per change.
fn row(c: &Change) -> [String; 9] {
    let approvals = c
        .approvals
        .iter()
        .map(|a| a.user.clone())
        .collect::<Vec<_>>()
        .join(",");
    [
        c.time.clone(),
        c.stage.clone(),
        c.kind.clone(),
        format!("{} -> {}", c.from.as_deref().unwrap_or("-"), c.to),
        short(&c.commit).to_owned(),
        c.merge_request
            .map_or_else(|| "-".into(), |n| format!("!{n}")),
        c.gate.as_ref().map_or_else(
            || "-".into(),
            |g| {
                format!("{} {}", g.result, g.last.as_deref().unwrap_or(""))
                    .trim()
                    .to_owned()
            },
        ),
        if approvals.is_empty() {
            c.merged_by
                .clone()
                .map_or_else(|| "-".into(), |m| format!("merged by {m}"))
        } else {
            format!(
                "{approvals}{}",
                c.merged_by
                    .as_deref()
                    .map(|m| format!("; merged by {m}"))
                    .unwrap_or_default()
            )
        },
        if c.kind == "out-of-band" {
            c.out_of_band.join("; ")
        } else {
            c.reason.clone().unwrap_or_else(|| "-".into())
        },
    ]
}

const HEADER: [&str; 9] = [
    "TIME",
    "STAGE",
    "KIND",
    "VERSION",
    "COMMIT",
    "MR",
    "GATE",
    "APPROVALS",
    "REASON",
];

fn text(h: &History) -> String {
    let mut out = format!(
        "history of {} on {} ({} changes, {} audit records joined)\n",
        h.app,
        h.branch,
        h.changes.len(),
        h.records
    );
    let rows: Vec<[String; 9]> = h.changes.iter().map(row).collect();
    let widths: Vec<usize> = (0..8)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([HEADER[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i < 8 {
                let _ = write!(l, "{cell:<width$}  ", width = widths[i]);
            } else {
                l.push_str(cell);
            }
        }
        l.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(HEADER.to_vec()));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn csv(h: &History) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from(
        "time,stage,kind,from,to,commit,run,merge_request,gate,last_observation,merged_by,approvals,reason,out_of_band\n",
    );
    for c in &h.changes {
        let cells = [
            c.time.clone(),
            c.stage.clone(),
            c.kind.clone(),
            c.from.clone().unwrap_or_default(),
            c.to.clone(),
            c.commit.clone(),
            c.run.clone().unwrap_or_default(),
            c.merge_request.map(|n| n.to_string()).unwrap_or_default(),
            c.gate
                .as_ref()
                .map(|g| g.result.clone())
                .unwrap_or_default(),
            c.gate
                .as_ref()
                .and_then(|g| g.last.clone())
                .unwrap_or_default(),
            c.merged_by.clone().unwrap_or_default(),
            c.approvals
                .iter()
                .map(|a| format!("{}@{}", a.user, a.at.as_deref().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(" "),
            c.reason.clone().unwrap_or_default(),
            c.out_of_band.join("; "),
        ];
        let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
        let _ = writeln!(out, "{}", line.join(","));
    }
    out
}
