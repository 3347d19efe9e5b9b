//! A stand-in for an ntfy server's publish endpoint (PLATFORMS.md §9), mounted on the test
//! bed under `/ntfy/`, so a profile's `url` is `{bed}/ntfy/<topic>`.
//!
//! It owns what ntfy checks on a publish: the topic name, access to protected topics (401
//! for unknown credentials, 403 for credentials or anonymous users without write access),
//! the header parameters and their aliases (RFC 2047 encoded words decoded, as ntfy's
//! `maybeDecodeHeader` does), the priority, the 4,096-byte message limit of a server
//! without attachments (`40014 attachments not allowed`), and the 4,000-byte push to
//! phones, which a long title or click URL alone can fill: such a message is published
//! but never reaches a phone, so it is not recorded as delivered. Errors are ntfy's
//! `{code, http, error, link}` JSON; a 429 carries no `Retry-After`, as ntfy sends none.
//!
//! For questions asked through ntfy it also owns action buttons (`actions.rs`) and the
//! other direction: subscriptions that stream what is published (`subscribe.rs`), read
//! access to protected topics, and the phone app's press of an `http` action.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use super::bed::{Answer, Request, Surface};

mod actions;
mod subscribe;

pub use actions::Action;

pub const PREFIX: &str = "/ntfy/";
const BODY_MAX: usize = 4096;
/// ntfy caps a push to Android, Firebase's message as JSON, at 4,000 bytes by cutting its
/// `message`; nothing else is cut, and a push over the limit without it is refused by
/// Firebase, so phones never see the message (`server/server_firebase.go`,
/// `fcmMessageLimit` and `maybeTruncateFCMMessage`).
pub const PUSH_MAX: usize = 4000;

/// One message ntfy would have published.
#[derive(Clone, Debug)]
pub struct Published {
    pub topic: String,
    pub title: Option<String>,
    pub priority: u8,
    pub tags: Vec<String>,
    pub click: Option<String>,
    pub markdown: bool,
    pub message: String,
    /// An attachment's name and bytes, on a server that takes attachments.
    pub attachment: Option<(String, Vec<u8>)>,
    /// A file already online (`Attach`), with its name (`Filename`).
    pub attach: Option<(String, String)>,
    /// When a scheduled message (`At`, `Delay`, `In`) is to go out, in seconds since the epoch.
    pub at: Option<u64>,
    /// Its action buttons (`Actions`), at most three.
    pub actions: Vec<Action>,
    /// Its message ID, 12 characters as ntfy's are.
    pub id: String,
    /// When it was published (or is due), in seconds since the epoch.
    pub time: u64,
}

/// `DefaultCacheDuration`: a message's `expires` is this long after its time.
const CACHE_SECS: u64 = 12 * 3600;

impl Published {
    /// The message as ntfy answers its publish and sends it to subscribers (`message` in
    /// `types.go`, `omitempty` fields left out).
    pub fn event(&self) -> Value {
        let mut body = json!({"id": self.id, "time": self.time, "expires": self.time + CACHE_SECS,
            "event": "message", "topic": self.topic, "message": self.message});
        if let Some(title) = &self.title {
            body["title"] = title.as_str().into();
        }
        if self.priority != 3 {
            body["priority"] = self.priority.into();
        }
        if !self.tags.is_empty() {
            body["tags"] = json!(self.tags);
        }
        if let Some(click) = &self.click {
            body["click"] = click.as_str().into();
        }
        if !self.actions.is_empty() {
            body["actions"] = self.actions.iter().map(Action::json).collect();
        }
        if self.markdown {
            body["content_type"] = "text/markdown".into();
        }
        body
    }
}

/// ntfy's `DefaultMinDelay` and `DefaultMaxDelay` (`message-delay-limit`), in seconds.
const MIN_DELAY: u64 = 10;
const MAX_DELAY: u64 = 3 * 86_400;

/// A scheduled message's time (`server.go` `parsePublishParams`): a unix timestamp here, as
/// chime sends it; ntfy also reads durations and natural times, which chime never sends.
fn delay(request: &Request) -> Result<Option<u64>, Answer> {
    let names = ["x-at", "at", "x-in", "in", "x-delay", "delay"];
    let Some(value) = names.iter().find_map(|n| request.header(n)) else {
        return Ok(None);
    };
    let Ok(at) = value.trim().parse::<u64>() else {
        return Err(fail(
            400,
            40004,
            "invalid delay parameter: unable to parse delay",
        ));
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if at < now + MIN_DELAY {
        return Err(fail(
            400,
            40005,
            "invalid delay parameter: too small, please refer to the docs",
        ));
    }
    if at > now + MAX_DELAY {
        return Err(fail(
            400,
            40006,
            "invalid delay parameter: too large, please refer to the docs",
        ));
    }
    Ok(Some(at))
}

#[derive(Default)]
struct State {
    /// Protected topics, with the Authorization values allowed to read and to write each.
    protected: HashMap<String, Access>,
    published: Vec<Published>,
    /// `attachment-file-size-limit`, on a server with an attachment cache.
    attachments: Option<usize>,
    subscribers: Vec<Arc<subscribe::Subscriber>>,
    /// `keepalive-interval`; `None`: ntfy's default.
    keepalive: Option<Duration>,
}

#[derive(Default)]
struct Access {
    read: Vec<String>,
    write: Vec<String>,
}

#[derive(Default)]
pub struct Ntfy {
    state: Mutex<State>,
}

impl Ntfy {
    pub fn new() -> Arc<Ntfy> {
        Arc::new(Ntfy::default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Only these `Authorization` values (`Bearer tk_…`, `Basic …`) may publish to `topic`
    /// or subscribe to it (ntfy's `rw` access).
    pub fn protect(&self, topic: &str, allowed: &[&str]) {
        self.protect_access(topic, allowed, allowed);
    }

    /// `topic` may be read by `read` and written by `write` only, as ntfy's `ro` and `wo`
    /// access entries allow.
    pub fn protect_access(&self, topic: &str, read: &[&str], write: &[&str]) {
        let owned = |list: &[&str]| list.iter().map(|a| (*a).to_owned()).collect();
        let access = Access {
            read: owned(read),
            write: owned(write),
        };
        self.lock().protected.insert(topic.to_owned(), access);
    }

    /// 401 for credentials ntfy does not know, 403 for a user (or anonymous) without
    /// `read` (or write) access to a protected `topic`.
    fn authorize(&self, request: &Request, topic: &str, write: bool) -> Result<(), Answer> {
        let auth = request.header("authorization");
        let state = self.lock();
        let everyone = state.protected.values();
        let mut known = everyone.flat_map(|a| a.read.iter().chain(&a.write));
        if auth.is_some_and(|a| !known.any(|v| v == a)) {
            return Err(fail(401, 40101, "unauthorized"));
        }
        let allowed = state.protected.get(topic).is_none_or(|access| {
            let list = if write { &access.write } else { &access.read };
            auth.is_some_and(|a| list.iter().any(|v| v == a))
        });
        if !allowed {
            return Err(fail(403, 40301, "forbidden"));
        }
        Ok(())
    }

    /// Takes attachments up to `limit` bytes, as a server with an attachment
    /// cache does (ntfy.sh: 15M): a `Filename` header, or a body over 4,096
    /// bytes, makes the body a file; past the limit, 413 with code 41301.
    pub fn take_attachments(&self, limit: usize) {
        self.lock().attachments = Some(limit);
    }

    /// Every message published so far, in order.
    pub fn published(&self) -> Vec<Published> {
        self.lock().published.clone()
    }

    fn publish(&self, request: &Request, topic: &str) -> Answer {
        let param = |names: &[&str]| {
            let value = names.iter().find_map(|n| request.header(n))?;
            Some(decode_header(value))
        };
        let priority = match param(&["x-priority", "priority", "prio", "p"]) {
            None => 3,
            Some(p) => match parse_priority(&p) {
                Some(p) => p,
                None => return fail(400, 40007, "invalid priority parameter"),
            },
        };
        let at = match delay(request) {
            Ok(at) => at,
            Err(refused) => return refused,
        };
        let actions = match param(&["x-actions", "actions", "action"]) {
            None => vec![],
            Some(value) => match actions::parse(&value) {
                Ok(actions) => actions,
                Err(why) => {
                    let error = format!("invalid request: actions invalid; {why}");
                    return fail_at(400, 40018, &error, ACTIONS_LINK);
                }
            },
        };
        let filename = param(&["x-filename", "filename", "file", "f"]);
        let attach = param(&["x-attach", "attach", "a"]);
        // With `Attach`, the body is the message and `Filename` names the URL's file.
        let as_file = attach.is_none() && (filename.is_some() || request.body.len() > BODY_MAX);
        let (message, attachment) = match (as_file, self.lock().attachments) {
            (true, Some(limit)) if request.body.len() > limit => {
                return fail(
                    413,
                    41301,
                    "invalid request: attachment too large, or bandwidth limit reached",
                );
            }
            (true, Some(_)) => {
                let name = filename.clone().unwrap_or_else(|| "attachment.bin".into());
                let message = param(&["x-message", "message", "m"])
                    .unwrap_or_else(|| format!("You received a file: {name}"));
                (message, Some((name, request.body.clone())))
            }
            (true, None) => return fail(400, 40014, "invalid request: attachments not allowed"),
            (false, _) => match String::from_utf8(request.body.clone()) {
                Ok(message) => (message, None),
                Err(_) => return fail(400, 40014, "invalid request: attachments not allowed"),
            },
        };
        let markdown = param(&["x-markdown", "markdown", "md"])
            .is_some_and(|m| matches!(m.to_ascii_lowercase().as_str(), "yes" | "true" | "1"))
            || request
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/markdown"));
        let published = Published {
            topic: topic.to_owned(),
            title: param(&["x-title", "title", "ti", "t"]),
            priority,
            tags: param(&["x-tags", "tags", "tag", "ta"])
                .map(|t| t.split(',').map(|t| t.trim().to_owned()).collect())
                .unwrap_or_default(),
            click: param(&["x-click", "click"]),
            markdown,
            message,
            attachment,
            attach: attach.map(|url| (filename.clone().unwrap_or_default(), url)),
            at,
            actions,
            id: String::new(),
            time: at.unwrap_or_else(subscribe::unix_now),
        };
        let pushed = push_size(topic, &published) <= PUSH_MAX;
        let body = {
            let mut state = self.lock();
            let mut published = published;
            published.id = format!("msg{:09}", state.published.len() + 1);
            let body = published.event();
            state.published.push(published.clone());
            drop(state);
            self.fan_out(&published);
            body
        };
        // Published, and shown in the web app, but a phone never gets it.
        if pushed {
            Answer::json(&body).delivered()
        } else {
            Answer::json(&body)
        }
    }
}

/// The bytes of `published`'s Firebase message once ntfy has cut its `message` to nothing:
/// what no cutting can bring under [`PUSH_MAX`] (`toFirebaseMessage`: the data map, with
/// the topic beside it).
fn push_size(topic: &str, published: &Published) -> usize {
    let data = json!({"id": "msg000000001", "time": "1700000000", "event": "message",
        "topic": topic, "priority": published.priority.to_string(),
        "tags": published.tags.join(","), "click": published.click.clone().unwrap_or_default(),
        "title": published.title.clone().unwrap_or_default(), "message": "",
        "content_type": if published.markdown { "text/markdown" } else { "" }});
    json!({"topic": topic, "data": data, "android": {"priority": "high"}})
        .to_string()
        .len()
}

impl Surface for Ntfy {
    fn answer(&self, request: &Request, limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        let topic = request.path.strip_prefix(PREFIX).unwrap_or_default();
        if !valid_topic(topic) {
            return fail(400, 40009, "invalid request: topic invalid");
        }
        if !matches!(request.method.as_str(), "POST" | "PUT") {
            return fail(405, 40501, "method not allowed");
        }
        if let Err(refused) = self.authorize(request, topic, true) {
            return refused;
        }
        if limit("ntfy visitor").is_err() {
            return self.throttled(0);
        }
        self.publish(request, topic)
    }

    /// A subscription streams for as long as its client listens.
    fn answer_unlocked(
        &self,
        request: &Request,
        limit: &mut dyn FnMut(&str) -> Result<(), u64>,
    ) -> Option<Answer> {
        let rest = request.path.strip_prefix(PREFIX)?;
        let topic = rest.strip_suffix("/json").filter(|t| valid_topic(t))?;
        if request.method != "GET" {
            return None;
        }
        let refused = self.authorize(request, topic, false).err();
        let limited = || limit("ntfy visitor").is_err().then(|| self.throttled(0));
        Some(
            refused
                .or_else(limited)
                .unwrap_or_else(|| self.subscribe(request, topic)),
        )
    }

    /// ntfy sets no `Retry-After` (§9): a client must back off on its own.
    fn throttled(&self, _secs: u64) -> Answer {
        fail(429, 42901, "limit reached: too many requests")
    }
}

/// ntfy's error JSON, with its trailing newline.
pub fn error_body(status: u16, code: u32, error: &str) -> String {
    let body = json!({"code": code, "http": status, "error": error,
                      "link": "https://ntfy.sh/docs/publish/"});
    format!("{body}\n")
}

fn valid_topic(topic: &str) -> bool {
    let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    !topic.is_empty() && topic.len() <= 64 && topic.bytes().all(valid)
}

const ACTIONS_LINK: &str = "https://ntfy.sh/docs/publish/#action-buttons";

/// ntfy's error JSON with the error's own documentation link (`errors.go`).
fn fail_at(status: u16, code: u32, error: &str, link: &str) -> Answer {
    let body = json!({"code": code, "http": status, "error": error, "link": link});
    Answer::new(status, "application/json", format!("{body}\n"))
        .header("access-control-allow-origin", "*")
}

fn fail(status: u16, code: u32, error: &str) -> Answer {
    Answer::new(status, "application/json", error_body(status, code, error))
        .header("access-control-allow-origin", "*")
}

fn parse_priority(value: &str) -> Option<u8> {
    Some(match value.trim().to_ascii_lowercase().as_str() {
        "1" | "min" => 1,
        "2" | "low" => 2,
        "" | "3" | "default" => 3,
        "4" | "high" => 4,
        "5" | "max" | "urgent" => 5,
        _ => return None,
    })
}

/// Decodes RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?UTF-8?Q?…?=`); whitespace between
/// two encoded words is dropped, as the RFC says. Anything else is returned as it is.
pub fn decode_header(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_owned();
    }
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut last_was_word = false;
    for token in value.split_inclusive(' ') {
        let word = token.trim_end_matches(' ');
        match decode_word(word) {
            Some(decoded) => {
                if !last_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&decoded);
                last_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(word);
                last_was_word = false;
            }
        }
        pending_space = token[word.len()..].to_owned();
    }
    out.push_str(&pending_space);
    out
}

fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let (charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64_decode(text)?,
        "Q" | "q" => {
            let mut bytes = Vec::new();
            let mut rest = text.as_bytes();
            while let Some((&b, tail)) = rest.split_first() {
                match b {
                    b'_' => bytes.push(b' '),
                    b'=' if tail.len() >= 2 => {
                        let hex = std::str::from_utf8(&tail[..2]).ok()?;
                        bytes.push(u8::from_str_radix(hex, 16).ok()?);
                        rest = &tail[2..];
                        continue;
                    }
                    b => bytes.push(b),
                }
                rest = tail;
            }
            bytes
        }
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let text = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::new();
    for chunk in text.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// The text a Markdown reader sees of what chime's escaping produced: backslash escapes
/// and the hard line breaks' trailing spaces removed.
pub fn unmarkdown(markdown: &str) -> String {
    let mut out = String::new();
    let mut chars = markdown.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.next_if(|n| c == '\\' && n.is_ascii_punctuation()) {
            Some(escaped) => out.push(escaped),
            None => out.push(c),
        }
    }
    out.replace("  \n", "\n")
}
