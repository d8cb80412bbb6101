//! Durations as `baton.yaml` and the scenario files write them.

use std::time::Duration;

/// Parses `500ms`, `90s`, `10m`, `1h30m`, `1d`; a bare number is seconds.
/// The units are those of the policy SDKs' settings durations.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    for (n, unit) in units(text)? {
        let step = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            "d" => Duration::from_secs(n.checked_mul(86_400)?),
            _ => return None,
        };
        total = total.checked_add(step)?;
    }
    Some(total)
}

/// Splits `1h30m` into `[(1, "h"), (30, "m")]`: each run of digits with
/// the letters after it. `None` for an empty text, one that does not start
/// with a digit, or a number too large for `u64`. Which units exist, and
/// what they are worth, is the caller's grammar (Prometheus also has `w`
/// and `y`).
pub(crate) fn units(text: &str) -> Option<Vec<(u64, &str)>> {
    if text.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        out.push((n, &rest[..unit]));
        rest = &rest[unit..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_add_up() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1d12h"), Some(Duration::from_secs(129_600)));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("half an hour"), None);
        assert_eq!(parse_duration("10x"), None);
    }

    #[test]
    fn units_split_numbers_from_their_unit() {
        assert_eq!(units("1h30m"), Some(vec![(1, "h"), (30, "m")]));
        assert_eq!(units("250ms"), Some(vec![(250, "ms")]));
        assert_eq!(units("10"), Some(vec![(10, "")]));
        assert_eq!(units(""), None);
        assert_eq!(units("m5"), None);
        assert_eq!(units("99999999999999999999s"), None);
    }
}
