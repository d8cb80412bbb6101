//! Every simulator response body validates against argocd-swagger.json, and
//! the simulator answers like the real server (status codes, error bodies,
//! stream semantics).

use std::time::Duration;

use baton::capabilities::argocd::{AppStatus, Frame, FrameDecoder};
use baton::sim::argocd::{HealthStep, SimHandle, WorkloadKind};
use serde_json::{Value, json};

use crate::argocd::common::*;
use crate::argocd::swagger::Swagger;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = http().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

fn assert_valid(swagger: &Swagger, def: &str, body: &Value) {
    let errs = swagger.validate_def(def, body);
    assert!(errs.is_empty(), "{def}: {errs:#?}\nbody: {body}");
}

#[test]
fn real_sample_validates_and_parses() {
    let swagger = Swagger::load();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/argocd/application-velero-test.diff-cache.json"
    );
    let mut sample: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    // TypeMeta is not part of the swagger definition (the API omits it).
    let obj = sample.as_object_mut().expect("object");
    obj.remove("apiVersion");
    obj.remove("kind");
    assert_valid(&swagger, "v1alpha1Application", &sample);

    let status = AppStatus::from_value(sample).expect("parses");
    assert_eq!(status.name, "velero-test");
    assert_eq!(status.health.status.as_str(), "Healthy");
    assert_eq!(status.sync.status.as_str(), "Synced");
    assert_eq!(status.sync.revision.as_deref(), Some("rev1"));
    let op = status.operation.as_ref().expect("operationState");
    assert_eq!(op.phase.as_str(), "Succeeded");
    assert_eq!(
        op.revision.as_deref(),
        Some("ea8759964626a583667a2bfd08f334ec2070040a")
    );
    assert_eq!(status.history.len(), 10);
    assert_eq!(status.history[0].id, 14);
    assert!(status.reconciled_at.is_some());
    let deployment = status
        .resources
        .iter()
        .find(|r| r.kind == "Deployment")
        .expect("deployment");
    assert_eq!(
        (deployment.group.as_str(), deployment.name.as_str()),
        ("apps", "test-lla")
    );
    assert_eq!(
        deployment.health.as_ref().map(|h| h.status.as_str()),
        Some("Healthy")
    );
}

#[test]
fn validator_rejects_unknown_fields_and_wrong_types() {
    let swagger = Swagger::load();
    let bad = json!({
        "metadata": { "name": "x", "generation": "7" },
        "status": { "health": { "status": "Healthy", "colour": "green" }, "reconciledAt": "yesterday",
                    "history": [{ "id": "1" }] },
    });
    let errs = swagger.validate_def("v1alpha1Application", &bad);
    assert_eq!(
        errs,
        vec![
            "$.metadata.generation: expected integer (Some(\"int64\")), got \"7\"",
            "$.status.health.colour: field not in the definition",
            "$.status.history[0].id: expected integer (Some(\"int64\")), got \"1\"",
            "$.status.reconciledAt: `yesterday` is not date-time",
        ]
    );
}

/// One simulator and what every part of the walk needs.
struct Shapes {
    swagger: Swagger,
    repo: TestRepo,
    sim: SimHandle,
    base: String,
    stream_schema: Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_simulator_response_matches_swagger() {
    let swagger = Swagger::load();
    let repo = TestRepo::new();
    let mut dev = fast_app("payments-dev");
    dev.degrade_versions = Some(r"^v9\.".into());
    let mut canary = fast_app("payments-canary");
    canary.workload = WorkloadKind::Rollout;
    canary.script = vec![HealthStep {
        workload_message: Some("CanaryPauseStep".into()),
        ..HealthStep::new("Suspended", 60_000)
    }];
    let sim = start(sim_config(&repo, vec![dev, canary])).await;
    let base = sim.base_url();
    let stream_schema = swagger.response_schema("/api/v1/stream/applications");
    let s = Shapes {
        swagger,
        repo,
        sim,
        base,
        stream_schema,
    };

    let commit = rollout_on_the_stream(&s).await;
    suspended_canary(&s).await;
    sync_and_busy(&s, &commit).await;
    error_bodies(&s).await;
    error_frame(&s).await;
    s.sim.shutdown().await;
}

/// Initial state, tree, and every frame of a full rollout on the stream;
/// returns the commit rolled out.
async fn rollout_on_the_stream(s: &Shapes) -> String {
    let Shapes {
        swagger,
        repo,
        base,
        stream_schema,
        ..
    } = s;
    let (code, body) = get(
        &format!("{base}/api/v1/applications/payments-dev"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(code, 200);
    assert_valid(
        swagger,
        "v1alpha1Application",
        &serde_json::from_str(&body).expect("json"),
    );

    let mut stream = http()
        .get(format!(
            "{base}/api/v1/stream/applications?name=payments-dev"
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("stream opens");
    assert_eq!(stream.headers()["content-type"], "application/json");
    let commit = repo.set_version("v9.0.0");
    let mut raw = Vec::new();
    let mut decoder = FrameDecoder::new();
    let mut kinds = Vec::new();
    'outer: while let Some(chunk) = stream.chunk().await.expect("chunk") {
        raw.extend_from_slice(&chunk);
        decoder.push(&chunk);
        while let Some(frame) = decoder.next_frame() {
            let Frame::Event(ev) = frame.expect("frame decodes") else {
                panic!("error frame")
            };
            kinds.push(ev.kind.clone());
            if ev.status.health.status.as_str() == "Degraded" {
                assert_eq!(ev.status.sync.revision.as_deref(), Some(commit.as_str()));
                break 'outer;
            }
        }
    }
    drop(stream);
    let lines: Vec<Value> = String::from_utf8(raw)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert!(lines.len() >= 2, "ADDED then at least one MODIFIED");
    assert_eq!(lines[0]["result"]["type"], "ADDED");
    assert!(lines[1..].iter().all(|l| l["result"]["type"] == "MODIFIED"));
    for line in &lines {
        let errs = swagger.validate(stream_schema, line);
        assert!(errs.is_empty(), "{errs:#?}\n{line}");
    }
    // Duplicate suppression: consecutive frames always differ.
    assert!(lines.windows(2).all(|w| w[0] != w[1]));

    let (code, body) = get(
        &format!("{base}/api/v1/applications/payments-dev/resource-tree"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(code, 200);
    assert_valid(
        swagger,
        "v1alpha1ApplicationTree",
        &serde_json::from_str(&body).expect("json"),
    );

    commit
}

/// The Rollout: Suspended / CanaryPauseStep in resources[] and the tree.
async fn suspended_canary(s: &Shapes) {
    let Shapes {
        swagger, sim, base, ..
    } = s;
    eventually("canary suspended", || {
        sim.application("payments-canary")
            .is_some_and(|a| a["status"]["health"]["status"] == "Suspended")
    })
    .await;
    let (_, body) = get(
        &format!("{base}/api/v1/applications/payments-canary?refresh=normal"),
        Some(TOKEN),
    )
    .await;
    let app: Value = serde_json::from_str(&body).expect("json");
    assert_valid(swagger, "v1alpha1Application", &app);
    let status = AppStatus::from_value(app).expect("parses");
    let rollout = status
        .resources
        .iter()
        .find(|r| r.kind == "Rollout")
        .expect("rollout resource");
    assert_eq!(rollout.group, "argoproj.io");
    let health = rollout.health.as_ref().expect("health");
    assert_eq!(
        (health.status.as_str(), health.message.as_deref()),
        ("Suspended", Some("CanaryPauseStep"))
    );
    let (_, body) = get(
        &format!("{base}/api/v1/applications/payments-canary/resource-tree"),
        Some(TOKEN),
    )
    .await;
    let tree: Value = serde_json::from_str(&body).expect("json");
    assert_valid(swagger, "v1alpha1ApplicationTree", &tree);
    assert!(
        tree["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .any(|n| n["kind"] == "Rollout"
                && n["health"] == json!({ "status": "Suspended", "message": "CanaryPauseStep" }))
    );
}

/// Sync: the answer carries `operation`; a second sync is refused.
async fn sync_and_busy(s: &Shapes, commit: &str) {
    let Shapes { swagger, base, .. } = s;
    let resp = http()
        .post(format!("{base}/api/v1/applications/payments-dev/sync"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"name":"payments-dev","prune":true}"#)
        .send()
        .await
        .expect("sync");
    assert_eq!(resp.status().as_u16(), 200);
    let app: Value = resp.json().await.expect("json");
    assert_valid(swagger, "v1alpha1Application", &app);
    assert_eq!(app["operation"]["sync"]["revision"], json!(commit));
    assert_eq!(app["status"]["operationState"]["phase"], "Running");
    let resp = http()
        .post(format!("{base}/api/v1/applications/payments-dev/sync"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("sync");
    assert_eq!(resp.status().as_u16(), 400);
    let err: Value = resp.json().await.expect("json");
    assert_eq!(
        err,
        json!({"error": "another operation is already in progress", "code": 9, "message": "another operation is already in progress"})
    );
    assert_valid(swagger, "runtimeError", &err);
}

/// Error bodies, exactly as the real server's; 415 is plain text, before
/// authentication.
async fn error_bodies(s: &Shapes) {
    let Shapes { swagger, base, .. } = s;
    let cases = [
        (
            format!("{base}/api/v1/applications/payments-dev"),
            None,
            401,
            "no session information",
            16,
        ),
        (
            format!("{base}/api/v1/applications/nope"),
            Some(TOKEN),
            403,
            "permission denied",
            7,
        ),
        (
            format!("{base}/api/v1/applications/nope?project=default"),
            Some(TOKEN),
            404,
            "applications.argoproj.io \"nope\" not found",
            5,
        ),
        (
            format!("{base}/api/v1/applications/payments-dev?project=a&project=b"),
            Some(TOKEN),
            400,
            "multiple projects specified - the get endpoint accepts either zero or one project",
            3,
        ),
    ];
    for (url, token, status, message, code) in cases {
        let (got, body) = get(&url, token).await;
        assert_eq!(got, status, "{url}");
        let err: Value = serde_json::from_str(&body).expect("json error");
        assert_eq!(
            err,
            json!({ "error": message, "code": code, "message": message }),
            "{url}"
        );
        assert_valid(swagger, "runtimeError", &err);
    }

    // 415 is plain text, before authentication.
    let resp = http()
        .post(format!("{base}/api/v1/applications/payments-dev/sync"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 415);
    assert_eq!(resp.text().await.expect("body"), "Invalid content type");
}

/// A mid-stream error frame validates against the stream schema.
async fn error_frame(s: &Shapes) {
    let Shapes {
        swagger,
        sim,
        base,
        stream_schema,
        ..
    } = s;
    sim.faults().set_stream_drop_after(Some(1));
    sim.faults().set_stream_error_frame(true);
    let (code, body) = get(
        &format!("{base}/api/v1/stream/applications?name=payments-dev"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(code, 200);
    let frames: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1]["error"]["grpc_code"], 14);
    for f in &frames {
        let errs = swagger.validate(stream_schema, f);
        assert!(errs.is_empty(), "{errs:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_unknown_app_yields_no_events_and_sse_framing_parses() {
    let repo = TestRepo::new();
    let mut config = sim_config(&repo, vec![fast_app("payments-dev")]);
    config.sse_keepalive_ms = 50;
    let sim = start(config).await;
    let base = sim.base_url();

    // SSE: `data:` frames and `:` keepalives, decoded by the client's decoder.
    let mut resp = http()
        .get(format!(
            "{base}/api/v1/stream/applications?name=payments-dev"
        ))
        .bearer_auth(TOKEN)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut raw = String::new();
    let mut decoder = FrameDecoder::new();
    let mut events = Vec::new();
    while !raw.contains(":\n") || events.is_empty() {
        let chunk = resp.chunk().await.expect("chunk").expect("open");
        raw.push_str(std::str::from_utf8(&chunk).expect("utf8"));
        decoder.push(&chunk);
        while let Some(f) = decoder.next_frame() {
            events.push(f.expect("decodes"));
        }
    }
    assert!(
        raw.starts_with("data: {\"result\":{") && raw.contains("\"type\":\"ADDED\"}} \n\n\n"),
        "{raw}"
    );
    match &events[0] {
        Frame::Event(ev) => assert_eq!(ev.status.name, "payments-dev"),
        other => panic!("{other:?}"),
    }
    drop(resp);

    // Unknown name: the stream opens and stays silent.
    let mut resp = http()
        .get(format!("{base}/api/v1/stream/applications?name=ghost"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.status().as_u16(), 200);
    let got = tokio::time::timeout(Duration::from_millis(300), resp.chunk()).await;
    assert!(got.is_err(), "no events for an unknown application");
    sim.shutdown().await;
}
