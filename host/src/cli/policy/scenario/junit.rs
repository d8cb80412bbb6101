//! JUnit XML for CI systems (GitLab, GitHub, Jenkins): one `testsuite` per
//! scenario file, one `testcase` per step, a `failure` carrying the diff.
//! Written by hand: the format is small and escaping is the only subtlety.

use std::fmt::Write as _;
use std::time::Duration;

use super::run::ScenarioReport;

/// The JUnit XML document for `reports`.
pub fn render(reports: &[ScenarioReport], total: Duration) -> String {
    let tests: usize = reports.iter().map(|r| r.cases.len()).sum();
    let failures: usize = reports.iter().map(ScenarioReport::failures).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"baton policy test\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{}\">",
        seconds(total)
    );
    for report in reports {
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" file=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{}\">",
            escape(&report.name),
            escape(&report.file),
            report.cases.len(),
            report.failures(),
            seconds(report.elapsed())
        );
        for (n, case) in report.cases.iter().enumerate() {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                escape(&report.name),
                escape(&format!("{}. {}", n + 1, case.name)),
                seconds(case.elapsed)
            );
            if case.passed {
                xml.push_str("/>\n");
                continue;
            }
            let mut body = case.diff.join("\n");
            for reason in case.actual.reasons() {
                let _ = write!(body, "\nreason: {reason}");
            }
            let _ = writeln!(
                xml,
                ">\n      <failure message=\"decision differs from the expectation\" type=\"mismatch\">{}</failure>\n    </testcase>",
                escape(&body)
            );
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// Escapes text for XML content and attribute values; characters XML 1.0
/// cannot carry at all become U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{1}\n"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;\u{FFFD}\n"
        );
    }
}
