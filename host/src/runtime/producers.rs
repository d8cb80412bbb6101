//! The toolchain a component was built with, from its `producers` custom
//! sections (the tool-conventions format: `language`, `processed-by` and
//! `sdk` fields of name/version pairs). A component carries one for itself
//! and its core modules carry their own; `policy inspect` shows them all,
//! merged, so an auditor sees "Python, componentize-py 0.25.1" or "Rust,
//! rustc 1.95.0" without trusting the policy's own metadata.

use serde::Serialize;
use wasmparser::{KnownCustom, Parser, Payload};

/// Languages and tools named by a component's producers sections, each
/// entry once, in the order first seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Producers {
    /// Source languages, e.g. `Rust`, `Python 3.14`.
    pub language: Vec<String>,
    /// Tools that produced or processed the code, e.g. `rustc 1.95.0`.
    pub processed_by: Vec<String>,
    /// SDKs, e.g. `StarlingMonkey` or `wit-bindgen`.
    pub sdk: Vec<String>,
}

impl Producers {
    /// Reads every producers section of `bytes` (the component and its
    /// nested modules). Malformed sections are skipped: this is information
    /// for people, and loading has already validated the component.
    pub fn of(bytes: &[u8]) -> Self {
        let mut producers = Self::default();
        for payload in Parser::new(0).parse_all(bytes) {
            let Ok(Payload::CustomSection(section)) = payload else {
                continue;
            };
            let KnownCustom::Producers(reader) = section.as_known() else {
                continue;
            };
            for field in reader.into_iter().flatten() {
                let list = match field.name {
                    "language" => &mut producers.language,
                    "processed-by" => &mut producers.processed_by,
                    "sdk" => &mut producers.sdk,
                    _ => continue,
                };
                for value in field.values.into_iter().flatten() {
                    let entry = if value.version.is_empty() {
                        value.name.to_owned()
                    } else {
                        format!("{} {}", value.name, value.version)
                    };
                    if !list.contains(&entry) {
                        list.push(entry);
                    }
                }
            }
        }
        producers
    }

    /// Is nothing known?
    pub fn is_empty(&self) -> bool {
        self.language.is_empty() && self.processed_by.is_empty() && self.sdk.is_empty()
    }

    /// The tools, SDKs included, as one line: `rustc 1.95.0, wit-bindgen 0.61`.
    pub fn tools(&self) -> String {
        let tools: Vec<&str> = self
            .processed_by
            .iter()
            .chain(&self.sdk)
            .map(String::as_str)
            .collect();
        tools.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with one producers section, encoded by hand.
    fn module_with_producers(fields: &[(&str, &[(&str, &str)])]) -> Vec<u8> {
        fn name(out: &mut Vec<u8>, s: &str) {
            out.push(u8::try_from(s.len()).expect("short"));
            out.extend_from_slice(s.as_bytes());
        }
        let mut body = Vec::new();
        name(&mut body, "producers");
        body.push(u8::try_from(fields.len()).expect("few"));
        for (field, values) in fields {
            name(&mut body, field);
            body.push(u8::try_from(values.len()).expect("few"));
            for (n, v) in *values {
                name(&mut body, n);
                name(&mut body, v);
            }
        }
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.push(0);
        module.push(u8::try_from(body.len()).expect("short section"));
        module.extend(body);
        module
    }

    #[test]
    fn fields_are_read_merged_and_summarised() {
        let bytes = module_with_producers(&[
            ("language", &[("Rust", "")]),
            ("processed-by", &[("rustc", "1.95.0"), ("rustc", "1.95.0")]),
            ("sdk", &[("wit-bindgen", "0.61")]),
        ]);
        let producers = Producers::of(&bytes);
        assert_eq!(producers.language, ["Rust"]);
        assert_eq!(producers.processed_by, ["rustc 1.95.0"]);
        assert_eq!(producers.tools(), "rustc 1.95.0, wit-bindgen 0.61");
        assert!(Producers::of(b"\0asm\x01\0\0\0").is_empty());
    }
}
