//! RFC 3339 timestamps and civil dates, the one place Baton turns a
//! [`SystemTime`] into text and back: Argo CD's `metav1.Time` (whole seconds,
//! UTC, `Z`), GitLab's millisecond timestamps, the audit record and the
//! scenario files. Small enough to keep in-house rather than pull a date
//! crate; the civil-date arithmetic is Howard Hinnant's `days_from_civil` /
//! `civil_from_days`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Formats `t` as `YYYY-MM-DDTHH:MM:SSZ`, the sub-second part truncated (like
/// Kubernetes' `metav1.Time`).
pub fn format_rfc3339(t: SystemTime) -> String {
    let (secs, _) = split(t);
    let (date, h, mi, s) = civil_time(secs);
    format!("{date}T{h:02}:{mi:02}:{s:02}Z")
}

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds, truncated), the
/// way GitLab writes its timestamps.
pub fn format_rfc3339_millis(t: SystemTime) -> String {
    let (secs, nanos) = split(t);
    let (date, h, mi, s) = civil_time(secs);
    let ms = nanos / 1_000_000;
    format!("{date}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// Formats `secs` since the epoch as the local time at `offset` seconds
/// east of UTC, `YYYY-MM-DDTHH:MM:SS±HH:MM`: git's strict ISO 8601 (`%aI`),
/// which writes `+00:00` rather than `Z`.
pub fn format_iso_strict(secs: i64, offset: i32) -> String {
    let (date, h, mi, s) = civil_time(secs + i64::from(offset));
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let (oh, om) = (abs / 3600, (abs % 3600) / 60);
    format!("{date}T{h:02}:{mi:02}:{s:02}{sign}{oh:02}:{om:02}")
}

/// Parses an RFC 3339 timestamp (`Z` or `±HH:MM` offset, optional fraction).
/// Returns `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let (nanos, rest) = fraction(&s[19..])?;
    let offset = offset_seconds(rest)?;
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    let base = if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    };
    Some(base + Duration::from_nanos(u64::from(nanos)))
}

/// Truncates `t` to whole seconds, the precision of every Argo CD timestamp.
pub fn truncate_to_second(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => t,
    }
}

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d`.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day count since
/// 1970-01-01: the inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Whole seconds since the epoch (negative before it) and the nanoseconds
/// past the last whole second.
fn split(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => (-(e.duration().as_secs() as i64), 0),
    }
}

/// `YYYY-MM-DD` and the hour, minute and second of `secs` since the epoch.
fn civil_time(secs: i64) -> (String, i64, i64, i64) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
    )
}

/// An optional `.ddd…` fraction: its nanoseconds and the text after it.
fn fraction(rest: &str) -> Option<(u32, &str)> {
    let Some(frac) = rest.strip_prefix('.') else {
        return Some((0, rest));
    };
    let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let padded = format!("{:0<9}", &frac[..digits.min(9)]);
    Some((padded.parse().ok()?, &frac[digits..]))
}

/// `Z` or `±HH:MM` as seconds east of UTC.
fn offset_seconds(rest: &str) -> Option<i64> {
    if matches!(rest, "Z" | "z") {
        return Some(0);
    }
    let sign = match rest.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if rest.len() != 6 || rest.as_bytes()[3] != b':' {
        return None;
    }
    Some(sign * (rest[1..3].parse::<i64>().ok()? * 3600 + rest[4..6].parse::<i64>().ok()? * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_offsets() {
        let t = parse_rfc3339("2024-03-05T07:33:04Z").expect("valid");
        assert_eq!(format_rfc3339(t), "2024-03-05T07:33:04Z");
        let with_offset = parse_rfc3339("2024-03-05T09:33:04.5+02:00").expect("valid");
        assert_eq!(format_rfc3339(with_offset), "2024-03-05T07:33:04Z");
        assert_eq!(
            with_offset.duration_since(t).expect("later"),
            Duration::from_millis(500)
        );
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert!(parse_rfc3339("2024-13-05T07:33:04Z").is_none());
        assert!(parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn iso_strict_keeps_the_offset() {
        assert_eq!(format_iso_strict(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            format_iso_strict(1_709_623_984, 7200),
            "2024-03-05T09:33:04+02:00"
        );
        assert_eq!(
            format_iso_strict(1_709_623_984, -(5 * 3600 + 30 * 60)),
            "2024-03-05T02:03:04-05:30"
        );
    }

    #[test]
    fn millis_and_leap_days() {
        let t = UNIX_EPOCH + Duration::from_millis(1_566_298_734_413);
        assert_eq!(format_rfc3339_millis(t), "2019-08-20T10:58:54.413Z");
        assert_eq!(format_rfc3339(t), "2019-08-20T10:58:54Z");
        assert_eq!(
            format_rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            format_rfc3339_millis(UNIX_EPOCH),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(parse_rfc3339("2019-08-20T10:58:54.413Z"), Some(t));
    }

    #[test]
    fn civil_days_invert() {
        for (date, days) in [
            ((1970, 1, 1), 0),
            ((2000, 2, 29), 11_016),
            ((1969, 12, 31), -1),
            ((2024, 3, 1), 19_783),
        ] {
            assert_eq!(days_from_civil(date.0, date.1, date.2), days, "{date:?}");
            assert_eq!(civil_from_days(days), date, "{days}");
        }
    }
}
