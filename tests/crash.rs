//! Crash tests: chime stopped at random moments — SIGKILL, SIGTERM, SIGINT,
//! SIGHUP — while it sends, streams or flushes to a destination that is
//! refusing, throttling, hanging or gone, then a clean flush. What chime
//! accepted reaches the channel, in order, at most once more per request that
//! was in flight when it was stopped.
//!
//! Each message carries a unique tag, so what was lost, what arrived twice
//! and what overtook what is counted from what the bed recorded. Kill moments
//! come from a seeded xorshift: the seed is printed, and `CRASH_SEED=N`
//! replays a run. Timing is never asserted; a hang is caught by a deadline.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::bed::{Bed, Fault, lines_of};
use crate::support::{Run, Sandbox, run_within};

/// Far longer than any run here takes: past it, chime hangs.
const HANG: Duration = Duration::from_secs(90);

fn setup(timeout: &str) -> Sandbox {
    Sandbox::with_ops_hook(timeout)
}

/// chime with the webhook pointing at `url`, its output thrown away.
fn chime(sandbox: &Sandbox, url: &str, args: &[&str]) -> Command {
    let mut cmd = sandbox.ops(url, args);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// `chime flush --all` after the crashes of `what`: everything left goes out.
#[track_caller]
fn clean_flush(sandbox: &Sandbox, url: &str, what: &str) {
    // A generous timeout: the profile's 1s is for the kills, and a busy
    // machine can answer a request later than that, which chime must then
    // send again (at least once) — a repeat these tests would count as the
    // kills' doing.
    let mut cmd = sandbox.chime(&["flush", "--all", "--verbose", "--timeout", "60s"]);
    cmd.env("OPS_WEBHOOK", url);
    let flush = run_within(cmd, HANG);
    assert_eq!(
        flush.code, 0,
        "{what}: the last flush left messages\n{flush}"
    );
}

/// A small xorshift: the same seed gives the same kill moments.
struct Rng(u64);

impl Rng {
    /// The generator for `test`, from `CRASH_SEED` or a fixed default,
    /// said on stdout so a failing run can be replayed.
    fn for_test(test: &str) -> Rng {
        let base = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(20_240_611);
        println!("{test}: seed {base} (CRASH_SEED={base} replays it)");
        // Each test its own sequence from one seed (FNV-1a of the name).
        let name = test.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Rng::new(base ^ name)
    }

    /// Seeded through splitmix64, so near seeds give unrelated sequences
    /// (and none gives xorshift's stuck zero).
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)).max(1))
    }

    /// Another generator, for one of a test's threads.
    fn split(&mut self) -> Rng {
        Rng::new(self.next())
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A moment between `lo` and `hi` milliseconds.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

/// Waits for `child`; past [`HANG`] it hangs: it is killed and the test fails.
#[track_caller]
fn wait_within(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + HANG;
    loop {
        if let Some(status) = child.try_wait().expect("chime can be waited for") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {HANG:?}: killed");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Kills `child` with SIGKILL; true when it was still running (false when
/// it had exited on its own before).
fn kill9(child: &mut Child) -> bool {
    let running = child.try_wait().expect("chime can be waited for").is_none();
    child
        .kill()
        .expect("a child not yet waited for can be killed");
    child.wait().expect("chime can be waited for");
    running
}

/// Sends `signal` to `child`, as a service manager or a terminal would.
fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory effects.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0, "chime {} is running", child.id());
}

/// True when some file of chime's state (a message in flight or queued)
/// holds `needle`: what the process had accepted before it was killed.
fn on_disk(dir: &Path, needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if path.is_dir() {
            on_disk(&path, needle)
        } else {
            !hidden
                && std::fs::read(&path)
                    .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        }
    })
}

/// The `text` of every message the bed posted, in arrival order.
fn texts(bed: &Bed) -> Vec<String> {
    bed.delivered()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The lines of every message the bed posted, one list per message.
fn delivered_batches(bed: &Bed) -> Vec<Vec<String>> {
    bed.delivered()
        .iter()
        .map(|r| lines_of(&r.json()))
        .collect()
}

/// What reached the channel, against what had to.
#[derive(Debug, Default)]
struct Tally {
    /// Required, and never delivered.
    lost: Vec<String>,
    /// Deliveries beyond the first of each.
    duplicates: usize,
    /// Delivered though nobody sent it (a mangled or invented message).
    strangers: Vec<String>,
    /// A first delivery that came before one that was sent earlier.
    disorder: Option<String>,
}

impl Tally {
    /// `got` (in arrival order) against `order`, everything that may arrive
    /// in the order it must arrive in, of which `required` must.
    fn of(order: &[String], required: &HashSet<String>, got: &[String]) -> Tally {
        let place: HashMap<&str, usize> = order
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let mut tally = Tally::default();
        let mut seen = HashSet::new();
        let mut last: Option<usize> = None;
        for item in got {
            let Some(&at) = place.get(item.as_str()) else {
                tally.strangers.push(item.clone());
                continue;
            };
            if !seen.insert(at) {
                tally.duplicates += 1;
                continue;
            }
            if let Some(before) = last
                && at < before
                && tally.disorder.is_none()
            {
                tally.disorder = Some(format!(
                    "{:?} arrived after {:?}, which was sent later",
                    order[at], order[before]
                ));
            }
            last = Some(last.map_or(at, |l| l.max(at)));
        }
        tally.lost = order
            .iter()
            .enumerate()
            .filter(|(i, s)| required.contains(*s) && !seen.contains(i))
            .map(|(_, s)| s.clone())
            .collect();
        tally
    }

    /// What is wrong: something lost, invented or overtaken.
    fn faults(&self, what: &str) -> Vec<String> {
        let mut faults = Vec::new();
        if !self.lost.is_empty() {
            let (n, first) = (self.lost.len(), &self.lost[..self.lost.len().min(20)]);
            faults.push(format!("{what}: {n} lost, among them {first:?}"));
        }
        if !self.strangers.is_empty() {
            let (n, first) = (
                self.strangers.len(),
                &self.strangers[..self.strangers.len().min(20)],
            );
            faults.push(format!(
                "{what}: {n} delivered but never sent, among them {first:?}"
            ));
        }
        if let Some(disorder) = &self.disorder {
            faults.push(format!("{what}: out of order: {disorder}"));
        }
        faults
    }
}

// ---- chime send, killed ---------------------------------------------------

/// How the destination fails while sends are killed.
#[derive(Clone, Copy, Debug)]
enum Outage {
    /// 503, as Slack answers during an outage.
    Refusing,
    /// 429 with `Retry-After: 4`, within the send's 10 s timeout.
    Throttling,
}

impl Outage {
    fn begin(self, bed: &Bed) {
        if let Outage::Refusing = self {
            bed.break_hook("ops");
        }
    }

    /// Before each round: enough 429s for anything it may send.
    fn arm(self, bed: &Bed) {
        if let Outage::Throttling = self {
            bed.clear_faults();
            for _ in 0..8 {
                bed.fault(Fault::RateLimit(4));
            }
        }
    }

    fn end(self, bed: &Bed) {
        bed.restore_hook("ops");
        bed.clear_faults();
    }
}

/// What rounds of killed sends left, once flushed.
struct Killed {
    outage: Outage,
    tags: Vec<String>,
    /// The tags whose send had begun: on disk, or something on the wire.
    accepted: HashSet<String>,
    /// Rounds whose send was still running when it was killed.
    kills: usize,
    /// Rounds in which the bed posted something while a send could be
    /// killed before hearing so: each may cost a duplicate.
    in_flight: usize,
    delivered: Vec<String>,
}

/// `rounds` sends to a destination that is failing as `outage` says, each
/// killed 0–2 s after it starts, then a flush once the outage is over.
fn kill_sends(outage: Outage, rounds: usize, mut rng: Rng) -> Killed {
    let bed = Bed::start();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let sandbox = setup("10s");
    outage.begin(&bed);
    let mut killed = Killed {
        outage,
        tags: Vec::new(),
        accepted: HashSet::new(),
        kills: 0,
        in_flight: 0,
        delivered: Vec::new(),
    };
    for round in 0..rounds {
        outage.arm(&bed);
        let tag = format!("{outage:?} round {round:02}");
        let posted_before = bed.delivered().len();
        let seen_before = bed.requests().len();
        let mut send = chime(&sandbox, &url, &["send", "--timeout", "10s", &tag])
            .spawn()
            .unwrap();
        thread::sleep(rng.millis(0, 2000));
        if kill9(&mut send) {
            killed.kills += 1;
            if bed.delivered().len() > posted_before {
                killed.in_flight += 1;
            }
        }
        // A send that put anything on the wire (its message, or an older
        // one first) had its own on disk by then.
        let sent = bed.requests().len() > seen_before;
        if sent || on_disk(sandbox.path(), &tag) {
            killed.accepted.insert(tag.clone());
        }
        killed.tags.push(tag);
    }
    outage.end(&bed);
    clean_flush(&sandbox, &url, &format!("{outage:?}"));
    killed.delivered = texts(&bed);
    killed
}

#[test]
fn sends_killed_at_random_moments_during_an_outage_all_arrive_in_order_after_a_flush() {
    let mut rng = Rng::for_test("send-kill");
    // Two sandboxes per outage, ten rounds each, side by side: the rounds
    // mostly sleep.
    let outages = [Outage::Refusing, Outage::Refusing];
    let outages = outages.into_iter().chain([Outage::Throttling; 2]);
    let runs: Vec<(Outage, Rng)> = outages.map(|outage| (outage, rng.split())).collect();
    let results: Vec<Killed> = thread::scope(|s| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|(outage, rng)| s.spawn(move || kill_sends(outage, 10, rng)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut wrong = Vec::new();
    for killed in &results {
        let tally = Tally::of(&killed.tags, &killed.accepted, &killed.delivered);
        let what = format!("{:?}", killed.outage);
        println!(
            "{what}: {} rounds, {} killed mid-run, {} killed before accepting, \
             {} lost, {} duplicates ({} rounds with a request in flight)",
            killed.tags.len(),
            killed.kills,
            killed.tags.len() - killed.accepted.len(),
            tally.lost.len(),
            tally.duplicates,
            killed.in_flight,
        );
        wrong.extend(tally.faults(&what));
        if tally.duplicates > killed.in_flight {
            wrong.push(format!(
                "{what}: {} duplicates, {} requests in flight",
                tally.duplicates, killed.in_flight
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---- chime send, stopped by a signal --------------------------------------

/// Waits for `child` within [`HANG`], its output drained meanwhile.
#[track_caller]
fn finish(mut child: Child, what: &str) -> Run {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let status = wait_within(&mut child, what);
    let output = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    Run::from_output(what.to_owned(), output)
}

/// A send stopped by `signal` while it retries through `outage`, then a
/// flush: what the send said, and what the channel got.
/// How long each slow answer of a refusing outage takes.
const SLOW: Duration = Duration::from_millis(300);

fn stop_send(
    outage: Outage,
    signal_name: (libc::c_int, &str),
    mut rng: Rng,
) -> (Run, String, Vec<String>) {
    let (number, name) = signal_name;
    let bed = Bed::start();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let sandbox = setup("10s");
    // From the first answer on, the send is mid-retry for longer than the
    // window the signal comes in: two more slow 503s, or an 8 s wait. The wait
    // is long beside the window because a signal that came after it, on a
    // loaded machine, would find the retry on its way: a request cut short
    // may still arrive, and the flush would then post it a second time.
    let window = match outage {
        Outage::Refusing => {
            bed.break_hook("ops");
            for _ in 0..3 {
                bed.fault(Fault::Slow(SLOW));
            }
            250
        }
        Outage::Throttling => {
            bed.fault(Fault::RateLimit(8));
            1500
        }
    };
    let tag = format!("stopped by {name} while {outage:?}");
    let mut send = sandbox.chime(&["send", "--timeout", "10s", &tag]);
    send.env("OPS_WEBHOOK", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = send.spawn().unwrap();
    bed.wait_for(1, HANG);
    thread::sleep(rng.millis(0, window));
    signal(&child, number);
    let stopped = finish(child, &format!("chime send {tag:?}, then {name}"));
    // A slow answer still on its way was refused when the send made it: the
    // bed decides after its pause, so the outage outlasts every pause.
    thread::sleep(SLOW);
    outage.end(&bed);
    clean_flush(&sandbox, &url, &tag);
    (stopped, tag, texts(&bed))
}

#[test]
fn a_send_stopped_by_term_int_or_hup_mid_retry_exits_75_and_the_next_flush_delivers_it_once() {
    let mut rng = Rng::for_test("send-signal");
    let signals = [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGHUP, "SIGHUP"),
    ];
    let mut cases = Vec::new();
    for outage in [Outage::Refusing, Outage::Throttling] {
        for signal in signals {
            cases.push((outage, signal, rng.split()));
        }
    }
    let results: Vec<(Run, String, Vec<String>)> = thread::scope(|s| {
        let handles: Vec<_> = cases
            .into_iter()
            .map(|(outage, signal, rng)| s.spawn(move || stop_send(outage, signal, rng)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut wrong = Vec::new();
    for (stopped, tag, delivered) in &results {
        let name = tag.split(' ').nth(2).unwrap();
        let said = stopped.stderr.contains("queued for ops-hook")
            && stopped.stderr.contains(&format!("interrupted by {name}"));
        if stopped.code != 75 || !said {
            wrong.push(format!("{tag}: not queued as stopped\n{stopped}"));
        }
        if delivered != std::slice::from_ref(tag) {
            wrong.push(format!("{tag}: the flush delivered {delivered:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---- chime pipe --tee, killed ---------------------------------------------

/// What rounds of killed pipes left, once flushed.
struct Streamed {
    down: bool,
    /// Every line the producers wrote, in order: what may arrive.
    written: Vec<String>,
    /// The lines `--tee` printed: chime had read them, so they must arrive.
    teed: HashSet<String>,
    kills: usize,
    /// The lines of each message posted, in arrival order.
    batches: Vec<Vec<String>>,
}

/// Writes `line` and its newline in one write, which a pipe takes whole or
/// not at all (it is shorter than PIPE_BUF): chime reads whole lines, and
/// the producer knows which it wrote. False once the pipe is gone.
fn write_line(stdin: &mut impl Write, line: &str) -> bool {
    stdin.write_all(format!("{line}\n").as_bytes()).is_ok()
}

/// What a `chime pipe --tee` prints, gathered as it comes.
struct Tee {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: thread::JoinHandle<()>,
}

impl Tee {
    fn of(child: &mut Child) -> Tee {
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let gathered = Arc::clone(&bytes);
        let reader = thread::spawn(move || {
            let mut buf = vec![0; 64 << 10];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                gathered.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Tee { bytes, reader }
    }

    /// Waits until `child` has printed `len` bytes (or has exited).
    #[track_caller]
    fn wait_for(&self, len: usize, child: &mut Child) {
        let deadline = Instant::now() + HANG;
        while self.bytes.lock().unwrap().len() < len && child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the pipe stopped reading");
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// The whole lines printed, once the pipe is gone: a line cut short by
    /// a kill was read, but is not yet a line.
    fn lines(self) -> Vec<String> {
        self.reader.join().unwrap();
        let bytes = std::mem::take(&mut *self.bytes.lock().unwrap());
        let teed = String::from_utf8(bytes).unwrap();
        let whole = teed.rsplit_once('\n').map_or("", |(whole, _)| whole);
        whole.lines().map(str::to_owned).collect()
    }
}

/// One `chime pipe --tee` fed a numbered line every few milliseconds and
/// killed at a random moment once it streams; gives the lines written, those
/// teed, and whether it was still running when killed.
fn kill_one_pipe(
    sandbox: &Sandbox,
    url: &str,
    name: String,
    rng: &mut Rng,
) -> (Vec<String>, Vec<String>, bool) {
    let mut pipe = chime(sandbox, url, &["pipe", "--tee", "--interval", "200ms"]);
    pipe.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = pipe.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let tee = Tee::of(&mut child);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let producer = thread::spawn(move || {
        let mut written = Vec::new();
        for n in 0.. {
            let line = format!("{name} line {n:04}");
            if stopped.load(Ordering::SeqCst) || !write_line(&mut stdin, &line) {
                break;
            }
            written.push(line);
            thread::sleep(Duration::from_millis(4));
        }
        written
    });
    // Killed while it streams: once it reads, what earlier pipes left has
    // been queued (a kill before that is another test's).
    tee.wait_for(1, &mut child);
    thread::sleep(rng.millis(0, 1400));
    let killed = kill9(&mut child);
    stop.store(true, Ordering::SeqCst);
    let written = producer.join().unwrap();
    (written, tee.lines(), killed)
}

/// `rounds` pipes killed mid-stream, to a healthy destination or to one
/// that is down (until after the last), then a flush.
fn kill_pipes(down: bool, rounds: usize, mut rng: Rng) -> Streamed {
    let mut bed = if down { Bed::down() } else { Bed::start() };
    bed.no_rate_limit();
    if !down {
        // Healthy, but taking its time: a kill often finds a batch in flight.
        for _ in 0..500 {
            bed.fault(Fault::Slow(Duration::from_millis(100)));
        }
    }
    let url = bed.webhook("ops");
    let sandbox = setup("2s");
    let mut streamed = Streamed {
        down,
        written: Vec::new(),
        teed: HashSet::new(),
        kills: 0,
        batches: Vec::new(),
    };
    let mode = if down { "down" } else { "healthy" };
    for round in 0..rounds {
        let name = format!("{mode} r{round}");
        let (written, teed, killed) = kill_one_pipe(&sandbox, &url, name, &mut rng);
        streamed.written.extend(written);
        streamed.teed.extend(teed);
        streamed.kills += usize::from(killed);
    }
    if down {
        bed.come_up();
    }
    clean_flush(&sandbox, &url, mode);
    streamed.batches = delivered_batches(&bed);
    streamed
}

#[test]
fn a_pipe_killed_at_random_moments_delivers_every_line_it_teed_in_order() {
    let mut rng = Rng::for_test("pipe-kill");
    let runs = [(false, rng.split()), (true, rng.split())];
    let results: Vec<Streamed> = thread::scope(|s| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|(down, rng)| s.spawn(move || kill_pipes(down, 6, rng)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut wrong = Vec::new();
    for streamed in &results {
        let got: Vec<String> = streamed.batches.iter().flatten().cloned().collect();
        let tally = Tally::of(&streamed.written, &streamed.teed, &got);
        let repeated = repeated(&streamed.batches);
        let what = if streamed.down { "down" } else { "healthy" };
        println!(
            "{what}: {} kills, {} lines written, {} teed, {} delivered in {} messages; \
             {} lost, {} duplicate lines in {} messages",
            streamed.kills,
            streamed.written.len(),
            streamed.teed.len(),
            got.len(),
            streamed.batches.len(),
            tally.lost.len(),
            tally.duplicates,
            repeated,
        );
        wrong.extend(tally.faults(what));
        if repeated > streamed.kills {
            wrong.push(format!(
                "{what}: {repeated} messages repeated lines, more than one per kill ({})",
                streamed.kills
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---- A big fast stream, killed --------------------------------------------

/// One `chime pipe --tee --max-pending MAX` fed numbered lines as fast as it
/// reads them, killed `jitter` after it has teed `kill_after` bytes; gives
/// the lines written and those teed.
fn kill_big_pipe(
    sandbox: &Sandbox,
    url: &str,
    (name, max_pending): (String, &str),
    (kill_after, jitter): (usize, Duration),
) -> (Vec<String>, Vec<String>) {
    let args = ["pipe", "--tee", "--max-pending", max_pending];
    let mut pipe = chime(sandbox, url, &args);
    pipe.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = pipe.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let tee = Tee::of(&mut child);
    let producer = thread::spawn(move || {
        let mut written = Vec::new();
        let pad = "x".repeat(80);
        for n in 0..400_000 {
            let line = format!("{name} {n:07} {pad}");
            if !write_line(&mut stdin, &line) {
                break;
            }
            written.push(line);
        }
        written
    });
    tee.wait_for(kill_after, &mut child);
    // Not just as a read is copied: anywhere in what follows it.
    thread::sleep(jitter);
    kill9(&mut child);
    let written = producer.join().unwrap();
    (written, tee.lines())
}

/// Big streams to a destination that is down, each killed after a random
/// amount between `kill_between` bytes, then a flush once it is up: the
/// lines written, those teed, and the lines of each message posted.
fn kill_big_pipes(
    rounds: usize,
    max_pending: &str,
    kill_between: (u64, u64),
    mut rng: Rng,
) -> (Vec<String>, HashSet<String>, Vec<Vec<String>>) {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let sandbox = setup("1s");
    let (mut written, mut teed) = (Vec::new(), HashSet::new());
    for round in 0..rounds {
        let kill_after = (kill_between.0 + rng.below(kill_between.1 - kill_between.0)) as usize;
        let name = (format!("big r{round}"), max_pending);
        let kill = (kill_after, rng.millis(0, 30));
        let (more, read) = kill_big_pipe(&sandbox, &url, name, kill);
        written.extend(more);
        teed.extend(read);
    }
    bed.come_up();
    clean_flush(&sandbox, &url, "big streams");
    (written, teed, delivered_batches(&bed))
}

/// How many messages repeated lines an earlier one had.
fn repeated(batches: &[Vec<String>]) -> usize {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut count = 0;
    for batch in batches {
        let again = batch.iter().filter(|l| !seen.insert(l.as_str())).count();
        count += usize::from(again > 0);
    }
    count
}

#[test]
fn big_streams_killed_past_their_first_journal_segment_lose_no_line_they_teed() {
    let rng = Rng::for_test("big-pipe-kill");
    // A journal segment holds 4 MiB: each stream is killed in its second.
    let (written, teed, batches) = kill_big_pipes(2, "1MiB", (4_500_000, 8_000_000), rng);
    let got: Vec<String> = batches.iter().flatten().cloned().collect();
    let tally = Tally::of(&written, &teed, &got);
    println!(
        "2 kills: {} lines written, {} teed, {} delivered in {} messages; \
         {} lost, {} duplicate lines in {} messages",
        written.len(),
        teed.len(),
        got.len(),
        batches.len(),
        tally.lost.len(),
        tally.duplicates,
        repeated(&batches),
    );
    let wrong = tally.faults("big streams");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_stream_killed_while_its_destination_is_down_repeats_no_batch() {
    let rng = Rng::for_test("down-pipe-kill");
    let (written, teed, batches) = kill_big_pipes(16, "1MiB", (300_000, 3_000_000), rng);
    let got: Vec<String> = batches.iter().flatten().cloned().collect();
    let tally = Tally::of(&written, &teed, &got);
    let again = repeated(&batches);
    println!(
        "16 kills: {} lines teed, {} messages; {} lost, {} duplicate lines in {again} messages",
        teed.len(),
        batches.len(),
        tally.lost.len(),
        tally.duplicates,
    );
    let wrong = tally.faults("down");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // No request was ever answered, so nothing may repeat: a kill between a
    // batch reaching the spool and its settle is covered by its intent
    // (the journal's invariant 2).
    assert_eq!(
        again, 0,
        "no request was ever answered, yet {again} messages repeated lines"
    );
}

/// Every file under the state directory, for a failure to show where what
/// was lost went.
fn state_files(sandbox: &Sandbox) -> String {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match path.is_dir() {
                true => walk(&path, out),
                false => out.push(format!(
                    "{} ({} bytes)",
                    path.display(),
                    entry.metadata().map_or(0, |m| m.len())
                )),
            }
        }
    }
    let mut out = Vec::new();
    walk(&sandbox.path().join("state"), &mut out);
    out.join("\n")
}

/// How many messages wait in the spool.
fn on_disk_count(sandbox: &Sandbox) -> usize {
    let pending = sandbox
        .path()
        .join("state/chime/profiles/config/spool/pending/ops-hook");
    let entries = std::fs::read_dir(pending).into_iter().flatten().flatten();
    entries
        .filter(|e| e.file_name().to_string_lossy().ends_with(".msg"))
        .count()
}

/// True while some `chime pipe` journal waits to be queued.
fn journal_left(sandbox: &Sandbox) -> bool {
    let journals = sandbox.path().join("state/chime/profiles/config/journal");
    std::fs::read_dir(journals).is_ok_and(|mut dirs| dirs.next().is_some())
}

#[test]
fn a_flush_killed_while_it_queues_what_a_killed_pipe_read_repeats_no_batch() {
    let mut rng = Rng::for_test("recovery-kill");
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let sandbox = setup("1s");
    // A pipe to a destination that is down, killed with 5 MB read: what it
    // held in memory is in its journal only.
    let name = ("big".to_owned(), "64MiB");
    let (written, teed) = kill_big_pipe(&sandbox, &url, name, (5_000_000, Duration::ZERO));
    assert!(journal_left(&sandbox), "the killed pipe left a journal");
    // Each flush is killed once it has begun to queue the journal's
    // batches (the spool grows), and most likely before it is done.
    let queued = || on_disk_count(&sandbox);
    let mut interrupted = 0;
    for _ in 0..3 {
        let before = queued();
        let mut flush = chime(&sandbox, &url, &["flush", "--all"]).spawn().unwrap();
        let deadline = Instant::now() + HANG;
        while queued() == before && journal_left(&sandbox) {
            assert!(Instant::now() < deadline, "the flush queued nothing");
            thread::sleep(Duration::from_millis(1));
        }
        thread::sleep(rng.millis(0, 300));
        kill9(&mut flush);
        interrupted += usize::from(journal_left(&sandbox));
    }
    bed.come_up();
    clean_flush(&sandbox, &url, "after the killed recoveries");
    let batches = delivered_batches(&bed);
    let got: Vec<String> = batches.iter().flatten().cloned().collect();
    let tally = Tally::of(&written, &teed.into_iter().collect(), &got);
    let again = repeated(&batches);
    println!(
        "3 flushes killed, {interrupted} while queuing the journal; {} messages, \
         {} lost, {} duplicate lines in {again} messages",
        batches.len(),
        tally.lost.len(),
        tally.duplicates,
    );
    let wrong = tally.faults("recovery");
    assert!(
        wrong.is_empty(),
        "{}\nleft in the state directory:\n{}",
        wrong.join("\n"),
        state_files(&sandbox)
    );
    assert_eq!(
        again, 0,
        "no request was ever answered before the last flush, yet {again} messages repeated lines"
    );
}

// ---- An outage under a fast stream ----------------------------------------

/// A platform that takes connections and requests and never answers, on a
/// down bed's port; dropping it closes them all, and the bed can come up.
struct Silent {
    addr: String,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl Silent {
    fn on(bed: &Bed) -> Silent {
        let addr = bed.url().trim_start_matches("http://").to_owned();
        let listener = bed.listen_alongside();
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (stopping, held) = (Arc::clone(&stop), Arc::clone(&conns));
        let acceptor = thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                if let Ok(clone) = stream.try_clone() {
                    held.lock().unwrap().push(clone);
                }
                // Read whatever comes, answer nothing.
                thread::spawn(move || {
                    let mut sink = [0; 4096];
                    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
                });
            }
        });
        Silent {
            addr,
            stop,
            conns,
            acceptor: Some(acceptor),
        }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The acceptor sits in accept(): a connection wakes it to see the flag.
        let _ = TcpStream::connect(&self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for conn in self.conns.lock().unwrap().iter() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

/// How the destination fails under the stream.
#[derive(Clone, Copy, Debug)]
enum Stall {
    /// Connections are taken and never answered.
    Hanging,
    /// The first two requests are answered, and posted, 2 s late: after
    /// chime gave up on them.
    PostingLate,
    /// 503 until the bed has refused three requests (the first batch), then
    /// healthy while the stream goes on.
    RefusingAWhile,
}

/// What a stream through a stall left, once flushed.
struct Stalled {
    stall: Stall,
    pipe: Run,
    batches: Vec<Vec<String>>,
}

/// `seq 1 60000 | chime pipe --to ops-hook --max-pending 100KiB`.
fn feed_pipe(sandbox: &Sandbox, url: &str, stall: Stall) -> Run {
    let args = ["pipe", "--to", "ops-hook", "--max-pending", "100KiB"];
    let mut pipe = sandbox.chime(&args);
    pipe.env("OPS_WEBHOOK", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = pipe.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        let input: String = (1..=60_000).map(|i| format!("{i}\n")).collect();
        let _ = stdin.write_all(input.as_bytes());
    });
    let pipe = finish(child, &format!("seq 1 60000 | chime pipe ({stall:?})"));
    feeder.join().unwrap();
    pipe
}

/// The stream through `stall`, then a flush once it is over.
fn stream_through(stall: Stall) -> Stalled {
    let mut bed = match stall {
        Stall::Hanging => Bed::down(),
        _ => Bed::start(),
    };
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let sandbox = setup("1s");
    let silent = matches!(stall, Stall::Hanging).then(|| Silent::on(&bed));
    if let Stall::PostingLate = stall {
        for _ in 0..2 {
            bed.fault(Fault::Slow(Duration::from_secs(2)));
        }
    }
    let done = AtomicBool::new(false);
    let pipe = thread::scope(|s| {
        if let Stall::RefusingAWhile = stall {
            bed.break_hook("ops");
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) && bed.requests().len() < 3 {
                    thread::sleep(Duration::from_millis(10));
                }
                bed.restore_hook("ops");
            });
        }
        let pipe = feed_pipe(&sandbox, &url, stall);
        done.store(true, Ordering::SeqCst);
        pipe
    });
    drop(silent);
    bed.clear_faults();
    if let Stall::Hanging = stall {
        bed.come_up();
    }
    let what = format!("{stall:?}, after the pipe that said\n{pipe}");
    clean_flush(&sandbox, &url, &what);
    if let Stall::PostingLate = stall {
        // The late answers come in their own time: counted once they have.
        let mut seen = bed.requests().len();
        while bed.wait_for(seen + 1, Duration::from_millis(2500)).len() > seen {
            seen = bed.requests().len();
        }
    }
    Stalled {
        stall,
        pipe,
        batches: delivered_batches(&bed),
    }
}

#[test]
fn a_fast_stream_through_an_outage_reaches_the_channel_in_order_after_a_flush() {
    let stalls = [Stall::Hanging, Stall::PostingLate, Stall::RefusingAWhile];
    let results: Vec<Stalled> = thread::scope(|s| {
        let handles: Vec<_> = stalls
            .into_iter()
            .map(|stall| s.spawn(move || stream_through(stall)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let order: Vec<String> = (1..=60_000).map(|i| i.to_string()).collect();
    let required: HashSet<String> = order.iter().cloned().collect();
    let mut wrong = Vec::new();
    for stalled in &results {
        let what = format!("{:?}", stalled.stall);
        let got: Vec<String> = stalled.batches.iter().flatten().cloned().collect();
        let tally = Tally::of(&order, &required, &got);
        let repeated = repeated(&stalled.batches);
        println!(
            "{what}: pipe exited {}; {} messages, {} lost, {} duplicate lines in {} messages",
            stalled.pipe.code,
            stalled.batches.len(),
            tally.lost.len(),
            tally.duplicates,
            repeated
        );
        if ![0, 75].contains(&stalled.pipe.code) {
            wrong.push(format!("{what}: the pipe failed\n{}", stalled.pipe));
        }
        wrong.extend(tally.faults(&what));
        // Only a request the platform posted after chime gave up on it
        // comes again: two of them answer 2 s late.
        let in_flight = match stalled.stall {
            Stall::PostingLate => 2,
            Stall::Hanging | Stall::RefusingAWhile => 0,
        };
        if repeated > in_flight {
            wrong.push(format!(
                "{what}: {repeated} messages came again, {in_flight} requests were in flight"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---- chime flush, killed --------------------------------------------------

/// What rounds of killed flushes left, once flushed cleanly.
struct Flushed {
    /// The queued entries, then the sends made during the rounds, in the
    /// order they were accepted.
    order: Vec<String>,
    /// Flushes still running when they were killed.
    kills: usize,
    /// How each send made during a round exited.
    sends: Vec<(String, i32)>,
    delivered: Vec<String>,
}

/// Queues 100 entries, then flushes them `rounds` times, each flush killed
/// at a random moment, every other one while a `chime send` to the same
/// destination runs; then a clean flush.
fn kill_flushes(name: &str, rounds: usize, mut rng: Rng) -> Flushed {
    let bed = Bed::start();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let sandbox = setup("3s");
    let mut flushed = Flushed {
        order: Vec::new(),
        kills: 0,
        sends: Vec::new(),
        delivered: Vec::new(),
    };
    for i in 0..100 {
        let tag = format!("{name} entry {i:03}");
        run_within(chime(&sandbox, &url, &["send", "--queue", &tag]), HANG).code(0);
        flushed.order.push(tag);
    }
    for round in 0..rounds {
        // Slow enough that a kill finds a request in flight; now and then a
        // 503 (three in a row stop the flush and reschedule the entry).
        bed.clear_faults();
        for _ in 0..200 {
            match rng.below(12) {
                0 => bed.fault(Fault::Status(503, "service_unavailable")),
                _ => bed.fault(Fault::Slow(Duration::from_millis(60))),
            }
        }
        let mut flush = chime(&sandbox, &url, &["flush", "--all"]).spawn().unwrap();
        let send = (round % 2 == 1).then(|| {
            let tag = format!("{name} send in round {round}");
            let after = rng.millis(0, 800);
            // Within its timeout, it sends older messages first (when no
            // flush holds them): a short one leaves work for the next flush.
            let cmd = chime(&sandbox, &url, &["send", "--timeout", "1s", &tag]);
            let send = thread::spawn(move || {
                thread::sleep(after);
                run_within(cmd, HANG).code
            });
            (tag, send)
        });
        thread::sleep(rng.millis(0, 1200));
        flushed.kills += usize::from(kill9(&mut flush));
        if let Some((tag, send)) = send {
            flushed.sends.push((tag.clone(), send.join().unwrap()));
            flushed.order.push(tag);
        }
    }
    bed.clear_faults();
    clean_flush(&sandbox, &url, name);
    let left = delivered_left(sandbox.path());
    assert!(left.is_empty(), "{name}: delivered entries left: {left:?}");
    flushed.delivered = texts(&bed);
    flushed
}

/// Delivered entries a killed flush had not unlinked yet (`.<id>.done`),
/// anywhere under `dir`: the next drain sweeps them.
fn delivered_left(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut left = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            left.extend(delivered_left(&entry.path()));
        } else if name.ends_with(".done") {
            left.push(name);
        }
    }
    left
}

#[test]
fn flushes_killed_at_random_moments_lose_nothing_and_repeat_at_most_one_entry_each() {
    let mut rng = Rng::for_test("flush-kill");
    let runs = [("first", rng.split()), ("second", rng.split())];
    let results: Vec<(&str, Flushed)> = thread::scope(|s| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|(name, rng)| s.spawn(move || (name, kill_flushes(name, 10, rng))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut wrong = Vec::new();
    for (name, flushed) in &results {
        let required: HashSet<String> = flushed.order.iter().cloned().collect();
        let tally = Tally::of(&flushed.order, &required, &flushed.delivered);
        println!(
            "{name}: {} messages, {} flushes killed mid-run, {} sends beside them; \
             {} lost, {} duplicates",
            flushed.order.len(),
            flushed.kills,
            flushed.sends.len(),
            tally.lost.len(),
            tally.duplicates,
        );
        for (tag, code) in &flushed.sends {
            if ![0, 75].contains(code) {
                wrong.push(format!("{tag}: exited {code}"));
            }
        }
        wrong.extend(tally.faults(name));
        if tally.duplicates > flushed.kills {
            wrong.push(format!(
                "{name}: {} duplicates for {} kills",
                tally.duplicates, flushed.kills
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---- Many at once ---------------------------------------------------------

/// A text of `who`'s numbered words, long enough to go as two messages:
/// each part's fallback text starts with the word it starts at.
fn two_part_text(who: &str) -> String {
    let words: Vec<String> = (0..5000).map(|k| format!("{who}.{k:04}")).collect();
    words.join(" ")
}

/// Who sent a posted part (`s07`, from its first whole word), and which of
/// its two parts it is.
fn part_of(request: &crate::support::bed::Request) -> (String, String) {
    let payload = request.json();
    let text = payload["text"].as_str().unwrap_or_default();
    let who = text
        .split_whitespace()
        .find_map(|word| {
            let (who, k) = word.split_once('.')?;
            (who.len() == 3 && k.len() == 4).then(|| who.to_owned())
        })
        .unwrap_or_else(|| format!("an unknown sender ({text:.40})"));
    let body = request.text();
    let part = ["part 1/2", "part 2/2"]
        .into_iter()
        .find(|p| body.contains(p))
        .unwrap_or("one part of one");
    (who, part.to_owned())
}

/// Spawns `chime send` of each sender's two-part text at once.
fn spawn_sends(sandbox: &Sandbox, url: &str, senders: &[String]) -> Vec<(String, Child)> {
    senders
        .iter()
        .map(|who| {
            let text = two_part_text(who);
            let send = chime(sandbox, url, &["send", &text]).spawn().unwrap();
            (who.clone(), send)
        })
        .collect()
}

#[test]
fn forty_sends_and_three_flushes_at_once_deliver_each_part_exactly_once_in_order() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let sandbox = setup("5s");
    let early: Vec<String> = (0..30).map(|i| format!("s{i:02}")).collect();
    let late: Vec<String> = (0..10).map(|i| format!("t{i:02}")).collect();
    for (who, mut send) in spawn_sends(&sandbox, &url, &early) {
        let status = wait_within(&mut send, &format!("send {who}"));
        assert_eq!(status.code(), Some(75), "send {who} queued it");
    }
    // Up, and slow enough that the flushes and the later sends overlap.
    for _ in 0..120 {
        bed.fault(Fault::Slow(Duration::from_millis(20)));
    }
    bed.come_up();
    // Ids start with the millisecond: the later sends begin in a later one.
    thread::sleep(Duration::from_millis(5));
    let flushes: Vec<Child> = (0..3)
        .map(|_| chime(&sandbox, &url, &["flush", "--all"]).spawn().unwrap())
        .collect();
    let sends = spawn_sends(&sandbox, &url, &late);
    for (who, mut send) in sends {
        let status = wait_within(&mut send, &format!("send {who}"));
        assert!(
            matches!(status.code(), Some(0 | 75)),
            "send {who}: delivered or queued, not {status}"
        );
    }
    for mut flush in flushes {
        let status = wait_within(&mut flush, "a flush");
        assert!(matches!(status.code(), Some(0 | 75)), "flush: {status}");
    }
    clean_flush(&sandbox, &url, "forty sends");
    let parts: Vec<(String, String)> = bed.delivered().iter().map(part_of).collect();
    let mut count: HashMap<&(String, String), usize> = HashMap::new();
    for part in &parts {
        *count.entry(part).or_default() += 1;
    }
    let mut wrong = Vec::new();
    for who in early.iter().chain(&late) {
        let at = |part: &str| parts.iter().position(|p| p.0 == *who && p.1 == part);
        for part in ["part 1/2", "part 2/2"] {
            let times = count.get(&(who.clone(), part.to_owned())).copied();
            if times != Some(1) {
                wrong.push(format!("{who} {part} arrived {} times", times.unwrap_or(0)));
            }
        }
        if at("part 2/2") < at("part 1/2") {
            wrong.push(format!("{who}: its second part came first"));
        }
    }
    let known = |p: &&(String, String)| early.contains(&p.0) || late.contains(&p.0);
    wrong.extend(
        parts
            .iter()
            .filter(|p| !known(p))
            .map(|p| format!("posted: {p:?}")),
    );
    let last_early = parts.iter().rposition(|p| early.contains(&p.0));
    let first_late = parts.iter().position(|p| late.contains(&p.0));
    if let (Some(last_early), Some(first_late)) = (last_early, first_late)
        && first_late < last_early
    {
        wrong.push(format!(
            "{:?} of a later send overtook {:?}, queued before it began",
            parts[first_late], parts[last_early]
        ));
    }
    println!(
        "40 sends, 3 flushes: {} parts posted for 80 sent; {} problems",
        parts.len(),
        wrong.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The newest segment of the one journal a killed pipe left.
fn last_segment(sandbox: &Sandbox) -> std::path::PathBuf {
    let journals = sandbox.path().join("state/chime/profiles/config/journal");
    let journal = std::fs::read_dir(journals)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let mut segments: Vec<_> = std::fs::read_dir(journal)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    segments.pop().unwrap()
}

#[test]
fn a_torn_journal_segment_whose_replay_fails_midway_is_replayed_whole_by_the_next_flush() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let sandbox = setup("1s");
    let name = ("torn".to_owned(), "64MiB");
    let (written, teed) = kill_big_pipe(&sandbox, &url, name, (5_000_000, Duration::ZERO));
    // A kill in the middle of a write leaves its record torn: a header
    // promising more bytes than follow.
    let segment = last_segment(&sandbox);
    let mut torn = vec![b'D'];
    torn.extend_from_slice(&1000u32.to_le_bytes());
    torn.extend_from_slice(&[0u8; 4]);
    torn.extend_from_slice(b"only part");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    file.write_all(&torn).unwrap();
    drop(file);
    // A flush that cannot queue anything (the disk refuses the spool's
    // writes) must leave what the journal holds where the next one finds it.
    let mut failing = chime(&sandbox, &url, &["flush", "--all"]);
    failing.env("CHIME_FAULT", "write:ENOSPC");
    let _ = failing.output().unwrap();
    bed.come_up();
    clean_flush(&sandbox, &url, "after a replay the disk refused");
    let got: Vec<String> = delivered_batches(&bed).into_iter().flatten().collect();
    let tally = Tally::of(&written, &teed.into_iter().collect(), &got);
    let wrong = tally.faults("torn");
    assert!(
        wrong.is_empty(),
        "{}\n{}",
        wrong.join("\n"),
        state_files(&sandbox)
    );
}

/// Rewrites every segment of the journal a killed pipe left without its
/// settles (`S` records), as if each kill had landed between a batch
/// reaching the spool and the journal hearing of it.
fn drop_settles(sandbox: &Sandbox) -> usize {
    let journals = sandbox.path().join("state/chime/profiles/config/journal");
    let mut dropped = 0;
    for journal in std::fs::read_dir(journals).unwrap().flatten() {
        for segment in std::fs::read_dir(journal.path()).unwrap().flatten() {
            let path = segment.path();
            if path.extension().is_none_or(|e| e != "seg") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let (mut kept, mut rest) = (Vec::new(), &bytes[..]);
            while rest.len() >= 9 {
                let len = u32::from_le_bytes(rest[1..5].try_into().unwrap()) as usize;
                let (record, after) = rest.split_at((9 + len).min(rest.len()));
                match record[0] {
                    b'S' => dropped += 1,
                    _ => kept.extend_from_slice(record),
                }
                rest = after;
            }
            kept.extend_from_slice(rest);
            std::fs::write(&path, kept).unwrap();
        }
    }
    dropped
}

#[test]
fn a_batch_in_the_spool_whose_settle_a_kill_cut_off_is_not_replayed_again() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let sandbox = setup("1s");
    // Down, with little room in memory: batch after batch goes to the spool.
    let name = ("cut".to_owned(), "64KiB");
    let (written, teed) = kill_big_pipe(
        &sandbox,
        &url,
        name,
        (3_000_000, Duration::from_millis(300)),
    );
    assert!(on_disk_count(&sandbox) > 2, "batches went to the spool");
    assert!(
        drop_settles(&sandbox) > 2,
        "the journal had settles to lose"
    );
    bed.come_up();
    clean_flush(&sandbox, &url, "after the lost settles");
    let batches = delivered_batches(&bed);
    let got: Vec<String> = batches.iter().flatten().cloned().collect();
    let tally = Tally::of(&written, &teed.into_iter().collect(), &got);
    let wrong = tally.faults("settles lost");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        repeated(&batches),
        0,
        "a batch in the spool was queued again"
    );
}

/// Flushes that release held messages (scheduled ones, and a digest of
/// forty), each killed at a random moment: whatever the moment, every
/// scheduled message and every line of the digest arrives, at least once.
#[test]
fn flushes_killed_while_they_release_held_messages_lose_none_of_them() {
    let mut rng = Rng::for_test("flushes_killed_while_they_release_held_messages");
    let bed = Bed::start();
    bed.answer_after(Duration::from_millis(3));
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[destinations.hook]\nkind = \"slack\"\nurl = \"{}\"\n\n[routes.ops]\nto = [\"hook\"]\n\n\
         [routes.batch]\nto = [\"hook\"]\ndigest = \"1h\"\n",
        bed.webhook("ops")
    ));
    let ten = "1796292000";
    let later = "1796295600";
    let send = |args: &[&str], now: &str| {
        let mut cmd = sandbox.chime(args);
        cmd.env("CHIME_NOW", now);
        run_within(cmd, HANG).code(0);
    };
    for i in 0..20 {
        send(
            &[
                "send",
                "-r",
                "ops",
                "--in",
                "30m",
                &format!("scheduled {i:02}"),
            ],
            ten,
        );
    }
    for i in 0..40 {
        send(&["send", "-r", "batch", &format!("gathered {i:02}")], ten);
    }
    for _ in 0..12 {
        let mut flush = sandbox.chime(&["flush"]);
        flush.env("CHIME_NOW", later);
        let mut child = flush
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        thread::sleep(rng.millis(1, 40));
        kill9(&mut child);
    }
    let mut flush = sandbox.chime(&["flush", "--all"]);
    flush.env("CHIME_NOW", later);
    run_within(flush, HANG).code(0);
    let all = bed
        .delivered()
        .iter()
        .map(|r| r.text())
        .collect::<Vec<_>>()
        .join("\n");
    for i in 0..20 {
        assert!(
            all.contains(&format!("scheduled {i:02}")),
            "scheduled {i} lost"
        );
    }
    for i in 0..40 {
        assert!(
            all.contains(&format!("gathered {i:02}")),
            "gathered {i} lost from every digest"
        );
    }
    let list = run_within(sandbox.chime(&["spool", "list", "--json"]), HANG).code(0);
    assert_eq!(list.stdout.trim(), "[]", "nothing left held or pending");
}

/// Sends under one dedupe key, each killed at a random moment, then one
/// that is not: a window is open only once its first message is on disk,
/// so whatever the moments, the alert is posted at least once.
#[test]
fn deduplicated_sends_killed_at_random_moments_still_post_the_alert() {
    let mut rng = Rng::for_test("deduplicated_sends_killed_at_random_moments");
    for round in 0..16 {
        let bed = Bed::start();
        let sandbox = Sandbox::new();
        sandbox.profile(&format!(
            "[destinations.hook]\nkind = \"slack\"\nurl = \"{}\"\n\n[routes.ops]\nto = [\"hook\"]\n",
            bed.webhook("ops")
        ));
        let send = || {
            let mut cmd = sandbox.chime(&["send", "-r", "ops", "--dedupe", "outage", "down"]);
            cmd.env("CHIME_NOW", "1796292000");
            cmd
        };
        for _ in 0..8 {
            let mut child = send()
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            thread::sleep(rng.millis(0, 12));
            kill9(&mut child);
        }
        run_within(send(), HANG).code(0);
        let mut flush = sandbox.chime(&["flush", "--all"]);
        flush.env("CHIME_NOW", "1796292000");
        run_within(flush, HANG).code(0);
        assert!(
            bed.arrivals() >= 1,
            "round {round}: the alert was never posted"
        );
    }
}
