//! The prod change window: weekdays and a time of day in a zone. Is a
//! moment inside it, and when does it next open?

use crate::calendar::{DAY_MS, WEEKDAYS, format_local, weekday};
use crate::zone::{Zone, format_offset};

/// When prod may change: on `days`, from `start` (inclusive) to `end`
/// (exclusive), local time in `zone`.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Allowed weekdays, Monday first.
    pub days: [bool; 7],
    /// Opening time, milliseconds after local midnight.
    pub start_ms: i64,
    /// Closing time, milliseconds after local midnight (after `start_ms`).
    pub end_ms: i64,
    /// The zone the times are in.
    pub zone: Zone,
}

impl Window {
    /// Is `utc_ms` inside the window?
    pub fn contains(&self, utc_ms: i64) -> bool {
        let local = self.zone.to_local(utc_ms);
        let time = local.rem_euclid(DAY_MS);
        self.days[weekday(local.div_euclid(DAY_MS))] && self.start_ms <= time && time < self.end_ms
    }

    /// The first opening after `utc_ms` (UTC epoch milliseconds).
    pub fn next_opening(&self, utc_ms: i64) -> i64 {
        let local = self.zone.to_local(utc_ms);
        let today = local.div_euclid(DAY_MS);
        let time = local.rem_euclid(DAY_MS);
        // Validation keeps at least one day, so a week ahead always has one.
        let day = (0..=7)
            .map(|ahead| today + ahead)
            .find(|&day| self.days[weekday(day)] && (day > today || time < self.start_ms))
            .unwrap_or(today + 7);
        self.zone.to_utc(day * DAY_MS + self.start_ms)
    }

    /// `Mon 2024-06-10 09:00 Europe/Berlin (UTC+02:00)` for a UTC instant.
    pub fn local_time(&self, utc_ms: i64) -> String {
        let text = format_local(self.zone.to_local(utc_ms));
        let label = self.zone.label();
        let offset = format_offset(self.zone.offset_at(utc_ms));
        if label == offset {
            format!("{text} {label}")
        } else {
            format!("{text} {label} ({offset})")
        }
    }

    /// `Mon-Fri 09:00-16:00 Europe/Berlin`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}-{} {}",
            describe_days(&self.days),
            clock(self.start_ms),
            clock(self.end_ms),
            self.zone.label()
        )
    }
}

/// `HH:MM` of milliseconds after midnight.
fn clock(ms: i64) -> String {
    let minutes = ms / 60_000;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `Mon-Fri`, `Mon, Wed, Fri`, `Mon-Wed, Sat`.
fn describe_days(days: &[bool; 7]) -> String {
    let mut parts = Vec::new();
    let mut day = 0;
    while day < 7 {
        if !days[day] {
            day += 1;
            continue;
        }
        let first = day;
        while day + 1 < 7 && days[day + 1] {
            day += 1;
        }
        parts.push(match day - first {
            0 => WEEKDAYS[first].to_owned(),
            1 => format!("{}, {}", WEEKDAYS[first], WEEKDAYS[day]),
            _ => format!("{}-{}", WEEKDAYS[first], WEEKDAYS[day]),
        });
        day += 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::days_from_civil;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;

    fn office_hours(zone: Zone) -> Window {
        Window {
            days: [true, true, true, true, true, false, false],
            start_ms: 9 * HOUR,
            end_ms: 16 * HOUR,
            zone,
        }
    }

    /// UTC instant of a local time at a fixed offset.
    fn at(y: i64, m: u32, d: u32, h: i64, min: i64, offset: i64) -> i64 {
        days_from_civil(y, m, d) * DAY_MS + h * HOUR + min * MIN - offset
    }

    #[test]
    fn edges_of_the_window() {
        let w = office_hours(Zone::fixed("+01:00").unwrap());
        // Wed 2024-06-12, local +01:00.
        let wed = |h, min| at(2024, 6, 12, h, min, HOUR);
        assert!(!w.contains(wed(8, 59)));
        assert!(w.contains(wed(9, 0)));
        assert!(w.contains(wed(15, 59)));
        assert!(!w.contains(wed(16, 0)));
        assert!(w.contains(wed(16, 0) - 1));
        // Sat 2024-06-15 at noon.
        assert!(!w.contains(at(2024, 6, 15, 12, 0, HOUR)));
    }

    #[test]
    fn the_offset_decides_the_local_day() {
        let w = office_hours(Zone::fixed("+09:00").unwrap());
        // Sun 2024-06-16 23:30 UTC is Mon 08:30 in Tokyo: closed, opens 30 minutes later.
        let sunday_night_utc = at(2024, 6, 16, 23, 30, 0);
        assert!(!w.contains(sunday_night_utc));
        assert_eq!(
            w.next_opening(sunday_night_utc),
            sunday_night_utc + 30 * MIN
        );
        // Mon 2024-06-17 00:30 UTC is Mon 09:30 there: open.
        assert!(w.contains(sunday_night_utc + HOUR));
    }

    #[test]
    fn next_opening_skips_the_weekend() {
        let w = office_hours(Zone::fixed("+01:00").unwrap());
        let monday_nine = at(2024, 6, 17, 9, 0, HOUR);
        for closed in [
            at(2024, 6, 14, 16, 0, HOUR),  // Fri 16:00
            at(2024, 6, 15, 12, 0, HOUR),  // Sat
            at(2024, 6, 16, 23, 59, HOUR), // Sun
            at(2024, 6, 17, 8, 59, HOUR),  // Mon 08:59
        ] {
            assert_eq!(w.next_opening(closed), monday_nine);
        }
        // Inside the window, the next opening is tomorrow's.
        assert_eq!(
            w.next_opening(at(2024, 6, 17, 10, 0, HOUR)),
            at(2024, 6, 18, 9, 0, HOUR)
        );
        assert_eq!(w.local_time(monday_nine), "Mon 2024-06-17 09:00 UTC+01:00");
    }

    #[test]
    fn named_zones_follow_summer_time() {
        let w = office_hours(Zone::named("Europe/Berlin").unwrap());
        // 09:00 in Berlin is 07:00 UTC in June and 08:00 UTC in January.
        assert!(w.contains(at(2024, 6, 12, 7, 0, 0)));
        assert!(!w.contains(at(2024, 1, 10, 7, 0, 0)));
        assert!(w.contains(at(2024, 1, 10, 8, 0, 0)));
        // Friday evening before the October switch: Monday opens at 08:00 UTC.
        let friday = at(2024, 10, 25, 17, 0, 0);
        let monday = w.next_opening(friday);
        assert_eq!(monday, at(2024, 10, 28, 8, 0, 0));
        assert_eq!(
            w.local_time(monday),
            "Mon 2024-10-28 09:00 Europe/Berlin (UTC+01:00)"
        );
    }

    #[test]
    fn descriptions() {
        let w = office_hours(Zone::named("Europe/Berlin").unwrap());
        assert_eq!(w.describe(), "Mon-Fri 09:00-16:00 Europe/Berlin");
        assert_eq!(
            describe_days(&[true, false, true, false, true, false, false]),
            "Mon, Wed, Fri"
        );
        assert_eq!(
            describe_days(&[true, true, false, false, false, true, true]),
            "Mon, Tue, Sat, Sun"
        );
        assert_eq!(
            describe_days(&[true, true, true, false, false, true, false]),
            "Mon-Wed, Sat"
        );
    }
}
