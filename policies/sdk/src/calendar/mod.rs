//! The host clock as people read it: weekday and time of day in a zone,
//! and weekly windows ("Monday to Friday, 09:00 to 16:00 in
//! Europe/Berlin"), without a time crate or a tz database.
//!
//! The time always comes from the host (`world.now()`): the sandbox has no
//! clock of its own, and a policy must decide the same way when `baton
//! policy replay` runs it again. It has no tz database either, so a
//! [`Zone`] is a fixed UTC offset or one of a small built-in table of zones
//! with today's daylight-saving rules ([`Zone::known_names`]).
//!
//! ```
//! use baton_policy::calendar::{Weekday, Zone};
//!
//! // A Friday-afternoon and weekend freeze in Berlin.
//! fn frozen(now_ms: i64) -> bool {
//!     let berlin = Zone::named("Europe/Berlin").expect("a built-in zone");
//!     let local = berlin.local_time(now_ms);
//!     match local.weekday {
//!         Weekday::Fri => local.hour() >= 12,
//!         Weekday::Sat | Weekday::Sun => true,
//!         _ => false,
//!     }
//! }
//!
//! // Fri 2024-06-14 10:30 UTC is 12:30 in Berlin (summer time).
//! assert!(frozen(1_718_361_000_000));
//! // Thu 2024-06-13 at the same time is not.
//! assert!(!frozen(1_718_361_000_000 - 86_400_000));
//! ```
//!
//! A [`Window`] holds the same rule as data, read from settings with
//! [`Window::from_settings`], and says when it next opens, for a `hold`
//! reason people can act on.

mod civil;
mod window;
mod zone;

pub use civil::{
    DAY_MS, HOUR_MS, LocalTime, MINUTE_MS, Weekday, civil_from_days, days_from_civil, format_local,
    last_sunday, nth_sunday,
};
pub use window::{DaysError, Window, parse_days, parse_time_of_day};
pub use zone::{Zone, format_offset};
