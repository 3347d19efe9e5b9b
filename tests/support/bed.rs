//! The test bed: a local HTTP/1.1 server that answers exactly as Slack does, so no test
//! touches the internet.
//!
//! It owns the wire (keep-alive, `Connection: close`, Content-Length and chunked request
//! bodies), the two Slack surfaces chime talks to (incoming webhooks under `/services/` and
//! the Web API's `chat.postMessage` under `/api/`), Block Kit limits, token-bucket rate
//! limits, injected faults, and a record of every request. What the workspace remembers and
//! the methods that read it are `bed/slack_reads.rs`'s; Socket Mode, its WebSocket and
//! button clicks are `bed/socket_mode.rs`'s; both add their own methods to [`Bed`].
//! Statuses, bodies and limits follow PLATFORMS.md §1–3; where that file marks something
//! unconfirmed, the choice is noted beside the code. What chime should *do* with each
//! answer belongs to the tests.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

mod scheduled;
mod slack_reads;
mod socket_mode;
pub use scheduled::Held;
pub use socket_mode::Via;

/// Slack posts longer `text` cut to this many characters, with a warning (§1.5, §2.6).
const MAX_TEXT: usize = 40_000;
/// chat.postMessage refuses blocks whose text adds up to more, with `msg_blocks_too_long`:
/// undocumented, "12,000 text characters with a buffer for block containers" in a Slack
/// SDK maintainer's words (slackapi/bolt-js#2509, #2867; the slash-command response path
/// does not check it, so neither does the webhook here).
const MAX_BLOCKS_TEXT: usize = 12_000;
/// chat.update refuses a longer `text` with `msg_too_long` (§2.4, as documented).
const MAX_UPDATE_TEXT: usize = 4_000;
const TRUNCATED: &str = "[WARN] Your message was truncated but still posted. \
                         The `text` field accepts up to 40,000 characters.";
/// Far beyond anything chime sends; a bound keeps a broken client from exhausting memory.
const MAX_BODY: usize = 16 << 20;
const MAX_LINE: u64 = 16 << 10;
const MAX_HEADERS: usize = 100;
const JSON: &str = "application/json; charset=utf-8";
/// hooks.slack.com's content type is unconfirmed (§1.2); `text/html` is what is commonly seen.
const HOOK_TYPE: &str = "text/html";
const PLAIN: &str = "text/plain; charset=utf-8";
/// How often a stream with nothing to send looks whether its client hung up.
const HANGUP_CHECK: Duration = Duration::from_millis(50);

/// A failure a test queues ahead of the bed's normal answer; each is used by one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Answer this status with this plain-text body.
    Status(u16, &'static str),
    /// Answer this status with this JSON body.
    Json(u16, &'static str),
    /// Answer 429 with `Retry-After: N`, with the body the path's surface would give.
    RateLimit(u64),
    /// Sleep this long, then answer normally.
    Slow(Duration),
    /// Read the request, then close the connection without answering.
    Drop,
    /// Take the request as the platform would (it is posted), then reset the connection
    /// (RST) instead of answering: the client cannot know the message arrived.
    Reset,
    /// Take the request as the platform would, send the answer's status and headers and
    /// half its body, then reset the connection: the status arrives, the body never ends.
    ResetMidBody,
    /// Answer this status with a chunked body that starts with this text and never ends:
    /// spaces follow until the client hangs up.
    Endless(u16, &'static str),
    /// Answer this status with a `Content-Length` of this many bytes: the text, then
    /// spaces, written as fast as the client reads until it hangs up or all are sent.
    Huge(u16, &'static str, u64),
}

/// One request as the bed received it, and what it answered.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The request target without its query.
    pub path: String,
    pub query: Option<String>,
    /// Header names are lowercased; values are trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status answered; 0 for `Fault::Drop` and `Fault::Reset`.
    pub status: u16,
    /// The body answered (lossy UTF-8), so a failing test can print what chime was told.
    pub response: String,
}

impl Request {
    /// The first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        let headers = &self.headers;
        let found = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8, invalid sequences replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics, quoting the body, when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            let (method, path, body) = (&self.method, &self.path, self.text());
            panic!("{method} {path}: body is not JSON ({e}): {body:?}")
        })
    }
}

/// A running fake Slack on `127.0.0.1`; dropping it stops the server.
pub struct Bed {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
    /// The port while the bed is down.
    reserved: Option<Reserved>,
}

/// A TCP socket bound to a loopback port and not listening: the port is
/// ours, and connections to it are refused.
struct Reserved {
    fd: std::os::fd::OwnedFd,
    addr: SocketAddr,
}

impl Reserved {
    fn bind() -> Reserved {
        let (fd, addr) = bound_socket(0);
        Reserved { fd, addr }
    }

    fn listen(self) -> TcpListener {
        listen(self.fd)
    }
}

/// A loopback TCP socket bound to `port` (0: any), with `SO_REUSEPORT` so a
/// test may listen on a down bed's port beside it ([`Bed::listen_alongside`]).
fn bound_socket(port: u16) -> (std::os::fd::OwnedFd, SocketAddr) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: plain socket calls on a descriptor this function owns; the
    // address structures are zeroed and sized as the calls expect.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "test bed: socket: {}", io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(fd);
        let raw = fd.as_raw_fd();
        let one: libc::c_int = 1;
        let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        let opt = (&raw const one).cast();
        // Set only after a bind to any port: a port chosen for a socket that
        // may share could be one another such socket holds.
        if port != 0 {
            libc::setsockopt(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, opt, size);
        }
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        sin.sin_port = port.to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let bound = libc::bind(raw, (&raw const sin).cast(), len);
        assert!(bound == 0, "test bed: bind: {}", io::Error::last_os_error());
        if port == 0 {
            libc::setsockopt(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, opt, size);
        }
        let mut got = len;
        let named = libc::getsockname(raw, (&raw mut sin).cast(), &mut got);
        assert!(
            named == 0,
            "test bed: getsockname: {}",
            io::Error::last_os_error()
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], u16::from_be(sin.sin_port)));
        (fd, addr)
    }
}

fn listen(fd: std::os::fd::OwnedFd) -> TcpListener {
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    // SAFETY: listen(2) on a bound socket the caller hands over.
    let listening = unsafe { libc::listen(raw, 128) };
    assert!(
        listening == 0,
        "test bed: listen: {}",
        io::Error::last_os_error()
    );
    TcpListener::from(fd)
}

struct Shared {
    state: Mutex<State>,
    recorded: Condvar,
    stopping: AtomicBool,
}

impl Shared {
    /// The state is plain data, so a thread that panicked holding the lock leaves nothing
    /// half-done worth refusing; ignoring the poison keeps one failure from becoming many.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, seq: u64, request: Request, delivered: bool) {
        let mut state = self.lock();
        // Slow faults finish out of order; the record keeps arrival order.
        let at = state.records.partition_point(|(s, ..)| *s < seq);
        state.records.insert(at, (seq, request, delivered));
        drop(state);
        self.recorded.notify_all();
    }
}

#[derive(Default)]
struct State {
    records: Vec<(u64, Request, bool)>,
    arrivals: u64,
    /// Webhook paths handed out, with the refusal each now answers (`None`: live).
    hooks: HashMap<String, Option<(u16, &'static str)>>,
    tokens: HashSet<String>,
    channels: Vec<Channel>,
    rate: Option<(f64, f64)>,
    buckets: HashMap<String, (f64, Instant)>,
    faults: VecDeque<(Option<String>, Fault)>,
    /// How long every answer without a fault waits ([`Bed::answer_after`]).
    pause: Option<Duration>,
    last_ts: u128,
    conns: HashMap<u64, TcpStream>,
    /// Web API messages posted, content and metadata, for chat.update and the reads.
    messages: slack_reads::Messages,
    /// The workspace's people and groups, and the scopes a test took away.
    slack: slack_reads::Directory,
    /// Socket Mode's tokens, connections and envelopes.
    socket: socket_mode::Links,
    /// Other platforms, by path prefix.
    surfaces: Vec<(String, Arc<dyn Surface>)>,
    /// Messages chat.scheduleMessage holds (`scheduled.rs`).
    scheduled: Vec<Held>,
}

/// Another platform served by the same bed under its own path prefix. Faults,
/// recording and the wire are the bed's; what a request means is the surface's.
pub trait Surface: Send + Sync {
    /// Answers one request under the surface's prefix. `limit` takes a token
    /// from the bed's rate-limit bucket named `key`, or says how many seconds
    /// until one is free.
    fn answer(&self, request: &Request, limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer;

    /// The answer to a queued `Fault::RateLimit(secs)` on this surface.
    fn throttled(&self, secs: u64) -> Answer {
        Answer::new(429, PLAIN, "").retry_after(secs)
    }

    /// Answers a request that waits (a long poll) or streams ([`Answer::stream`]), without
    /// the bed's lock held, so other requests are served meanwhile; `None` leaves the
    /// request to [`Surface::answer`]. Called first for every request under the prefix
    /// that no fault takes; `limit` is as for `answer`.
    fn answer_unlocked(
        &self,
        _request: &Request,
        _limit: &mut dyn FnMut(&str) -> Result<(), u64>,
    ) -> Option<Answer> {
        None
    }
}

#[derive(Clone)]
struct Channel {
    name: String,
    id: String,
    member: bool,
}

impl State {
    /// Takes a token from `key`'s bucket, or says how many whole seconds until one is free.
    fn take(&mut self, key: &str) -> Result<(), u64> {
        let Some((burst, per_second)) = self.rate else {
            return Ok(());
        };
        let now = Instant::now();
        let (tokens, at) = self.buckets.entry(key.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        // Retry-After carries whole seconds only, so a fast test rate still says 1.
        Err((((1.0 - *tokens) / per_second).ceil() as u64).max(1))
    }

    fn take_fault(&mut self, path: &str) -> Option<Fault> {
        let applies =
            |(only, _): &(Option<String>, Fault)| only.as_deref().is_none_or(|p| p == path);
        let at = self.faults.iter().position(applies)?;
        self.faults.remove(at).map(|(_, fault)| fault)
    }

    /// Microseconds since the epoch, bumped so no two messages share a `ts`: Slack's `ts` is
    /// a message's identity (threads and edits refer to it).
    fn next_ts(&mut self) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH);
        self.last_ts = now.unwrap_or_default().as_micros().max(self.last_ts + 1);
        let (secs, micros) = (self.last_ts / 1_000_000, self.last_ts % 1_000_000);
        format!("{secs}.{micros:06}")
    }

    fn channel(&self, wanted: &str) -> Option<Channel> {
        let name = channel_name(wanted);
        let matches = |c: &&Channel| c.id == wanted || c.name == name;
        self.channels.iter().find(matches).cloned()
    }

    fn surface(&self, path: &str) -> Option<Arc<dyn Surface>> {
        let found = self
            .surfaces
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()));
        found.map(|(_, surface)| Arc::clone(surface))
    }

    fn records(&self, only_delivered: bool) -> Vec<Request> {
        let records = self.records.iter();
        let chosen = records.filter(|(.., delivered)| *delivered || !only_delivered);
        chosen.map(|(_, request, _)| request.clone()).collect()
    }
}

impl Bed {
    /// Binds `127.0.0.1:0` and serves until dropped. Rate limit: burst 3, then 1 per second.
    pub fn start() -> Bed {
        let mut bed = Bed::down();
        bed.come_up();
        bed
    }

    /// A bed whose port refuses connections, as a server that is down does,
    /// until [`Bed::come_up`]: its URLs stay the same throughout, so an outage
    /// can end without the destination changing. The port is bound but not
    /// listened on meanwhile, so no other test can take it, and a connection
    /// to it is refused at once.
    pub fn down() -> Bed {
        let socket = Reserved::bind();
        let addr = socket.addr;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                rate: Some((3.0, 1.0)),
                ..State::default()
            }),
            recorded: Condvar::new(),
            stopping: AtomicBool::new(false),
        });
        Bed {
            shared,
            addr,
            acceptor: None,
            reserved: Some(socket),
        }
    }

    /// A listener on a down bed's port, for a test that plays another server
    /// there meanwhile (one that never answers); drop it before [`Bed::come_up`].
    pub fn listen_alongside(&self) -> TcpListener {
        assert!(
            self.reserved.is_some(),
            "test bed: only a down bed lends its port"
        );
        listen(bound_socket(self.addr.port()).0)
    }

    /// Starts serving on the bed's port.
    pub fn come_up(&mut self) {
        let reserved = self
            .reserved
            .take()
            .expect("test bed: come_up once, after down");
        let listener = reserved.listen();
        let for_acceptor = Arc::clone(&self.shared);
        let acceptor = thread::Builder::new().name("bed-accept".into());
        let acceptor = acceptor.spawn(move || accept(&listener, &for_acceptor));
        self.acceptor = Some(acceptor.expect("test bed: spawn the accept thread"));
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of a live incoming webhook named `name`, shaped like Slack's. Names that differ
    /// only in case or punctuation are the same hook.
    pub fn webhook(&self, name: &str) -> String {
        let path = hook_path(name);
        self.shared.lock().hooks.entry(path.clone()).or_insert(None);
        format!("{}{path}", self.url())
    }

    fn set_hook(&self, name: &str, refusal: Option<(u16, &'static str)>) {
        self.shared.lock().hooks.insert(hook_path(name), refusal);
    }

    /// The Web API base; `chat.postMessage` is at `{api_url}/chat.postMessage`.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.url())
    }

    /// The hook now answers 503, as Slack does during an outage, until [`Bed::restore_hook`].
    pub fn break_hook(&self, name: &str) {
        self.set_hook(name, Some((503, "service_unavailable")));
    }

    /// The hook answers normally again.
    pub fn restore_hook(&self, name: &str) {
        self.set_hook(name, None);
    }

    /// The hook now answers 404 `no_service`, as a deleted or disabled one does.
    pub fn remove_hook(&self, name: &str) {
        self.set_hook(name, Some((404, "no_service")));
    }

    /// The hook now answers 410 `channel_is_archived`.
    pub fn archive_hook(&self, name: &str) {
        self.set_hook(name, Some((410, "channel_is_archived")));
    }

    /// Every Web API message posted so far is deleted: chat.update of one answers
    /// `message_not_found`, as Slack does for a message someone removed.
    pub fn delete_messages(&self) {
        self.shared.lock().messages.clear();
    }

    /// The messages chat.scheduleMessage holds now, oldest first.
    pub fn scheduled(&self) -> Vec<Held> {
        self.shared.lock().scheduled.clone()
    }

    /// Makes `token` a valid bot token for the Web API.
    pub fn add_token(&self, token: &str) {
        self.shared.lock().tokens.insert(token.to_owned());
    }

    /// Creates a channel, found by `#name`, `name` or [`Bed::channel_id`]. A bot that is not a
    /// member gets `not_in_channel`.
    pub fn add_channel(&self, name: &str, member: bool) {
        let (name, id) = (channel_name(name), self.channel_id(name));
        let mut state = self.shared.lock();
        state.channels.retain(|c| c.name != name);
        state.channels.push(Channel { name, id, member });
    }

    /// The ID the bed gives channel `name` (`#deploys` → `C0DEPLOYS`), as `chat.postMessage`
    /// answers it.
    pub fn channel_id(&self, name: &str) -> String {
        let alnum = channel_name(name).replace(|c: char| !c.is_ascii_alphanumeric(), "");
        format!("C0{}", alnum.to_ascii_uppercase())
    }

    /// A token bucket per webhook path and per (token, channel), full from now on.
    pub fn set_rate(&self, burst: u32, per_second: f64) {
        self.limit(Some((burst.into(), per_second)));
    }

    pub fn no_rate_limit(&self) {
        self.limit(None);
    }

    fn limit(&self, rate: Option<(f64, f64)>) {
        let mut state = self.shared.lock();
        state.rate = rate;
        state.buckets.clear();
    }

    /// Serves `surface` for every path starting with `prefix` (e.g. "/discord/").
    pub fn mount(&self, prefix: &str, surface: Arc<dyn Surface>) {
        self.shared
            .lock()
            .surfaces
            .push((prefix.to_owned(), surface));
    }

    /// Every request without a fault queued for it is answered `pause` after it arrived,
    /// as a slow but working platform answers: a standing [`Fault::Slow`].
    pub fn answer_after(&self, pause: Duration) {
        self.shared.lock().pause = Some(pause);
    }

    /// Queues `fault` for the next request on any path; faults are used in FIFO order.
    pub fn fault(&self, fault: Fault) {
        self.shared.lock().faults.push_back((None, fault));
    }

    /// Queues `fault` for the next request whose path is the path of `url`.
    pub fn fault_on(&self, url: &str, fault: Fault) {
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        let path = path.split('?').next().unwrap_or(path).to_owned();
        self.shared.lock().faults.push_back((Some(path), fault));
    }

    /// Forgets the faults queued and not yet used.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// How many requests have arrived, those still being answered included.
    pub fn arrivals(&self) -> u64 {
        self.shared.lock().arrivals
    }

    /// Every request received so far, faulted ones included, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().records(false)
    }

    /// Only the requests Slack would have posted: webhook `200 ok` or API `ok: true`.
    pub fn delivered(&self) -> Vec<Request> {
        self.shared.lock().records(true)
    }

    /// Waits until `n` requests are recorded or `timeout` passes, then returns `requests()`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        // A `Duration::MAX` timeout means no deadline rather than an overflow.
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.shared.lock();
        while state.records.len() < n {
            let left = deadline.map_or(timeout, |d| d.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                break;
            }
            let waited = self.shared.recorded.wait_timeout(state, left);
            state = waited.unwrap_or_else(PoisonError::into_inner).0;
        }
        state.records(false)
    }
}

impl Drop for Bed {
    /// Best effort and never blocking for long: connection threads are not joined (one may be
    /// inside a `Fault::Slow`); shutting their sockets down ends them soon enough.
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // The acceptor sits in accept(); a connection of our own wakes it to see the flag.
        let woken = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(acceptor) = self.acceptor.take().filter(|_| woken) {
            let _ = acceptor.join();
        }
        for conn in self.shared.lock().conns.values() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

fn hook_path(name: &str) -> String {
    let alnum: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    let (id, lower) = (alnum.to_ascii_uppercase(), alnum.to_ascii_lowercase());
    // Obviously fake, so no secret scanner or reader mistakes it for a real hook.
    let secret = format!("fakesecret{lower}xxxxxxxxxxxxxxxxxxxxxxxx");
    format!("/services/T0TESTTEAM/B{id}/{}", &secret[..24])
}

fn channel_name(name: &str) -> String {
    name.trim_start_matches('#').to_lowercase()
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    for (id, stream) in (0u64..).zip(listener.incoming()) {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        if let Ok(clone) = stream.try_clone() {
            shared.lock().conns.insert(id, clone);
        }
        let shared = Arc::clone(shared);
        let connection = thread::Builder::new().name(format!("bed-conn-{id}"));
        let _ = connection.spawn(move || {
            serve(&stream, &shared);
            shared.lock().conns.remove(&id);
        });
    }
}

/// What the bed answers to one request.
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Sent as `Retry-After: N` (whole seconds).
    pub retry_after: Option<u64>,
    /// Headers besides content-type, content-length, retry-after and connection.
    pub headers: Vec<(String, String)>,
    /// True when the platform would have posted the message.
    pub delivered: bool,
    /// More of the body, a piece at a time: written chunked after `body` as each arrives,
    /// until the surface drops its sender or the client hangs up ([`Answer::stream`]).
    pub stream: Option<Receiver<String>>,
}

impl Answer {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<String>) -> Answer {
        let body = body.into();
        Answer {
            status,
            content_type,
            body,
            retry_after: None,
            headers: Vec::new(),
            delivered: false,
            stream: None,
        }
    }

    /// This status with `first` as the body's start and then whatever `rest` brings, as a
    /// chunked body that ends when the surface drops the sender. An empty piece writes
    /// nothing, so a surface may send `""` to learn whether the client is still there.
    pub fn stream(
        status: u16,
        content_type: &'static str,
        first: impl Into<String>,
        rest: Receiver<String>,
    ) -> Answer {
        Answer {
            stream: Some(rest),
            ..Answer::new(status, content_type, first)
        }
    }

    /// HTTP 200 with a JSON body.
    pub fn json(body: &Value) -> Answer {
        Answer::new(200, JSON, body.to_string())
    }

    /// This status with a JSON body.
    pub fn json_status(status: u16, body: &Value) -> Answer {
        Answer::new(status, JSON, body.to_string())
    }

    /// Marks the answer as a delivery, for [`Bed::delivered`].
    pub fn delivered(mut self) -> Answer {
        self.delivered = true;
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Answer {
        self.retry_after = Some(secs);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Webhook 429s come with an empty body, as the SDK's mock server has it (§1.4; the real
    /// body is unconfirmed); the Web API's with `ratelimited` JSON (§2.5).
    pub fn rate_limited(path: &str, secs: u64) -> Answer {
        let mut answer = if path.starts_with("/api/") {
            Answer::new(429, JSON, r#"{"ok":false,"error":"ratelimited"}"#)
        } else {
            Answer::new(429, HOOK_TYPE, "")
        };
        answer.retry_after = Some(secs);
        answer
    }
}

fn serve(stream: &TcpStream, shared: &Shared) {
    // One write per answer and no Nagle delay, so keep-alive round trips stay fast.
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = (BufReader::new(stream), stream);
    while !shared.stopping.load(Ordering::SeqCst) {
        let (mut request, keep_alive) = match read_request(&mut reader, &mut writer) {
            Ok(Some(read)) => read,
            Ok(None) => break,
            Err(_) => {
                let _ = write_answer(&mut writer, &Answer::new(400, PLAIN, "bad request"), false);
                break;
            }
        };
        let seq = {
            let mut state = shared.lock();
            state.arrivals += 1;
            state.arrivals
        };
        let reply = respond(shared, &request);
        let delivered = reply.record(&mut request);
        // Recorded before the answer leaves, so a client that has its answer finds the record.
        shared.record(seq, request, delivered);
        match reply {
            Wire::Whole(mut answer) => {
                let written = match answer.stream.take() {
                    Some(rest) => write_stream(stream, &mut writer, &answer, &rest, keep_alive),
                    None => write_answer(&mut writer, &answer, keep_alive),
                };
                if written.is_err() || !keep_alive {
                    break;
                }
            }
            Wire::Hangup { reset: false, .. } => break,
            Wire::Hangup { reset: true, .. } => return reset(stream),
            Wire::Cut(answer) => {
                let _ = write_cut(&mut writer, &answer);
                return reset(stream);
            }
            Wire::Flood(answer, length) => {
                let _ = flood(&mut writer, &answer, length);
                break;
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// How the bed answers one request on the wire, faults included.
enum Wire {
    /// The answer, written whole.
    Whole(Answer),
    /// No answer: the connection is closed, or reset when `reset`. `delivered` when the
    /// platform had posted the message before the line went dead.
    Hangup { reset: bool, delivered: bool },
    /// The answer's head and half its body, then a reset.
    Cut(Answer),
    /// The answer's head, then its body followed by spaces: chunked without end (`None`),
    /// or `Some(length)` bytes in all.
    Flood(Answer, Option<u64>),
}

impl Wire {
    /// Notes on `request` what it was answered; true when the platform posted it.
    fn record(&self, request: &mut Request) -> bool {
        let answer = match self {
            Wire::Hangup { delivered, .. } => return *delivered,
            Wire::Whole(answer) | Wire::Cut(answer) | Wire::Flood(answer, _) => answer,
        };
        request.status = answer.status;
        request.response = answer.body.clone();
        answer.delivered
    }
}

/// Ends the connection with a TCP reset rather than a close: SO_LINGER of zero makes the
/// last close of the socket (ours, once the caller and `conns` drop theirs) send RST.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a pointer to a live `linger` of the size passed.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// The answer to `request`.
fn respond(shared: &Shared, request: &Request) -> Wire {
    let (fault, pause) = {
        let mut state = shared.lock();
        (state.take_fault(&request.path), state.pause)
    };
    Wire::Whole(match fault {
        None => {
            thread::sleep(pause.unwrap_or_default());
            answer(shared, request)
        }
        Some(Fault::Slow(pause)) => {
            thread::sleep(pause);
            answer(shared, request)
        }
        Some(Fault::Drop) => {
            return Wire::Hangup {
                reset: false,
                delivered: false,
            };
        }
        Some(Fault::Reset) => {
            let delivered = answer(shared, request).delivered;
            return Wire::Hangup {
                reset: true,
                delivered,
            };
        }
        Some(Fault::ResetMidBody) => return Wire::Cut(answer(shared, request)),
        Some(Fault::Endless(status, text)) => {
            return Wire::Flood(Answer::new(status, PLAIN, text), None);
        }
        Some(Fault::Huge(status, text, length)) => {
            return Wire::Flood(Answer::new(status, PLAIN, text), Some(length));
        }
        Some(Fault::Status(status, body)) => Answer::new(status, PLAIN, body),
        Some(Fault::Json(status, body)) => Answer::new(status, JSON, body),
        Some(Fault::RateLimit(secs)) => match shared.lock().surface(&request.path) {
            Some(surface) => surface.throttled(secs),
            None => Answer::rate_limited(&request.path, secs),
        },
    })
}

/// A surface's answer that may wait or stream, found without the bed's lock held; else
/// the bed's own answer.
fn answer(shared: &Shared, request: &Request) -> Answer {
    let surface = shared.lock().surface(&request.path);
    let mut limit = |key: &str| shared.lock().take(key);
    let unlocked = surface.and_then(|s| s.answer_unlocked(request, &mut limit));
    unlocked.unwrap_or_else(|| route(shared, request))
}

fn route(shared: &Shared, request: &Request) -> Answer {
    let mut state = shared.lock();
    if let Some(surface) = state.surface(&request.path) {
        let mut limit = |key: &str| state.take(key);
        return surface.answer(request, &mut limit);
    }
    match request.path.strip_prefix("/api/") {
        Some(method @ ("chat.postMessage" | "chat.update")) => {
            post_message(&mut state, request, method == "chat.update")
        }
        Some("chat.scheduleMessage") => scheduled::schedule(&mut state, request),
        Some("chat.deleteScheduledMessage") => scheduled::delete(&mut state, request),
        Some("apps.connections.open") => socket_mode::open(&mut state, request),
        Some(method) if slack_reads::serves(method) => {
            slack_reads::answer(&mut state, request, method)
        }
        Some(_) => Answer::json(&json!({"ok": false, "error": "unknown_method"})),
        None if request.path.starts_with("/services/") => webhook(&mut state, request),
        None => Answer::new(404, PLAIN, "not found"),
    }
}

/// An incoming webhook (§1): 200 `ok`, or a status with the bare error code as the body.
fn webhook(state: &mut State, request: &Request) -> Answer {
    let fail = |status, code: &str| Answer::new(status, HOOK_TYPE, code);
    if request.method != "POST" {
        return fail(405, "invalid_method");
    }
    // A hook the bed never handed out is as dead as a removed one.
    match state.hooks.get(&request.path) {
        None => return fail(404, "no_service"),
        Some(Some((status, code))) => return fail(*status, code),
        Some(None) => {}
    }
    if let Err(secs) = state.take(&request.path) {
        return Answer::rate_limited(&request.path, secs);
    }
    // `channel`, `username` and `icon_*` are ignored by app webhooks, not refused (§1.1).
    let Ok(message @ Value::Object(_)) = serde_json::from_slice(&request.body) else {
        return fail(400, "invalid_payload");
    };
    match check_message(&message) {
        // Webhooks give no detail on invalid blocks, unlike the Web API (§1.3).
        Err((code, _)) => fail(400, code),
        Ok(()) => Answer {
            delivered: true,
            ..fail(200, "ok")
        },
    }
}

enum Reply {
    Posted(Value),
    Refused(Value),
    Limited(u64),
}

/// `chat.postMessage` (§2): every refusal but a rate limit is HTTP 200 with `ok: false`.
/// chat.postMessage, or chat.update when `update` (§2.2: same auth and checks; an
/// update names an existing message by `channel` and `ts`).
fn post_message(state: &mut State, request: &Request, update: bool) -> Answer {
    let content_type = request.header("content-type").unwrap_or("");
    let mut warnings = vec![];
    if !content_type.to_ascii_lowercase().contains("charset") {
        warnings.push("missing_charset");
    }
    let (mut body, delivered) = match post(state, request, &mut warnings, update) {
        Reply::Posted(body) => (body, true),
        Reply::Refused(body) => (body, false),
        Reply::Limited(secs) => return Answer::rate_limited(&request.path, secs),
    };
    // Real captures show the charset warning on refusals as well as successes (§2.1).
    if !warnings.is_empty() {
        body["warning"] = warnings.join(",").into();
        body["response_metadata"]["warnings"] = json!(warnings);
    }
    Answer {
        delivered,
        ..Answer::json(&body)
    }
}

fn post(state: &mut State, request: &Request, warnings: &mut Vec<&str>, update: bool) -> Reply {
    let refuse = |code: &str| Reply::Refused(json!({"ok": false, "error": code}));
    let auth = request
        .header("authorization")
        .unwrap_or("")
        .split_once(' ');
    let token = auth.filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
    let Some(token) = token.map(|(_, t)| t.trim()).filter(|t| !t.is_empty()) else {
        return refuse("not_authed");
    };
    if !state.tokens.contains(token) {
        return refuse("invalid_auth");
    }
    let message = match serde_json::from_slice(&request.body) {
        Ok(message @ Value::Object(_)) => message,
        Ok(_) => return refuse("json_not_object"),
        Err(_) => return refuse("invalid_json"),
    };
    let Some(channel) = message["channel"].as_str().and_then(|c| state.channel(c)) else {
        return refuse("channel_not_found");
    };
    if !channel.member {
        return refuse("not_in_channel");
    }
    // Slack counts calls, so a refused message still spends a token (§2.5).
    if let Err(secs) = state.take(&format!("{token} {}", channel.id)) {
        return Reply::Limited(secs);
    }
    if let Err((code, errors)) = check_message(&message) {
        let mut body = json!({"ok": false, "error": code});
        if !errors.is_empty() {
            let messages: Vec<String> = errors.iter().map(|e| format!("[ERROR] {e}")).collect();
            body["errors"] = json!(errors);
            body["response_metadata"] = json!({"messages": messages});
        }
        return Reply::Refused(body);
    }
    if blocks_text(&message["blocks"]) > MAX_BLOCKS_TEXT {
        return refuse("msg_blocks_too_long");
    }
    if let Err(code) = slack_reads::metadata(&message) {
        return refuse(code);
    }
    let ts = if update {
        let ts = message["ts"].as_str().unwrap_or("").to_owned();
        if !state.messages.contains(&channel.id, &ts) {
            return refuse("message_not_found");
        }
        // chat.update does not truncate as chat.postMessage does (§2.4).
        if message["text"].as_str().unwrap_or("").chars().count() > MAX_UPDATE_TEXT {
            return refuse("msg_too_long");
        }
        ts
    } else {
        state.next_ts()
    };
    let mut text = message["text"].as_str().unwrap_or("").to_owned();
    let truncated = text.chars().count() > MAX_TEXT;
    if truncated {
        text = text.chars().take(MAX_TEXT).collect();
        warnings.push("message_truncated");
    }
    let mut posted = json!({"type": "message", "subtype": "bot_message", "text": text,
                            "ts": ts, "bot_id": "B0TESTBOT"});
    for key in ["blocks", "attachments", "thread_ts"] {
        if !message[key].is_null() {
            posted[key] = message[key].clone();
        }
    }
    let saved = state.messages.save(&channel.id, &message, &posted, update);
    // An update answers the message as it now stands; a post, as it was sent.
    let shown = if update { saved } else { posted };
    let mut body = json!({"ok": true, "channel": channel.id, "ts": ts, "message": shown});
    if truncated {
        body["response_metadata"]["messages"] = json!([TRUNCATED]);
    }
    Reply::Posted(body)
}

/// The characters of every string in `value`'s `text` members, nested ones included.
fn blocks_text(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(blocks_text).sum(),
        Value::Object(map) => map
            .iter()
            .map(|(key, v)| match v {
                Value::String(s) if key == "text" => s.chars().count(),
                v => blocks_text(v),
            })
            .sum(),
        _ => 0,
    }
}

/// The checks webhooks and the Web API share: something to show, ≤100 attachments, valid
/// Block Kit at the top level and inside each attachment (§3).
fn check_message(message: &Value) -> Result<(), (&'static str, Vec<String>)> {
    let shown = |key: &str| match &message[key] {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    };
    if !["text", "blocks", "attachments"].into_iter().any(shown) {
        return Err(("no_text", vec![]));
    }
    let attachments = message["attachments"].as_array().map_or(&[][..], |a| a);
    if attachments.len() > 100 {
        return Err(("too_many_attachments", vec![]));
    }
    let mut check = Check(vec![], HashSet::new());
    check.blocks(message, "");
    for (i, attachment) in attachments.iter().enumerate() {
        check.blocks(attachment, &format!("/attachments/{i}"));
    }
    match check.0 {
        errors if errors.is_empty() => Ok(()),
        errors => Err(("invalid_blocks", errors)),
    }
}

/// Block Kit errors in Slack's words, `<what> [json-pointer:<where>]` (§2.2), and the
/// action IDs seen so far, which must be unique within a message (§2.8). Absent keys index
/// as `null`, so a missing field fails the same way as a mistyped one.
struct Check(Vec<String>, HashSet<String>);

impl Check {
    fn fail(&mut self, what: impl std::fmt::Display, at: &str) {
        self.0.push(format!("{what} [json-pointer:{at}]"));
    }

    /// Slack counts characters, not bytes: an emoji is one.
    fn chars(&mut self, value: &Value, at: &str, min: usize, max: usize) {
        match value.as_str().map(|s| s.chars().count()) {
            None => self.fail("must be a string", at),
            Some(n) if n < min => {
                self.fail(format_args!("must be more than {} characters", min - 1), at)
            }
            Some(n) if n > max => {
                self.fail(format_args!("must be less than {} characters", max + 1), at)
            }
            Some(_) => {}
        }
    }

    /// Optional strings, checked only when present.
    fn limits(&mut self, object: &Value, at: &str, limits: &[(&str, usize)]) {
        for &(key, max) in limits.iter().filter(|(key, _)| !object[key].is_null()) {
            self.chars(&object[key], &format!("{at}/{key}"), 0, max);
        }
    }

    fn text(&mut self, text: &Value, at: &str, max: usize, plain_only: bool) {
        match text["type"].as_str() {
            Some("plain_text") => {}
            Some("mrkdwn") if !plain_only => {}
            _ if plain_only => return self.fail("must be a plain_text text object", at),
            _ => return self.fail("must be a plain_text or mrkdwn text object", at),
        }
        self.chars(&text["text"], &format!("{at}/text"), 1, max);
    }

    /// `parent[key]` must be an array of at most `max` items; `check` runs on each.
    fn each(
        &mut self,
        parent: &Value,
        at: &str,
        key: &str,
        max: usize,
        check: impl Fn(&mut Self, &Value, &str),
    ) {
        let at = format!("{at}/{key}");
        let Some(items) = parent[key].as_array() else {
            return self.fail("must be an array", &at);
        };
        if items.len() > max {
            self.fail(format_args!("no more than {max} items allowed"), &at);
        }
        for (i, item) in items.iter().enumerate() {
            check(self, item, &format!("{at}/{i}"));
        }
    }

    fn blocks(&mut self, parent: &Value, at: &str) {
        if !parent["blocks"].is_null() {
            self.each(parent, at, "blocks", 50, Self::block);
        }
    }

    fn block(&mut self, block: &Value, at: &str) {
        self.limits(block, at, &[("block_id", 255)]);
        let at_ = |key: &str| format!("{at}/{key}");
        let has = |key: &str| !block[key].is_null();
        match block["type"].as_str() {
            Some("divider" | "rich_text") => {}
            Some("header") => self.text(&block["text"], &at_("text"), 150, true),
            Some("section") => {
                if !has("text") && !has("fields") {
                    self.fail("must provide either text or fields", at);
                }
                if has("text") {
                    self.text(&block["text"], &at_("text"), 3000, false);
                }
                if has("fields") {
                    self.each(block, at, "fields", 10, |c, f, at| {
                        c.text(f, at, 2000, false)
                    });
                }
                if has("accessory") {
                    self.element(&block["accessory"], &at_("accessory"));
                }
            }
            Some("context") => self.each(block, at, "elements", 10, |c, element, at| {
                if element["type"] != "image" {
                    c.text(element, at, usize::MAX, false);
                }
            }),
            Some("actions") => self.each(block, at, "elements", 25, Self::element),
            Some("image") => {
                self.chars(&block["image_url"], &at_("image_url"), 1, 3000);
                self.chars(&block["alt_text"], &at_("alt_text"), 1, 2000);
                if has("title") {
                    self.text(&block["title"], &at_("title"), 2000, true);
                }
            }
            Some("markdown") => self.chars(&block["text"], &at_("text"), 1, 12_000),
            _ => self.fail("unsupported block type", &at_("type")),
        }
    }

    /// Buttons are checked in full; other interactive elements are beyond chime's needs and
    /// pass unchecked.
    fn element(&mut self, element: &Value, at: &str) {
        if element["type"] == "button" {
            self.text(&element["text"], &format!("{at}/text"), 75, true);
            let limits = [("url", 3000), ("value", 2000), ("action_id", 255)];
            self.limits(element, at, &limits);
            self.button_style(&element["style"], &format!("{at}/style"));
        }
        if let Some(id) = element["action_id"].as_str()
            && !self.1.insert(id.to_owned())
        {
            // Slack's wording, and whether it counts per block or per message, are
            // unconfirmed (§2.8).
            self.fail(
                "must be unique within the message",
                &format!("{at}/action_id"),
            );
        }
    }

    /// A button is `primary`, `danger`, or has no style at all (§2.8; the wording is the bed's).
    fn button_style(&mut self, style: &Value, at: &str) {
        if !style.is_null() && !matches!(style.as_str(), Some("primary" | "danger")) {
            self.fail("must be one of primary, danger", at);
        }
    }
}

/// Reads one request and whether the connection stays open after it; `Ok(None)` is a client
/// that closed an idle connection.
fn read_request(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
) -> io::Result<Option<(Request, bool)>> {
    let mut line = String::new();
    // RFC 9112 §2.2: ignore empty lines before a request line.
    while line.trim().is_empty() {
        line.clear();
        if read_line(reader, &mut line)? == 0 {
            return Ok(None);
        }
    }
    let parts: Vec<&str> = line.split_whitespace().collect();
    let [method, target, version] = parts[..] else {
        return Err(bad("request line"));
    };
    if !target.starts_with('/') || !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(bad("request target or version"));
    }
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (target, None),
    };
    let mut request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query,
        headers: vec![],
        body: vec![],
        status: 0,
        response: String::new(),
    };
    loop {
        let mut line = String::new();
        if read_line(reader, &mut line)? == 0 || request.headers.len() > MAX_HEADERS {
            return Err(bad("headers"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        match line.split_once(':') {
            Some((name, value)) if !name.is_empty() && !name.contains(char::is_whitespace) => {
                let header = (name.to_ascii_lowercase(), value.trim().to_owned());
                request.headers.push(header);
            }
            _ => return Err(bad("header line")),
        }
    }
    let has = |name, token: &str| {
        let mut tokens = request.header(name).unwrap_or("").split(',');
        tokens.any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let keep_alive = if version == "HTTP/1.0" {
        has("connection", "keep-alive")
    } else {
        !has("connection", "close")
    };
    // curl waits a second for this before sending a large body.
    if has("expect", "100-continue") {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    if has("transfer-encoding", "chunked") {
        request.body = read_chunked(reader)?;
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().map_err(|_| bad("content-length"))?;
        if length > MAX_BODY {
            return Err(bad("body too large"));
        }
        request.body = vec![0; length];
        reader.read_exact(&mut request.body)?;
    }
    Ok(Some((request, keep_alive)))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = vec![];
    let mut line = String::new();
    loop {
        line.clear();
        read_line(reader, &mut line)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("chunk size"))?;
        if size == 0 {
            break;
        }
        if size > MAX_BODY - body.len() {
            return Err(bad("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        read_line(reader, &mut line)?;
        if !line.trim_end_matches(['\r', '\n']).is_empty() {
            return Err(bad("chunk end"));
        }
    }
    // Trailers, if any, end with an empty line.
    loop {
        line.clear();
        if read_line(reader, &mut line)? == 0 || line.trim().is_empty() {
            return Ok(body);
        }
    }
}

fn read_line(reader: &mut impl BufRead, line: &mut String) -> io::Result<usize> {
    let read = reader.take(MAX_LINE).read_line(line)?;
    if read as u64 == MAX_LINE && !line.ends_with('\n') {
        return Err(bad("line too long"));
    }
    Ok(read)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn write_answer(writer: &mut impl Write, answer: &Answer, keep_alive: bool) -> io::Result<()> {
    let length = format!("content-length: {}", answer.body.len());
    let mut head = head(answer, &length, keep_alive);
    head.push_str(&answer.body);
    writer.write_all(head.as_bytes())?;
    writer.flush()
}

/// The status line and headers of `answer`, framed by `framing` (a content-length or
/// transfer-encoding header), up to and including the empty line.
fn head(answer: &Answer, framing: &str, keep_alive: bool) -> String {
    // Clients read the code, not the phrase; a few names keep curl -v readable.
    let reason = match answer.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let (status, kind) = (answer.status, answer.content_type);
    let mut head = format!("HTTP/1.1 {status} {reason}\r\ncontent-type: {kind}\r\n{framing}\r\n");
    if let Some(secs) = answer.retry_after {
        head.push_str(&format!("retry-after: {secs}\r\n"));
    }
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    head.push_str(&format!("connection: {connection}\r\n\r\n"));
    head
}

/// The head of `answer`, its body, then each piece `rest` brings, chunked; the body ends
/// when the surface drops its sender, and an error says the client hung up.
fn write_stream(
    stream: &TcpStream,
    writer: &mut impl Write,
    answer: &Answer,
    rest: &Receiver<String>,
    keep_alive: bool,
) -> io::Result<()> {
    let head = head(answer, "transfer-encoding: chunked", keep_alive);
    writer.write_all(head.as_bytes())?;
    write_chunk(writer, &answer.body)?;
    loop {
        // A client that hangs up on a quiet stream is seen soon, not at the next write, so
        // a surface that counts its listeners (with empty pieces) is soon right.
        let quiet = match rest.recv_timeout(HANGUP_CHECK) {
            Ok(piece) if piece.is_empty() => true,
            Ok(piece) => {
                write_chunk(writer, &piece)?;
                false
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if quiet && hung_up(stream) {
            return Err(io::ErrorKind::ConnectionAborted.into());
        }
    }
    writer.write_all(b"0\r\n\r\n")?;
    writer.flush()
}

fn write_chunk(writer: &mut impl Write, piece: &str) -> io::Result<()> {
    // An empty chunk would end the body.
    if piece.is_empty() {
        return Ok(());
    }
    writer.write_all(format!("{:x}\r\n{piece}\r\n", piece.len()).as_bytes())?;
    writer.flush()
}

/// True once the client has closed its end: the socket reads as ended, or fails.
fn hung_up(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let peeked = stream.peek(&mut [0; 1]);
    let _ = stream.set_nonblocking(false);
    match peeked {
        Ok(read) => read == 0,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    }
}

/// The head of `answer` and the first half of its body (at least one byte short of the
/// length it announces), for a reset to cut.
fn write_cut(writer: &mut impl Write, answer: &Answer) -> io::Result<()> {
    let body = answer.body.as_bytes();
    let length = format!("content-length: {}", body.len().max(1));
    writer.write_all(head(answer, &length, false).as_bytes())?;
    writer.write_all(&body[..body.len() / 2])?;
    writer.flush()
}

/// The head of `answer`, its body, then spaces: `length` bytes in all, or chunked for as
/// long as the client reads. Ends with an error once the client hangs up.
fn flood(writer: &mut impl Write, answer: &Answer, length: Option<u64>) -> io::Result<()> {
    let framing = match length {
        Some(length) => format!("content-length: {length}"),
        None => "transfer-encoding: chunked".to_owned(),
    };
    writer.write_all(head(answer, &framing, false).as_bytes())?;
    let filler = vec![b' '; 64 << 10];
    let mut left = length.unwrap_or(u64::MAX);
    let mut block = answer.body.as_bytes();
    while left > 0 {
        let take = block.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let data = &block[..take];
        if take == 0 {
            // An empty chunk would end the body.
        } else if length.is_some() {
            writer.write_all(data)?;
        } else {
            writer.write_all(format!("{take:x}\r\n").as_bytes())?;
            writer.write_all(data)?;
            writer.write_all(b"\r\n")?;
        }
        left -= take as u64;
        block = &filler;
    }
    writer.flush()
}

/// How Slack renders a mrkdwn text: the spans between ``` fences are code, the rest
/// formatted text, in order (§1.4). A fence inside a code block ends it there, as Slack's
/// renderer does, so a text whose code block closes early shows as several spans.
pub fn mrkdwn_spans(text: &str) -> Vec<(bool, String)> {
    text.split("```")
        .enumerate()
        .filter(|(_, span)| !span.is_empty())
        .map(|(i, span)| (i % 2 == 1, span.to_owned()))
        .collect()
}

/// The lines a Slack payload carries (a `chime pipe` batch's sections),
/// code fences removed.
pub fn lines_of(payload: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for block in payload["blocks"].as_array().into_iter().flatten() {
        if block["type"] != "section" {
            continue;
        }
        let text = block["text"]["text"].as_str().unwrap();
        let inner = text
            .strip_prefix("```\n")
            .and_then(|t| t.strip_suffix("\n```"))
            .unwrap_or(text);
        out.extend(inner.split('\n').map(str::to_owned));
    }
    out
}

/// Every line the bed's Slack payloads delivered, in arrival order.
pub fn delivered_lines(bed: &Bed) -> Vec<String> {
    bed.delivered()
        .iter()
        .flat_map(|r| lines_of(&r.json()))
        .collect()
}
