//! A stand-in for a Matrix homeserver's client-server API (PLATFORMS.md, "Matrix"),
//! mounted on the bed under `/matrix/`, so a profile's `homeserver` is `{bed}/matrix`.
//!
//! It answers as Synapse does (`rest/client/room.py`, `rest/client/transactions.py`,
//! `handlers/message.py`, `handlers/directory.py`, `api/errors.py`, `event_auth.py`):
//! the access token from `Authorization: Bearer` (or the `access_token` query, which
//! Synapse still reads and the spec dropped), 401 `M_MISSING_TOKEN` / `M_UNKNOWN_TOKEN`
//! without a known one; `PUT …/send/{type}/{txnId}` answered from the transaction
//! cache when the same token already PUT that path, so a retry gets the first event
//! and posts nothing; a room that does not exist or that the bot has not joined 403
//! `M_FORBIDDEN`; a relation to an unknown event, or a thread off an event that is
//! itself a relation, 400; an event whose PDU would pass 65,536 bytes 413
//! `M_TOO_LARGE`; a throttled send 429 `M_LIMIT_EXCEEDED` with `retry_after_ms` (and
//! `Retry-After` when told), refused again until the wait is over, as a rate limiter
//! does. Errors are not cached, as Synapse drops a failed transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::bed::{Answer, Request, Surface};

pub const PREFIX: &str = "/matrix/";
/// A Synapse-shaped access token, obviously fake.
pub const TOKEN: &str = "syt_Y2hpbWU_fakeMatrixTokenForTests_2cX9vQ";
pub const BOT: &str = "@chime:example.org";
/// The room the bot has joined, and its alias.
pub const ROOM: &str = "!ops1234:example.org";
pub const ALIAS: &str = "#ops:example.org";
/// A room that exists, which the bot has not joined.
pub const OTHER_ROOM: &str = "!elsewhere:example.org";
/// Another room the bot has joined, for `--channel`.
pub const SECOND_ROOM: &str = "!deploys:example.org";
/// The spec's limit on a whole event ("Size limits").
pub const PDU_MAX: usize = 65_536;
const API: &str = "/matrix/_matrix/client/v3/";

/// One event the server made.
#[derive(Clone, Debug)]
pub struct Event {
    pub event_id: String,
    pub room: String,
    pub txn_id: String,
    pub content: Value,
}

impl Event {
    pub fn body(&self) -> &str {
        self.content["body"].as_str().unwrap_or_default()
    }

    pub fn html(&self) -> &str {
        self.content["formatted_body"].as_str().unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    events: Vec<Event>,
    /// (token, path) → the answer a retransmission gets.
    transactions: HashMap<(String, String), Value>,
    directory_calls: usize,
    /// A wait the next send is told, and whether `Retry-After` says it too.
    throttle: Option<(u64, bool)>,
    throttled_until: Option<Instant>,
    /// Sends that came back before the wait was over.
    early: usize,
    /// Sends that are taken, then answered 502 by the proxy in front.
    gateway_errors: usize,
}

#[derive(Default)]
pub struct Matrix {
    state: Mutex<State>,
}

impl Matrix {
    pub fn new() -> Arc<Matrix> {
        Arc::new(Matrix::default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The events made, in order.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    /// How many times the room directory was asked.
    pub fn directory_calls(&self) -> usize {
        self.lock().directory_calls
    }

    /// The next send is throttled for `ms`, said in the body (and in `Retry-After`
    /// when `header`); sends before then are refused again, and counted.
    pub fn throttle_next(&self, ms: u64, header: bool) {
        self.lock().throttle = Some((ms, header));
    }

    /// How many sends came back while a wait was still running.
    pub fn early_retries(&self) -> usize {
        self.lock().early
    }

    /// The next `n` sends are made (or found in the transaction cache) and then
    /// answered 502 by a proxy that gave up waiting: the answer is lost.
    pub fn gateway_errors(&self, n: usize) {
        self.lock().gateway_errors = n;
    }
}

fn error(status: u16, errcode: &str, message: &str) -> Answer {
    Answer::json_status(status, &json!({"errcode": errcode, "error": message}))
}

/// `%XX` decoded, as the server reads a path parameter.
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = segment
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The token as Synapse's `get_access_token_from_request` finds it.
fn token(request: &Request) -> Option<String> {
    if let Some(auth) = request.header("authorization") {
        return auth.strip_prefix("Bearer ").map(str::to_owned);
    }
    let query = request.query.as_deref().unwrap_or("");
    query
        .split('&')
        .find_map(|p| p.strip_prefix("access_token="))
        .map(decode)
}

fn joined(room: &str) -> bool {
    room == ROOM || room == SECOND_ROOM
}

fn exists(room: &str) -> bool {
    joined(room) || room == OTHER_ROOM
}

/// The event as federation would carry it, for the size check: what the server
/// adds around the content (ids, references, hashes, a signature).
fn pdu_len(room: &str, content: &Value) -> usize {
    let id = "$".to_owned() + &"x".repeat(43);
    let pdu = json!({
        "auth_events": [id, id, id],
        "content": content,
        "depth": 1234,
        "hashes": {"sha256": "h".repeat(43)},
        "origin_server_ts": 1_764_000_000_000u64,
        "prev_events": [id],
        "room_id": room,
        "sender": BOT,
        "signatures": {"example.org": {"ed25519:a_AbCd": "s".repeat(86)}},
        "type": "m.room.message",
    });
    pdu.to_string().len()
}

impl Surface for Matrix {
    fn answer(&self, request: &Request, _limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        let Some(route) = request.path.strip_prefix(API) else {
            return error(404, "M_UNRECOGNIZED", "Unrecognized request");
        };
        let parts: Vec<String> = route.split('/').map(decode).collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let known = matches!(
            (request.method.as_str(), parts.as_slice()),
            ("GET", ["account", "whoami"])
                | ("GET", ["directory", "room", _])
                | ("GET", ["rooms", _, "joined_members"])
                | ("PUT", ["rooms", _, "send", _, _])
        );
        if !known {
            return error(404, "M_UNRECOGNIZED", "Unrecognized request");
        }
        let Some(token) = token(request) else {
            return error(401, "M_MISSING_TOKEN", "Missing access token");
        };
        if token != TOKEN {
            let body = json!({"errcode": "M_UNKNOWN_TOKEN", "error": "Unrecognised access token",
                "soft_logout": false});
            return Answer::json_status(401, &body);
        }
        let mut state = self.lock();
        match parts.as_slice() {
            ["account", "whoami"] => {
                Answer::json(&json!({"user_id": BOT, "device_id": "CHIMEBOT", "is_guest": false}))
            }
            ["directory", "room", alias] => {
                state.directory_calls += 1;
                match *alias {
                    ALIAS => Answer::json(&json!({"room_id": ROOM, "servers": ["example.org"]})),
                    other => error(404, "M_NOT_FOUND", &format!("Room alias {other} not found")),
                }
            }
            ["rooms", room, "joined_members"] if joined(room) => Answer::json(
                &json!({"joined": {BOT: {"display_name": "chime", "avatar_url": null}}}),
            ),
            ["rooms", room, "joined_members"] => error(
                403,
                "M_FORBIDDEN",
                &format!("User {BOT} not in room {room}, and room previews are disabled"),
            ),
            ["rooms", room, "send", kind, txn] => {
                let key = (token, request.path.clone());
                state.send(request, key, room, kind, txn)
            }
            _ => unreachable!("matched above"),
        }
    }
}

impl State {
    /// A send, as `RoomSendEventRestServlet.on_PUT` takes it: the transaction
    /// cache first, then the rate limit, the room, the content and its relation.
    fn send(
        &mut self,
        request: &Request,
        key: (String, String),
        room: &str,
        kind: &str,
        txn: &str,
    ) -> Answer {
        let answer = match self.transactions.get(&key) {
            Some(cached) => Answer::json(cached),
            None => match self.make(request, room, kind, txn) {
                Ok(answer) => {
                    self.transactions.insert(key, answer.clone());
                    Answer::json(&answer).delivered()
                }
                Err(refused) => return refused,
            },
        };
        if self.gateway_errors > 0 {
            self.gateway_errors -= 1;
            let page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
            let mut lost = Answer::new(502, "text/html", page);
            lost.delivered = answer.delivered;
            return lost;
        }
        answer
    }

    fn make(
        &mut self,
        request: &Request,
        room: &str,
        kind: &str,
        txn: &str,
    ) -> Result<Value, Answer> {
        self.throttled()?;
        if !exists(room) {
            return Err(error(403, "M_FORBIDDEN", "Unknown room"));
        }
        if !joined(room) {
            return Err(error(
                403,
                "M_FORBIDDEN",
                &format!("User {BOT} not in room {room} (None)"),
            ));
        }
        let Ok(content @ Value::Object(_)) = serde_json::from_slice::<Value>(&request.body) else {
            return Err(error(400, "M_NOT_JSON", "Content not JSON."));
        };
        if kind != "m.room.message" {
            return Err(error(
                400,
                "M_UNKNOWN",
                "chime's stand-in only keeps m.room.message",
            ));
        }
        if pdu_len(room, &content) > PDU_MAX {
            return Err(error(413, "M_TOO_LARGE", "event too large"));
        }
        self.check_relation(room, &content)?;
        let event_id = format!("$ev{:04}-{}", self.events.len() + 1, "a".repeat(8));
        self.events.push(Event {
            event_id: event_id.clone(),
            room: room.to_owned(),
            txn_id: txn.to_owned(),
            content,
        });
        Ok(json!({"event_id": event_id}))
    }

    /// `_validate_event_relation`: the target is known and in the room, and no
    /// thread starts off an event that is itself a relation.
    fn check_relation(&self, room: &str, content: &Value) -> Result<(), Answer> {
        let relation = &content["m.relates_to"];
        let Some(target) = relation["event_id"].as_str() else {
            return Ok(());
        };
        let Some(parent) = self.events.iter().find(|e| e.event_id == target) else {
            return Err(error(
                400,
                "M_UNKNOWN",
                "Can't send relation to unknown event",
            ));
        };
        if parent.room != room {
            return Err(error(
                400,
                "M_UNKNOWN",
                "Relations must be in the same room",
            ));
        }
        let parent_related = parent.content["m.relates_to"]["rel_type"].is_string();
        if relation["rel_type"] == "m.thread" && parent_related {
            return Err(error(
                400,
                "M_UNKNOWN",
                "Cannot start threads from an event with a relation",
            ));
        }
        Ok(())
    }

    /// Synapse's `LimitExceededError`: the wait in ms in the body, rounded up to
    /// seconds in `Retry-After`.
    fn throttled(&mut self) -> Result<(), Answer> {
        let now = Instant::now();
        let (wait, header) = match (self.throttle.take(), self.throttled_until) {
            (Some((ms, header)), _) => {
                self.throttled_until = Some(now + Duration::from_millis(ms));
                (ms, header)
            }
            (None, Some(until)) if now < until => {
                self.early += 1;
                ((until - now).as_millis() as u64 + 1, false)
            }
            _ => return Ok(()),
        };
        let body = json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests",
            "retry_after_ms": wait});
        let answer = Answer::json_status(429, &body);
        Err(match header {
            true => answer.retry_after(wait.div_ceil(1000)),
            false => answer,
        })
    }
}
