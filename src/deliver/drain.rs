//! Draining a destination's spool: its pending entries sent oldest first,
//! by `chime flush` and by a send that has older messages to deliver first.
//!
//! Whoever drains a destination holds its lock (see `spool/mod.rs`), so two
//! flushers, or a flusher and a `chime send`, never send the same entry. An
//! entry that fails again is rescheduled and stops its destination there:
//! later entries wait behind it, so order is kept.

use std::time::{Duration, Instant, SystemTime};

use super::{Job, Status};
use crate::config::Destination;
use crate::spool::{DestinationLock, Entry, Policy, Read, Spool, SpoolError, State, when};
use crate::state::Threads;

/// How a drain treats entries that are not due yet.
#[derive(Clone, Copy, Debug)]
pub enum Due {
    /// Only entries whose next attempt has come: a plain flush, and a send,
    /// which waits for that time only while its own timeout lasts.
    Scheduled,
    /// Every entry: `flush --all`.
    Now,
}

/// What one drain of one destination did.
#[derive(Debug, Default)]
pub struct Drained {
    pub delivered: usize,
    pub dead: usize,
    /// Entries still pending when the drain stopped.
    pub remaining: usize,
    /// Why it stopped early, when it did.
    pub blocked: Option<String>,
    /// When the first remaining entry is due.
    pub next_due: Option<SystemTime>,
    /// Warnings worth a line on stderr (quarantined files).
    pub warnings: Vec<String>,
    /// The spool could not be written (a full disk): the drain stopped, and
    /// the entry it was on is still pending as it was.
    pub error: Option<String>,
}

/// Removals of delivered entries not yet made durable, and since when.
#[derive(Default)]
struct Unsynced {
    count: usize,
    since: Option<Instant>,
}

impl Unsynced {
    /// Counts one more removal, and makes the run durable once it is long
    /// or old enough.
    fn removed(&mut self, spool: &Spool, destination: &str) -> Result<(), SpoolError> {
        self.count += 1;
        let since = *self.since.get_or_insert_with(Instant::now);
        if self.count >= SYNC_EVERY || since.elapsed() >= SYNC_WITHIN {
            self.sync(spool, destination)?;
        }
        Ok(())
    }

    /// Makes every removal counted so far durable.
    fn sync(&mut self, spool: &Spool, destination: &str) -> Result<(), SpoolError> {
        if self.count > 0 {
            spool.sync(destination)?;
        }
        *self = Self::default();
        Ok(())
    }
}

/// Delivered entries' removals are made durable together, one directory
/// fsync for up to this many…
const SYNC_EVERY: usize = 64;
/// …or this long, whichever comes first: a power cut can then bring back at
/// most that many delivered entries (duplicates), and never lose one.
const SYNC_WITHIN: Duration = Duration::from_millis(25);

/// Everything a drain needs besides the destination.
pub struct Context<'a> {
    pub client: &'a reqwest::Client,
    pub spool: &'a Spool,
    pub threads: &'a Threads,
    pub policy: &'a Policy,
    /// For each entry.
    pub timeout: Duration,
    /// No entry starts after this: a send that drains a backlog first stops
    /// starting older messages once its own timeout has passed, and leaves the
    /// rest for later. One that starts gets the whole `timeout`: cut short, a
    /// slow platform could take it and chime count it failed, and send it twice.
    pub deadline: Option<Instant>,
    /// Only entries older than this are sent: a send's own message, on disk
    /// in flight, and whatever came after it wait for it.
    pub older_than: Option<&'a str>,
    pub verbose: bool,
}

/// Sends `destination`'s pending entries in order while `_lock` is held.
pub async fn drain(
    ctx: &Context<'_>,
    destination: &Destination,
    _lock: &DestinationLock,
    due: Due,
    mut progress: impl FnMut(),
) -> Result<Drained, SpoolError> {
    let name = destination.name.as_str();
    let identity = destination.identity();
    ctx.spool.sweep(name);
    // What a dead sender left in flight becomes pending in its place; what a
    // live one is sending is not passed, lest a later entry overtake it.
    let in_flight = ctx.spool.adopt_orphans(name)?;
    let mut ids = ctx.spool.ids(State::Pending, name)?;
    if let Some(own) = ctx.older_than {
        ids.retain(|id| id.as_str() < own);
    }
    let mut held = 0;
    if let Some(live) = &in_flight {
        let before = ids.partition_point(|id| id < live);
        held = ids.len() - before;
        ids.truncate(before);
        // A send's own message waits for one before it, too.
        if ctx.older_than.is_some_and(|own| live.as_str() < own) {
            held += 1;
        }
    }
    let mut drained = drain_ids(ctx, destination, &identity, &ids, due, &mut progress).await;
    if held > 0 {
        drained.remaining += held;
        drained
            .blocked
            .get_or_insert_with(|| "an older message is being sent by another chime".into());
    }

    // What the next send behind this backlog needs to know, in one read.
    let waits = (drained.remaining > 0 && held == 0).then_some(drained.next_due);
    ctx.spool.note_due(name, &identity, waits.flatten());
    Ok(drained)
}

/// Sends the entries `ids`, in order, stopping at the first that fails. A
/// spool that cannot be written stops it too, with everything counted so
/// far and the rest still pending (`Drained::error`).
async fn drain_ids(
    ctx: &Context<'_>,
    destination: &Destination,
    identity: &str,
    ids: &[String],
    due: Due,
    progress: &mut impl FnMut(),
) -> Drained {
    let mut drained = Drained::default();
    let mut last_sent: Option<Instant> = None;
    let mut unsynced = Unsynced::default();
    for (index, id) in ids.iter().enumerate() {
        let step = Step {
            ctx,
            destination,
            identity,
            due,
        };
        match step
            .one(id, &mut drained, &mut last_sent, &mut unsynced)
            .await
        {
            Ok(true) => progress(),
            Ok(false) => {
                drained.remaining = ids.len() - index;
                break;
            }
            Err(err) => {
                drained.error = Some(err.to_string());
                drained.remaining = ids.len() - index;
                break;
            }
        }
    }
    // Nothing else is sent by this drain: the last removals become durable
    // before it answers (and before a send's own message goes).
    if let Err(err) = unsynced.sync(ctx.spool, &destination.name) {
        drained.error.get_or_insert(err.to_string());
    }
    drained
}

/// What one entry of a drain needs.
struct Step<'s, 'c> {
    ctx: &'s Context<'c>,
    destination: &'s Destination,
    identity: &'s str,
    due: Due,
}

impl Step<'_, '_> {
    /// Sends, buries or skips entry `id`; false when the drain must stop
    /// here (not due, no time left, a failure), leaving this entry pending.
    async fn one(
        &self,
        id: &str,
        drained: &mut Drained,
        last_sent: &mut Option<Instant>,
        unsynced: &mut Unsynced,
    ) -> Result<bool, SpoolError> {
        let name = self.destination.name.as_str();
        let entry = match self.ctx.spool.read(State::Pending, name, id) {
            Ok(Read::Entry(entry)) => entry,
            Ok(Read::Damaged(why)) => {
                drained
                    .warnings
                    .push(format!("spool entry {id} for {name} is damaged: {why}"));
                return Ok(true);
            }
            Err(SpoolError::NotFound(_)) => return Ok(true),
            Err(err) => return Err(err),
        };
        let Some(entry) = self.retire(entry, drained)? else {
            return Ok(true);
        };
        if !self.its_turn(&entry, drained, last_sent).await {
            return Ok(false);
        }
        self.send(entry, drained, unsynced).await
    }

    /// Dead-letters an entry that must not be sent any more: its destination
    /// is not the one that accepted it, or it is too old or tried too often.
    /// Gives it back when it may still go.
    fn retire(&self, entry: Entry, drained: &mut Drained) -> Result<Option<Entry>, SpoolError> {
        let name = self.destination.name.as_str();
        let reason = if entry
            .identity
            .as_deref()
            .is_some_and(|id| id != self.identity)
        {
            let reason = format!(
                "not sent: `{name}` is no longer the destination that accepted it (its kind, \
                 URL or credentials changed); `chime spool retry {}` sends it to `{name}` as it is now",
                entry.id
            );
            drained
                .warnings
                .push(format!("spool entry {}: {reason}", entry.id));
            reason
        } else if let Some(reason) = self.ctx.policy.expired(&entry, SystemTime::now()) {
            let last = entry.last_error.clone().unwrap_or_default();
            format!("{reason} (last error: {last})")
        } else {
            return Ok(Some(entry));
        };
        self.ctx.spool.bury(entry, reason)?;
        drained.dead += 1;
        Ok(None)
    }

    /// Waits until `entry` may go — its next attempt (for a send, only
    /// within its timeout) and the destination's pace — or says it may not
    /// go now (false).
    async fn its_turn(
        &self,
        entry: &Entry,
        drained: &mut Drained,
        last_sent: &mut Option<Instant>,
    ) -> bool {
        let ctx = self.ctx;
        let now = SystemTime::now();
        if !entry.is_due(now) && matches!(self.due, Due::Scheduled) {
            // A send waits for its backlog's time when that comes within its
            // own timeout; a flush leaves it for the next pass.
            let soon = ctx.deadline.and_then(|deadline| {
                let wait = entry.next_attempt.duration_since(now).ok()?;
                (Instant::now() + wait < deadline).then_some(wait)
            });
            let Some(wait) = soon else {
                drained.blocked = Some(format!("next attempt {}", when(entry.next_attempt)));
                drained.next_due = Some(entry.next_attempt);
                return false;
            };
            tokio::time::sleep(wait).await;
        }
        // Keep to the platform's sustained rate rather than meet its 429s.
        // (A timer, even one already due, costs a millisecond of timer wheel.)
        let wait = last_sent.map_or(Duration::ZERO, |last| {
            (last + self.destination.pace).saturating_duration_since(Instant::now())
        });
        let left = ctx
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left <= wait) {
            drained.blocked = Some("no time left to send them".into());
            return false;
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        *last_sent = Some(Instant::now());
        true
    }

    /// Sends `entry` and settles it: removed once delivered, dead-lettered
    /// when refused, rescheduled (and the drain stopped) when it failed.
    async fn send(
        &self,
        mut entry: Entry,
        drained: &mut Drained,
        unsynced: &mut Unsynced,
    ) -> Result<bool, SpoolError> {
        let ctx = self.ctx;
        let job = Job {
            name: &self.destination.name,
            platform: self.destination.platform.as_ref(),
            payloads: entry.payloads.clone(),
            timeout: ctx.timeout,
            threads: Some(ctx.threads),
        };
        let mut report = super::deliver_one(ctx.client, job, ctx.verbose).await;
        drained.warnings.append(&mut report.warnings);
        entry.payloads.drain(..report.parts_delivered);
        match report.status {
            Status::Delivered => {
                ctx.spool.remove_delivered(&entry)?;
                drained.delivered += 1;
                unsynced.removed(ctx.spool, &self.destination.name)?;
                Ok(true)
            }
            Status::Rejected => {
                ctx.spool.bury(entry, report.error.unwrap_or_default())?;
                drained.dead += 1;
                Ok(true)
            }
            Status::Failed | Status::Queued => {
                entry.attempts += 1;
                entry.next_attempt =
                    ctx.policy
                        .next_attempt(SystemTime::now(), entry.attempts, report.retry_after);
                entry.last_error = report.error.clone();
                drained.blocked = report.error;
                drained.next_due = Some(entry.next_attempt);
                ctx.spool.write(State::Pending, &entry)?;
                Ok(false)
            }
        }
    }
}
