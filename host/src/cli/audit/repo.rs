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
use crate::engine::audit::{ActionRecord, ActionStatus};
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
    let branch = r.env_repo.branch.as_str();
    let on = Against {
        item,
        branch,
        tip: repo.resolve(branch).map_err(read_error)?.to_string(),
        fields: stage_fields(item),
    };
    if !r.env_repo.tip_at_start.is_empty() && !on.reaches(repo, &r.env_repo.tip_at_start) {
        out.push(on.unreachable("env_repo.tip_at_start".into(), &r.env_repo.tip_at_start));
    }
    let mut histories = HashMap::new();
    for (i, a) in r.actions.iter().enumerate() {
        action_commit(repo, &on, &mut histories, i, a, &mut out)?;
    }
    for (i, g) in r.gates.iter().enumerate() {
        if !on.reaches(repo, &g.commit) {
            out.push(on.unreachable(format!("gates[{i}].commit"), &g.commit));
        }
    }
    for (i, a) in r.arrivals.iter().enumerate() {
        if !on.reaches(repo, &a.commit) {
            out.push(on.unreachable(format!("arrivals[{i}].commit"), &a.commit));
        }
    }
    Ok(out)
}

/// One record checked against its branch.
struct Against<'a> {
    /// The record.
    item: &'a Loaded,
    /// The branch it wrote to.
    branch: &'a str,
    /// The branch's tip now.
    tip: String,
    /// Where each stage of the record's context keeps its value.
    fields: Vec<(String, StageField)>,
}

impl Against<'_> {
    /// Whether `commit` is reachable from the branch tip.
    fn reaches(&self, repo: &mut EnvRepo, commit: &str) -> bool {
        repo.is_ancestor(commit, &self.tip) == Some(true)
    }

    /// The finding that `field`'s `commit` is not in the branch's history.
    fn unreachable(&self, field: String, commit: &str) -> Finding {
        let branch = self.branch;
        Finding::new(
            &self.item.path,
            field,
            format!("a commit reachable from {branch}"),
            format!("{commit}, which is not in {branch}'s history (rewritten or force-pushed?)"),
        )
    }
}

/// The commit of action `i` when Baton wrote it directly on the branch:
/// reachable, a change of the action's stage, and carrying the trailers of
/// the run and policy (and of the rolled-back version). `histories` keeps
/// each stage's history once read.
fn action_commit(
    repo: &mut EnvRepo,
    on: &Against<'_>,
    histories: &mut HashMap<String, Vec<HistoryEntry>>,
    i: usize,
    a: &ActionRecord,
    out: &mut Vec<Finding>,
) -> Result<(), CommandError> {
    let (stage, rollback_of) = match &a.action {
        Action::SetVersion(s) => (&s.stage, None),
        Action::Rollback(rb) => (&rb.stage, Some(&rb.rollback_of)),
        _ => return Ok(()),
    };
    let direct = a.branch.as_deref() == Some(on.branch) && a.merge_request.is_none();
    let (ActionStatus::Done, true, Some(commit)) = (a.status, direct, &a.commit) else {
        return Ok(());
    };
    if !on.reaches(repo, commit) {
        out.push(on.unreachable(format!("actions[{i}].commit"), commit));
        return Ok(());
    }
    let Some((_, field)) = on.fields.iter().find(|(name, _)| name == stage) else {
        return Ok(());
    };
    if !histories.contains_key(stage) {
        let history = repo.history(&on.tip, field, None).map_err(read_error)?;
        histories.insert(stage.clone(), history);
    }
    let entry = histories
        .get(stage)
        .and_then(|h| h.iter().find(|e| &e.commit == commit));
    let Some(entry) = entry else {
        out.push(Finding::new(
            &on.item.path,
            format!("actions[{i}].commit"),
            format!("a commit on {} that changed {stage}", on.branch),
            format!("{commit}, which did not change {stage}"),
        ));
        return Ok(());
    };
    trailers(on, i, entry, rollback_of, out);
    Ok(())
}

/// Action `i`'s commit `entry` carries the trailers of the record's run
/// and policy, and of `rollback_of` for a rollback.
fn trailers(
    on: &Against<'_>,
    i: usize,
    entry: &HistoryEntry,
    rollback_of: Option<&String>,
    out: &mut Vec<Finding>,
) {
    let r = &on.item.record;
    let commit = &entry.commit;
    let mut expect = vec![(RUN, r.run_id.clone()), (POLICY, r.policy.digest.clone())];
    if let Some(of) = rollback_of {
        expect.push((ROLLBACK_OF, of.clone()));
    }
    for (key, want) in expect {
        let found = entry.trailer(key);
        if found != Some(want.as_str()) {
            out.push(Finding::new(
                &on.item.path,
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
