//! `chime spool list --summary`: a line per destination, read in the time
//! it takes to list its folders.
//!
//! Counts are of the files in them; only the oldest entry of each
//! destination is read, for its age and for when it is next tried — which is
//! when the destination is next tried, as a later entry never goes before an
//! earlier one (invariant 4 of `spool/mod.rs`). A damaged oldest entry is
//! quarantined with a warning, as every reader does, and not counted; the
//! next one is read instead.

use std::time::SystemTime;

use serde_json::json;

use super::list::{destinations, names, read, say_none};
use super::{state_name, timestamp};
use crate::cli::SpoolListArgs;
use crate::exit::{ExitCode, Failure};
use crate::report::{self, Output};
use crate::spool::{Kind, Name, Outline, Spool, State, when};

pub fn summary(
    spools: &[Spool],
    state: State,
    args: &SpoolListArgs,
    output: Output,
) -> Result<ExitCode, Failure> {
    let mut tallies = Vec::new();
    for spool in spools {
        let mut shown = destinations(spool, State::Pending, &args.dest, output);
        shown.extend(destinations(spool, State::Dead, &args.dest, output));
        shown.extend(destinations(spool, State::Held, &args.dest, output));
        shown.sort();
        shown.dedup();
        for destination in shown {
            let tally = Tally::of(spool, destination, state, output);
            if tally.listed(state) > 0 {
                tallies.push(tally);
            }
        }
    }
    if args.json {
        let rows: Vec<_> = tallies.iter().map(|t| t.as_json(state)).collect();
        report::line(&serde_json::Value::from(rows).to_string())?;
    } else if tallies.is_empty() {
        if !output.quiet {
            say_none(state, &args.dest);
        }
    } else {
        report::text(&table(&tallies, state))?;
    }
    Ok(ExitCode::Ok)
}

/// What one destination holds.
struct Tally<'s> {
    spool: &'s Spool,
    destination: String,
    pending: usize,
    in_flight: usize,
    /// Held to go later (`spool/held.rs`): counted, never the oldest.
    held: usize,
    dead: usize,
    /// The oldest readable entry in the state listed.
    oldest: Option<Outline>,
}

impl<'s> Tally<'s> {
    fn of(spool: &'s Spool, destination: String, state: State, output: Output) -> Tally<'s> {
        let listed = |state| names(spool, state, &destination, output).unwrap_or_default();
        let (pending, dead) = (listed(State::Pending), listed(State::Dead));
        let in_flight = pending.iter().filter(|n| n.kind == Kind::InFlight).count();
        let mut tally = Tally {
            spool,
            pending: pending.len() - in_flight,
            in_flight,
            held: listed(State::Held).len(),
            dead: dead.len(),
            oldest: None,
            destination,
        };
        let oldest_first: &[Name] = if state == State::Dead {
            &dead
        } else {
            &pending
        };
        for name in oldest_first {
            tally.oldest = read(spool, &tally.destination, state, name, output);
            if tally.oldest.is_some() {
                break;
            }
            // Damaged (now quarantined), or settled since it was listed.
            match (state, name.kind) {
                (State::Dead, _) => tally.dead -= 1,
                (_, Kind::InFlight) => tally.in_flight -= 1,
                (_, Kind::Queued) => tally.pending -= 1,
            }
        }
        tally
    }

    /// How many entries it has in `state`, in flight counted as pending.
    fn listed(&self, state: State) -> usize {
        match state {
            State::Dead => self.dead,
            State::Pending | State::Held => self.pending + self.in_flight + self.held,
        }
    }

    /// When the destination is next tried: when its oldest pending entry is.
    fn next(&self, state: State) -> Option<SystemTime> {
        (state == State::Pending).then_some(self.oldest.as_ref()?.next_attempt)
    }

    fn age(&self) -> Option<std::time::Duration> {
        let created = self.oldest.as_ref()?.created;
        Some(
            SystemTime::now()
                .duration_since(created)
                .unwrap_or_default(),
        )
    }

    fn as_json(&self, state: State) -> serde_json::Value {
        let oldest = self.oldest.as_ref();
        json!({
            "profile": self.spool.profile(),
            "destination": self.destination,
            "state": state_name(state),
            "pending": self.pending,
            "in_flight": self.in_flight,
            "held": self.held,
            "dead": self.dead,
            "oldest_id": oldest.map(|o| crate::spool::short_id(&o.id)),
            "oldest_created": oldest.map(|o| timestamp(o.created)),
            "oldest_age_secs": self.age().map(|age| age.as_secs()),
            "next_attempt": self.next(state).map(timestamp),
        })
    }
}

/// The tallies as a table, with a profile column when there are several.
fn table(tallies: &[Tally], state: State) -> String {
    let several = tallies
        .windows(2)
        .any(|pair| pair[0].spool.profile() != pair[1].spool.profile());
    let profile = |name: &str| match several {
        true => format!("{name:<12}  "),
        false => String::new(),
    };
    let mut text = format!(
        "{}{:<16}  {:>8}  {:>9}  {:>6}  {:>6}  {:<16}  NEXT\n",
        profile("PROFILE"),
        "DESTINATION",
        "PENDING",
        "IN FLIGHT",
        "DEAD",
        "HELD",
        "OLDEST"
    );
    for t in tallies {
        text.push_str(&format!(
            "{}{:<16}  {:>8}  {:>9}  {:>6}  {:>6}  {:<16}  {}\n",
            profile(t.spool.profile()),
            t.destination,
            t.pending,
            t.in_flight,
            t.dead,
            t.held,
            t.age().map_or("-".to_owned(), ago),
            t.next(state).map_or("-".to_owned(), when),
        ));
    }
    text
}

/// "3h 12m ago": two units are enough to tell how stuck a destination is.
fn ago(age: std::time::Duration) -> String {
    let secs = age.as_secs();
    let unit = match secs {
        0..3_600 => 1,
        3_600..86_400 => 60,
        _ => 3_600,
    };
    let rounded = std::time::Duration::from_secs(secs / unit * unit);
    format!("{} ago", humantime::format_duration(rounded))
}

#[cfg(test)]
mod tests {
    use super::ago;
    use std::time::Duration;

    #[test]
    fn an_age_is_told_in_its_two_largest_units() {
        assert_eq!(ago(Duration::from_secs(0)), "0s ago");
        assert_eq!(ago(Duration::from_secs(125)), "2m 5s ago");
        assert_eq!(
            ago(Duration::from_secs(3 * 3600 + 12 * 60 + 7)),
            "3h 12m ago"
        );
        assert_eq!(
            ago(Duration::from_secs(2 * 86_400 + 5 * 3600 + 59)),
            "2days 5h ago"
        );
    }
}
