//! A policy that misbehaves on purpose, to prove the sandbox contains it.
//! `settings.mode` selects the misbehaviour; the host's tests assert the
//! precise error each one produces.

// Only the component is meant to run; natively nothing calls the policy.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::hint::black_box;

use baton_policy::settings::Settings;
use baton_policy::{Context, Decision, Event, Level, Policy, PolicyError, World, actions};

struct Misbehave;

fn recurse(depth: u64) -> u64 {
    if depth == 0 {
        return 0;
    }
    let mut frame = [0u64; 16];
    frame[depth as usize % 16] = depth;
    black_box(&mut frame);
    recurse(black_box(depth - 1)) + frame[depth as usize % 16]
}

impl Policy for Misbehave {
    fn decide(ctx: &Context, _event: &Event, world: &impl World) -> Result<Decision, PolicyError> {
        let settings = Settings::parse(&ctx.settings)?;
        let mode = settings.string("mode")?.unwrap_or_default();
        let said = match mode.as_str() {
            "loop" => {
                let mut i = 0u64;
                loop {
                    i = black_box(i.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![7u8; 1 << 20]));
                }
            }
            "recursion" => format!("{}", recurse(black_box(u64::MAX))),
            "panic" => panic!("policy bug: stage table is empty for {}", ctx.app),
            "env" => format!(
                "env={} args={}",
                std::env::vars_os().count(),
                std::env::args_os().count()
            ),
            "files" => {
                let read = std::fs::read("/etc/passwd").map(|b| b.len());
                let list = std::fs::read_dir(".").map(|d| d.count());
                format!("read={read:?} list={list:?}")
            }
            "clock-random" => {
                use std::hash::{BuildHasher, Hasher};
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
                hasher.write_u64(42);
                let elapsed = std::time::Instant::now().elapsed().as_nanos();
                format!("wall={wall} hash={} mono={elapsed}", hasher.finish())
            }
            "unknown-stage" => {
                return Ok(Decision::from(vec![actions::commit(
                    "qa-nonexistent",
                    "v9.9.9",
                    "deploy to a stage nobody configured",
                )]));
            }
            "direct-to-last-stage" => {
                // Skips every gate: the host's guardrails must refuse it.
                let last = ctx
                    .stages
                    .last()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                return Ok(Decision::from(vec![actions::commit(
                    &last,
                    "v9.9.9",
                    "straight to the last stage",
                )]));
            }
            "log-flood" => {
                let line = "x".repeat(1024);
                for _ in 0..100_000 {
                    world.log(Level::Info, &line);
                }
                "flooded the log".to_string()
            }
            "print-flood" => {
                let line = "y".repeat(1024);
                for _ in 0..100_000 {
                    println!("{line}");
                }
                "flooded stdout".to_string()
            }
            "denied" => format!("{:?}", world.application_status("someone-elses-app")),
            "metrics" => {
                // Probes the metrics capability: what an instant and a range
                // query of settings.promql answer (values as Rust prints them,
                // so NaN and the infinities show).
                let promql = settings.string("promql")?.unwrap_or_default();
                let now = world.now();
                let values = |samples: &[baton_policy::Sample]| {
                    samples.iter().map(|s| s.value).collect::<Vec<_>>()
                };
                let instant = world.metrics_query(&promql, None);
                let range = world.metrics_query_range(&promql, now - 120_000, now, 60_000);
                format!(
                    "query={:?} range={:?}",
                    instant.as_deref().map(values),
                    range.map(|series| series
                        .iter()
                        .map(|s| s.points.iter().map(|p| p.value).collect::<Vec<_>>())
                        .collect::<Vec<_>>())
                )
            }
            other => {
                return Err(PolicyError::InvalidSettings(format!(
                    "settings.mode: unknown mode {other:?}"
                )));
            }
        };
        Ok(Decision::from(vec![actions::hold(said)]))
    }
}

// With metrics: the `metrics` mode probes that capability.
baton_policy::export_policy!(Misbehave);
