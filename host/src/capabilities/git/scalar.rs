//! YAML scalar text: which quoting style a scalar uses, how to decode it, and
//! how to write a new value in the same style (quoting a plain scalar when
//! the new text would otherwise stop being a string, e.g. `1.10`).
//!
//! "Stop being a string" is judged by both resolvers that read env repos:
//! YAML 1.2's core schema (yaml_serde) and YAML 1.1's (Helm's go-yaml,
//! PyYAML), which also read `yes`, `off`, `0712345` (octal), `1_000`,
//! `1:20` (base 60) and dates as non-strings.

use std::sync::LazyLock;

use regex::Regex;

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `v1`
    Plain,
    /// `'v1'`
    SingleQuoted,
    /// `"v1"`
    DoubleQuoted,
}

impl Style {
    /// The style of a scalar's source text.
    pub fn of(raw: &str) -> Self {
        match raw.as_bytes().first() {
            Some(b'"') => Self::DoubleQuoted,
            Some(b'\'') => Self::SingleQuoted,
            _ => Self::Plain,
        }
    }
}

/// The value of a single-line scalar's source text; `None` when the quoting
/// is malformed. Plain scalars are returned as written (so `1.10` stays
/// `1.10`, not the float `1.1`).
pub(crate) fn decode(raw: &str) -> Option<String> {
    match Style::of(raw) {
        Style::Plain => Some(raw.to_owned()),
        Style::SingleQuoted => {
            let inner = raw.strip_prefix('\'')?.strip_suffix('\'')?;
            Some(inner.replace("''", "'"))
        }
        Style::DoubleQuoted => match yaml_serde::from_str::<yaml_serde::Value>(raw).ok()? {
            yaml_serde::Value::String(s) => Some(s),
            _ => None,
        },
    }
}

/// Source text for `value` in `style`. A plain scalar stays plain only if
/// YAML would read the new text back as exactly this string; otherwise it
/// becomes double-quoted. Single quotes fall back to double quotes for
/// values that need escapes.
pub(crate) fn render(value: &str, style: Style) -> String {
    match style {
        Style::Plain if plain_is_safe(value) => value.to_owned(),
        Style::SingleQuoted if !value.chars().any(char::is_control) => {
            format!("'{}'", value.replace('\'', "''"))
        }
        _ => double_quoted(value),
    }
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `value` can be written as a plain scalar in block or flow
/// context and still read back as the same string.
fn plain_is_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    if value.trim() != value
        || value.chars().any(|c| c.is_control() || ",[]{}".contains(c))
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || value.contains(": ")
        || value.contains(" #")
        || value.ends_with(':')
    {
        return false;
    }
    !yaml11_non_string(value)
        && matches!(
            yaml_serde::from_str::<yaml_serde::Value>(value),
            Ok(yaml_serde::Value::String(s)) if s == value
        )
}

/// Would a YAML 1.1 resolver read the plain scalar `value` as something
/// other than a string? The patterns are YAML 1.1's implicit types
/// (bool, null, int, float, timestamp, merge, value), as PyYAML and go-yaml
/// resolve them; booleans and nulls in any case.
fn yaml11_non_string(value: &str) -> bool {
    static IMPLICIT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^(?:",
            // bool and null, any case
            r"(?i:y|yes|n|no|true|false|on|off|null|~)",
            // int: binary, octal, hex, decimal with underscores, base 60
            r"|[-+]?0b[01_]+",
            r"|[-+]?0o?[0-7_]+",
            r"|[-+]?0x[0-9a-fA-F_]+",
            r"|[-+]?[0-9][0-9_]*",
            r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
            // float
            r"|[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?",
            r"|[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            // timestamp
            r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}",
            r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?",
            r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?",
            // merge and value keys
            r"|<<|=",
            r")$"
        ))
        .expect("a valid regular expression")
    });
    IMPLICIT.is_match(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_style_and_quotes_when_type_would_change() {
        assert_eq!(render("v1.2.3", Style::Plain), "v1.2.3");
        assert_eq!(render("1.10", Style::Plain), "\"1.10\"");
        assert_eq!(render("true", Style::Plain), "\"true\"");
        assert_eq!(render("null", Style::Plain), "\"null\"");
        assert_eq!(render("", Style::Plain), "\"\"");
        assert_eq!(render("a: b", Style::Plain), "\"a: b\"");
        assert_eq!(render("1.10", Style::SingleQuoted), "'1.10'");
        assert_eq!(render("it's", Style::SingleQuoted), "'it''s'");
        assert_eq!(render("a\"b\\c", Style::DoubleQuoted), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn what_yaml_1_1_reads_as_non_strings_is_quoted() {
        for v in [
            "0712345",
            "010",
            "on",
            "yes",
            "Off",
            "Y",
            "NO",
            "1_000",
            "1__0",
            "0.1_0",
            "1:20",
            "0b101",
            "0x1F",
            ".inf",
            "-.Inf",
            ".NaN",
            "~",
            "Null",
            "2024-01-02",
            "2001-12-14t21:59:43.10-05:00",
            "<<",
            "=",
            "1.",
        ] {
            assert_eq!(render(v, Style::Plain), format!("\"{v}\""), "{v}");
        }
        for v in [
            "v1.2.3",
            "1.2.3",
            "1.0.0-rc.1",
            "abc123",
            "release-2024",
            "0712345z",
            "v010",
        ] {
            assert_eq!(render(v, Style::Plain), v, "{v}");
        }
    }

    #[test]
    fn decodes_each_style() {
        assert_eq!(decode("v1").as_deref(), Some("v1"));
        assert_eq!(decode("1.10").as_deref(), Some("1.10"));
        assert_eq!(decode("'it''s'").as_deref(), Some("it's"));
        assert_eq!(decode("\"a\\tb\"").as_deref(), Some("a\tb"));
        assert_eq!(decode("\"open"), None);
    }
}
