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
use crate::spool::{DestinationLock, Entry, Policy, Read, Reaper, Spool, SpoolError, State, when};
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
    /// What would fix the failure it stopped at, when chime knows (a
    /// certificate it does not trust fails every retry until fixed).
    pub hint: Option<String>,
    /// When the first remaining entry is due.
    pub next_due: Option<SystemTime>,
    /// Warnings worth a line on stderr (the platform's).
    pub warnings: Vec<String>,
    /// One line per entry dead-lettered or quarantined: what happened to a
    /// message is said even under `-q`, which silences progress only.
    pub fates: Vec<String>,
    /// The spool could not be written (a full disk): the drain stopped, and
    /// the entry it was on is still pending as it was.
    pub error: Option<String>,
}

impl Drained {
    fn dead_lettered(&mut self, id: &str, name: &str, reason: &str) {
        self.dead += 1;
        let id = crate::spool::short_id(id);
        self.fates.push(format!(
            "spool entry {id} for {name} dead-lettered: {reason}; see `chime spool list --dead`"
        ));
    }
}

/// Delivered entries taken out of the spool by one drain: unlinked by a
/// reaper of its own, and made durable together.
#[derive(Default)]
struct Removals {
    /// Not yet made durable, and since when.
    count: usize,
    since: Option<Instant>,
    /// Started with the first delivery: a send that drains nothing starts no
    /// thread.
    reaper: Option<Reaper>,
}

impl Removals {
    /// Takes `entry` out of the spool, and makes the run of removals durable
    /// once it is long or old enough.
    fn delivered(&mut self, spool: &Spool, entry: &Entry) -> Result<(), SpoolError> {
        spool.retire_delivered(entry, self.reaper.get_or_insert_with(Reaper::new))?;
        self.count += 1;
        let since = *self.since.get_or_insert_with(Instant::now);
        if self.count >= SYNC_EVERY || since.elapsed() >= SYNC_WITHIN {
            self.sync(spool, &entry.destination)?;
        }
        Ok(())
    }

    /// Makes every removal counted so far durable.
    fn sync(&mut self, spool: &Spool, destination: &str) -> Result<(), SpoolError> {
        if self.count > 0 {
            spool.sync(destination)?;
        }
        self.count = 0;
        self.since = None;
        Ok(())
    }
}

/// What carries from one entry of a drain to the next.
#[derive(Default)]
struct Run {
    /// When the last entry was sent, for the destination's pace.
    last_sent: Option<Instant>,
    removals: Removals,
}

/// A drain lists a backlog this many ids at a time, so its memory does not
/// grow with the backlog (a pass over the directory per slice).
const SLICE: usize = 4096;

/// Delivered entries' removals are made durable together, one directory
/// fsync for up to this many…
const SYNC_EVERY: usize = 64;
/// …or this long, whichever comes first: a power cut can then bring back at
/// most that many delivered entries (duplicates), and never lose one.
const SYNC_WITHIN: Duration = Duration::from_millis(25);

/// Everything a drain needs besides the destination.
pub struct Context<'a> {
    pub client: &'a super::Clients,
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
    let own = ctx.older_than;
    // Only entries before a live one and before a send's own are sent.
    let before = match (in_flight.as_deref(), own) {
        (Some(live), Some(own)) => Some(live.min(own)),
        (live, own) => live.or(own),
    };
    let mut drained = drain_slices(ctx, destination, &identity, before, due, &mut progress).await?;
    // What waits for a live message in flight (not the send's own): entries
    // after it, before the send's own message, and that message itself.
    let held = match in_flight.as_deref().filter(|live| Some(*live) != own) {
        Some(live) => {
            let (_, waiting) = ctx.spool.ids_between(name, Some(live), own, 0)?;
            waiting + usize::from(own.is_some_and(|own| live < own))
        }
        None => 0,
    };
    if held > 0 {
        drained.remaining += held;
        drained
            .blocked
            .get_or_insert_with(|| "an older message is being sent by another chime".into());
    }

    // What the next send behind this backlog needs to know, in one read.
    let waits = drained
        .next_due
        .filter(|_| drained.remaining > 0 && held == 0);
    ctx.spool.note_due(name, &identity, waits);
    Ok(drained)
}

/// Sends the pending entries before `before` (all when `None`), a slice at
/// a time, in order, stopping at the first that fails. A spool that cannot
/// be written stops it too, with everything counted so far and the rest
/// still pending (`Drained::error`).
async fn drain_slices(
    ctx: &Context<'_>,
    destination: &Destination,
    identity: &str,
    before: Option<&str>,
    due: Due,
    progress: &mut impl FnMut(),
) -> Result<Drained, SpoolError> {
    let name = destination.name.as_str();
    let mut drained = Drained::default();
    let mut run = Run::default();
    let mut after: Option<String> = None;
    loop {
        let (ids, more) = match ctx.spool.ids_between(name, after.as_deref(), before, SLICE) {
            Ok(slice) => slice,
            Err(err) if after.is_none() => return Err(err),
            Err(err) => {
                drained.error = Some(err.to_string());
                break;
            }
        };
        let step = Step {
            ctx,
            destination,
            identity,
            due,
        };
        if let Some(left) = step.all(&ids, &mut drained, &mut run, progress).await {
            drained.remaining = left + more;
            break;
        }
        match ids.last() {
            Some(last) if more > 0 => after = Some(last.clone()),
            _ => break,
        }
    }
    // Nothing else is sent by this drain: its removals become durable before
    // it answers (and before a send's own message goes).
    if let Err(err) = run.removals.sync(ctx.spool, name) {
        drained.error.get_or_insert(err.to_string());
    }
    Ok(drained)
}

/// What one entry of a drain needs.
struct Step<'s, 'c> {
    ctx: &'s Context<'c>,
    destination: &'s Destination,
    identity: &'s str,
    due: Due,
}

impl Step<'_, '_> {
    /// Sends the entries `ids` in order; how many are left when it had to
    /// stop, or `None` when it went through them all.
    async fn all(
        &self,
        ids: &[String],
        drained: &mut Drained,
        run: &mut Run,
        progress: &mut impl FnMut(),
    ) -> Option<usize> {
        for (index, id) in ids.iter().enumerate() {
            match self.one(id, drained, run).await {
                Ok(true) => progress(),
                Ok(false) => return Some(ids.len() - index),
                Err(err) => {
                    drained.error = Some(err.to_string());
                    return Some(ids.len() - index);
                }
            }
        }
        None
    }

    /// Sends, buries or skips entry `id`; false when the drain must stop
    /// here (not due, no time left, a failure), leaving this entry pending.
    async fn one(
        &self,
        id: &str,
        drained: &mut Drained,
        run: &mut Run,
    ) -> Result<bool, SpoolError> {
        let name = self.destination.name.as_str();
        let entry = match self.ctx.spool.read(State::Pending, name, id) {
            Ok(Read::Entry(entry)) => entry,
            Ok(Read::Damaged(why)) => {
                // Moved aside, it is listed there; else `why` says where it stays.
                let listed = match why.contains("moved to") {
                    true => "; `chime spool list --quarantined` shows it",
                    false => "",
                };
                let id = crate::spool::short_id(id);
                drained.fates.push(format!(
                    "spool entry {id} for {name} is damaged: {why}{listed}"
                ));
                return Ok(true);
            }
            Err(SpoolError::NotFound(_)) => return Ok(true),
            Err(err) => return Err(err),
        };
        let Some(entry) = self.retire(entry, drained)? else {
            return Ok(true);
        };
        if !self.its_turn(&entry, drained, &mut run.last_sent).await {
            return Ok(false);
        }
        self.send(entry, drained, &mut run.removals).await
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
                crate::spool::short_id(&entry.id)
            );
            reason
        } else if let Some(reason) = self.ctx.policy.expired(&entry, SystemTime::now()) {
            let last = entry.last_error.clone().unwrap_or_default();
            format!("{reason} (last error: {last})")
        } else {
            return Ok(Some(entry));
        };
        let id = entry.id.clone();
        self.ctx.spool.bury(entry, reason.clone())?;
        drained.dead_lettered(&id, name, &reason);
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
        removals: &mut Removals,
    ) -> Result<bool, SpoolError> {
        let ctx = self.ctx;
        let has_files = entry.payloads.iter().any(|p| !p.files.is_empty());
        let job = Job {
            name: &self.destination.name,
            platform: self.destination.platform.as_ref(),
            payloads: std::mem::take(&mut entry.payloads),
            timeout: ctx.timeout,
            threads: Some(ctx.threads),
            ca_file: self.destination.ca_file.as_ref(),
            proxy: self.destination.proxy.as_ref(),
            progress: false,
            pace: self.destination.pace,
        };
        let (mut report, payloads) = super::deliver_returning(ctx.client, job, ctx.verbose).await;
        drained.warnings.append(&mut report.warnings);
        entry.payloads = payloads;
        entry.payloads.drain(..report.parts_delivered);
        match report.status {
            Status::Delivered | Status::Held => {
                removals.delivered(ctx.spool, &entry)?;
                if has_files {
                    ctx.spool.forget_files(&entry.id);
                }
                drained.delivered += 1;
                Ok(true)
            }
            Status::Rejected => {
                entry.attempts += 1;
                let (id, reason) = (entry.id.clone(), report.error.unwrap_or_default());
                ctx.spool.bury(entry, reason.clone())?;
                drained.dead_lettered(&id, &self.destination.name, &reason);
                Ok(true)
            }
            Status::Failed | Status::Queued => {
                entry.attempts += 1;
                entry.next_attempt =
                    ctx.policy
                        .next_attempt(SystemTime::now(), entry.attempts, report.retry_after);
                entry.last_error = report.error.clone();
                drained.blocked = report.error;
                drained.hint = report.hint;
                drained.next_due = Some(entry.next_attempt);
                ctx.spool.write(State::Pending, &entry)?;
                Ok(false)
            }
        }
    }
}
