//! One destination's stream of batches: its packer, what it is sending, how
//! far it has settled, whether it is behind its destination's spool, and
//! what it has told. The moves that take batches out of it are in `moves.rs`
//! (memory) and `backlog.rs` (the spool).
//!
//! A lane does one thing at a time: it is busy from the moment a send or a
//! drain of its spool starts until that future has really ended (a batch
//! that must wait meanwhile goes to the spool *behind* it, never beside it).

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::config::Destination;
use crate::deliver::{Report, Status};
use crate::kinds::{Payload, Target};
use crate::settings::Output;
use crate::spool::{Entry, InFlight, Spool, State};
use crate::stream::batch::{Batch, Packer};
use crate::stream::lines::Line;

use super::backlog::Pulse;
use super::kept::{Id, Kept};
use super::tell::Told;
use super::{Mark, SLOW_SEND, Work};

/// One destination's stream of batches.
pub(super) struct Lane<'p> {
    pub(super) destination: &'p Destination,
    pub(super) target: Target,
    pub(super) packer: Packer,
    pub(super) next_send: Instant,
    /// A send or a drain is under way, until its future has ended.
    pub(super) busy: bool,
    /// When the send or drain in flight started.
    pub(super) busy_since: Option<Mark>,
    /// When the last send or drain started.
    pub(super) started: Option<Instant>,
    /// How the drain in flight is going: when its last entry was delivered.
    pub(super) pulse: Option<Rc<Cell<Pulse>>>,
    /// Since when the destination has not been taking batches (the last
    /// send or slice of the spool delivered nothing); `None` while it does
    /// (a lane starts out trusted).
    pub(super) failing: Option<Instant>,
    /// The destination answered a request slowly (how slowly), and has not
    /// answered one promptly since: the reader is not held back for it.
    pub(super) slow: Option<Duration>,
    /// What is being sent right now, kept so that an abort can spool it
    /// too unless it is on disk in flight already.
    pub(super) sending: Option<Sent>,
    /// Batches taken from the packer, in order, and whether each is settled
    /// (delivered or on disk): the journal may forget a line once every
    /// batch up to its own is.
    pub(super) unsettled: VecDeque<(u64, u64, bool)>,
    pub(super) next_ticket: u64,
    /// Every line of this lane ending at or before this offset is settled.
    pub(super) settled: u64,
    pub(super) lines: usize,
    /// `--file-over`, when the destination takes files: its batches are
    /// packed as read, and one over this size goes as a file.
    pub(super) file_over: Option<usize>,
    /// Lines rendered so far, to name a file's line range.
    pub(super) numbered: usize,
    pub(super) worst: Status,
    /// Batches made, whatever became of them.
    pub(super) messages: usize,
    /// This stream's batches in the spool's pending entries (`kept.rs`).
    pub(super) kept: Kept,
    /// Batches neither delivered nor kept (the spool could not be written).
    pub(super) lost: usize,
    /// Batches the destination refused (dead-lettered).
    pub(super) refused: usize,
    /// The destination has messages in the spool (this stream's, or older):
    /// the lane sends those first, from the spool, oldest first, and only
    /// then batches from memory. A healthy stream with none sends straight
    /// from memory, its journal keeping what is in flight.
    pub(super) backlogged: bool,
    /// The spool could not even be locked (a read-only disk): batches go
    /// out from memory, unordered with what it holds, said once.
    pub(super) spool_unusable: bool,
    /// Past its time at the end of the stream: what it held went to the
    /// spool, and nothing more starts.
    pub(super) closed: bool,
    pub(super) told: Rc<Told>,
}

/// A batch on its way.
pub(super) struct Sent {
    pub(super) payloads: Vec<Payload>,
    /// On disk in flight, so an abort need not spool it again.
    pub(super) begun: bool,
    /// Its place in the destination's order, taken when it started.
    pub(super) id: String,
    /// Put on disk after it started, when later batches went to the spool
    /// behind it: settled with the report.
    pub(super) late: Option<InFlight>,
    pub(super) ticket: u64,
    pub(super) lines: usize,
}

/// The largest batch `--file-over` packs, whatever the destination takes:
/// it is held in memory until it is written to its file.
const MAX_FILE_BATCH: u64 = 8 << 20;

impl<'p> Lane<'p> {
    /// `file_over` (`--file-over`) applies to a destination that takes files.
    pub(super) fn new(
        destination: &'p Destination,
        target: Target,
        file_over: Option<usize>,
    ) -> Lane<'p> {
        let file_over = file_over.filter(|_| destination.file_limit().is_some());
        let packer = match file_over {
            // Batches as large as a file may be, within what memory should hold.
            Some(_) => {
                Packer::raw(destination.file_limit().unwrap_or(0).min(MAX_FILE_BATCH) as usize)
            }
            None => Packer::new(destination.platform.as_ref()),
        };
        Lane {
            destination,
            target,
            packer,
            file_over,
            numbered: 0,
            next_send: Instant::now(),
            busy: false,
            busy_since: None,
            started: None,
            pulse: None,
            failing: None,
            slow: None,
            sending: None,
            unsettled: VecDeque::new(),
            next_ticket: 0,
            settled: 0,
            lines: 0,
            worst: Status::Delivered,
            messages: 0,
            kept: Kept::default(),
            lost: 0,
            refused: 0,
            backlogged: false,
            spool_unusable: false,
            closed: false,
            told: Rc::default(),
        }
    }

    /// Sending is the bottleneck: batches wait that the pace would allow now,
    /// and the destination has been answering promptly.
    pub(super) fn saturated(&self, now: Instant, work: &Work) -> bool {
        self.healthy()
            && self.slow.is_none()
            && !self.lagging(work)
            && self.packer.ready() >= 2
            && now >= self.next_send
    }

    /// The request in flight has taken longer than a prompt destination
    /// takes (a drain's entries are also paced apart).
    pub(super) fn lagging(&self, work: &Work) -> bool {
        let Some(since) = self.busy_since.filter(|_| self.busy) else {
            return false;
        };
        match &self.pulse {
            Some(pulse) => work.since(pulse.get().last) > self.slow_gap(),
            None => work.since(since) > SLOW_SEND,
        }
    }

    /// Between two entries of a drain, more than this means a slow answer:
    /// they are paced apart anyway.
    pub(super) fn slow_gap(&self) -> Duration {
        SLOW_SEND.max(self.destination.pace)
    }

    /// The destination takes batches, however slowly.
    pub(super) fn healthy(&self) -> bool {
        self.failing.is_none()
    }

    /// The last send or slice delivered something, or nothing.
    pub(super) fn taking(&mut self, delivered: bool) {
        match delivered {
            true => self.failing = None,
            false => {
                self.failing.get_or_insert_with(Instant::now);
            }
        }
    }

    /// There is something to start now: a batch from memory, or the spool.
    pub(super) fn may_start(&self, now: Instant) -> bool {
        !self.busy
            && !self.closed
            && now >= self.next_send
            && (self.backlogged || self.packer.ready() > 0)
    }

    /// When the lane next wants to start something, if it does.
    pub(super) fn wants_at(&self) -> Option<Instant> {
        let work = self.backlogged || self.packer.ready() > 0;
        (!self.busy && !self.closed && work).then_some(self.next_send)
    }

    /// Nothing left to do: nothing in flight, and nothing held, or the rest
    /// handed to the spool.
    pub(super) fn idle(&self) -> bool {
        !self.busy && (self.closed || (self.packer.is_empty() && !self.backlogged))
    }

    /// A send or drain starts now; the next waits for the destination's pace.
    pub(super) fn start(&mut self, now: Mark) {
        self.busy = true;
        self.busy_since = Some(now);
        self.started = Some(now.at);
        self.next_send = now.at + self.destination.pace;
    }

    /// The send or drain in flight has ended.
    pub(super) fn stop(&mut self) {
        self.busy = false;
        self.busy_since = None;
        self.pulse = None;
    }

    pub(super) fn push(&mut self, line: &Line) {
        if !line.joins {
            self.lines += 1;
        }
        self.packer.push(self.destination.platform.as_ref(), line);
    }

    /// The oldest closed batch, with the ticket that settles it.
    pub(super) fn take(&mut self) -> Option<(Batch, u64)> {
        let batch = self.packer.pop()?;
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.unsettled.push_back((ticket, batch.end, false));
        Some((batch, ticket))
    }

    /// How far the lane would have settled were `ticket` settled, if further.
    pub(super) fn settled_if(&self, ticket: u64) -> Option<u64> {
        let mut through = None;
        for &(t, end, done) in &self.unsettled {
            if !(done || t == ticket) {
                break;
            }
            through = Some(end);
        }
        through.filter(|t| *t > self.settled)
    }

    /// A batch is delivered or on disk; true when that moves how far the
    /// lane has settled, which the journal is then told.
    pub(super) fn settle(&mut self, ticket: u64) -> bool {
        if let Some(entry) = self.unsettled.iter_mut().find(|e| e.0 == ticket) {
            entry.2 = true;
        }
        let mut moved = false;
        while let Some(&(_, end, true)) = self.unsettled.front() {
            self.settled = self.settled.max(end);
            self.unsettled.pop_front();
            moved = true;
        }
        moved
    }

    /// How far into the input this lane is done: all of what was read when
    /// it holds nothing, else what it settled.
    pub(super) fn floor(&self, read: u64) -> u64 {
        match self.unsettled.is_empty() && self.packer.is_empty() {
            true => read,
            false => self.settled,
        }
    }

    /// A batch of `lines` lines went to the spool without being tried (past
    /// `--max-pending`, or at the end): counted, and behind it every later
    /// batch waits, while the batch in flight, if any, goes on.
    pub(super) fn spilled(&mut self, report: &Report, lines: usize) {
        self.backlogged = true;
        self.messages += 1;
        self.worst = self.worst.max(report.status);
        match (&report.spool_id, report.status) {
            (Some(id), Status::Queued) => self.kept.add(id, lines),
            _ => {
                self.lost += 1;
                self.told.not_kept(self.destination, report);
            }
        }
    }

    /// The batch sent from memory has had its answer; true when that settled
    /// it (one that was not on disk in flight).
    pub(super) fn finished(&mut self, report: &Report, output: Output, work: &Work) -> bool {
        let took = self.busy_since.map(|since| work.since(since));
        self.stop();
        self.taking(report.status == Status::Delivered);
        if report.status != Status::Delivered {
            // Kept, it is the oldest of the backlog every later batch waits behind.
            self.backlogged = true;
        }
        let mut sent = self.sending.take();
        let status = match sent.as_mut().and_then(|s| s.late.take()) {
            Some(late) => settle_late(late, report),
            None => report.status,
        };
        self.messages += 1;
        self.worst = self.worst.max(status);
        match status {
            Status::Delivered | Status::Held => self.answered(took.unwrap_or_default(), output),
            Status::Queued => {
                let id = report.spool_id.as_deref();
                if let Some(id) = id.or(sent.as_ref().map(|s| s.id.as_str())) {
                    self.kept.add(id, sent.as_ref().map_or(0, |s| s.lines));
                }
                self.told
                    .failing(self.destination, report.error.as_deref(), output);
            }
            Status::Rejected | Status::Failed => {
                // A refusal that could not be dead-lettered is nowhere too.
                if status == Status::Failed || report.spool_id.is_none() {
                    self.lost += 1;
                } else {
                    self.refused += 1;
                }
                self.told.refused(self.destination, report);
            }
        }
        sent.filter(|sent| !sent.begun)
            .is_some_and(|sent| self.settle(sent.ticket))
    }

    /// The destination took a request in `took`: slow past [`SLOW_SEND`]
    /// (said once), prompt again otherwise.
    pub(super) fn answered(&mut self, took: Duration, output: Output) {
        self.judge(took, SLOW_SEND, output);
    }

    /// Slow when `took` is over `limit`, said the first time.
    pub(super) fn judge(&mut self, took: Duration, limit: Duration, output: Output) {
        if took <= limit {
            self.slow = None;
            return;
        }
        self.slow = Some(took);
        self.told.slow(self.destination, took, output);
    }

    /// Forgets the batches of this stream that have left the spool's
    /// pending entries (delivered; or refused, which `died` asks to count),
    /// and sees whether the destination still has a backlog: one pass over
    /// the folder, in constant memory, whatever the backlog (`kept.rs`).
    pub(super) fn recount(&mut self, spool: &Spool, died: bool) {
        let name = &self.destination.name;
        let oldest = match spool.ids_between(name, None, None, 1) {
            Ok((oldest, _)) => oldest.into_iter().next(),
            Err(_) => {
                self.backlogged = spool.has_pending(name, None);
                return;
            }
        };
        self.backlogged = oldest.is_some() || spool.has_pending(name, None);
        let oldest = match oldest.as_deref().map(Id::parse) {
            // A name the spool did not make: nothing is known to be gone.
            Some(None) => return,
            parsed => parsed.flatten(),
        };
        let gone = self.kept.gone_before(oldest);
        let dead = |id: &Id| Entry {
            id: id.text(),
            ..Entry::new(name, Vec::new(), 0)
        };
        let refused = match died {
            true => gone
                .iter()
                .filter(|id| spool.holds(State::Dead, &dead(id)))
                .count(),
            false => 0,
        };
        if refused > 0 {
            self.refused += refused;
            self.worst = self.worst.max(Status::Rejected);
        }
    }
}

/// What became of a batch put on disk after its send started, now that the
/// send has its `report`.
fn settle_late(late: InFlight, report: &Report) -> Status {
    match (report.status, &report.spool_id) {
        (Status::Delivered, _) => {
            late.delivered();
            Status::Delivered
        }
        (_, Some(_)) => {
            late.replaced();
            report.status
        }
        // Not kept otherwise, but its copy on disk still is.
        (_, None) => match late.keep() {
            Ok(_) => Status::Queued,
            Err(_) => report.status,
        },
    }
}
