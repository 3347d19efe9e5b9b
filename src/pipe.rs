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
//! pieces as it is read, and judged (`--grep`, level) by its first. When the time to send is up, sends still in flight are
//! abandoned after their batches are spooled, so a batch is sent twice at
//! most, never half, and chime exits on time.

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

use crate::ci::Ci;
use crate::config::{Destination, EnvVars, Profile};
use crate::deliver::{self, Report, Status};
use crate::exit::{ExitCode, Failure};
use crate::kinds::Target;
use crate::kinds::text::{Measure, split};
use crate::message::{Level, Message};
use crate::outbox::Outbox;
use crate::report;
use crate::settings::{DEFAULT_TIMEOUT, Output, Selection};
use crate::spool::Spool;
use crate::template;
use crate::threads::Threads;

/// A line longer than this without a newline is handed over in pieces, so a
/// runaway line cannot take all memory before it ends.
const MAX_LINE_BYTES: usize = 1 << 20;
const READ_CHUNK: usize = 64 * 1024;
/// A send taking longer than this means the destination, not chime, is slow:
/// keep reading and let batches pile up (and spill to the spool).
const SLOW_SEND: Duration = Duration::from_secs(2);
/// Chunks of lines between the reader thread and the lanes.
const CHUNKS_IN_FLIGHT: usize = 16;
/// On a signal, how long to wait for the reader to hand over what it has read.
const QUIET: Duration = Duration::from_millis(200);

/// `chime pipe` as resolved from the command line.
pub struct Pipe {
    pub profile: Profile,
    pub spool: Spool,
    pub selection: Selection,
    pub channel: Option<String>,
    pub title: Option<String>,
    pub level: Level,
    pub interval: Duration,
    pub code: bool,
    pub tee: bool,
    pub grep: Option<regex_lite::Regex>,
    pub level_from_line: bool,
    pub max_pending: usize,
    pub timeout: Option<Duration>,
    pub host: String,
    pub output: Output,
    /// The CI run the stream comes from, named in every message.
    pub ci: Option<Ci>,
    /// The environment, for rules (`env.*`).
    pub env: EnvVars,
}

/// One line of input and the level it carries.
struct Line {
    text: String,
    level: Level,
    /// This piece continues the line before it: a runaway line the reader
    /// cut, to be joined again without a line break.
    joins: bool,
}

/// A closed batch, escaped for its destination.
struct Batch {
    text: String,
    level: Level,
}

/// One destination's stream of batches.
struct Lane<'p> {
    destination: &'p Destination,
    target: Target,
    limit: usize,
    measure: Measure,
    open: String,
    open_len: usize,
    open_level: Level,
    opened: Option<Instant>,
    ready: VecDeque<Batch>,
    ready_bytes: usize,
    next_send: Instant,
    busy: bool,
    /// When the send in flight started.
    busy_since: Option<Instant>,
    /// The last batch was delivered (a lane starts out trusted).
    healthy: bool,
    /// What is being sent right now, kept so that an abort can spool it too.
    sending: Option<Vec<crate::kinds::Payload>>,
    lines: usize,
    worst: Status,
    messages: usize,
    queued: usize,
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
    // Bounded, so a reader faster than the lanes waits instead of filling memory.
    let (tx, mut rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let reader = Reader {
        tee: pipe.tee,
        shaper: Shaper {
            grep: pipe.grep.clone(),
            level: pipe.level,
            level_from_line: pipe.level_from_line,
        },
        stop: Arc::new(AtomicBool::new(false)),
        unfinished: Arc::new(Mutex::new(Unfinished::default())),
    };
    let rest = reader.handle();
    std::thread::spawn(move || reader.run(&tx));
    let mut interrupt = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut terminate = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut inflight: FuturesUnordered<Sending> = FuturesUnordered::new();
    let mut eof = false;
    let mut stopping: Option<Instant> = None;
    loop {
        let now = Instant::now();
        router.close_due(pipe.interval, now);
        start_sends(pipe, &outbox, &mut router.lanes, &mut inflight, now);
        spill(pipe, &outbox, &mut router.lanes);
        if eof && inflight.is_empty() && router.lanes.iter().all(Lane::idle) {
            break;
        }
        if let Some(deadline) = stopping
            && now >= deadline
        {
            // Time is up: keep the rest on disk, and abandon the sends in flight
            // (their batches are among it) rather than let them drain a backlog.
            spool_all(pipe, &outbox, &mut router.lanes);
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
                Some(lines) => {
                    router.ingest(lines);
                    // Let the HTTP connection tasks run between chunks: on this
                    // single thread, a fast reader would otherwise starve them.
                    tokio::task::yield_now().await;
                }
                None => {
                    eof = true;
                    router.close_all();
                }
            },
            Some((lane, report)) = inflight.next() => router.lanes[lane].finished(&report, pipe.output),
            () = tokio::time::sleep_until(wake.into()) => {}
            _ = interrupt.recv() => {
                if stopping.is_some() {
                    // Second Ctrl-C: keep everything on disk and leave now.
                    spool_all(pipe, &outbox, &mut router.lanes);
                    summary(pipe, &router.lanes);
                    return Ok(ExitCode::Interrupted);
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

/// Stops the reader and takes every line it has read: those waiting in the
/// channel, the chunk it may be blocked handing over, and its unfinished last
/// line, which it sends itself if it sees `stop`, and which is taken from it
/// here if it is waiting for input that does not come.
async fn take_the_rest(
    reader: &ReaderHandle,
    rx: &mut mpsc::Receiver<Vec<Line>>,
    router: &mut Router<'_>,
) {
    reader.stop.store(true, Ordering::SeqCst);
    // `None`: the reader has finished; a timeout: it is waiting for input.
    while let Ok(Some(lines)) = tokio::time::timeout(QUIET, rx.recv()).await {
        router.ingest(lines);
    }
    rx.close();
    while let Ok(lines) = rx.try_recv() {
        router.ingest(lines);
    }
    let last = reader.unfinished.lock().ok().and_then(|mut unfinished| {
        let mut unfinished = std::mem::take(&mut *unfinished);
        let bytes = std::mem::take(&mut unfinished.bytes);
        (!bytes.is_empty()).then(|| reader.shaper.piece(&bytes, &mut unfinished.cut, true))?
    });
    router.ingest(last.into_iter().collect());
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal, Failure> {
    tokio::signal::unix::signal(kind)
        .map_err(|e| Failure::from(e).caused_by("cannot listen for signals"))
}

/// Starts the next send on every lane that has a batch, is idle, and whose pace allows.
fn start_sends<'a>(
    pipe: &'a Pipe,
    outbox: &'a Outbox<'a>,
    lanes: &mut [Lane<'a>],
    inflight: &mut FuturesUnordered<Sending<'a>>,
    now: Instant,
) {
    for (index, lane) in lanes.iter_mut().enumerate() {
        if lane.busy || now < lane.next_send {
            continue;
        }
        let Some(batch) = lane.pop() else { continue };
        lane.busy = true;
        lane.busy_since = Some(now);
        lane.next_send = now + lane.destination.pace;
        let payloads = lane
            .destination
            .platform
            .render(&message(pipe, batch), &lane.target);
        lane.sending = Some(payloads.clone());
        let destination = lane.destination;
        let timeout = pipe
            .timeout
            .or(destination.timeout)
            .or(pipe.profile.timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        inflight.push(Box::pin(async move {
            (index, outbox.send(destination, payloads, timeout).await)
        }));
    }
}

fn message(pipe: &Pipe, batch: Batch) -> Message {
    let mut message = Message {
        title: pipe.title.clone(),
        text: batch.text,
        level: batch.level,
        fields: Vec::new(),
        links: Vec::new(),
        code: pipe.code,
        host: pipe.host.clone(),
        time: SystemTime::now(),
        context: Vec::new(),
    };
    if let Some(ci) = &pipe.ci {
        ci.annotate(&mut message);
    }
    message
}

/// Keeps batches waiting in memory under `--max-pending`: the oldest go to the spool.
fn spill(pipe: &Pipe, outbox: &Outbox, lanes: &mut [Lane]) {
    while lanes.iter().map(|l| l.ready_bytes).sum::<usize>() > pipe.max_pending {
        let Some(lane) = lanes.iter_mut().max_by_key(|l| l.ready_bytes) else {
            return;
        };
        let Some(batch) = lane.pop() else { return };
        let payloads = lane
            .destination
            .platform
            .render(&message(pipe, batch), &lane.target);
        let report = outbox.queue(lane.destination, payloads);
        lane.finished(
            &report,
            Output {
                quiet: true,
                ..pipe.output
            },
        );
    }
}

/// Moves every batch, open, ready or in flight, to the spool. One in flight
/// may then arrive twice: the one duplicate a crash is allowed.
fn spool_all(pipe: &Pipe, outbox: &Outbox, lanes: &mut [Lane]) {
    for lane in lanes {
        lane.close();
        if let Some(payloads) = lane.sending.take() {
            let report = outbox.queue(lane.destination, payloads);
            lane.worst = lane.worst.max(report.status);
            lane.queued += 1;
        }
        while let Some(batch) = lane.pop() {
            let payloads = lane
                .destination
                .platform
                .render(&message(pipe, batch), &lane.target);
            let report = outbox.queue(lane.destination, payloads);
            lane.worst = lane.worst.max(report.status);
            lane.queued += 1;
        }
    }
}

fn summary(pipe: &Pipe, lanes: &[Lane]) {
    if pipe.output.quiet {
        return;
    }
    for lane in lanes {
        if pipe.output.verbose || lane.queued > 0 || lane.worst != Status::Delivered {
            eprintln!(
                "chime: piped {} line(s) to {} in {} message(s){}",
                lane.lines,
                lane.destination.name,
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
            limit: destination.platform.batch_limit(),
            measure: destination.platform.measure(),
            open: String::new(),
            open_len: 0,
            open_level: Level::Info,
            opened: None,
            ready: VecDeque::new(),
            ready_bytes: 0,
            next_send: Instant::now(),
            busy: false,
            busy_since: None,
            healthy: true,
            sending: None,
            lines: 0,
            worst: Status::Delivered,
            messages: 0,
            queued: 0,
        }
    }

    /// Sending is the bottleneck: batches wait that the pace would allow now,
    /// and the destination has been answering promptly.
    fn saturated(&self, now: Instant) -> bool {
        let prompt = self.busy_since.is_none_or(|t| now - t < SLOW_SEND);
        self.healthy && prompt && self.ready.len() >= 2 && now >= self.next_send
    }

    fn idle(&self) -> bool {
        !self.busy && self.ready.is_empty() && self.open.is_empty()
    }

    /// Appends one line, closing the open batch first when it would not fit.
    fn push(&mut self, line: &Line) {
        if !line.joins {
            self.lines += 1;
        }
        let escaped = self.destination.platform.escape(&line.text);
        // Bytes bound every measure from above: most lines need no splitting.
        if escaped.len() < self.limit {
            let len = self.measure.of(&escaped);
            self.append(&escaped, len, line.level, line.joins);
            return;
        }
        // A line longer than a whole message is split across messages.
        for (i, piece) in split(&escaped, self.limit - 1, self.measure)
            .into_iter()
            .enumerate()
        {
            self.append(
                piece,
                self.measure.of(piece),
                line.level,
                line.joins || i > 0,
            );
        }
    }

    /// Appends a piece that fits one message, after a line break unless it
    /// `joins` the piece before (a message boundary is then the only break).
    fn append(&mut self, piece: &str, len: usize, level: Level, joins: bool) {
        let gap = usize::from(!joins);
        if self.opened.is_some() && self.open_len + gap + len > self.limit {
            self.close();
        }
        if self.opened.is_none() {
            self.opened = Some(Instant::now());
        } else if !joins {
            self.open.push('\n');
            self.open_len += 1;
        }
        self.open.push_str(piece);
        self.open_len += len;
        self.open_level = self.open_level.max(level);
    }

    fn close(&mut self) {
        if self.opened.take().is_none() {
            return;
        }
        let text = std::mem::take(&mut self.open);
        self.ready_bytes += text.len();
        let level = std::mem::take(&mut self.open_level);
        self.ready.push_back(Batch { text, level });
        self.open_len = 0;
    }

    fn pop(&mut self) -> Option<Batch> {
        let batch = self.ready.pop_front()?;
        self.ready_bytes -= batch.text.len();
        Some(batch)
    }

    fn finished(&mut self, report: &Report, output: Output) {
        self.busy = false;
        self.busy_since = None;
        self.healthy = report.status == Status::Delivered;
        self.sending = None;
        self.messages += 1;
        self.worst = self.worst.max(report.status);
        match report.status {
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
                let why = report.error.as_deref().unwrap_or("failed");
                eprintln!(
                    "chime: error: {} did not take a batch: {why}",
                    self.destination.name
                );
            }
        }
    }
}

/// Which lanes each line goes to.
struct Router<'p> {
    pipe: &'p Pipe,
    lanes: Vec<Lane<'p>>,
    /// For `--to`/`--route`: every lane. For rules: lanes per level.
    by_level: BTreeMap<u8, Vec<usize>>,
    fixed: Option<Vec<usize>>,
}

impl<'p> Router<'p> {
    fn new(pipe: &'p Pipe) -> Result<Router<'p>, Failure> {
        let mut router = Router {
            pipe,
            lanes: Vec::new(),
            by_level: BTreeMap::new(),
            fixed: None,
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
        let mut vars = crate::send::surroundings(&self.pipe.env, self.pipe.ci.as_ref());
        let empty: [(&str, &str); 0] = [];
        vars.insert("level".into(), level.as_str().into());
        vars.insert(
            "title".into(),
            self.pipe.title.clone().unwrap_or_default().into(),
        );
        vars.insert("text".into(), "".into());
        vars.insert("fields".into(), minijinja::Value::from_iter(empty));
        let vars = minijinja::Value::from(vars);
        for rule in &profile.rules {
            let matched = template::matches(&rule.when, &vars)
                .map_err(|e| Failure::config(format!("rule `{}` failed: {e}", rule.when)))?;
            if matched {
                return Ok(Some(&rule.route));
            }
        }
        Ok(profile.default_route.as_deref())
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

    fn ingest(&mut self, lines: Vec<Line>) {
        for line in &lines {
            for lane in self.lanes_for(line.level) {
                self.lanes[lane].push(line);
            }
        }
    }

    fn close_due(&mut self, interval: Duration, now: Instant) {
        for lane in &mut self.lanes {
            if lane.opened.is_some_and(|t| now >= t + interval) {
                lane.close();
            }
        }
    }

    fn close_all(&mut self) {
        self.lanes.iter_mut().for_each(Lane::close);
    }

    /// When something next needs doing: a batch's interval ends, or a lane's pace allows a send.
    fn next_wakeup(&self, interval: Duration) -> Option<Instant> {
        let closes = self
            .lanes
            .iter()
            .filter_map(|l| l.opened.map(|t| t + interval));
        let sends = self
            .lanes
            .iter()
            .filter(|l| !l.busy && !l.ready.is_empty())
            .map(|l| l.next_send);
        closes.chain(sends).min()
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
}

/// What the main loop keeps of the reader, to stop it and take the rest.
struct ReaderHandle {
    shaper: Shaper,
    stop: Arc<AtomicBool>,
    unfinished: Arc<Mutex<Unfinished>>,
}

/// The line being read.
#[derive(Default)]
struct Unfinished {
    bytes: Vec<u8>,
    /// Set once a runaway line was cut: whether its first piece was kept,
    /// and at which level, which every later piece follows.
    cut: Option<Option<Level>>,
}

/// How bytes become lines: `--grep`, `--level-from-line`, ANSI and UTF-8.
#[derive(Clone)]
struct Shaper {
    grep: Option<regex_lite::Regex>,
    level: Level,
    level_from_line: bool,
}

impl Reader {
    fn handle(&self) -> ReaderHandle {
        ReaderHandle {
            shaper: self.shaper.clone(),
            stop: Arc::clone(&self.stop),
            unfinished: Arc::clone(&self.unfinished),
        }
    }

    fn run(self, tx: &mpsc::Sender<Vec<Line>>) {
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
            // A closed stdout ends the copy, not the stream.
            if tee
                && stdout
                    .write_all(&buf[..n])
                    .and_then(|()| stdout.flush())
                    .is_err()
            {
                tee = false;
            }
            let lines = self.split(&buf[..n]);
            if !lines.is_empty() && tx.blocking_send(lines).is_err() {
                return;
            }
        }
        let last = self.unfinished.lock().ok().and_then(|mut unfinished| {
            let mut unfinished = std::mem::take(&mut *unfinished);
            let bytes = std::mem::take(&mut unfinished.bytes);
            (!bytes.is_empty()).then(|| self.shaper.piece(&bytes, &mut unfinished.cut, true))?
        });
        if let Some(line) = last {
            let _ = tx.blocking_send(vec![line]);
        }
    }

    /// The whole lines `bytes` completes, and a piece of a runaway line.
    fn split(&self, bytes: &[u8]) -> Vec<Line> {
        let Ok(mut unfinished) = self.unfinished.lock() else {
            return Vec::new();
        };
        let Unfinished {
            bytes: partial,
            cut,
        } = &mut *unfinished;
        partial.extend_from_slice(bytes);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(i) = partial[start..].iter().position(|b| *b == b'\n') {
            let line = &partial[start..start + i];
            lines.extend(self.shaper.piece(line, cut, true));
            start += i + 1;
        }
        partial.drain(..start);
        if partial.len() >= MAX_LINE_BYTES {
            let rest = partial.split_off(char_boundary(partial));
            let piece = std::mem::replace(partial, rest);
            lines.extend(self.shaper.piece(&piece, cut, false));
        }
        lines
    }
}

impl Shaper {
    /// One piece of a line as it goes out, or `None` when `--grep` leaves it
    /// out. The pieces of a runaway line follow its first: kept or left out
    /// together, at one level, joined again (`cut` carries that decision).
    fn piece(
        &self,
        bytes: &[u8],
        cut: &mut Option<Option<Level>>,
        ends_line: bool,
    ) -> Option<Line> {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let line = match *cut {
            Some(None) => None,
            Some(Some(level)) => Some(Line {
                text: clean(bytes),
                level,
                joins: true,
            }),
            None => self.line(bytes),
        };
        *cut = (!ends_line).then(|| line.as_ref().map(|l| l.level));
        line
    }

    fn line(&self, bytes: &[u8]) -> Option<Line> {
        let text = clean(bytes);
        if self.grep.as_ref().is_some_and(|re| !re.is_match(&text)) {
            return None;
        }
        let level = if self.level_from_line {
            self.level.max(level_of(&text))
        } else {
            self.level
        };
        Some(Line {
            text,
            level,
            joins: false,
        })
    }
}

/// Text out of bytes: invalid UTF-8 replaced, ANSI escapes removed.
fn clean(bytes: &[u8]) -> String {
    let decoded = String::from_utf8_lossy(bytes);
    if decoded.contains('\u{1b}') {
        strip_ansi(&decoded)
    } else {
        decoded.into_owned()
    }
}

fn no_route() -> Failure {
    Failure::config(
        "no route for this stream: no rule matched and the profile has no [defaults] route",
    )
    .with_hint("pass --route NAME or --to DEST, or set `route` under [defaults]")
}

/// Where to cut `bytes` without breaking a UTF-8 character: the end, unless
/// the last character has not fully arrived yet.
fn char_boundary(bytes: &[u8]) -> usize {
    let Some(lead) = bytes.iter().rposition(|b| b & 0xC0 != 0x80) else {
        return bytes.len();
    };
    let width = match bytes[lead] {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    };
    if lead > 0 && lead + width > bytes.len() {
        lead
    } else {
        bytes.len()
    }
}

/// The level a log line looks like it reports.
fn level_of(line: &str) -> Level {
    let lower = line.to_ascii_lowercase();
    if ["fatal", "panic", "critical", "crit]", "emerg"]
        .iter()
        .any(|w| lower.contains(w))
    {
        Level::Critical
    } else if lower.contains("error") || lower.contains("[err]") {
        Level::Error
    } else if lower.contains("warn") {
        Level::Warning
    } else {
        Level::Info
    }
}

/// Removes ANSI escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ESC \`)
/// and two-byte escapes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_colours_and_titles_are_stripped() {
        assert_eq!(strip_ansi("\u{1b}[31;1mred\u{1b}[0m plain"), "red plain");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}after"), "after");
    }

    #[test]
    fn a_cut_never_falls_inside_a_character() {
        let euro = "€".as_bytes();
        assert_eq!(char_boundary(b"abc"), 3);
        assert_eq!(char_boundary(&[b'a', euro[0], euro[1]]), 1);
        assert_eq!(char_boundary(&[b'a', euro[0], euro[1], euro[2]]), 4);
        assert_eq!(char_boundary(&[b'a', 0xF0, 0x9F]), 1);
    }

    #[test]
    fn log_levels_are_recognised() {
        assert_eq!(level_of("2026-11-24 ERROR disk full"), Level::Error);
        assert_eq!(level_of("[warn] slow"), Level::Warning);
        assert_eq!(level_of("panic: oops"), Level::Critical);
        assert_eq!(level_of("all good"), Level::Info);
    }
}
