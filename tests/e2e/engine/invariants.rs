//! What no policy and no bad input can do, through the real binary: every
//! refusal is one clear line with the documented exit code, and the env
//! repo and the forge stay exactly as they were (compared before and after
//! each case).

use crate::policies;
use crate::support::record_files;

use super::env::{APP, Env, Setup, assert_code, stderr, stdout};

/// A world whose policy decides `bad` on a new version, with `guardrails`.
fn hostile(bad: &str, guardrails: &str) -> Env {
    Env::new(Setup {
        policy: format!(
            "  path: {}\n  settings: {{ bad: {bad} }}\n",
            policies::HOSTILE_BAD_DECISIONS_PATH
        ),
        guardrails: guardrails.into(),
        ..Setup::default()
    })
}

const DEFAULT_GUARDRAILS: &str =
    "  direct_commit_stages: [dev]\n  auto_merge_stages: []\n  max_health_wait: 1m\n";

/// Runs `promote` with the hostile policy deciding `bad`; asserts the exit
/// code, that stderr names the refusal, that output stays small and that
/// nothing was written. Returns the run's audit record.
fn refused(bad: &str, guardrails: &str, code: i32, says: &str) -> serde_json::Value {
    let env = hostile(bad, guardrails);
    let before = env.fingerprint();
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]);
    assert_code(&out, code);
    let err = stderr(&out);
    assert!(err.contains(says), "{bad}: expected {says:?} in:\n{err}");
    assert!(
        out.stdout.len() + out.stderr.len() < 64 << 10,
        "{bad}: {} bytes of output",
        out.stdout.len() + out.stderr.len()
    );
    assert_eq!(env.fingerprint(), before, "{bad}: something was written");
    let records = record_files(&env.dir().join("baton-audit"));
    assert_eq!(records.len(), 1);
    let size = std::fs::metadata(&records[0]).unwrap().len();
    assert!(size < 1 << 20, "{bad}: a {size}-byte audit record");
    env.audit_records().remove(0)
}

#[test]
fn versions_from_a_policy_are_checked_like_tags() {
    refused(
        "empty-version",
        DEFAULT_GUARDRAILS,
        3,
        "invalid decision: action 1 (set dev to  by direct commit): set-version version \"\" is \
         not a usable version: it is empty",
    );
    refused(
        "nul-version",
        DEFAULT_GUARDRAILS,
        3,
        "is not a usable version: it contains a control character ('\\0')",
    );
    refused(
        "newline-version",
        DEFAULT_GUARDRAILS,
        3,
        "is not a usable version: it contains a control character ('\\n')",
    );
    let record = refused(
        "huge-version",
        DEFAULT_GUARDRAILS,
        3,
        "is not a usable version: it is too long (2097152 bytes; at most 256)",
    );
    // The record keeps the decision's size and digest, not its megabytes.
    let result = &record["decisions"][0]["result"]["oversized"];
    assert_eq!(result["actions"], 1);
    assert!(result["digest"].as_str().unwrap().starts_with("sha256:"));
    refused(
        "ref-version",
        DEFAULT_GUARDRAILS,
        3,
        "set-version version \"v1:refs/heads/main\" is not a usable version: it is neither a tag usable in a git ref",
    );
}

#[test]
fn decisions_are_bounded_and_coherent() {
    refused(
        "same-stage-twice",
        DEFAULT_GUARDRAILS,
        3,
        "invalid decision: action 2 (set dev to v0.0.1 by direct commit): stage dev is already \
         changed by action 1",
    );
    let record = refused(
        "many-actions",
        DEFAULT_GUARDRAILS,
        3,
        "invalid decision: it has 200000 actions; at most 64 are allowed",
    );
    assert_eq!(record["actions"].as_array().unwrap().len(), 64);
    refused(
        "long-reason",
        DEFAULT_GUARDRAILS,
        3,
        "the reason is 5000 bytes long; at most 4096",
    );
    refused(
        "long-title",
        DEFAULT_GUARDRAILS,
        3,
        "the merge request title is 300 characters long; at most 255",
    );
    refused(
        "control-title",
        DEFAULT_GUARDRAILS,
        3,
        "the merge request title contains a control character ('\\r')",
    );
    refused(
        "comma-label",
        DEFAULT_GUARDRAILS,
        3,
        "label \"a,b\" must be non-empty, at most 255 characters, without commas",
    );
    refused(
        "huge-description",
        DEFAULT_GUARDRAILS,
        3,
        "the merge request description is 8388608 characters long; the forge takes at most \
         995904 besides what Baton adds",
    );
}

#[test]
fn versions_go_through_the_stages_in_order() {
    // Direct commits to prod allowed, yet prod cannot get what staging
    // never held.
    refused(
        "skip-to-prod",
        "  direct_commit_stages: [dev, prod]\n  max_health_wait: 1m\n",
        5,
        "action 1 (set prod to v1.0.1 by direct commit) refused by guardrail promotion_order: \
         staging, the stage before prod, never held v1.0.1",
    );
    // Nor through an auto-merged merge request.
    refused(
        "auto-merge-prod",
        "  direct_commit_stages: [dev]\n  auto_merge_stages: [prod]\n  max_health_wait: 1m\n",
        5,
        "refused by guardrail promotion_order: staging, the stage before prod, never held v1.0.1",
    );
    refused(
        "rollback-to-never",
        DEFAULT_GUARDRAILS,
        5,
        "refused by guardrail rollback_target: dev never held v0.0.0-never, so it cannot be \
         rolled back to it",
    );
}

#[test]
fn promotion_order_off_lets_a_policy_skip_stages() {
    let env = hostile(
        "skip-to-prod",
        "  direct_commit_stages: [dev, prod]\n  max_health_wait: 1m\n  promotion_order: off\n",
    );
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]);
    assert_code(&out, 0);
    assert!(
        env.file("prod").contains("tag: \"v1.0.1\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_operators_explicit_target_is_exempt_and_recorded() {
    let env = Env::new(Setup::default());
    let out = env.baton(&["rollback", "--app", APP, "--stage", "dev", "--to", "v0.9.0"]);
    assert_code(&out, 0);
    assert!(env.file("dev").contains("tag: \"v0.9.0\""));
    let record = &env.audit_records()[0];
    let note = &record["actions"][0]["guardrails"][0];
    assert_eq!(note["rule"], "rollback_target");
    assert_eq!(note["effect"], "exempt");
    assert!(
        note["detail"]
            .as_str()
            .unwrap()
            .contains("named by the operator"),
        "{note}"
    );
}

#[test]
fn a_long_tag_says_too_long_without_echoing_it() {
    let env = Env::new(Setup::default());
    let before = env.fingerprint();
    let tag = "v".repeat(10_000);
    let out = env.baton(&["promote", "--app", APP, "--tag", &tag]);
    assert_code(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("is not a usable version: it is too long (10000 bytes; at most 256)"),
        "{err}"
    );
    assert!(err.len() < 1000, "{} bytes of stderr", err.len());
    assert_eq!(env.fingerprint(), before);
}

#[test]
fn an_argo_cd_application_it_does_not_know_is_found_before_writing() {
    let env = Env::new(Setup::default());
    let config = env.dir().join("baton.yaml");
    let yaml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        yaml.replace("argocd_app: payments-dev", "argocd_app: payments-dev-typo"),
    )
    .unwrap();
    let before = env.fingerprint();
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]);
    assert_code(&out, 4);
    assert!(
        stderr(&out).contains(
            "before writing anything: the Argo CD application payments-dev-typo of stage dev \
             cannot be read"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.fingerprint(), before);
}

#[test]
fn a_forge_token_that_cannot_list_merge_requests_is_found_before_writing() {
    let env = Env::new(Setup::default());
    let config = env.dir().join("baton.yaml");
    let yaml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        yaml.replace("token_env: GITLAB_TOKEN", "token_env: WRONG_TOKEN"),
    )
    .unwrap();
    let before = env.fingerprint();
    let out = env.baton_with(
        &["promote", "--app", APP, "--tag", "v1.0.1"],
        &[("WRONG_TOKEN", "glpat-wrong-token")],
    );
    assert_code(&out, 4);
    assert!(
        stderr(&out).contains("before writing anything: the forge cannot list merge requests"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("glpat-wrong-token"));
    assert_eq!(env.fingerprint(), before);
}

/// A forge that answers everything with 422 and echoes every token it
/// could know in its error body.
fn echoing_forge() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v4", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let body = format!(
                "{{\"message\":\"bad request from {} / {} / {}\"}}",
                super::env::REPO_TOKEN,
                super::env::ARGO_TOKEN,
                super::env::FORGE_TOKEN
            );
            let _ = write!(
                stream,
                "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn tokens_a_remote_echoes_are_redacted_everywhere() {
    let env = Env::new(Setup::default());
    let config = env.dir().join("baton.yaml");
    let yaml = std::fs::read_to_string(&config).unwrap();
    let api = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("api_url: "))
        .unwrap()
        .to_owned();
    std::fs::write(&config, yaml.replace(&api, &echoing_forge())).unwrap();
    // Env::baton asserts that no token reaches stdout or stderr, and
    // audit_records that none reaches the record.
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]);
    assert_code(&out, 4);
    assert!(
        stderr(&out).contains("bad request from <redacted> / <redacted> / <redacted>"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.audit_records().len(), 1);
}
