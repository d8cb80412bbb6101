//! Integrity of audit records: a chain per app and an Ed25519 signature.
//!
//! - **Canonical form** ([`canonical`]): the record as JSON with
//!   `integrity.signature` removed, object keys sorted by their UTF-8 bytes,
//!   no whitespace, strings and numbers as `serde_json` writes them. It is
//!   what is signed and what is digested.
//! - **Digest** ([`digest`]): `sha256:<hex>` of the canonical form.
//! - **Chain**: `integrity.previous` is the digest of the app's previous
//!   record: the newest record of the same app (by `started_at`, then run
//!   id) in the directory the record is written to, found when it is
//!   written. The first record of a directory has none. Two records naming
//!   the same previous one are a fork (two runs at once, or a record
//!   replaced); a previous digest no given record has is a gap.
//! - **Signature**: with `audit.signing_key_env` set, an Ed25519 signature
//!   (hex) over the canonical form, with the public key (hex) beside it.
//!   A verifier must trust the key it is given, not the one in the record.
//!
//! Keys are 32 bytes written as 64 hex digits: the secret key is the
//! Ed25519 seed (`openssl rand -hex 32`), the public key what
//! `baton audit public-key` derives from it.

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::runtime::Digest;
use crate::secret::Secret;

/// The algorithm name written into records.
pub const ALGORITHM: &str = "ed25519";

/// Chain and signature of one record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integrity {
    /// Digest of the app's previous record in the same directory; `None`
    /// for the first.
    #[serde(default)]
    pub previous: Option<String>,
    /// The run id of that record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_run: Option<String>,
    /// The signature, when a signing key was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<RecordSignature>,
}

/// A detached signature over the record's canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSignature {
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// The public key that verifies it (hex): informative only.
    pub public_key: String,
    /// The signature (hex, 64 bytes).
    pub value: String,
}

/// A key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The variable naming the signing key is not set.
    #[error("environment variable {var} (audit.signing_key_env) is not set")]
    Unset {
        /// The variable.
        var: String,
    },
    /// Not 64 hex digits.
    #[error(
        "{what} is not an Ed25519 key: expected 64 hex digits (32 bytes), got {len} characters"
    )]
    Malformed {
        /// Which key (`environment variable X`, `--public-key`, ...).
        what: String,
        /// Its length.
        len: usize,
    },
    /// 32 bytes that are not a point on the curve.
    #[error("{what} is not a valid Ed25519 public key")]
    NotAPoint {
        /// Which key.
        what: String,
    },
}

/// Signs records with the configured Ed25519 key.
pub struct Signer {
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.public_key_hex())
    }
}

impl Signer {
    /// The key in environment variable `var` (64 hex digits). The value is
    /// registered as a secret, so it never reaches any output.
    pub fn from_env(var: &str) -> Result<Self, KeyError> {
        let secret = Secret::from_env(var).ok_or_else(|| KeyError::Unset {
            var: var.to_owned(),
        })?;
        let bytes = hex32(secret.expose().trim()).ok_or_else(|| KeyError::Malformed {
            what: format!("environment variable {var}"),
            len: secret.expose().trim().len(),
        })?;
        Ok(Self {
            key: SigningKey::from_bytes(&bytes),
        })
    }

    /// The public key, hex.
    pub fn public_key_hex(&self) -> String {
        hex(self.key.verifying_key().as_bytes())
    }

    /// The signature of `canonical` bytes.
    fn sign(&self, canonical: &[u8]) -> RecordSignature {
        RecordSignature {
            algorithm: ALGORITHM.into(),
            public_key: self.public_key_hex(),
            value: hex(&self.key.sign(canonical).to_bytes()),
        }
    }
}

/// Parses a public key given as 64 hex digits; `what` names it in errors.
pub fn public_key(text: &str, what: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = hex32(text.trim()).ok_or_else(|| KeyError::Malformed {
        what: what.to_owned(),
        len: text.trim().len(),
    })?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotAPoint {
        what: what.to_owned(),
    })
}

/// The canonical form of a record (see the module docs).
pub fn canonical(record: &Value) -> String {
    let mut value = record.clone();
    if let Some(integrity) = value.get_mut("integrity").and_then(Value::as_object_mut) {
        integrity.remove("signature");
    }
    let mut out = String::new();
    write_canonical(&value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `sha256:<hex>` of the record's canonical form.
pub fn digest(record: &Value) -> String {
    Digest::of(canonical(record).as_bytes()).to_string()
}

/// Adds `integrity` to `record` (a record as JSON, already redacted):
/// `previous` as given, and a signature when `signer` is set.
pub fn seal(record: &mut Value, previous: Option<(String, String)>, signer: Option<&Signer>) {
    let (previous, previous_run) = match previous {
        Some((digest, run)) => (Some(digest), Some(run)),
        None => (None, None),
    };
    let integrity = Integrity {
        previous,
        previous_run,
        signature: None,
    };
    if let Some(obj) = record.as_object_mut() {
        obj.insert(
            "integrity".into(),
            serde_json::to_value(&integrity).unwrap_or(Value::Null),
        );
    }
    if let Some(signer) = signer {
        let signature = signer.sign(canonical(record).as_bytes());
        if let Some(integrity) = record.get_mut("integrity").and_then(Value::as_object_mut) {
            integrity.insert(
                "signature".into(),
                serde_json::to_value(signature).unwrap_or(Value::Null),
            );
        }
    }
}

/// What checking a record's signature found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureCheck {
    /// Signed, and the signature verifies with the trusted key.
    Valid,
    /// No signature.
    Unsigned,
    /// Signed, but not by the trusted key, or the record changed since.
    Invalid(String),
    /// Signed, but no key to check it with was given.
    NoKey,
}

/// Checks the signature of `record` (as read) against `key`.
pub fn check_signature(record: &Value, key: Option<&VerifyingKey>) -> SignatureCheck {
    let Some(signature) = record.get("integrity").and_then(|i| i.get("signature")) else {
        return SignatureCheck::Unsigned;
    };
    let Some(key) = key else {
        return SignatureCheck::NoKey;
    };
    let algorithm = signature.get("algorithm").and_then(Value::as_str);
    if algorithm != Some(ALGORITHM) {
        return SignatureCheck::Invalid(format!("algorithm {algorithm:?}, expected {ALGORITHM:?}"));
    }
    let bytes = signature
        .get("value")
        .and_then(Value::as_str)
        .and_then(hex64);
    let Some(bytes) = bytes else {
        return SignatureCheck::Invalid("the signature is not 128 hex digits".into());
    };
    match key.verify(canonical(record).as_bytes(), &Signature::from_bytes(&bytes)) {
        Ok(()) => SignatureCheck::Valid,
        Err(_) => SignatureCheck::Invalid(
            "it does not verify with the trusted public key: the record changed after it was \
             signed, or another key signed it"
                .into(),
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    unhex::<32>(text)
}

fn hex64(text: &str) -> Option<[u8; 64]> {
    unhex::<64>(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn signer() -> Signer {
        Signer {
            key: SigningKey::from_bytes(&[7u8; 32]),
        }
    }

    #[test]
    fn canonical_form_sorts_keys_drops_whitespace_and_the_signature() {
        let record = json!({
            "b": [1, {"z": "x y", "a": null}],
            "a": 1.5,
            "integrity": { "previous": null, "signature": { "value": "00" } }
        });
        assert_eq!(
            canonical(&record),
            r#"{"a":1.5,"b":[1,{"a":null,"z":"x y"}],"integrity":{"previous":null}}"#
        );
    }

    #[test]
    fn a_sealed_record_verifies_until_it_changes() {
        let s = signer();
        let mut record = json!({ "run_id": "r1", "outcome": { "status": "failed" } });
        seal(
            &mut record,
            Some(("sha256:ab".into(), "r0".into())),
            Some(&s),
        );
        let key = public_key(&s.public_key_hex(), "the key").expect("a key");
        assert_eq!(check_signature(&record, Some(&key)), SignatureCheck::Valid);
        assert_eq!(record["integrity"]["previous"], "sha256:ab");
        // The signature covers the chain link too.
        let mut relinked = record.clone();
        relinked["integrity"]["previous"] = json!("sha256:cd");
        assert!(matches!(
            check_signature(&relinked, Some(&key)),
            SignatureCheck::Invalid(_)
        ));
        record["outcome"]["status"] = json!("done");
        assert!(matches!(
            check_signature(&record, Some(&key)),
            SignatureCheck::Invalid(m) if m.contains("changed after it was signed")
        ));
        let other = public_key(&hex(&[9u8; 32]), "other");
        assert!(
            other.is_err()
                || check_signature(&record, other.as_ref().ok()) != SignatureCheck::Valid
        );
    }

    #[test]
    fn keys_are_64_hex_digits() {
        let err = public_key("abc", "--public-key").unwrap_err();
        assert_eq!(
            err.to_string(),
            "--public-key is not an Ed25519 key: expected 64 hex digits (32 bytes), got 3 characters"
        );
        assert!(public_key(&"0".repeat(63), "k").is_err());
    }
}
