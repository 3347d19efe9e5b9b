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
//! time at the destination's pace, through the outbox (spool on failure).
//!
//! A destination that keeps up holds the reader back (backpressure: the
//! producer waits a moment) rather than spool. One that is slow (a send over
//! [`SLOW_SEND`]) or failing does not: its batches wait in memory up to
//! `--max-pending` bytes (what they really hold, `stream/batch.rs`), and past
//! it the oldest go to the spool, their memory freed. Once the spool holds
//! anything for a destination, the lane sends from the spool, oldest first,
//! as a flush would, until it is empty (`backlog.rs`): a slow destination gets
//! a full batch whenever it can take one, and a later batch never goes before
//! an earlier spooled one. Lanes of one destination (its channels) take turns.
//! What stderr says about all this, it says once per cause (`tell.rs`).
//!
//! EOF closes every batch. A destination that takes batches then gets every
//! one, from memory and from the spool, however slowly; one that is not taking
//! them has the timeout from then (its retries due within it are tried), and
//! what is left stays in the spool for `chime flush`, counted in the summary
//! (`clock.rs`). A first SIGINT/SIGTERM closes every batch and gives all of
//! them the timeout; a second SIGINT spools everything at once and exits 130.
//! On a signal, the reader stops before its next read, and every line it has
//! read (and so copied with `--tee`) is taken from it first, down to an
//! unfinished last line, even while the reader waits for input that does not
//! come: what chime has read is delivered or spooled. Only input that arrives
//! more than [`QUIET`] after the signal, to a read already under way, is not.
//! A line longer than 1 MiB is cut into pieces as it is read, and judged
//! (`--grep`, level) by its first. When a signal's time to send is up, sends
//! still in flight are abandoned (each is on disk already, see
//! `spool/inflight.rs`), so a batch is sent twice at most, never half, and
//! chime exits on time. After EOF, a lane whose time is up starts nothing more
//! and lets what is in flight finish within its own timeout.
//!
//! What is read is journaled before anything else happens to it, and each
//! lane says in the journal how far it has settled — a batch is settled once
//! it is delivered or on disk in the spool — so a pipe killed at any moment,
//! kill -9 included, leaves what it had not settled for the next `chime flush`
//! (or the next `chime pipe` of the profile) to queue, in order
//! (`stream/journal.rs`). Per destination, lines reach the channel in the order
//! they were read, through spills, failures and flushes: a batch in flight is
//! on disk under an id older than anything spilled after it.

mod attach;
mod backlog;
mod clock;
mod dry;
mod kept;
mod lane;
mod moves;
mod reader;
mod router;
mod tell;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;

use crate::deliver::Outbox;
use crate::deliver::{self, Report, Status};
use crate::exit::{ExitCode, Failure};
use crate::report;
use crate::settings::{DEFAULT_TIMEOUT, Output, Pipe};
use crate::state::Threads;
use crate::stream::journal::{self, Header, Journal};
use crate::stream::lines::{Line, Unfinished};
use backlog::Backlog;
use clock::{Ending, Mark, Work};
use lane::Lane;
use moves::{close, spill, spool_all, start_sends};
use reader::{Reader, ReaderHandle};
use router::Router;

const READ_CHUNK: usize = 64 * 1024;
/// A send taking longer than this means the destination, not chime, is slow:
/// keep reading and let batches pile up (and spill to the spool).
const SLOW_SEND: Duration = Duration::from_secs(2);
/// Chunks of lines between the reader thread and the lanes.
const CHUNKS_IN_FLIGHT: usize = 16;
/// On a signal, how long to wait for the reader to hand over what it has read.
const QUIET: Duration = Duration::from_millis(200);

/// Tells the journal how far a lane has settled, the moment it has.
pub(super) struct Settler<'j> {
    pub(super) journal: &'j Mutex<Option<Journal>>,
    pub(super) output: Output,
}

impl Settler<'_> {
    /// Writes that `lane`'s batch of lines ending in `range` is about to go
    /// on disk under spool id `id` (see the journal's invariant 2). A
    /// journal the disk refuses is abandoned, said once.
    pub(super) fn intend(&self, lane: usize, range: (u64, u64), id: &str) {
        let Ok(mut guard) = self.journal.lock() else {
            return;
        };
        let refused = guard
            .as_mut()
            .is_some_and(|j| j.intend(lane, range, id).is_err());
        if refused && let Some(journal) = guard.take() {
            report::warning(self.output, &journal.abandon());
        }
    }

    /// Writes that `lane` has settled everything through `through`. A
    /// journal the disk refuses is abandoned, said once.
    pub(super) fn settle(&self, lane: usize, through: u64) {
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
pub(super) struct Chunk {
    pub(super) lines: Vec<Line>,
    pub(super) end: u64,
}

/// What every phase of the stream works with.
#[derive(Clone, Copy)]
struct Crew<'a> {
    pipe: &'a Pipe,
    header: &'a Header,
    outbox: &'a Outbox<'a>,
    settler: &'a Settler<'a>,
    work: &'a Work,
}

/// How a lane's send or slice of the spool ended.
enum Done {
    /// A batch from memory, through the outbox.
    Sent(Report),
    /// The destination's spool, oldest first.
    Drained(Backlog),
}

type Sending<'a> = Pin<Box<dyn Future<Output = (usize, Done)> + 'a>>;

pub fn run(pipe: Pipe) -> Result<ExitCode, Failure> {
    report::reading_stdin(pipe.output);
    let runtime = deliver::runtime()?;
    match pipe.dry_run {
        true => runtime.block_on(dry::run(&pipe)),
        false => runtime.block_on(stream(&pipe)),
    }
}

async fn stream(pipe: &Pipe) -> Result<ExitCode, Failure> {
    let client = deliver::Clients::new();
    let threads = Threads::beside(&pipe.spool, &pipe.profile).searching(pipe.ci.is_some());
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
    let (rx, rest) = start_reader(pipe, &header, &journal);
    let work = Work::default();
    let mut flow = Flow {
        crew: Crew {
            pipe,
            header: &header,
            outbox: &outbox,
            settler: &settler,
            work: &work,
        },
        router,
        inflight: FuturesUnordered::new(),
        rx,
        rest,
        eof: false,
        ending: Ending {
            stopping: None,
            input: None,
            grace: pipe.timeout.unwrap_or(DEFAULT_TIMEOUT),
        },
    };
    let ended = flow.run().await?;
    let Flow {
        router, inflight, ..
    } = flow;
    // Abandoned sends keep their batches on disk as they go.
    drop(inflight);
    close_journal(pipe, &journal, &router);
    Ok(outcome(pipe, router, ended))
}

/// Starts the reader thread; gives the lines it hands over, and what the
/// main loop keeps of it to stop it.
fn start_reader(
    pipe: &Pipe,
    header: &Header,
    journal: &Arc<Mutex<Option<Journal>>>,
) -> (mpsc::Receiver<Chunk>, ReaderHandle) {
    // Bounded, so a reader faster than the lanes waits instead of filling memory.
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let reader = Reader {
        tee: pipe.tee,
        shaper: header.shaper(),
        stop: Arc::new(AtomicBool::new(false)),
        unfinished: Arc::new(Mutex::new(Unfinished::default())),
        journal: Arc::clone(journal),
        output: pipe.output,
    };
    let rest = reader.handle();
    std::thread::spawn(move || reader.run(&tx));
    (rx, rest)
}

/// How the main loop ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// Input ended (or a first signal's deadline passed) and all went out or
    /// to the spool.
    Done,
    /// A second Ctrl-C: everything went to the spool at once.
    Interrupted,
}

/// What the stream's end says: the summary, and the exit code.
fn outcome(pipe: &Pipe, mut router: Router, ended: Ended) -> ExitCode {
    // What a slice of the spool abandoned at the end delivered is counted.
    for lane in &mut router.lanes {
        lane.recount(&pipe.spool, false);
    }
    if ended == Ended::Interrupted {
        tell::summary(pipe, &router.lanes);
        return ExitCode::Interrupted;
    }
    // A batch queued mid-stream may have gone out since (the lane sends its
    // spool first): only what is still in the spool makes the stream "queued".
    for lane in &mut router.lanes {
        if lane.worst == Status::Queued && lane.kept.is_empty() && !lane.backlogged {
            lane.worst = Status::Delivered;
        }
    }
    tell::summary(pipe, &router.lanes);
    deliver::exit_code(router.lanes.iter().map(|l| l.worst))
}

/// One stream's moving parts, for the main loop.
struct Flow<'a> {
    crew: Crew<'a>,
    router: Router<'a>,
    inflight: FuturesUnordered<Sending<'a>>,
    rx: mpsc::Receiver<Chunk>,
    rest: ReaderHandle,
    eof: bool,
    ending: Ending,
}

impl<'a> Flow<'a> {
    /// Turns until the input is done with and every batch is out or kept.
    async fn run(&mut self) -> Result<Ended, Failure> {
        let mut interrupt = signal(tokio::signal::unix::SignalKind::interrupt())?;
        let mut terminate = signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            let now = Instant::now();
            let turned = self.turn(now);
            self.crew.work.done_since(now);
            if let Some(ended) = turned {
                return Ok(ended);
            }
            // A healthy lane that has full batches waiting and may send now is
            // limited by its own throughput, not the platform's pace: stop reading
            // for a moment (the reader blocks, the pipe buffers) rather than spool.
            let saturated = moves::holds_back(&self.router.lanes, now, self.crew.work);
            let wake = self.wake(now);
            tokio::select! {
                chunk = self.rx.recv(), if !self.eof && !saturated => self.take(chunk).await,
                Some((lane, done)) = self.inflight.next() => self.finished(lane, done),
                () = tokio::time::sleep_until(wake.into()) => {}
                _ = interrupt.recv() => {
                    if self.ending.stopping.is_some() {
                        // Second Ctrl-C: keep everything on disk and leave now.
                        self.spool_all();
                        return Ok(Ended::Interrupted);
                    }
                    self.stop().await;
                }
                _ = terminate.recv() => self.stop().await,
            }
        }
    }

    /// What needs doing now: batches closed, sent and spilled; `Some` when
    /// the stream is over.
    fn turn(&mut self, now: Instant) -> Option<Ended> {
        let crew = self.crew;
        self.router.close_due(crew.pipe.interval, now);
        self.close_late(now);
        let lanes = &mut self.router.lanes;
        start_sends(crew, lanes, &mut self.inflight, now, self.ending);
        spill(crew, lanes);
        self.router.trim_journal(crew.settler.journal);
        let idle = self.router.lanes.iter().all(Lane::idle);
        if self.eof && self.inflight.is_empty() && idle {
            return Some(Ended::Done);
        }
        if self.ending.stopping.is_some_and(|deadline| now >= deadline) {
            // Time is up: keep the rest on disk, and abandon the sends in flight
            // (their batches are on disk already) rather than let them drain a backlog.
            self.spool_all();
            return Some(Ended::Done);
        }
        None
    }

    /// Lanes whose time at the end has come, or that can start nothing
    /// more before it, hand what they hold in memory to the spool.
    fn close_late(&mut self, now: Instant) {
        let (crew, ending) = (self.crew, self.ending);
        for (index, lane) in self.router.lanes.iter_mut().enumerate() {
            let Some(deadline) = ending.deadline(lane).filter(|_| !lane.closed) else {
                continue;
            };
            let stuck = !lane.busy && lane.backlogged && lane.next_send >= deadline;
            if now >= deadline || stuck {
                close(crew, index, lane);
            }
        }
    }

    /// When to look again: a batch's interval ends, a lane's pace allows a
    /// send, or a lane's time at the end comes, which a long send must not
    /// hide.
    fn wake(&self, now: Instant) -> Instant {
        let next = self.router.next_wakeup(self.crew.pipe.interval);
        let lanes = self.router.lanes.iter().filter(|l| !l.closed);
        let ends = lanes.filter_map(|l| self.ending.deadline(l));
        next.into_iter()
            .chain(ends)
            .chain(self.ending.stopping)
            .min()
            .unwrap_or(now + Duration::from_secs(3600))
    }

    async fn take(&mut self, chunk: Option<Chunk>) {
        match chunk {
            Some(chunk) => {
                let started = Instant::now();
                self.router.ingest(chunk);
                self.crew.work.done_since(started);
                // Let the HTTP connection tasks run between chunks: on this
                // single thread, a fast reader would otherwise starve them.
                tokio::task::yield_now().await;
            }
            None => {
                self.eof = true;
                self.ending.input.get_or_insert(Instant::now());
                self.router.close_all();
            }
        }
    }

    fn finished(&mut self, index: usize, done: Done) {
        let Crew {
            pipe,
            settler,
            work,
            ..
        } = self.crew;
        let started = Instant::now();
        let lane = &mut self.router.lanes[index];
        match done {
            Done::Sent(report) => {
                if lane.finished(&report, pipe.output, work) {
                    settler.settle(index, lane.settled);
                }
            }
            Done::Drained(backlog) => lane.drained(backlog, &pipe.spool, pipe.output),
        }
        work.done_since(started);
    }

    /// A first Ctrl-C or a SIGTERM: every line read is taken, every batch
    /// closed, and what is left has the timeout to go out.
    async fn stop(&mut self) {
        if !self.eof {
            take_the_rest(&self.rest, &mut self.rx, &mut self.router).await;
            self.eof = true;
        }
        self.router.close_all();
        let grace = self.ending.grace;
        self.ending.stopping.get_or_insert(Instant::now() + grace);
    }

    fn spool_all(&mut self) {
        spool_all(self.crew, &mut self.router.lanes);
    }
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
