//! When a message goes, and whether it goes alone: a route's `dedupe`,
//! `limit`, `digest` and `quiet` settings, and what they decide for one
//! message.
//!
//! The decisions are made in one order, each only if the one before let the
//! message through:
//!
//! 1. **dedupe** — a message like one posted inside the window is counted,
//!    not posted (the count lives in the keyed state, `state/windows/`);
//! 2. **quiet** hours hold the messages of their levels until the hours end;
//! 3. **digest** holds every message until the end of its interval;
//! 4. **limit** lets so many messages per window through and holds the rest
//!    until the window ends.
//!
//! What is held is a spool entry like any other (`spool/held.rs`), and the
//! messages held together go as one digest (`digest.rs`) when a flush finds
//! them due.

mod digest;
mod quiet;

use std::time::{Duration, SystemTime};

pub use digest::{digest, note, note_line};
pub use quiet::Quiet;

use crate::message::Level;

/// A route's (or a rule's) timing settings; all off by default.
#[derive(Clone, Debug, Default)]
pub struct Timing {
    pub dedupe: Option<Dedupe>,
    pub limit: Option<Limit>,
    /// `digest = "1h"`: everything in one message per interval.
    pub digest: Option<Duration>,
    pub quiet: Option<Quiet>,
}

/// `dedupe = "10m"`, and `dedupe_key`, a template for the key (destination,
/// level, title and text otherwise).
#[derive(Clone, Debug)]
pub struct Dedupe {
    pub window: Duration,
    pub key: Option<String>,
}

/// `limit = "10/5m"`: at most `count` messages per `per`, of `levels`
/// (all but critical unless the route says `limit_levels`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub per: Duration,
    pub levels: Vec<Level>,
}

impl Limit {
    /// Reads `10/5m`.
    pub fn parse(text: &str, levels: Option<Vec<Level>>) -> Result<Limit, String> {
        let bad = || format!("`{text}` is not a limit like \"10/5m\" (messages per window)");
        let (count, per) = text.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = humantime::parse_duration(per.trim()).map_err(|_| bad())?;
        if count == 0 || per.is_zero() {
            return Err(format!(
                "`{text}`: a limit needs at least 1 message per window"
            ));
        }
        let levels = levels.unwrap_or_else(|| {
            Level::ALL
                .into_iter()
                .filter(|l| *l != Level::Critical)
                .collect()
        });
        Ok(Limit { count, per, levels })
    }
}

/// The fixed window of `interval` that `now` falls in, counted from the
/// epoch (so an hourly digest closes on the hour): its start and end.
pub fn window(interval: Duration, now: SystemTime) -> (SystemTime, SystemTime) {
    let secs = interval.as_secs().max(1);
    let at = crate::clock::epoch_secs(now);
    let start = std::time::UNIX_EPOCH + Duration::from_secs(at - at % secs);
    (start, start + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_reads_as_messages_per_window_and_spares_critical() {
        let limit = Limit::parse("10/5m", None).unwrap();
        assert_eq!((limit.count, limit.per), (10, Duration::from_secs(300)));
        assert!(!limit.levels.contains(&Level::Critical));
        assert!(Limit::parse("10", None).is_err());
        assert!(Limit::parse("0/5m", None).is_err());
        assert!(Limit::parse("ten/5m", None).is_err());
    }

    #[test]
    fn a_window_is_aligned_to_its_interval() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(3600 * 5 + 42);
        let (start, end) = window(Duration::from_secs(3600), now);
        assert_eq!(start, std::time::UNIX_EPOCH + Duration::from_secs(3600 * 5));
        assert_eq!(end, std::time::UNIX_EPOCH + Duration::from_secs(3600 * 6));
    }
}
