//! Whether a stage change that claims to be Baton's really can be.
//!
//! [`super::arrival::from_git`] reads a change's origin from trailers alone: a
//! `Baton-Run` trailer makes a direct commit `baton-commit` and a merged
//! commit `baton-merge-request`. Trailers can be copied, so after arrival
//! the engine (and `status`, `history`) asks [`doubts`] whether the claim
//! holds up, and a change with any doubt goes to the policy as
//! `out-of-band`. What can be checked:
//!
//! - without records: both trailers are well formed (`Baton-Run` a run id,
//!   `Baton-Policy` a sha256 digest); a direct commit goes only to a stage
//!   the guardrails let Baton commit to directly; the run the trailer names
//!   did not start after the commit was made;
//! - with records (`audit.records`, or the run's own `baton-audit/`): the
//!   named run's record exists (required only when `audit.records` is set)
//!   and lists the commit that carries the change.
//!
//! What cannot be checked without records or signatures: a commit that
//! copies well-formed trailers of a real run onto a stage Baton may commit
//! to, at a plausible time. `baton audit verify` over a period's records
//! catches that (a Baton commit no record lists).
//!
//! The engine also reads, for each change that arrived through a merge
//! request, who approved and merged it ([`Engine::check_arrivals`]).

use std::path::Path;

use serde_json::Value;

use super::arrival::Arrival;
use super::audit::{Approval, ArrivalRecord, MergedRequest, Status};
use super::state::{Engine, RunState, Stop};
use crate::capabilities::forge::Forge;
use crate::capabilities::git::{POLICY, RUN};
use crate::runtime::{ChangeOrigin, Event};

/// Where a change's run's record may be found.
#[derive(Debug, Clone, Copy)]
pub enum Records<'a> {
    /// `audit.records`: every Baton change must have its run's record here.
    Required(&'a Path),
    /// The local `baton-audit/`: a record found there must list the change.
    IfPresent(&'a Path),
}

/// What a Baton change is checked against.
#[derive(Debug, Clone, Copy)]
pub struct OriginRules<'a> {
    /// The app (records are `<app>-<run id>.json`).
    pub app: &'a str,
    /// Stages Baton may commit to directly (`guardrails.direct_commit_stages`).
    pub direct_commit_stages: &'a [String],
    /// Where records are.
    pub records: Records<'a>,
}

/// Why the change that reached `stage` as `arrival` cannot be Baton's;
/// empty when nothing speaks against it (or when it does not claim to be).
pub fn doubts(rules: &OriginRules<'_>, stage: &str, arrival: &Arrival) -> Vec<String> {
    if arrival.origin == ChangeOrigin::OutOfBand {
        return Vec::new();
    }
    let carrier = &arrival.carrier;
    let mut out = Vec::new();
    let run = carrier.trailer(RUN).unwrap_or_default();
    let run_time = run_started(run);
    if run_time.is_none() {
        out.push(format!(
            "its {RUN} trailer {run:?} is not a Baton run id (YYYYMMDDTHHMMSSZ-xxxxxx)"
        ));
    }
    match carrier.trailer(POLICY) {
        Some(p) if is_digest(p) => {}
        Some(p) => out.push(format!("its {POLICY} trailer {p:?} is not a sha256 digest")),
        None => out.push(format!("it has a {RUN} trailer but no {POLICY} trailer")),
    }
    if arrival.origin == ChangeOrigin::BatonCommit
        && !rules.direct_commit_stages.iter().any(|s| s == stage)
    {
        out.push(format!(
            "it was committed directly to {stage}, which Baton only changes through merge \
             requests (guardrails.direct_commit_stages: {})",
            rules.direct_commit_stages.join(", ")
        ));
    }
    // A minute of clock skew between the CI runner and the git server.
    if let Some(started) = run_time
        && carrier.time + 60 < started
    {
        out.push(format!(
            "its {RUN} trailer names a run that started after the commit was made"
        ));
    }
    if run_time.is_some() {
        out.extend(record_doubt(
            rules,
            run,
            &carrier.commit,
            arrival.merge_request,
        ));
    }
    out
}

/// What the run's record (if any) says against `commit` (landed by merge
/// request `merge_request`, when known) being its: a rebase gives Baton's
/// commit a new id, so the record may list the merge request instead.
fn record_doubt(
    rules: &OriginRules<'_>,
    run: &str,
    commit: &str,
    merge_request: Option<u64>,
) -> Option<String> {
    let (dir, required) = match rules.records {
        Records::Required(dir) => (dir, true),
        Records::IfPresent(dir) => (dir, false),
    };
    let path = dir.join(format!("{}-{run}.json", rules.app));
    let Ok(bytes) = std::fs::read(&path) else {
        return required.then(|| {
            format!(
                "run {run} has no audit record in {} (audit.records)",
                dir.display()
            )
        });
    };
    let record: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return Some(format!("the record {} is not JSON: {e}", path.display())),
    };
    let listed = record
        .get("actions")
        .and_then(Value::as_array)
        .is_some_and(|actions| {
            actions.iter().any(|a| {
                a.get("commit").and_then(Value::as_str) == Some(commit)
                    || merge_request.is_some_and(|n| {
                        a.pointer("/merge_request/number").and_then(Value::as_u64) == Some(n)
                    })
            })
        });
    (!listed).then(|| {
        format!(
            "the audit record of run {run} ({}) lists no commit {}",
            path.display(),
            short(commit)
        )
    })
}

/// The start time (seconds since the epoch) a run id encodes.
pub fn run_started(run: &str) -> Option<i64> {
    let (stamp, suffix) = run.split_once('-')?;
    let b = stamp.as_bytes();
    let well_formed = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && stamp[..8].bytes().all(|c| c.is_ascii_digit())
        && stamp[9..15].bytes().all(|c| c.is_ascii_digit())
        && suffix.len() == 6
        && suffix.bytes().all(|c| c.is_ascii_hexdigit());
    if !well_formed {
        return None;
    }
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    );
    let t = crate::time::parse_rfc3339(&text)?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// The WIT spelling of an origin.
pub fn origin_name(origin: ChangeOrigin) -> &'static str {
    match origin {
        ChangeOrigin::BatonCommit => "baton-commit",
        ChangeOrigin::BatonMergeRequest => "baton-merge-request",
        ChangeOrigin::OutOfBand => "out-of-band",
    }
}

impl Engine {
    /// The rules Baton changes of this app are checked against.
    pub(super) fn origin_rules(&self) -> OriginRules<'_> {
        OriginRules {
            app: &self.app,
            direct_commit_stages: &self.guardrails.direct_commit_stages,
            records: match &self.audit_records {
                Some(dir) => Records::Required(dir),
                None => Records::IfPresent(Path::new("baton-audit")),
            },
        }
    }

    /// Checks how each changed stage arrived: a change whose Baton claim
    /// does not hold goes to the policy as `out-of-band`. Records every
    /// arrival, and for merged merge requests who approved and merged them.
    pub(super) async fn check_arrivals(
        &self,
        st: &mut RunState,
        mut events: Vec<Event>,
    ) -> Result<Vec<Event>, Stop> {
        let tip = self.tip()?;
        let rules = self.origin_rules();
        let mut attribution = self.attribution();
        for event in &mut events {
            let Event::StageChanged(changed) = event else {
                continue;
            };
            let stage = self.stage(&changed.stage)?.clone();
            let newest = attribution
                .history(
                    &self.systems.repo,
                    &tip,
                    &stage.name,
                    &stage.location,
                    Some(1),
                )
                .map_err(|e| Stop::caused(Status::ExternalError, &e))?;
            let Some(arrival) = newest.into_iter().next().map(|a| a.arrival) else {
                continue;
            };
            let mut reasons = doubts(&rules, &stage.name, &arrival);
            if reasons.is_empty() && arrival.origin == ChangeOrigin::OutOfBand {
                reasons.push(match arrival.carrier.trailer(RUN) {
                    Some(_) => "it is a merge whose merged side is not a Baton commit".into(),
                    None => format!("its commit carries no {RUN} trailer"),
                });
            }
            if !reasons.is_empty() && changed.origin != ChangeOrigin::OutOfBand {
                tracing::warn!(
                    "{}: the change to {} claims to be Baton's but is out of band: {}",
                    stage.name,
                    changed.to_version,
                    reasons.join("; ")
                );
                changed.origin = ChangeOrigin::OutOfBand;
            }
            if changed.origin == ChangeOrigin::BatonMergeRequest
                && let (Some(number), Some(forge)) =
                    (arrival.merge_request, self.systems.forge.as_deref())
            {
                st.merge_requests
                    .push(merged_request(forge, &stage.name, number).await);
            }
            st.arrivals.push(ArrivalRecord {
                stage: stage.name.clone(),
                version: changed.to_version.clone(),
                commit: changed.commit.clone(),
                carrier: (arrival.carrier.commit != changed.commit)
                    .then(|| arrival.carrier.commit.clone()),
                run: arrival.carrier.trailer(RUN).map(str::to_owned),
                merge_request: arrival.merge_request,
                origin: origin_name(changed.origin).into(),
                reasons: if changed.origin == ChangeOrigin::OutOfBand {
                    reasons
                } else {
                    Vec::new()
                },
            });
        }
        Ok(events)
    }
}

/// Who approved and merged merge request `number`, as the forge says; the
/// error instead when it cannot say.
pub(super) async fn merged_request(forge: &dyn Forge, stage: &str, number: u64) -> MergedRequest {
    match forge.review(number).await {
        Ok(review) => MergedRequest {
            stage: stage.to_owned(),
            number,
            url: Some(review.web_url),
            merged_by: review.merged_by,
            merged_at: review.merged_at,
            approvals: review
                .approvals
                .into_iter()
                .map(|a| Approval {
                    user: a.user,
                    at: a.at,
                })
                .collect(),
            error: None,
        },
        Err(e) => MergedRequest {
            stage: stage.to_owned(),
            number,
            url: None,
            merged_by: None,
            merged_at: None,
            approvals: Vec::new(),
            error: Some(crate::report::error_chain(&e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::git::{HistoryEntry, Trailer};

    fn arrival(origin: ChangeOrigin, trailers: &[(&str, &str)], time: i64) -> Arrival {
        Arrival {
            carrier: HistoryEntry {
                commit: "c0ffee".repeat(6) + "c0ff",
                time,
                author_name: "Baton".into(),
                author_email: "baton@localhost".into(),
                old: Some("v1".into()),
                new: Some("v2".into()),
                message: "prod(payments): v2\n".into(),
                trailers: trailers
                    .iter()
                    .map(|(k, v)| Trailer {
                        key: (*k).into(),
                        value: (*v).into(),
                    })
                    .collect(),
            },
            origin,
            merge_request: None,
        }
    }

    #[test]
    fn run_ids_encode_their_start() {
        assert_eq!(run_started("19700101T000100Z-abcdef"), Some(60));
        assert_eq!(run_started("yesterday-abcdef"), None);
        assert_eq!(run_started("19700101T000100Z-xyz"), None);
    }

    #[test]
    fn a_direct_commit_to_a_merge_request_stage_with_copied_trailers_is_doubted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let direct = ["dev".to_owned()];
        let rules = OriginRules {
            app: "payments",
            direct_commit_stages: &direct,
            records: Records::IfPresent(dir.path()),
        };
        let digest = format!("sha256:{}", "a".repeat(64));
        let copied = arrival(
            ChangeOrigin::BatonCommit,
            &[(POLICY, &digest), (RUN, "20250101T000000Z-abcdef")],
            1_735_689_700,
        );
        assert_eq!(doubts(&rules, "dev", &copied), Vec::<String>::new());
        let found = doubts(&rules, "prod", &copied);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("committed directly to prod"), "{found:?}");
        // The run's record is there and lists other commits only.
        std::fs::write(
            dir.path().join("payments-20250101T000000Z-abcdef.json"),
            r#"{"actions":[{"commit":"1111"}]}"#,
        )
        .expect("write");
        let found = doubts(&rules, "dev", &copied);
        assert!(
            found[0].contains("lists no commit c0ffeec0ffee"),
            "{found:?}"
        );
        // A trailer naming a run that started later than the commit.
        let early = arrival(
            ChangeOrigin::BatonCommit,
            &[(POLICY, &digest), (RUN, "20250101T000000Z-abcdef")],
            1_000,
        );
        let found = doubts(&rules, "dev", &early);
        assert!(
            found.iter().any(|d| d.contains("started after")),
            "{found:?}"
        );
        let required = OriginRules {
            records: Records::Required(Path::new("/nonexistent")),
            ..rules
        };
        let found = doubts(&required, "dev", &copied);
        assert!(
            found.iter().any(|d| d.contains("has no audit record")),
            "{found:?}"
        );
    }
}
