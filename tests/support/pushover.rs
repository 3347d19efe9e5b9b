//! A stand-in for Pushover's Message API (PLATFORMS.md §13), mounted on the bed under
//! `/pushover/`, so a profile's `api_url` is `{bed}/pushover`.
//!
//! It owns what Pushover checks of `POST /1/messages.json`: the application token and the
//! user key (each 30 characters of `[A-Za-z0-9]`, and known), the message (required, at
//! most 1,024 characters), the title (250), the supplementary `url` (512) and `url_title`
//! (100), the priority (-2 to 2) and an emergency's `retry` (required, at least 30) and
//! `expire` (required, at most 10,800). A refusal is a 4xx whose JSON names the parameter
//! as `"invalid"` and lists `errors`, with `"status": 0`; a message taken is
//! `{"status": 1, "request": …}` (and a `receipt` for an emergency). Every answer carries
//! the application's monthly `X-Limit-App-*` headers, and a message past the month's limit
//! is a 429. Bodies are JSON or form-encoded, as the API takes either.
//!
//! Whether Pushover refuses or cuts a value over its limit, and the wording of those
//! errors, are unconfirmed (§13): the stand-in refuses, the stricter reading.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value, json};

use super::bed::{Answer, Request, Surface};

pub const PREFIX: &str = "/pushover/";
pub const MESSAGE_MAX: usize = 1024;
pub const TITLE_MAX: usize = 250;
pub const URL_MAX: usize = 512;
pub const URL_TITLE_MAX: usize = 100;
/// The free monthly messages of one application.
const MONTHLY: u64 = 10_000;

#[derive(Default)]
pub struct Pushover {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    tokens: HashSet<String>,
    users: HashSet<String>,
    /// Messages taken this month, of [`MONTHLY`] (or the limit a test set).
    sent: u64,
    limit: Option<u64>,
    /// Every message taken, as its parameters arrived.
    messages: Vec<Value>,
    requests: u64,
}

impl Pushover {
    pub fn new() -> Arc<Pushover> {
        Arc::new(Pushover::default())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers an application's API token.
    pub fn add_token(&self, token: &str) {
        self.state().tokens.insert(token.to_owned());
    }

    /// Registers a user (or group) key.
    pub fn add_user(&self, user: &str) {
        self.state().users.insert(user.to_owned());
    }

    /// The application has this many messages a month (10,000 unless set).
    pub fn monthly_limit(&self, limit: u64) {
        self.state().limit = Some(limit);
    }

    /// Every message Pushover took, its parameters as sent (credentials included).
    pub fn messages(&self) -> Vec<Value> {
        self.state().messages.clone()
    }
}

/// The request's parameters, from JSON or a form.
fn parameters(request: &Request) -> Option<Map<String, Value>> {
    let content_type = request.header("content-type").unwrap_or("");
    if content_type.starts_with("application/json") {
        return match serde_json::from_slice(&request.body) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        };
    }
    let form = request.text();
    let pairs = form.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k), Value::String(decode(v)))
    });
    Some(pairs.collect())
}

/// `application/x-www-form-urlencoded` decoding.
fn decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A string parameter, or a number written as one (forms carry only strings).
fn text(params: &Map<String, Value>, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn integer(params: &Map<String, Value>, key: &str) -> Option<i64> {
    text(params, key).and_then(|s| s.trim().parse().ok())
}

fn is_key(s: &str) -> bool {
    s.len() == 30 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl State {
    fn request_id(&mut self) -> String {
        self.requests += 1;
        format!("5042853c-402d-4a18-abcb-{:012x}", self.requests)
    }

    fn limit(&self) -> u64 {
        self.limit.unwrap_or(MONTHLY)
    }

    /// The `X-Limit-App-*` headers Pushover adds to every answer for an application.
    fn headed(&self, answer: Answer) -> Answer {
        let remaining = self.limit().saturating_sub(self.sent);
        answer
            .header("x-limit-app-limit", &self.limit().to_string())
            .header("x-limit-app-remaining", &remaining.to_string())
            .header("x-limit-app-reset", "1798761600")
    }

    /// A refusal naming `param` as invalid.
    fn refuse(&mut self, status: u16, param: Option<&str>, error: &str) -> Answer {
        let mut body = json!({"errors": [error], "status": 0, "request": self.request_id()});
        if let Some(param) = param {
            body[param] = "invalid".into();
        }
        Answer::json_status(status, &body)
    }

    fn check(&mut self, p: &Map<String, Value>) -> Result<(), Answer> {
        let token = text(p, "token").unwrap_or_default();
        if !is_key(&token) || !self.tokens.contains(&token) {
            return Err(self.refuse(400, Some("token"), "application token is invalid"));
        }
        let user = text(p, "user").unwrap_or_default();
        if !is_key(&user) || !self.users.contains(&user) {
            let error = "user identifier is not a valid user, group, or subscribed user key, see https://pushover.net/api#identifiers";
            return Err(self.refuse(400, Some("user"), error));
        }
        let message = text(p, "message").unwrap_or_default();
        if message.trim().is_empty() {
            return Err(self.refuse(400, Some("message"), "message cannot be blank"));
        }
        let over = |key: &str, max: usize| text(p, key).is_some_and(|s| s.chars().count() > max);
        let limits = [
            (
                "message",
                MESSAGE_MAX,
                "message cannot be longer than 1024 characters",
            ),
            (
                "title",
                TITLE_MAX,
                "title cannot be longer than 250 characters",
            ),
            ("url", URL_MAX, "url cannot be longer than 512 characters"),
            (
                "url_title",
                URL_TITLE_MAX,
                "url_title cannot be longer than 100 characters",
            ),
        ];
        for (key, max, error) in limits {
            if over(key, max) {
                return Err(self.refuse(400, Some(key), error));
            }
        }
        if text(p, "html").as_deref() == Some("1") && text(p, "monospace").as_deref() == Some("1") {
            let error = "html and monospace cannot be used together";
            return Err(self.refuse(400, Some("monospace"), error));
        }
        let priority = match text(p, "priority") {
            None => 0,
            Some(s) => match s.trim().parse::<i64>() {
                Ok(n) if (-2..=2).contains(&n) => n,
                _ => return Err(self.refuse(400, Some("priority"), "priority is invalid")),
            },
        };
        if priority == 2 {
            match integer(p, "retry") {
                None => {
                    let error = "retry must be supplied with priority=2";
                    return Err(self.refuse(400, Some("retry"), error));
                }
                Some(n) if n < 30 => {
                    let error = "retry must be at least 30 seconds";
                    return Err(self.refuse(400, Some("retry"), error));
                }
                Some(_) => {}
            }
            match integer(p, "expire") {
                None => {
                    let error = "expire must be supplied with priority=2";
                    return Err(self.refuse(400, Some("expire"), error));
                }
                Some(n) if !(1..=10_800).contains(&n) => {
                    let error = "expire must be at most 10800 seconds";
                    return Err(self.refuse(400, Some("expire"), error));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

impl Surface for Pushover {
    fn answer(&self, request: &Request, limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        let mut state = self.state();
        if request.method != "POST" || request.path != "/pushover/1/messages.json" {
            return Answer::new(404, "text/html", "<html><body>Not Found</body></html>");
        }
        let Some(params) = parameters(request) else {
            return state.refuse(400, None, "invalid JSON body");
        };
        if let Err(answer) = state.check(&params) {
            return state.headed(answer);
        }
        let token = text(&params, "token").unwrap_or_default();
        if let Err(secs) = limit(&token) {
            return self.throttled(secs);
        }
        if state.sent >= state.limit() {
            let error =
                "application has exceeded its monthly message limit; upgrade or wait for the reset";
            let answer = state.refuse(429, None, error);
            return state.headed(answer);
        }
        state.sent += 1;
        let mut body = json!({"status": 1, "request": state.request_id()});
        if integer(&params, "priority") == Some(2) {
            body["receipt"] = format!("rfakereceipt{:018}", state.sent).into();
        }
        state.messages.push(Value::Object(params));
        let answer = Answer::json(&body).delivered();
        state.headed(answer)
    }

    fn throttled(&self, secs: u64) -> Answer {
        let body = json!({"errors": ["too many requests"], "status": 0,
            "request": "5042853c-402d-4a18-abcb-000000000429"});
        Answer::json_status(429, &body).retry_after(secs)
    }
}
