//! Held entries: messages accepted to go later — at a time asked for
//! (`--at`, `--in`), or together with others in one digest (a route's
//! `limit`, `digest` or `quiet` hours).
//!
//! A held message is an entry like any other, written as durably, under
//! `held/<destination>/` and with a [`Hold`] saying until when and why. It is
//! kept apart from `pending/` so that it stands outside the destination's
//! order (invariant 4): a message scheduled for tomorrow does not make
//! today's wait behind it. Once due, the holder of the destination's lock
//! (a flush, or a send whose `.next` hint says something is due) releases it: a scheduled entry moves to `pending/` whole, keeping
//! its id (so it goes before anything queued after it was accepted), the new
//! copy written before the held one is removed (invariant 6); the entries of
//! one digest become one pending entry, written before they are removed. A
//! crash in between leaves both: the message or the digest is sent twice,
//! never lost.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{Entry, Read, Spool, SpoolError, State};
use crate::message::Level;

/// Until when, and why, an entry is held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    #[serde(with = "super::entry::millis")]
    pub until: SystemTime,
    pub why: Why,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "reason")]
pub enum Why {
    /// `--at` or `--in`: it goes alone, as it was rendered.
    Scheduled,
    /// One of the messages a digest gathers; `group` names the digest
    /// (the route and the window), `note` is what the digest says of it.
    Digest { group: String, note: Note },
}

/// What a digest says of one message it stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub title: Option<String>,
    pub level: Level,
    /// The first line of its text, as typed, cut short.
    pub line: String,
    #[serde(with = "super::entry::millis")]
    pub at: SystemTime,
    /// The channel its route chose, which the digest goes to as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// What the digest's heading says of why these were held.
    pub heading: Heading,
}

/// Why a digest's messages were held, for its heading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "by")]
pub enum Heading {
    /// Past a route's `limit` of messages per window.
    Limit { secs: u64 },
    /// A route's `digest` interval.
    Interval { secs: u64 },
    /// A route's `quiet` hours.
    Quiet { hours: String },
}

impl Hold {
    /// What `chime spool list` says an entry waits for.
    pub fn describe(&self) -> String {
        match &self.why {
            Why::Scheduled => "scheduled".to_owned(),
            Why::Digest { note, .. } => match &note.heading {
                Heading::Limit { .. } => "held past the route's limit, for a digest".to_owned(),
                Heading::Interval { .. } => "held for the route's digest".to_owned(),
                Heading::Quiet { hours } => format!("held through quiet hours ({hours})"),
            },
        }
    }
}

/// The hint of when a destination's first held entry is due.
const NEXT_FILE: &str = ".next";

/// What a release took out of `held/` besides the scheduled entries it
/// moved to pending: the held entries of each digest that is due, grouped,
/// oldest first.
#[derive(Default)]
pub struct Due {
    pub digests: Vec<Vec<Entry>>,
    pub warnings: Vec<String>,
}

impl Spool {
    /// Holds `entry` until `hold.until`.
    pub fn hold(&self, mut entry: Entry, hold: Hold) -> Result<Entry, SpoolError> {
        let until = hold.until;
        entry.hold = Some(hold);
        self.write(State::Held, &entry)?;
        let next = self.next_due_hint(&entry.destination);
        self.note_next(&entry.destination, next.map_or(until, |n| n.min(until)));
        Ok(entry)
    }

    /// When `destination`'s first held entry is due, as the last hold or
    /// release noted it (`.next`): a hint, so that a send can tell in one
    /// small read whether anything held is due. Lost or stale, it only
    /// leaves a release to the next flush, which reads every held entry.
    pub fn next_due_hint(&self, destination: &str) -> Option<SystemTime> {
        let path = self.dir(State::Held, destination).join(NEXT_FILE);
        let text = String::from_utf8(super::fs::read_bounded(&path, 64).ok()?).ok()?;
        let ms: u64 = text.trim().parse().ok()?;
        std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_millis(ms))
    }

    fn note_next(&self, destination: &str, next: SystemTime) {
        let Ok(dir) = self.checked_dir(State::Held, destination) else {
            return;
        };
        let ms = next
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let _ = super::fs::write_quick(&dir, NEXT_FILE, ms.to_string().as_bytes());
    }

    /// Releases what is due in `destination`'s held entries at `now`: a
    /// scheduled one is moved to pending; the entries of a digest are given
    /// back for the caller to make into one message (then [`Spool::settle_digest`]).
    /// Only the holder of the destination's lock may call it (invariant 2).
    pub fn release_due(&self, destination: &str, now: SystemTime) -> Result<Due, SpoolError> {
        let mut due = Due::default();
        let mut groups: Vec<(String, Vec<Entry>)> = Vec::new();
        // When the first entry left held is due, for the hint.
        let mut next: Option<SystemTime> = None;
        for id in self.ids(State::Held, destination)? {
            let entry = match self.read(State::Held, destination, &id)? {
                Read::Entry(entry) => entry,
                Read::Damaged(why) => {
                    due.warnings.push(format!("held entry {id}: {why}"));
                    continue;
                }
            };
            // A held entry without its hold (not one chime wrote) goes now.
            let hold = entry.hold.clone().unwrap_or(Hold {
                until: now,
                why: Why::Scheduled,
            });
            if hold.until > now {
                next = Some(next.map_or(hold.until, |n: SystemTime| n.min(hold.until)));
                continue;
            }
            match hold.why {
                Why::Scheduled => self.unhold(entry)?,
                Why::Digest { group, .. } => match groups.iter_mut().find(|(g, _)| *g == group) {
                    Some((_, entries)) => entries.push(entry),
                    None => groups.push((group, vec![entry])),
                },
            }
        }
        due.digests = groups.into_iter().map(|(_, entries)| entries).collect();
        match next {
            Some(next) => self.note_next(destination, next),
            None => {
                let path = self.dir(State::Held, destination).join(NEXT_FILE);
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(due)
    }

    /// Moves a held entry to pending, due now: the pending copy first. Its
    /// age counts from now: a message scheduled further ahead than the
    /// spool's `max_age` is not too old the moment it is due. Its id keeps
    /// its place, ahead of what was queued after it was accepted.
    fn unhold(&self, entry: Entry) -> Result<(), SpoolError> {
        let now = SystemTime::now();
        let released = Entry {
            hold: None,
            created: now,
            next_attempt: now,
            ..entry.clone()
        };
        self.write(State::Pending, &released)?;
        self.forget_due(&entry.destination);
        self.remove(State::Held, &entry)
    }

    /// Moves a held entry to dead, recording why: the dead copy first.
    pub fn bury_held(&self, mut entry: Entry, reason: String) -> Result<(), SpoolError> {
        entry.last_error = Some(reason);
        entry.hold = None;
        self.write(State::Dead, &entry)?;
        self.remove(State::Held, &entry)
    }

    /// Queues `digest` (pending) in place of the held entries it stands
    /// for, which go once it is on disk.
    pub fn settle_digest(&self, digest: &Entry, held: &[Entry]) -> Result<(), SpoolError> {
        self.write(State::Pending, digest)?;
        self.forget_due(&digest.destination);
        for entry in held {
            self.remove(State::Held, entry)?;
            self.forget_files(&entry.id);
        }
        Ok(())
    }

    /// When the first held entry of any destination is due, if one is held.
    pub fn next_held(&self) -> Option<SystemTime> {
        let mut next: Option<SystemTime> = None;
        for destination in self.destinations(State::Held).unwrap_or_default() {
            for id in self.ids(State::Held, &destination).unwrap_or_default() {
                let Ok(Some(Read::Entry(outline))) =
                    self.read_outline(State::Held, &destination, &id)
                else {
                    continue;
                };
                let until = outline.hold.map(|h| h.until);
                next = match (next, until) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        next
    }

    /// True when any destination holds anything back.
    pub fn has_any_held(&self) -> bool {
        let names = self.destinations(State::Held).unwrap_or_default();
        let holds = |name: &String| self.count(State::Held, name).unwrap_or(0) > 0;
        names.iter().any(holds)
    }
}
