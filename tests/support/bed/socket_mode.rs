//! Slack's Socket Mode (PLATFORMS.md §2.8): `apps.connections.open` hands an app-level
//! token a one-time WebSocket URL; the WebSocket, on a second loopback listener, greets with
//! `hello` and then carries envelopes — a button click (`interactive`, `block_actions`), or
//! any envelope a test writes — that the app must acknowledge with `{"envelope_id"}` on the
//! same connection within 3 seconds.
//!
//! Slack hands each envelope to any one of the app's open connections; the bed takes them
//! in turn, or the one a test names. What Slack does when an app is slow or a connection
//! goes away is the point of these tests, so the bed does it on purpose: an envelope not
//! acknowledged in 3 s is delivered again (`retry_attempt` + 1, `retry_reason` `timeout`) up
//! to 3 times; one whose connection closes before its acknowledgement goes to another open
//! connection, or waits for the next to open, so no click is lost over a reconnect.
//! `disconnect` warns a connection, which closes a grace period later. Every connection has
//! a thread that polls (20 ms): it sends what is queued for it, reads what the client says,
//! and runs the clock for every envelope. The HTTP side, records and rate buckets are the
//! bed's; the messages and people a click refers to are `slack_reads.rs`'s.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::handshake::server::{ErrorResponse, Request as Upgrade, Response};
use tungstenite::{Message, WebSocket};

use super::slack_reads::TEAM;
use super::{Answer, Bed, Request, Shared, State};

/// The app every envelope and URL names.
pub const APP_ID: &str = "A0TESTAPP";
/// How long Slack waits for an acknowledgement (§2.8).
const ACK_WINDOW: Duration = Duration::from_secs(3);
/// Deliveries after the first, as Slack's Events API makes them (§2.8).
const MAX_RETRIES: u64 = 3;
/// Slack warns about 10 s before it closes a connection; the bed waits 1 s so a test of a
/// reconnect takes one second, not ten. A client that reconnects at once never notices.
const GRACE: Duration = Duration::from_secs(1);
/// Open connections an app may hold; one more is told `too_many_websockets` (§2.8).
const MAX_LINKS: usize = 10;
/// How often a connection's thread looks for work.
const TICK: Duration = Duration::from_millis(20);
/// The verification token in a click's payload: deprecated by Slack, still sent.
const VERIFICATION: &str = "bedverificationtoken00000";

/// Which connection the bed hands an envelope to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Whichever open connection's turn it is, as Slack picks one.
    Any,
    /// This one (numbered in opening order from 0), e.g. another process's; if it has
    /// closed, any open one, as for [`Via::Any`].
    Connection(usize),
}

/// Socket Mode's side of the bed's state.
#[derive(Default)]
pub struct Links {
    app_tokens: HashSet<String>,
    disabled: bool,
    /// The WebSocket listener, started with the first app token.
    addr: Option<SocketAddr>,
    /// Tickets handed out, and whether each was used: a ticket opens one connection.
    tickets: HashMap<String, bool>,
    links: Vec<Link>,
    envelopes: Vec<Envelope>,
    /// A counter for tickets, envelope and trigger IDs.
    issued: u64,
    /// Whose turn [`Via::Any`] is.
    turn: usize,
}

/// One WebSocket connection, by its number.
struct Link {
    open: bool,
    /// Frames waiting for the connection's thread to send.
    outbox: VecDeque<String>,
    /// When a `disconnect` warning's grace period ends.
    closing_at: Option<Instant>,
}

struct Envelope {
    id: String,
    body: Value,
    via: Via,
    /// The connection its current delivery went to, and when.
    on: Option<(usize, Instant)>,
    deliveries: Vec<usize>,
    acked: Option<Instant>,
    /// Some delivery went unacknowledged for 3 s.
    timed_out: bool,
    /// Retries used up: Slack gives up on it.
    abandoned: bool,
}

impl Envelope {
    fn is_late(&self, now: Instant) -> bool {
        let waited = |at: Instant| self.acked.unwrap_or(now).duration_since(at) >= ACK_WINDOW;
        self.timed_out || self.on.is_some_and(|(_, at)| waited(at))
    }
}

impl Links {
    fn next(&mut self) -> u64 {
        self.issued += 1;
        self.issued
    }

    fn open_links(&self) -> Vec<usize> {
        let open = self.links.iter().enumerate().filter(|(_, l)| l.open);
        open.map(|(i, _)| i).collect()
    }

    fn envelope(&self, id: &str) -> Option<&Envelope> {
        self.envelopes.iter().find(|e| e.id == id)
    }

    /// The connection for a delivery: the one asked for while it is open, else the next
    /// in turn, preferring connections not warned of a disconnect.
    fn pick(&mut self, via: Via) -> Option<usize> {
        if let Via::Connection(i) = via
            && self.links.get(i).is_some_and(|l| l.open)
        {
            return Some(i);
        }
        let open = self.open_links();
        let settled: Vec<usize> = open
            .iter()
            .copied()
            .filter(|&i| self.links[i].closing_at.is_none())
            .collect();
        let pool = if settled.is_empty() { open } else { settled };
        if pool.is_empty() {
            return None;
        }
        self.turn += 1;
        Some(pool[self.turn % pool.len()])
    }

    /// Queues `body` for delivery and says its envelope ID.
    fn enqueue(&mut self, mut body: Value, via: Via) -> String {
        let id = match body["envelope_id"].as_str() {
            Some(id) => id.to_owned(),
            None => envelope_id(self.next()),
        };
        body["envelope_id"] = id.clone().into();
        self.envelopes.push(Envelope {
            id: id.clone(),
            body,
            via,
            on: None,
            deliveries: vec![],
            acked: None,
            timed_out: false,
            abandoned: false,
        });
        id
    }

    /// Runs every envelope's clock, then delivers what waits for a connection.
    fn pump(&mut self, now: Instant) {
        for k in 0..self.envelopes.len() {
            self.expire(k, now);
            let envelope = &self.envelopes[k];
            if envelope.on.is_some() || envelope.acked.is_some() || envelope.abandoned {
                continue;
            }
            let Some(conn) = self.pick(envelope.via) else {
                continue;
            };
            let envelope = &mut self.envelopes[k];
            envelope.on = Some((conn, now));
            envelope.deliveries.push(conn);
            self.links[conn].outbox.push_back(envelope.body.to_string());
        }
    }

    /// Takes back a delivery whose connection closed unacknowledged, and readies one that
    /// waited 3 s for a retry on any open connection.
    fn expire(&mut self, k: usize, now: Instant) {
        let envelope = &mut self.envelopes[k];
        let Some((conn, at)) = envelope.on else {
            return;
        };
        if envelope.acked.is_some() || envelope.abandoned {
            return;
        }
        if !self.links[conn].open {
            envelope.on = None;
            return;
        }
        if now.duration_since(at) < ACK_WINDOW {
            return;
        }
        envelope.timed_out = true;
        let attempt = envelope.body["retry_attempt"].as_u64().unwrap_or(0);
        if attempt >= MAX_RETRIES {
            envelope.abandoned = true;
            return;
        }
        envelope.body["retry_attempt"] = (attempt + 1).into();
        envelope.body["retry_reason"] = "timeout".into();
        envelope.via = Via::Any;
        envelope.on = None;
    }

    /// Numbers a new connection and queues its greeting: `hello`, or, past the limit,
    /// `too_many_websockets` and a close.
    fn join(&mut self) -> usize {
        let id = self.links.len();
        let open = self.open_links().len();
        let (frame, admitted) = match open < MAX_LINKS {
            true => (hello(id, open + 1), true),
            false => (disconnect_frame(id, "too_many_websockets"), false),
        };
        self.links.push(Link {
            open: admitted,
            outbox: VecDeque::from([frame.to_string()]),
            closing_at: None,
        });
        id
    }

    /// What connection `conn` sends now, and whether it closes after. A connection past its
    /// grace period sends nothing more: what was queued for it goes elsewhere.
    fn step(&mut self, conn: usize, now: Instant) -> (Vec<String>, bool) {
        self.pump(now);
        let link = &mut self.links[conn];
        let due = link.closing_at.is_some_and(|at| now >= at);
        if link.open && due {
            link.open = false;
            link.outbox.clear();
        }
        let frames = link.outbox.drain(..).collect();
        (frames, !link.open)
    }

    fn leave(&mut self, conn: usize) {
        self.links[conn].open = false;
    }

    /// Notes an acknowledgement that came on `conn`: Slack takes one only on a connection
    /// the envelope was delivered on.
    fn ack(&mut self, conn: usize, frame: &str, now: Instant) {
        let Ok(ack) = serde_json::from_str::<Value>(frame) else {
            return;
        };
        let Some(id) = ack["envelope_id"].as_str() else {
            return;
        };
        let found = self.envelopes.iter_mut().find(|e| e.id == id);
        if let Some(envelope) = found.filter(|e| e.deliveries.contains(&conn)) {
            envelope.acked = envelope.acked.or(Some(now));
        }
    }

    fn warn(&mut self, conn: usize, reason: &str, now: Instant) {
        let link = &mut self.links[conn];
        link.outbox
            .push_back(disconnect_frame(conn, reason).to_string());
        link.closing_at = Some(link.closing_at.unwrap_or(now + GRACE));
    }
}

/// A UUID-shaped envelope ID, as Slack's are.
fn envelope_id(n: u64) -> String {
    format!("{:08x}-bed0-4000-8000-{n:012x}", n)
}

fn hello(conn: usize, open: usize) -> Value {
    json!({"type": "hello", "num_connections": open,
           "debug_info": {"host": format!("applink-bed-{conn}"), "build_number": 10,
                          "approximate_connection_time": 18060},
           "connection_info": {"app_id": APP_ID}})
}

fn disconnect_frame(conn: usize, reason: &str) -> Value {
    json!({"type": "disconnect", "reason": reason,
           "debug_info": {"host": format!("applink-bed-{conn}")}})
}

/// `apps.connections.open` (§2.8): an app-level token's one-time WebSocket URL.
pub fn open(state: &mut State, request: &Request) -> Answer {
    let refuse = |code: &str| Answer::json(&json!({"ok": false, "error": code}));
    let auth = request.header("authorization").unwrap_or("");
    let token = auth
        .split_once(' ')
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"));
    // Slack refuses the token as a POST parameter, so only the header counts.
    let Some(token) = token.map(|(_, t)| t.trim()).filter(|t| !t.is_empty()) else {
        return refuse("not_authed");
    };
    if state.tokens.contains(token) || token.starts_with("xoxb-") || token.starts_with("xoxp-") {
        return refuse("not_allowed_token_type");
    }
    if !state.socket.app_tokens.contains(token) {
        return refuse("invalid_auth");
    }
    if let Err(secs) = state.take(&format!("apps.connections.open {token}")) {
        return Answer::rate_limited(&request.path, secs);
    }
    if state.socket.disabled {
        return refuse("socket_mode_not_enabled");
    }
    let addr = state.socket.addr.expect("an app token starts the listener");
    let ticket = format!("bed-ticket-{:016x}", state.socket.next());
    state.socket.tickets.insert(ticket.clone(), false);
    let url = format!("ws://{addr}/link/?ticket={ticket}&app_id={APP_ID}");
    Answer::json(&json!({"ok": true, "url": url}))
}

/// Binds the WebSocket listener and serves it until the bed stops.
fn listen(shared: Arc<Shared>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("test bed: bind the WebSocket port");
    // Non-blocking, so the accept loop sees the bed stop without a wake-up connection.
    let listening = listener.set_nonblocking(true);
    listening.expect("test bed: a non-blocking WebSocket listener");
    let addr = listener.local_addr().expect("test bed: the WebSocket port");
    let acceptor = thread::Builder::new().name("bed-socket-accept".into());
    let spawned = acceptor.spawn(move || accept_links(&listener, &shared));
    spawned.expect("test bed: spawn the WebSocket accept thread");
    addr
}

fn accept_links(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stopping.load(Ordering::SeqCst) {
        let Ok((stream, _)) = listener.accept() else {
            thread::sleep(TICK);
            continue;
        };
        let shared = Arc::clone(shared);
        let link = thread::Builder::new().name("bed-socket-link".into());
        let _ = link.spawn(move || serve_link(stream, &shared));
    }
}

/// One WebSocket connection, from the handshake to the close.
fn serve_link(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    // A client gets 5 s to finish its handshake; after it, reads poll.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    #[expect(
        clippy::result_large_err,
        reason = "tungstenite's callback fixes the types"
    )]
    let admit = |upgrade: &Upgrade, response| admit(shared, upgrade, response);
    let Ok(mut ws) = tungstenite::accept_hdr(stream, admit) else {
        return;
    };
    let _ = ws.get_ref().set_read_timeout(Some(TICK));
    let conn = shared.lock().socket.join();
    shared.recorded.notify_all();
    talk(&mut ws, conn, shared);
    shared.lock().socket.leave(conn);
    shared.recorded.notify_all();
    let _ = ws.get_ref().shutdown(Shutdown::Both);
}

/// The handshake goes through for `/link/` with a ticket handed out and not yet used.
/// Slack's answer to a spent ticket is unconfirmed (§2.8); the bed refuses the upgrade.
#[expect(
    clippy::result_large_err,
    reason = "tungstenite's callback fixes the types"
)]
fn admit(
    shared: &Shared,
    upgrade: &Upgrade,
    response: Response,
) -> Result<Response, ErrorResponse> {
    let query = upgrade.uri().query().unwrap_or("").as_bytes();
    let mut pairs = url::form_urlencoded::parse(query);
    let ticket = pairs
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v.into_owned());
    let mut state = shared.lock();
    let unused = ticket.and_then(|t| state.socket.tickets.get_mut(&t));
    match unused.filter(|used| !**used && upgrade.uri().path() == "/link/") {
        Some(used) => {
            *used = true;
            Ok(response)
        }
        None => {
            let refusal = tungstenite::http::Response::builder().status(401);
            Err(refusal
                .body(Some("invalid ticket".to_owned()))
                .expect("a static response"))
        }
    }
}

/// Sends what is queued, reads what the client says, until either side closes.
fn talk(ws: &mut WebSocket<TcpStream>, conn: usize, shared: &Shared) {
    while !shared.stopping.load(Ordering::SeqCst) {
        let (frames, close) = shared.lock().socket.step(conn, Instant::now());
        for frame in frames {
            if ws.send(Message::text(frame)).is_err() {
                return;
            }
        }
        if close {
            shared.recorded.notify_all();
            return close_link(ws);
        }
        match ws.read() {
            Ok(Message::Text(frame)) => {
                shared
                    .lock()
                    .socket
                    .ack(conn, frame.as_str(), Instant::now());
                shared.recorded.notify_all();
            }
            // Pings are answered by tungstenite itself; a close ends the next read.
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if is_quiet(&e) => {}
            Err(_) => return,
        }
    }
}

fn is_quiet(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Starts the close handshake and gives the client a moment to answer it.
fn close_link(ws: &mut WebSocket<TcpStream>) {
    let _ = ws.close(None);
    for _ in 0..10 {
        match ws.read() {
            Err(tungstenite::Error::Io(e)) if is_quiet(&e) => {}
            Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Every button in a message, top-level blocks and attachments' blocks, with its block ID.
fn buttons(message: &Value) -> Vec<(String, Value)> {
    let attachments = message["attachments"].as_array().into_iter().flatten();
    let groups = std::iter::once(&message["blocks"]).chain(attachments.map(|a| &a["blocks"]));
    let mut found = vec![];
    for block in groups.filter_map(Value::as_array).flatten() {
        let block_id = block["block_id"].as_str().unwrap_or("").to_owned();
        let elements = block["elements"].as_array().into_iter().flatten();
        let elements = elements.chain(std::iter::once(&block["accessory"]));
        for button in elements.filter(|e| e["type"] == "button") {
            found.push((block_id.clone(), button.clone()));
        }
    }
    found
}

/// The `actions` entry Slack sends for a click on `button`.
fn action(block_id: &str, button: &Value, action_ts: &str) -> Value {
    let mut action = json!({"action_id": button["action_id"], "block_id": block_id,
                            "text": button["text"], "type": "button", "action_ts": action_ts});
    for key in ["value", "style"] {
        if !button[key].is_null() {
            action[key] = button[key].clone();
        }
    }
    action
}

impl Bed {
    /// Makes `token` a valid app-level token (`xapp-…`) for apps.connections.open, and
    /// starts the WebSocket listener if it is not running yet.
    pub fn add_app_token(&self, token: &str) {
        let mut state = self.shared.lock();
        state.socket.app_tokens.insert(token.to_owned());
        if state.socket.addr.is_none() {
            state.socket.addr = Some(listen(Arc::clone(&self.shared)));
        }
    }

    /// Turns Socket Mode off, as the app's settings page does: every open connection is
    /// told `link_disabled` and closed, and apps.connections.open answers
    /// `socket_mode_not_enabled`.
    pub fn disable_socket_mode(&self) {
        let mut state = self.shared.lock();
        state.socket.disabled = true;
        for conn in state.socket.open_links() {
            state.socket.warn(conn, "link_disabled", Instant::now());
        }
    }

    /// The connections open now, by number (in the order they opened, from 0).
    pub fn connections(&self) -> Vec<usize> {
        self.shared.lock().socket.open_links()
    }

    /// Waits until at least `n` connections are open or `timeout` passes, then returns
    /// [`Bed::connections`].
    pub fn wait_connections(&self, n: usize, timeout: Duration) -> Vec<usize> {
        self.wait_until(timeout, |state| state.socket.open_links().len() >= n);
        self.connections()
    }

    /// Sends `{"type":"disconnect","reason":reason}` on connection `conn` (`warning`,
    /// `refresh_requested`, `link_disabled`) and closes it after a grace period of 1 s.
    pub fn disconnect(&self, conn: usize, reason: &str) {
        let mut state = self.shared.lock();
        let open = state.socket.links.get(conn).is_some_and(|l| l.open);
        assert!(
            open,
            "test bed: connection {conn} is not open to disconnect"
        );
        state.socket.warn(conn, reason, Instant::now());
    }

    /// Clicks the button labelled `label` on message `ts` in `channel_id` as `user_id`:
    /// Slack's `block_actions` envelope goes to the connection `via` picks. Returns its
    /// envelope ID. Panics when the message has no such button.
    pub fn click(
        &self,
        channel_id: &str,
        ts: &str,
        label: &str,
        user_id: &str,
        via: Via,
    ) -> String {
        let url = self.url();
        let mut state = self.shared.lock();
        check_via(&state, via);
        let message = state.messages.raw(channel_id, ts);
        let message = message
            .unwrap_or_else(|| panic!("test bed: no message {ts} in {channel_id} to click on"));
        let found = buttons(&message);
        let Some((block_id, button)) = found.iter().find(|(_, b)| b["text"]["text"] == label)
        else {
            let labels: Vec<&Value> = found.iter().map(|(_, b)| &b["text"]["text"]).collect();
            panic!("test bed: message {ts} has no button {label:?}; its buttons: {labels:?}");
        };
        let handle = state.slack.handle(user_id);
        let name = state
            .channel(channel_id)
            .map(|c| c.name)
            .unwrap_or_default();
        let (n, action_ts) = (state.socket.next(), state.next_ts());
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user_id, "username": handle, "name": handle, "team_id": TEAM},
            "api_app_id": APP_ID, "token": VERIFICATION,
            "container": {"type": "message", "message_ts": ts, "channel_id": channel_id,
                          "is_ephemeral": false},
            "trigger_id": format!("{n}.{n}.bedtrigger{n:08x}"),
            "team": {"id": TEAM, "domain": "bedteam"},
            "enterprise": null, "is_enterprise_install": false,
            "channel": {"id": channel_id, "name": name},
            "message": message,
            "state": {"values": {}},
            "response_url": format!("{url}/actions/{TEAM}/{n}/bedresponseurl"),
            "actions": [action(block_id, button, &action_ts)],
        });
        let envelope = json!({"type": "interactive", "accepts_response_payload": false,
                              "retry_attempt": 0, "retry_reason": "", "payload": payload});
        state.socket.enqueue(envelope, via)
    }

    /// Sends `envelope` (an `events_api` or `slash_commands` one, say) as it is, with an
    /// `envelope_id` added if it has none, and retried like a click. Returns the ID.
    pub fn send_envelope(&self, via: Via, envelope: Value) -> String {
        let mut state = self.shared.lock();
        check_via(&state, via);
        state.socket.enqueue(envelope, via)
    }

    /// Whether the client acknowledged the envelope (on a connection it was delivered on).
    pub fn acked(&self, envelope_id: &str) -> bool {
        let state = self.shared.lock();
        let envelope = state.socket.envelope(envelope_id);
        envelope.is_some_and(|e| e.acked.is_some())
    }

    /// Waits until the envelope is acknowledged or `timeout` passes; says which.
    pub fn wait_acked(&self, envelope_id: &str, timeout: Duration) -> bool {
        let acked = |s: &State| {
            s.socket
                .envelope(envelope_id)
                .is_some_and(|e| e.acked.is_some())
        };
        self.wait_until(timeout, acked);
        self.acked(envelope_id)
    }

    /// How long after its latest delivery the envelope was acknowledged, if it was.
    pub fn acked_after(&self, envelope_id: &str) -> Option<Duration> {
        let state = self.shared.lock();
        let envelope = state.socket.envelope(envelope_id)?;
        let ((_, sent), acked) = (envelope.on?, envelope.acked?);
        Some(acked.saturating_duration_since(sent))
    }

    /// The envelopes some delivery of which went 3 s without an acknowledgement.
    pub fn late_acks(&self) -> Vec<String> {
        let (state, now) = (self.shared.lock(), Instant::now());
        let late = state.socket.envelopes.iter().filter(|e| e.is_late(now));
        late.map(|e| e.id.clone()).collect()
    }

    /// The connections the envelope was delivered on, in order: one per delivery.
    pub fn delivered_on(&self, envelope_id: &str) -> Vec<usize> {
        let state = self.shared.lock();
        let envelope = state.socket.envelope(envelope_id);
        envelope.map(|e| e.deliveries.clone()).unwrap_or_default()
    }

    fn wait_until(&self, timeout: Duration, done: impl Fn(&State) -> bool) {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let waited = self.shared.recorded.wait_timeout(state, left);
            state = waited.unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

/// A test naming a connection that never opened has its numbers wrong: say so now.
fn check_via(state: &State, via: Via) {
    if let Via::Connection(i) = via {
        let opened = state.socket.links.len();
        assert!(
            i < opened,
            "test bed: connection {i} never opened ({opened} have)"
        );
    }
}
