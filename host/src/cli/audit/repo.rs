//! The records against the env repo: every commit a record says Baton
//! wrote on the branch is reachable from the branch tip and carries the
//! trailers of its run and policy; gate and arrival commits are on the
//! branch; and, for a period, every Baton commit of the period is listed by
//! one of the given records (a commit naming a run no record has, or a run
//! whose record does not list it, is a finding).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::verify::{Finding, Loaded};
use crate::capabilities::git::{
    EnvRepo, HistoryEntry, OpenOptions, POLICY, ROLLBACK_OF, RUN, RepoSource, StageField,
    default_cache_root,
};
use crate::cli::error::CommandError;
use crate::config::Config;
use crate::engine::audit::ActionStatus;
use crate::runtime::Action;

/// The period the given records are all the records of.
#[derive(Debug, Clone, Copy)]
pub struct Period(Option<(i64, i64)>);

impl Period {
    /// From `--since` and `--until` (RFC 3339).
    pub fn parse(since: Option<&str>, until: Option<&str>) -> Result<Self, CommandError> {
        let Some(since) = since else {
            return Ok(Self(None));
        };
        let secs = |flag: &str, text: &str| {
            crate::time::parse_rfc3339(text)
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .ok_or_else(|| {
                    CommandError::usage(format!(
                        "{flag} {text:?} is not an RFC 3339 time (e.g. 2025-03-01T00:00:00Z)"
                    ))
                })
        };
        let now = crate::time::format_rfc3339(SystemTime::now());
        Ok(Self(Some((
            secs("--since", since)?,
            secs("--until", until.unwrap_or(&now))?,
        ))))
    }
}

/// Every env repo finding for `records`.
pub fn check(
    records: &[Loaded],
    config: Option<&Config>,
    cache_dir: Option<&Path>,
    period: Period,
) -> Result<Vec<Finding>, CommandError> {
    let cache_root = cache_dir.map(Path::to_path_buf).unwrap_or_else(|| {
        default_cache_root(|k| std::env::var(k).ok())
            .parent()
            .map_or_else(|| PathBuf::from(".baton-cache"), Path::to_path_buf)
    });
    let mut repos: HashMap<(String, String), EnvRepo> = HashMap::new();
    let mut out = Vec::new();
    for item in records {
        let r = &item.record;
        let (url, token) = match config {
            Some(c) => (
                c.env_repo().url.clone(),
                c.token(c.env_repo().token.as_ref())?,
            ),
            None => (r.env_repo.url.clone(), None),
        };
        let key = (url.clone(), r.env_repo.branch.clone());
        if !repos.contains_key(&key) {
            let mut options = OpenOptions::new(cache_root.join("repos"), key.1.clone());
            options.shallow = false;
            let repo = EnvRepo::open(&RepoSource { url, token }, &options).map_err(|e| {
                CommandError::external(e).hint("give --offline to skip the env repo checks")
            })?;
            repos.insert(key.clone(), repo);
        }
        let Some(repo) = repos.get_mut(&key) else {
            continue;
        };
        out.extend(record(repo, item)?);
    }
    if let Some((since, until)) = period.0
        && let Some(item) = records.first()
    {
        let r = &item.record;
        let key = (
            config.map_or_else(|| r.env_repo.url.clone(), |c| c.env_repo().url.clone()),
            r.env_repo.branch.clone(),
        );
        if let Some(repo) = repos.get_mut(&key) {
            out.extend(period_commits(repo, records, since, until)?);
        }
    }
    Ok(out)
}

fn read_error(e: crate::capabilities::git::ReadError) -> CommandError {
    CommandError::external(e)
}

/// The stages of a record's context, as fields of the env repo.
fn stage_fields(item: &Loaded) -> Vec<(String, StageField)> {
    item.record
        .context
        .stages
        .iter()
        .filter_map(|s| {
            Some((
                s.name.clone(),
                StageField {
                    file: s.file.clone(),
                    field: s.field.parse().ok()?,
                },
            ))
        })
        .collect()
}

/// The checks of one record against its repo.
fn record(repo: &mut EnvRepo, item: &Loaded) -> Result<Vec<Finding>, CommandError> {
    let r = &item.record;
    let mut out = Vec::new();
    let branch = r.env_repo.branch.clone();
    let tip = repo.resolve(&branch).map_err(read_error)?.to_string();
    let reachable = |repo: &mut EnvRepo, commit: &str| repo.is_ancestor(commit, &tip) == Some(true);
    let unreachable = |field: String, commit: &str| {
        Finding::new(
            &item.path,
            field,
            format!("a commit reachable from {branch}"),
            format!("{commit}, which is not in {branch}'s history (rewritten or force-pushed?)"),
        )
    };
    if !r.env_repo.tip_at_start.is_empty() && !reachable(repo, &r.env_repo.tip_at_start) {
        out.push(unreachable(
            "env_repo.tip_at_start".into(),
            &r.env_repo.tip_at_start,
        ));
    }
    let fields = stage_fields(item);
    let mut histories: HashMap<String, Vec<HistoryEntry>> = HashMap::new();
    for (i, a) in r.actions.iter().enumerate() {
        let (stage, rollback_of) = match &a.action {
            Action::SetVersion(s) => (&s.stage, None),
            Action::Rollback(rb) => (&rb.stage, Some(&rb.rollback_of)),
            _ => continue,
        };
        let direct = a.branch.as_deref() == Some(branch.as_str()) && a.merge_request.is_none();
        let (ActionStatus::Done, true, Some(commit)) = (a.status, direct, &a.commit) else {
            continue;
        };
        if !reachable(repo, commit) {
            out.push(unreachable(format!("actions[{i}].commit"), commit));
            continue;
        }
        let Some((_, field)) = fields.iter().find(|(name, _)| name == stage) else {
            continue;
        };
        if !histories.contains_key(stage) {
            let history = repo.history(&tip, field, None).map_err(read_error)?;
            histories.insert(stage.clone(), history);
        }
        let entry = histories
            .get(stage)
            .and_then(|h| h.iter().find(|e| &e.commit == commit));
        let Some(entry) = entry else {
            out.push(Finding::new(
                &item.path,
                format!("actions[{i}].commit"),
                format!("a commit on {branch} that changed {stage}"),
                format!("{commit}, which did not change {stage}"),
            ));
            continue;
        };
        let mut expect = vec![(RUN, r.run_id.clone()), (POLICY, r.policy.digest.clone())];
        if let Some(of) = rollback_of {
            expect.push((ROLLBACK_OF, of.clone()));
        }
        for (key, want) in expect {
            let found = entry.trailer(key);
            if found != Some(want.as_str()) {
                out.push(Finding::new(
                    &item.path,
                    format!("actions[{i}].commit"),
                    format!("commit {commit} with the trailer {key}: {want}"),
                    match found {
                        Some(v) => format!("{key}: {v}"),
                        None => format!("no {key} trailer"),
                    },
                ));
            }
        }
    }
    for (i, g) in r.gates.iter().enumerate() {
        if !reachable(repo, &g.commit) {
            out.push(unreachable(format!("gates[{i}].commit"), &g.commit));
        }
    }
    for (i, a) in r.arrivals.iter().enumerate() {
        if !reachable(repo, &a.commit) {
            out.push(unreachable(format!("arrivals[{i}].commit"), &a.commit));
        }
    }
    Ok(out)
}

/// Every Baton commit of the period on the branch is listed by a record.
fn period_commits(
    repo: &mut EnvRepo,
    records: &[Loaded],
    since: i64,
    until: i64,
) -> Result<Vec<Finding>, CommandError> {
    let Some(first) = records.first() else {
        return Ok(Vec::new());
    };
    let branch = first.record.env_repo.branch.clone();
    let tip = repo.resolve(&branch).map_err(read_error)?.to_string();
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for item in records {
        for (stage, field) in stage_fields(item) {
            let key = format!("{}/{stage}", item.record.command.app);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let history = repo.history(&tip, &field, None).map_err(read_error)?;
            for entry in history.iter().filter(|e| (since..=until).contains(&e.time)) {
                let arrival =
                    crate::engine::arrival::from_git(repo, &field, entry).map_err(read_error)?;
                let carrier = &arrival.carrier;
                let Some(run) = carrier.trailer(RUN) else {
                    continue;
                };
                let owner = records.iter().find(|r| r.record.run_id == run);
                match owner {
                    None => out.push(Finding::new(
                        "env repo",
                        format!("{branch}@{} ({stage})", short(&entry.commit)),
                        format!(
                            "a record of run {run}, named by the commit's {RUN} trailer, among \
                             the records given for the period"
                        ),
                        format!(
                            "none: a Baton commit of the period setting {stage} to {} has no \
                             record",
                            entry.new.as_deref().unwrap_or("(nothing)")
                        ),
                    )),
                    Some(owner) => {
                        let listed = owner
                            .record
                            .actions
                            .iter()
                            .any(|a| a.commit.as_deref() == Some(carrier.commit.as_str()));
                        if !listed {
                            out.push(Finding::new(
                                &owner.path,
                                "actions",
                                format!(
                                    "an action that wrote commit {} ({stage} -> {}), whose {RUN} \
                                     trailer names this run",
                                    carrier.commit,
                                    entry.new.as_deref().unwrap_or("(nothing)")
                                ),
                                "none: the commit is not Baton's, or the record lost it".to_owned(),
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
