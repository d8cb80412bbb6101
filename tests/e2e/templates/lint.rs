//! Linters and schemas over every template: shellcheck on the scripts,
//! actionlint on the workflows, check-jsonschema's vendored schemas.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{copy_dir, documents, repo_root, text, tool};
use crate::support::git;

/// Runs shellcheck on `script` as `shell` (`sh` or `bash`); returns its
/// findings, empty when clean.
fn shellcheck(shellcheck: &Path, dir: &Path, name: &str, shell: &str, script: &str) -> String {
    let file = dir.join(format!("{name}.{shell}"));
    std::fs::write(&file, format!("#!/bin/{shell}\n{script}\n")).unwrap();
    let out = Command::new(shellcheck)
        .args(["--shell", shell, "--severity", "style"])
        .arg(&file)
        .output()
        .unwrap();
    if out.status.success() {
        String::new()
    } else {
        text(&out)
    }
}

#[test]
fn the_scripts_of_the_components_and_the_action_pass_shellcheck() {
    let Some(sc) = tool("shellcheck") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut findings = String::new();
    let mut checked = 0;
    // GitLab runs before_script and script of a job in one shell, in any
    // image: POSIX sh.
    for component in ["promote", "advance"] {
        let path = repo_root().join(format!("templates/{component}.yml"));
        let docs = documents(&path);
        assert_eq!(docs.len(), 2, "{}: spec header and jobs", path.display());
        let jobs = docs[1].as_mapping().unwrap();
        for (name, job) in jobs {
            let name = name.as_str().unwrap();
            let Some(job) = job.as_mapping() else {
                continue;
            };
            let mut script = String::new();
            let hidden = job
                .get("extends")
                .and_then(|e| jobs.get(e.as_str().unwrap()))
                .and_then(|h| h.get("before_script"));
            for key in ["before_script", "script"] {
                let lines = job
                    .get(key)
                    .or(if key == "before_script" { hidden } else { None });
                for line in lines.and_then(|l| l.as_sequence()).into_iter().flatten() {
                    script.push_str(line.as_str().unwrap());
                    script.push('\n');
                }
            }
            if !job.contains_key("script") {
                continue;
            }
            let file = name.replace(['$', '[', ']', ' ', '.'], "");
            findings.push_str(&shellcheck(&sc, dir.path(), &file, "sh", &script));
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "promote, advance, reconcile and rollback jobs");
    // The action's steps run in bash; inputs reach them only through env,
    // never as ${{ }} inside a script (that would be script injection).
    let action = &documents(&repo_root().join("action.yml"))[0];
    for (i, step) in action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .enumerate()
    {
        let Some(run) = step.get("run").and_then(|r| r.as_str()) else {
            continue;
        };
        assert_eq!(step["shell"], "bash", "step {i}");
        assert!(
            !run.contains("${{"),
            "step {i} expands an expression in its script:\n{run}"
        );
        findings.push_str(&shellcheck(
            &sc,
            dir.path(),
            &format!("action-{i}"),
            "bash",
            run,
        ));
        checked += 1;
    }
    assert_eq!(checked, 6, "and the action's two scripts");
    for script in [
        "dist/install.sh",
        "dist/build-static.sh",
        ".ci/pipelines.sh",
    ] {
        let out = Command::new(&sc)
            .arg(repo_root().join(script))
            .output()
            .unwrap();
        if !out.status.success() {
            findings.push_str(&text(&out));
        }
    }
    assert!(findings.is_empty(), "{findings}");
}

#[test]
fn the_github_action_and_workflows_pass_actionlint_with_shellcheck() {
    let (Some(actionlint), Some(sc)) = (tool("actionlint"), tool("shellcheck")) else {
        return;
    };
    let root = repo_root();
    let mut files = Vec::new();
    for dir in [".github/workflows", ".github/examples"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    // release.yml runs the action as `./`: actionlint checks its inputs
    // against action.yml.
    let out = Command::new(&actionlint)
        .current_dir(&root)
        .arg("-shellcheck")
        .arg(&sc)
        .arg("-no-color")
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));

    // It does find mistakes: an unknown input of the action and a script
    // shellcheck rejects.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github/workflows")).unwrap();
    copy_dir(&root.join("dist"), &dir.path().join("dist"));
    std::fs::copy(root.join("action.yml"), dir.path().join("action.yml")).unwrap();
    // actionlint finds local actions from the repository root.
    git(dir.path(), &["init", "-q"]);
    let bad = dir.path().join(".github/workflows/bad.yml");
    std::fs::write(
        &bad,
        "on: push\npermissions: {}\njobs:\n  j:\n    runs-on: ubuntu-24.04\n    timeout-minutes: 5\n    steps:\n      - uses: ./\n        with: { command: status, app: a, colour: red }\n      - run: echo $UNQUOTED_THING\n",
    )
    .unwrap();
    let out = Command::new(&actionlint)
        .current_dir(dir.path())
        .arg("-shellcheck")
        .arg(&sc)
        .arg("-no-color")
        .arg(&bad)
        .output()
        .unwrap();
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("input \"colour\" is not defined"), "{log}");
    assert!(log.contains("SC2086"), "{log}");
}

#[test]
fn every_template_validates_against_the_vendored_schemas() {
    let Some(cj) = tool("check-jsonschema") else {
        return;
    };
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    // A component is two YAML documents; each is GitLab CI configuration.
    let mut gitlab = Vec::new();
    for component in ["promote", "advance"] {
        let text =
            std::fs::read_to_string(root.join(format!("templates/{component}.yml"))).unwrap();
        let (header, jobs) = text
            .split_once("\n---\n")
            .unwrap_or_else(|| panic!("templates/{component}.yml: no --- after the spec header"));
        for (part, body) in [("spec", header), ("jobs", jobs)] {
            let file = dir.path().join(format!("{component}-{part}.yml"));
            std::fs::write(&file, body).unwrap();
            gitlab.push(file);
        }
    }
    let workflows: Vec<PathBuf> = [".github/workflows", ".github/examples"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    for (schema, files) in [
        ("vendor.gitlab-ci", gitlab),
        ("vendor.github-workflows", workflows),
        ("vendor.github-actions", vec![root.join("action.yml")]),
    ] {
        let mut cmd = Command::new(&cj);
        cmd.args(["--builtin-schema", schema]);
        if schema == "vendor.gitlab-ci" {
            // Reads GitLab's !reference tags, should a template use them.
            cmd.args(["--data-transform", "gitlab-ci"]);
        }
        let out = cmd.args(&files).output().unwrap();
        assert!(out.status.success(), "{schema} {files:?}\n{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("ok -- validation done"),
            "{}",
            text(&out)
        );
    }
    // And the schema is strict enough to notice a wrong job key.
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "job:\n  stage: deploy\n  script: [true]\n  timeout: [45m]\n",
    )
    .unwrap();
    let out = Command::new(&cj)
        .args(["--builtin-schema", "vendor.gitlab-ci"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
}
