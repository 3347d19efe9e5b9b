//! Subscribing: `GET /<topic>/json`, ntfy's stream of newline-delimited JSON
//! (`server/server.go` `handleSubscribeHTTP`): an `open` event, the cached messages `since`
//! asks for, then each message as it is published and a `keepalive` event every interval
//! (ntfy's default is 45 s, `DefaultKeepaliveInterval`); with `poll=1`, the cached
//! messages alone (all of them unless `since` says otherwise), and the answer ends.
//! `since` is `all`, `latest`, `none`, a message ID (the messages after it; an unknown ID
//! means all, as `messagesSinceID` has it), a unix time (messages at or after it) or a Go
//! duration (`10m`, `1h30m`: messages that recent); anything else is `40008`. Scheduled
//! messages not yet due are not cached messages. Only one topic per request (ntfy also
//! takes `a,b/json`), and no filters (`id`, `message`, `title`, `priority`, `tags`).
//!
//! It also does what the phone app does with an `http` action button (`Ntfy::press`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{Ntfy, PREFIX, Published, fail_at};
use crate::support::bed::{Answer, Request, Surface};

/// `DefaultKeepaliveInterval`.
const KEEPALIVE: Duration = Duration::from_secs(45);
const NDJSON: &str = "application/x-ndjson; charset=utf-8";
const SINCE_LINK: &str = "https://ntfy.sh/docs/subscribe/api/#fetch-cached-messages";

/// One open subscription: the sender of its stream, dropped to end it.
pub(super) struct Subscriber {
    topic: String,
    lines: Mutex<Option<Sender<String>>>,
}

impl Subscriber {
    /// Sends `line`; false once the stream has ended or its client hung up.
    fn send(&self, line: String) -> bool {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.as_ref().is_some_and(|tx| tx.send(line).is_ok())
    }

    fn end(&self) {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

pub(super) fn unix_now() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map_or(0, |d| d.as_secs())
}

/// What `since` asks for.
enum Since {
    None,
    All,
    Latest,
    After(String),
    From(u64),
}

/// `parseSince`.
fn since(value: Option<String>, poll: bool) -> Option<Since> {
    let Some(value) = value else {
        return Some(if poll { Since::All } else { Since::None });
    };
    Some(match value.as_str() {
        "all" => Since::All,
        "latest" => Since::Latest,
        "none" => Since::None,
        id if id.len() == 12 && id.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Since::After(id.to_owned())
        }
        time if time.bytes().all(|b| b.is_ascii_digit()) => Since::From(time.parse().ok()?),
        duration => Since::From(unix_now().saturating_sub(go_duration(duration)?)),
    })
}

/// Whole seconds of a Go `time.ParseDuration` text: numbers, each with a unit.
fn go_duration(text: &str) -> Option<u64> {
    let mut seconds = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        seconds += number.parse::<f64>().ok()? * scale;
        rest = tail;
    }
    (!text.is_empty()).then_some(seconds as u64)
}

/// A parameter as ntfy's `readParam` finds it: a header, else the query.
fn param(request: &Request, names: &[&str]) -> Option<String> {
    let header = names
        .iter()
        .find_map(|n| request.header(n))
        .filter(|v| !v.is_empty());
    let query = || {
        let pairs = request.query.as_deref().unwrap_or_default().split('&');
        let mut pairs = pairs.filter_map(|p| p.split_once('='));
        let found = pairs.find(|(k, v)| names.contains(k) && !v.is_empty());
        found.map(|(_, v)| percent_decode(v))
    };
    header
        .map(str::to_owned)
        .or_else(query)
        .map(|v| v.trim().to_owned())
}

fn percent_decode(text: &str) -> String {
    let mut bytes = vec![];
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let hex = tail.get(..2).and_then(|h| std::str::from_utf8(h).ok());
        if let (b'%', Some(byte)) = (b, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            bytes.push(byte);
            rest = &tail[2..];
        } else {
            bytes.push(if b == b'+' { b' ' } else { b });
            rest = tail;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn boolean(value: Option<String>) -> bool {
    value.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "yes" | "true"))
}

impl Ntfy {
    /// `GET /<topic>/json`, after the topic and read access were checked.
    pub(super) fn subscribe(&self, request: &Request, topic: &str) -> Answer {
        let poll = boolean(param(request, &["x-poll", "poll", "po"]));
        let Some(since) = since(param(request, &["x-since", "since", "si"]), poll) else {
            return fail_at(400, 40008, "invalid since parameter", SINCE_LINK);
        };
        let mut state = self.lock();
        let cached: Vec<String> = cached(&state.published, topic, &since)
            .into_iter()
            .map(line)
            .collect();
        if poll {
            return Answer::new(200, NDJSON, cached.concat())
                .header("access-control-allow-origin", "*");
        }
        let (tx, rx) = mpsc::channel();
        let subscriber = Arc::new(Subscriber {
            topic: topic.to_owned(),
            lines: Mutex::new(Some(tx)),
        });
        state.subscribers.push(Arc::clone(&subscriber));
        let every = state.keepalive.unwrap_or(KEEPALIVE);
        drop(state);
        let keepalive = event("keepalive", topic);
        let _ = thread::Builder::new()
            .name("ntfy-keepalive".into())
            .spawn(move || {
                loop {
                    thread::sleep(every);
                    if !subscriber.send(line_of(&keepalive)) {
                        break;
                    }
                }
            });
        let first = format!("{}{}", line_of(&event("open", topic)), cached.concat());
        Answer::stream(200, NDJSON, first, rx).header("access-control-allow-origin", "*")
    }

    /// Sends a message just published to its topic's subscribers; a due message only.
    pub(super) fn fan_out(&self, published: &Published) {
        if published.at.is_some_and(|at| at > unix_now()) {
            return;
        }
        let line = line(published);
        let mut state = self.lock();
        state
            .subscribers
            .retain(|s| s.topic != published.topic || s.send(line.clone()));
    }

    /// Keepalive events every `every` on subscriptions opened from now on (ntfy's
    /// `keepalive-interval`; 45 s unless set).
    pub fn keepalive(&self, every: Duration) {
        self.lock().keepalive = Some(every);
    }

    /// How many subscriptions to `topic` are open now, their clients still there: a test
    /// waits for chime to be listening before it answers.
    pub fn subscribers(&self, topic: &str) -> usize {
        let mut state = self.lock();
        // An empty piece writes nothing: it only finds the streams whose client left.
        state.subscribers.retain(|s| s.send(String::new()));
        state
            .subscribers
            .iter()
            .filter(|s| s.topic == topic)
            .count()
    }

    /// Waits until `topic` has `n` subscribers or `timeout` passes; true if it has.
    pub fn wait_for_subscribers(&self, topic: &str, n: usize, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.subscribers(topic) < n {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Ends every subscription to `topic`: each stream's body ends, as when ntfy restarts
    /// gracefully.
    pub fn end_subscriptions(&self, topic: &str) {
        let mut state = self.lock();
        state.subscribers.retain(|s| {
            let ours = s.topic == topic;
            if ours {
                s.end();
            }
            !ours
        });
    }

    /// What the phone app does when someone taps the action labelled `label` on the
    /// `index`th message (from 0) published to `topic`: an `http` action's request, its
    /// method (POST unless set), headers and body sent to its URL. A URL into a bed's
    /// `/ntfy/` is answered here directly, so subscribers see what it publishes; any other
    /// `http://` URL is requested over the network. Returns the status and body
    /// answered. Panics when there is no such message, or no `http` action so labelled.
    pub fn press(&self, topic: &str, index: usize, label: &str) -> (u16, String) {
        let published = self.published();
        let mut ours = published.iter().filter(|p| p.topic == topic);
        let Some(message) = ours.nth(index) else {
            panic!("ntfy bed: no message {index} on topic {topic:?}");
        };
        let found = message.actions.iter().find(|a| a.label == label);
        let Some(action) = found.filter(|a| a.action == "http") else {
            let labels: Vec<&str> = message.actions.iter().map(|a| a.label.as_str()).collect();
            panic!(
                "ntfy bed: message {index} on {topic:?} has no http action {label:?}: {labels:?}"
            );
        };
        let method = if action.method.is_empty() {
            "POST"
        } else {
            action.method.as_str()
        };
        let url = action.url.clone().unwrap_or_default();
        let (authority, target) = split_url(&url);
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (target.to_owned(), None),
        };
        let headers = action.headers.iter();
        let headers: Vec<(String, String)> = headers
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let body = action.body.clone().unwrap_or_default().into_bytes();
        if path.starts_with(PREFIX) {
            let request = Request {
                method: method.to_owned(),
                path,
                query,
                headers,
                body,
                status: 0,
                response: String::new(),
            };
            let answer = self.answer(&request, &mut |_| Ok(()));
            return (answer.status, answer.body);
        }
        request_over_network(method, authority, target, &headers, &body)
    }
}

/// `http://host:port/path?query` as (host:port, /path?query).
fn split_url(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    }
}

fn request_over_network(
    method: &str,
    authority: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(authority)
        .unwrap_or_else(|e| panic!("ntfy bed: press: connect to {authority}: {e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n");
    head.push_str(&format!(
        "content-length: {}\r\nuser-agent: ntfy/bed\r\n",
        body.len()
    ));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let sent = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body));
    sent.unwrap_or_else(|e| panic!("ntfy bed: press: send to {authority}: {e}"));
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

fn cached<'a>(published: &'a [Published], topic: &str, since: &Since) -> Vec<&'a Published> {
    let now = unix_now();
    let due = |p: &&Published| p.topic == topic && p.at.is_none_or(|at| at <= now);
    let mine: Vec<&Published> = published.iter().filter(due).collect();
    match since {
        Since::None => vec![],
        Since::All => mine,
        Since::Latest => mine.last().map(|p| vec![*p]).unwrap_or_default(),
        Since::After(id) => match mine.iter().position(|p| &p.id == id) {
            Some(at) => mine[at + 1..].to_vec(),
            None => mine,
        },
        Since::From(time) => mine.into_iter().filter(|p| p.time >= *time).collect(),
    }
}

/// An `open` or `keepalive` event.
fn event(kind: &str, topic: &str) -> Value {
    let id = format!("{kind:.4}{:08}", unix_now() % 100_000_000);
    json!({"id": id, "time": unix_now(), "event": kind, "topic": topic})
}

fn line(published: &Published) -> String {
    line_of(&published.event())
}

fn line_of(event: &Value) -> String {
    format!("{event}\n")
}
