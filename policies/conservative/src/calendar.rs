//! Civil dates from epoch milliseconds, without a time crate: the proleptic
//! Gregorian calendar (Howard Hinnant's `days_from_civil` /
//! `civil_from_days`), weekdays, and short local-time text.

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Weekday names, Monday first (index = [`weekday`]).
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

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

/// Weekday of a day number, 0 = Monday ... 6 = Sunday (1970-01-01 was a
/// Thursday).
pub fn weekday(days: i64) -> usize {
    // rem_euclid(7) is in 0..7.
    (days + 3).rem_euclid(7) as usize
}

/// The `n`th (1-based) Sunday of a month, as a day number.
pub fn nth_sunday(year: i64, month: u32, n: i64) -> i64 {
    let first = days_from_civil(year, month, 1);
    let first_sunday = first + (6 - weekday(first) as i64);
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
    last - ((weekday(last) + 1) % 7) as i64
}

/// `Mon 2024-06-10 09:00` for a local time in epoch milliseconds.
pub fn format_local(local_ms: i64) -> String {
    let days = local_ms.div_euclid(DAY_MS);
    let minutes = local_ms.rem_euclid(DAY_MS) / 60_000;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {year:04}-{month:02}-{day:02} {:02}:{:02}",
        WEEKDAYS[weekday(days)],
        minutes / 60,
        minutes % 60
    )
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
            assert_eq!(WEEKDAYS[weekday(days)], wd);
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
        assert_eq!(
            format_local(1_717_977_600_000 + 9 * 3_600_000 + 5 * 60_000),
            "Mon 2024-06-10 09:05"
        );
        assert_eq!(format_local(-60_000), "Wed 1969-12-31 23:59");
    }
}
