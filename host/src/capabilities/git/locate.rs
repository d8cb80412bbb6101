//! Finds a field's scalar in yaml-edit's lossless syntax tree and returns its
//! exact byte span, so an edit can splice new text in and leave every other
//! byte alone. Refuses aliases, anchors and merge keys on the path, and a
//! `[key=value]` selector that more than one item matches (two Kustomize
//! `images` entries with the same name): which one is meant is a guess.

use rowan::ast::AstNode;
use yaml_edit::{Lang, SyntaxKind, YamlFile};

use super::error::FieldError;
use super::field::{FieldSpec, Segment, display_path};
use super::scalar::{self, Style};

type Node = rowan::SyntaxNode<Lang>;

/// The scalar a field points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    /// Byte range of the scalar's text (quotes included).
    pub start: usize,
    /// End of the range (exclusive).
    pub end: usize,
    /// How it is written.
    pub style: Style,
    /// The decoded value (plain scalars as written).
    pub value: String,
    /// The span is empty right after `:`, so a space must precede new text.
    pub needs_space: bool,
}

/// Walks `field`'s path through document `doc_index` of `text`.
pub(crate) fn locate(
    file: &str,
    field: &FieldSpec,
    text: &str,
    doc_index: usize,
) -> Result<Located, FieldError> {
    let path = field.path();
    let walk = Walk {
        file,
        field,
        path: &path,
    };
    let parsed = YamlFile::parse(text).tree();
    let root = parsed.syntax().clone();
    let doc = root
        .children()
        .filter(|n| n.kind() == SyntaxKind::DOCUMENT)
        .nth(doc_index)
        .ok_or_else(|| walk.missing(0))?;
    let mut container = doc;
    for (i, segment) in path.iter().enumerate() {
        let content = content_of(file, field, &container, &|| walk.at(i))?;
        let Some(content) = content else {
            return Err(walk.missing(i + 1));
        };
        container = walk.step(i, segment, &content)?;
    }
    walk.scalar(&container, text)
}

/// One field's path through one document, and the errors that name where
/// on it something went wrong.
struct Walk<'a> {
    file: &'a str,
    field: &'a FieldSpec,
    path: &'a [Segment],
}

impl Walk<'_> {
    /// The path up to (not including) segment `upto`, as written.
    fn at(&self, upto: usize) -> String {
        display_path(&self.path[..upto])
    }

    fn missing(&self, upto: usize) -> FieldError {
        FieldError::KeyMissing {
            file: self.file.to_owned(),
            field: self.field.to_string(),
            missing: self.at(upto),
        }
    }

    fn wrong_type(&self, upto: usize, node: &Node, expected: &'static str) -> FieldError {
        FieldError::WrongType {
            file: self.file.to_owned(),
            field: self.field.to_string(),
            at: self.at(upto),
            found: kind_name(node),
            expected,
        }
    }

    /// Segment `i` applied to `content`: the VALUE or SEQUENCE_ENTRY it
    /// leads to.
    fn step(&self, i: usize, segment: &Segment, content: &Node) -> Result<Node, FieldError> {
        let expect = |kind, name| {
            if content.kind() == kind {
                Ok(())
            } else {
                Err(self.wrong_type(i, content, name))
            }
        };
        let entries = || {
            content
                .children()
                .filter(|c| c.kind() == SyntaxKind::SEQUENCE_ENTRY)
        };
        match segment {
            Segment::Key(key) => {
                expect(SyntaxKind::MAPPING, "a mapping")?;
                self.key(i, content, key)
            }
            Segment::Index(n) => {
                expect(SyntaxKind::SEQUENCE, "a sequence")?;
                entries().nth(*n).ok_or_else(|| self.missing(i + 1))
            }
            Segment::Select { key, value } => {
                expect(SyntaxKind::SEQUENCE, "a sequence")?;
                let mut matching = entries().filter(|item| item_matches(item, key, value));
                let first = matching.next().ok_or_else(|| self.missing(i + 1))?;
                match matching.count() {
                    0 => Ok(first),
                    others => Err(FieldError::Ambiguous {
                        file: self.file.to_owned(),
                        field: self.field.to_string(),
                        at: self.at(i + 1),
                        count: others + 1,
                    }),
                }
            }
        }
    }

    /// The value of `key` in `mapping` (the entry itself when it has no
    /// VALUE); a merge key anywhere in the mapping is refused.
    fn key(&self, i: usize, mapping: &Node, key: &str) -> Result<Node, FieldError> {
        let mut found = None;
        for entry in mapping
            .children()
            .filter(|n| n.kind() == SyntaxKind::MAPPING_ENTRY)
        {
            let k = key_text(&entry);
            if k.as_deref() == Some("<<") {
                return Err(FieldError::MergeKey {
                    file: self.file.to_owned(),
                    field: self.field.to_string(),
                    at: self.at(i),
                });
            }
            if found.is_none() && k.as_deref() == Some(key) {
                found = Some(entry);
            }
        }
        let entry = found.ok_or_else(|| self.missing(i + 1))?;
        Ok(
            match entry.children().find(|n| n.kind() == SyntaxKind::VALUE) {
                Some(v) => v,
                None => entry,
            },
        )
    }

    /// The scalar at the end of the path, held by `container`.
    fn scalar(&self, container: &Node, text: &str) -> Result<Located, FieldError> {
        let whole = self.path.len();
        match content_of(self.file, self.field, container, &|| self.at(whole))? {
            Some(node) if node.kind() == SyntaxKind::SCALAR => {
                let mut located = scalar_at(self.file, self.field, &node)?;
                located.needs_space =
                    located.start == located.end && text[..located.start].ends_with(':');
                Ok(located)
            }
            Some(node) => Err(self.wrong_type(whole, &node, "a scalar")),
            // `key:` with nothing after it: a null to be replaced.
            None => {
                let end = match container
                    .children_with_tokens()
                    .find(|t| t.kind() == SyntaxKind::COLON)
                {
                    Some(colon) => usize::from(colon.text_range().end()),
                    None => usize::from(container.text_range().start()),
                };
                Ok(Located {
                    start: end,
                    end,
                    style: Style::Plain,
                    value: String::new(),
                    needs_space: text[..end].ends_with(':'),
                })
            }
        }
    }
}

/// The node a VALUE / SEQUENCE_ENTRY / DOCUMENT holds, after refusing
/// anchors and aliases and looking through tags.
fn content_of(
    file: &str,
    field: &FieldSpec,
    container: &Node,
    at: &dyn Fn() -> String,
) -> Result<Option<Node>, FieldError> {
    let refuse = |what| FieldError::AliasOrAnchor {
        file: file.to_owned(),
        field: field.to_string(),
        what,
        at: at(),
    };
    let mut node = container.clone();
    loop {
        if node
            .children_with_tokens()
            .any(|t| t.kind() == SyntaxKind::ANCHOR)
        {
            return Err(refuse("anchor"));
        }
        let mut next = None;
        for child in node.children() {
            match child.kind() {
                SyntaxKind::ALIAS => return Err(refuse("alias")),
                SyntaxKind::TAGGED_NODE => next = Some((child, true)),
                SyntaxKind::MAPPING | SyntaxKind::SEQUENCE | SyntaxKind::SCALAR => {
                    next = Some((child, false));
                }
                _ => {}
            }
            if next.is_some() {
                break;
            }
        }
        match next {
            Some((tagged, true)) => node = tagged,
            Some((content, false)) => return Ok(Some(content)),
            None => return Ok(None),
        }
    }
}

fn kind_name(node: &Node) -> &'static str {
    match node.kind() {
        SyntaxKind::MAPPING => "mapping",
        SyntaxKind::SEQUENCE => "sequence",
        _ => "scalar",
    }
}

/// The decoded text of a MAPPING_ENTRY's key.
fn key_text(entry: &Node) -> Option<String> {
    let key = entry.children().find(|n| n.kind() == SyntaxKind::KEY)?;
    let scalar = key.descendants().find(|n| n.kind() == SyntaxKind::SCALAR)?;
    let raw = scalar.text().to_string();
    scalar::decode(raw.trim())
}

/// Whether a sequence item is a mapping whose `key` is the scalar `value`.
fn item_matches(item: &Node, key: &str, value: &str) -> bool {
    let Some(mapping) = item.children().find(|n| n.kind() == SyntaxKind::MAPPING) else {
        return false;
    };
    mapping
        .children()
        .filter(|n| n.kind() == SyntaxKind::MAPPING_ENTRY)
        .find(|e| key_text(e).as_deref() == Some(key))
        .and_then(|e| e.children().find(|n| n.kind() == SyntaxKind::VALUE))
        .and_then(|v| v.children().find(|n| n.kind() == SyntaxKind::SCALAR))
        .and_then(|s| scalar::decode(s.text().to_string().trim()))
        .is_some_and(|v| v == value)
}

fn scalar_at(file: &str, field: &FieldSpec, node: &Node) -> Result<Located, FieldError> {
    let unsupported = |style| FieldError::UnsupportedScalar {
        file: file.to_owned(),
        field: field.to_string(),
        style,
    };
    if node
        .children_with_tokens()
        .any(|t| matches!(t.kind(), SyntaxKind::PIPE | SyntaxKind::GREATER))
    {
        return Err(unsupported("block"));
    }
    let range = node.text_range();
    let raw = node.text().to_string();
    let trimmed_len = raw.trim_end().len();
    if raw[..trimmed_len].contains(['\n', '\r']) {
        return Err(unsupported("multi-line"));
    }
    let start = usize::from(range.start());
    let raw = &raw[..trimmed_len];
    let value = scalar::decode(raw).ok_or_else(|| unsupported("malformed"))?;
    Ok(Located {
        start,
        end: start + trimmed_len,
        style: Style::of(raw),
        value,
        needs_space: false,
    })
}
