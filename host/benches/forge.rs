//! Forge round-trip latency against the simulators over loopback: create,
//! find and merge (a real merge commit in a bare repo) per MR, for GitLab
//! and GitHub. Prints median and p90 per operation; asserts nothing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use baton::capabilities::forge::{
    Forge, GitHub, GitHubConfig, GitLab, GitLabConfig, MergeOptions, NewMergeRequest,
};
use baton::secret::Secret;
use baton::sim::forge::{self as sim, MergeStrategy};

const ROUNDS: usize = 40;

fn git(repo: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", "b")
        .env("GIT_AUTHOR_EMAIL", "b@x.invalid")
        .env("GIT_COMMITTER_NAME", "b")
        .env("GIT_COMMITTER_EMAIL", "b@x.invalid")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("git");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("git");
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn branch(repo: &Path, name: &str, parent: &str, content: &str) {
    let blob = git(repo, &["hash-object", "-w", "--stdin"], Some(content));
    let tree = git(
        repo,
        &["mktree"],
        Some(&format!("100644 blob {blob}\t{name}.yaml\n")),
    );
    let sha = git(
        repo,
        &["commit-tree", &tree, "-p", parent, "-m", "bump"],
        None,
    );
    git(
        repo,
        &["update-ref", &format!("refs/heads/{name}"), &sha],
        None,
    );
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "{label:<22} n={:<3} median {:>8.2?}  p90 {:>8.2?}",
        samples.len(),
        at(0.5),
        at(0.9)
    );
}

async fn run(kind: &str, forge: &dyn Forge, repo: &Path) {
    let (mut create, mut find, mut merge) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        let main = git(repo, &["rev-parse", "refs/heads/main"], None);
        let name = format!("bench-{i}");
        branch(repo, &name, &main, &format!("tag: {i}\n"));
        let request = NewMergeRequest {
            source_branch: name.clone(),
            target_branch: "main".into(),
            title: format!("bench {i}"),
            description: "bench".into(),
            ..Default::default()
        };
        let t = Instant::now();
        let mr = forge
            .create_or_reuse(&request)
            .await
            .expect("create")
            .merge_request;
        create.push(t.elapsed());
        let t = Instant::now();
        forge.find_open(&name).await.expect("find").expect("open");
        find.push(t.elapsed());
        let t = Instant::now();
        forge
            .merge(mr.iid, &MergeOptions::default())
            .await
            .expect("merge");
        merge.push(t.elapsed());
    }
    report(&format!("{kind} create"), create);
    report(&format!("{kind} find_open"), find);
    report(&format!("{kind} merge"), merge);
}

#[tokio::main]
async fn main() {
    for kind in ["gitlab", "github"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("env.git");
        assert!(
            Command::new("git")
                .args(["init", "--bare", "-q", "-b", "main"])
                .arg(&repo)
                .status()
                .expect("init")
                .success()
        );
        let blob = git(&repo, &["hash-object", "-w", "--stdin"], Some("root\n"));
        let tree = git(
            &repo,
            &["mktree"],
            Some(&format!("100644 blob {blob}\tREADME\n")),
        );
        let root = git(&repo, &["commit-tree", &tree, "-m", "root"], None);
        git(&repo, &["update-ref", "refs/heads/main", &root], None);
        let token = Secret::new("bench-token");
        if kind == "gitlab" {
            let config = sim::gitlab::GitLabSimConfig {
                repo: repo.clone(),
                project_path: "g/p".into(),
                project_id: 1,
                token: Some(token.clone()),
                merge_method: MergeStrategy::MergeCommit,
            };
            let handle = sim::gitlab::spawn(config).await.expect("sim");
            let forge = GitLab::new(GitLabConfig::new(handle.api_url(), "g/p", "T"), token)
                .expect("client");
            run(kind, &forge, &repo).await;
        } else {
            let config = sim::github::GitHubSimConfig {
                repo: repo.clone(),
                owner: "o".into(),
                name: "r".into(),
                token: Some(token.clone()),
            };
            let handle = sim::github::spawn(config).await.expect("sim");
            let forge = GitHub::new(GitHubConfig::new(handle.api_url(), "o", "r", "T"), token)
                .expect("client");
            run(kind, &forge, &repo).await;
        }
    }
}
