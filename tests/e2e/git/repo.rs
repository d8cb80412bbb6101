//! The env repo against real git: file:// and smart HTTP with a token; reads,
//! history, last good, writes, MR branches, idempotency, retries, errors.

use super::common;

use baton::capabilities::git::{
    EnvRepo, OpenError, OpenOptions, Provenance, RepoSource, StageField, Target, TransportError,
    WriteError, WriteOutcome, parse_trailers,
};
use baton::retry::Deadline;
use baton::secret::Secret;
use common::*;

#[test]
fn file_url_write_commits_exact_bytes_with_trailers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let mut repo = open(&file_url(&origin), None, &tmp.path().join("cache"));
    let dev = helm_stage("dev");
    assert_eq!(repo.read_version("main", &dev).expect("reads"), "v1.2.2");

    let outcome = repo
        .write_version(&helm_write("dev", "v1.2.3"), &settings())
        .expect("writes");
    let WriteOutcome::Committed {
        sha,
        branch,
        previous,
        retries,
    } = outcome
    else {
        panic!("expected a commit, got {outcome:?}");
    };
    assert_eq!(
        (branch.as_str(), previous.as_str(), retries),
        ("main", "v1.2.2", 0)
    );
    assert_eq!(git(&origin, &["rev-parse", "main"]).trim(), sha);

    let written = git(&origin, &["show", "main:overlays/dev/payments/values.yaml"]);
    assert_eq!(
        written,
        fixture("helm-values.yaml").replace("\"v1.2.2\"", "\"v1.2.3\"")
    );
    assert_eq!(
        git(
            &origin,
            &["log", "-1", "--format=%an <%ae>|%cn|%ct|%B", "main"]
        ),
        "Baton Test <baton@test>|Baton Test|1780000000|dev(payments): v1.2.3\n\nBaton-Policy: sha256:0123abcd\nBaton-Run: run-1\n\n"
    );
    // Only the one file changed.
    assert_eq!(
        git(&origin, &["diff", "--name-only", "main~1", "main"]),
        "overlays/dev/payments/values.yaml\n"
    );
    // Reads see the write without another fetch.
    assert_eq!(repo.read_version("main", &dev).expect("reads"), "v1.2.3");
}

#[test]
fn same_version_is_a_no_op() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let before = git(&origin, &["rev-parse", "main"]);
    let mut repo = open(&file_url(&origin), None, &tmp.path().join("cache"));
    let outcome = repo
        .write_version(&helm_write("dev", "v1.2.2"), &settings())
        .expect("writes");
    assert_eq!(
        outcome,
        WriteOutcome::Unchanged {
            sha: before.trim().to_owned(),
            branch: "main".into()
        }
    );
    assert_eq!(git(&origin, &["rev-parse", "main"]), before);
}

#[test]
fn history_and_last_good_skip_rolled_back_versions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let mut repo = open(&file_url(&origin), None, &tmp.path().join("cache"));
    let dev = helm_stage("dev");
    let mut write = |version: &str, rollback_of: Option<&str>| {
        let mut req = helm_write("dev", version);
        req.provenance.rollback_of = rollback_of.map(str::to_owned);
        repo.write_version(&req, &settings()).expect("writes");
    };
    write("v1.3.0", None);
    write("v1.4.0", None);
    write("v1.3.0", Some("v1.4.0")); // v1.4.0 failed: rolled back
    // An unrelated stage's commit does not show up in dev's history.
    write("v1.5.0", None);
    repo.write_version(&helm_write("staging", "v1.3.0"), &settings())
        .expect("writes");

    let history = repo.history("main", &dev, None).expect("history");
    let changes: Vec<(Option<&str>, Option<&str>)> = history
        .iter()
        .map(|h| (h.old.as_deref(), h.new.as_deref()))
        .collect();
    assert_eq!(
        changes,
        vec![
            (Some("v1.3.0"), Some("v1.5.0")),
            (Some("v1.4.0"), Some("v1.3.0")),
            (Some("v1.3.0"), Some("v1.4.0")),
            (Some("v1.2.2"), Some("v1.3.0")),
            (None, Some("v1.2.2")),
        ]
    );
    assert_eq!(history[1].trailer("baton-rollback-of"), Some("v1.4.0"));
    assert_eq!(
        history[0].message,
        "dev(payments): v1.5.0\n\nBaton-Policy: sha256:0123abcd\nBaton-Run: run-1\n"
    );
    assert_eq!(history[0].author_email, "baton@test");
    assert_eq!(history[0].time, 1_780_000_000);
    assert_eq!(history[4].author_name, "Seed");
    assert_eq!(
        repo.history("main", &dev, Some(2)).expect("history").len(),
        2
    );

    // Current v1.5.0; v1.3.0 is the newest earlier value not rolled back.
    let good = repo
        .last_good("main", &dev)
        .expect("last good")
        .expect("exists");
    assert_eq!(good.version, "v1.3.0");
    assert_eq!(good.commit, history[1].commit);

    // Roll v1.5.0 back too: now the current is v1.3.0; v1.4.0 and v1.5.0
    // were rolled back, so the last good is the seed's v1.2.2.
    let mut req = helm_write("dev", "v1.3.0");
    req.provenance.rollback_of = Some("v1.5.0".into());
    repo.write_version(&req, &settings()).expect("writes");
    let good = repo
        .last_good("main", &dev)
        .expect("last good")
        .expect("exists");
    assert_eq!(good.version, "v1.2.2");
}

#[test]
fn changed_stages_between_two_commits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let mut repo = open(&file_url(&origin), None, &tmp.path().join("cache"));
    let a = repo.resolve("main").expect("resolves").to_string();
    let orders = StageField {
        file: "overlays/staging/orders/kustomization.yaml".into(),
        field: "kustomize:ghcr.io/acme/payments".parse().expect("valid"),
    };
    repo.write_version(
        &request(
            "orders",
            "staging",
            orders.clone(),
            "v2.0.0",
            Target::Branch,
        ),
        &settings(),
    )
    .expect("writes");
    let b = repo.resolve("main").expect("resolves").to_string();
    let stages = [helm_stage("dev"), orders, helm_stage("prod")];
    let changes = repo.changed_stages(&a, &b, &stages).expect("diff");
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (
            changes[0].index,
            changes[0].from.as_deref(),
            changes[0].to.as_deref()
        ),
        (1, Some("v1.2.2"), Some("v2.0.0"))
    );
    assert!(
        repo.changed_stages(&b, &b, &stages)
            .expect("diff")
            .is_empty()
    );

    let bytes = repo
        .read_file(&a, "overlays/staging/orders/kustomization.yaml")
        .expect("reads")
        .expect("exists");
    assert_eq!(
        String::from_utf8(bytes).expect("utf-8"),
        fixture("kustomization-multi.yaml")
    );
    assert_eq!(repo.read_file(&a, "nope.yaml").expect("reads"), None);
}

#[test]
fn merge_request_branch_is_created_then_reused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let main_before = git(&origin, &["rev-parse", "main"]);
    let url = file_url(&origin);
    let mut repo = open(&url, None, &tmp.path().join("cache"));
    let req = request(
        "payments",
        "staging",
        helm_stage("staging"),
        "v1.2.3",
        Target::MergeRequest,
    );
    let first = repo.write_version(&req, &settings()).expect("writes");
    let WriteOutcome::Committed { sha, branch, .. } = first else {
        panic!("expected a commit, got {first:?}");
    };
    assert_eq!(branch, "baton/payments/staging/v1.2.3");
    assert_eq!(git(&origin, &["rev-parse", &branch]).trim(), sha);
    assert_eq!(
        git(&origin, &["rev-parse", "main"]),
        main_before,
        "main untouched"
    );
    assert_eq!(
        git(&origin, &["rev-parse", &format!("{branch}~1")]),
        main_before
    );

    // Same change again, from this cache and from a fresh one: reused.
    let again = repo.write_version(&req, &settings()).expect("writes");
    assert_eq!(
        again,
        WriteOutcome::ReusedBranch {
            sha: sha.clone(),
            branch: branch.clone()
        }
    );
    let mut other = open(&url, None, &tmp.path().join("cache2"));
    assert_eq!(
        other.write_version(&req, &settings()).expect("writes"),
        again
    );
    assert_eq!(
        git(
            &origin,
            &["for-each-ref", "--format=%(refname)", "refs/heads/baton"]
        )
        .lines()
        .count(),
        1
    );
}

#[test]
fn diverged_merge_request_branch_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let mut repo = open(&file_url(&origin), None, &tmp.path().join("cache"));
    // Someone pushed the branch name with a different value.
    let mut req = helm_write("staging", "v9.9.9");
    req.target = Target::Branch;
    let (sha, _) = commit(&mut repo, &req);
    git(
        &origin,
        &[
            "update-ref",
            "refs/heads/baton/payments/staging/v1.2.3",
            &sha,
        ],
    );
    git(&origin, &["update-ref", "refs/heads/main", "main~1"]);
    let req = request(
        "payments",
        "staging",
        helm_stage("staging"),
        "v1.2.3",
        Target::MergeRequest,
    );
    let err = repo
        .write_version(&req, &settings())
        .expect_err("must refuse");
    assert!(
        matches!(err, WriteError::BranchDiverged { ref found, .. } if found == "v9.9.9"),
        "{err}"
    );
    assert_eq!(
        git(&origin, &["rev-parse", "baton/payments/staging/v1.2.3"]).trim(),
        sha
    );
}

#[test]
fn rejected_push_is_reapplied_on_the_new_tip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let url = file_url(&origin);
    let mut a = open(&url, None, &tmp.path().join("a"));
    let mut b = open(&url, None, &tmp.path().join("b"));
    a.write_version(&helm_write("dev", "v2.0.0"), &settings())
        .expect("a writes");
    // b's cache is stale: its first push is rejected, then it fetches and
    // re-applies on a's commit.
    let outcome = b
        .write_version(&helm_write("prod", "v1.9.0"), &settings())
        .expect("b writes");
    assert!(
        matches!(outcome, WriteOutcome::Committed { retries: 1, .. }),
        "{outcome:?}"
    );
    let show = |stage: &str| {
        git(
            &origin,
            &[
                "show",
                &format!("main:overlays/{stage}/payments/values.yaml"),
            ],
        )
    };
    assert!(show("dev").contains("tag: \"v2.0.0\""));
    assert!(show("prod").contains("tag: \"v1.9.0\""));
    assert_eq!(git(&origin, &["rev-list", "--count", "main"]).trim(), "3");
}

#[test]
fn later_open_fetches_into_the_same_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let url = file_url(&origin);
    let cache = tmp.path().join("cache");
    let first = open(&url, None, &cache);
    let dir = first.cache_dir().to_owned();
    drop(first);
    let mut writer = open(&url, None, &tmp.path().join("other"));
    writer
        .write_version(&helm_write("dev", "v3.0.0"), &settings())
        .expect("writes");
    let second = open(&url, None, &cache);
    assert_eq!(second.cache_dir(), dir);
    assert_eq!(std::fs::read_dir(&cache).expect("cache").count(), 1);
    assert_eq!(
        second
            .read_version("main", &helm_stage("dev"))
            .expect("reads"),
        "v3.0.0"
    );
}

#[test]
fn shallow_cache_writes_and_deepens_for_history() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let url = file_url(&origin);
    let mut w = open(&url, None, &tmp.path().join("w"));
    w.write_version(&helm_write("dev", "v1.3.0"), &settings())
        .expect("writes");
    let mut repo = open_shallow(&url, &tmp.path().join("shallow"));
    assert!(repo.cache_dir().join("shallow").exists());
    repo.write_version(&helm_write("dev", "v1.4.0"), &settings())
        .expect("writes from a shallow cache");
    let history = repo
        .history("main", &helm_stage("dev"), None)
        .expect("history");
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(git(&origin, &["rev-list", "--count", "main"]).trim(), "3");
}

#[test]
fn a_limit_one_history_read_after_the_write_fetches_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let url = file_url(&origin);
    let mut w = open(&url, None, &tmp.path().join("w"));
    w.write_version(&helm_write("dev", "v1.3.0"), &settings())
        .expect("writes");
    let mut repo = open_shallow(&url, &tmp.path().join("shallow"));
    let (sha, _) = commit(&mut repo, &helm_write("dev", "v1.4.0"));
    let shallow = repo.cache_dir().join("shallow");
    let boundary = std::fs::read_to_string(&shallow).expect("a shallow cache");
    let history = repo
        .history("main", &helm_stage("dev"), Some(1))
        .expect("history");
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].commit, sha);
    assert_eq!(history[0].new.as_deref(), Some("v1.4.0"));
    // The answer was in the cache: the boundary did not move.
    assert_eq!(
        std::fs::read_to_string(&shallow).expect("still shallow"),
        boundary
    );
}

#[test]
fn a_writer_builds_on_what_another_writer_through_the_cache_pushed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let url = file_url(&origin);
    let cache = tmp.path().join("cache");
    // Two jobs open the shared cache; the second writes first.
    let mut first = open(&url, None, &cache);
    let mut second = open(&url, None, &cache);
    let (theirs, _) = commit(&mut second, &helm_write("dev", "v1.3.0"));
    // The first job's tip is stale, but the other writer's push is in the
    // cache: it builds on it instead of being rejected and fetching.
    let (sha, retries) = commit(&mut first, &helm_write("staging", "v1.3.0"));
    assert_eq!(retries, 0, "no rejected push");
    assert_eq!(git(&origin, &["rev-parse", "main"]).trim(), sha);
    assert_eq!(git(&origin, &["rev-parse", "main~1"]).trim(), theirs);
    let dev = git(&origin, &["show", "main:overlays/dev/payments/values.yaml"]);
    assert!(dev.contains("\"v1.3.0\""), "{dev}");
}

#[test]
fn smart_http_with_required_token() {
    let tmp = tempfile::tempdir().expect("tempdir");
    standard_origin(tmp.path());
    let server = http_server(tmp.path(), Some("s3cret-token"));
    let url = format!("{}/env.git", server.handle.base_url());

    let mut repo = open(&url, Some("s3cret-token"), &tmp.path().join("cache"));
    let outcome = repo
        .write_version(&helm_write("dev", "v1.2.3"), &settings())
        .expect("writes over http");
    assert!(matches!(outcome, WriteOutcome::Committed { .. }));
    assert!(
        git(
            &tmp.path().join("env.git"),
            &["show", "main:overlays/dev/payments/values.yaml"]
        )
        .contains("\"v1.2.3\"")
    );
    // The token never lands in the cache's files.
    let config = std::fs::read_to_string(repo.cache_dir().join("config")).expect("config");
    assert!(!config.contains("s3cret-token"));

    for token in [None, Some("wrong-token")] {
        let err = EnvRepo::open(
            &RepoSource {
                url: url.clone(),
                token: token.map(Secret::new),
            },
            &OpenOptions::new(tmp.path().join("cache-bad"), "main"),
        )
        .expect_err("must be refused");
        let text = chain(&err);
        assert!(
            matches!(
                err,
                OpenError::Fetch {
                    source: TransportError::Auth { .. },
                    ..
                }
            ),
            "{text}"
        );
        assert!(!text.contains("wrong-token"), "{text}");
    }
}

#[test]
fn transport_errors_are_typed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let open_err = |url: &str, branch: &str, token: Option<&str>| {
        EnvRepo::open(
            &RepoSource {
                url: url.to_owned(),
                token: token.map(Secret::new),
            },
            &OpenOptions::new(tmp.path().join("c"), branch),
        )
        .expect_err("must fail")
    };
    let err = open_err(&file_url(&origin), "release", None);
    assert!(
        matches!(&err, OpenError::Fetch { source: TransportError::BranchMissing { branch, .. }, .. } if branch == "release"),
        "{}",
        chain(&err)
    );
    // Nothing listens on port 1: a network failure after the retries.
    let err = open_err("http://127.0.0.1:1/env.git", "main", Some("tok-abc"));
    let text = chain(&err);
    assert!(
        matches!(
            &err,
            OpenError::Fetch {
                source: TransportError::Network { attempts: 3, .. },
                ..
            }
        ),
        "{text}"
    );
    assert!(!text.contains("tok-abc"), "{text}");
    assert!(matches!(
        open_err("ssh://host/x.git", "main", None),
        OpenError::UnsupportedUrl { .. }
    ));
    assert!(matches!(
        open_err(&file_url(&origin), "main", Some("t")),
        OpenError::TokenWithoutHttp { .. }
    ));
}

#[test]
fn nothing_is_fetched_or_pushed_after_the_deadline() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let mut options = OpenOptions::new(tmp.path().join("cache"), "main");
    options.deadline = Deadline::at(std::time::Instant::now());
    let source = RepoSource {
        url: file_url(&origin),
        token: None,
    };
    let err = EnvRepo::open(&source, &options).expect_err("deadline passed");
    assert!(
        matches!(
            &err,
            OpenError::Fetch {
                source: TransportError::Deadline {
                    command: "fetch",
                    ..
                },
                ..
            }
        ),
        "{}",
        chain(&err)
    );

    let before = git(&origin, &["rev-parse", "main"]);
    let mut repo = open(&file_url(&origin), None, &tmp.path().join("cache"));
    repo.set_deadline(Deadline::at(std::time::Instant::now()));
    let err = repo
        .write_version(&helm_write("dev", "v1.2.3"), &settings())
        .expect_err("deadline passed");
    assert!(
        matches!(&err, WriteError::Transport { source, .. } if matches!(**source, TransportError::Deadline { .. })),
        "{}",
        chain(&err)
    );
    assert_eq!(git(&origin, &["rev-parse", "main"]), before);
}

#[test]
fn write_errors_push_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = make_origin(
        tmp.path(),
        "env.git",
        &[
            ("values.yaml", "image:\n  tag: &t v1\nother: *t\n"),
            ("multi.yaml", "a: 1\n---\na: 2\n"),
        ],
    );
    let before = git(&origin, &["rev-parse", "main"]);
    let mut repo = open(&file_url(&origin), None, &tmp.path().join("cache"));
    let mut attempt = |file: &str, field: &str| {
        let loc = StageField {
            file: file.into(),
            field: field.parse().expect("valid"),
        };
        let err = repo
            .write_version(
                &request("payments", "dev", loc, "v2", Target::Branch),
                &settings(),
            )
            .expect_err("must fail");
        chain(&err)
    };
    let text = attempt("missing.yaml", "helm:image.tag");
    assert!(
        text.contains("cannot set dev(payments) in missing.yaml to `v2`")
            && text.contains("does not exist"),
        "{text}"
    );
    let text = attempt("values.yaml", "helm:image.tag");
    assert!(
        text.contains("anchor") && text.contains("values.yaml") && text.contains("`v2`"),
        "{text}"
    );
    let text = attempt("values.yaml", "helm:image.digest");
    assert!(text.contains("not found (no `image.digest`)"), "{text}");
    let text = attempt("multi.yaml", "yaml:a");
    assert!(text.contains("2 YAML documents"), "{text}");
    assert_eq!(git(&origin, &["rev-parse", "main"]), before);
    assert_eq!(git(&origin, &["for-each-ref"]).lines().count(), 1);
    let _ = Provenance::default();
    let _ = parse_trailers("");
}

#[test]
fn http_server_answers_401_without_the_token_and_serves_refs_with_it() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().expect("tempdir");
    standard_origin(tmp.path());
    let server = http_server(tmp.path(), Some("tok"));
    let get = |auth: Option<&str>| {
        let mut s = std::net::TcpStream::connect(server.handle.addr()).expect("connects");
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "GET /env.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
        )
        .expect("writes");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("reads");
        out
    };
    let denied = get(None);
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    assert!(denied.ends_with("authentication required\n"), "{denied}");
    assert!(get(Some("Bearer nope")).starts_with("HTTP/1.1 401"));
    let ok = get(Some("Bearer tok"));
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(
        ok.contains("application/x-git-upload-pack-advertisement"),
        "{ok}"
    );
    assert!(ok.contains("refs/heads/main"), "{ok}");
}

#[test]
fn commit_message_template_is_configurable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let origin = standard_origin(tmp.path());
    let mut repo = open(&file_url(&origin), None, &tmp.path().join("cache"));
    let mut req = helm_write("dev", "v1.2.1");
    req.provenance.rollback_of = Some("v1.2.2".into());
    let settings = baton::capabilities::git::CommitSettings {
        template: "rollback {stage}({app}): {rollback_of} -> {version}".into(),
        ..settings()
    };
    repo.write_version(&req, &settings).expect("writes");
    assert_eq!(
        git(&origin, &["log", "-1", "--format=%B", "main"]),
        "rollback dev(payments): v1.2.2 -> v1.2.1\n\nBaton-Policy: sha256:0123abcd\nBaton-Run: run-1\nBaton-Rollback-Of: v1.2.2\n\n"
    );
}
