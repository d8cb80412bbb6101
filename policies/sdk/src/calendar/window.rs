//! Weekly windows: weekdays and a time of day in a zone. Is a moment
//! inside one, and when does it next open? Read from settings such as
//! `{days: [mon..fri], start: "09:00", end: "16:00", time_zone: Europe/Berlin}`.

use super::civil::{DAY_MS, HOUR_MS, MINUTE_MS, Weekday, format_local};
use super::zone::{Zone, format_offset};
use crate::PolicyError;
use crate::settings::Settings;

/// A weekly window: on `days`, from `start` (inclusive) to `end`
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
        self.days[Weekday::of_day(local.div_euclid(DAY_MS)).index()]
            && self.start_ms <= time
            && time < self.end_ms
    }

    /// The first opening after `utc_ms` (UTC epoch milliseconds).
    pub fn next_opening(&self, utc_ms: i64) -> i64 {
        let local = self.zone.to_local(utc_ms);
        let today = local.div_euclid(DAY_MS);
        let time = local.rem_euclid(DAY_MS);
        // Validation keeps at least one day, so a week ahead always has one.
        let day = (0..=7)
            .map(|ahead| today + ahead)
            .find(|&day| {
                self.days[Weekday::of_day(day).index()] && (day > today || time < self.start_ms)
            })
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
            0 => Weekday::ALL[first].to_string(),
            1 => format!("{}, {}", Weekday::ALL[first], Weekday::ALL[day]),
            _ => format!("{}-{}", Weekday::ALL[first], Weekday::ALL[day]),
        });
        day += 1;
    }
    parts.join(", ")
}

impl Window {
    /// The keys [`Window::from_settings`] reads.
    pub const KEYS: &'static [&'static str] = &["days", "start", "end", "utc_offset", "time_zone"];

    /// Reads a window from a settings section (unknown keys refused):
    /// `days` (names and ranges, see [`parse_days`]), `start` and `end`
    /// (`HH:MM`, local; `end` may be `24:00`), and the zone as `utc_offset`
    /// (`+01:00`) or `time_zone` (a built-in zone such as `Europe/Berlin`),
    /// not both. A key left out keeps its value in `default`, except the
    /// zone, which is UTC. Errors name keys relative to the section; wrap
    /// them with [`nest_error`](crate::settings::nest_error) to name the
    /// section.
    pub fn from_settings(s: &Settings, default: &Window) -> Result<Window, PolicyError> {
        s.reject_unknown(Self::KEYS)?;
        let zone = match (s.string("utc_offset")?, s.string("time_zone")?) {
            (Some(_), Some(_)) => {
                return Err(PolicyError::InvalidSettings(
                    "settings.utc_offset: set utc_offset or time_zone, not both".into(),
                ));
            }
            (Some(offset), None) => Zone::fixed(&offset).ok_or_else(|| {
                invalid("utc_offset", &offset, "an offset like +01:00 or -05:30")
            })?,
            (None, Some(name)) => Zone::named(&name).ok_or_else(|| {
                PolicyError::InvalidSettings(format!(
                    "settings.time_zone: {name} is not a built-in zone (known: {}); set utc_offset instead",
                    Zone::known_names().join(", ")
                ))
            })?,
            (None, None) => Zone::utc(),
        };
        let days = match s.strings("days")? {
            Some(names) => parse_days(&names).map_err(|e| match e {
                DaysError::NotADay(name) => invalid(
                    "days",
                    &name,
                    "a day (mon, tue, wed, thu, fri, sat, sun) or a range like mon..fri",
                ),
                DaysError::Empty => PolicyError::InvalidSettings(
                    "settings.days: no day given, so the window would never open".into(),
                ),
            })?,
            None => default.days,
        };
        let start_ms = match s.string("start")? {
            Some(text) => parse_time_of_day(&text, false)
                .ok_or_else(|| invalid("start", &text, "a time like 09:00"))?,
            None => default.start_ms,
        };
        let end_ms = match s.string("end")? {
            Some(text) => parse_time_of_day(&text, true)
                .ok_or_else(|| invalid("end", &text, "a time like 16:00"))?,
            None => default.end_ms,
        };
        if end_ms <= start_ms {
            return Err(PolicyError::InvalidSettings(format!(
                "settings.end: must be after start ({} is not after {}; a window cannot span midnight)",
                clock(end_ms),
                clock(start_ms)
            )));
        }
        Ok(Window {
            days,
            start_ms,
            end_ms,
            zone,
        })
    }
}

/// Why a list of days is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaysError {
    /// This entry is neither a day nor a range of days.
    NotADay(String),
    /// No day at all.
    Empty,
}

/// Day names (`mon`, `Monday`, see [`Weekday::parse`]) and ranges
/// (`mon..fri`; a range may wrap, `fri..mon`), as a mask indexed Monday
/// first.
pub fn parse_days(names: &[String]) -> Result<[bool; 7], DaysError> {
    let mut days = [false; 7];
    for name in names {
        let (first, last) = match name.split_once("..") {
            Some((a, b)) => (Weekday::parse(a), Weekday::parse(b)),
            None => (Weekday::parse(name), Weekday::parse(name)),
        };
        let (Some(first), Some(last)) = (first, last) else {
            return Err(DaysError::NotADay(name.clone()));
        };
        let mut day = first.index();
        loop {
            days[day] = true;
            if day == last.index() {
                break;
            }
            day = (day + 1) % 7;
        }
    }
    if days.iter().any(|d| *d) {
        Ok(days)
    } else {
        Err(DaysError::Empty)
    }
}

/// `HH:MM` as milliseconds after midnight; `24:00` only when `is_end`.
pub fn parse_time_of_day(text: &str, is_end: bool) -> Option<i64> {
    let (hours, minutes) = text.trim().split_once(':')?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
    let valid = (hours < 24 && minutes < 60) || (is_end && hours == 24 && minutes == 0);
    valid.then_some(hours * HOUR_MS + minutes * MINUTE_MS)
}

fn invalid(key: &str, value: &str, expected: &str) -> PolicyError {
    PolicyError::InvalidSettings(format!("settings.{key}: {value} is not {expected}"))
}

#[cfg(test)]
mod tests {
    use super::super::civil::days_from_civil;
    use super::*;

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

    fn read(json: &str) -> Result<Window, PolicyError> {
        Window::from_settings(&Settings::parse(json).unwrap(), &office_hours(Zone::utc()))
    }

    fn error(json: &str) -> String {
        match read(json) {
            Err(PolicyError::InvalidSettings(msg)) => msg,
            other => panic!("expected invalid settings, got {other:?}"),
        }
    }

    #[test]
    fn a_window_reads_from_settings_with_defaults() {
        let w = read(r#"{"days": ["fri..mon"], "start": "12:00", "end": "24:00", "time_zone": "Europe/Berlin"}"#)
            .unwrap();
        assert_eq!(w.describe(), "Mon, Fri-Sun 12:00-24:00 Europe/Berlin");
        let w = read(r#"{"utc_offset": "+05:30"}"#).unwrap();
        assert_eq!(w.describe(), "Mon-Fri 09:00-16:00 UTC+05:30");
        assert_eq!(read("{}").unwrap(), office_hours(Zone::utc()));
    }

    #[test]
    fn window_settings_errors_name_the_key_and_value() {
        assert_eq!(
            error(r#"{"days": ["someday"]}"#),
            "settings.days: someday is not a day (mon, tue, wed, thu, fri, sat, sun) or a range like mon..fri"
        );
        assert_eq!(
            error(r#"{"days": []}"#),
            "settings.days: no day given, so the window would never open"
        );
        assert_eq!(
            error(r#"{"start": "9am"}"#),
            "settings.start: 9am is not a time like 09:00"
        );
        assert_eq!(
            error(r#"{"start": "16:00", "end": "09:00"}"#),
            "settings.end: must be after start (09:00 is not after 16:00; a window cannot span midnight)"
        );
        assert_eq!(
            error(r#"{"utc_offset": "+01:00", "time_zone": "UTC"}"#),
            "settings.utc_offset: set utc_offset or time_zone, not both"
        );
        assert!(error(r#"{"time_zone": "Mars/Olympus"}"#).starts_with(
            "settings.time_zone: Mars/Olympus is not a built-in zone (known: UTC, Europe/London,"
        ));
        assert!(error(r#"{"dayz": []}"#).starts_with("settings.dayz: not a setting"));
    }

    #[test]
    fn days_and_times_parse_on_their_own() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            parse_days(&names(&["sat..mon", "wed"])),
            Ok([true, false, true, false, false, true, true])
        );
        assert_eq!(
            parse_days(&names(&["mon..funday"])),
            Err(DaysError::NotADay("mon..funday".into()))
        );
        assert_eq!(
            parse_time_of_day("09:30", false),
            Some(9 * HOUR_MS + 30 * MINUTE_MS)
        );
        assert_eq!(parse_time_of_day("24:00", false), None);
        assert_eq!(parse_time_of_day("24:00", true), Some(24 * HOUR_MS));
        assert_eq!(parse_time_of_day("9:30", false), None);
    }
}
