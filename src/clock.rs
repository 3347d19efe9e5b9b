//! The time chime decides by, and the times people write: `--at 09:00`, a
//! quiet window's `22:00-07:00`, the "last 10:42" of a count.
//!
//! Everything that decides *when* a message goes — whether it is due, which
//! window it falls in, whether quiet hours hold it — asks [`now`], never the
//! system clock itself, so that the tests can stand at any moment: a debug
//! build reads `CHIME_NOW` (seconds since the epoch, or an RFC 3339 time) as
//! the present, as `CHIME_FAULT` injects disk faults. A release build never
//! looks. Times of day are local (`TZ`, else the system's zone) unless a
//! route names an IANA zone; jiff reads the system's time zone database and
//! carries one of its own for machines without it (slim containers).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// The present, as far as chime's decisions go.
pub fn now() -> SystemTime {
    injected().unwrap_or_else(SystemTime::now)
}

#[cfg(debug_assertions)]
fn injected() -> Option<SystemTime> {
    static NOW: std::sync::OnceLock<Option<SystemTime>> = std::sync::OnceLock::new();
    *NOW.get_or_init(|| {
        let spec = std::env::var("CHIME_NOW").ok()?;
        match spec.parse::<u64>() {
            Ok(secs) => Some(UNIX_EPOCH + Duration::from_secs(secs)),
            Err(_) => spec.parse::<Timestamp>().ok().map(SystemTime::from),
        }
    })
}

#[cfg(not(debug_assertions))]
fn injected() -> Option<SystemTime> {
    None
}

/// The zone times of day are read in: `name` (an IANA zone), else local.
pub fn zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        Some(name) => TimeZone::get(name).map_err(|_| {
            format!("`{name}` is not a time zone chime knows (an IANA name, like Europe/Berlin)")
        }),
        None => Ok(local()),
    }
}

/// The local zone: `TZ`, else the system's `/etc/localtime`, else UTC.
/// Read from the zone's own file rather than through `TimeZone::system`,
/// which lists the whole time zone database to name the zone: 40
/// directory reads, a tenth of a counted repeat's time.
pub fn local() -> TimeZone {
    static LOCAL: std::sync::OnceLock<TimeZone> = std::sync::OnceLock::new();
    LOCAL
        .get_or_init(|| match std::env::var("TZ") {
            Ok(tz) => match tz.trim_start_matches(':') {
                "" | "UTC" | "Etc/UTC" | "UTC0" => TimeZone::UTC,
                name => TimeZone::get(name)
                    .or_else(|_| TimeZone::posix(name))
                    .unwrap_or_else(|_| TimeZone::system()),
            },
            Err(_) => std::fs::read("/etc/localtime")
                .ok()
                .and_then(|bytes| TimeZone::tzif("Local", &bytes).ok())
                .unwrap_or(TimeZone::UTC),
        })
        .clone()
}

fn zoned(time: SystemTime, zone: &TimeZone) -> Option<Zoned> {
    Timestamp::try_from(time)
        .ok()
        .map(|t| t.to_zoned(zone.clone()))
}

/// `HH:MM` (or `HH:MM:SS`) as a time of day.
pub fn time_of_day(text: &str) -> Result<Time, String> {
    text.trim()
        .parse::<Time>()
        .map_err(|_| format!("`{text}` is not a time of day like 09:30"))
}

/// When `--at TEXT` means, seen from `now`: an RFC 3339 time; a date and a
/// time (`2026-12-24 09:00`, local); or a time of day, today if it is still
/// to come and tomorrow otherwise. A moment already past is refused.
pub fn parse_at(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    let zone = local();
    let text = text.trim();
    let at = if let Ok(stamp) = text.parse::<Timestamp>() {
        SystemTime::from(stamp)
    } else if let Ok(civil) = text.parse::<DateTime>() {
        let zoned = civil.to_zoned(zone).map_err(|e| format!("`{text}`: {e}"))?;
        SystemTime::from(zoned.timestamp())
    } else if let Ok(time) = text.parse::<Time>() {
        next_time_of_day(time, now, &zone).ok_or_else(|| format!("`{text}`: out of range"))?
    } else {
        return Err(format!(
            "`{text}` is not a time: give 09:30, 2026-12-24 09:00, or 2026-12-24T09:00:00Z"
        ));
    };
    if at <= now {
        return Err(format!("`{text}` is in the past"));
    }
    Ok(at)
}

/// The next moment after `now` whose time of day in `zone` is `time`.
pub fn next_time_of_day(time: Time, now: SystemTime, zone: &TimeZone) -> Option<SystemTime> {
    let today = zoned(now, zone)?;
    let mut candidate = today.date().to_datetime(time).to_zoned(zone.clone()).ok()?;
    if candidate.timestamp() <= today.timestamp() {
        let tomorrow = today.date().tomorrow().ok()?;
        candidate = tomorrow.to_datetime(time).to_zoned(zone.clone()).ok()?;
    }
    Some(SystemTime::from(candidate.timestamp()))
}

/// The time of day in `zone` at `time`, for people: `10:42`.
pub fn clock_time(time: SystemTime, zone: &TimeZone) -> String {
    zoned(time, zone).map_or_else(String::new, |z| z.strftime("%H:%M").to_string())
}

/// A moment for people and scripts: RFC 3339 with the local offset.
pub fn stamp(time: SystemTime) -> String {
    zoned(time, &local()).map_or_else(String::new, |z| {
        z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    })
}

/// The time of day of `time` in `zone`.
pub fn time_in(time: SystemTime, zone: &TimeZone) -> Option<Time> {
    zoned(time, zone).map(|z| z.time())
}

/// Seconds since the epoch, for records and platforms' `post_at`.
pub fn epoch_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A span as people say it: `5 min`, `1h`, `2h 30m`.
pub fn span(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s % 3600 == 0 && s >= 3600 => format!("{} h", s / 3600),
        s if s % 60 == 0 && s >= 60 => format!("{} min", s / 60),
        s if s >= 60 => humantime::format_duration(Duration::from_secs(s)).to_string(),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> TimeZone {
        TimeZone::UTC
    }

    fn at(text: &str) -> SystemTime {
        SystemTime::from(text.parse::<Timestamp>().unwrap())
    }

    #[test]
    fn a_time_of_day_still_to_come_is_today_and_one_past_is_tomorrow() {
        let now = at("2026-12-03T10:00:00Z");
        let nine = time_of_day("09:00").unwrap();
        let eleven = time_of_day("11:00").unwrap();
        assert_eq!(
            next_time_of_day(eleven, now, &utc()),
            Some(at("2026-12-03T11:00:00Z"))
        );
        assert_eq!(
            next_time_of_day(nine, now, &utc()),
            Some(at("2026-12-04T09:00:00Z"))
        );
    }

    #[test]
    fn an_rfc3339_time_is_taken_as_written_and_the_past_is_refused() {
        let now = at("2026-12-03T10:00:00Z");
        assert_eq!(
            parse_at("2026-12-03T12:00:00+01:00", now).unwrap(),
            at("2026-12-03T11:00:00Z")
        );
        assert!(
            parse_at("2026-12-03T09:00:00Z", now)
                .unwrap_err()
                .contains("past")
        );
        assert!(parse_at("soon", now).unwrap_err().contains("not a time"));
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(Duration::from_secs(300)), "5 min");
        assert_eq!(span(Duration::from_secs(3600)), "1 h");
        assert_eq!(span(Duration::from_secs(90)), "1m 30s");
        assert_eq!(span(Duration::from_secs(7)), "7 s");
    }

    #[test]
    fn a_zone_by_name_is_known_and_a_misspelt_one_is_said() {
        assert!(zone(Some("Europe/Berlin")).is_ok());
        assert!(zone(Some("Europe/Berlim")).unwrap_err().contains("IANA"));
    }
}
