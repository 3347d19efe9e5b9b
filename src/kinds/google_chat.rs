//! `kind = "google-chat"`: Google Chat incoming webhooks.
//!
//! A message is posted as a card (`cardsV2`, PLATFORMS.md §7): a header with
//! the title, paragraphs for the text and the fields, and a button row for
//! links, plus `fallbackText` for notifications. A card rather than `text`
//! because card text is a small, documented HTML subset that escapes the usual
//! way (`&lt;`, `&gt;`, `&amp;`), where Chat's text syntax has no documented
//! escape for `*`, `_`, `~` or `<users/all>`; in HTML those are plain text.
//!
//! Google counts "32,000 bytes including the message contents"; each payload
//! is measured as the exact bytes sent, and a message over the limit becomes
//! several cards, sent in order and marked "(1/3)"… With `thread_key`, every
//! part goes to that thread (`REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`).
//!
//! The webhook URL carries the space's `key` and `token` in its query, so it
//! is a secret as a whole. Errors are Google's `{"error": {code, message,
//! status}}`.

use serde_json::{Value, json};

use crate::fields::Fields;
use crate::kinds::text::{Measure, cut, split};
use crate::kinds::{
    Answer, HttpRequest, Payload, Platform, Target, Threading, Verdict, WIDEST_MARKER,
    classify_http, pack,
};
use crate::message::{Level, Message};
use crate::secret::Secret;
use crate::template::Escape;

/// 32,000 bytes per message (§7), with room kept for what Google adds to the
/// message it stores (name, sender, thread) before it counts.
const REQUEST_BUDGET: usize = 30_000;
/// Paragraphs of at most this many bytes: even text that JSON-escapes to six
/// bytes per byte, with each line break written as `<br>`, fits one card.
const PIECE_BYTES: usize = 4_000;
/// "You can add up to 100 widgets per card. Any widgets beyond this limit are
/// ignored" (Cards v2 reference, developers.google.com/workspace/chat/api/
/// reference/rest/v1/cards); the byte budget is what normally splits a message.
const WIDGETS_MAX: usize = 100;
/// A longer title is cut in the header and kept whole in the first paragraph.
const TITLE_MAX: usize = 200;
const BUTTONS_PER_ROW: usize = 6;
/// A row of buttons with long URLs is cut short at this many bytes, so a row
/// always shares a card with the title and some text.
const ROW_BYTES: usize = 12_000;
/// Longer labels are not buttons (see [`link_widgets`]).
const BUTTON_TEXT_MAX: usize = 75;
/// An HTML link up to this size is one paragraph; its URL may not be split.
const LINK_BYTES: usize = 12_000;
/// The button under a label too long to be a link's text.
const OPEN_LINK: &str = "Open link";
const FALLBACK_MAX: usize = 300;
/// Reply in the thread, or start it when it does not exist yet.
const REPLY_OPTION: &str = "messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD";
const CONTENT_TYPE: &str = "application/json; charset=UTF-8";

pub struct GoogleChat {
    url: Secret,
    /// The URL with the reply option, for threaded payloads.
    threaded_url: Secret,
    /// The profile's `thread_key`; `--thread KEY` overrides it per send.
    thread_key: Option<String>,
}

/// Marks a payload that names a thread, so its request asks Chat to reply in it.
const THREADED: &str = "thread";

impl GoogleChat {
    pub fn from_fields(fields: &mut Fields) -> GoogleChat {
        let help = "set `url` to the space's webhook URL (space name → Apps & integrations → Webhooks), e.g. url = \"${GOOGLE_CHAT_WEBHOOK_URL}\"";
        let url = fields
            .secret_url("url", "google-chat", help)
            .unwrap_or_else(|| Secret::url(String::new()));
        let thread_key = fields.string("thread_key").filter(|k| !k.is_empty());
        let base = url.expose();
        let joiner = if base.contains('?') { '&' } else { '?' };
        let threaded_url = Secret::url(format!("{base}{joiner}{REPLY_OPTION}"));
        GoogleChat {
            url,
            threaded_url,
            thread_key,
        }
    }
}

impl Platform for GoogleChat {
    fn kind(&self) -> &'static str {
        "google-chat"
    }

    fn markup(&self) -> Escape {
        escape
    }

    fn render(&self, message: &Message, target: &Target) -> Vec<Payload> {
        let key = target.thread_key.as_deref().or(self.thread_key.as_deref());
        let op = if key.is_some() { THREADED } else { "" };
        // Each card goes as soon as it is serialised (issue 11).
        render(message, key)
            .into_iter()
            .map(|body| Payload {
                op: op.to_owned(),
                ..Payload::json(&body)
            })
            .collect()
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        let url = if payload.op == THREADED {
            &self.threaded_url
        } else {
            &self.url
        };
        HttpRequest::post(url.clone(), payload, CONTENT_TYPE)
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![("url", self.url.to_string().into())];
        if let Some(key) = &self.thread_key {
            out.push(("thread_key", key.as_str().into()));
        }
        out
    }

    fn threading(&self) -> Threading {
        Threading::ByKey
    }

    /// For `chime pipe`: a card holds 32,000 bytes; HTML line breaks and the header take the rest.
    fn batch_limit(&self) -> usize {
        24000
    }

    fn measure(&self) -> crate::kinds::text::Measure {
        crate::kinds::text::Measure::Bytes
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        if let Some(verdict) = classify_http(answer) {
            return verdict;
        }
        if answer.status == 200 {
            return Verdict::Delivered {
                channel: None,
                ts: None,
            };
        }
        let error = GoogleError::read(answer);
        // Chat webhooks answer a stray 401 now and then (healthchecks#1117,
        // §7); a wrong key or token gets 400 or 403, so 401 is worth a retry.
        if answer.status == 401 {
            return Verdict::Retry {
                after: answer.retry_after,
                error: error.to_string(),
            };
        }
        Verdict::Rejected {
            hint: error.hint().map(str::to_owned),
            error: error.to_string(),
        }
    }
}

/// Escapes text for card HTML: only `&`, `<` and `>` mean anything there.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Google's standard error body, read as far as it goes.
struct GoogleError {
    http: u16,
    status: String,
    message: String,
    reason: String,
}

impl GoogleError {
    fn read(answer: &Answer) -> GoogleError {
        let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let error = &body["error"];
        let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
        let reason = error["details"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|d| d["reason"].as_str())
            .unwrap_or("")
            .to_owned();
        let mut message = text(&error["message"]);
        if error.is_null() {
            message = answer.body.trim().chars().take(200).collect();
        }
        GoogleError {
            http: answer.status,
            status: text(&error["status"]),
            message: message.chars().take(300).collect(),
            reason,
        }
    }

    fn hint(&self) -> Option<&'static str> {
        Some(match (self.http, self.reason.as_str()) {
            (_, "API_KEY_INVALID") => {
                "the `key` in the webhook URL is not valid: copy the webhook URL again (space name → Apps & integrations → Webhooks) and update the profile"
            }
            (403, _) => {
                "the `token` in the webhook URL is not valid, or the webhook was deleted: copy the webhook URL again (space name → Apps & integrations → Webhooks) and update the profile"
            }
            (404, _) => {
                "the space or its webhook no longer exists: create a webhook in the space (Apps & integrations → Webhooks) and update the profile"
            }
            (400, _) => {
                "Google Chat refused the card chime built: please report this with the output of --dry-run"
            }
            _ => return None,
        })
    }
}

impl std::fmt::Display for GoogleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.http)?;
        if !self.status.is_empty() {
            write!(f, " {}", self.status)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// One card widget: a paragraph or a row of buttons.
type Widget = Value;

fn render(message: &Message, thread_key: Option<&str>) -> Vec<Value> {
    let title = message
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(|t| cut(t, TITLE_MAX, Measure::Chars));
    let mut widgets = Vec::new();
    if let Some((_, true)) = &title
        && let Some(full) = &message.title
    {
        widgets.extend(paragraphs(&format!("<b>{}</b>", escape(full))));
    }
    widgets.extend(match message.code {
        true => code_paragraphs(&message.text),
        false => paragraphs(&message.text),
    });
    for (key, value) in &message.fields {
        widgets.extend(paragraphs(&format!(
            "<b>{}</b>\n{}",
            escape(key),
            escape(value)
        )));
    }
    widgets.extend(link_widgets(message));
    let title = title.map(|(t, _)| t);

    let payload = |part: &[Widget], marker: Option<&str>| {
        assemble(message, title.as_deref(), part, marker, thread_key)
    };
    let parts = pack(widgets, |part| {
        part.len() <= WIDGETS_MAX
            && payload(part, Some(WIDEST_MARKER)).to_string().len() <= REQUEST_BUDGET
    });
    let count = parts.len();
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let marker = crate::kinds::marker(i, count);
            payload(part, marker.as_deref())
        })
        .collect()
}

/// Text paragraphs; card HTML ignores raw line breaks, so they become `<br>`.
fn paragraphs(html: &str) -> Vec<Widget> {
    split(html, PIECE_BYTES, Measure::Bytes)
        .into_iter()
        .filter(|piece| !piece.trim().is_empty())
        .map(|piece| json!({"textParagraph": {"text": piece.replace('\n', "<br>")}}))
        .collect()
}

/// Text paragraphs in `<pre>`, card HTML's code block, which keeps the text
/// monospace and its indentation; each paragraph closes and reopens it.
/// (`<pre>` and `<code>` are in textParagraph's HTML subset beside `<b>`,
/// `<i>`, `<font>` and `<a>`; dev.classmethod.jp, "Google Chat Bot cardsV2
/// rich text formatting", 2026: Google's page lists only the older tags.)
fn code_paragraphs(html: &str) -> Vec<Widget> {
    let mut widgets = paragraphs(html);
    for widget in &mut widgets {
        let text = widget["textParagraph"]["text"].as_str().unwrap_or_default();
        widget["textParagraph"]["text"] = Value::String(format!("<pre>{text}</pre>"));
    }
    widgets
}

/// Links become rows of buttons. A link whose label is longer than
/// [`BUTTON_TEXT_MAX`] would show cut on its button, so it goes into the text
/// as an HTML link, label whole; a label too long even for that is written
/// out as text, followed by an "Open link" button to its URL.
fn link_widgets(message: &Message) -> Vec<Widget> {
    let mut widgets = Vec::new();
    let mut row: Vec<Value> = Vec::new();
    let flush = |row: &mut Vec<Value>, widgets: &mut Vec<Widget>| {
        if !row.is_empty() {
            widgets.push(json!({"buttonList": {"buttons": std::mem::take(row)}}));
        }
    };
    for link in &message.links {
        let button = |text: &str| json!({"text": text, "onClick": {"openLink": {"url": link.url}}});
        if link.label.chars().count() <= BUTTON_TEXT_MAX {
            let button = button(&link.label);
            let full = row.len() == BUTTONS_PER_ROW
                || json!(row).to_string().len() + button.to_string().len() > ROW_BYTES;
            if full {
                flush(&mut row, &mut widgets);
            }
            row.push(button);
            continue;
        }
        flush(&mut row, &mut widgets);
        let html = format!(
            "<a href=\"{}\">{}</a>",
            escape(&link.url).replace('"', "&quot;"),
            escape(&link.label)
        );
        if html.len() <= LINK_BYTES {
            widgets.push(json!({"textParagraph": {"text": html}}));
        } else {
            widgets.extend(paragraphs(&escape(&link.label)));
            row.push(button(OPEN_LINK));
        }
    }
    flush(&mut row, &mut widgets);
    widgets
}

fn assemble(
    message: &Message,
    title: Option<&str>,
    part: &[Widget],
    marker: Option<&str>,
    thread_key: Option<&str>,
) -> Value {
    // The header is plain text: no escaping, and no markup to fear.
    let mut heading = match message.level {
        Level::Info => String::new(),
        level => format!("{} ", level.emoji()),
    };
    heading.push_str(title.unwrap_or(&message.host));
    if let Some(marker) = marker {
        heading.push(' ');
        heading.push_str(marker);
    }
    let stamp = humantime::format_rfc3339_seconds(message.time);
    let subtitle = match title {
        Some(_) => format!("{} · {stamp}", message.host),
        None => stamp.to_string(),
    };
    let mut sections = Vec::new();
    if !part.is_empty() {
        sections.push(json!({"widgets": part}));
    }
    let card = json!({"header": {"title": heading, "subtitle": subtitle}, "sections": sections});
    let mut payload = json!({
        "fallbackText": fallback(&heading),
        "cardsV2": [{"cardId": "chime", "card": card}],
    });
    if let Some(key) = thread_key {
        payload["thread"] = json!({"threadKey": key});
    }
    payload
}

fn fallback(heading: &str) -> String {
    cut(heading, FALLBACK_MAX, Measure::Chars).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_makes_user_text_plain_card_html() {
        assert_eq!(
            escape("<users/all> *a* & <b>"),
            "&lt;users/all&gt; *a* &amp; &lt;b&gt;"
        );
    }

    #[test]
    fn google_errors_read_status_message_and_reason() {
        let answer = Answer {
            status: 400,
            retry_after: None,
            body: r#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#.into(),
        };
        let error = GoogleError::read(&answer);
        assert_eq!(
            error.to_string(),
            "400 INVALID_ARGUMENT: API key not valid."
        );
        assert!(error.hint().unwrap().contains("`key`"));
    }
}
