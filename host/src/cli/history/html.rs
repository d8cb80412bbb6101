//! The history as one self-contained HTML page an auditor can attach to a
//! file: inline CSS and SVG, no script, nothing loaded from the network. A
//! timeline (one lane per stage, each change a mark at its time labelled
//! with its version: promotions green circles, rollbacks red triangles,
//! out-of-band changes orange diamonds, each linking to its commit), then
//! the table of changes with links to commits and merge requests.

use std::fmt::Write as _;

use super::{Change, History};

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 110.0;
const RIGHT: f64 = 40.0;
const LANE: f64 = 70.0;
const TOP: f64 = 40.0;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page.
pub fn page(h: &History) -> String {
    let title = format!("Baton history of {}", h.app);
    let period = match (&h.since, &h.until) {
        (Some(s), Some(u)) => format!("from {s} to {u}"),
        (Some(s), None) => format!("from {s}"),
        (None, Some(u)) => format!("up to {u}"),
        (None, None) => "whole history".to_owned(),
    };
    let count = |kind: &str| h.changes.iter().filter(|c| c.kind == kind).count();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n\
         <p class=\"summary\">Branch <code>{}</code>, {}: <span id=\"promotions\">{}</span> \
         promotions, <span id=\"rollbacks\">{}</span> rollbacks, \
         <span id=\"out-of-band\">{}</span> out-of-band changes; {} audit records joined.</p>\n",
        escape(&title),
        escape(&title),
        escape(&h.branch),
        escape(&period),
        count("promotion"),
        count("rollback"),
        count("out-of-band"),
        h.records
    );
    out.push_str(&timeline(h));
    out.push_str(&table(h));
    out.push_str(
        "<p class=\"legend\"><span class=\"promotion\">&#9679; promotion</span> \
         <span class=\"rollback\">&#9660; rollback</span> \
         <span class=\"out-of-band\">&#9670; out of band</span> \
         <span class=\"initial\">&#9679; initial value</span></p>\n</body>\n</html>\n",
    );
    out
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;\
color:#1d2330;background:#fff}h1{font-size:22px;margin:0 0 6px}.summary{color:#4a5263;margin:0 0 \
14px}svg{border:1px solid #d8dce4;border-radius:6px;background:#fafbfc}.lane{font-size:13px;\
font-weight:600;fill:#3a4254}.axis{font-size:11px;fill:#6b7386}.label{font-size:11px;fill:#1d2330}\
table{border-collapse:collapse;margin-top:16px;font-size:13px;width:100%}th,td{border-bottom:1px \
solid #e3e6ec;padding:5px 8px;text-align:left;vertical-align:top}th{background:#f1f3f7}\
tr.rollback td{background:#fdecec}tr.out-of-band td{background:#fff3e0}span.promotion,\
td.promotion{color:#2e7d32}span.rollback,td.rollback{color:#c62828}span.out-of-band,\
td.out-of-band{color:#e65100}span.initial,td.initial{color:#78849b}code{font-size:12px}.legend{font-size:12px}";

/// The SVG timeline.
fn timeline(h: &History) -> String {
    let height = TOP + LANE * h.stages.len().max(1) as f64 + 30.0;
    let axes = Axes::of(h);
    let mut out = format!(
        "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
         height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"versions of each stage over time\">\n"
    );
    for stage in &h.stages {
        write_lane(&mut out, h, &axes, stage);
    }
    write_time_axis(&mut out, &axes, height - 10.0);
    for (i, c) in h.changes.iter().enumerate() {
        write_mark(&mut out, &axes, i, c);
    }
    out.push_str("</svg>\n");
    out
}

/// Where things go on the timeline: time runs left to right from the first
/// change to the last, one lane per stage top to bottom.
struct Axes<'a> {
    /// The time at the left end (seconds since the Unix epoch).
    min: i64,
    /// The time at the right end, after `min`.
    max: i64,
    /// The stages, one lane each, in order.
    stages: &'a [String],
}

impl<'a> Axes<'a> {
    /// The axes of `h`'s changes (sorted by time).
    fn of(h: &'a History) -> Self {
        let (min, max) = match (h.changes.first(), h.changes.last()) {
            (Some(a), Some(b)) => (a.epoch, b.epoch.max(a.epoch + 1)),
            _ => (0, 1),
        };
        Self {
            min,
            max,
            stages: &h.stages,
        }
    }

    /// The horizontal position of time `t`.
    fn x(&self, t: i64) -> f64 {
        let span = (self.max - self.min) as f64;
        LEFT + (WIDTH - LEFT - RIGHT) * ((t - self.min) as f64 / span)
    }

    /// The vertical middle of `stage`'s lane.
    fn lane_y(&self, stage: &str) -> f64 {
        let i = self.stages.iter().position(|s| s == stage).unwrap_or(0);
        TOP + LANE * i as f64 + LANE / 2.0
    }
}

/// Appends `stage`'s lane: its line and name, and a bar for each version
/// it held from its change to the next.
fn write_lane(out: &mut String, h: &History, axes: &Axes<'_>, stage: &str) {
    let y = axes.lane_y(stage);
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#c9ced9\" \
         stroke-width=\"2\"/><text class=\"lane\" x=\"12\" y=\"{}\">{}</text>",
        WIDTH - RIGHT,
        y + 4.0,
        escape(stage)
    );
    // Each version held is a bar from its change to the next.
    let lane: Vec<&Change> = h.changes.iter().filter(|c| c.stage == stage).collect();
    for pair in lane.windows(2) {
        let _ = writeln!(
            out,
            "<line x1=\"{:.1}\" y1=\"{y}\" x2=\"{:.1}\" y2=\"{y}\" stroke=\"#8fa3c4\" \
             stroke-width=\"6\" stroke-opacity=\"0.5\"/>",
            axes.x(pair[0].epoch),
            axes.x(pair[1].epoch)
        );
    }
}

/// Appends the times of both ends of the timeline at height `bottom`.
fn write_time_axis(out: &mut String, axes: &Axes<'_>, bottom: f64) {
    for (t, anchor) in [(axes.min, "start"), (axes.max, "end")] {
        let when = crate::time::format_rfc3339(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(t).unwrap_or(0)),
        );
        let _ = writeln!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{bottom}\" text-anchor=\"{anchor}\">{}</text>",
            axes.x(t),
            escape(&when)
        );
    }
}

/// Appends the mark of change `c` (the `i`th) with its version label,
/// linking to its commit when there is a link.
fn write_mark(out: &mut String, axes: &Axes<'_>, i: usize, c: &Change) {
    let (cx, cy) = (axes.x(c.epoch), axes.lane_y(&c.stage));
    let (colour, shape) = mark_shape(&c.kind, cx, cy);
    // Labels alternate above and below so close changes stay readable.
    let label_y = if i.is_multiple_of(2) {
        cy - 14.0
    } else {
        cy + 22.0
    };
    let mark = format!(
        "{shape} class=\"mark {}\" data-stage=\"{}\" data-version=\"{}\" fill=\"{colour}\">\
         <title>{} {} {} at {} ({})</title></{}>",
        escape(&c.kind),
        escape(&c.stage),
        escape(&c.to),
        escape(&c.stage),
        escape(&c.kind),
        escape(&c.to),
        escape(&c.time),
        escape(&c.commit[..c.commit.len().min(8)]),
        if shape.starts_with("<circle") {
            "circle"
        } else {
            "polygon"
        }
    );
    let label = format!(
        "<text class=\"label\" x=\"{cx:.1}\" y=\"{label_y:.1}\" text-anchor=\"middle\">{}</text>",
        escape(&c.to)
    );
    match &c.commit_url {
        Some(url) => {
            let _ = writeln!(out, "<a href=\"{}\">{mark}{label}</a>", escape(url));
        }
        None => {
            let _ = writeln!(out, "{mark}{label}");
        }
    }
}

/// The colour and the opening of the SVG element (attributes still open)
/// of a change of `kind` at (`cx`, `cy`): rollbacks red triangles,
/// out-of-band changes orange diamonds, initial values small grey circles,
/// promotions green circles.
fn mark_shape(kind: &str, cx: f64, cy: f64) -> (&'static str, String) {
    match kind {
        "rollback" => (
            "#c62828",
            format!(
                "<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"",
                cx - 8.0,
                cy - 6.0,
                cx + 8.0,
                cy - 6.0,
                cx,
                cy + 8.0
            ),
        ),
        "out-of-band" => (
            "#e65100",
            format!(
                "<polygon points=\"{cx:.1},{:.1} {:.1},{cy:.1} {cx:.1},{:.1} {:.1},{cy:.1}\"",
                cy - 9.0,
                cx + 9.0,
                cy + 9.0,
                cx - 9.0
            ),
        ),
        "initial" => (
            "#78849b",
            format!("<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"5\""),
        ),
        _ => (
            "#2e7d32",
            format!("<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"7\""),
        ),
    }
}

/// The table of changes.
fn table(h: &History) -> String {
    let mut out = String::from(
        "<table id=\"changes\">\n<thead><tr><th>Time</th><th>Stage</th><th>Change</th>\
         <th>Version</th><th>Commit</th><th>Merge request</th><th>Gate</th>\
         <th>Approved / merged by</th><th>Reason</th></tr></thead>\n<tbody>\n",
    );
    for c in &h.changes {
        let link = |text: &str, url: Option<&String>| match url {
            Some(u) => format!("<a href=\"{}\">{}</a>", escape(u), escape(text)),
            None => escape(text),
        };
        let commit = link(&c.commit[..c.commit.len().min(8)], c.commit_url.as_ref());
        let mr = c.merge_request.map_or_else(
            || "-".to_owned(),
            |n| link(&format!("!{n}"), c.merge_request_url.as_ref()),
        );
        let gate = c.gate.as_ref().map_or_else(
            || "-".to_owned(),
            |g| {
                escape(&format!(
                    "{}{} ({} observations)",
                    g.result,
                    g.last
                        .as_deref()
                        .map(|l| format!(": {l}"))
                        .unwrap_or_default(),
                    g.observations
                ))
            },
        );
        let mut people: Vec<String> = c
            .approvals
            .iter()
            .map(|a| {
                format!(
                    "approved by {}{}",
                    a.user,
                    a.at.as_deref()
                        .map(|t| format!(" at {t}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        if let Some(m) = &c.merged_by {
            people.push(format!("merged by {m}"));
        }
        let reason = if c.kind == "out-of-band" {
            c.out_of_band.join("; ")
        } else {
            match (&c.reason, &c.rollback_of) {
                (Some(r), Some(of)) => format!("rolled back {of}: {r}"),
                (None, Some(of)) => format!("rolled back {of}"),
                (Some(r), None) => r.clone(),
                (None, None) => "-".into(),
            }
        };
        let _ = writeln!(
            out,
            "<tr class=\"{kind}\" data-stage=\"{stage}\"><td>{}</td><td>{stage}</td>\
             <td class=\"{kind}\">{kind}</td><td>{} &#8594; {}</td><td><code>{commit}</code></td>\
             <td>{mr}</td><td>{gate}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.time),
            escape(c.from.as_deref().unwrap_or("-")),
            escape(&c.to),
            escape(&if people.is_empty() {
                "-".to_owned()
            } else {
                people.join("; ")
            }),
            escape(&reason),
            kind = escape(&c.kind),
            stage = escape(&c.stage),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
