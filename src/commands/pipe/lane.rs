//! One destination's stream of batches: its packer, the batch in flight,
//! how far it has settled, and the sends, spills and final spooling that
//! move its batches on.

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use futures_util::stream::FuturesUnordered;

use crate::config::Destination;
use crate::deliver::{Outbox, Place};
use crate::deliver::{Report, Status};
use crate::kinds::{Payload, Target};
use crate::settings::{DEFAULT_TIMEOUT, Output, Pipe};
use crate::spool::InFlight;
use crate::stream::batch::{Batch, Packer};
use crate::stream::journal::Header;
use crate::stream::lines::Line;

use super::{SLOW_SEND, Sending, Settler};

/// One destination's stream of batches.
pub(super) struct Lane<'p> {
    pub(super) destination: &'p Destination,
    pub(super) target: Target,
    pub(super) packer: Packer,
    pub(super) next_send: Instant,
    pub(super) busy: bool,
    /// When the send in flight started.
    pub(super) busy_since: Option<Instant>,
    /// The last batch was delivered (a lane starts out trusted).
    pub(super) healthy: bool,
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
    pub(super) worst: Status,
    pub(super) messages: usize,
    pub(super) queued: usize,
    /// Batches neither delivered nor kept (the spool could not be written).
    pub(super) lost: usize,
    /// The destination has messages in the spool (this stream's, or older):
    /// each batch then goes on disk before it is sent, so that nothing can
    /// overtake it. A healthy stream with none sends straight from memory,
    /// its journal keeping what is in flight.
    pub(super) backlogged: bool,
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
}

/// Starts the next send on every lane that has a batch, is idle, and whose
/// pace allows; a batch on disk in flight is settled at once.
pub(super) fn start_sends<'a>(
    pipe: &'a Pipe,
    header: &Header,
    outbox: &'a Outbox<'a>,
    settler: &Settler,
    lanes: &mut [Lane<'a>],
    inflight: &mut FuturesUnordered<Sending<'a>>,
    now: Instant,
) {
    for (index, lane) in lanes.iter_mut().enumerate() {
        if lane.busy || now < lane.next_send {
            continue;
        }
        let Some((batch, ticket)) = lane.take() else {
            continue;
        };
        lane.busy = true;
        lane.busy_since = Some(now);
        lane.next_send = now + lane.destination.pace;
        let payloads = render(header, lane, batch);
        let destination = lane.destination;
        let id = crate::spool::fs::new_id(SystemTime::now());
        let place = match lane.healthy && !lane.backlogged {
            true => Place::Reserved(id.clone()),
            false => Place::from(outbox.begin_as(destination, &payloads, Some(&id))),
        };
        let begun = matches!(place, Place::OnDisk(_));
        if begun && lane.settle(ticket) {
            settler.settle(index, lane.settled);
        }
        lane.sending = Some(Sent {
            payloads: payloads.clone(),
            begun,
            id,
            late: None,
            ticket,
        });
        let timeout = pipe
            .timeout
            .or(destination.timeout)
            .or(pipe.profile.timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        inflight.push(Box::pin(async move {
            let report = outbox
                .send_begun(destination, payloads, timeout, place)
                .await;
            (index, report)
        }));
    }
}

/// The payloads that carry `batch` to `lane`'s destination.
pub(super) fn render(header: &Header, lane: &Lane, batch: Batch) -> Vec<Payload> {
    let message = header.message(batch.text, batch.level);
    lane.destination.platform.render(&message, &lane.target)
}

/// Keeps batches waiting in memory under `--max-pending`: the oldest go to
/// the spool, each settled the moment it is there.
pub(super) fn spill(
    pipe: &Pipe,
    header: &Header,
    outbox: &Outbox,
    settler: &Settler,
    lanes: &mut [Lane],
) {
    while lanes.iter().map(|l| l.packer.ready_bytes()).sum::<usize>() > pipe.max_pending {
        let Some((index, lane)) = lanes
            .iter_mut()
            .enumerate()
            .max_by_key(|(_, l)| l.packer.ready_bytes())
        else {
            break;
        };
        let Some((batch, ticket)) = lane.take() else {
            break;
        };
        // What is in flight must be on disk before anything queues behind
        // it, or a flush could deliver the later batch first.
        if lane.put_in_flight_on_disk(outbox) {
            settler.settle(index, lane.settled);
        }
        let payloads = render(header, lane, batch);
        let report = lane.queue(outbox, settler, index, payloads, Place::None, ticket);
        lane.spilled(&report);
    }
}

/// Moves every batch, open or ready, to the spool; one in flight is on disk
/// already (or, if the disk would not take it then, spooled now). One in
/// flight may then arrive twice: the one duplicate a crash is allowed.
pub(super) fn spool_all(header: &Header, outbox: &Outbox, settler: &Settler, lanes: &mut [Lane]) {
    for (index, lane) in lanes.iter_mut().enumerate() {
        lane.packer.close();
        if let Some(sent) = lane.sending.take() {
            if sent.begun || sent.late.is_some() {
                // Kept as it was begun when its send is dropped.
                lane.queued += 1;
                lane.worst = lane.worst.max(Status::Queued);
            } else {
                let place = Place::Reserved(sent.id);
                let report = lane.queue(outbox, settler, index, sent.payloads, place, sent.ticket);
                lane.spilled(&report);
            }
            if lane.settle(sent.ticket) {
                settler.settle(index, lane.settled);
            }
        }
        while let Some((batch, ticket)) = lane.take() {
            let payloads = render(header, lane, batch);
            let report = lane.queue(outbox, settler, index, payloads, Place::None, ticket);
            lane.spilled(&report);
        }
    }
}

impl<'p> Lane<'p> {
    pub(super) fn new(destination: &'p Destination, target: Target) -> Lane<'p> {
        Lane {
            destination,
            target,
            packer: Packer::new(destination.platform.as_ref()),
            next_send: Instant::now(),
            busy: false,
            busy_since: None,
            healthy: true,
            sending: None,
            unsettled: VecDeque::new(),
            next_ticket: 0,
            settled: 0,
            lines: 0,
            worst: Status::Delivered,
            messages: 0,
            queued: 0,
            lost: 0,
            backlogged: false,
        }
    }

    /// Puts the batch in flight on disk, under the place it took, if it is
    /// not there yet; true when that settles it.
    pub(super) fn put_in_flight_on_disk(&mut self, outbox: &Outbox) -> bool {
        let destination = self.destination;
        let Some(sent) = self
            .sending
            .as_mut()
            .filter(|s| !s.begun && s.late.is_none())
        else {
            return false;
        };
        sent.late = outbox.begin_as(destination, &sent.payloads, Some(&sent.id));
        let ticket = sent.ticket;
        self.sending.as_ref().is_some_and(|s| s.late.is_some()) && self.settle(ticket)
    }

    /// Sending is the bottleneck: batches wait that the pace would allow now,
    /// and the destination has been answering promptly.
    pub(super) fn saturated(&self, now: Instant) -> bool {
        let prompt = self.busy_since.is_none_or(|t| now - t < SLOW_SEND);
        self.healthy && prompt && self.packer.ready() >= 2 && now >= self.next_send
    }

    pub(super) fn idle(&self) -> bool {
        !self.busy && self.packer.is_empty()
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

    /// Queues a batch in the spool and settles it, telling the journal the
    /// moment the entry is on disk: a kill between the two then costs at most
    /// this batch twice, not a disk's flush worth of them.
    pub(super) fn queue(
        &mut self,
        outbox: &Outbox,
        settler: &Settler,
        index: usize,
        payloads: Vec<Payload>,
        place: Place,
        ticket: u64,
    ) -> Report {
        let through = self.settled_if(ticket);
        let mut note = || {
            if let Some(through) = through {
                settler.settle(index, through);
            }
        };
        let report = outbox.queue_at(self.destination, payloads, place, &mut note);
        // Kept or not, it is done with: a batch not kept is reported lost.
        if self.settle(ticket) && report.spool_id.is_none() {
            settler.settle(index, self.settled);
        }
        report
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

    /// A batch went to the spool without being tried (past `--max-pending`,
    /// or at the end): counted, while the batch in flight, if any, goes on.
    pub(super) fn spilled(&mut self, report: &Report) {
        self.backlogged = true;
        self.messages += 1;
        self.worst = self.worst.max(report.status);
        match report.status {
            Status::Queued => self.queued += 1,
            _ => {
                self.lost += 1;
                let why = report.error.as_deref().unwrap_or("failed");
                eprintln!(
                    "chime: error: a batch for {} was not kept: {why}",
                    self.destination.name
                );
            }
        }
    }

    /// The send in flight ended; true when that settled its batch (one that
    /// was not on disk in flight).
    pub(super) fn finished(&mut self, report: &Report, output: Output) -> bool {
        self.busy = false;
        self.busy_since = None;
        self.healthy = report.status == Status::Delivered;
        // A delivered batch went after whatever the spool held for it.
        self.backlogged = report.status != Status::Delivered;
        let mut sent = self.sending.take();
        let mut status = report.status;
        if let Some(late) = sent.as_mut().and_then(|s| s.late.take()) {
            match (status, &report.spool_id) {
                (Status::Delivered, _) => late.delivered(),
                (_, Some(_)) => late.replaced(),
                // Not kept otherwise, but its copy on disk still is.
                (_, None) => {
                    if late.keep().is_ok() {
                        status = Status::Queued;
                    }
                }
            }
        }
        self.messages += 1;
        self.worst = self.worst.max(status);
        match status {
            Status::Delivered => {}
            Status::Queued => {
                self.queued += 1;
                if !output.quiet {
                    let why = report.error.as_deref().unwrap_or("queued");
                    eprintln!(
                        "chime: queued a batch for {} ({why}); will retry",
                        self.destination.name
                    );
                }
            }
            Status::Rejected | Status::Failed => {
                // A refusal that could not be dead-lettered is nowhere too.
                if status == Status::Failed || report.spool_id.is_none() {
                    self.lost += 1;
                }
                let why = report.error.as_deref().unwrap_or("failed");
                eprintln!(
                    "chime: error: {} did not take a batch: {why}",
                    self.destination.name
                );
            }
        }
        sent.filter(|sent| !sent.begun)
            .is_some_and(|sent| self.settle(sent.ticket))
    }
}
