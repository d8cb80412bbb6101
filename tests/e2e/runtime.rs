//! The sandbox: the default policy decides, and every hostile policy is
//! contained with its specific error while the host carries on.

use std::time::Duration;

use crate::policies;
use baton::config::{Guardrails, PromotionOrder};
use baton::engine::guardrails;
use baton::runtime::{
    Action, Channel, DecideError, Decided, Event, LoadError, NewVersion, NoWorld, PolicyRuntime,
    PolicySource,
};

use crate::support::{load, test_limits, three_stages};

fn new_version() -> Event {
    Event::NewVersion(NewVersion {
        version: "v1.2.3".into(),
        digest: None,
    })
}

fn misbehave(mode: &str) -> Decided {
    misbehave_with(mode, test_limits())
}

fn misbehave_with(mode: &str, limits: baton::runtime::Limits) -> Decided {
    let policy = load(policies::HOSTILE_MISBEHAVE_PATH, limits);
    let ctx = three_stages(format!(r#"{{"mode":"{mode}"}}"#));
    policy.decide(Box::new(NoWorld), &ctx, &new_version()).0
}

fn held(decided: Decided) -> String {
    match decided.result {
        Ok(Ok(d)) => match d.actions.as_slice() {
            [Action::Hold(text)] => text.clone(),
            other => panic!("expected one hold, got {other:?}"),
        },
        other => panic!("expected a decision, got {other:?}"),
    }
}

fn trap(decided: Decided) -> DecideError {
    match decided.result {
        Err(e) => e,
        Ok(other) => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn default_policy_commits_a_new_version_to_dev_and_awaits_health() {
    let policy = load(policies::DEFAULT_PATH, test_limits());
    let (decided, _) = policy.decide(Box::new(NoWorld), &three_stages("{}"), &new_version());
    let decision = decided.result.expect("no trap").expect("no policy error");
    match decision.actions.as_slice() {
        [Action::SetVersion(set), Action::AwaitHealth(wait)] => {
            assert_eq!(
                (set.stage.as_str(), set.version.as_str()),
                ("dev", "v1.2.3")
            );
            assert_eq!(set.channel, Channel::DirectCommit);
            assert_eq!(
                (wait.stage.as_str(), wait.version.as_str()),
                ("dev", "v1.2.3")
            );
            assert_eq!(wait.timeout, 600_000);
        }
        other => panic!("unexpected actions {other:?}"),
    }
    assert!(decided.fuel_used > 0);
}

#[test]
fn builtin_default_is_the_embedded_build_of_the_default_policy() {
    let runtime = PolicyRuntime::new(test_limits(), None).unwrap();
    let builtin = runtime
        .load(&PolicySource::Builtin("default".into()), None)
        .unwrap();
    let file = load(policies::DEFAULT_PATH, test_limits());
    assert_eq!(builtin.digest, file.digest);
    assert_eq!(builtin.metadata.name, "baton-default-policy");
    assert_eq!(builtin.wit_version, "0.2.0");
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let err = trap(misbehave("loop"));
    assert!(
        matches!(err, DecideError::OutOfFuel { limit: 200_000_000 }),
        "{err}"
    );
    assert!(err.to_string().contains("limits.fuel"), "{err}");
}

#[test]
fn infinite_loop_hits_the_deadline_when_fuel_is_plenty() {
    let limits = baton::runtime::Limits {
        fuel: u64::MAX / 2,
        deadline: Duration::from_millis(300),
        ..test_limits()
    };
    let err = trap(misbehave_with("loop", limits));
    assert!(matches!(err, DecideError::Deadline { .. }), "{err}");
    assert!(err.to_string().contains("deadline of 300ms"), "{err}");
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    let err = trap(misbehave("alloc"));
    match &err {
        DecideError::Memory { desired, limit } => {
            assert_eq!(*limit, 64 << 20);
            assert!(desired > limit);
        }
        other => panic!("expected a memory limit error, got {other}"),
    }
    assert!(err.to_string().contains("limits.memory"));
}

#[test]
fn deep_recursion_overflows_the_stack() {
    let err = trap(misbehave("recursion"));
    assert!(matches!(err, DecideError::StackOverflow { .. }), "{err}");
}

#[test]
fn panic_shows_the_guest_message() {
    let err = trap(misbehave("panic"));
    match &err {
        DecideError::Panic { message, .. } => {
            assert!(
                message.starts_with("policy bug: stage table is empty for payments (at "),
                "{message}"
            );
        }
        other => panic!("expected a panic, got {other}"),
    }
}

#[test]
fn environment_and_arguments_are_empty() {
    assert_eq!(held(misbehave("env")), "env=0 args=0");
}

#[test]
fn no_files_can_be_opened() {
    let text = held(misbehave("files"));
    assert!(text.starts_with("read=Err("), "{text}");
    assert!(text.contains("list=Err("), "{text}");
}

#[test]
fn clock_and_random_are_identical_across_runs() {
    let first = held(misbehave("clock-random"));
    let second = held(misbehave("clock-random"));
    assert_eq!(first, second);
    assert!(first.starts_with("wall=0 "), "{first}");
}

#[test]
fn an_action_for_an_unknown_stage_is_refused() {
    let decided = misbehave("unknown-stage");
    let decision = decided.result.unwrap().unwrap();
    let g = Guardrails {
        direct_commit_stages: vec!["dev".into()],
        auto_merge_stages: vec![],
        max_health_wait: Duration::from_secs(1800),
        promotion_order: PromotionOrder::Strict,
    };
    let refusal = guardrails::check(&decision, &three_stages("{}"), &g).unwrap_err();
    assert!(!refusal.is_guardrail());
    assert_eq!(
        refusal.to_string(),
        "action 1 (set qa-nonexistent to v9.9.9 by direct commit) names stage \"qa-nonexistent\", \
         which app payments does not have (stages: dev, staging, prod)"
    );
}

#[test]
fn log_output_is_bounded() {
    let decided = misbehave("log-flood");
    let total: usize = decided.logs.iter().map(|l| l.message.len()).sum();
    assert!(total <= (64 << 10) + 100, "{total} bytes kept");
    let last = decided.logs.last().unwrap();
    assert_eq!(
        last.message,
        "log output truncated: limits.log_bytes reached"
    );
    assert_eq!(held(decided), "flooded the log");
}

#[test]
fn stdout_flood_is_stopped() {
    let err = trap(misbehave("print-flood"));
    assert!(matches!(err, DecideError::Output { limit: 65536 }), "{err}");
}

#[test]
fn capability_denial_is_an_error_the_policy_sees() {
    let text = held(misbehave("denied"));
    assert!(text.contains("Denied"), "{text}");
    assert!(text.contains("someone-elses-app"), "{text}");
}

fn load_error(path: &str) -> LoadError {
    let runtime = PolicyRuntime::new(test_limits(), None).unwrap();
    match runtime.load(&PolicySource::File(path.into()), None) {
        Err(e) => e,
        Ok(_) => panic!("{path} should be refused"),
    }
}

#[test]
fn foreign_imports_are_refused_at_load_with_the_full_list() {
    let err = load_error(policies::HOSTILE_FOREIGN_IMPORT_PATH);
    let text = err.to_string();
    assert!(matches!(err, LoadError::UnofferedImports { .. }), "{text}");
    assert!(
        text.contains("imports interfaces Baton does not offer: acme:exfil/http-client@1.0.0\n"),
        "{text}"
    );
    assert!(text.contains("it asks for: "), "{text}");
    assert!(
        text.contains("Baton offers: baton:policy/types@0.1.0"),
        "{text}"
    );
    assert!(text.contains("baton:policy/metrics@0.2.0"), "{text}");
}

#[test]
fn sockets_are_refused_at_load() {
    let text = load_error(policies::HOSTILE_SOCKETS_PATH).to_string();
    assert!(text.contains("does not offer: wasi:sockets/"), "{text}");
}

#[test]
fn incompatible_contract_version_is_refused_with_both_versions() {
    let text = load_error(policies::HOSTILE_OLD_WIT_PATH).to_string();
    assert!(
        text.ends_with(
            "was built for baton:policy@1.0.0, but this host implements \
             baton:policy@0.1.0 and baton:policy@0.2.0"
        ),
        "{text}"
    );
}

#[test]
fn a_digest_pin_mismatch_is_refused_showing_both_digests() {
    let runtime = PolicyRuntime::new(test_limits(), None).unwrap();
    let pin = "0".repeat(64);
    let err = runtime
        .load(&PolicySource::Builtin("default".into()), Some(&pin))
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains(&format!("policy.sha256 pins sha256:{pin}")),
        "{text}"
    );
    assert!(text.contains("has digest sha256:"), "{text}");
}

#[test]
fn processes_loading_one_policy_at_once_compile_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let start = std::sync::Arc::new(std::sync::Barrier::new(4));
    let loads: Vec<_> = (0..4)
        .map(|_| {
            let (cache, start) = (dir.path().to_path_buf(), start.clone());
            std::thread::spawn(move || {
                // A runtime each, as each job on a runner has its own.
                let runtime = PolicyRuntime::new(test_limits(), Some(cache)).unwrap();
                start.wait();
                runtime
                    .load(&PolicySource::Builtin("default".into()), None)
                    .unwrap()
                    .from_cache
            })
        })
        .collect();
    let from_cache: Vec<bool> = loads.into_iter().map(|l| l.join().unwrap()).collect();
    assert_eq!(
        from_cache.iter().filter(|c| !**c).count(),
        1,
        "{from_cache:?}"
    );
    let cached: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(cached.len(), 1);
}

#[test]
fn compiled_policies_are_cached_by_digest() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = PolicyRuntime::new(test_limits(), Some(dir.path().to_path_buf())).unwrap();
    let source = PolicySource::Builtin("default".into());
    let first = runtime.load(&source, None).unwrap();
    let second = runtime.load(&source, None).unwrap();
    assert!(!first.from_cache);
    assert!(second.from_cache);
    let cached: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(cached.len(), 1);
    let (decided, _) = second.decide(Box::new(NoWorld), &three_stages("{}"), &new_version());
    assert!(decided.result.unwrap().is_ok());
}
