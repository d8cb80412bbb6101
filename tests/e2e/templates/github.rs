//! The GitHub action's steps, run as the runner runs them.

use std::path::Path;
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use super::{BinaryServer, documents, repo_root, text};
use crate::engine::env::{APP, ARGO_TOKEN, Env, FORGE_TOKEN, REPO_TOKEN, Setup};

/// Runs one `run:` step of action.yml as the runner does (`bash
/// --noprofile --norc -eo pipefail`), with `vars` as its environment.
fn action_step(step: usize, cwd: &Path, vars: &[(&str, &str)]) -> Output {
    let action = &documents(&repo_root().join("action.yml"))[0];
    let script = action["runs"]["steps"][step]["run"].as_str().unwrap();
    let mut cmd = Command::new("bash");
    cmd.env_clear()
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(cwd)
        .env("HOME", cwd)
        .env("GITHUB_ACTION_PATH", repo_root())
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_ACTOR", "octocat")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "acme/payments")
        .env("ENV_REPO_TOKEN", REPO_TOKEN)
        .env("ARGOCD_TOKEN", ARGO_TOKEN)
        .env("GITLAB_TOKEN", FORGE_TOKEN);
    cmd.envs(vars.iter().copied());
    let out = cmd.output().unwrap();
    let all = text(&out);
    for token in [REPO_TOKEN, ARGO_TOKEN, FORGE_TOKEN] {
        assert!(
            !all.contains(token),
            "a token leaked into the step log:\n{all}"
        );
    }
    out
}

#[test]
fn action_steps_install_baton_then_promote_and_roll_back() {
    let env = Env::new(Setup::default());
    let bin = BinaryServer::start(&env);
    let work = env.dir().join("github-workspace");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::copy(env.dir().join("baton.yaml"), work.join("baton.yaml")).unwrap();
    let runner_temp = env.dir().join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let github_path = runner_temp.join("github-path");
    let system_path = std::env::var("PATH").unwrap();
    let installer = [
        ("PATH", system_path.as_str()),
        ("RUNNER_TEMP", runner_temp.to_str().unwrap()),
        ("GITHUB_PATH", github_path.to_str().unwrap()),
        ("BATON_VERSION", "0.1.0"),
        ("BATON_DOWNLOAD_URL", &bin.url()),
    ];

    // A wrong pinned checksum: nothing installed, nothing added to PATH.
    let wrong = "f".repeat(64);
    let mut vars = installer.to_vec();
    vars.push(("BATON_SHA256", &wrong));
    let out = action_step(0, &work, &vars);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("checksum mismatch"), "{}", text(&out));
    assert!(!runner_temp.join("baton-bin/baton").exists());
    assert!(!github_path.exists());

    // The published .sha256 next to the binary.
    let mut vars = installer.to_vec();
    vars.push(("BATON_SHA256", ""));
    let out = action_step(0, &work, &vars);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("baton 0.1.0"));
    let added = std::fs::read_to_string(&github_path).unwrap();
    assert_eq!(
        added.trim(),
        runner_temp.join("baton-bin").to_str().unwrap()
    );
    let installed = std::fs::read(runner_temp.join("baton-bin/baton")).unwrap();
    assert_eq!(format!("{:x}", Sha256::digest(&installed)), bin.sha256);

    // The command step, with baton found through GITHUB_PATH.
    let path = format!("{}:{system_path}", added.trim());
    let cache = env.dir().join("gh-cache");
    let command = |vars: &[(&str, &str)]| {
        let mut all = vec![
            ("PATH", path.as_str()),
            ("BATON_CONFIG", "baton.yaml"),
            ("BATON_CACHE_DIR", cache.to_str().unwrap()),
            ("BATON_ARGS", ""),
            ("BATON_ALL", "false"),
            ("BATON_TAG", ""),
            ("BATON_STAGE", ""),
            ("BATON_TO", ""),
            ("BATON_REASON", ""),
            ("CI_COMMIT_BEFORE_SHA", ""),
        ];
        all.extend_from_slice(vars);
        action_step(2, &work, &all)
    };
    let out = command(&[
        ("BATON_COMMAND", "promote"),
        ("BATON_APP", APP),
        ("BATON_TAG", "v1.1.0"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        env.file("dev").contains("tag: \"v1.1.0\""),
        "{}",
        env.file("dev")
    );
    assert_eq!(env.merge_requests().len(), 1);
    let record = work.join("baton-audit/promote-payments-4242-1.json");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(record["outcome"]["status"], "held");

    // Extra arguments, one per line, reach baton as they are.
    let out = command(&[
        ("BATON_COMMAND", "rollback"),
        ("BATON_APP", APP),
        ("BATON_STAGE", "dev"),
        ("BATON_TO", "v1.0.0"),
        ("BATON_ARGS", "--output\njson\n"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("--output json: {e}\n{}", text(&out)));
    assert_eq!(report["exit_code"], 0, "{report}");
    assert!(
        env.file("dev").contains("tag: \"v1.0.0\""),
        "{}",
        env.file("dev")
    );
    let message = env.git(&["log", "-1", "--format=%B", "main"]);
    assert!(message.contains("Baton-Rollback-Of: v1.1.0"), "{message}");
    let record = work.join("baton-audit/rollback-payments-4242-1.json");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(
        record["command"]["args"]["reason"],
        "rollback by octocat in run https://github.com/acme/payments/actions/runs/4242"
    );

    // Mistakes are reported before baton runs, with usage's exit code.
    let out = command(&[("BATON_COMMAND", "promote"), ("BATON_APP", APP)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("::error::command promote needs the tag input"));
    let out = command(&[("BATON_COMMAND", "deploy"), ("BATON_APP", APP)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("::error::unknown command 'deploy'"),
        "{}",
        text(&out)
    );
}
