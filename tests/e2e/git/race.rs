//! 20 writers promote 20 different apps into one env repo at the same time,
//! each from its own cache directory (file:// so the test stays quick; the
//! HTTP path is covered in git_repo.rs): every
//! update lands, history stays linear, nothing is lost.

use super::common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use baton::capabilities::git::{CommitSettings, Target, WriteOutcome};
use common::*;

const WRITERS: usize = 20;

#[test]
fn twenty_concurrent_writers_all_land() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let helm = fixture("helm-values.yaml");
    let files: Vec<(String, String)> = (0..WRITERS)
        .map(|i| (format!("overlays/dev/app{i:02}/values.yaml"), helm.clone()))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let origin = make_origin(tmp.path(), "env.git", &refs);
    let url = file_url(&origin);

    let settings = CommitSettings {
        // Generous: on a loaded 2-core machine a writer may lose many rounds.
        max_attempts: 60,
        backoff_base: Duration::from_millis(20),
        ..settings()
    };
    let barrier = Arc::new(Barrier::new(WRITERS));
    let handles: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (url, barrier, settings) = (url.clone(), barrier.clone(), settings.clone());
            let cache = tmp.path().join(format!("cache{i}"));
            std::thread::spawn(move || {
                let mut repo = open(&url, None, &cache);
                let app = format!("app{i:02}");
                let location = baton::capabilities::git::StageField {
                    file: format!("overlays/dev/{app}/values.yaml"),
                    field: "helm:image.tag".parse().expect("valid"),
                };
                barrier.wait();
                repo.write_version(
                    &request(&app, "dev", location, &format!("v2.0.{i}"), Target::Branch),
                    &settings,
                )
                .map_err(|e| chain(&e))
            })
        })
        .collect();
    let outcomes: Vec<WriteOutcome> = handles
        .into_iter()
        .map(|h| h.join().expect("writer thread").expect("write lands"))
        .collect();
    let retries: u32 = outcomes
        .iter()
        .map(|o| match o {
            WriteOutcome::Committed { retries, .. } => *retries,
            _ => 0,
        })
        .sum();
    eprintln!("total rejected pushes: {retries}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, WriteOutcome::Committed { .. })),
        "{outcomes:?}"
    );

    // 20 commits on top of the seed, no merges, each changing one file.
    assert_eq!(
        git(&origin, &["rev-list", "--count", "main"]).trim(),
        (WRITERS + 1).to_string()
    );
    assert_eq!(git(&origin, &["rev-list", "--merges", "main"]), "");
    let subjects = git(&origin, &["log", "--format=%s", "main~20..main"]);
    let mut subjects: Vec<&str> = subjects.lines().collect();
    subjects.sort_unstable();
    let expected: Vec<String> = (0..WRITERS)
        .map(|i| format!("dev(app{i:02}): v2.0.{i}"))
        .collect();
    assert_eq!(subjects, expected);
    for i in 0..WRITERS {
        let path = format!("main:overlays/dev/app{i:02}/values.yaml");
        assert_eq!(
            git(&origin, &["show", &path]),
            helm.replace("\"v1.2.2\"", &format!("\"v2.0.{i}\"")),
            "{path}"
        );
    }
    for n in 0..WRITERS {
        let files = git(
            &origin,
            &[
                "diff",
                "--name-only",
                &format!("main~{}", n + 1),
                &format!("main~{n}"),
            ],
        );
        assert_eq!(files.lines().count(), 1, "commit main~{n} changes {files}");
    }
}
