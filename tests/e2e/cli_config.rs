//! `baton config check` and `baton config schema`: the baton.yaml contract
//! and its errors (file, line, key; exit 2).

use std::path::Path;

use crate::engine::env::assert_code;
use crate::support::baton;

/// The configuration contract from the engine issue, verbatim.
const EXAMPLE: &str = r#"env_repo:
  url: https://gitlab.example.com/acme/gitops-env.git
  branch: main
  token_env: ENV_REPO_TOKEN
argocd:
  url: https://argocd.example.com
  token_env: ARGOCD_TOKEN
forge:
  kind: gitlab
  api_url: https://gitlab.example.com/api/v4
  project: acme/gitops-env
  token_env: ENV_REPO_TOKEN
policy:
  path: builtin:default
  sha256: null
  settings: { health_timeout: 10m }
guardrails:
  direct_commit_stages: [dev]
  auto_merge_stages: []
  max_health_wait: 30m
apps:
  payments:
    stages:
      - { name: dev,     file: overlays/dev/payments/values.yaml,     field: "helm:image.tag", argocd_app: payments-dev }
      - { name: staging, file: overlays/staging/payments/values.yaml, field: "helm:image.tag", argocd_app: payments-staging }
      - { name: prod,    file: overlays/prod/payments/values.yaml,    field: "helm:image.tag", argocd_app: payments-prod }
"#;

fn check(dir: &Path, yaml: &str) -> std::process::Output {
    std::fs::write(dir.join("baton.yaml"), yaml).unwrap();
    baton(dir)
        .args(["config", "check"])
        .env("ENV_REPO_TOKEN", "glpat-secret")
        .env("ARGOCD_TOKEN", "a.b.c")
        .output()
        .unwrap()
}

fn error(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn the_contract_example_checks_and_prints_resolved_stages() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(dir.path(), EXAMPLE);
    assert_code(&out, 0);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    settings.bind(|| insta::assert_snapshot!(text));
}

#[test]
fn unknown_keys_are_refused_with_line() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = EXAMPLE.replace("  branch: main\n", "  branch: main\n  brnach: dev\n");
    let err = error(&check(dir.path(), &yaml));
    assert!(
        err.starts_with("error: baton.yaml: env_repo: unknown field `brnach`"),
        "{err}"
    );
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn duplicate_stage_names_are_refused_with_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = EXAMPLE
        .replace("{ name: prod, ", "{ name: staging, ")
        .replace("{ name: prod,    ", "{ name: staging, ");
    let err = error(&check(dir.path(), &yaml));
    assert_eq!(
        err,
        "error: baton.yaml:26: apps.payments.stages[2].name: duplicate stage name \"staging\"\n"
    );
}

#[test]
fn guardrails_naming_an_unknown_stage_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = EXAMPLE.replace("auto_merge_stages: []", "auto_merge_stages: [qa]");
    let err = error(&check(dir.path(), &yaml));
    assert_eq!(
        err,
        "error: baton.yaml:19: guardrails.auto_merge_stages: unknown stage \"qa\"; stages are: dev, staging, prod\n"
    );
}

#[test]
fn an_unset_token_variable_is_named_and_no_token_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("baton.yaml"), EXAMPLE).unwrap();
    let out = baton(dir.path())
        .args(["config", "check"])
        .env("ENV_REPO_TOKEN", "glpat-secret")
        .output()
        .unwrap();
    let err = error(&out);
    assert_eq!(
        err,
        "error: baton.yaml:7: argocd.token_env: environment variable ARGOCD_TOKEN is not set\n"
    );
    assert!(!err.contains("glpat-secret"));
}

#[test]
fn an_unreadable_policy_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = EXAMPLE.replace("path: builtin:default", "path: policies/missing.wasm");
    let err = error(&check(dir.path(), &yaml));
    assert!(
        err.starts_with(
            "error: baton.yaml: policy.path: cannot read policy ./policies/missing.wasm: "
        ),
        "{err}"
    );
}

#[test]
fn bad_field_kinds_and_durations_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = EXAMPLE.replacen("helm:image.tag", "chart:image.tag", 1);
    let err = error(&check(dir.path(), &yaml));
    assert!(
        err.starts_with("error: baton.yaml:24: apps.payments.stages[0].field: "),
        "{err}"
    );
    let yaml = EXAMPLE.replace("max_health_wait: 30m", "max_health_wait: half an hour");
    let err = error(&check(dir.path(), &yaml));
    assert_eq!(
        err,
        "error: baton.yaml:20: guardrails.max_health_wait: \"half an hour\" is not a duration like 90s, 10m or 1h30m\n"
    );
}

#[test]
fn schema_describes_every_top_level_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = baton(dir.path())
        .args(["config", "schema"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let props = schema["properties"].as_object().unwrap();
    let keys: Vec<&str> = props.keys().map(String::as_str).collect();
    for key in [
        "env_repo",
        "argocd",
        "forge",
        "policy",
        "guardrails",
        "apps",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(schema["required"], serde_json::json!(["env_repo", "apps"]));
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn stage_errors_point_at_the_stage_they_are_about() {
    // Block style, with a second app whose stages repeat the names: the
    // line is the duplicate's, not the last mention of the name.
    let yaml = "env_repo:\n  url: https://gitlab.example.com/acme/env.git\n\
                apps:\n  payments:\n    stages:\n\
                \x20     - name: dev\n        file: a/dev.yaml\n        field: \"helm:image.tag\"\n        argocd_app: p-dev\n\
                \x20     - name: dev\n        file: a/staging.yaml\n        field: \"helm:image.tag\"\n        argocd_app: p-stg\n\
                \x20 shipping:\n    stages:\n\
                \x20     - name: dev\n        file: b/dev.yaml\n        field: \"helm:\"\n        argocd_app: s-dev\n";
    let dir = tempfile::tempdir().unwrap();
    let err = error(&check(dir.path(), yaml));
    assert_eq!(
        err,
        "error: baton.yaml:10: apps.payments.stages[1].name: duplicate stage name \"dev\"\n"
    );
    let yaml = yaml
        .replacen(
            "      - name: dev\n        file: a/staging",
            "      - name: staging\n        file: a/staging",
            1,
        )
        .replacen(
            "field: \"helm:image.tag\"\n        argocd_app: p-stg",
            "field: \"helm:\"\n        argocd_app: p-stg",
            1,
        );
    let err = error(&check(dir.path(), &yaml));
    assert!(
        err.starts_with("error: baton.yaml:12: apps.payments.stages[1].field: "),
        "{err}"
    );
}

#[test]
fn urls_with_credentials_or_ssh_are_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = EXAMPLE.replace(
        "url: https://gitlab.example.com/acme/gitops-env.git",
        "url: https://oauth2:glpat-in-the-url@gitlab.example.com/acme/gitops-env.git",
    );
    let err = error(&check(dir.path(), &yaml));
    assert_eq!(
        err,
        "error: baton.yaml:2: env_repo.url: credentials in the URL are not allowed; put the token \
         in an environment variable and name it in env_repo.token_env\n"
    );
    assert!(!err.contains("glpat-in-the-url"));
    for url in [
        "ssh://git@gitlab.example.com/acme/gitops-env.git",
        "git@gitlab.example.com:acme/gitops-env.git",
    ] {
        let yaml = EXAMPLE.replace("https://gitlab.example.com/acme/gitops-env.git", url);
        let err = error(&check(dir.path(), &yaml));
        assert!(
            err.contains("env_repo.url: ") && err.contains("ssh and git:// URLs are not supported"),
            "{err}"
        );
    }
}

#[test]
fn stage_files_must_be_paths_inside_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "overlays//dev/values.yaml",
        "./overlays/dev.yaml",
        "/etc/values.yaml",
        "a/../b.yaml",
    ] {
        let yaml = EXAMPLE.replace(
            "file: overlays/dev/payments/values.yaml",
            &format!("file: {file}"),
        );
        let err = error(&check(dir.path(), &yaml));
        assert!(
            err.starts_with("error: baton.yaml:24: apps.payments.stages[0].file: ")
                && err.contains("is not a file path inside the repository"),
            "{file}: {err}"
        );
    }
}

#[test]
fn commit_authors_must_be_whole_and_plain() {
    let dir = tempfile::tempdir().unwrap();
    let with = |commit: &str| format!("{EXAMPLE}commit:\n{commit}");
    let err = error(&check(
        dir.path(),
        &with("  author_email: ci@example.com\n"),
    ));
    assert!(
        err.contains("commit.author_email: author_email needs author_name"),
        "{err}"
    );
    let err = error(&check(
        dir.path(),
        &with("  author_name: \"Baton <evil>\"\n"),
    ));
    assert!(
        err.contains("commit.author_name: \"Baton <evil>\" must be non-empty, without `<`, `>`"),
        "{err}"
    );
}

#[test]
fn a_token_with_control_characters_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("baton.yaml"), EXAMPLE).unwrap();
    let out = baton(dir.path())
        .args(["config", "check"])
        .env("ENV_REPO_TOKEN", "glpat-x\r\nX-Injected: 1")
        .env("ARGOCD_TOKEN", "a.b.c")
        .output()
        .unwrap();
    let err = error(&out);
    assert_eq!(
        err,
        "error: baton.yaml:4: env_repo.token_env: environment variable ENV_REPO_TOKEN holds a \
         control character (CR, LF, ...); a token never does\n"
    );
}

#[test]
fn fetch_reads_every_stage_and_names_a_symlinked_file() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("env");
    std::fs::create_dir_all(work.join("overlays/dev/payments")).unwrap();
    std::fs::write(work.join("real.yaml"), "image:\n  tag: v1\n").unwrap();
    std::os::unix::fs::symlink(
        "../../../real.yaml",
        work.join("overlays/dev/payments/values.yaml"),
    )
    .unwrap();
    crate::support::git(&work, &["init", "-q", "-b", "main"]);
    crate::support::git(&work, &["add", "."]);
    crate::support::git(&work, &["commit", "-q", "-m", "seed"]);
    let yaml = EXAMPLE
        .replace(
            "https://gitlab.example.com/acme/gitops-env.git",
            &format!("file://{}", work.display()),
        )
        .replace("  token_env: ENV_REPO_TOKEN\nargocd", "argocd");
    std::fs::write(dir.path().join("baton.yaml"), yaml).unwrap();
    let out = baton(dir.path())
        .args(["config", "check", "--fetch", "--cache-dir"])
        .arg(dir.path().join("cache"))
        .env("ARGOCD_TOKEN", "a.b.c")
        .env("ENV_REPO_TOKEN", "unused")
        .output()
        .unwrap();
    let err = error(&out);
    assert!(
        err.contains(
            "apps.payments.stages[0]: overlays/dev/payments/values.yaml at main is a symbolic \
             link, not a regular file"
        ),
        "{err}"
    );
}

#[test]
fn a_job_image_without_git_gets_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("baton.yaml"), EXAMPLE).unwrap();
    let out = baton(dir.path())
        .args(["status", "--app", "payments"])
        .env("PATH", dir.path().join("no-bin"))
        .env("ENV_REPO_TOKEN", "glpat-secret")
        .env("ARGOCD_TOKEN", "a.b.c")
        .output()
        .unwrap();
    let err = error(&out);
    assert!(
        err.starts_with("error: baton needs git 2.30 or newer on PATH: "),
        "{err}"
    );
    assert!(
        err.contains("hint: install git in the job's image"),
        "{err}"
    );
}
