//! What moves batches out of the lanes: sends from memory, slices of the
//! spool for a lane behind it (`backlog.rs`), spills past `--max-pending`,
//! and the spooling of what is left at the end.
//!
//! Order, per destination: the batch in flight is older than anything
//! spilled after it (it goes on disk in flight, under the id it took when
//! it started, before anything queues behind it); spills take the oldest
//! batch in memory; and a lane with anything in the spool sends the spool
//! first. So what is in the spool is always older than what is in memory,
//! and the channel sees the lines in the order they were read.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use futures_util::stream::FuturesUnordered;

use crate::config::Destination;
use crate::deliver::{Place, Report};
use crate::kinds::Payload;
use crate::settings::{DEFAULT_TIMEOUT, Pipe};
use crate::spool::Spool;
use crate::stream::batch::Batch;
use crate::stream::journal::Header;

use super::lane::{Lane, Sent};
use super::{Crew, Done, Ending, Sending, Work, backlog};

/// How long each send (and each entry of a slice of the spool) may take.
pub(super) fn timeout(pipe: &Pipe, destination: &Destination) -> Duration {
    pipe.timeout
        .or(destination.timeout)
        .or(pipe.profile.timeout)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// The other lanes of `index`'s destination (its other channels).
fn siblings<'l, 'p>(lanes: &'l [Lane<'p>], index: usize) -> impl Iterator<Item = &'l Lane<'p>> {
    let name = &lanes[index].destination.name;
    let others = lanes.iter().enumerate().filter(move |&(i, _)| i != index);
    others
        .filter(move |(_, l)| &l.destination.name == name)
        .map(|(_, l)| l)
}

/// Another lane of its destination has a send or a slice in flight: the
/// lane waits for it.
pub(super) fn blocked(lanes: &[Lane], index: usize) -> bool {
    siblings(lanes, index).any(|l| l.busy)
}

/// Sending is the bottleneck: a lane has full batches waiting that its pace
/// allows now, and its destination has been answering promptly, on every
/// lane of it: the reader should wait rather than the batches spool.
pub(super) fn holds_back(lanes: &[Lane], now: Instant, work: &Work) -> bool {
    (0..lanes.len()).any(|index| {
        let prompt = |l: &Lane| l.slow.is_none() && !l.lagging(work);
        lanes[index].saturated(now, work) && siblings(lanes, index).all(prompt)
    })
}

/// Starts the next send on every lane that has something to send, is idle,
/// and whose pace allows: a slice of the spool for a lane behind it, else
/// its oldest batch. One lane of a destination at a time, the one that has
/// waited longest, and the destination's pace kept across its lanes: two
/// lanes of it (two channels) neither contend for its spool nor double its
/// rate.
pub(super) fn start_sends<'a>(
    crew: Crew<'a>,
    lanes: &mut [Lane<'a>],
    inflight: &mut FuturesUnordered<Sending<'a>>,
    now: Instant,
    ending: Ending,
) {
    for index in 0..lanes.len() {
        if !lanes[index].may_start(now) || blocked(lanes, index) {
            continue;
        }
        let waited = |l: &Lane| l.started.map_or(Duration::MAX, |t| now - t);
        let longer =
            siblings(lanes, index).any(|l| l.may_start(now) && waited(l) > waited(&lanes[index]));
        if longer {
            continue;
        }
        let until = ending.deadline(&lanes[index]);
        let lane = &mut lanes[index];
        let sending = match lane.backlogged {
            true => Some(backlog::start(crew, lane, index, now, until)),
            false => start_send(crew, lane, index, now),
        };
        let next = lane.next_send;
        inflight.extend(sending);
        let name = &lanes[index].destination.name.clone();
        for lane in lanes.iter_mut().filter(|l| &l.destination.name == name) {
            lane.next_send = lane.next_send.max(next);
        }
    }
}

/// Sends the lane's oldest batch from memory; a batch on disk in flight is
/// settled at once.
fn start_send<'a>(
    crew: Crew<'a>,
    lane: &mut Lane<'a>,
    index: usize,
    now: Instant,
) -> Option<Sending<'a>> {
    let (batch, ticket) = lane.take()?;
    lane.start(crew.work.mark_at(now));
    let (lines, range) = (batch.lines, (batch.start, batch.end));
    let (payloads, scratch) = render(crew.header, crew.outbox.spool, lane, batch);
    let (outbox, destination) = (crew.outbox, lane.destination);
    let id = crate::spool::fs::new_id(SystemTime::now());
    // Said before it may reach the disk, whichever way it goes there.
    crew.settler.intend(index, range, &id);
    // A healthy lane's batch is kept by the journal while it is in flight;
    // after a failure or a refusal, it goes on disk first.
    let place = match lane.healthy() {
        true => Place::Reserved(id.clone()),
        false => Place::from(outbox.begin_as(destination, &payloads, Some(&id))),
    };
    let begun = matches!(place, Place::OnDisk(_));
    if begun && lane.settle(ticket) {
        crew.settler.settle(index, lane.settled);
    }
    lane.sending = Some(Sent {
        payloads: payloads.clone(),
        begun,
        id,
        late: None,
        ticket,
        lines,
    });
    let timeout = timeout(crew.pipe, destination);
    Some(Box::pin(async move {
        let report = outbox
            .send_begun(destination, payloads, timeout, place)
            .await;
        // Sent, or kept with its own copy.
        if let Some(scratch) = scratch {
            let _ = std::fs::remove_file(scratch);
        }
        (index, Done::Sent(report))
    }))
}

/// The payloads that carry `batch` to `lane`'s destination; a batch over
/// `--file-over` goes as a file (`attach.rs`), whose scratch file is given
/// for the caller to remove once the message is sent or kept.
pub(super) fn render(
    header: &Header,
    spool: &Spool,
    lane: &mut Lane,
    batch: Batch,
) -> (Vec<Payload>, Option<PathBuf>) {
    let first = lane.numbered + 1;
    lane.numbered += batch.lines;
    let platform = lane.destination.platform.as_ref();
    let (message, scratch) = match lane.file_over {
        None => (header.message(batch.text, batch.level), None),
        Some(over) => super::attach::message(header, spool, platform, batch, first, over),
    };
    (platform.render(&message, &lane.target), scratch)
}

/// Keeps batches waiting in memory under `--max-pending`: the oldest go to
/// the spool, each settled the moment it is there, and its memory freed.
pub(super) fn spill(crew: Crew, lanes: &mut [Lane]) {
    let max = crew.pipe.max_pending;
    while lanes.iter().map(|l| l.packer.ready_bytes()).sum::<usize>() > max {
        let Some((index, lane)) = lanes
            .iter_mut()
            .enumerate()
            .max_by_key(|(_, l)| l.packer.ready_bytes())
        else {
            break;
        };
        if !spool_oldest(crew, index, lane) {
            break;
        }
    }
}

/// Puts the lane's oldest batch in memory in the spool, behind the batch in
/// flight; false when it holds none.
fn spool_oldest(crew: Crew, index: usize, lane: &mut Lane) -> bool {
    let Some((batch, ticket)) = lane.take() else {
        return false;
    };
    // What is in flight must be on disk before anything queues behind it,
    // or a flush could deliver the later batch first.
    if put_in_flight_on_disk(crew, lane) {
        crew.settler.settle(index, lane.settled);
    }
    let (lines, range) = (batch.lines, (batch.start, batch.end));
    let (payloads, scratch) = render(crew.header, crew.outbox.spool, lane, batch);
    let id = crate::spool::fs::new_id(SystemTime::now());
    crew.settler.intend(index, range, &id);
    let report = queue(crew, index, lane, payloads, Place::Reserved(id), ticket);
    if let Some(scratch) = scratch {
        let _ = std::fs::remove_file(scratch);
    }
    lane.spilled(&report, lines);
    true
}

/// The lane's time is up at the end of the stream: everything it holds in
/// memory goes to the spool, behind what is in flight, which may still
/// finish; nothing more starts.
pub(super) fn close(crew: Crew, index: usize, lane: &mut Lane) {
    lane.packer.close();
    while spool_oldest(crew, index, lane) {}
    lane.closed = true;
}

/// Moves every batch, open or ready, to the spool; one in flight is on disk
/// already (or, if the disk would not take it then, spooled now). One in
/// flight may then arrive twice: the one duplicate a crash is allowed.
pub(super) fn spool_all(crew: Crew, lanes: &mut [Lane]) {
    for (index, lane) in lanes.iter_mut().enumerate() {
        lane.packer.close();
        if let Some(sent) = lane.sending.take() {
            let (ticket, lines) = (sent.ticket, sent.lines);
            if sent.begun || sent.late.is_some() {
                // Kept as it was begun when its send is dropped (a pending
                // entry under its id, see `spool/inflight.rs`).
                let mut report = Report::waiting(lane.destination, sent.payloads.len(), None);
                report.spool_id = Some(sent.id);
                lane.spilled(&report, lines);
            } else {
                let place = Place::Reserved(sent.id);
                let report = queue(crew, index, lane, sent.payloads, place, ticket);
                lane.spilled(&report, lines);
            }
            if lane.settle(ticket) {
                crew.settler.settle(index, lane.settled);
            }
        }
        close(crew, index, lane);
    }
}

/// Puts the batch in flight on disk, under the place it took, if it is not
/// there yet; true when that settles it.
fn put_in_flight_on_disk(crew: Crew, lane: &mut Lane) -> bool {
    let destination = lane.destination;
    let Some(sent) = lane
        .sending
        .as_mut()
        .filter(|s| !s.begun && s.late.is_none())
    else {
        return false;
    };
    sent.late = crew
        .outbox
        .begin_as(destination, &sent.payloads, Some(&sent.id));
    let ticket = sent.ticket;
    lane.sending.as_ref().is_some_and(|s| s.late.is_some()) && lane.settle(ticket)
}

/// Queues a batch in the spool and settles it, telling the journal the
/// moment the entry is on disk: a kill between the two then costs at most
/// this batch twice, not a disk's flush worth of them.
fn queue(
    crew: Crew,
    index: usize,
    lane: &mut Lane,
    payloads: Vec<Payload>,
    place: Place,
    ticket: u64,
) -> Report {
    let through = lane.settled_if(ticket);
    let settler = crew.settler;
    let mut note = || {
        if let Some(through) = through {
            settler.settle(index, through);
        }
    };
    let report = crew
        .outbox
        .queue_at(lane.destination, payloads, place, &mut note);
    // Kept or not, it is done with: a batch not kept is reported lost.
    if lane.settle(ticket) && report.spool_id.is_none() {
        settler.settle(index, lane.settled);
    }
    report
}
