//! A stand-in for PagerDuty's Events API v2 (PLATFORMS.md, "PagerDuty"), mounted on the
//! bed under `/pagerduty/`, so a profile's `api_url` is `{bed}/pagerduty`.
//!
//! It owns what PagerDuty checks of `POST /v2/enqueue`: a JSON object whose `routing_key`
//! is 32 letters and digits of a known integration, an `event_action` of `trigger`,
//! `acknowledge` or `resolve`, a `dedup_key` of at most 255 characters (required to
//! acknowledge or resolve), and, for a trigger, a `payload` with a `summary` (at most
//! 1,024 characters), a `source` and a `severity` of `critical`, `error`, `warning` or
//! `info`. A refusal is a 400 `{"status": "invalid event", "message": "Event object is
//! invalid", "errors": [...]}` listing every problem; an event taken is a 202 `{"status":
//! "success", "message": "Event processed", "dedup_key": …}`, with a key of PagerDuty's
//! own when the event had none. A throttled event is a 429 with no Retry-After, as
//! PagerDuty documents it.
//!
//! It keeps the alerts the events make, by `dedup_key`: a trigger opens one (and pages),
//! or adds to the open one under its key without paging again; an acknowledge or a
//! resolve applies to the open one, and is dropped when there is none. A trigger after
//! a resolve opens a new alert. Confirmed wordings: the envelope, "Length of
//! 'routing_key' is incorrect (should be 32 characters)", "'routing_key' cannot contain
//! non-alphanumeric characters." and "Invalid routing key"; the other errors' words,
//! and the 429's body, are unconfirmed (the stand-in refuses what PagerDuty documents
//! as required or limited, in its style).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value, json};

use super::bed::{Answer, Request, Surface};

pub const PREFIX: &str = "/pagerduty/";
pub const SUMMARY_MAX: usize = 1024;
pub const DEDUP_KEY_MAX: usize = 255;

/// Where an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Triggered,
    Acknowledged,
    Resolved,
}

/// One alert, as PagerDuty keeps it.
#[derive(Clone, Debug)]
pub struct Incident {
    pub dedup_key: String,
    pub state: State,
    /// The summary of the trigger that opened it.
    pub summary: String,
    /// Every event applied to it, by action, in order.
    pub actions: Vec<String>,
}

#[derive(Default)]
pub struct PagerDuty {
    state: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    keys: HashSet<String>,
    incidents: Vec<Incident>,
    /// Every event taken, as it arrived (routing key included).
    events: Vec<Value>,
    /// Events still to be throttled (429).
    throttle: usize,
    assigned: u64,
}

impl PagerDuty {
    pub fn new() -> Arc<PagerDuty> {
        Arc::new(PagerDuty::default())
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers an Events API v2 integration's routing key.
    pub fn add_key(&self, key: &str) {
        self.inner().keys.insert(key.to_owned());
    }

    /// The next `n` well-formed events are throttled (429).
    pub fn throttle(&self, n: usize) {
        self.inner().throttle = n;
    }

    /// Every event taken, in order.
    pub fn events(&self) -> Vec<Value> {
        self.inner().events.clone()
    }

    /// Every alert opened, oldest first.
    pub fn incidents(&self) -> Vec<Incident> {
        self.inner().incidents.clone()
    }
}

fn refused(errors: Vec<String>) -> Answer {
    let body =
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors});
    Answer::json_status(400, &body)
}

fn text<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

fn blank(value: Option<&str>) -> bool {
    value.is_none_or(|s| s.trim().is_empty())
}

/// Every problem PagerDuty would list for `event`.
fn problems(event: &Map<String, Value>) -> Vec<String> {
    let event = Value::Object(event.clone());
    let mut errors = Vec::new();
    let key = text(&event, "routing_key").unwrap_or_default();
    if key.chars().count() != 32 {
        errors.push("Length of 'routing_key' is incorrect (should be 32 characters)".to_owned());
    }
    if !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        errors.push("'routing_key' cannot contain non-alphanumeric characters.".to_owned());
    }
    let action = text(&event, "event_action");
    match action {
        None => errors.push("'event_action' is missing or blank".to_owned()),
        Some("trigger" | "acknowledge" | "resolve") => {}
        Some(_) => errors.push(
            "'event_action' is invalid (must be one of trigger, acknowledge, resolve)".to_owned(),
        ),
    }
    let dedup_key = text(&event, "dedup_key");
    if dedup_key.is_some_and(|k| k.chars().count() > DEDUP_KEY_MAX) {
        errors.push("'dedup_key' is too long (maximum is 255 characters)".to_owned());
    }
    if matches!(action, Some("acknowledge" | "resolve")) && blank(dedup_key) {
        errors.push("'dedup_key' is missing or blank".to_owned());
    }
    if action == Some("trigger") {
        payload_problems(event.get("payload"), &mut errors);
    }
    errors
}

fn payload_problems(payload: Option<&Value>, errors: &mut Vec<String>) {
    let Some(payload) = payload.filter(|p| p.is_object()) else {
        errors.push("'payload' is missing or blank".to_owned());
        return;
    };
    let summary = text(payload, "summary");
    if blank(summary) {
        errors.push("'payload.summary' is missing or blank".to_owned());
    } else if summary.is_some_and(|s| s.chars().count() > SUMMARY_MAX) {
        errors.push("'payload.summary' is too long (maximum is 1024 characters)".to_owned());
    }
    if blank(text(payload, "source")) {
        errors.push("'payload.source' is missing or blank".to_owned());
    }
    match text(payload, "severity") {
        Some("critical" | "error" | "warning" | "info") => {}
        _ => errors.push(
            "'payload.severity' is invalid (must be one of critical, error, warning, info)"
                .to_owned(),
        ),
    }
    if payload
        .get("custom_details")
        .is_some_and(|d| !d.is_object())
    {
        errors.push("'payload.custom_details' must be an object".to_owned());
    }
}

impl Inner {
    /// Applies a valid event to the alerts; the `dedup_key` it is known by.
    fn apply(&mut self, event: &Value) -> String {
        let action = text(event, "event_action").unwrap_or_default().to_owned();
        let key = match text(event, "dedup_key") {
            Some(key) => key.to_owned(),
            None => {
                self.assigned += 1;
                format!("5a7c3b9e0f2d4c6a8b1e{:012x}", self.assigned)
            }
        };
        let open = self
            .incidents
            .iter_mut()
            .rev()
            .find(|i| i.dedup_key == key && i.state != State::Resolved);
        match (action.as_str(), open) {
            ("trigger", Some(incident)) => incident.actions.push(action),
            ("trigger", None) => {
                let summary = event["payload"]["summary"].as_str().unwrap_or_default();
                self.incidents.push(Incident {
                    dedup_key: key.clone(),
                    state: State::Triggered,
                    summary: summary.to_owned(),
                    actions: vec![action],
                });
            }
            ("acknowledge", Some(incident)) => {
                incident.state = State::Acknowledged;
                incident.actions.push(action);
            }
            ("resolve", Some(incident)) => {
                incident.state = State::Resolved;
                incident.actions.push(action);
            }
            // No open alert under the key: PagerDuty drops the event.
            _ => {}
        }
        key
    }
}

impl Surface for PagerDuty {
    fn answer(&self, request: &Request, _limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        let mut inner = self.inner();
        if request.method != "POST" || request.path != "/pagerduty/v2/enqueue" {
            return Answer::new(404, "text/html", "<html><body>Not Found</body></html>");
        }
        let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(&request.body) else {
            let body = json!({"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": ["JSON parse error"]});
            return Answer::json_status(400, &body);
        };
        let errors = problems(&event);
        if !errors.is_empty() {
            return refused(errors);
        }
        let key = event["routing_key"].as_str().unwrap_or_default();
        if !inner.keys.contains(key) {
            return refused(vec!["Invalid routing key".to_owned()]);
        }
        if inner.throttle > 0 {
            inner.throttle -= 1;
            return self.throttled(0);
        }
        let event = Value::Object(event);
        let dedup_key = inner.apply(&event);
        inner.events.push(event);
        let body =
            json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key});
        Answer::json_status(202, &body).delivered()
    }

    /// PagerDuty's 429 says no Retry-After: "retry after some time".
    fn throttled(&self, _secs: u64) -> Answer {
        let body = json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly.  Please retry later."});
        Answer::json_status(429, &body)
    }
}
