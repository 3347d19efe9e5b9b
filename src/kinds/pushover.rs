//! `kind = "pushover"`: a push notification through Pushover's Message API
//! (PLATFORMS.md §13).
//!
//! Owns the JSON body of `POST /1/messages.json`, the priority a level
//! gets, the split into messages Pushover takes, and the reading of its
//! answers. The application token and the user key are secrets: a payload
//! (what the spool and `--dry-run` keep) carries neither, and
//! [`Platform::request`] adds them to the body, which shows them redacted.
//!
//! Pushover takes a message of 1,024 characters and a title of 250, and
//! refuses more (400); so the text, a line per field and a line per link are
//! packed into messages of at most 1,024 characters, a longer message
//! becoming several marked "(1/3)", "(2/3)"… in the title (or, without a
//! title, at the start of the message: Pushover shows the application's
//! name when there is none). A title over its room is cut with "…" and the
//! whole title opens the text. The first link whose URL fits `url` (512)
//! is the notification's supplementary URL, its label the `url_title` (cut
//! at 100 with "…", and then also written out with the others); every other
//! link is a line of the text. The text is plain, never `html=1`: it is
//! shown as written, and `--code` sets `monospace=1`.
//!
//! A critical message is an emergency (priority 2), which Pushover repeats
//! every `retry` seconds (at least 30) until someone acknowledges it or
//! `expire` seconds (at most 10,800) pass; chime sends 60 and 3,600 unless
//! the profile says otherwise. 429 means the application is over its
//! monthly messages, and 5xx that Pushover is in trouble: both wait in the
//! spool, a retry at least 5 s after the last, as Pushover asks.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::fields::{Fields, Problem};
use crate::kinds::text::{Measure, cut, split};
use crate::kinds::{Answer, HttpRequest, JSON_UTF8, Payload, Platform, Target, Verdict, reason};
use crate::message::{Level, Link, Message};
use crate::secret::Secret;
use crate::template::{Escape, plain};

/// "Messages are currently limited to 1,024 4-byte UTF-8 characters" (§13).
const MESSAGE_MAX: usize = 1024;
/// "…with a title of up to 250 characters" (§13).
const TITLE_MAX: usize = 250;
/// "Supplementary URLs are limited to 512 characters" (§13).
const URL_MAX: usize = 512;
/// "…and URL titles to 100 characters" (§13).
const URL_TITLE_MAX: usize = 100;
/// Room for " (9999/9999)" in a title or at the start of a message.
const MARKER_ROOM: usize = crate::kinds::WIDEST_MARKER.len() + 1;
/// The emergency defaults: a repeat a minute for an hour.
const RETRY_DEFAULT: u64 = 60;
const EXPIRE_DEFAULT: u64 = 3600;
/// Pushover's bounds on them (§13).
const RETRY_MIN: u64 = 30;
const EXPIRE_MAX: u64 = 10_800;
/// Past the monthly limit (429) nothing goes before the limit resets, on the
/// 1st, and Pushover blocks addresses that keep sending refused requests: the
/// message waits in the spool and is tried again hourly, not within the send.
const MONTHLY_WAIT: Duration = Duration::from_secs(3600);
/// "Not more frequently than once every 5 seconds" after a 5xx (§13).
const SERVER_TROUBLE_WAIT: Duration = Duration::from_secs(5);
const DEFAULT_API_URL: &str = "https://api.pushover.net";

pub struct Pushover {
    token: Secret,
    user: Secret,
    api_url: String,
    retry: u64,
    expire: u64,
}

impl Pushover {
    pub fn from_fields(fields: &mut Fields) -> Pushover {
        let token = fields.secret_token(
            "token",
            "pushover",
            "set `token` to the application's API token (pushover.net → Your Applications), e.g. token = { env = \"PUSHOVER_TOKEN\" }",
        );
        let user = fields.secret_token(
            "user",
            "pushover",
            "set `user` to the user or group key from your Pushover dashboard (not your e-mail), e.g. user = { env = \"PUSHOVER_USER\" }",
        );
        let api_url = fields
            .url("api_url")
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let retry = bounded(
            fields,
            "retry",
            RETRY_DEFAULT,
            |n| n >= RETRY_MIN,
            "at least 30",
        );
        let expire = bounded(
            fields,
            "expire",
            EXPIRE_DEFAULT,
            |n| (1..=EXPIRE_MAX).contains(&n),
            "between 1 and 10800 (3 hours)",
        );
        Pushover {
            token: token.unwrap_or_else(|| Secret::token(String::new())),
            user: user.unwrap_or_else(|| Secret::token(String::new())),
            api_url: api_url.trim_end_matches('/').to_owned(),
            retry,
            expire,
        }
    }
}

/// An emergency's `retry` or `expire`: Pushover refuses one out of its bounds.
fn bounded(
    fields: &mut Fields,
    key: &'static str,
    default: u64,
    ok: impl Fn(u64) -> bool,
    bounds: &str,
) -> u64 {
    let span = fields.span_of(key);
    match fields.integer(key) {
        Some(n) if ok(n) => n,
        Some(_) => {
            let message = format!(
                "`{key}` of destination `{}` must be {bounds} seconds, as Pushover takes it",
                fields.name
            );
            fields.problem(Problem::new(span, message));
            default
        }
        None => default,
    }
}

/// Good news is quiet, an error bypasses quiet hours, a critical message is
/// an emergency that repeats until acknowledged.
fn priority(level: Level) -> i8 {
    match level {
        Level::Success => -1,
        Level::Info | Level::Warning => 0,
        Level::Error => 1,
        Level::Critical => 2,
    }
}

impl Platform for Pushover {
    fn kind(&self) -> &'static str {
        "pushover"
    }

    /// An emergency's receipt says it was acknowledged, never what was chosen.
    fn asking(&self) -> Result<crate::kinds::Asking, String> {
        let why = ": a notification has no buttons, and an emergency's acknowledgement says only \
                   that it was seen";
        Err(crate::kinds::cannot_ask(
            "pushover",
            "Pushover's Message API",
            why,
        ))
    }

    fn markup(&self) -> Escape {
        plain
    }

    /// A user key is the whole destination, so `--channel` has nothing to pick.
    fn render(&self, message: &Message, _target: &Target) -> Vec<Payload> {
        render(message, self.retry, self.expire)
            .iter()
            .map(Payload::json)
            .collect()
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        let url = format!("{}/1/messages.json", self.api_url);
        let mut request = HttpRequest::post(Secret::public(&url), payload, JSON_UTF8);
        let with = |token: &str, user: &str| {
            let mut body: Map<String, Value> =
                serde_json::from_str(&payload.body).unwrap_or_default();
            body.insert("token".into(), token.into());
            body.insert("user".into(), user.into());
            Value::Object(body).to_string()
        };
        let value = with(self.token.expose(), self.user.expose());
        let shown = with(&self.token.to_string(), &self.user.to_string());
        request.body = Secret::shown_as(value, shown);
        request
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let seconds = |n: u64| toml::Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
        vec![
            ("token", self.token.to_string().into()),
            ("user", self.user.to_string().into()),
            ("api_url", self.api_url.as_str().into()),
            ("retry", seconds(self.retry)),
            ("expire", seconds(self.expire)),
        ]
    }

    /// For `chime pipe`: a message holds 1,024 characters; the marker takes some.
    fn batch_limit(&self) -> usize {
        1000
    }

    fn measure(&self) -> Measure {
        Measure::Chars
    }

    /// Pushover asks for no more than two requests at once and counts
    /// messages by the month, not the second: one a second is well within.
    fn pace(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let status = answer.status;
        if status == 200 && body["status"] == 1 {
            return Verdict::Delivered {
                channel: None,
                ts: body["request"].as_str().map(str::to_owned),
            };
        }
        let errors: Vec<&str> = body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut error = format!("{status} {}", reason(status));
        if !errors.is_empty() {
            error = format!("{error}: {}", errors.join("; "));
        }
        match status {
            429 => Verdict::Retry {
                after: Some(answer.retry_after.unwrap_or(MONTHLY_WAIT)),
                error: format!(
                    "{error} (the application is over its monthly messages; chime keeps the message and tries again)"
                ),
            },
            408 | 500..=599 => Verdict::Retry {
                after: Some(answer.retry_after.unwrap_or(SERVER_TROUBLE_WAIT)),
                error,
            },
            400..=499 if body["status"] == 0 => Verdict::Rejected {
                hint: Some(hint(&body).to_owned()),
                error,
            },
            _ => Verdict::Rejected {
                error: format!("{error} (not a Pushover answer)"),
                hint: Some(
                    "check `api_url`: it must be Pushover's API, https://api.pushover.net".into(),
                ),
            },
        }
    }
}

/// What the user can do about a refusal: Pushover names the parameter it
/// refused with the value "invalid" (`{"token": "invalid", …}`).
fn hint(body: &Value) -> &'static str {
    if body["token"] == "invalid" {
        "check `token`: the API token of an application of yours (pushover.net → Your Applications)"
    } else if body["user"] == "invalid" {
        "check `user`: the user or group key from your Pushover dashboard, not your e-mail address"
    } else if body["retry"] == "invalid" || body["expire"] == "invalid" {
        "check `retry` (at least 30) and `expire` (at most 10800)"
    } else {
        "Pushover refused the message chime built: please report this with the output of --dry-run"
    }
}

/// The bodies for `message`, without the credentials, each within Pushover's limits.
fn render(message: &Message, retry: u64, expire: u64) -> Vec<Value> {
    let whole_title = message.title.as_deref().map(str::trim).unwrap_or_default();
    let (title, title_cut) = cut(whole_title, TITLE_MAX - MARKER_ROOM, Measure::Chars);
    let link = message
        .links
        .first()
        .filter(|l| l.url.chars().count() <= URL_MAX);
    let url_title = link.map(|l| cut(l.label.trim(), URL_TITLE_MAX, Measure::Chars));

    let mut blocks: Vec<String> = Vec::new();
    if title_cut {
        blocks.push(whole_title.to_owned());
    }
    if !message.text.trim().is_empty() {
        blocks.push(message.text.trim_end().to_owned());
    }
    let fields = message.fields.iter().map(|(k, v)| format!("{k}: {v}"));
    let skip_first = usize::from(link.is_some() && !url_title.as_ref().is_some_and(|t| t.1));
    let links = message.links.iter().skip(skip_first);
    let lines: Vec<String> = fields
        .chain(links.map(|l| format!("{}: {}", l.label, l.url)))
        .collect();
    if !lines.is_empty() {
        blocks.push(lines.join("\n"));
    }
    let mut bodies = pack(&blocks, MESSAGE_MAX - MARKER_ROOM);
    let mut title = title;
    if bodies.iter().all(String::is_empty) {
        // Pushover refuses a blank message: a title alone is the message.
        bodies = vec![if title.is_empty() {
            "…".into()
        } else {
            title.clone()
        }];
        title.clear();
    }
    let link = link.zip(url_title.map(|(label, _)| label));
    let base = base(message, retry, expire, link);
    marked(bodies, &title, &base)
}

/// What every part of `message` carries: its priority, time, emergency
/// settings, the first link (with its label as cut) and monospace.
fn base(message: &Message, retry: u64, expire: u64, link: Option<(&Link, String)>) -> Value {
    let mut base = json!({"priority": priority(message.level)});
    if let Ok(since) = message.time.duration_since(UNIX_EPOCH) {
        base["timestamp"] = since.as_secs().into();
    }
    if message.level == Level::Critical {
        base["retry"] = retry.into();
        base["expire"] = expire.into();
    }
    if let Some((link, label)) = link {
        base["url"] = link.url.as_str().into();
        if !label.is_empty() {
            base["url_title"] = label.into();
        }
    }
    if message.code {
        base["monospace"] = 1.into();
    }
    base
}

/// One body per part, marked "(1/3)" in the title, or at the start of the
/// text when there is no title.
fn marked(bodies: Vec<String>, title: &str, base: &Value) -> Vec<Value> {
    let count = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let marker = crate::kinds::marker(i, count);
            let mut body = base.clone();
            let (title, text) = match (marker, title.is_empty()) {
                (None, _) => (title.to_owned(), text),
                (Some(m), false) => (format!("{title} {m}"), text),
                (Some(m), true) => (String::new(), format!("{m} {text}")),
            };
            if !title.is_empty() {
                body["title"] = title.into();
            }
            body["message"] = text.into();
            // One emergency is one acknowledgement: the rest of a split one
            // go at high priority, through quiet hours without repeating.
            if i > 0 && body["priority"] == 2 {
                body["priority"] = 1.into();
                if let Some(fields) = body.as_object_mut() {
                    fields.remove("retry");
                    fields.remove("expire");
                }
            }
            body
        })
        .collect()
}

/// Blocks joined by blank lines into messages of at most `max` characters;
/// a block too long for one is split, preferring line breaks, then spaces.
fn pack(blocks: &[String], max: usize) -> Vec<String> {
    let mut bodies = vec![String::new()];
    for block in blocks {
        for (i, piece) in split(block, max, Measure::Chars).into_iter().enumerate() {
            let body = bodies.last_mut().expect("bodies is never empty");
            let used = body.chars().count();
            if body.is_empty() {
                body.push_str(piece);
            } else if i == 0 && used + 2 + piece.chars().count() <= max {
                body.push_str("\n\n");
                body.push_str(piece);
            } else {
                bodies.push(piece.to_owned());
            }
        }
    }
    bodies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Message {
        Message {
            title: Some("Report".into()),
            text: text.into(),
            level: Level::Info,
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
    fn every_part_fits_the_message_and_title_limits() {
        let mut m = message(&"ü word ".repeat(1000));
        m.title = Some("t".repeat(400));
        let bodies = render(&m, 60, 3600);
        assert!(bodies.len() > 5);
        for body in &bodies {
            assert!(body["message"].as_str().unwrap().chars().count() <= MESSAGE_MAX);
            assert!(body["title"].as_str().unwrap().chars().count() <= TITLE_MAX);
        }
    }

    #[test]
    fn a_split_emergency_is_one_emergency_and_the_rest_high_priority() {
        let mut m = message(&"word ".repeat(600));
        m.level = Level::Critical;
        let parts = render(&m, 60, 3600);
        assert!(parts.len() > 1);
        assert_eq!(
            (parts[0]["priority"].as_i64(), parts[0]["retry"].as_u64()),
            (Some(2), Some(60))
        );
        for part in &parts[1..] {
            assert_eq!(part["priority"], 1);
            assert!(part.get("retry").is_none() && part.get("expire").is_none());
        }
    }

    #[test]
    fn only_an_emergency_carries_retry_and_expire() {
        let mut m = message("x");
        assert!(render(&m, 60, 3600)[0].get("retry").is_none());
        m.level = Level::Critical;
        let body = &render(&m, 90, 600)[0];
        assert_eq!(
            (body["priority"].as_i64(), body["retry"].as_u64()),
            (Some(2), Some(90))
        );
        assert_eq!(body["expire"], 600);
    }
}
