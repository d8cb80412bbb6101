//! Reading and setting one field in a YAML file's bytes. Setting renders
//! the field's value (the version, a digest, or a value template around
//! them), splices the new scalar text into the located byte span (so
//! comments, key order, quoting, indentation, CRLF and the trailing-newline
//! state survive), then re-parses both versions with `yaml_serde` and checks
//! that exactly the intended value changed. Reading matches the value back.

use serde::Deserialize;
use yaml_serde::Value;

use super::error::FieldError;
use super::field::{FieldSpec, Segment};
use super::locate::{Located, locate};
use super::scalar;
use super::value::StageValue;

/// Files larger than this are refused (env repo files are small; a huge file
/// is a mistake or an attack).
pub const MAX_FILE_SIZE: usize = 1024 * 1024;

/// The byte offset of the scalar `field` points at in the first document
/// of `text`, if the path exists there. Lets other parsers of YAML
/// (`baton.yaml`'s) point an error at the right line.
pub(crate) fn offset_of(text: &str, field: &FieldSpec) -> Option<usize> {
    locate("", field, text, field.document.unwrap_or(0))
        .ok()
        .map(|l| l.start)
}

/// The result of [`set_field`] and [`set_value`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edited {
    /// The field already holds the value; no new bytes.
    Unchanged,
    /// The new file content; `old` is the field's previous text.
    Changed {
        /// The field's previous text (the whole image reference, for a
        /// value template).
        old: String,
        /// The whole new file.
        bytes: Vec<u8>,
    },
}

/// A file that passed the size, UTF-8, syntax and document checks.
struct Checked<'a> {
    /// The text after the byte order mark, if any.
    text: &'a str,
    /// The file starts with a UTF-8 byte order mark (kept when writing).
    bom: bool,
    docs: Vec<Value>,
    doc_index: usize,
}

/// UTF-8's byte order mark.
const BOM: &str = "\u{feff}";

fn check<'a>(file: &str, field: &FieldSpec, bytes: &'a [u8]) -> Result<Checked<'a>, FieldError> {
    if bytes.len() > MAX_FILE_SIZE {
        return Err(FieldError::TooLarge {
            file: file.to_owned(),
            field: field.to_string(),
            size: bytes.len(),
            limit: MAX_FILE_SIZE,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|source| FieldError::InvalidUtf8 {
        file: file.to_owned(),
        field: field.to_string(),
        source,
    })?;
    let (text, bom) = match text.strip_prefix(BOM) {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let docs = parse_all(text).map_err(|source| {
        let (line, column) = source.location().map_or((0, 0), |l| (l.line(), l.column()));
        FieldError::Syntax {
            file: file.to_owned(),
            field: field.to_string(),
            line,
            column,
            source,
        }
    })?;
    let doc_index = match field.document {
        None if docs.len() > 1 => {
            return Err(FieldError::MultiDocument {
                file: file.to_owned(),
                field: field.to_string(),
                count: docs.len(),
            });
        }
        None => 0,
        Some(index) if index >= docs.len() => {
            return Err(FieldError::DocumentMissing {
                file: file.to_owned(),
                field: field.to_string(),
                index,
                count: docs.len(),
            });
        }
        Some(index) => index,
    };
    Ok(Checked {
        text,
        bom,
        docs,
        doc_index,
    })
}

fn parse_all(text: &str) -> Result<Vec<Value>, yaml_serde::Error> {
    yaml_serde::Deserializer::from_str(text)
        .map(Value::deserialize)
        .collect()
}

/// The version `field` holds in `bytes` ([`read_value`]'s version).
pub fn read_field(file: &str, field: &FieldSpec, bytes: &[u8]) -> Result<String, FieldError> {
    read_value(file, field, bytes).map(|v| v.version)
}

/// The version and digest `field` holds in `bytes`: its scalar (a plain
/// one as written, a quoted one decoded) matched against the field's value
/// template. A value behind an alias or a merge key, which Baton refuses
/// to write, is still read, as the YAML parser resolves it.
pub fn read_value(file: &str, field: &FieldSpec, bytes: &[u8]) -> Result<StageValue, FieldError> {
    let checked = check(file, field, bytes)?;
    let raw = match locate(file, field, checked.text, checked.doc_index) {
        Ok(located) => located.value,
        Err(e @ (FieldError::AliasOrAnchor { .. } | FieldError::MergeKey { .. })) => {
            resolved(&checked, field).ok_or(e)?
        }
        Err(e) => return Err(e),
    };
    field.read(&raw).map_err(|reason| FieldError::Value {
        file: file.to_owned(),
        field: field.to_string(),
        reason,
    })
}

/// The scalar at `field` as yaml_serde resolves aliases and merge keys.
fn resolved(checked: &Checked<'_>, field: &FieldSpec) -> Option<String> {
    let mut doc = checked.docs.get(checked.doc_index)?.clone();
    doc.apply_merge().ok()?;
    match navigate(&mut doc, &field.path())? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Sets `field` in `bytes` to `version` (with no digest; see
/// [`set_value`]), preserving every other byte.
pub fn set_field(
    file: &str,
    field: &FieldSpec,
    bytes: &[u8],
    version: &str,
) -> Result<Edited, FieldError> {
    set_value(file, field, bytes, version, None)
}

/// Sets `field` in `bytes` to hold `version` and `digest` (the field's
/// value template rendered), preserving every other byte.
pub fn set_value(
    file: &str,
    field: &FieldSpec,
    bytes: &[u8],
    version: &str,
    digest: Option<&str>,
) -> Result<Edited, FieldError> {
    let checked = check(file, field, bytes)?;
    let located: Located = locate(file, field, checked.text, checked.doc_index)?;
    let value = field
        .render(version, digest)
        .map_err(|reason| FieldError::Value {
            file: file.to_owned(),
            field: field.to_string(),
            reason,
        })?;
    let value = value.as_str();
    if located.value == value {
        return Ok(Edited::Unchanged);
    }
    let mut new_scalar = scalar::render(value, located.style);
    if located.needs_space {
        new_scalar.insert(0, ' ');
    }
    let text = checked.text;
    let mut out = String::with_capacity(text.len() + new_scalar.len());
    if checked.bom {
        out.push_str(BOM);
    }
    out.push_str(&text[..located.start]);
    out.push_str(&new_scalar);
    out.push_str(&text[located.end..]);

    verify(file, field, value, &checked, &out)?;
    Ok(Edited::Changed {
        old: located.value,
        bytes: out.into_bytes(),
    })
}

/// Checks that `new_text` equals the original with exactly `field` set to
/// the string `value`.
fn verify(
    file: &str,
    field: &FieldSpec,
    value: &str,
    checked: &Checked<'_>,
    new_text: &str,
) -> Result<(), FieldError> {
    let failed = |reason: String| FieldError::VerifyFailed {
        file: file.to_owned(),
        field: field.to_string(),
        value: value.to_owned(),
        reason,
    };
    let new_docs = parse_all(new_text.strip_prefix(BOM).unwrap_or(new_text))
        .map_err(|e| failed(format!("the result does not parse: {e}")))?;
    let path = field.path();
    let mut expected = checked.docs.clone();
    let target = expected
        .get_mut(checked.doc_index)
        .and_then(|doc| navigate(doc, &path))
        .ok_or_else(|| failed("the field is not visible to the YAML parser".into()))?;
    *target = Value::String(value.to_owned());
    if new_docs != expected {
        return Err(failed(
            "the re-parsed file differs elsewhere or the value did not read back as a string"
                .into(),
        ));
    }
    Ok(())
}

/// The value at `path` inside `doc`, as yaml_serde sees it.
fn navigate<'v>(doc: &'v mut Value, path: &[Segment]) -> Option<&'v mut Value> {
    let mut cur = doc;
    for seg in path {
        while let Value::Tagged(tagged) = cur {
            cur = &mut tagged.value;
        }
        cur = match seg {
            Segment::Key(k) => cur.as_mapping_mut()?.get_mut(k.as_str())?,
            Segment::Index(i) => cur.as_sequence_mut()?.get_mut(*i)?,
            Segment::Select { key, value } => cur.as_sequence_mut()?.iter_mut().find(|item| {
                item.as_mapping()
                    .and_then(|m| m.get(key.as_str()))
                    .is_some_and(|v| scalar_eq(v, value))
            })?,
        };
    }
    while let Value::Tagged(tagged) = cur {
        cur = &mut tagged.value;
    }
    Some(cur)
}

fn scalar_eq(v: &Value, text: &str) -> bool {
    match v {
        Value::String(s) => s == text,
        Value::Number(n) => n.to_string() == text,
        Value::Bool(b) => b.to_string() == text,
        _ => false,
    }
}
