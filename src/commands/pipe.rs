//! `chime pipe`: stream stdin into destinations, packed into as few messages as
//! each platform allows, and never dropping a line.
//!
//! A reader thread splits stdin into lines (invalid UTF-8 replaced, ANSI colour
//! codes stripped), copies the raw bytes to stdout with `--tee`, keeps only
//! `--grep` matches, and hands the lines over in chunks. Each destination has a
//! lane: lines are escaped for its markup and appended to its open batch. A
//! batch closes when the next line would not fit one message (the kind's
//! `batch_limit`), or `--interval` after its first line, so a lone line from
//! `tail -f` goes out about one interval later. Closed batches go out one at a
//! time at the destination's pace, through the outbox (backlog first, spool on
//! failure). Batches waiting in memory are bounded: past `--max-pending`
//! bytes the oldest go to the spool instead of RAM.
//!
//! EOF or a first SIGINT/SIGTERM closes every batch and sends what is left
//! (whatever cannot go within the timeout is spooled); a second SIGINT spools
//! everything at once and exits 130. On a signal, the reader stops before its
//! next read, and every line it has read (and so copied with `--tee`) is taken
//! from it first, down to an unfinished last line, even while the reader
//! waits for input that does not come: what chime has read is delivered or
//! spooled. Only input that arrives more than [`QUIET`] after the signal, to
//! a read already under way, is not. A line longer than 1 MiB is cut into
//! pieces as it is read, and judged (`--grep`, level) by its first. When the
//! time to send is up, sends still in flight are abandoned (each is on disk
//! already, see `spool/inflight.rs`), so a batch is sent twice at most, never
//! half, and chime exits on time.
//!
//! What is read is journaled before anything else happens to it, and each
//! lane says in the journal how far it has settled — a batch is settled once
//! it is delivered or on disk in the spool — so a pipe killed at any moment,
//! kill -9 included, leaves what it had not settled for the next `chime flush`
//! (or the next `chime pipe` of the profile) to queue, in order
//! (`stream/journal.rs`). Per destination, lines reach the channel in the order
//! they were read, through spills, failures and flushes: a batch in flight is
//! on disk under an id older than anything spilled after it.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;

use crate::config::Destination;
use crate::deliver::{self, Report, Status};
use crate::deliver::{Outbox, Place};
use crate::exit::{ExitCode, Failure};
use crate::kinds::{Payload, Target};
use crate::message::{Level, Message};
use crate::report;
use crate::settings::{DEFAULT_TIMEOUT, Output, Pipe, Selection};
use crate::spool::InFlight;
use crate::state::Threads;
use crate::stream::batch::{Batch, Packer};
use crate::stream::journal::{self, Header, Journal, LaneSpec};
use crate::stream::lines::{Line, Shaper, Unfinished};
use crate::template;

const READ_CHUNK: usize = 64 * 1024;
/// A send taking longer than this means the destination, not chime, is slow:
/// keep reading and let batches pile up (and spill to the spool).
const SLOW_SEND: Duration = Duration::from_secs(2);
/// Chunks of lines between the reader thread and the lanes.
const CHUNKS_IN_FLIGHT: usize = 16;
/// On a signal, how long to wait for the reader to hand over what it has read.
const QUIET: Duration = Duration::from_millis(200);

/// One destination's stream of batches.
struct Lane<'p> {
    destination: &'p Destination,
    target: Target,
    packer: Packer,
    next_send: Instant,
    busy: bool,
    /// When the send in flight started.
    busy_since: Option<Instant>,
    /// The last batch was delivered (a lane starts out trusted).
    healthy: bool,
    /// What is being sent right now, kept so that an abort can spool it
    /// too unless it is on disk in flight already.
    sending: Option<Sent>,
    /// Batches taken from the packer, in order, and whether each is settled
    /// (delivered or on disk): the journal may forget a line once every
    /// batch up to its own is.
    unsettled: VecDeque<(u64, u64, bool)>,
    next_ticket: u64,
    /// Every line of this lane ending at or before this offset is settled.
    settled: u64,
    lines: usize,
    worst: Status,
    messages: usize,
    queued: usize,
    /// Batches neither delivered nor kept (the spool could not be written).
    lost: usize,
    /// The destination has messages in the spool (this stream's, or older):
    /// each batch then goes on disk before it is sent, so that nothing can
    /// overtake it. A healthy stream with none sends straight from memory,
    /// its journal keeping what is in flight.
    backlogged: bool,
}

/// A batch on its way.
struct Sent {
    payloads: Vec<Payload>,
    /// On disk in flight, so an abort need not spool it again.
    begun: bool,
    /// Its place in the destination's order, taken when it started.
    id: String,
    /// Put on disk after it started, when later batches went to the spool
    /// behind it: settled with the report.
    late: Option<InFlight>,
    ticket: u64,
}

/// Tells the journal how far a lane has settled, the moment it has.
struct Settler<'j> {
    journal: &'j Mutex<Option<Journal>>,
    output: Output,
}

impl Settler<'_> {
    /// Writes that `lane` has settled everything through `through`. A
    /// journal the disk refuses is abandoned, said once.
    fn settle(&self, lane: usize, through: u64) {
        let Ok(mut guard) = self.journal.lock() else {
            return;
        };
        let refused = guard
            .as_mut()
            .is_some_and(|j| j.settle(lane, through).is_err());
        if refused && let Some(journal) = guard.take() {
            report::warning(self.output, &journal.abandon());
        }
    }
}

/// Lines handed from the reader, and the input's offset after them (lines
/// `--grep` left out count too).
struct Chunk {
    lines: Vec<Line>,
    end: u64,
}

type Sending<'a> = Pin<Box<dyn Future<Output = (usize, Report)> + 'a>>;

pub fn run(pipe: Pipe) -> Result<ExitCode, Failure> {
    let runtime = deliver::runtime()?;
    runtime.block_on(stream(&pipe))
}

async fn stream(pipe: &Pipe) -> Result<ExitCode, Failure> {
    let client = deliver::client();
    let threads = Threads::beside(&pipe.spool, pipe.profile.thread_ttl);
    let outbox = Outbox {
        client: &client,
        spool: &pipe.spool,
        threads: &threads,
        policy: &pipe.profile.spool,
        output: pipe.output,
        no_spool: false,
        in_flight: Default::default(),
    };
    let mut router = Router::new(pipe)?;
    // What an earlier pipe of this profile left goes ahead of this stream.
    for warning in journal::recover_all(profile_dir(pipe), &pipe.profile, &pipe.spool) {
        report::warning(pipe.output, &warning);
    }
    for lane in &mut router.lanes {
        lane.backlogged = pipe.spool.has_pending(&lane.destination.name, None);
    }
    let header = router.header();
    let journal = Arc::new(Mutex::new(open_journal(pipe, &header)));
    let settler = Settler {
        journal: &journal,
        output: pipe.output,
    };
    // Bounded, so a reader faster than the lanes waits instead of filling memory.
    let (tx, mut rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let reader = Reader {
        tee: pipe.tee,
        shaper: header.shaper(),
        stop: Arc::new(AtomicBool::new(false)),
        unfinished: Arc::new(Mutex::new(Unfinished::default())),
        journal: Arc::clone(&journal),
        output: pipe.output,
    };
    let rest = reader.handle();
    std::thread::spawn(move || reader.run(&tx));
    let mut interrupt = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut terminate = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut inflight: FuturesUnordered<Sending> = FuturesUnordered::new();
    let mut eof = false;
    let mut stopping: Option<Instant> = None;
    let mut interrupted = false;
    loop {
        let now = Instant::now();
        router.close_due(pipe.interval, now);
        start_sends(
            pipe,
            &header,
            &outbox,
            &settler,
            &mut router.lanes,
            &mut inflight,
            now,
        );
        spill(pipe, &header, &outbox, &settler, &mut router.lanes);
        router.trim_journal(&journal);
        if eof && inflight.is_empty() && router.lanes.iter().all(Lane::idle) {
            break;
        }
        if let Some(deadline) = stopping
            && now >= deadline
        {
            // Time is up: keep the rest on disk, and abandon the sends in flight
            // (their batches are on disk already) rather than let them drain a backlog.
            spool_all(&header, &outbox, &settler, &mut router.lanes);
            break;
        }
        // A healthy lane that has full batches waiting and may send now is
        // limited by its own throughput, not the platform's pace: stop reading
        // for a moment (the reader blocks, the pipe buffers) rather than spool.
        let saturated = router.lanes.iter().any(|l| l.saturated(now));
        // Stopping has a deadline of its own, which a long send must not hide.
        let wake = router
            .next_wakeup(pipe.interval)
            .into_iter()
            .chain(stopping)
            .min()
            .unwrap_or(now + Duration::from_secs(3600));
        tokio::select! {
            chunk = rx.recv(), if !eof && !saturated => match chunk {
                Some(chunk) => {
                    router.ingest(chunk);
                    // Let the HTTP connection tasks run between chunks: on this
                    // single thread, a fast reader would otherwise starve them.
                    tokio::task::yield_now().await;
                }
                None => {
                    eof = true;
                    router.close_all();
                }
            },
            Some((lane, report)) = inflight.next() => {
                if router.lanes[lane].finished(&report, pipe.output) {
                    settler.settle(lane, router.lanes[lane].settled);
                }
            }
            () = tokio::time::sleep_until(wake.into()) => {}
            _ = interrupt.recv() => {
                if stopping.is_some() {
                    // Second Ctrl-C: keep everything on disk and leave now.
                    spool_all(&header, &outbox, &settler, &mut router.lanes);
                    interrupted = true;
                    break;
                }
                if !eof {
                    take_the_rest(&rest, &mut rx, &mut router).await;
                    eof = true;
                }
                router.close_all();
                stopping = Some(Instant::now() + pipe.timeout.unwrap_or(DEFAULT_TIMEOUT));
            }
            _ = terminate.recv() => {
                if !eof {
                    take_the_rest(&rest, &mut rx, &mut router).await;
                    eof = true;
                }
                router.close_all();
                stopping.get_or_insert(Instant::now() + pipe.timeout.unwrap_or(DEFAULT_TIMEOUT));
            }
        }
    }
    // Abandoned sends keep their batches on disk as they go.
    drop(inflight);
    close_journal(pipe, &journal, &router);
    if interrupted {
        summary(pipe, &router.lanes);
        return Ok(ExitCode::Interrupted);
    }
    // A batch queued mid-stream may have gone out behind a later one (the
    // outbox sends a destination's backlog first): only what is still in the
    // spool makes the stream "queued".
    for lane in &mut router.lanes {
        if lane.worst == Status::Queued && !pipe.spool.has_pending(&lane.destination.name, None) {
            lane.worst = Status::Delivered;
        }
    }
    summary(pipe, &router.lanes);
    Ok(deliver::exit_code(router.lanes.iter().map(|l| l.worst)))
}

/// The profile's state folder, where journals are kept beside the spool.
fn profile_dir(pipe: &Pipe) -> &std::path::Path {
    pipe.spool.root().parent().unwrap_or(pipe.spool.root())
}

/// The journal of this stream, or `None`, said loudly, when the disk will
/// not take it: the stream goes on, but a kill could then cost what is read.
fn open_journal(pipe: &Pipe, header: &Header) -> Option<Journal> {
    match Journal::create(profile_dir(pipe), header.clone()) {
        Ok(journal) => Some(journal),
        Err(err) => {
            let text = format!(
                "cannot journal what is read ({err}): if chime is killed, lines not yet sent are lost"
            );
            report::warning(pipe.output, &text);
            None
        }
    }
}

/// At the end: the journal goes, once what it holds beyond what the lanes
/// settled (read after a stop signal, never batched) is queued.
fn close_journal(pipe: &Pipe, journal: &Mutex<Option<Journal>>, router: &Router) {
    let Some(journal) = journal.lock().ok().and_then(|mut j| j.take()) else {
        return;
    };
    if let Err(why) = journal.finish(&router.floors(), &pipe.profile, &pipe.spool) {
        report::warning(pipe.output, &why);
    }
}

/// Stops the reader and takes every line it has read: those waiting in the
/// channel, the chunk it may be blocked handing over, and its unfinished last
/// line, which it sends itself if it sees `stop`, and which is taken from it
/// here if it is waiting for input that does not come.
async fn take_the_rest(
    reader: &ReaderHandle,
    rx: &mut mpsc::Receiver<Chunk>,
    router: &mut Router<'_>,
) {
    reader.stop.store(true, Ordering::SeqCst);
    // `None`: the reader has finished; a timeout: it is waiting for input.
    while let Ok(Some(chunk)) = tokio::time::timeout(QUIET, rx.recv()).await {
        router.ingest(chunk);
    }
    rx.close();
    while let Ok(chunk) = rx.try_recv() {
        router.ingest(chunk);
    }
    let last = reader.unfinished.lock().ok().map(|mut unfinished| {
        let line = reader.shaper.finish(&mut unfinished);
        Chunk {
            lines: line.into_iter().collect(),
            end: unfinished.offset,
        }
    });
    router.ingest(last.unwrap_or(Chunk {
        lines: Vec::new(),
        end: 0,
    }));
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal, Failure> {
    tokio::signal::unix::signal(kind)
        .map_err(|e| Failure::from(e).caused_by("cannot listen for signals"))
}

/// Starts the next send on every lane that has a batch, is idle, and whose
/// pace allows; a batch on disk in flight is settled at once.
fn start_sends<'a>(
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
fn render(header: &Header, lane: &Lane, batch: Batch) -> Vec<Payload> {
    let message = header.message(batch.text, batch.level);
    lane.destination.platform.render(&message, &lane.target)
}

/// Keeps batches waiting in memory under `--max-pending`: the oldest go to
/// the spool, each settled the moment it is there.
fn spill(pipe: &Pipe, header: &Header, outbox: &Outbox, settler: &Settler, lanes: &mut [Lane]) {
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
fn spool_all(header: &Header, outbox: &Outbox, settler: &Settler, lanes: &mut [Lane]) {
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

fn summary(pipe: &Pipe, lanes: &[Lane]) {
    if pipe.output.quiet {
        return;
    }
    for lane in lanes {
        let name = &lane.destination.name;
        if lane.lost > 0 {
            // Never "piped N lines" when some of them are nowhere.
            eprintln!(
                "chime: error: {} of {} message(s) for {name} were neither delivered nor kept; \
                 their lines are lost",
                lane.lost, lane.messages
            );
            continue;
        }
        if pipe.output.verbose || lane.queued > 0 || lane.worst != Status::Delivered {
            eprintln!(
                "chime: piped {} line(s) to {name} in {} message(s){}",
                lane.lines,
                lane.messages,
                if lane.queued > 0 {
                    format!(", {} queued in the spool", lane.queued)
                } else {
                    String::new()
                }
            );
        }
    }
}

impl<'p> Lane<'p> {
    fn new(destination: &'p Destination, target: Target) -> Lane<'p> {
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
    fn put_in_flight_on_disk(&mut self, outbox: &Outbox) -> bool {
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
    fn saturated(&self, now: Instant) -> bool {
        let prompt = self.busy_since.is_none_or(|t| now - t < SLOW_SEND);
        self.healthy && prompt && self.packer.ready() >= 2 && now >= self.next_send
    }

    fn idle(&self) -> bool {
        !self.busy && self.packer.is_empty()
    }

    fn push(&mut self, line: &Line) {
        if !line.joins {
            self.lines += 1;
        }
        self.packer.push(self.destination.platform.as_ref(), line);
    }

    /// The oldest closed batch, with the ticket that settles it.
    fn take(&mut self) -> Option<(Batch, u64)> {
        let batch = self.packer.pop()?;
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.unsettled.push_back((ticket, batch.end, false));
        Some((batch, ticket))
    }

    /// Queues a batch in the spool and settles it, telling the journal the
    /// moment the entry is on disk: a kill between the two then costs at most
    /// this batch twice, not a disk's flush worth of them.
    fn queue(
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
    fn settled_if(&self, ticket: u64) -> Option<u64> {
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
    fn settle(&mut self, ticket: u64) -> bool {
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
    fn floor(&self, read: u64) -> u64 {
        match self.unsettled.is_empty() && self.packer.is_empty() {
            true => read,
            false => self.settled,
        }
    }

    /// A batch went to the spool without being tried (past `--max-pending`,
    /// or at the end): counted, while the batch in flight, if any, goes on.
    fn spilled(&mut self, report: &Report) {
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
    fn finished(&mut self, report: &Report, output: Output) -> bool {
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

/// Which lanes each line goes to.
struct Router<'p> {
    pipe: &'p Pipe,
    lanes: Vec<Lane<'p>>,
    /// For `--to`/`--route`: every lane. For rules: lanes per level.
    by_level: BTreeMap<u8, Vec<usize>>,
    fixed: Option<Vec<usize>>,
    /// The input's offset past what was ingested.
    read: u64,
}

impl<'p> Router<'p> {
    fn new(pipe: &'p Pipe) -> Result<Router<'p>, Failure> {
        let mut router = Router {
            pipe,
            lanes: Vec::new(),
            by_level: BTreeMap::new(),
            fixed: None,
            read: 0,
        };
        let profile = &pipe.profile;
        let targets: Option<Vec<(&str, Option<&str>)>> = match &pipe.selection {
            Selection::Destinations(names) => {
                Some(names.iter().map(|n| (n.as_str(), None)).collect())
            }
            Selection::Routes(names, _) => {
                Some(router.route_targets(names.iter().map(String::as_str)))
            }
            Selection::Auto if profile.rules.is_empty() => {
                let default = router.auto_route(pipe.level)?.ok_or_else(no_route)?;
                Some(router.route_targets([default]))
            }
            Selection::Auto => {
                router.route_levels()?;
                None
            }
        };
        if let Some(targets) = targets {
            let lanes = targets
                .into_iter()
                .map(|(name, channel)| router.lane(name, channel))
                .collect();
            router.fixed = Some(lanes);
        }
        Ok(router)
    }

    fn route_targets<'n>(
        &self,
        routes: impl IntoIterator<Item = &'n str>,
    ) -> Vec<(&'p str, Option<&'p str>)>
    where
        'p: 'n,
    {
        let mut out: Vec<(&'p str, Option<&'p str>)> = Vec::new();
        for name in routes {
            let route = &self.pipe.profile.routes[name];
            for dest in &route.to {
                if !out.iter().any(|(d, _)| d == dest) {
                    out.push((dest.as_str(), route.channel.as_deref()));
                }
            }
        }
        out
    }

    /// The lane for `name` in the channel a route names, created on first
    /// use: two routes to one destination in two channels are two streams.
    fn lane(&mut self, name: &str, route_channel: Option<&'p str>) -> usize {
        let channel = self
            .pipe
            .channel
            .as_deref()
            .or(route_channel)
            .map(str::to_owned);
        let same = |l: &Lane| l.destination.name == name && l.target.channel == channel;
        if let Some(i) = self.lanes.iter().position(same) {
            return i;
        }
        let destination = &self.pipe.profile.destinations[name];
        self.lanes.push(Lane::new(
            destination,
            Target {
                channel,
                ..Target::default()
            },
        ));
        self.lanes.len() - 1
    }

    /// Settles, before anything is read, where a line of each level it may
    /// have goes, so that no line read can stop the stream for want of a
    /// route. Levels no rule and no default route send anywhere are not sent,
    /// and said so now.
    fn route_levels(&mut self) -> Result<(), Failure> {
        let base = self.pipe.level;
        let raised = [Level::Warning, Level::Error, Level::Critical];
        let mut levels = vec![base];
        if self.pipe.level_from_line {
            levels.extend(raised.into_iter().filter(|l| *l > base));
        }
        let mut unrouted = Vec::new();
        for level in levels {
            match self.auto_route(level)? {
                Some(route) => {
                    let targets = self.route_targets([route]);
                    let lanes = targets.into_iter().map(|(n, c)| self.lane(n, c)).collect();
                    self.by_level.insert(level as u8, lanes);
                }
                None => unrouted.push(level.as_str()),
            }
        }
        if self.by_level.is_empty() {
            return Err(no_route());
        }
        if !unrouted.is_empty() {
            let text = format!(
                "lines at level {} match no rule, and the profile has no [defaults] route: they are not sent",
                unrouted.join(", ")
            );
            report::warning(self.pipe.output, &text);
        }
        Ok(())
    }

    /// The route rules pick for a line of `level`, if any. In a stream, rules
    /// see the level (raised per line with --level-from-line), not the text.
    fn auto_route(&self, level: Level) -> Result<Option<&'p str>, Failure> {
        let profile = &self.pipe.profile;
        let mut vars = template::surroundings(&self.pipe.env, self.pipe.ci.as_ref());
        let empty: [(&str, &str); 0] = [];
        vars.insert("level".into(), level.as_str().into());
        vars.insert(
            "title".into(),
            self.pipe.title.clone().unwrap_or_default().into(),
        );
        vars.insert("text".into(), "".into());
        vars.insert("fields".into(), minijinja::Value::from_iter(empty));
        let vars = minijinja::Value::from(vars);
        match profile.rule_route(&vars)? {
            Some(route) => Ok(Some(route)),
            None => Ok(profile.default_route.as_deref()),
        }
    }

    /// Where a line of `level` goes: settled when the stream started.
    fn lanes_for(&self, level: Level) -> Vec<usize> {
        match &self.fixed {
            Some(fixed) => fixed.clone(),
            None => self
                .by_level
                .get(&(level as u8))
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn ingest(&mut self, chunk: Chunk) {
        for line in &chunk.lines {
            for lane in self.lanes_for(line.level) {
                self.lanes[lane].push(line);
            }
        }
        self.read = self.read.max(chunk.end);
    }

    fn close_due(&mut self, interval: Duration, now: Instant) {
        for lane in &mut self.lanes {
            if lane.packer.opened.is_some_and(|t| now >= t + interval) {
                lane.packer.close();
            }
        }
    }

    fn close_all(&mut self) {
        self.lanes.iter_mut().for_each(|l| l.packer.close());
    }

    /// When something next needs doing: a batch's interval ends, or a lane's pace allows a send.
    fn next_wakeup(&self, interval: Duration) -> Option<Instant> {
        let closes = self
            .lanes
            .iter()
            .filter_map(|l| l.packer.opened.map(|t| t + interval));
        let sends = self
            .lanes
            .iter()
            .filter(|l| !l.busy && l.packer.ready() > 0)
            .map(|l| l.next_send);
        closes.chain(sends).min()
    }

    /// How far into the input each lane is done.
    fn floors(&self) -> Vec<u64> {
        self.lanes.iter().map(|l| l.floor(self.read)).collect()
    }

    /// Lets the journal forget the segments every lane is done with.
    fn trim_journal(&self, journal: &Mutex<Option<Journal>>) {
        if let Ok(mut guard) = journal.lock()
            && let Some(journal) = guard.as_mut()
        {
            journal.trim(&self.floors());
        }
    }

    /// What the journal must know to replay this stream.
    fn header(&self) -> Header {
        let pipe = self.pipe;
        let lanes = self
            .lanes
            .iter()
            .map(|l| LaneSpec {
                destination: l.destination.name.clone(),
                channel: l.target.channel.clone(),
            })
            .collect();
        let mut routes = BTreeMap::new();
        match &self.fixed {
            Some(fixed) => {
                routes.insert(journal::ALL_LEVELS.to_owned(), fixed.clone());
            }
            None => {
                for level in Level::ALL {
                    routes.insert(level.as_str().to_owned(), self.lanes_for(level));
                }
            }
        }
        // What CI adds to every message (its context, a link to the run).
        let mut proto = Message {
            title: None,
            text: String::new(),
            level: pipe.level,
            fields: Vec::new(),
            links: Vec::new(),
            code: pipe.code,
            host: pipe.host.clone(),
            time: SystemTime::now(),
            context: Vec::new(),
        };
        if let Some(ci) = &pipe.ci {
            ci.annotate(&mut proto);
        }
        Header {
            version: 1,
            lanes,
            routes,
            grep: pipe.grep.as_ref().map(|re| re.as_str().to_owned()),
            level: pipe.level,
            level_from_line: pipe.level_from_line,
            title: pipe.title.clone(),
            code: pipe.code,
            host: pipe.host.clone(),
            context: proto.context,
            links: proto.links.into_iter().map(|l| (l.label, l.url)).collect(),
            settled: Vec::new(),
            carry_offset: 0,
            carry_cut: None,
        }
    }
}

/// The stdin side: lines out of bytes, on a thread of its own.
struct Reader {
    tee: bool,
    shaper: Shaper,
    /// Set on a signal: hand over what has been read, and read no more.
    stop: Arc<AtomicBool>,
    /// Bytes read since the last line break, shared so that a signal can take
    /// them while the reader waits for more.
    unfinished: Arc<Mutex<Unfinished>>,
    /// Where every read goes first.
    journal: Arc<Mutex<Option<Journal>>>,
    output: Output,
}

/// What the main loop keeps of the reader, to stop it and take the rest.
struct ReaderHandle {
    shaper: Shaper,
    stop: Arc<AtomicBool>,
    unfinished: Arc<Mutex<Unfinished>>,
}

impl Reader {
    fn handle(&self) -> ReaderHandle {
        ReaderHandle {
            shaper: self.shaper.clone(),
            stop: Arc::clone(&self.stop),
            unfinished: Arc::clone(&self.unfinished),
        }
    }

    fn run(self, tx: &mpsc::Sender<Chunk>) {
        let mut stdin = std::io::stdin().lock();
        let mut stdout = std::io::stdout();
        let mut tee = self.tee;
        let mut buf = vec![0u8; READ_CHUNK];
        while !self.stop.load(Ordering::SeqCst) {
            let n = match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let Ok(mut unfinished) = self.unfinished.lock() else {
                return;
            };
            self.journal(&buf[..n], &unfinished);
            // A closed stdout ends the copy, not the stream.
            if tee
                && stdout
                    .write_all(&buf[..n])
                    .and_then(|()| stdout.flush())
                    .is_err()
            {
                tee = false;
            }
            let lines = self.shaper.split(&mut unfinished, &buf[..n]);
            let end = unfinished.offset + unfinished.bytes.len() as u64;
            drop(unfinished);
            if tx.blocking_send(Chunk { lines, end }).is_err() {
                return;
            }
        }
        let last = self.unfinished.lock().ok().map(|mut unfinished| {
            let line = self.shaper.finish(&mut unfinished);
            Chunk {
                lines: line.into_iter().collect(),
                end: unfinished.offset,
            }
        });
        if let Some(chunk) = last {
            let _ = tx.blocking_send(chunk);
        }
    }

    /// Journals a read before anything else happens to it. A journal the
    /// disk refuses now only costs what a kill would cost: the stream goes on.
    fn journal(&self, bytes: &[u8], unfinished: &Unfinished) {
        let Ok(mut journal) = self.journal.lock() else {
            return;
        };
        if let Some(writer) = journal.as_mut() {
            let offset = unfinished.offset + unfinished.bytes.len() as u64;
            if writer.read(offset, bytes, unfinished).is_err()
                && let Some(writer) = journal.take()
            {
                report::warning(self.output, &writer.abandon());
            }
        }
    }
}

fn no_route() -> Failure {
    Failure::config(
        "no route for this stream: no rule matched and the profile has no [defaults] route",
    )
    .with_hint("pass --route NAME or --to DEST, or set `route` under [defaults]")
}
