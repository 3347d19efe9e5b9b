//! `kind = "pagerduty"`: an alert event to PagerDuty's Events API v2
//! (PLATFORMS.md, "PagerDuty").
//!
//! Owns the body of `POST /v2/enqueue`, the severity a level gets, what of
//! a message becomes the alert's summary and its details, and the reading of
//! PagerDuty's answers. The routing key (the integration key) travels in the
//! body: a payload (what the spool and `--dry-run` keep) carries none, and
//! [`Platform::request`] adds it, shown redacted.
//!
//! One message is one event, never split: an alert has one summary, of at
//! most 1,024 characters, so a longer title (or, without one, text) is cut
//! there with "…" and kept whole in `custom_details`, beside the fields, the
//! text and the CI context. Links go as the event's `links`. A `resolve` or
//! `acknowledge` carries only its `dedup_key`, as PagerDuty documents them.
//!
//! The event's alert ([`Alert`]) is the send's: its key is the `dedup_key`
//! (a key over PagerDuty's 255 characters is kept unique by a digest,
//! [`Alert::key_within`]), and
//! without one PagerDuty assigns a key, which its 202 answers with and
//! `--json` shows as `ts`. A 400 lists what was wrong in `errors`: the
//! event is refused. 429 (PagerDuty's throttle, with no Retry-After) and
//! 5xx wait in the spool, 30 s at least, as PagerDuty suggests.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::fields::{Fields, Problem};
use crate::kinds::text::Measure;
use crate::kinds::{
    Alert, AlertAction, Answer, HttpRequest, JSON_UTF8, Payload, Platform, Target, Threading,
    Verdict, reason,
};
use crate::message::{Level, Message};
use crate::secret::Secret;
use crate::template::{Escape, plain};

/// "The maximum permitted length of this property is 1024 characters".
const SUMMARY_MAX: usize = 1024;
/// "The maximum permitted length of this property is 255 characters".
const DEDUP_KEY_MAX: usize = 255;
/// "Events API payloads are limited to 512 KB": the text in the details
/// gives way first, with room left for the routing key and the envelope.
const BODY_MAX: usize = 500_000;
/// The routing key: "the 32 character Integration Key".
const ROUTING_KEY_LEN: usize = 32;
/// "We suggest retrying 3 times with each request being 30 seconds apart."
const THROTTLE_WAIT: Duration = Duration::from_secs(30);
const DEFAULT_API_URL: &str = "https://events.pagerduty.com";

pub struct PagerDuty {
    routing_key: Secret,
    api_url: String,
    /// PD-CEF's optional `component`, `group` and `class`, from the profile.
    labels: Vec<(&'static str, String)>,
}

impl PagerDuty {
    pub fn from_fields(fields: &mut Fields) -> PagerDuty {
        let span = fields.span_of("routing_key");
        let routing_key = fields.secret_token(
            "routing_key",
            "pagerduty",
            "set `routing_key` to the Integration Key of an Events API v2 integration (the service → Integrations), e.g. routing_key = { env = \"PAGERDUTY_ROUTING_KEY\" }",
        );
        if let Some(key) = &routing_key
            && !is_routing_key(key.expose())
        {
            let message = format!(
                "`routing_key` of destination `{}` must be the {ROUTING_KEY_LEN}-character Integration Key of an Events API v2 integration",
                fields.name
            );
            let help = "a REST API key (20 characters) does not send events: add an Events API v2 integration to the service and copy its Integration Key";
            fields.problem(Problem::new(span, message).help(help.to_owned()));
        }
        let api_url = fields
            .url("api_url")
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let labels = ["component", "group", "class"]
            .into_iter()
            .filter_map(|key| fields.string(key).map(|value| (key, value)))
            .filter(|(_, value)| !value.trim().is_empty())
            .collect();
        PagerDuty {
            routing_key: routing_key.unwrap_or_else(|| Secret::token(String::new())),
            api_url: api_url.trim_end_matches('/').to_owned(),
            labels,
        }
    }
}

/// 32 letters and digits, as PagerDuty checks it.
fn is_routing_key(key: &str) -> bool {
    key.len() == ROUTING_KEY_LEN && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// PagerDuty has four severities; good news is information.
fn severity(level: Level) -> &'static str {
    match level {
        Level::Critical => "critical",
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Info | Level::Success => "info",
    }
}

impl Platform for PagerDuty {
    fn kind(&self) -> &'static str {
        "pagerduty"
    }

    /// An incident is acknowledged in PagerDuty, which tells no one else.
    fn asking(&self) -> Result<crate::kinds::Asking, String> {
        let why = ": acknowledging an incident answers PagerDuty, not chime";
        Err(crate::kinds::cannot_ask(
            "pagerduty",
            "PagerDuty's Events API",
            why,
        ))
    }

    fn markup(&self) -> Escape {
        plain
    }

    fn alerts(&self) -> bool {
        true
    }

    /// `--thread KEY` names the alert (see `alerts`): no warning.
    fn threading(&self) -> Threading {
        Threading::ByKey
    }

    fn render(&self, message: &Message, target: &Target) -> Vec<Payload> {
        vec![Payload::json(&event(message, &target.alert, &self.labels))]
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        let url = format!("{}/v2/enqueue", self.api_url);
        let mut request = HttpRequest::post(Secret::public(&url), payload, JSON_UTF8);
        let with = |key: &str| {
            let mut body: Map<String, Value> =
                serde_json::from_str(&payload.body).unwrap_or_default();
            body.insert("routing_key".into(), key.into());
            Value::Object(body).to_string()
        };
        let value = with(self.routing_key.expose());
        let shown = with(&self.routing_key.to_string());
        request.body = Secret::shown_as(value, shown);
        request
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        classify(answer)
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![
            ("routing_key", self.routing_key.to_string().into()),
            ("api_url", self.api_url.as_str().into()),
        ];
        out.extend(self.labels.iter().map(|(k, v)| (*k, v.as_str().into())));
        out
    }

    /// `chime pipe` fills one event's details; the summary is cut anyway.
    fn batch_limit(&self) -> usize {
        50_000
    }

    fn measure(&self) -> Measure {
        Measure::Chars
    }

    /// About 120 events a minute per integration key.
    fn pace(&self) -> Duration {
        Duration::from_millis(500)
    }
}

/// Reads PagerDuty's answer: 202 with the alert's `dedup_key`, 400 with its
/// `errors`, 429 and 5xx to try again.
fn classify(answer: &Answer) -> Verdict {
    let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    let status = answer.status;
    if (200..300).contains(&status) {
        return Verdict::Delivered {
            channel: None,
            ts: body["dedup_key"].as_str().map(str::to_owned),
        };
    }
    let mut said: Vec<&str> = body["message"].as_str().into_iter().collect();
    said.extend(
        body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str),
    );
    let mut error = format!("{status} {}", reason(status));
    if !said.is_empty() {
        error = format!("{error}: {}", said.join("; "));
    }
    match status {
        429 => Verdict::Retry {
            after: Some(answer.retry_after.unwrap_or(THROTTLE_WAIT)),
            error: format!("{error} (PagerDuty is throttling this integration key)"),
        },
        408 | 500..=599 => Verdict::Retry {
            after: Some(answer.retry_after.unwrap_or(THROTTLE_WAIT)),
            error,
        },
        400 if body.get("status").is_some() => Verdict::Rejected {
            hint: Some(hint(&said).to_owned()),
            error,
        },
        _ => Verdict::Rejected {
            error: format!("{error} (not an Events API answer)"),
            hint: Some(format!(
                "check `api_url`: it must be the Events API's base, {DEFAULT_API_URL} (or https://events.eu.pagerduty.com)"
            )),
        },
    }
}

/// What the user can do about a 400.
fn hint(said: &[&str]) -> &'static str {
    if said
        .iter()
        .any(|s| s.contains("routing_key") || s.contains("routing key"))
    {
        "check `routing_key`: the Integration Key of an Events API v2 integration on the service, not a REST API key"
    } else {
        "PagerDuty refused the event chime built: please report this with the output of --dry-run"
    }
}

/// The event for `message` about `alert`, without the routing key.
fn event(message: &Message, alert: &Alert, labels: &[(&'static str, String)]) -> Value {
    let mut body = json!({"event_action": alert.action.as_str()});
    if let Some(key) = alert.key_within(DEDUP_KEY_MAX) {
        body["dedup_key"] = key.into();
    }
    // A resolve or an acknowledge is about the alert, not a new problem.
    if alert.action != AlertAction::Trigger {
        return body;
    }
    body["payload"] = payload(message, labels);
    let links: Vec<Value> = message
        .links
        .iter()
        .chain(&message.file_urls)
        .map(|l| json!({"href": l.url, "text": l.label}))
        .collect();
    if !links.is_empty() {
        body["links"] = links.into();
    }
    body["client"] = "chime".into();
    fit(body)
}

/// PD-CEF's payload: summary, source, severity, time, labels and details.
fn payload(message: &Message, labels: &[(&'static str, String)]) -> Value {
    let text = message.text.trim_end();
    let (summary, whole_title) = super::alert::headline(message, SUMMARY_MAX, "(no summary)");
    let mut details = Map::new();
    for (key, value) in &message.fields {
        details.insert(key.clone(), value.as_str().into());
    }
    let mut detail = |name: &str, value: String| {
        let key = match details.contains_key(name) {
            true => format!("{name} (message)"),
            false => name.to_owned(),
        };
        details.insert(key, value.into());
    };
    if let Some(title) = whole_title {
        detail("title", title.to_owned());
    }
    if !text.trim().is_empty() {
        detail("text", text.to_owned());
    }
    if !message.context.is_empty() {
        detail("ci", message.context.join("\n"));
    }
    let mut payload = json!({
        "summary": summary,
        "source": message.host,
        "severity": severity(message.level),
    });
    if let Ok(since) = message.time.duration_since(UNIX_EPOCH) {
        let time = UNIX_EPOCH + Duration::from_millis(since.as_millis() as u64);
        payload["timestamp"] = humantime::format_rfc3339_millis(time).to_string().into();
    }
    for (key, value) in labels {
        payload[*key] = value.as_str().into();
    }
    if !details.is_empty() {
        payload["custom_details"] = Value::Object(details);
    }
    payload
}

/// The event within PagerDuty's 512 KB: past it, the text in the details is
/// cut, saying so; what is left over is PagerDuty's to refuse.
fn fit(mut body: Value) -> Value {
    let over = body.to_string().len().saturating_sub(BODY_MAX);
    if over == 0 {
        return body;
    }
    let text = &mut body["payload"]["custom_details"]["text"];
    if let Some(whole) = text.as_str() {
        let keep = whole.len().saturating_sub(over + 100);
        let end = (0..=keep)
            .rev()
            .find(|i| whole.is_char_boundary(*i))
            .unwrap_or(0);
        let dropped = whole[end..].chars().count();
        *text = format!(
            "{}… ({dropped} characters more, cut to fit PagerDuty's 512 KB)",
            &whole[..end]
        )
        .into();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Message {
        Message {
            title: Some("Backup failed".into()),
            text: text.into(),
            level: Level::Error,
            fields: vec![("exit code".into(), "1".into())],
            links: vec![],
            code: false,
            host: "db1".into(),
            time: UNIX_EPOCH,
            context: Vec::new(),
            files: Vec::new(),
            file_urls: Vec::new(),
        }
    }

    #[test]
    fn a_resolve_carries_its_key_and_no_payload() {
        let alert = Alert {
            key: Some("backup".into()),
            action: AlertAction::Resolve,
        };
        let body = event(&message("x"), &alert, &[]);
        assert_eq!(
            body,
            json!({"event_action": "resolve", "dedup_key": "backup"})
        );
    }

    #[test]
    fn an_event_over_512_kb_keeps_its_summary_and_cuts_the_text() {
        let body = event(&message(&"ü".repeat(400_000)), &Alert::default(), &[]);
        assert!(body.to_string().len() <= BODY_MAX);
        assert_eq!(body["payload"]["summary"], "Backup failed");
        let text = body["payload"]["custom_details"]["text"].as_str().unwrap();
        assert!(text.ends_with("cut to fit PagerDuty's 512 KB)"), "{text}");
    }
}
