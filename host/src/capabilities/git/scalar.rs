//! YAML scalar text: which quoting style a scalar uses, how to decode it, and
//! how to write a new value in the same style (quoting a plain scalar when
//! the new text would otherwise stop being a string, e.g. `1.10`).

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
    matches!(
        yaml_serde::from_str::<yaml_serde::Value>(value),
        Ok(yaml_serde::Value::String(s)) if s == value
    )
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
    fn decodes_each_style() {
        assert_eq!(decode("v1").as_deref(), Some("v1"));
        assert_eq!(decode("1.10").as_deref(), Some("1.10"));
        assert_eq!(decode("'it''s'").as_deref(), Some("it's"));
        assert_eq!(decode("\"a\\tb\"").as_deref(), Some("a\tb"));
        assert_eq!(decode("\"open"), None);
    }
}
