//! `baton history` on the audit world (`super::audit_verify::world`):
//! promotions, the gate that followed each, the rollback with its reason,
//! the approval and merge of the staging merge request, and the hand-made
//! prod change flagged out of band; as text, JSON and CSV, and as the HTML
//! page loaded in a real headless Chromium (Debian's `chromium`), whose DOM
//! and screenshot are checked. Without Chromium the browser test is
//! skipped, unless `BATON_REQUIRE_TOOLS=1`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::audit_verify::world;
use crate::engine::env::{APP, assert_code, stdout};

fn history(format: &str) -> String {
    let w = world();
    let out = w.env.baton(&[
        "history",
        "--app",
        APP,
        "--records",
        "baton-audit",
        "--since",
        &w.started,
        "--output",
        format,
    ]);
    assert_code(&out, 0);
    stdout(&out)
}

#[test]
fn history_lists_promotions_gates_rollbacks_approvals_and_out_of_band_changes() {
    let json: Value = serde_json::from_str(&history("json")).unwrap();
    assert_eq!(json["app"], "payments");
    assert_eq!(json["records"], 4);
    let changes = json["changes"].as_array().unwrap();
    let row = |stage: &str, to: &str, kind: &str| {
        changes
            .iter()
            .find(|c| c["stage"] == stage && c["to"] == to && c["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} of {stage} to {to} in {json:#}"))
    };
    let dev = row("dev", "v1.0.1", "promotion");
    assert_eq!(dev["gate"]["result"], "decided");
    assert_eq!(dev["gate"]["last"], "Healthy / Synced");
    assert_eq!(dev["reason"], "v1.0.1 is a new version of payments");
    let staging = row("staging", "v1.0.1", "promotion");
    assert_eq!(staging["merged_by"], "carol");
    assert_eq!(staging["approvals"][0]["user"], "alice");
    assert!(
        staging["merge_request_url"]
            .as_str()
            .unwrap()
            .contains("/-/merge_requests/")
    );
    let failed = row("dev", "v1.0.2", "promotion");
    assert_eq!(failed["gate"]["last"], "Degraded / Synced");
    let rollback = row("dev", "v1.0.1", "rollback");
    assert_eq!(rollback["rollback_of"], "v1.0.2");
    assert!(
        rollback["reason"].as_str().unwrap().contains("Degraded"),
        "{rollback}"
    );
    for stage in ["dev", "staging", "prod"] {
        assert!(
            row(stage, "v1.0.0", "initial")["out_of_band"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
    let hand = row("prod", "v1.0.2", "out-of-band");
    assert_eq!(hand["commit"], world().hand_commit.as_str());
    assert!(
        hand["out_of_band"]
            .to_string()
            .contains("committed directly to prod")
    );

    let text = history("text");
    assert!(text.starts_with("history of payments on main ("), "{text}");
    assert!(text.contains("TIME"), "{text}");
    assert!(text.contains("alice; merged by carol"), "{text}");
    let csv = history("csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "time,stage,kind,from,to,commit,run,merge_request,gate,last_observation,merged_by,approvals,reason,out_of_band"
        )
    );
    assert_eq!(lines.count(), changes.len());
}

/// Debian's Chromium, when installed (`.ci/audit.sh` installs it).
fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("BATON_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "BATON_REQUIRE_TOOLS=1 but chromium is not installed: run .ci/audit.sh"
        );
        eprintln!("chromium not installed: skipping the browser test (.ci/audit.sh installs it)");
    }
    found
}

/// Headless Chromium with the flags a closed network needs.
fn headless(chromium: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn the_html_report_shows_the_timeline_and_table_in_chromium() {
    let html = history("html");
    assert!(
        !html.contains("http-equiv") && !html.contains("<script"),
        "self-contained, no script"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("@import"),
        "nothing fetched"
    );
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("history.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());

    let out = headless(&chromium, &dir.path().join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert_code(&out, 0);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<h1>Baton history of payments</h1>"), "{dom}");
    assert!(dom.contains("<svg id=\"timeline\""), "{dom}");
    for stage in ["dev", "staging", "prod"] {
        let lane = regex::Regex::new(&format!(
            r#"<text class="lane" x="12" y="\d+">{stage}</text>"#
        ))
        .unwrap();
        assert!(lane.is_match(&dom), "no lane {stage}: {dom}");
    }
    let json: Value = serde_json::from_str(&history("json")).unwrap();
    let changes = json["changes"].as_array().unwrap();
    assert_eq!(dom.matches("class=\"mark ").count(), changes.len(), "{dom}");
    assert_eq!(dom.matches("class=\"mark rollback\"").count(), 1, "{dom}");
    // The hand-made prod change; the seed commit set every stage's first value.
    assert_eq!(
        dom.matches("class=\"mark out-of-band\"").count(),
        1,
        "{dom}"
    );
    assert_eq!(dom.matches("class=\"mark initial\"").count(), 3, "{dom}");
    assert_eq!(dom.matches("<tr class=").count(), changes.len(), "{dom}");
    assert!(dom.contains("approved by alice at "), "{dom}");
    assert!(dom.contains("merged by carol"), "{dom}");
    assert!(
        dom.contains("<span id=\"rollbacks\">1</span> rollbacks"),
        "{dom}"
    );
    assert!(dom.contains("/-/commit/"), "commit links: {dom}");

    let shot = dir.path().join("history.png");
    let out = headless(&chromium, &dir.path().join("profile-shot"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1180,900")
        .arg(&url)
        .output()
        .unwrap();
    assert_code(&out, 0);
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // A rendered page, not a blank one: far more bytes than an empty PNG.
    assert!(png.len() > 20_000, "{} bytes", png.len());
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("history-report.png");
    std::fs::copy(&shot, &keep).unwrap();
}
