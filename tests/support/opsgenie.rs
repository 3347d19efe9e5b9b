//! A stand-in for Opsgenie's Alert API v2 (PLATFORMS.md, "Opsgenie"), mounted on the bed
//! under `/opsgenie/`, so a profile's `api_url` is `{bed}/opsgenie`.
//!
//! It owns what Opsgenie checks: `Authorization: GenieKey <key>` of a known API
//! integration (else 401); on `POST /v2/alerts` a JSON object with a `message` (required,
//! at most 130 characters), an `alias` (512), a `description` (15,000), `details` (string
//! values, 8,000 characters in all), a `source` and a `user` (100 each), an `entity`
//! (512), a `note` (25,000) and a `priority` of P1 to P5 (else 422, its `errors` naming
//! each field); on `POST /v2/alerts/{alias}/close`, `…/acknowledge` and `…/notes` with
//! `identifierType=alias`, a `note` within 25,000 (required for a note). A request taken
//! is a 202 `{"result": "Request will be processed", "took": …, "requestId": …}`, and is
//! processed as Opsgenie would, later: a create while an alert with its alias is open adds
//! to its count; a close, an acknowledge or a note applies to the open alert with the alias,
//! or its request's status is "Alert does not exist". A throttled request is a 429 with
//! `X-RateLimit-State: THROTTLED`.
//!
//! Confirmed: the 202 body, the error envelope (`message`, `took`, `requestId`, `errors`
//! as a map), the status codes and the limits. The words of each error, and whether
//! Opsgenie refuses or cuts a value over its limit, are unconfirmed: the stand-in refuses,
//! the stricter reading.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value, json};

use super::bed::{Answer, Request, Surface};

pub const PREFIX: &str = "/opsgenie/";
pub const MESSAGE_MAX: usize = 130;
pub const DESCRIPTION_MAX: usize = 15_000;
pub const DETAILS_MAX: usize = 8_000;
pub const NOTE_MAX: usize = 25_000;

/// Where an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Open,
    Acknowledged,
    Closed,
}

/// One alert, as Opsgenie keeps it.
#[derive(Clone, Debug)]
pub struct Alert {
    pub alias: String,
    pub state: State,
    /// How many creates it took (Opsgenie's `count`).
    pub count: u32,
    /// The create that opened it, as it arrived.
    pub created: Value,
    pub notes: Vec<String>,
    /// What was done to it, in order: `create`, `close`, `acknowledge`, `notes`.
    pub actions: Vec<String>,
}

#[derive(Default)]
pub struct Opsgenie {
    state: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    keys: HashSet<String>,
    alerts: Vec<Alert>,
    /// Each request taken, with what became of it ("Created alert", "Alert does not exist").
    statuses: Vec<(String, String)>,
    throttle: usize,
    requests: u64,
}

impl Opsgenie {
    pub fn new() -> Arc<Opsgenie> {
        Arc::new(Opsgenie::default())
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers an API integration's key.
    pub fn add_key(&self, key: &str) {
        self.inner().keys.insert(key.to_owned());
    }

    /// The next `n` authenticated requests are throttled (429).
    pub fn throttle(&self, n: usize) {
        self.inner().throttle = n;
    }

    /// Every alert, oldest first.
    pub fn alerts(&self) -> Vec<Alert> {
        self.inner().alerts.clone()
    }

    /// What became of each request taken, in order: (action, status).
    pub fn statuses(&self) -> Vec<(String, String)> {
        self.inner().statuses.clone()
    }
}

/// `%XX` decoding of a path segment.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
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

fn chars(body: &Map<String, Value>, key: &str) -> usize {
    body.get(key)
        .and_then(Value::as_str)
        .map_or(0, |s| s.chars().count())
}

/// Every field Opsgenie would refuse in `body`, for `op` ("create" or an action).
fn problems(op: &str, body: &Map<String, Value>) -> Map<String, Value> {
    let mut errors = Map::new();
    let mut limit = |key: &str, max: usize| {
        if chars(body, key) > max {
            let error = format!("{key} can not be longer than {max} characters.");
            errors.insert(key.to_owned(), error.into());
        }
    };
    limit("source", 100);
    limit("user", 100);
    limit("note", NOTE_MAX);
    if op == "create" {
        limit("message", MESSAGE_MAX);
        limit("alias", 512);
        limit("description", DESCRIPTION_MAX);
        limit("entity", 512);
    }
    if op == "create"
        && body
            .get("message")
            .and_then(Value::as_str)
            .is_none_or(|m| m.trim().is_empty())
    {
        errors.insert("message".into(), "Message can not be empty.".into());
    }
    if op == "notes" && chars(body, "note") == 0 {
        errors.insert("note".into(), "Note can not be empty.".into());
    }
    let priority = body.get("priority").map(|p| p.as_str().unwrap_or("?"));
    if op == "create" && priority.is_some_and(|p| !matches!(p, "P1" | "P2" | "P3" | "P4" | "P5")) {
        errors.insert(
            "priority".into(),
            "Priority should be one of [P1, P2, P3, P4, P5].".into(),
        );
    }
    if let Some(details) = body.get("details") {
        let total = details.as_object().map(|d| {
            d.iter()
                .map(|(k, v)| {
                    k.chars().count() + v.as_str().map_or(usize::MAX / 2, |s| s.chars().count())
                })
                .sum::<usize>()
        });
        if total.is_none_or(|t| t > DETAILS_MAX) {
            let error = "Details can not be longer than 8000 characters in total, and its values must be strings.";
            errors.insert("details".into(), error.into());
        }
    }
    errors
}

impl Inner {
    fn request_id(&mut self) -> String {
        self.requests += 1;
        format!("3c90c3cc-0d44-4b50-8888-{:012x}", self.requests)
    }

    fn error(&mut self, status: u16, message: &str, errors: Option<Map<String, Value>>) -> Answer {
        let mut body = json!({"message": message, "took": 0.002, "requestId": self.request_id()});
        if let Some(errors) = errors {
            body["errors"] = Value::Object(errors);
        }
        Answer::json_status(status, &body)
    }

    fn open(&mut self, alias: &str) -> Option<&mut Alert> {
        let alerts = self.alerts.iter_mut().rev();
        alerts
            .filter(|a| a.alias == alias)
            .find(|a| a.state != State::Closed)
    }

    /// Processes a request taken, as Opsgenie does after answering it; its status.
    fn process(&mut self, op: &str, alias: Option<String>, body: Value) -> String {
        if op == "create" {
            let alias = alias.unwrap_or_else(|| format!("generated-{}", self.requests));
            if let Some(alert) = self.open(&alias) {
                alert.count += 1;
                alert.actions.push("create".into());
                return "Alert already exists, count incremented".into();
            }
            self.alerts.push(Alert {
                alias,
                state: State::Open,
                count: 1,
                created: body,
                notes: Vec::new(),
                actions: vec!["create".into()],
            });
            return "Created alert".into();
        }
        let Some(alert) = alias.as_deref().and_then(|a| self.open(a)) else {
            return "Alert does not exist".into();
        };
        alert.actions.push(op.to_owned());
        let note = body["note"].as_str().map(str::to_owned);
        match op {
            "close" => alert.state = State::Closed,
            "acknowledge" => alert.state = State::Acknowledged,
            _ => {}
        }
        alert.notes.extend(note);
        "Success".into()
    }

    fn answer(&mut self, request: &Request) -> Answer {
        let authorized = request
            .header("authorization")
            .and_then(|h| h.strip_prefix("GenieKey "))
            .is_some_and(|key| self.keys.contains(key));
        let rest = request.path.strip_prefix("/opsgenie/v2/alerts");
        let (op, alias) = match rest.map(|r| r.split('/').collect::<Vec<_>>()).as_deref() {
            Some([""]) | Some(["", ""]) => ("create".to_owned(), None),
            Some(["", alias, op]) if matches!(*op, "close" | "acknowledge" | "notes") => {
                (op.to_string(), Some(decode(alias)))
            }
            _ => return self.error(404, "Could not find the requested resource", None),
        };
        if request.method != "POST" {
            return self.error(405, "Method not allowed", None);
        }
        if !authorized {
            return self.error(401, "Could not authenticate", None);
        }
        let by_alias = request.query.as_deref() == Some("identifierType=alias");
        if alias.is_some() && !by_alias {
            return self.error(404, "Alert does not exist", None);
        }
        let body = match serde_json::from_slice::<Value>(&request.body) {
            Ok(Value::Object(map)) => map,
            _ if request.body.is_empty() && op != "create" => Map::new(),
            _ => return self.error(400, "Invalid JSON body", None),
        };
        let errors = problems(&op, &body);
        if !errors.is_empty() {
            let message = "Request body is not processable. Please check the errors.";
            return self.error(422, message, Some(errors));
        }
        if self.throttle > 0 {
            self.throttle -= 1;
            return throttled();
        }
        let alias = alias.or_else(|| body.get("alias").and_then(Value::as_str).map(str::to_owned));
        let status = self.process(&op, alias, Value::Object(body));
        self.statuses.push((op, status));
        let body = json!({"result": "Request will be processed", "took": 0.107, "requestId": self.request_id()});
        Answer::json_status(202, &body).delivered()
    }
}

fn throttled() -> Answer {
    let body = json!({"message": "You are making too many requests! To avoid errors, we recommend you limit requests.",
        "took": 0.0, "requestId": "3c90c3cc-0d44-4b50-8888-000000000429"});
    Answer::json_status(429, &body).header("x-ratelimit-state", "THROTTLED")
}

impl Surface for Opsgenie {
    fn answer(&self, request: &Request, _limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        self.inner().answer(request)
    }

    fn throttled(&self, _secs: u64) -> Answer {
        throttled()
    }
}
