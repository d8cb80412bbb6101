//! A validator for the subset of Swagger 2.0 that argocd-swagger.json uses:
//! `$ref`, `type`, `properties`, `additionalProperties`, `items`, `allOf`,
//! `format` (int32, int64, date-time, byte). Every emitted field must be
//! declared (no extra fields), and every value must have the declared type.

use baton::time::parse_rfc3339;
use serde_json::Value;

pub struct Swagger {
    root: Value,
}

impl Swagger {
    pub fn load() -> Self {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/argocd/argocd-swagger.json"
        );
        let text = std::fs::read_to_string(path).expect("swagger fixture present");
        Swagger {
            root: serde_json::from_str(&text).expect("swagger is JSON"),
        }
    }

    /// Errors of `value` against `#/definitions/{name}`.
    pub fn validate_def(&self, name: &str, value: &Value) -> Vec<String> {
        let schema = serde_json::json!({ "$ref": format!("#/definitions/{name}") });
        self.validate(&schema, value)
    }

    /// The 200 schema of `GET path`.
    pub fn response_schema(&self, path: &str) -> Value {
        self.root["paths"][path]["get"]["responses"]["200"]["schema"].clone()
    }

    pub fn validate(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        self.check(schema, value, "$", &mut errs);
        errs
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.strip_prefix("#/definitions/").expect("local refs only");
                let def = &self.root["definitions"][name];
                assert!(!def.is_null(), "unknown definition {name}");
                self.resolve(def)
            }
            None => schema,
        }
    }

    /// Declared properties, including those inherited through `allOf`.
    fn properties(&self, schema: &Value, out: &mut serde_json::Map<String, Value>) {
        let schema = self.resolve(schema);
        if let Some(p) = schema.get("properties").and_then(Value::as_object) {
            out.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.properties(part, out);
        }
    }

    fn check(&self, schema: &Value, value: &Value, path: &str, errs: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if value.is_null() {
            errs.push(format!("{path}: null"));
            return;
        }
        let mut props = serde_json::Map::new();
        self.properties(schema, &mut props);
        let ty = schema.get("type").and_then(Value::as_str);
        let format = schema.get("format").and_then(Value::as_str);
        match ty {
            Some("object") | None
                if !props.is_empty() || schema.get("additionalProperties").is_some() =>
            {
                let Some(obj) = value.as_object() else {
                    errs.push(format!("{path}: expected object, got {value}"));
                    return;
                };
                for (k, v) in obj {
                    let p = format!("{path}.{k}");
                    if let Some(s) = props.get(k) {
                        self.check(s, v, &p, errs);
                    } else if let Some(extra) = schema.get("additionalProperties") {
                        self.check(extra, v, &p, errs);
                    } else {
                        errs.push(format!("{p}: field not in the definition"));
                    }
                }
            }
            Some("object") if !value.is_object() => errs.push(format!("{path}: expected object")),
            Some("array") => {
                let Some(items) = value.as_array() else {
                    errs.push(format!("{path}: expected array, got {value}"));
                    return;
                };
                for (i, item) in items.iter().enumerate() {
                    self.check(&schema["items"], item, &format!("{path}[{i}]"), errs);
                }
            }
            Some("string") => match value.as_str() {
                None => errs.push(format!("{path}: expected string, got {value}")),
                Some(s) => match format {
                    Some("date-time") if parse_rfc3339(s).is_none() => {
                        errs.push(format!("{path}: `{s}` is not date-time"));
                    }
                    Some("int64" | "uint64")
                        if s.trim_start_matches('-').parse::<u64>().is_err() =>
                    {
                        errs.push(format!("{path}: `{s}` is not an int64 string"));
                    }
                    _ => {}
                },
            },
            Some("integer") => {
                let ok = match format {
                    Some("int32") => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                    _ => value.is_i64() || value.is_u64(),
                };
                if !ok {
                    errs.push(format!(
                        "{path}: expected integer ({format:?}), got {value}"
                    ));
                }
            }
            Some("number") if !value.is_number() => {
                errs.push(format!("{path}: expected number, got {value}"))
            }
            Some("boolean") if !value.is_boolean() => {
                errs.push(format!("{path}: expected boolean, got {value}"))
            }
            _ => {}
        }
    }
}
