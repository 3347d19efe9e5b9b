//! Quiet hours: `quiet = "22:00-07:00"` on a route, read in its `timezone`
//! (local otherwise), holding the messages of `quiet_levels` (info and
//! success unless set) until the hours end.

use std::time::SystemTime;

use jiff::civil::Time;
use jiff::tz::TimeZone;

use crate::clock;
use crate::message::Level;

#[derive(Clone, Debug)]
pub struct Quiet {
    from: Time,
    to: Time,
    zone: TimeZone,
    pub levels: Vec<Level>,
    /// As written, for messages: `22:00-07:00`.
    pub hours: String,
}

impl Quiet {
    pub fn parse(
        hours: &str,
        zone: Option<&str>,
        levels: Option<Vec<Level>>,
    ) -> Result<Quiet, String> {
        let (from, to) = hours
            .split_once('-')
            .ok_or_else(|| format!("`{hours}` is not a span of hours like \"22:00-07:00\""))?;
        let (from, to) = (clock::time_of_day(from)?, clock::time_of_day(to)?);
        if from == to {
            return Err(format!("`{hours}` starts and ends at the same time"));
        }
        Ok(Quiet {
            from,
            to,
            zone: clock::zone(zone)?,
            levels: levels.unwrap_or_else(|| vec![Level::Info, Level::Success]),
            hours: hours.trim().to_owned(),
        })
    }

    /// The zone its hours are read in, by name where it has one.
    pub fn zone_name(&self) -> String {
        self.zone.iana_name().unwrap_or("local").to_owned()
    }

    /// When the quiet hours `now` falls in end, if it falls in them and
    /// `level` is one they hold.
    pub fn holds_until(&self, level: Level, now: SystemTime) -> Option<SystemTime> {
        if !self.levels.contains(&level) {
            return None;
        }
        let time = clock::time_in(now, &self.zone)?;
        let inside = match self.from < self.to {
            true => self.from <= time && time < self.to,
            // Over midnight: 22:00-07:00.
            false => time >= self.from || time < self.to,
        };
        if !inside {
            return None;
        }
        clock::next_time_of_day(self.to, now, &self.zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn at(text: &str) -> SystemTime {
        SystemTime::from(text.parse::<Timestamp>().unwrap())
    }

    #[test]
    fn quiet_hours_over_midnight_hold_info_until_they_end_and_pass_errors() {
        let quiet = Quiet::parse("22:00-07:00", Some("UTC"), None).unwrap();
        let night = at("2026-12-03T23:30:00Z");
        assert_eq!(
            quiet.holds_until(Level::Info, night),
            Some(at("2026-12-04T07:00:00Z"))
        );
        assert_eq!(quiet.holds_until(Level::Error, night), None);
        let early = at("2026-12-04T06:59:00Z");
        assert_eq!(
            quiet.holds_until(Level::Success, early),
            Some(at("2026-12-04T07:00:00Z"))
        );
        assert_eq!(
            quiet.holds_until(Level::Info, at("2026-12-04T07:00:00Z")),
            None
        );
        assert_eq!(
            quiet.holds_until(Level::Info, at("2026-12-04T12:00:00Z")),
            None
        );
    }

    #[test]
    fn quiet_hours_within_a_day_and_in_a_named_zone() {
        let quiet = Quiet::parse("12:00-13:00", Some("Asia/Tokyo"), None).unwrap();
        // 12:30 in Tokyo is 03:30 UTC.
        assert_eq!(
            quiet.holds_until(Level::Info, at("2026-12-03T03:30:00Z")),
            Some(at("2026-12-03T04:00:00Z"))
        );
        assert_eq!(
            quiet.holds_until(Level::Info, at("2026-12-03T12:30:00Z")),
            None
        );
    }

    #[test]
    fn a_malformed_span_is_refused_with_an_example() {
        assert!(
            Quiet::parse("22:00", None, None)
                .unwrap_err()
                .contains("22:00-07:00")
        );
        assert!(Quiet::parse("25:00-07:00", None, None).is_err());
        assert!(Quiet::parse("07:00-07:00", None, None).is_err());
    }
}
