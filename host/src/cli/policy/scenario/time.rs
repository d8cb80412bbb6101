//! Times and durations as scenario files write them: offsets from the
//! clock start (`90s`, `-2h`), RFC 3339 timestamps, or plain seconds.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A point in time: `90s` / `-2h` (offset from the clock start), a number
/// of seconds (offset), or an RFC 3339 timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeSpec {
    /// Milliseconds after (or before) the clock start.
    Offset(i64),
    /// Milliseconds since the Unix epoch.
    Absolute(i64),
}

impl TimeSpec {
    /// Milliseconds since the Unix epoch, given the clock start.
    pub(super) fn resolve(self, start: i64) -> i64 {
        match self {
            Self::Offset(ms) => start.saturating_add(ms),
            Self::Absolute(ms) => ms,
        }
    }

    fn parse(text: &str) -> Option<Self> {
        if let Some(t) = crate::time::parse_rfc3339(text) {
            let ms = match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => i64::try_from(d.as_millis()).ok()?,
                Err(e) => -i64::try_from(e.duration().as_millis()).ok()?,
            };
            return Some(Self::Absolute(ms));
        }
        let (sign, rest) = match text.trim().strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text.trim().trim_start_matches('+')),
        };
        let ms = i64::try_from(crate::config::parse_duration(rest)?.as_millis()).ok()?;
        Some(Self::Offset(sign * ms))
    }
}

impl<'de> Deserialize<'de> for TimeSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimeVisitor;
        impl Visitor<'_> for TimeVisitor {
            type Value = TimeSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an offset from the clock start like 90s, 2m or -1h30m, \
                     or an RFC 3339 time like 2025-03-03T10:00:00Z",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TimeSpec, E> {
                TimeSpec::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TimeSpec, E> {
                Ok(TimeSpec::Offset(v.saturating_mul(1000)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TimeSpec, E> {
                let secs = i64::try_from(v).map_err(|_| E::custom("time offset too large"))?;
                Ok(TimeSpec::Offset(secs.saturating_mul(1000)))
            }
        }
        deserializer.deserialize_any(TimeVisitor)
    }
}

/// A non-negative duration: `90s`, `10m`, `1h30m`, `500ms`, or seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DurationSpec(pub(super) u64);

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = DurationSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like 90s, 10m or 1h30m, or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationSpec, E> {
                crate::config::parse_duration(v)
                    .and_then(|d| u64::try_from(d.as_millis()).ok())
                    .map(DurationSpec)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationSpec, E> {
                Ok(DurationSpec(v.saturating_mul(1000)))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}
