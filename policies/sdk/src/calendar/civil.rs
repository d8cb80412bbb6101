//! Civil dates from epoch milliseconds: the proleptic Gregorian calendar
//! (Howard Hinnant's `days_from_civil` / `civil_from_days`), weekdays, and
//! local times as people write them.

use std::fmt;

/// Milliseconds in a minute.
pub const MINUTE_MS: i64 = 60_000;
/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// A day of the week, Monday first (ISO 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

/// Full lower-case names, Monday first.
const FULL_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl Weekday {
    /// Every weekday, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// The weekday of a day number since 1970-01-01 (a Thursday).
    pub fn of_day(days: i64) -> Self {
        // rem_euclid(7) is in 0..7.
        Self::ALL[(days + 3).rem_euclid(7) as usize]
    }

    /// 0 for Monday ... 6 for Sunday.
    pub fn index(self) -> usize {
        self as usize
    }

    /// `Mon`, `Tue`, ...
    pub fn short_name(self) -> &'static str {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][self.index()]
    }

    /// A day as settings write it: `mon`, `Mon`, `monday`, `Monday`, or any
    /// prefix of the full name of at least three letters, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        FULL_NAMES
            .iter()
            .position(|full| text.len() >= 3 && full.starts_with(text.as_str()))
            .map(|at| Self::ALL[at])
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

/// A moment as a wall clock shows it: see [`Zone::local_time`](super::Zone::local_time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// The year, e.g. 2024.
    pub year: i64,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month, 1 to 31.
    pub day: u32,
    /// The day of the week.
    pub weekday: Weekday,
    /// Milliseconds since local midnight.
    pub ms_of_day: i64,
}

impl LocalTime {
    /// The local wall-clock time, given as epoch milliseconds (UTC plus
    /// the zone's offset; see [`Zone::to_local`](super::Zone::to_local)).
    pub fn from_local_ms(local_ms: i64) -> Self {
        let days = local_ms.div_euclid(DAY_MS);
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            weekday: Weekday::of_day(days),
            ms_of_day: local_ms.rem_euclid(DAY_MS),
        }
    }

    /// The hour, 0 to 23.
    pub fn hour(&self) -> u32 {
        // ms_of_day is in 0..DAY_MS, so this is in 0..24.
        (self.ms_of_day / HOUR_MS) as u32
    }

    /// The minute of the hour, 0 to 59.
    pub fn minute(&self) -> u32 {
        // In 0..60 by construction.
        (self.ms_of_day % HOUR_MS / MINUTE_MS) as u32
    }

    /// Minutes since local midnight, 0 to 1439: `9 * 60 + 30` is 09:30.
    pub fn minutes_of_day(&self) -> u32 {
        // In 0..1440 by construction.
        (self.ms_of_day / MINUTE_MS) as u32
    }
}

impl fmt::Display for LocalTime {
    /// `Mon 2024-06-10 09:05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:04}-{:02}-{:02} {:02}:{:02}",
            self.weekday,
            self.year,
            self.month,
            self.day,
            self.hour(),
            self.minute()
        )
    }
}

/// Days since 1970-01-01 of a civil date (`month` 1..=12, `day` 1..=31).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date `(year, month, day)` of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction: day 1..=31, month 1..=12.
    (year, month as u32, day as u32)
}

/// The `n`th (1-based) Sunday of a month, as a day number.
pub fn nth_sunday(year: i64, month: u32, n: i64) -> i64 {
    let first = days_from_civil(year, month, 1);
    let first_sunday = first + (6 - Weekday::of_day(first).index() as i64);
    first_sunday + 7 * (n - 1)
}

/// The last Sunday of a month, as a day number.
pub fn last_sunday(year: i64, month: u32) -> i64 {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let last = days_from_civil(next_year, next_month, 1) - 1;
    // Sunday is 6: step back 0 days from a Sunday, 1 from a Monday, ...
    last - ((Weekday::of_day(last).index() + 1) % 7) as i64
}

/// `Mon 2024-06-10 09:00` for a local time in epoch milliseconds.
pub fn format_local(local_ms: i64) -> String {
    LocalTime::from_local_ms(local_ms).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_round_trip() {
        // From `date -u -d ... +%s`.
        for (epoch_s, (y, m, d), wd) in [
            (0_i64, (1970, 1, 1), "Thu"),
            (1_717_977_600, (2024, 6, 10), "Mon"),
            (951_782_400, (2000, 2, 29), "Tue"),
            (-86_400, (1969, 12, 31), "Wed"),
        ] {
            let days = epoch_s / 86_400;
            assert_eq!(days_from_civil(y, m, d), days);
            assert_eq!(civil_from_days(days), (y, m, d));
            assert_eq!(Weekday::of_day(days).short_name(), wd);
        }
        for days in -150_000..150_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn sundays_for_daylight_saving_rules() {
        // 2024: EU switches on Sun 31 March and Sun 27 October; the US on
        // Sun 10 March and Sun 3 November.
        assert_eq!(civil_from_days(last_sunday(2024, 3)), (2024, 3, 31));
        assert_eq!(civil_from_days(last_sunday(2024, 10)), (2024, 10, 27));
        assert_eq!(civil_from_days(nth_sunday(2024, 3, 2)), (2024, 3, 10));
        assert_eq!(civil_from_days(nth_sunday(2024, 11, 1)), (2024, 11, 3));
        // A month that ends on a Sunday, and one that starts on one.
        assert_eq!(civil_from_days(last_sunday(2023, 12)), (2023, 12, 31));
        assert_eq!(civil_from_days(nth_sunday(2023, 10, 1)), (2023, 10, 1));
    }

    #[test]
    fn local_times_read_as_people_write_them() {
        let monday = 1_717_977_600_000 + 9 * HOUR_MS + 5 * MINUTE_MS;
        assert_eq!(format_local(monday), "Mon 2024-06-10 09:05");
        assert_eq!(format_local(-60_000), "Wed 1969-12-31 23:59");
        let local = LocalTime::from_local_ms(monday);
        assert_eq!(
            (
                local.weekday,
                local.hour(),
                local.minute(),
                local.minutes_of_day()
            ),
            (Weekday::Mon, 9, 5, 545)
        );
    }

    #[test]
    fn weekday_names_parse_in_any_case_from_three_letters() {
        for (text, day) in [
            ("mon", Weekday::Mon),
            ("Friday", Weekday::Fri),
            ("SAT", Weekday::Sat),
            ("thur", Weekday::Thu),
            (" sun ", Weekday::Sun),
        ] {
            assert_eq!(Weekday::parse(text), Some(day), "{text}");
        }
        for bad in ["mo", "", "fridays", "x"] {
            assert_eq!(Weekday::parse(bad), None, "{bad}");
        }
        assert_eq!(Weekday::Wed.to_string(), "Wed");
        assert_eq!(Weekday::Sun.index(), 6);
    }
}
