//! Metrics end to end: the real Prometheus (Debian's package, started per
//! test on loopback with a temporary storage directory and a one-second
//! scrape interval) scraping a small exporter whose error counter the test
//! controls; the SLO policy promoting through it, its PromQL answers in the
//! audit record and `policy replay` of the record identical; the Prometheus
//! client against the real server and the simulator; the simulator's
//! shapes against the real server's; the `metrics:` configuration; the
//! SLO policy's scenario suite; and `baton demo --metrics`.
//!
//! The tests that need the real server skip (with the reason) when
//! `prometheus` is not installed, and fail instead with
//! `BATON_REQUIRE_TOOLS=1` (CI, after `.ci/prometheus.sh`).

use std::collections::BTreeMap;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use baton::capabilities::metrics::{
    ErrorKind, PrometheusClient, PrometheusConfig, QueryError, TimeRange,
};
use baton::secret::Secret;
use baton::sim::argocd::HealthStep;
use baton::sim::prometheus::{self as prometheus_sim, ErrorType, PromSimConfig, SimAnswer};
use serde_json::Value;

use crate::engine::env::{APP, Env, STAGES, Setup, assert_code, code, stage_file, stderr, stdout};
use crate::policies;
use crate::support::{baton, git};

// ---------------------------------------------------------------------------
// The real Prometheus and the exporter it scrapes.
// ---------------------------------------------------------------------------

/// `prometheus` on PATH; `None` (with the reason printed) when it is
/// missing, a failed test when `BATON_REQUIRE_TOOLS=1`.
fn prometheus_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("prometheus"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("BATON_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("BATON_REQUIRE_TOOLS=1 and prometheus is not installed (run .ci/prometheus.sh)");
        }
        eprintln!("skipping: prometheus is not installed (.ci/prometheus.sh installs it)");
    }
    found
}

/// A free loopback port (bound, then released for the child to take).
fn free_port() -> u16 {
    let l = StdListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The error ratio an exporter reports for a stage, asked at each scrape.
type Ratio = Arc<dyn Fn(&str) -> f64 + Send + Sync>;

/// What the exporter has counted, per stage.
#[derive(Default)]
struct Counts {
    requests: BTreeMap<String, (u64, u64)>,
}

/// An HTTP endpoint serving `/metrics` in the Prometheus text format:
/// per stage, `http_requests_total` by code and a latency histogram. Each
/// scrape counts 100 more requests, `ratio(stage)` of them failed (500),
/// every one answered within 50 ms.
struct Exporter {
    port: u16,
    _server: tokio::task::JoinHandle<()>,
}

impl Exporter {
    fn start(rt: &tokio::runtime::Runtime, ratio: Ratio) -> Self {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = Router::new().route(
            "/metrics",
            get(move || {
                let (counts, ratio) = (counts.clone(), ratio.clone());
                async move {
                    tokio::task::spawn_blocking(move || scrape(&counts, &*ratio))
                        .await
                        .unwrap()
                }
            }),
        );
        let server = rt.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            port,
            _server: server,
        }
    }
}

/// One scrape: counts the next 100 requests of every stage, renders all.
fn scrape(counts: &Mutex<Counts>, ratio: &(dyn Fn(&str) -> f64 + Send + Sync)) -> String {
    let mut counts = counts.lock().unwrap();
    let mut text = String::from(
        "# TYPE http_requests_total counter\n# TYPE http_request_duration_seconds histogram\n",
    );
    for stage in STAGES {
        let failed = (100.0 * ratio(stage)).round() as u64;
        let (ok, errors) = counts.requests.entry(stage.to_owned()).or_default();
        *ok += 100 - failed;
        *errors += failed;
        let total = *ok + *errors;
        let labels = format!("app=\"{APP}\",env=\"{stage}\"");
        text.push_str(&format!(
            "http_requests_total{{{labels},code=\"200\"}} {ok}\n\
             http_requests_total{{{labels},code=\"500\"}} {errors}\n"
        ));
        for le in ["0.05", "0.1", "0.5", "+Inf"] {
            text.push_str(&format!(
                "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {total}\n"
            ));
        }
        text.push_str(&format!(
            "http_request_duration_seconds_sum{{{labels}}} {}\n\
             http_request_duration_seconds_count{{{labels}}} {total}\n",
            total as f64 * 0.02
        ));
    }
    text
}

/// A Prometheus server on loopback, stopped on drop.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET url` on `rt`: status and body.
fn http_get(rt: &tokio::runtime::Runtime, url: &str) -> Option<(u16, String)> {
    rt.block_on(async {
        let resp = reqwest::get(url).await.ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.text().await.ok()?))
    })
}

impl Prometheus {
    /// Starts Prometheus scraping `127.0.0.1:<exporter>` every second and
    /// waits until the error ratio of dev can be computed.
    fn start(binary: &Path, rt: &tokio::runtime::Runtime, exporter: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: payments\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{exporter}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        server.wait_for_data(rt);
        server
    }

    fn wait_for_data(&self, rt: &tokio::runtime::Runtime) {
        let probe = format!(
            "{}/api/v1/query?query={}",
            self.url,
            urlencode(&expand(ERROR_RATIO, "dev"))
        );
        let started = Instant::now();
        loop {
            if let Some((200, body)) = http_get(rt, &probe) {
                let v: Value = serde_json::from_str(&body).unwrap();
                if !v["data"]["result"].as_array().unwrap().is_empty() {
                    return;
                }
            }
            let log = std::fs::read_to_string(self._dir.path().join("prometheus.log"))
                .unwrap_or_default();
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "prometheus has no data after 60s; its log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---------------------------------------------------------------------------
// The SLO policy through the engine.
// ---------------------------------------------------------------------------

/// The share of failed requests of a stage (the exporter's labels).
const ERROR_RATIO: &str = r#"sum(rate(http_requests_total{app="{app}",env="{stage}",code="500"}[5s])) / sum(rate(http_requests_total{app="{app}",env="{stage}"}[5s]))"#;

/// The 95th percentile latency of a stage.
const P95_LATENCY: &str = r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{app="{app}",env="{stage}"}[5s])))"#;

fn expand(template: &str, stage: &str) -> String {
    template.replace("{app}", APP).replace("{stage}", stage)
}

/// After each sync Argo CD reports Healthy again every second (a real
/// controller's reconciles, faster), so a baking gate hears from it.
fn re_reports() -> Vec<HealthStep> {
    HealthStep::healthy_reports(300, 50)
}

/// An env running the SLO policy (8 s bake, checked every 2 s) against
/// the Prometheus at `url`.
fn slo_env(url: Option<&str>) -> Env {
    let settings = serde_json::json!({
        "bake": "8s",
        "interval": "2s",
        "health_timeout": "45s",
        "error_ratio": { "query": ERROR_RATIO, "max": 0.1 },
        "p95_latency": { "query": P95_LATENCY, "max": 0.5 },
    });
    let env = Env::new(Setup {
        policy: format!("  path: {}\n  settings: {settings}\n", policies::SLO_PATH),
        script: vec![("dev", re_reports()), ("staging", re_reports())],
        ..Setup::default()
    });
    if let Some(url) = url {
        configure_metrics(&env, url);
    }
    env
}

/// Adds `metrics:` for the Prometheus at `url` to the env's `baton.yaml`
/// (a policy that imports metrics is refused without one).
pub(crate) fn configure_metrics(env: &Env, url: &str) {
    let path = env.dir().join("baton.yaml");
    let mut yaml = std::fs::read_to_string(&path).unwrap();
    yaml.push_str(&format!(
        "metrics:\n  kind: prometheus\n  url: {url}\n  timeout: 10s\n"
    ));
    std::fs::write(&path, yaml).unwrap();
}

/// The tag dev holds on the env repo's main.
fn dev_version(bare: &Path) -> String {
    let values = git(bare, &["show", &format!("main:{}", stage_file("dev"))]);
    values
        .lines()
        .find_map(|l| l.trim().strip_prefix("tag: \""))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// Every metrics call of a record, with its decision's seq.
fn metric_calls(record: &Value) -> Vec<(u64, &Value)> {
    record["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| {
            let seq = d["seq"].as_u64().unwrap();
            d["calls"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["interface"] == "metrics")
                .map(move |c| (seq, c))
        })
        .collect()
}

/// `baton policy replay RECORD` says every decision is identical.
fn assert_replays_identically(env: &Env, record: &Value) {
    let path = env.dir().join("record.json");
    std::fs::write(&path, serde_json::to_vec_pretty(record).unwrap()).unwrap();
    let out = baton(env.dir())
        .args(["policy", "replay"])
        .arg(&path)
        .output()
        .unwrap();
    assert_code(&out, 0);
    let decisions = record["decisions"].as_array().unwrap().len();
    assert!(
        stdout(&out).ends_with(&format!("{decisions} decisions identical\n")),
        "{}",
        stdout(&out)
    );
}

/// The audit record JSON Schema accepts `record`.
fn assert_schema_valid(record: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/audit-record.v1.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(record)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn a_promote_whose_error_rate_stays_low_advances_after_the_bake() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let exporter = Exporter::start(&rt, Arc::new(|_| 0.01));
    let prometheus = Prometheus::start(&binary, &rt, exporter.port);
    let env = slo_env(Some(&prometheus.url));

    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]);
    assert_code(&out, 0);
    assert!(env.file("dev").contains("tag: \"v1.0.1\""));
    let mrs = env.merge_requests();
    assert_eq!(mrs.len(), 1, "{mrs:?}");
    assert_eq!(mrs[0].source_branch, "baton/payments/staging/v1.0.1");

    let record = env.audit_records().pop().unwrap();
    assert_eq!(record["outcome"]["status"], "held");
    let calls = metric_calls(&record);
    // The bake read both indicators, instant queries while it ran, the
    // whole window with range queries at its end, from the real server.
    let instant: Vec<&Value> = calls
        .iter()
        .map(|(_, c)| *c)
        .filter(|c| c["function"] == "query")
        .collect();
    assert!(!instant.is_empty(), "{calls:?}");
    assert_eq!(instant[0]["request"]["promql"], expand(ERROR_RATIO, "dev"));
    let ratio = instant[0]["result"]["Ok"][0]["value"].as_f64().unwrap();
    assert!((0.0..=0.1).contains(&ratio), "{ratio}");
    let windows: Vec<&Value> = calls
        .iter()
        .map(|(_, c)| *c)
        .filter(|c| c["function"] == "query-range")
        .collect();
    assert_eq!(windows.len(), 2, "{windows:?}");
    assert_eq!(windows[1]["request"]["promql"], expand(P95_LATENCY, "dev"));
    assert!(
        !windows[0]["result"]["Ok"][0]["points"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The decisions in between kept the gate open and asked to be
    // rechecked; the last one opened the staging merge request.
    let decisions = record["decisions"].as_array().unwrap();
    assert!(decisions.iter().any(|d| {
        let decision = &d["result"]["decision"];
        decision["actions"].as_array().is_some_and(Vec::is_empty)
            && decision["recheck_after"] == 2000
    }));
    let last = &decisions.last().unwrap()["result"]["decision"]["actions"][0]["SetVersion"];
    assert_eq!(last["stage"], "staging");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("clean 8s bake: error_ratio at most"),
        "{last}"
    );
    assert_schema_valid(&record);
    assert_replays_identically(&env, &record);
}

#[test]
fn a_promote_whose_error_rate_rises_is_rolled_back_with_the_promql_answers_recorded() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let env = slo_env(None);
    // v1.0.2 fails half of its requests once the env repo sets dev to it.
    let bare = env.bare.clone();
    let ratio: Ratio = Arc::new(move |stage| {
        if stage == "dev" && dev_version(&bare) == "v1.0.2" {
            0.5
        } else {
            0.01
        }
    });
    let exporter = Exporter::start(&rt, ratio);
    let prometheus = Prometheus::start(&binary, &rt, exporter.port);
    configure_metrics(&env, &prometheus.url);

    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.2"]);
    assert_code(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("roll back dev from v1.0.2 to v1.0.0"),
        "{text}"
    );
    assert!(env.file("dev").contains("tag: \"v1.0.0\""));
    let trailers = env.git(&[
        "log",
        "-1",
        "--format=%(trailers:key=Baton-Rollback-Of)",
        "main",
    ]);
    assert_eq!(trailers, "Baton-Rollback-Of: v1.0.2");
    assert!(env.merge_requests().is_empty());

    let record = env.audit_records().pop().unwrap();
    assert_eq!(record["outcome"]["status"], "failed");
    assert_eq!(record["outcome"]["rolled_back"], true);
    let message = record["outcome"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("dev at v1.0.2: error_ratio")
            && message.contains("above its maximum 0.1"),
        "{message}"
    );
    // The answer that crossed the threshold is in the record, as
    // Prometheus gave it.
    let crossing = metric_calls(&record).into_iter().map(|(_, c)| c).find(|c| {
        c["request"]["promql"] == expand(ERROR_RATIO, "dev")
            && c["result"]["Ok"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| {
                    s.get("points")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_else(|| vec![s.clone()])
                })
                .any(|p| p["value"].as_f64().is_some_and(|v| v > 0.1))
    });
    assert!(crossing.is_some(), "{:#?}", metric_calls(&record));
    assert_schema_valid(&record);
    assert_replays_identically(&env, &record);
}

#[test]
fn the_client_reads_every_answer_of_the_real_server() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let exporter = Exporter::start(&rt, Arc::new(|_| 0.25));
    let prometheus = Prometheus::start(&binary, &rt, exporter.port);
    let client = PrometheusClient::new(PrometheusConfig::new(
        prometheus.url.clone(),
        Secret::new(""),
        "",
    ))
    .unwrap();
    let now = now_ms();
    rt.block_on(async {
        let ratio = client
            .query(&expand(ERROR_RATIO, "dev"), now)
            .await
            .unwrap();
        assert_eq!(ratio.len(), 1);
        assert!(ratio[0].labels.is_empty());
        assert!((ratio[0].value - 0.25).abs() < 1e-9, "{ratio:?}");
        assert_eq!(ratio[0].time_ms, now);

        let by_code = client
            .query(r#"sum by (code) (http_requests_total{env="dev"})"#, now)
            .await
            .unwrap();
        let codes: Vec<&str> = by_code.iter().map(|s| s.labels["code"].as_str()).collect();
        assert_eq!(codes.len(), 2, "{by_code:?}");
        assert!(codes.contains(&"200") && codes.contains(&"500"));

        let scalar = client.query("scalar(vector(3))", now).await.unwrap();
        assert_eq!((scalar[0].labels.len(), scalar[0].value), (0, 3.0));
        let nan = client.query("0/0", now).await.unwrap();
        assert!(nan[0].value.is_nan());
        let inf = client.query("vector(1/0)", now).await.unwrap();
        assert_eq!(inf[0].value, f64::INFINITY);

        let bad = client.query("sum(rate(", now).await.unwrap_err();
        assert_eq!(bad.kind(), ErrorKind::BadQuery);
        assert!(
            matches!(&bad, QueryError::BadQuery { error_type, message, .. }
                if error_type == "bad_data" && message.contains("parse error")),
            "{bad}"
        );
        let text = client.query(r#""a string""#, now).await.unwrap_err();
        assert!(matches!(text, QueryError::Unsupported { .. }), "{text}");

        let range = TimeRange {
            start_ms: now - 4000,
            end_ms: now,
            step_ms: 1000,
        };
        let series = client
            .query_range(r#"sum by (code) (http_requests_total{env="dev"})"#, range)
            .await
            .unwrap();
        assert_eq!(series.len(), 2, "{series:?}");
        assert!(
            series
                .iter()
                .all(|s| s.points.last().map(|p| p.0) == Some(now))
        );
        // A constant is there at every step, whatever was scraped.
        let constant = client.query_range("vector(7)", range).await.unwrap();
        assert_eq!(
            constant[0].points,
            [
                (now - 4000, 7.0),
                (now - 3000, 7.0),
                (now - 2000, 7.0),
                (now - 1000, 7.0),
                (now, 7.0)
            ]
        );

        // A long query goes as a POST form and is answered all the same.
        let long = format!("vector(1) {}", "+ vector(0) ".repeat(300));
        let sum = client.query(&long, now).await.unwrap();
        assert_eq!(sum[0].value, 1.0);
    });
}

#[test]
fn the_simulator_answers_in_the_real_servers_shapes() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let exporter = Exporter::start(&rt, Arc::new(|_| 0.0));
    let real = Prometheus::start(&binary, &rt, exporter.port);
    let sim = rt
        .block_on(prometheus_sim::spawn(PromSimConfig::default()))
        .unwrap();
    let vector = r#"sum by (code) (http_requests_total{env="dev",code="200"})"#;
    sim.set(
        vector,
        SimAnswer::Vector(vec![(
            BTreeMap::from([("code".to_owned(), "200".to_owned())]),
            42.0,
        )]),
    );
    sim.set("scalar(vector(3))", SimAnswer::Scalar(3.0));
    sim.set(
        "sum(rate(",
        SimAnswer::Error(
            ErrorType::BadData,
            "invalid parameter \"query\": 1:10: parse error: unclosed left parenthesis".into(),
        ),
    );
    let now = now_ms() as f64 / 1000.0;
    // (path, whether the simulator writes the error message itself, which
    // must then be the real server's)
    for (path, own_message) in [
        (
            format!("/api/v1/query?query={}&time={now}", urlencode(vector)),
            false,
        ),
        (
            format!(
                "/api/v1/query?query={}&time={now}",
                urlencode("scalar(vector(3))")
            ),
            false,
        ),
        (
            format!(
                "/api/v1/query_range?query={}&start={}&end={now}&step=1",
                urlencode(vector),
                now - 3.0
            ),
            false,
        ),
        (
            format!("/api/v1/query?query={}", urlencode("sum(rate(")),
            false,
        ),
        (
            format!(
                "/api/v1/query_range?query={}&start=10&end=5&step=1",
                urlencode(vector)
            ),
            true,
        ),
        (
            format!(
                "/api/v1/query_range?query={}&start=5&end=10&step=0",
                urlencode(vector)
            ),
            true,
        ),
        (
            format!("/api/v1/query?query={}&time=soon", urlencode(vector)),
            true,
        ),
        (format!("/api/v1/query?time={now}"), true),
    ] {
        let (real_status, real_body) = http_get(&rt, &format!("{}{path}", real.url)).unwrap();
        let (sim_status, sim_body) = http_get(&rt, &format!("{}{path}", sim.base_url())).unwrap();
        assert_eq!(sim_status, real_status, "{path}: {sim_body} vs {real_body}");
        let real: Value = serde_json::from_str(&real_body).unwrap();
        let sim: Value = serde_json::from_str(&sim_body).unwrap();
        assert_eq!(shape(&sim), shape(&real), "{path}:\n{sim}\nvs\n{real}");
        if real["status"] == "error" {
            assert_eq!(sim["errorType"], real["errorType"], "{path}");
            if own_message {
                assert_eq!(sim["error"], real["error"], "{path}");
            }
        }
    }
}

/// A JSON value with every number and string replaced by its type, and
/// every array by its first element's shape (with its length when it
/// matters: a `[time, "value"]` pair).
fn shape(v: &Value) -> Value {
    match v {
        Value::Number(_) => Value::from("number"),
        Value::String(_) => Value::from("string"),
        Value::Array(items) if items.len() == 2 && items[0].is_number() => {
            Value::Array(items.iter().map(shape).collect())
        }
        Value::Array(items) => Value::Array(items.iter().take(1).map(shape).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "warnings" && k.as_str() != "infos")
                .map(|(k, v)| {
                    // A label set's keys are data, not shape.
                    let value = if k == "metric" {
                        Value::from("labels")
                    } else {
                        shape(v)
                    };
                    (k.clone(), value)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

// ---------------------------------------------------------------------------
// Without a real server.
// ---------------------------------------------------------------------------

#[test]
fn a_policy_that_reads_metrics_is_refused_without_a_metrics_section() {
    let env = slo_env(None);
    for args in [
        vec!["promote", "--app", APP, "--tag", "v1.0.1"],
        vec!["config", "check"],
    ] {
        let out = env.baton(&args);
        assert_code(&out, 2);
        let err = stderr(&out);
        assert!(
            err.starts_with("error: ")
                && err.contains("baton.yaml: policy.path: policy ")
                && err.contains(
                    "baton_slo_policy.wasm imports baton:policy/metrics@0.2.0, but there is no \
                     metrics: section"
                ),
            "{err}"
        );
        assert!(
            err.ends_with(
                "hint: add `metrics: { kind: prometheus, url: https://prometheus.example.com }` \
                 to baton.yaml, or use a policy that does not read metrics\n"
            ),
            "{err}"
        );
    }
    // Nothing was written.
    assert!(env.file("dev").contains("tag: \"v1.0.0\""));
}

#[test]
fn an_unreachable_prometheus_is_found_before_the_first_write() {
    // A port nothing listens on.
    let url = format!("http://127.0.0.1:{}", free_port());
    let env = slo_env(Some(&url));
    let before = env.fingerprint();
    let out = env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]);
    assert_code(&out, 4);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "outside system failed: before writing anything: the metrics server cannot answer: \
             {url}/api/v1/query: request to Prometheus failed"
        )),
        "{text}"
    );
    assert_eq!(env.fingerprint(), before, "nothing was written");
}

/// `baton config check` of a minimal file with `metrics` appended.
fn check_config(metrics: &str, vars: &[(&str, &str)]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "env_repo:\n  url: ./env.git\n\
         apps:\n  payments:\n    stages:\n      - {{ name: dev, file: dev.yaml, field: \"helm:image.tag\", argocd_app: payments-dev }}\n\
         {metrics}"
    );
    std::fs::write(home.path().join("baton.yaml"), config).unwrap();
    baton(home.path())
        .args(["config", "check"])
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn the_metrics_section_is_checked_where_it_is_written() {
    let ok = check_config(
        "metrics:\n  kind: prometheus\n  url: https://prometheus.example.com/prom\n  token_env: PROM_TOKEN\n  timeout: 20s\n",
        &[("PROM_TOKEN", "prom-SECRET-7d")],
    );
    assert_code(&ok, 0);
    for (metrics, vars, message) in [
        (
            "metrics:\n  kind: prometheus\n  url: https://prometheus.example.com\n  timeout: soon\n",
            &[][..],
            "error: baton.yaml:10: metrics.timeout: \"soon\" is not a duration above zero like 10s, 30s or 1m\n",
        ),
        (
            "metrics:\n  kind: prometheus\n  url: https://me:pw@prometheus.example.com\n",
            &[][..],
            "error: baton.yaml:9: metrics.url: credentials in the URL are not allowed; put the \
             token in an environment variable and name it in metrics.token_env\n",
        ),
        (
            "metrics:\n  kind: prometheus\n  url: https://prometheus.example.com\n  token_env: PROM_TOKEN\n",
            &[][..],
            "error: baton.yaml:10: metrics.token_env: environment variable PROM_TOKEN is not set\n",
        ),
        (
            "metrics:\n  kind: prometheus\n  url: prometheus:9090\n",
            &[][..],
            "error: baton.yaml:9: metrics.url: \"prometheus:9090\" is not an http(s) URL\n",
        ),
    ] {
        let out = check_config(metrics, vars);
        assert_code(&out, 2);
        assert_eq!(stderr(&out), message, "{metrics}");
    }
    let out = check_config(
        "metrics:\n  kind: graphite\n  url: https://g.example.com\n",
        &[],
    );
    assert_code(&out, 2);
    assert!(
        stderr(&out).contains("unknown variant `graphite`"),
        "{}",
        stderr(&out)
    );

    let out = baton(tempfile::tempdir().unwrap().path())
        .args(["config", "schema"])
        .output()
        .unwrap();
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    let metrics = &schema["$defs"]["RawMetrics"];
    assert_eq!(metrics["required"], serde_json::json!(["kind", "url"]));
    assert!(
        metrics["properties"]["timeout"]["description"]
            .as_str()
            .unwrap()
            .contains("`timeout` parameter")
    );
}

#[test]
fn the_client_retries_outages_and_names_the_token_it_was_refused_with() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut script = PromSimConfig {
        token: Some("prom-SECRET-9f".into()),
        ..PromSimConfig::default()
    };
    script.queries.insert(
        "sum(up)".into(),
        yaml_serde::from_str("[{ at: -1h, value: 2 }]").unwrap(),
    );
    let sim = rt.block_on(prometheus_sim::spawn(script)).unwrap();
    let client = |token: &str| {
        let mut config = PrometheusConfig::new(sim.base_url(), Secret::new(token), "PROM_TOKEN");
        config.initial_backoff = Duration::from_millis(5);
        config.max_backoff = Duration::from_millis(20);
        PrometheusClient::new(config).unwrap()
    };
    let good = client("prom-SECRET-9f");
    let now = now_ms();
    rt.block_on(async {
        // Two proxy 503s are retried away.
        sim.fail_next(2);
        let before = sim.queries();
        let up = good.query("sum(up)", now).await.unwrap();
        assert_eq!(up[0].value, 2.0);
        assert_eq!(sim.queries() - before, 3);

        // An outage outlasting the retries is `unreachable`, after four
        // attempts.
        sim.fail_next(10);
        let before = sim.queries();
        let down = good.query("sum(up)", now).await.unwrap_err();
        assert_eq!(down.kind(), ErrorKind::Unreachable);
        assert_eq!(sim.queries() - before, 4);
        assert_eq!(
            down.to_string(),
            format!(
                "{}/api/v1/query: HTTP 503: upstream connect error",
                sim.base_url()
            )
        );
        sim.fail_next(0);

        // A wrong token is named by its variable, not retried.
        let before = sim.queries();
        let refused = client("wrong").query("sum(up)", now).await.unwrap_err();
        assert_eq!(sim.queries() - before, 1);
        assert_eq!(
            refused.to_string(),
            format!(
                "{}/api/v1/query: Prometheus rejected the credentials (HTTP 401); check the \
                 token in $PROM_TOKEN",
                sim.base_url()
            )
        );

        // An unscripted query is refused with the scripted ones named.
        let unknown = good.query("sum(upp)", now).await.unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::BadQuery);
        assert!(
            unknown
                .to_string()
                .contains(r#"no script for query "sum(upp)""#)
        );

        // Scripted errors come back as Prometheus sends them.
        sim.set(
            "slow",
            SimAnswer::Error(ErrorType::Timeout, "query timed out".into()),
        );
        let slow = good.query("slow", now_ms()).await.unwrap_err();
        assert_eq!(slow.kind(), ErrorKind::Timeout);
    });
}

#[test]
fn baton_sim_prometheus_serves_answers_given_on_the_command_line() {
    let home = tempfile::tempdir().unwrap();
    let mut child = baton(home.path())
        .args([
            "sim",
            "prometheus",
            "--answer",
            r#"sum(rate(errors{env="dev"}[5m]))=0.25"#,
            "--answer",
            "up=NaN",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .trim()
        .strip_prefix("Prometheus simulator listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = PrometheusClient::new(PrometheusConfig::new(url, Secret::new(""), "")).unwrap();
    let now = now_ms();
    let (errors, up, range) = rt.block_on(async {
        (
            client
                .query(r#"sum(rate(errors{env="dev"}[5m]))"#, now)
                .await,
            client.query("up", now).await,
            client
                .query_range(
                    "up",
                    TimeRange {
                        start_ms: now - 2000,
                        end_ms: now,
                        step_ms: 1000,
                    },
                )
                .await,
        )
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(errors.unwrap()[0].value, 0.25);
    assert!(up.unwrap()[0].value.is_nan());
    assert_eq!(range.unwrap()[0].points.len(), 3);

    let out = baton(home.path())
        .args(["sim", "prometheus", "--answer", "no-value"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("expected PROMQL=VALUE"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_slo_policy_passes_its_scenario_suite() {
    let home = tempfile::tempdir().unwrap();
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/slo/scenarios");
    for policy in ["builtin:slo", policies::SLO_PATH] {
        let out = baton(home.path())
            .args(["policy", "test", policy])
            .arg(&suite)
            .output()
            .unwrap();
        assert_code(&out, 0);
        let text = stdout(&out);
        assert!(
            text.lines()
                .last()
                .unwrap()
                .starts_with("ok: 20 passed, 0 failed; 20 cases in 9 scenario files ("),
            "{text}"
        );
    }
    let out = baton(home.path())
        .args(["policy", "inspect", "builtin:slo"])
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("baton:policy/metrics@0.2.0"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_metrics_demo_rolls_back_the_release_its_bake_catches() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path())
        .args(["demo", "--metrics"])
        .output()
        .unwrap();
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("Prometheus  http://127.0.0.1:"), "{text}");
    assert!(text.contains("policy      builtin:slo"), "{text}");
    assert!(
        text.contains("held: v1.0.1 is healthy in prod; promotion of payments complete"),
        "{text}"
    );
    assert!(
        text.contains("failed: dev at v1.0.2: error_ratio is 0.27, above its maximum 0.02"),
        "{text}"
    );
    assert!(
        text.contains("held: dev is healthy at v1.0.1 after rolling back v1.0.2"),
        "{text}"
    );
}
