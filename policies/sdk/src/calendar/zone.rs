//! Time zones without a tz database (the sandbox has none, and a policy
//! must decide the same way on every host): either a fixed UTC offset, or a
//! named zone from a small built-in table with its current daylight-saving
//! rule (EU or US). Historical rule changes are not modelled; a zone that is
//! not in the table is configured by its offset.

use super::civil::{DAY_MS, HOUR_MS, LocalTime, civil_from_days, last_sunday, nth_sunday};

/// A daylight-saving rule: one hour ahead in summer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dst {
    /// No daylight saving time.
    None,
    /// EU: from the last Sunday of March to the last Sunday of October, at
    /// 01:00 UTC.
    Eu,
    /// US and Canada: from the second Sunday of March at 02:00 local
    /// standard time to the first Sunday of November at 02:00 local
    /// daylight time.
    Us,
}

/// Named zones and their standard offsets in minutes.
const ZONES: &[(&str, i64, Dst)] = &[
    ("UTC", 0, Dst::None),
    ("Europe/London", 0, Dst::Eu),
    ("Europe/Dublin", 0, Dst::Eu),
    ("Europe/Lisbon", 0, Dst::Eu),
    ("Europe/Amsterdam", 60, Dst::Eu),
    ("Europe/Berlin", 60, Dst::Eu),
    ("Europe/Brussels", 60, Dst::Eu),
    ("Europe/Copenhagen", 60, Dst::Eu),
    ("Europe/Madrid", 60, Dst::Eu),
    ("Europe/Oslo", 60, Dst::Eu),
    ("Europe/Paris", 60, Dst::Eu),
    ("Europe/Prague", 60, Dst::Eu),
    ("Europe/Rome", 60, Dst::Eu),
    ("Europe/Stockholm", 60, Dst::Eu),
    ("Europe/Vienna", 60, Dst::Eu),
    ("Europe/Warsaw", 60, Dst::Eu),
    ("Europe/Zurich", 60, Dst::Eu),
    ("Europe/Athens", 120, Dst::Eu),
    ("Europe/Bucharest", 120, Dst::Eu),
    ("Europe/Helsinki", 120, Dst::Eu),
    ("Europe/Kyiv", 120, Dst::Eu),
    ("Europe/Istanbul", 180, Dst::None),
    ("America/New_York", -300, Dst::Us),
    ("America/Toronto", -300, Dst::Us),
    ("America/Chicago", -360, Dst::Us),
    ("America/Denver", -420, Dst::Us),
    ("America/Phoenix", -420, Dst::None),
    ("America/Los_Angeles", -480, Dst::Us),
    ("America/Sao_Paulo", -180, Dst::None),
    ("Asia/Dubai", 240, Dst::None),
    ("Asia/Kolkata", 330, Dst::None),
    ("Asia/Singapore", 480, Dst::None),
    ("Asia/Shanghai", 480, Dst::None),
    ("Asia/Tokyo", 540, Dst::None),
    ("Australia/Brisbane", 600, Dst::None),
];

/// A time zone: a standard offset, maybe a daylight-saving rule, and the
/// name it was configured by.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    name: Option<&'static str>,
    standard_ms: i64,
    dst: Dst,
}

impl Zone {
    /// A fixed offset such as `+01:00`, `-05:30`, `+02` or `Z`.
    pub fn fixed(text: &str) -> Option<Self> {
        let text = text.trim();
        if text == "Z" || text == "UTC" {
            return Some(Self::utc());
        }
        let (sign, rest) = match text.as_bytes().first()? {
            b'+' => (1, &text[1..]),
            b'-' => (-1, &text[1..]),
            _ => return None,
        };
        let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "00"));
        let all_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(hours) || !all_digits(minutes) {
            return None;
        }
        let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
        if hours > 14 || minutes > 59 {
            return None;
        }
        Some(Self {
            name: None,
            standard_ms: sign * (hours * HOUR_MS + minutes * 60_000),
            dst: Dst::None,
        })
    }

    /// A zone from the built-in table, by its tz database name.
    pub fn named(name: &str) -> Option<Self> {
        ZONES
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(n, minutes, dst)| Self {
                name: Some(n),
                standard_ms: minutes * 60_000,
                dst: *dst,
            })
    }

    /// UTC.
    pub fn utc() -> Self {
        Self {
            name: None,
            standard_ms: 0,
            dst: Dst::None,
        }
    }

    /// Names of the built-in zones, for error messages.
    pub fn known_names() -> Vec<&'static str> {
        ZONES.iter().map(|(n, _, _)| *n).collect()
    }

    /// Offset from UTC in effect at `utc_ms`.
    pub fn offset_at(&self, utc_ms: i64) -> i64 {
        let year = civil_from_days(utc_ms.div_euclid(DAY_MS)).0;
        let (start, end) = match self.dst {
            Dst::None => return self.standard_ms,
            Dst::Eu => (
                last_sunday(year, 3) * DAY_MS + HOUR_MS,
                last_sunday(year, 10) * DAY_MS + HOUR_MS,
            ),
            Dst::Us => (
                nth_sunday(year, 3, 2) * DAY_MS + 2 * HOUR_MS - self.standard_ms,
                nth_sunday(year, 11, 1) * DAY_MS + 2 * HOUR_MS - (self.standard_ms + HOUR_MS),
            ),
        };
        if (start..end).contains(&utc_ms) {
            self.standard_ms + HOUR_MS
        } else {
            self.standard_ms
        }
    }

    /// Local wall-clock time (as epoch milliseconds) of a UTC instant.
    pub fn to_local(&self, utc_ms: i64) -> i64 {
        utc_ms + self.offset_at(utc_ms)
    }

    /// The date, weekday and time of day a wall clock in this zone shows
    /// at `utc_ms` (e.g. the host's `world.now()`).
    pub fn local_time(&self, utc_ms: i64) -> LocalTime {
        LocalTime::from_local_ms(self.to_local(utc_ms))
    }

    /// The UTC instant of a local wall-clock time. Around a daylight-saving
    /// switch (never at office hours) a skipped time maps an hour on and a
    /// repeated time to its first occurrence.
    pub fn to_utc(&self, local_ms: i64) -> i64 {
        let guess = local_ms - self.offset_at(local_ms - self.standard_ms);
        local_ms - self.offset_at(guess)
    }

    /// How the zone reads in reasons: `Europe/Berlin` or `UTC+01:00`.
    pub fn label(&self) -> String {
        match self.name {
            Some(name) => name.to_owned(),
            None => format_offset(self.standard_ms),
        }
    }
}

/// `UTC`, `UTC+01:00`, `UTC-05:30`.
pub fn format_offset(offset_ms: i64) -> String {
    if offset_ms == 0 {
        return "UTC".into();
    }
    let sign = if offset_ms < 0 { '-' } else { '+' };
    let minutes = offset_ms.abs() / 60_000;
    format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    #[test]
    fn fixed_offsets() {
        assert_eq!(Zone::fixed("+01:00").unwrap().offset_at(0), HOUR_MS);
        assert_eq!(
            Zone::fixed("-05:30").unwrap().offset_at(0),
            -5 * HOUR_MS - 30 * 60_000
        );
        assert_eq!(Zone::fixed("+02").unwrap().offset_at(0), 2 * HOUR_MS);
        assert_eq!(Zone::fixed("Z"), Some(Zone::utc()));
        for bad in ["01:00", "+1:00", "+01:60", "+15:00", "", "+01:00:00", "CET"] {
            assert_eq!(Zone::fixed(bad), None, "{bad}");
        }
        assert_eq!(Zone::fixed("+01:00").unwrap().label(), "UTC+01:00");
        assert_eq!(Zone::fixed("-05:30").unwrap().label(), "UTC-05:30");
    }

    #[test]
    fn eu_summer_time_switches_at_one_utc() {
        // Checked against the tz database: `TZ=Europe/Berlin date -d @1711846800`
        // is Sun Mar 31 03:00:00 CEST 2024.
        let berlin = Zone::named("Europe/Berlin").unwrap();
        let spring = 1_711_846_800 * S;
        assert_eq!(berlin.offset_at(spring - 1), HOUR_MS);
        assert_eq!(berlin.offset_at(spring), 2 * HOUR_MS);
        let autumn = 1_729_990_800 * S; // Sun 2024-10-27 01:00 UTC
        assert_eq!(berlin.offset_at(autumn - 1), 2 * HOUR_MS);
        assert_eq!(berlin.offset_at(autumn), HOUR_MS);
        let london = Zone::named("Europe/London").unwrap();
        assert_eq!(london.offset_at(spring), HOUR_MS);
        assert_eq!(london.label(), "Europe/London");
    }

    #[test]
    fn us_daylight_time_switches_at_two_local() {
        // `TZ=America/New_York date -d @1710054000`: Sun Mar 10 03:00:00 EDT 2024.
        let new_york = Zone::named("America/New_York").unwrap();
        let spring = 1_710_054_000 * S;
        assert_eq!(new_york.offset_at(spring - 1), -5 * HOUR_MS);
        assert_eq!(new_york.offset_at(spring), -4 * HOUR_MS);
        let autumn = 1_730_613_600 * S; // Sun 2024-11-03 06:00 UTC = 01:00 EST
        assert_eq!(new_york.offset_at(autumn - 1), -4 * HOUR_MS);
        assert_eq!(new_york.offset_at(autumn), -5 * HOUR_MS);
    }

    #[test]
    fn local_and_utc_convert_both_ways() {
        let berlin = Zone::named("Europe/Berlin").unwrap();
        // Mon 2024-06-10 09:00 CEST is 07:00 UTC; in January it is 08:00 UTC.
        let june = 1_717_977_600 * S;
        assert_eq!(berlin.to_utc(june + 9 * HOUR_MS), june + 7 * HOUR_MS);
        assert_eq!(berlin.to_local(june + 7 * HOUR_MS), june + 9 * HOUR_MS);
        let january = super::super::civil::days_from_civil(2024, 1, 15) * DAY_MS;
        assert_eq!(berlin.to_utc(january + 9 * HOUR_MS), january + 8 * HOUR_MS);
    }

    #[test]
    fn local_time_reads_the_wall_clock() {
        use super::super::Weekday;
        // Fri 2024-06-14 10:30 UTC: 12:30 in Berlin (summer time), 06:30 in New York.
        let friday = 1_718_361_000 * S;
        let berlin = Zone::named("Europe/Berlin").unwrap().local_time(friday);
        assert_eq!(
            (berlin.weekday, berlin.hour(), berlin.minute()),
            (Weekday::Fri, 12, 30)
        );
        assert_eq!(berlin.to_string(), "Fri 2024-06-14 12:30");
        let tokyo = Zone::named("Asia/Tokyo")
            .unwrap()
            .local_time(friday + 14 * HOUR_MS);
        assert_eq!(
            (tokyo.weekday, tokyo.day, tokyo.hour()),
            (Weekday::Sat, 15, 9)
        );
    }

    #[test]
    fn unknown_names_are_not_guessed() {
        assert_eq!(Zone::named("Europe/Atlantis"), None);
        assert_eq!(Zone::named("europe/berlin"), None);
        assert!(Zone::known_names().contains(&"America/Los_Angeles"));
    }
}
