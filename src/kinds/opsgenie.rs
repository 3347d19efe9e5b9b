//! `kind = "opsgenie"`: an alert through Opsgenie's Alert API v2 (PLATFORMS.md,
//! "Opsgenie"), which Jira Service Management's Operations keeps answering
//! for accounts moved there.
//!
//! Owns the bodies of `POST /v2/alerts` (create), `POST
//! /v2/alerts/{alias}/close?identifierType=alias` and `…/acknowledge`, the
//! priority a level gets, and the reading of Opsgenie's answers. The API key
//! travels in `Authorization: GenieKey …`, added by [`Platform::request`] and
//! shown redacted; a payload (what the spool keeps) carries none.
//!
//! The send's [`Alert`] is the alert's `alias`, Opsgenie's key of
//! deduplication: a create while an alert with the alias is open adds to
//! its count instead of notifying again, and a close or an acknowledge by
//! alias applies to it. One message is one alert: its `message` holds 130
//! characters, so the title (or, without one, the text on one line) is cut
//! there with "…", and the whole title, the text and the CI run go in the
//! `description` (15,000 characters, cut past that); fields are `details`.
//! Links are written at the end of the description, since Opsgenie's alert
//! has no links of its own.
//!
//! Opsgenie takes valid requests with a 202 and processes them later: a 202
//! says the request is well formed and the key good, not that the alert
//! exists (a close for an alias with no open alert is dropped then). 422
//! names what it refused in `errors`; 401 is a wrong key, 402/403 a key that
//! may not do this; 429 is its throttle, and with 5xx the message waits in
//! the spool.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::fields::Fields;
use crate::kinds::text::{Measure, cut, split};
use crate::kinds::{
    Alert, AlertAction, Answer, HttpRequest, JSON_UTF8, Payload, Platform, Target, Threading,
    Verdict, reason,
};
use crate::message::{Level, Message};
use crate::secret::Secret;
use crate::template::{Escape, plain};

/// "Message of the alert: 130 characters".
const MESSAGE_MAX: usize = 130;
/// "alias: 512 characters".
const ALIAS_MAX: usize = 512;
/// "description: 15000 characters".
const DESCRIPTION_MAX: usize = 15_000;
/// "source: 100 characters".
const SOURCE_MAX: usize = 100;
/// "note: 25000 characters", for a close, an acknowledge or a note.
const NOTE_MAX: usize = 25_000;
/// "details: 8000 characters total", keys and values together.
const DETAILS_MAX: usize = 8_000;
/// A throttled request waits this long unless Opsgenie says otherwise: its
/// limits are counted per second and per minute.
const THROTTLE_WAIT: Duration = Duration::from_secs(10);
const DEFAULT_API_URL: &str = "https://api.opsgenie.com";
/// Where a close or an acknowledge keeps its alias in a payload, until
/// [`Platform::request`] puts it in the URL.
const ALIAS_SLOT: &str = "alias";

pub struct Opsgenie {
    api_key: Secret,
    api_url: String,
    entity: Option<String>,
}

impl Opsgenie {
    pub fn from_fields(fields: &mut Fields) -> Opsgenie {
        let api_key = fields.secret_token(
            "api_key",
            "opsgenie",
            "set `api_key` to the key of an API integration (Teams → the team → Integrations → API), e.g. api_key = { env = \"OPSGENIE_API_KEY\" }",
        );
        let api_url = fields
            .url("api_url")
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let entity = fields.string("entity").filter(|e| !e.trim().is_empty());
        Opsgenie {
            api_key: api_key.unwrap_or_else(|| Secret::token(String::new())),
            api_url: api_url.trim_end_matches('/').to_owned(),
            entity,
        }
    }
}

/// P1 pages hardest; good news is the quietest.
fn priority(level: Level) -> &'static str {
    match level {
        Level::Critical => "P1",
        Level::Error => "P2",
        Level::Warning => "P3",
        Level::Info => "P4",
        Level::Success => "P5",
    }
}

impl Platform for Opsgenie {
    fn kind(&self) -> &'static str {
        "opsgenie"
    }

    /// An alert is acknowledged in Opsgenie, which tells no one else.
    fn asking(&self) -> Result<crate::kinds::Asking, String> {
        let why = ": acknowledging an alert answers Opsgenie, not chime";
        Err(crate::kinds::cannot_ask(
            "opsgenie",
            "Opsgenie's Alert API",
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
        render(message, &target.alert, self.entity.as_deref())
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        let mut bare = payload.clone();
        let mut url = format!("{}/v2/alerts", self.api_url);
        // A create's alias is one of its fields; an action's goes in the URL.
        if !payload.op.is_empty() {
            let mut body: Map<String, Value> =
                serde_json::from_str(&payload.body).unwrap_or_default();
            let alias = body.remove(ALIAS_SLOT);
            url = action_url(
                &self.api_url,
                alias.as_ref().and_then(Value::as_str).unwrap_or_default(),
                &payload.op,
            );
            bare.body = Value::Object(body).to_string();
        }
        let key = &self.api_key;
        let genie = Secret::shown_as(
            format!("GenieKey {}", key.expose()),
            format!("GenieKey {key}"),
        );
        HttpRequest::post(Secret::public(&url), &bare, JSON_UTF8).header("authorization", genie)
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        classify(answer)
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![
            ("api_key", self.api_key.to_string().into()),
            ("api_url", self.api_url.as_str().into()),
        ];
        if let Some(entity) = &self.entity {
            out.push(("entity", entity.as_str().into()));
        }
        out
    }

    /// `chime pipe` fills one alert's description.
    fn batch_limit(&self) -> usize {
        14_000
    }

    fn measure(&self) -> Measure {
        Measure::Chars
    }
}

/// `{api}/v2/alerts/{alias}/{op}?identifierType=alias`, the alias one
/// percent-encoded path segment.
fn action_url(api_url: &str, alias: &str, op: &str) -> String {
    let base = format!("{api_url}/v2/alerts/");
    match url::Url::parse(&base) {
        Ok(mut url) => {
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty().push(alias).push(op);
            }
            url.set_query(Some("identifierType=alias"));
            url.to_string()
        }
        Err(_) => format!("{base}{alias}/{op}?identifierType=alias"),
    }
}

/// The requests for `message` about `alert`: a create (with what does not
/// fit it as notes after it), or a close or an acknowledge by its alias,
/// with the message as its note.
fn render(message: &Message, alert: &Alert, entity: Option<&str>) -> Vec<Payload> {
    let source: String = message.host.chars().take(SOURCE_MAX).collect();
    let alias = alert.key_within(ALIAS_MAX);
    let op = match (alert.action, &alias) {
        (AlertAction::Trigger, _) | (_, None) => return created(message, alias, &source, entity),
        (AlertAction::Resolve, Some(_)) => "close",
        (AlertAction::Acknowledge, Some(_)) => "acknowledge",
    };
    let title = message.title.as_deref().unwrap_or_default();
    let said = [title, message.text.trim_end()];
    let note: Vec<&str> = said.into_iter().filter(|s| !s.trim().is_empty()).collect();
    let note = cut(&note.join("\n\n"), NOTE_MAX, Measure::Chars).0;
    vec![by_alias(
        op,
        alias.as_deref().unwrap_or_default(),
        &source,
        &note,
    )]
}

/// A request about the alert `alias` (`close`, `acknowledge`, `notes`).
fn by_alias(op: &str, alias: &str, source: &str, note: &str) -> Payload {
    let mut body = json!({ALIAS_SLOT: alias, "source": source, "user": "chime"});
    if !note.is_empty() {
        body["note"] = note.into();
    }
    Payload {
        op: op.to_owned(),
        ..Payload::json(&body)
    }
}

/// The create, and a note for each piece of what its description and
/// details cannot hold, in order. Notes need the alert's alias: a message
/// that has none gets one of its own.
fn created(
    message: &Message,
    alias: Option<String>,
    source: &str,
    entity: Option<&str>,
) -> Vec<Payload> {
    let (short, whole_title) = super::alert::headline(message, MESSAGE_MAX, "(no message)");
    let (details, left) = details(&message.fields);
    let whole = described(message, whole_title, left);
    let mut pieces = split(&whole, DESCRIPTION_MAX, Measure::Chars).into_iter();
    let description = pieces.next().unwrap_or_default();
    let rest: Vec<&str> = pieces.collect();
    let rest = rest.join("\n");
    let notes = split(&rest, NOTE_MAX, Measure::Chars);
    let alias = alias.or_else(|| (!notes.is_empty()).then(|| own_alias(message, &short)));
    let mut body = json!({
        "message": short,
        "priority": priority(message.level),
        "source": source,
        "user": "chime",
    });
    if let Some(alias) = &alias {
        body["alias"] = alias.as_str().into();
    }
    if !description.is_empty() {
        body["description"] = description.into();
    }
    if let Some(entity) = entity {
        body["entity"] = entity.into();
    }
    if !details.is_empty() {
        body["details"] = Value::Object(details);
    }
    let alias = alias.unwrap_or_default();
    let notes = notes
        .into_iter()
        .map(|note| by_alias("notes", &alias, source, note));
    std::iter::once(Payload::json(&body)).chain(notes).collect()
}

/// Everything the alert shows beyond its message, in order: the whole
/// title when the message is cut, the text, the CI run, the fields past
/// the details, and the links.
fn described(message: &Message, title: Option<&str>, left: &[(String, String)]) -> String {
    let text = message.text.trim_end();
    let mut blocks: Vec<String> = title.into_iter().map(str::to_owned).collect();
    if !text.trim().is_empty() {
        blocks.push(text.to_owned());
    }
    blocks.extend(message.context.iter().cloned());
    let left = left.iter().map(|(k, v)| format!("{k}: {v}"));
    let links = message.links.iter().chain(&message.file_urls);
    let lines: Vec<String> = left
        .chain(links.map(|l| format!("{}: {}", l.label, l.url)))
        .collect();
    if !lines.is_empty() {
        blocks.push(lines.join("\n"));
    }
    blocks.join("\n\n")
}

/// An alias for a message sent without a key whose rest goes in notes:
/// unique to it (its host, time and headline), so no other alert is noted.
fn own_alias(message: &Message, headline: &str) -> String {
    use sha2::Digest;
    let since = message.time.duration_since(std::time::UNIX_EPOCH);
    let nanos = since.map(|d| d.as_nanos()).unwrap_or_default();
    let seed = format!("{}\n{nanos}\n{headline}", message.host);
    let digest = sha2::Sha256::digest(seed.as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("chime-{hex}")
}

/// The fields as `details`, within Opsgenie's 8,000 characters in all, and
/// those past them, which go with the text.
fn details(fields: &[(String, String)]) -> (Map<String, Value>, &[(String, String)]) {
    let mut out = Map::new();
    let mut used = 0;
    for (i, (key, value)) in fields.iter().enumerate() {
        let size = key.chars().count() + value.chars().count();
        if used + size > DETAILS_MAX {
            return (out, &fields[i..]);
        }
        used += size;
        out.insert(key.clone(), value.as_str().into());
    }
    (out, &[])
}

/// Reads Opsgenie's answer: 202 with its `requestId`, 422 with its `errors`.
fn classify(answer: &Answer) -> Verdict {
    let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    let status = answer.status;
    if (200..300).contains(&status) {
        return Verdict::Delivered {
            channel: None,
            ts: body["requestId"].as_str().map(str::to_owned),
        };
    }
    let mut said: Vec<String> = body["message"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect();
    let errors = body["errors"].as_object().into_iter().flatten();
    said.extend(errors.map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default())));
    let mut error = format!("{status} {}", reason(status));
    if !said.is_empty() {
        error = format!("{error}: {}", said.join("; "));
    }
    let hint = match status {
        429 => {
            return Verdict::Retry {
                after: Some(answer.retry_after.unwrap_or(THROTTLE_WAIT)),
                error: format!("{error} (Opsgenie is throttling this account's alert requests)"),
            };
        }
        408 | 500..=599 => {
            return Verdict::Retry {
                after: answer.retry_after,
                error,
            };
        }
        401 => {
            "check `api_key`: the key of an API integration that is enabled; an EU account needs api_url = \"https://api.eu.opsgenie.com\""
        }
        402 | 403 => {
            "the key may not create or close alerts: use an API integration's key (not an account API key) with create and update access"
        }
        404 => {
            "check `api_url`: it must be Opsgenie's API, https://api.opsgenie.com (or https://api.eu.opsgenie.com)"
        }
        _ => {
            "Opsgenie refused the alert chime built: please report this with the output of --dry-run"
        }
    };
    Verdict::Rejected {
        error,
        hint: Some(hint.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn message() -> Message {
        Message {
            title: Some("Backup failed".into()),
            text: "disk full".into(),
            level: Level::Error,
            fields: vec![],
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
    fn a_close_goes_to_its_alias_as_one_path_segment() {
        let alert = Alert {
            key: Some("backup/db 1?".into()),
            action: AlertAction::Resolve,
        };
        let payloads = render(&message(), &alert, None);
        assert_eq!(payloads.len(), 1);
        assert_eq!(payloads[0].op, "close");
        let url = action_url("https://api.opsgenie.com", "backup/db 1?", "close");
        assert_eq!(
            url,
            "https://api.opsgenie.com/v2/alerts/backup%2Fdb%201%3F/close?identifierType=alias"
        );
    }

    #[test]
    fn what_the_alert_cannot_hold_follows_in_notes_under_its_own_alias() {
        let mut m = message();
        m.text = "word ".repeat(10_000);
        m.fields = (0..20)
            .map(|i| (format!("k{i}"), "v".repeat(1000)))
            .collect();
        let payloads = render(&m, &Alert::default(), None);
        assert!(payloads.len() >= 2, "{}", payloads.len());
        let create: Value = serde_json::from_str(&payloads[0].body).unwrap();
        let details = create["details"].as_object().unwrap();
        let size: usize = details
            .iter()
            .map(|(k, v)| k.len() + v.as_str().unwrap().len())
            .sum();
        assert!(size <= DETAILS_MAX, "{size}");
        let alias = create["alias"].as_str().unwrap();
        assert!(alias.starts_with("chime-"));
        for note in &payloads[1..] {
            let body: Value = serde_json::from_str(&note.body).unwrap();
            assert_eq!(
                (note.op.as_str(), body["alias"].as_str()),
                ("notes", Some(alias))
            );
            assert!(body["note"].as_str().unwrap().chars().count() <= NOTE_MAX);
        }
    }
}
