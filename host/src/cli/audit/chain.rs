//! The chain of the given records, per app, and what a signature check
//! found. Records of an app are put in order (started_at, then run id);
//! each one's `integrity.previous` must be the digest of the one before.
//! The first may name a record outside the given ones (the chain goes on
//! before the period); a later one naming a record not given is a gap,
//! two naming the same record a fork.

use std::collections::BTreeMap;

use super::verify::{Finding, Loaded};
use crate::engine::audit::integrity::{self, SignatureCheck};

/// The chain findings across `records`.
pub fn check(records: &[Loaded]) -> Vec<Finding> {
    let mut by_app: BTreeMap<&str, Vec<&Loaded>> = BTreeMap::new();
    for r in records {
        by_app.entry(&r.record.command.app).or_default().push(r);
    }
    let mut out = Vec::new();
    for list in by_app.values_mut() {
        list.sort_by_key(|r| {
            (
                crate::time::parse_rfc3339(&r.record.started_at),
                r.record.run_id.clone(),
            )
        });
        out.extend(app_chain(list));
    }
    out
}

/// The chain findings of one app's records, in chain order.
fn app_chain(list: &[&Loaded]) -> Vec<Finding> {
    let digests: Vec<String> = list.iter().map(|r| integrity::digest(&r.raw)).collect();
    list.iter()
        .enumerate()
        .filter_map(|(i, r)| link_finding(list, &digests, i, r))
        .collect()
}

/// What is wrong with the link of record `i` of `list` (whose digests are
/// `digests`), if anything: none, a fork, or not the record before it.
fn link_finding(list: &[&Loaded], digests: &[String], i: usize, r: &Loaded) -> Option<Finding> {
    let Some(link) = &r.record.integrity else {
        return Some(Finding::new(
            &r.path,
            "integrity",
            "a chain link to the app's previous record",
            "none (a record written before records were chained, or stripped)",
        ));
    };
    let previous = link.previous.as_deref();
    if let Some(fork) = fork(list, r, previous) {
        return Some(fork);
    }
    if i == 0 {
        return None;
    }
    let expected = &digests[i - 1];
    if previous == Some(expected.as_str()) {
        return None;
    }
    let named = previous
        .and_then(|p| digests.iter().position(|d| d == p))
        .map(|k| list[k].path.clone());
    let found = match (previous, named) {
        (None, _) => "none: the chain starts again here".to_owned(),
        (Some(p), Some(path)) => format!("{p}, the digest of {path} (out of order)"),
        (Some(p), None) => format!(
            "{p} (run {}), which none of the given records has: a gap",
            link.previous_run.as_deref().unwrap_or("?")
        ),
    };
    Some(Finding::new(
        &r.path,
        "integrity.previous",
        format!(
            "{expected}, the digest of {} (the app's record before it)",
            list[i - 1].path
        ),
        found,
    ))
}

/// The fork at `r`, when other records of `list` also follow its
/// `previous` record.
fn fork(list: &[&Loaded], r: &Loaded, previous: Option<&str>) -> Option<Finding> {
    let followers: Vec<&str> = list
        .iter()
        .filter(|o| {
            o.record.run_id != r.record.run_id
                && o.record
                    .integrity
                    .as_ref()
                    .and_then(|l| l.previous.as_deref())
                    == previous
                && previous.is_some()
        })
        .map(|o| o.path.as_str())
        .collect();
    if followers.is_empty() {
        return None;
    }
    Some(Finding::new(
        &r.path,
        "integrity.previous",
        "the only record following its previous record",
        format!(
            "a fork: {} also follow{} {}",
            followers.join(", "),
            if followers.len() == 1 { "s" } else { "" },
            previous.unwrap_or_default()
        ),
    ))
}

/// The finding a signature check makes, if any.
pub fn signature_finding(path: &str, check: &SignatureCheck) -> Option<Finding> {
    match check {
        SignatureCheck::Valid | SignatureCheck::NoKey => None,
        SignatureCheck::Unsigned => Some(Finding::new(
            path,
            "integrity.signature",
            "a signature by the trusted key",
            "none",
        )),
        SignatureCheck::Invalid(why) => Some(Finding::new(
            path,
            "integrity.signature",
            "a signature by the trusted key over the record as it is",
            format!("an invalid signature: {why}"),
        )),
    }
}
