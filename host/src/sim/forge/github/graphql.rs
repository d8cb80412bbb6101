//! Just enough GraphQL for the simulator's `POST /graphql`: a parser for
//! one operation (`query`/`mutation`, optional name and variable
//! definitions, fields with aliases, arguments and selection sets, inline
//! fragments, every literal kind and `$variables`), and the projection of
//! a resolved JSON object onto a selection set, with GraphQL's error for a
//! field the type does not have. Fragment definitions and directives are
//! not supported: they answer a parse error naming them.

use serde_json::{Map, Value};

/// One field of a selection set.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Field {
    /// The key in the response (alias, else name).
    pub key: String,
    /// The field's name.
    pub name: String,
    /// Arguments, with variables substituted.
    pub args: Map<String, Value>,
    /// Sub-selection (empty for a leaf).
    pub selection: Vec<Field>,
    /// 1-based line and column of the field.
    pub at: (usize, usize),
}

/// A parsed operation.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Operation {
    /// `query` or `mutation`.
    pub kind: String,
    /// Its top-level fields.
    pub fields: Vec<Field>,
}

/// A syntax error, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParseError {
    /// What was wrong.
    pub message: String,
    /// 1-based line and column.
    pub at: (usize, usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Punct(char),
    Spread,
    Name(String),
    Str(String),
    Num(String),
}

/// A token and its 1-based line and column.
type Spanned = (Tok, (usize, usize));

struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
    col: usize,
}

impl Lexer<'_> {
    fn tokens(text: &str) -> Result<Vec<Spanned>, ParseError> {
        let mut lexer = Lexer {
            text: text.as_bytes(),
            pos: 0,
            line: 1,
            col: 1,
        };
        let mut out = Vec::new();
        while let Some(tok) = lexer.next()? {
            out.push(tok);
        }
        Ok(out)
    }

    fn bump(&mut self) -> Option<u8> {
        let c = *self.text.get(self.pos)?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn fail(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            at: (self.line, self.col),
        }
    }

    fn next(&mut self) -> Result<Option<Spanned>, ParseError> {
        // Whitespace, commas and comments are insignificant.
        while let Some(&c) = self.text.get(self.pos) {
            if c.is_ascii_whitespace() || c == b',' {
                self.bump();
            } else if c == b'#' {
                while self.text.get(self.pos).is_some_and(|&c| c != b'\n') {
                    self.bump();
                }
            } else {
                break;
            }
        }
        let at = (self.line, self.col);
        let Some(c) = self.bump() else {
            return Ok(None);
        };
        let tok = match c {
            b'.' => {
                if self.bump() != Some(b'.') || self.bump() != Some(b'.') {
                    return Err(self.fail("Expected `...`"));
                }
                Tok::Spread
            }
            b'{' | b'}' | b'(' | b')' | b'[' | b']' | b':' | b'$' | b'!' | b'=' | b'@' | b'|'
            | b'&' => Tok::Punct(c as char),
            b'"' => Tok::Str(self.string()?),
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let mut name = String::from(c as char);
                while let Some(&n) = self.text.get(self.pos) {
                    if n == b'_' || n.is_ascii_alphanumeric() {
                        name.push(n as char);
                        self.bump();
                    } else {
                        break;
                    }
                }
                Tok::Name(name)
            }
            c if c == b'-' || c.is_ascii_digit() => {
                let mut num = String::from(c as char);
                while let Some(&n) = self.text.get(self.pos) {
                    if n.is_ascii_digit() || matches!(n, b'.' | b'e' | b'E' | b'+' | b'-') {
                        num.push(n as char);
                        self.bump();
                    } else {
                        break;
                    }
                }
                Tok::Num(num)
            }
            other => {
                return Err(ParseError {
                    message: format!("Unexpected character `{}`", other as char),
                    at,
                });
            }
        };
        Ok(Some((tok, at)))
    }

    /// A string after its opening quote (block strings included).
    fn string(&mut self) -> Result<String, ParseError> {
        if self.text[self.pos..].starts_with(b"\"\"") {
            self.bump();
            self.bump();
            let start = self.pos;
            while !self.text[self.pos..].starts_with(b"\"\"\"") {
                if self.bump().is_none() {
                    return Err(self.fail("Unterminated block string"));
                }
            }
            let raw = String::from_utf8_lossy(&self.text[start..self.pos]).into_owned();
            for _ in 0..3 {
                self.bump();
            }
            return Ok(raw.trim().to_owned());
        }
        let start = self.pos;
        loop {
            match self.bump() {
                None | Some(b'\n') => return Err(self.fail("Unterminated string")),
                Some(b'\\') => {
                    self.bump();
                }
                Some(b'"') => break,
                Some(_) => {}
            }
        }
        // GraphQL's escapes are JSON's.
        let quoted = format!(
            "\"{}\"",
            String::from_utf8_lossy(&self.text[start..self.pos - 1])
        );
        serde_json::from_str(&quoted).map_err(|e| self.fail(format!("Bad string: {e}")))
    }
}

struct Parser<'v> {
    toks: Vec<Spanned>,
    pos: usize,
    vars: &'v Map<String, Value>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn at(&self) -> (usize, usize) {
        self.toks
            .get(self.pos)
            .or_else(|| self.toks.last())
            .map_or((1, 1), |(_, at)| *at)
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            message: message.into(),
            at: self.at(),
        })
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            self.fail(format!("Expected `{c}`, got {}", self.describe()))
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of document".into(),
            Some(Tok::Punct(c)) => format!("`{c}`"),
            Some(Tok::Spread) => "`...`".into(),
            Some(Tok::Name(n)) => format!("`{n}`"),
            Some(Tok::Str(_)) => "a string".into(),
            Some(Tok::Num(n)) => format!("`{n}`"),
        }
    }

    fn name(&mut self) -> Result<String, ParseError> {
        match self.peek().cloned() {
            Some(Tok::Name(n)) => {
                self.pos += 1;
                Ok(n)
            }
            _ => self.fail(format!("Expected a name, got {}", self.describe())),
        }
    }

    fn operation(&mut self) -> Result<Operation, ParseError> {
        let kind = match self.peek() {
            Some(Tok::Punct('{')) => "query".to_owned(),
            Some(Tok::Name(n)) if n == "query" || n == "mutation" => self.name()?,
            Some(Tok::Name(n)) if n == "fragment" || n == "subscription" => {
                return self.fail(format!("`{n}` is not supported by the simulator"));
            }
            _ => return self.fail(format!("Expected an operation, got {}", self.describe())),
        };
        if matches!(self.peek(), Some(Tok::Name(_))) {
            self.name()?;
        }
        if self.eat('(') {
            self.variable_definitions()?;
        }
        let fields = self.selection_set()?;
        if self.peek().is_some() {
            return self.fail("The simulator runs one operation per document");
        }
        Ok(Operation { kind, fields })
    }

    /// Skips `$name: Type = default` up to the closing parenthesis: the
    /// variables' values come from the request's `variables`.
    fn variable_definitions(&mut self) -> Result<(), ParseError> {
        let mut depth = 1;
        while depth > 0 {
            match self.peek() {
                None => return self.fail("Unterminated variable definitions"),
                Some(Tok::Punct('(')) => depth += 1,
                Some(Tok::Punct(')')) => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
        Ok(())
    }

    fn selection_set(&mut self) -> Result<Vec<Field>, ParseError> {
        self.expect('{')?;
        let mut fields = Vec::new();
        while !self.eat('}') {
            if self.peek() == Some(&Tok::Spread) {
                self.pos += 1;
                match self.peek() {
                    Some(Tok::Name(n)) if n == "on" => {
                        self.pos += 1;
                        self.name()?;
                        fields.extend(self.selection_set()?);
                    }
                    Some(Tok::Punct('{')) => fields.extend(self.selection_set()?),
                    _ => return self.fail("Named fragments are not supported by the simulator"),
                }
                continue;
            }
            fields.push(self.field()?);
        }
        Ok(fields)
    }

    fn field(&mut self) -> Result<Field, ParseError> {
        let at = self.at();
        let first = self.name()?;
        let (key, name) = if self.eat(':') {
            (first, self.name()?)
        } else {
            (first.clone(), first)
        };
        let mut args = Map::new();
        if self.eat('(') {
            while !self.eat(')') {
                let arg = self.name()?;
                self.expect(':')?;
                let value = self.value()?;
                args.insert(arg, value);
            }
        }
        if self.peek() == Some(&Tok::Punct('@')) {
            return self.fail("Directives are not supported by the simulator");
        }
        let selection = if self.peek() == Some(&Tok::Punct('{')) {
            self.selection_set()?
        } else {
            Vec::new()
        };
        Ok(Field {
            key,
            name,
            args,
            selection,
            at,
        })
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        let Some(tok) = self.peek().cloned() else {
            return self.fail("Expected a value, got end of document");
        };
        self.pos += 1;
        Ok(match tok {
            Tok::Punct('$') => {
                let name = self.name()?;
                self.vars.get(&name).cloned().unwrap_or(Value::Null)
            }
            Tok::Punct('[') => {
                let mut items = Vec::new();
                while !self.eat(']') {
                    items.push(self.value()?);
                }
                Value::Array(items)
            }
            Tok::Punct('{') => {
                let mut obj = Map::new();
                while !self.eat('}') {
                    let key = self.name()?;
                    self.expect(':')?;
                    obj.insert(key, self.value()?);
                }
                Value::Object(obj)
            }
            Tok::Str(s) => Value::String(s),
            Tok::Num(n) => match serde_json::from_str::<Value>(&n) {
                Ok(v) if v.is_number() => v,
                _ => {
                    self.pos -= 1;
                    return self.fail(format!("Bad number `{n}`"));
                }
            },
            Tok::Name(n) => match n.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                // An enum value travels as its name.
                _ => Value::String(n),
            },
            other => {
                self.pos -= 1;
                return self.fail(format!("Expected a value, got {other:?}"));
            }
        })
    }
}

/// Parses `query` with `variables` substituted into the arguments.
pub(super) fn parse(query: &str, variables: &Map<String, Value>) -> Result<Operation, ParseError> {
    let toks = Lexer::tokens(query)?;
    Parser {
        toks,
        pos: 0,
        vars: variables,
    }
    .operation()
}

/// A field the resolved type does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UnknownField {
    /// The field's name.
    pub field: String,
    /// The type it was asked of.
    pub type_name: String,
    /// Where.
    pub at: (usize, usize),
    /// The response path to it.
    pub path: Vec<String>,
}

/// Projects `value` (a resolved object graph whose objects carry their
/// `__typename`) onto `selection`: exactly the fields asked for, under
/// their keys, lists element by element.
pub(super) fn project(
    value: &Value,
    selection: &[Field],
    path: &[String],
) -> Result<Value, UnknownField> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| project(item, selection, path))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(obj) if !selection.is_empty() => {
            let type_name = obj
                .get("__typename")
                .and_then(Value::as_str)
                .unwrap_or("Object");
            let mut out = Map::new();
            for field in selection {
                let mut here = path.to_vec();
                here.push(field.key.clone());
                let Some(v) = obj.get(&field.name) else {
                    return Err(UnknownField {
                        field: field.name.clone(),
                        type_name: type_name.to_owned(),
                        at: field.at,
                        path: here,
                    });
                };
                out.insert(field.key.clone(), project(v, &field.selection, &here)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn pygithub_and_gh_mutations_parse() {
        // PyGithub's `graphql_named_mutation`.
        let q = "mutation Mutation($input: EnablePullRequestAutoMergeInput!) { enablePullRequestAutoMerge(input: $input) { actor { avatarUrl login resourcePath url } clientMutationId } }";
        let op = parse(
            q,
            &vars(json!({ "input": { "pullRequestId": "PR_1", "mergeMethod": "MERGE" } })),
        )
        .expect("parses");
        assert_eq!(op.kind, "mutation");
        assert_eq!(op.fields[0].name, "enablePullRequestAutoMerge");
        assert_eq!(op.fields[0].args["input"]["pullRequestId"], "PR_1");
        assert_eq!(op.fields[0].selection[0].selection.len(), 4);
        // Inline input with enum and string literals, an alias, commas and
        // a comment.
        let q = "# arm\nmutation {\n  armed: enablePullRequestAutoMerge(input: {pullRequestId: \"PR_2\", mergeMethod: SQUASH, commitBody: \"a\\nb\"}) {\n    clientMutationId, pullRequest { number }\n  }\n}";
        let op = parse(q, &Map::new()).expect("parses");
        let f = &op.fields[0];
        assert_eq!(
            (f.key.as_str(), f.name.as_str()),
            ("armed", "enablePullRequestAutoMerge")
        );
        assert_eq!(
            f.args["input"],
            json!({ "pullRequestId": "PR_2", "mergeMethod": "SQUASH", "commitBody": "a\nb" })
        );
        assert_eq!(f.at, (3, 3));
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = parse("mutation { x(input: ) }", &Map::new()).expect_err("no value");
        assert_eq!(err.at, (1, 21));
        assert!(err.message.contains("Expected a value"), "{}", err.message);
        let err = parse("fragment F on PullRequest { id }", &Map::new()).expect_err("fragment");
        assert!(err.message.contains("not supported"), "{}", err.message);
    }

    #[test]
    fn projection_keeps_what_was_asked_and_names_unknown_fields() {
        let value = json!({ "__typename": "Payload", "clientMutationId": null,
            "pullRequest": { "__typename": "PullRequest", "number": 3, "title": "t" } });
        let op = parse(
            "mutation { m { n: clientMutationId pullRequest { number } } }",
            &Map::new(),
        )
        .expect("parses");
        let out = project(&value, &op.fields[0].selection, &["m".into()]).expect("projects");
        assert_eq!(out, json!({ "n": null, "pullRequest": { "number": 3 } }));
        let op = parse("mutation { m { pullRequest { nope } } }", &Map::new()).expect("parses");
        let err = project(&value, &op.fields[0].selection, &["m".into()]).expect_err("unknown");
        assert_eq!(
            (err.field.as_str(), err.type_name.as_str()),
            ("nope", "PullRequest")
        );
        assert_eq!(err.path, ["m", "pullRequest", "nope"]);
    }
}
