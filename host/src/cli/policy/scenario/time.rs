//! Times and durations as scenario files write them: offsets from the
//! clock start (`90s`, `-2h`, `-1d`), RFC 3339 timestamps, or plain
//! seconds. The units are those of `baton.yaml` and the policy settings:
//! `ms`, `s`, `m`, `h`, `d`.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A point in time: `90s` / `-2h` / `-1d` (offset from the clock start), a
/// number of seconds (offset), or an RFC 3339 timestamp.
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
                    "an offset from the clock start like 90s, 2m, -1h30m or -1d, \
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

/// A non-negative duration: `90s`, `10m`, `1h30m`, `1d`, `500ms`, or seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DurationSpec(pub(super) u64);

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = DurationSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like 90s, 10m, 1h30m or 1d, or a number of seconds")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn time(yaml: &str) -> Result<TimeSpec, String> {
        yaml_serde::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn offsets_take_every_duration_unit_and_a_sign() {
        assert_eq!(time("-1d"), Ok(TimeSpec::Offset(-86_400_000)));
        assert_eq!(time("+1d2h"), Ok(TimeSpec::Offset(93_600_000)));
        assert_eq!(time("90s"), Ok(TimeSpec::Offset(90_000)));
        assert_eq!(time("-500ms"), Ok(TimeSpec::Offset(-500)));
        assert_eq!(time("120"), Ok(TimeSpec::Offset(120_000)));
        assert_eq!(
            time("2025-03-03T10:00:00Z"),
            Ok(TimeSpec::Absolute(1_740_996_000_000))
        );
        let err = time("yesterday").expect_err("not a time");
        assert!(
            err.contains("expected an offset from the clock start like 90s, 2m, -1h30m or -1d"),
            "{err}"
        );
    }

    #[test]
    fn durations_take_days() {
        let d: DurationSpec = yaml_serde::from_str("1d").expect("a duration");
        assert_eq!(d, DurationSpec(86_400_000));
    }
}
