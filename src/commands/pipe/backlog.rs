//! A lane behind its destination's spool.
//!
//! While the spool holds messages for the destination — batches this stream
//! spilled past `--max-pending` or could not send, or older ones — every
//! later batch must wait behind them (spool invariant 4). So the lane does
//! not send from memory then: it sends the spool, oldest first, as
//! `chime flush` does (`deliver::drain`: holding the destination's lock, at
//! its pace, an entry that fails rescheduled by the spool's policy and the
//! rest waiting behind it). It does so in slices: as many entries as start
//! within one timeout, or before the lane's time at the end of the stream,
//! so that the main loop sees the lane between slices and the end of the
//! stream can leave the rest to `chime flush`. Once the spool holds nothing
//! for the destination, the lane sends from memory again.
//!
//! Why not let each new batch go through the outbox, which drains a backlog
//! first? The outbox gives a backlog one timeout, then queues the new
//! message behind what is left: behind a slow destination every batch then
//! went through the spool, and the pipe said so for each one. Draining in
//! slices sends a full batch whenever the destination can take one, while
//! the batches in memory spill in order behind.
//!
//! The lock is held only while a slice runs, and a lane starts one only
//! while no other lane of its destination has anything in flight
//! (`moves::start_sends`): the pipe never contends with itself, so a lock it
//! cannot take is another process's, and that is what it says.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use crate::config::Destination;
use crate::deliver::{self, Context, Drained, Due, Outbox};
use crate::report;
use crate::settings::Output;
use crate::spool::Spool;

use super::lane::Lane;
use super::moves::timeout;
use super::{Crew, Done, Mark, Sending, Work};

/// How often a lane looks again at a spool another process is sending, or
/// one that could not be written.
const RETRY: Duration = Duration::from_secs(1);

/// How a slice of the destination's spool ended.
pub(super) enum Backlog {
    Drained(Drained),
    /// Another process holds the destination's lock: who (see `Spool::lock_holder`).
    Locked(String),
    /// The spool could not be locked or read (why).
    Unusable(String),
}

/// How a slice is going, as its entries are delivered.
#[derive(Clone, Copy)]
pub(super) struct Pulse {
    /// When the last entry was delivered, or the slice started.
    pub(super) last: Mark,
    /// The longest time between two deliveries.
    pub(super) longest: Duration,
}

/// Starts a slice of the destination's spool: entries start for one
/// timeout, and never after `until`, the lane's time at the end.
pub(super) fn start<'a>(
    crew: Crew<'a>,
    lane: &mut Lane<'a>,
    index: usize,
    now: Instant,
    until: Option<Instant>,
) -> Sending<'a> {
    let started = crew.work.mark_at(now);
    lane.start(started);
    let pulse = Rc::new(Cell::new(Pulse {
        last: started,
        longest: Duration::ZERO,
    }));
    lane.pulse = Some(Rc::clone(&pulse));
    let destination = lane.destination;
    let timeout = timeout(crew.pipe, destination);
    let deadline = until.map_or(now + timeout, |until| until.min(now + timeout));
    let (outbox, work) = (crew.outbox, crew.work);
    Box::pin(async move {
        let backlog = slice(outbox, destination, (timeout, deadline), work, &pulse).await;
        (index, Done::Drained(backlog))
    })
}

/// Sends the destination's spool, each entry within `timeout`, none
/// starting after `deadline`, holding its lock.
async fn slice(
    outbox: &Outbox<'_>,
    destination: &Destination,
    (timeout, deadline): (Duration, Instant),
    work: &Work,
    pulse: &Cell<Pulse>,
) -> Backlog {
    let lock = match outbox.spool.try_lock(&destination.name) {
        Ok(Some(lock)) => lock,
        Ok(None) => return Backlog::Locked(outbox.spool.lock_holder(&destination.name)),
        Err(err) => return Backlog::Unusable(err.to_string()),
    };
    let ctx = Context {
        client: outbox.client,
        spool: outbox.spool,
        threads: outbox.threads,
        policy: outbox.policy,
        timeout,
        deadline: Some(deadline),
        older_than: None,
        verbose: outbox.output.verbose,
    };
    let beat = || {
        let Pulse { last, longest } = pulse.get();
        pulse.set(Pulse {
            last: work.mark(),
            longest: longest.max(work.since(last)),
        });
    };
    match deliver::drain(&ctx, destination, &lock, Due::Scheduled, beat).await {
        Ok(drained) => Backlog::Drained(drained),
        Err(err) => Backlog::Unusable(err.to_string()),
    }
}

impl Lane<'_> {
    /// A slice of the spool has ended: what went is counted, the
    /// destination judged, and the lane told when to go on.
    pub(super) fn drained(&mut self, backlog: Backlog, spool: &Spool, output: Output) {
        let pulse = self.pulse.as_ref().map(|p| p.get());
        self.stop();
        let now = Instant::now();
        match backlog {
            Backlog::Drained(drained) => self.after_slice(&drained, pulse, spool, output),
            Backlog::Locked(holder) => {
                self.told.locked(self.destination, &holder, output);
                self.next_send = now + RETRY;
            }
            Backlog::Unusable(why) => {
                self.told.unusable(self.destination, &why, output);
                self.spool_unusable = true;
                self.backlogged = false;
            }
        }
    }

    fn after_slice(
        &mut self,
        drained: &Drained,
        pulse: Option<Pulse>,
        spool: &Spool,
        output: Output,
    ) {
        for warning in &drained.warnings {
            report::warning(output, warning);
        }
        for fate in &drained.fates {
            report::fate(output, fate);
        }
        if drained.dead > 0 {
            self.told.dead_letters(self.destination, drained.dead);
        }
        let now = Instant::now();
        if drained.delivered > 0 {
            self.taking(true);
            let longest = pulse.map_or(Duration::ZERO, |p| p.longest);
            self.judge(longest, self.slow_gap(), output);
            // The next entry keeps to the pace after the last one delivered.
            let last = pulse.map_or(now, |p| p.last.at);
            self.next_send = now.max(last + self.destination.pace);
        } else {
            // Nothing could start: an entry not due, held by another
            // process, or no time left; look again soon, not at once.
            self.next_send = now + RETRY;
        }
        if drained.delivered > 0 || drained.dead > 0 || drained.remaining == 0 {
            self.recount(spool, drained.dead > 0);
        }
        if let Some(err) = &drained.error {
            self.taking(false);
            self.told.failing(self.destination, Some(err), output);
        } else if let Some(due) = drained.next_due.filter(|_| drained.remaining > 0) {
            // An entry failed, or is not due yet: everything waits behind it.
            self.taking(false);
            let wait = due.duration_since(SystemTime::now()).unwrap_or_default();
            self.next_send = now + wait;
            self.told
                .failing(self.destination, drained.blocked.as_deref(), output);
        }
    }
}
