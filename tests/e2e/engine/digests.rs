//! Image digests and whole image references as versions, end to end: the
//! real binary against an env repo over HTTP, the Argo CD and GitLab
//! simulators and the default policy, on copies of real files: Kustomize
//! `digest:` entries (the kustomize docs example), a Deployment `image:`
//! with a Flux marker comment (podinfo) under a value template, and Helm
//! `image.digest` (bitnami nginx values).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use baton::capabilities::forge::{Forge, GitLab, GitLabConfig, MergeOptions};
use baton::capabilities::git::{FieldSpec, mr_branch_name, read_value, rollback_branch_name};
use baton::secret::Secret;
use baton::sim::argocd::{self as argocd_sim, SimApp, SimConfig, VersionReadError, VersionReader};
use baton::sim::forge::{MergeStrategy, SimHandle, SimMergeRequest, gitlab};
use baton::sim::git_http::{self as http_server, GitHttpConfig, GitHttpHandle};

use super::env::{ARGO_TOKEN, FORGE_TOKEN, REPO_TOKEN, assert_code, stderr, stdout};
use crate::support::{baton, git, record_files};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/git/");

/// The digest in the kustomize docs example; the seed of every stage.
const D1: &str = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const D3: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

const STAGES: [&str; 3] = ["dev", "staging", "prod"];
const PODINFO_FIELD: &str = "yaml:spec.template.spec.containers[name=podinfod].image";
const PODINFO_VALUE: &str = "ghcr.io/stefanprodan/podinfo:{version}@{digest}";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{name}")).expect("fixture exists")
}

/// One app of the world: its name, field, value template and the file each
/// stage starts with.
struct App {
    name: &'static str,
    file: &'static str,
    field: &'static str,
    value: Option<&'static str>,
    seed: fn(&str) -> String,
}

const APPS: [App; 3] = [
    App {
        name: "alpine",
        file: "kustomization.yaml",
        field: "kustomize:alpine:digest",
        value: None,
        seed: |_| fixture("kustomize__site__images__kustomization.yaml"),
    },
    App {
        name: "podinfo",
        file: "deployment.yaml",
        field: PODINFO_FIELD,
        value: Some(PODINFO_VALUE),
        // dev still holds a bare tag, as before the template was adopted.
        seed: |stage| {
            let deployment = fixture("podinfo__kustomize__deployment-flux-marker.yaml");
            if stage == "dev" {
                deployment
            } else {
                deployment.replace("podinfo:6.1.1", &format!("podinfo:6.1.1@{D1}"))
            }
        },
    },
    App {
        name: "nginx",
        file: "values.yaml",
        field: "helm:image.digest",
        value: None,
        seed: |_| fixture("bitnami__nginx__values-image.yaml"),
    },
];

fn stage_file(app: &App, stage: &str) -> String {
    format!("{}/{stage}/{}", app.name, app.file)
}

fn app(name: &str) -> &'static App {
    APPS.iter().find(|a| a.name == name).expect("a known app")
}

/// Argo CD's simulator reads versions the way Baton does, so
/// `degrade_versions` can name a digest. The field is `<field>|<value>`.
struct BatonReader;

impl VersionReader for BatonReader {
    fn read_version(&self, content: &[u8], field: &str) -> Result<String, VersionReadError> {
        let (field_text, value) = field.split_once('|').unwrap_or((field, ""));
        let missing = || VersionReadError::Field {
            field: field.to_owned(),
        };
        let mut spec: FieldSpec = field_text.parse().map_err(|_| missing())?;
        if !value.is_empty() {
            spec = spec.with_value(value.parse().map_err(|_| missing())?);
        }
        read_value("sim", &spec, content)
            .map(|v| v.version)
            .map_err(|_| missing())
    }
}

struct World {
    root: tempfile::TempDir,
    bare: PathBuf,
    rt: tokio::runtime::Runtime,
    gitlab: SimHandle,
    _argocd: argocd_sim::SimHandle,
    _git_http: GitHttpHandle,
}

impl World {
    /// Every app's stages seeded, Argo CD apps `<app>-<stage>` Healthy;
    /// `degrade` lists `(argocd app, version regex)` that end Degraded.
    fn new(degrade: &[(&str, &str)]) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let bare = root.path().join("git").join("gitops-env.git");
        std::fs::create_dir_all(&bare).expect("mkdir");
        git(&bare, &["init", "-q", "--bare", "-b", "main"]);
        git(&bare, &["config", "http.receivepack", "true"]);
        let work = root.path().join("seed");
        for app in &APPS {
            for stage in STAGES {
                let path = work.join(stage_file(app, stage));
                std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
                std::fs::write(&path, (app.seed)(stage)).expect("write seed");
            }
        }
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "seed"]);
        git(
            &work,
            &["push", "-q", bare.to_str().expect("utf-8"), "main"],
        );

        let rt = crate::support::sim_runtime();
        let git_http = rt
            .block_on(http_server::spawn(GitHttpConfig {
                root: root.path().join("git"),
                token: Some(Secret::new(REPO_TOKEN)),
            }))
            .expect("git server");
        let mut argo = SimConfig::new(&bare);
        argo.poll_interval_ms = 100;
        argo.token = Some(ARGO_TOKEN.into());
        let mut stages_yaml = String::new();
        for app in &APPS {
            stages_yaml.push_str(&format!("  {}:\n    stages:\n", app.name));
            for stage in STAGES {
                let name = format!("{}-{stage}", app.name);
                let mut sim = SimApp::new(name.clone(), stage_file(app, stage));
                sim.field = format!("{}|{}", app.field, app.value.unwrap_or_default());
                sim.sync_delay_ms = 50;
                sim.sync_duration_ms = 100;
                sim.progress_ms = 300;
                sim.degrade_versions = degrade
                    .iter()
                    .find(|(a, _)| *a == name)
                    .map(|(_, re)| (*re).to_owned());
                argo.apps.push(sim);
                let value = app
                    .value
                    .map(|v| format!(", value: \"{v}\""))
                    .unwrap_or_default();
                stages_yaml.push_str(&format!(
                    "      - {{ name: {stage}, file: {}, field: \"{}\"{value}, argocd_app: {name} }}\n",
                    stage_file(app, stage),
                    app.field
                ));
            }
        }
        let argocd = rt
            .block_on(argocd_sim::spawn_with_reader(argo, Arc::new(BatonReader)))
            .expect("argocd sim");
        let gitlab = rt
            .block_on(gitlab::spawn(gitlab::GitLabSimConfig {
                repo: bare.clone(),
                project_path: "acme/gitops-env".into(),
                project_id: 7,
                token: Some(Secret::new(FORGE_TOKEN)),
                merge_method: MergeStrategy::MergeCommit,
            }))
            .expect("gitlab sim");
        let yaml = format!(
            "env_repo:\n  url: {}/gitops-env.git\n  branch: main\n  token_env: ENV_REPO_TOKEN\n\
             argocd:\n  url: {}\n  token_env: ARGOCD_TOKEN\n\
             forge:\n  kind: gitlab\n  api_url: {}\n  project: acme/gitops-env\n  token_env: GITLAB_TOKEN\n\
             policy:\n  path: builtin:default\n  settings: {{ health_timeout: 20s }}\n\
             guardrails:\n  direct_commit_stages: [dev]\n  max_health_wait: 1m\n\
             apps:\n{stages_yaml}",
            git_http.base_url(),
            argocd.base_url(),
            gitlab.api_url(),
        );
        std::fs::write(root.path().join("baton.yaml"), yaml).expect("write config");
        Self {
            root,
            bare,
            rt,
            gitlab,
            _argocd: argocd,
            _git_http: git_http,
        }
    }

    fn dir(&self) -> &Path {
        self.root.path()
    }

    /// `baton ARGS` with the tokens set; no token may show in its output.
    fn baton(&self, args: &[&str]) -> Output {
        let out = baton(self.dir())
            .args(args)
            .arg("--cache-dir")
            .arg(self.dir().join("cache"))
            .env("ENV_REPO_TOKEN", REPO_TOKEN)
            .env("ARGOCD_TOKEN", ARGO_TOKEN)
            .env("GITLAB_TOKEN", FORGE_TOKEN)
            .output()
            .expect("baton runs");
        for text in [stdout(&out), stderr(&out)] {
            for token in [REPO_TOKEN, ARGO_TOKEN, FORGE_TOKEN] {
                assert!(!text.contains(token), "a token leaked:\n{text}");
            }
        }
        out
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.bare, args)
    }

    /// `app`'s file of `stage` at `rev` (a branch or commit).
    fn file_at(&self, rev: &str, app: &str, stage: &str) -> String {
        self.git(&[
            "show",
            &format!("{rev}:{}", stage_file(self::app(app), stage)),
        ])
    }

    fn seed(&self, app: &str, stage: &str) -> String {
        (self::app(app).seed)(stage).trim_end().to_owned()
    }

    fn trailers(&self, rev: &str) -> String {
        self.git(&["log", "-1", "--format=%(trailers:only,unfold)", rev])
    }

    fn commit_count(&self) -> usize {
        self.git(&["rev-list", "--count", "--all"])
            .parse()
            .expect("a count")
    }

    fn merge_requests(&self) -> Vec<SimMergeRequest> {
        self.rt.block_on(self.gitlab.merge_requests())
    }

    /// Merges the open MR from `branch`, as a reviewer would.
    fn merge(&self, branch: &str) {
        let client = GitLab::new(
            GitLabConfig::new(self.gitlab.api_url(), "acme/gitops-env", "GITLAB_TOKEN"),
            Secret::new(FORGE_TOKEN),
        )
        .expect("client");
        self.rt.block_on(async {
            let mr = client
                .find_open(branch)
                .await
                .expect("forge answers")
                .expect("an open MR");
            client
                .merge(mr.iid, &MergeOptions::default())
                .await
                .expect("merged");
        });
    }

    /// The newest audit record of `app`, parsed.
    fn last_record(&self) -> serde_json::Value {
        let mut paths = record_files(&self.dir().join("baton-audit"));
        paths.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        let text = std::fs::read_to_string(paths.last().expect("a record")).expect("read");
        serde_json::from_str(&text).expect("json")
    }
}

fn status_json(world: &World, app: &str) -> serde_json::Value {
    let out = world.baton(&["status", "--app", app, "--output", "json"]);
    assert_code(&out, 0);
    serde_json::from_str(&stdout(&out)).expect("json")
}

#[test]
fn kustomize_digests_promote_rerun_and_roll_back_to_the_previous_digest() {
    let world = World::new(&[("alpine-dev", D3)]);
    let seed = world.seed("alpine", "dev");

    let out = world.baton(&["promote", "--app", "alpine", "--digest", D2]);
    assert_code(&out, 0);
    // dev: the digest line alone changed; the commit says what it set.
    assert_eq!(world.file_at("main", "alpine", "dev"), seed.replace(D1, D2));
    assert_eq!(
        world.git(&["log", "-1", "--format=%s", "main"]),
        format!("dev(alpine): {D2}")
    );
    let t = world.trailers("main");
    assert!(t.contains(&format!("Baton-Digest: {D2}")), "{t}");
    // staging: an MR from a branch whose name encodes the digest.
    let branch = format!("baton/alpine/staging/sha256%3A{}", &D2[7..]);
    assert_eq!(mr_branch_name("alpine", "staging", D2), branch);
    let mrs = world.merge_requests();
    assert_eq!(mrs.len(), 1);
    assert_eq!(mrs[0].source_branch, branch);
    assert_eq!(mrs[0].title, format!("staging(alpine): {D2}"));
    assert_eq!(
        world.file_at(&branch, "alpine", "staging"),
        world.seed("alpine", "staging").replace(D1, D2)
    );

    // The same promotion again writes nothing and reuses branch and MR.
    let commits = world.commit_count();
    let out = world.baton(&["promote", "--app", "alpine", "--digest", D2]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains(&format!("[unchanged] set dev to {D2}")),
        "{}",
        stdout(&out)
    );
    assert_eq!(world.commit_count(), commits);
    assert_eq!(world.merge_requests().len(), 1);
    let reused = &world.last_record()["actions"];
    assert!(
        reused
            .as_array()
            .expect("actions")
            .iter()
            .any(|a| a["merge_request"]["reused"] == true && a["branch"] == branch.as_str()),
        "{reused}"
    );

    // status decodes the branch and shows digests short.
    let out = world.baton(&["status", "--app", "alpine"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"@[0-9a-f]{7}\b", "@[sha]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "[host]");
    settings.bind(|| {
        insta::assert_snapshot!(text, @r"
        alpine on main @[sha]
        STAGE    VERSION              ARGO CD                    ROLLBACK TARGET      OPEN MERGE REQUESTS
        dev      sha256:222222222222  Healthy / Synced @[sha]  sha256:24a0c4b4a4c0  -
        staging  sha256:24a0c4b4a4c0  Healthy / Synced @[sha]  -                    #1 sha256:222222222222 http://[host]/acme/gitops-env/-/merge_requests/1
        prod     sha256:24a0c4b4a4c0  Healthy / Synced @[sha]  -                    -
        ");
    });
    let json = status_json(&world, "alpine");
    assert_eq!(json["stages"][0]["version"], D2);
    assert_eq!(json["stages"][0]["digest"], D2);
    assert_eq!(json["stages"][1]["open_merge_requests"][0]["version"], D2);

    // A tag cannot name a digest-only stage's version.
    let before = world.git(&["for-each-ref"]);
    let out = world.baton(&["promote", "--app", "alpine", "--tag", "v1", "--digest", D3]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("leave --tag out"), "{}", stderr(&out));
    assert_eq!(world.git(&["for-each-ref"]), before);

    // D3 crash-loops: dev goes back to the previous digest, D2.
    let out = world.baton(&["promote", "--app", "alpine", "--digest", D3]);
    assert_code(&out, 1);
    assert_eq!(world.file_at("main", "alpine", "dev"), seed.replace(D1, D2));
    assert_eq!(
        world.file_at("main~1", "alpine", "dev"),
        seed.replace(D1, D3)
    );
    let t = world.trailers("main");
    assert!(t.contains(&format!("Baton-Rollback-Of: {D3}")), "{t}");
    assert!(t.contains(&format!("Baton-Digest: {D2}")), "{t}");
    let json = status_json(&world, "alpine");
    assert_eq!(json["stages"][0]["version"], D2);
}

#[test]
fn image_references_keep_their_flux_marker_and_carry_the_digest_to_prod() {
    let world = World::new(&[]);
    let marker = " # {\"$imagepolicy\": \"flux-system:podinfo\"}";

    // dev still holds a bare tag: the template gives it its shape.
    let out = world.baton(&[
        "promote", "--app", "podinfo", "--tag", "6.2.0", "--digest", D2,
    ]);
    assert_code(&out, 0);
    assert_eq!(
        world.file_at("main", "podinfo", "dev"),
        world.seed("podinfo", "dev").replace(
            &format!("podinfo:6.1.1{marker}"),
            &format!("podinfo:6.2.0@{D2}{marker}")
        )
    );
    assert!(
        world
            .trailers("main")
            .contains(&format!("Baton-Digest: {D2}")),
        "{}",
        world.trailers("main")
    );
    let staging = mr_branch_name("podinfo", "staging", "6.2.0");
    assert_eq!(staging, "baton/podinfo/staging/6.2.0");
    let pinned = |stage: &str, version: &str, digest: &str| {
        world.seed("podinfo", stage).replace(
            &format!("podinfo:6.1.1@{D1}"),
            &format!("podinfo:{version}@{digest}"),
        )
    };
    assert_eq!(
        world.file_at(&staging, "podinfo", "staging"),
        pinned("staging", "6.2.0", D2)
    );

    // Merged, staging is gated and prod's MR gets the digest it holds.
    world.merge(&staging);
    let out = world.baton(&["advance", "--app", "podinfo"]);
    assert_code(&out, 0);
    let record = world.last_record();
    assert_eq!(
        record["decisions"][0]["event"]["StageChanged"]["digest"], D2,
        "{}",
        record["decisions"][0]["event"]
    );
    let prod = mr_branch_name("podinfo", "prod", "6.2.0");
    assert_eq!(
        world.file_at(&prod, "podinfo", "prod"),
        pinned("prod", "6.2.0", D2)
    );
    let json = status_json(&world, "podinfo");
    assert_eq!(json["stages"][1]["version"], "6.2.0");
    assert_eq!(json["stages"][1]["digest"], D2);
    assert_eq!(json["stages"][2]["digest"], D1);
    let out = world.baton(&["status", "--app", "podinfo"]);
    let text = stdout(&out);
    assert!(
        text.contains("VERSION  DIGEST")
            && text.contains("staging  6.2.0    sha256:222222222222")
            && text.contains("prod     6.1.1    sha256:24a0c4b4a4c0"),
        "{text}"
    );

    // A rollback goes back to the digest the good version was deployed with.
    let out = world.baton(&["rollback", "--app", "podinfo", "--stage", "staging"]);
    assert_code(&out, 0);
    let back = rollback_branch_name("podinfo", "staging", "6.1.1");
    assert_eq!(
        world.file_at(&back, "podinfo", "staging"),
        pinned("staging", "6.1.1", D1)
    );
    let t = world.trailers(&back);
    assert!(
        t.contains("Baton-Rollback-Of: 6.2.0") && t.contains(&format!("Baton-Digest: {D1}")),
        "{t}"
    );

    // A version no stage was ever deployed with has no digest to write: the
    // decision is refused whole, nothing is written.
    let before = world.git(&["for-each-ref"]);
    let out = world.baton(&[
        "rollback", "--app", "podinfo", "--stage", "prod", "--to", "6.0.0",
    ]);
    assert_code(&out, 3);
    assert!(
        stdout(&out).contains("holds a digest and none was given for version \"6.0.0\""),
        "{}",
        stdout(&out)
    );
    assert_eq!(world.git(&["for-each-ref"]), before);
    // A whole reference cannot stand where the template wants a tag.
    let out = world.baton(&[
        "promote",
        "--app",
        "podinfo",
        "--tag",
        "ghcr.io/acme/other:1",
        "--digest",
        D3,
    ]);
    assert_code(&out, 3);
    assert!(
        stdout(&out).contains(
            "stage dev cannot hold it (podinfo/dev/deployment.yaml \
             yaml:spec.template.spec.containers[name=podinfod].image): version \
             \"ghcr.io/acme/other:1\" does not fit \
             `ghcr.io/stefanprodan/podinfo:{version}@{digest}`: it is not an image tag"
        ),
        "{}",
        stdout(&out)
    );
    assert_eq!(world.git(&["for-each-ref"]), before);
}

#[test]
fn helm_image_digest_is_written_in_its_own_quotes() {
    let world = World::new(&[]);
    let out = world.baton(&["promote", "--app", "nginx", "--digest", D2]);
    assert_code(&out, 0);
    assert_eq!(
        world.file_at("main", "nginx", "dev"),
        world
            .seed("nginx", "dev")
            .replace("digest: \"\"", &format!("digest: \"{D2}\""))
    );
    let staging = mr_branch_name("nginx", "staging", D2);
    assert_eq!(
        world.file_at(&staging, "nginx", "staging"),
        world
            .seed("nginx", "staging")
            .replace("digest: \"\"", &format!("digest: \"{D2}\""))
    );
    let json = status_json(&world, "nginx");
    assert_eq!(json["stages"][0]["version"], D2);
    assert_eq!(json["stages"][1]["version"], "");
    // The record keeps the digest the promotion carried.
    let record = world.last_record();
    assert_eq!(record["command"]["args"]["digest"], D2);
    assert_eq!(record["decisions"][0]["event"]["NewVersion"]["digest"], D2);
    assert_eq!(record["actions"][0]["action"]["SetVersion"]["digest"], D2);
}

#[test]
fn value_templates_and_mixed_stages_are_configuration_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let check = |stages: &str| {
        std::fs::write(
            dir.path().join("baton.yaml"),
            format!(
                "env_repo:\n  url: https://gitlab.example.com/acme/env.git\napps:\n  payments:\n    stages:\n{stages}"
            ),
        )
        .expect("write");
        let out = baton(dir.path())
            .args(["config", "check"])
            .output()
            .expect("runs");
        assert_code(&out, 2);
        stderr(&out)
    };
    let err = check(
        "      - { name: dev, file: d.yaml, field: \"yaml:spec.image\", value: \"ghcr.io/acme/app:{tag}\", argocd_app: d }\n",
    );
    assert_eq!(
        err,
        "error: baton.yaml:6: apps.payments.stages[0].value: \"ghcr.io/acme/app:{tag}\" is not a \
         value template: only {version} and {digest} may appear in braces\n"
    );
    let err = check(
        "      - { name: dev, file: d.yaml, field: \"kustomize:alpine:digest\", argocd_app: d }\n\
         \x20     - { name: prod, file: p.yaml, field: \"helm:image.tag\", argocd_app: p }\n",
    );
    assert!(
        err.starts_with("error: baton.yaml:7: apps.payments.stages[1].field: prod holds a version (helm:image.tag) but dev holds only a digest (kustomize:alpine:digest)"),
        "{err}"
    );
}

#[test]
fn two_kustomize_entries_with_one_name_are_refused_as_ambiguous() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("env");
    std::fs::create_dir_all(work.join("dev")).expect("mkdir");
    let doubled = fixture("kustomize__site__images__kustomization.yaml")
        .replace("resources:", "- name: nginx\n  newTag: 1.9.0\n\nresources:");
    std::fs::write(work.join("dev/kustomization.yaml"), doubled).expect("write");
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "seed"]);
    std::fs::write(
        dir.path().join("baton.yaml"),
        format!(
            "env_repo:\n  url: file://{}\napps:\n  nginx:\n    stages:\n\
             \x20     - {{ name: dev, file: dev/kustomization.yaml, field: \"kustomize:nginx\", argocd_app: nginx-dev }}\n",
            work.display()
        ),
    )
    .expect("write");
    let out = baton(dir.path())
        .args(["config", "check", "--fetch", "--cache-dir"])
        .arg(dir.path().join("cache"))
        .output()
        .expect("runs");
    assert_code(&out, 2);
    assert!(
        stderr(&out).contains(
            "dev/kustomization.yaml: field kustomize:nginx is ambiguous: 2 items match \
             `images[name=nginx]`"
        ),
        "{}",
        stderr(&out)
    );
}
