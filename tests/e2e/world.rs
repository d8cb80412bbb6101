//! Policies read the real env repo through the WIT `git` interface: the
//! default policy, run in the sandbox against a live world over a real
//! repository, finds the last good version from commit trailers.

use crate::policies;
use baton::capabilities::git::{EnvRepo, OpenOptions, RepoSource, StageField};
use baton::engine::SharedRepo;
use baton::engine::world::{LiveStage, LiveWorld};
use baton::runtime::{Action, Channel, Context, Event, RollbackRequested};

use crate::support::{git, load, test_limits};

const FILE: &str = "overlays/dev/payments/values.yaml";

fn commit(work: &std::path::Path, version: &str, message: &str) {
    std::fs::write(
        work.join(FILE),
        format!("# payments in dev\nimage:\n  repository: registry.example.com/payments\n  tag: \"{version}\"\n"),
    )
    .unwrap();
    git(work, &["add", "."]);
    git(work, &["commit", "-q", "-m", message]);
}

#[test]
fn default_policy_rolls_back_past_an_already_rolled_back_version() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir_all(work.join("overlays/dev/payments")).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    commit(&work, "v1.0.0", "dev(payments): v1.0.0");
    commit(&work, "v1.1.0", "dev(payments): v1.1.0");
    commit(
        &work,
        "v1.0.0",
        "rollback dev(payments): v1.0.0\n\nBaton-Run: r1\nBaton-Rollback-Of: v1.1.0",
    );
    commit(&work, "v1.2.0", "dev(payments): v1.2.0");

    let url = format!("file://{}", work.display());
    let mut repo = EnvRepo::open(
        &RepoSource { url, token: None },
        &OpenOptions::new(root.path().join("cache"), "main"),
    )
    .unwrap();
    let tip = repo.resolve("main").unwrap().to_string();
    repo.refresh().unwrap();
    let field = StageField {
        file: FILE.into(),
        field: "helm:image.tag".parse().unwrap(),
    };
    let world = LiveWorld::new(
        SharedRepo::new(repo),
        tip,
        vec![LiveStage {
            name: "dev".into(),
            field,
            targets: Vec::new(),
        }],
        Box::new(|| 1_800_000_000_000),
    );

    let ctx = Context {
        run_id: "r2".into(),
        dry_run: true,
        ..crate::support::context(vec![crate::support::stage("dev", true)], "{}")
    };
    let event = Event::RollbackRequested(RollbackRequested {
        stage: "dev".into(),
        to_version: None,
        reason: "error rate".into(),
    });
    let policy = load(policies::DEFAULT_PATH, test_limits());
    let (decided, _) = policy.decide(Box::new(world), &ctx, &event);
    let decision = decided.result.unwrap().unwrap();
    match decision.actions.as_slice() {
        [Action::Rollback(r), Action::AwaitHealth(a)] => {
            // v1.1.0 was rolled back before, so the last good is v1.0.0.
            assert_eq!(
                (r.rollback_of.as_str(), r.to_version.as_str()),
                ("v1.2.0", "v1.0.0")
            );
            assert_eq!(r.channel, Channel::DirectCommit);
            assert_eq!(a.version, "v1.0.0");
        }
        other => panic!("unexpected {other:?}"),
    }
    let calls: Vec<String> = decided.calls.iter().map(|c| c.name()).collect();
    assert_eq!(calls, ["git.stage-version", "git.stage-history"]);
    let history = &decided.calls[1].result["Ok"];
    assert_eq!(history.as_array().unwrap().len(), 4);
    assert_eq!(history[1]["to_version"], "v1.0.0");
    assert_eq!(history[1]["trailers"][1]["key"], "Baton-Rollback-Of");
    assert_eq!(history[1]["trailers"][1]["value"], "v1.1.0");
}
