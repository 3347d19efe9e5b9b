//! `kind = "teams"`: Microsoft Teams through a Workflows (Power Automate) webhook.
//!
//! The workflow's trigger takes a `message` whose attachment is an Adaptive
//! Card (PLATFORMS.md §6.1): a title, the text, a FactSet for fields,
//! `Action.OpenUrl` buttons for links and a subtle context line. The trigger
//! answers `202 Accepted` before the card is posted, so a card over the 28 KB
//! limit is accepted and then dropped, visible only in the flow's run history:
//! chime must split before sending, never after. Each card is measured as the
//! exact bytes that go on the wire, and a message that does not fit one card
//! becomes several, sent in order and marked "(1/3)", "(2/3)"…
//!
//! Adaptive Card text is Markdown without HTML, so user text has its Markdown
//! characters backslash-escaped and `<`, `>`, `&` written as entities (the
//! CommonMark forms Teams renders). Errors come from Azure Logic Apps as
//! `{"error": {"code", "message"}}`.

use serde_json::{Value, json};

use crate::config::Fields;
use crate::kinds::markdown::Markdown;
use crate::kinds::text::{Measure, cut, split};
use crate::kinds::{
    Answer, HttpRequest, JSON_UTF8, Payload, Platform, Target, Verdict, WIDEST_MARKER,
    classify_http, pack,
};
use crate::message::{Level, Message};
use crate::secret::Secret;
use crate::template::Escape;

/// "The message size limit is 28 KB" (§6.1). The flow wraps the card in its own
/// envelope before Teams counts it, so chime keeps 2 KB clear of the limit.
const REQUEST_BUDGET: usize = 26_000;
/// Text goes in blocks of at most this many bytes, so that even text whose
/// every byte JSON-escapes to six (control characters) fits one card.
const PIECE_BYTES: usize = 4_000;
/// A title longer than this is cut in the title line and kept whole in the text.
const TITLE_MAX: usize = 200;
/// Facts go ten to a FactSet, so a long list can be split between cards.
const FACTS_PER_SET: usize = 10;
/// Teams shows at most a handful of buttons in a row; more go in further rows.
const ACTIONS_PER_SET: usize = 5;
const BUTTON_TEXT_MAX: usize = 75;

pub struct Teams {
    url: Secret,
}

impl Teams {
    pub fn from_fields(fields: &mut Fields) -> Teams {
        let help = "set `url` to the URL of the workflow's \"When a Teams webhook request is received\" trigger, e.g. url = \"${TEAMS_WEBHOOK_URL}\"";
        let url = fields
            .secret_url("url", "teams", help)
            .unwrap_or_else(|| Secret::url(String::new()));
        Teams { url }
    }
}

impl Platform for Teams {
    fn kind(&self) -> &'static str {
        "teams"
    }

    fn markup(&self) -> Escape {
        escape
    }

    fn render(&self, message: &Message, _target: &Target) -> Vec<Payload> {
        render(message).iter().map(Payload::json).collect()
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        HttpRequest::post(self.url.clone(), payload, JSON_UTF8)
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        vec![("url", self.url.to_string().into())]
    }

    /// For `chime pipe`: a card stays under 26,000 bytes; JSON and the title take the rest.
    fn batch_limit(&self) -> usize {
        20000
    }

    fn measure(&self) -> crate::kinds::text::Measure {
        crate::kinds::text::Measure::Bytes
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        if let Some(verdict) = classify_http(answer) {
            return verdict;
        }
        if matches!(answer.status, 200 | 202) {
            return Verdict::Delivered {
                channel: None,
                ts: None,
            };
        }
        let (code, detail) = logic_apps_error(&answer.body);
        let mut error = format!("{} {code}", answer.status);
        if !detail.is_empty() {
            error.push_str(&format!(": {detail}"));
        }
        Verdict::Rejected {
            error,
            hint: hint(answer.status, &code).map(str::to_owned),
        }
    }
}

/// Escapes Adaptive Card Markdown: the emphasis, code, link and strike
/// characters anywhere, list and heading markers at the start of a line, and
/// `<`, `>`, `&` as entities.
const MARKDOWN: Markdown = Markdown {
    entities: &[('&', "&amp;"), ('<', "&lt;"), ('>', "&gt;")],
    inline: &['\\', '*', '_', '`', '[', ']', '~'],
    line_start: &['-', '+', '#'],
    after_number: &[],
    tab_indents: false,
};

pub fn escape(text: &str) -> String {
    MARKDOWN.escape(text)
}

/// The Logic Apps error code and message, or the start of a body that is not one.
fn logic_apps_error(body: &str) -> (String, String) {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().map(|v| &v["error"]);
    match error.and_then(|e| e["code"].as_str()) {
        Some(code) => {
            let message = error.and_then(|e| e["message"].as_str()).unwrap_or("");
            (code.to_owned(), message.chars().take(300).collect())
        }
        None => (body.trim().chars().take(200).collect(), String::new()),
    }
}

fn hint(status: u16, code: &str) -> Option<&'static str> {
    Some(match (status, code) {
        (_, "WorkflowTriggerIsNotEnabled") => {
            "the workflow is turned off: turn it on again in Power Automate (My flows)"
        }
        (401 | 403, _) => {
            "the URL lost its signature (`sig=`), or the workflow only accepts signed-in callers: copy the whole URL again from the workflow's trigger \"When a Teams webhook request is received\", with \"Who can trigger the flow\" set to Anyone"
        }
        (404, _) => {
            "the workflow was deleted or its URL changed: create one in Teams (channel ⋯ → Workflows → \"Send webhook alerts to a channel\") and update the profile"
        }
        (400 | 413 | 415, _) => {
            "the workflow refused the card chime built: please report this with the output of --dry-run"
        }
        _ => return None,
    })
}

/// One element of a card's body: a TextBlock, FactSet or ActionSet.
type Element = Value;

/// The payloads for `message`, each within Teams' size limit.
fn render(message: &Message) -> Vec<Value> {
    let title = message
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(|t| cut(t, TITLE_MAX, Measure::Chars));
    let mut elements = Vec::new();
    if let Some((_, true)) = &title
        && let Some(full) = &message.title
    {
        elements.extend(text_blocks(&format!("**{}**", escape(full)), false));
    }
    elements.extend(text_blocks(&message.text, message.code));
    elements.extend(fact_sets(&message.fields));
    elements.extend(action_sets(message));
    let title = title.map(|(t, _)| t);

    let card = |part: &[Element], marker: Option<&str>| {
        envelope(card(message, title.as_deref(), part, marker))
    };
    let parts = pack(elements, |part| {
        card(part, Some(WIDEST_MARKER)).to_string().len() <= REQUEST_BUDGET
    });
    let count = parts.len();
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let marker = crate::kinds::marker(i, count);
            card(part, marker.as_deref())
        })
        .collect()
}

fn text_blocks(text: &str, code: bool) -> Vec<Element> {
    split(text, PIECE_BYTES, Measure::Bytes)
        .into_iter()
        .filter(|piece| !piece.trim().is_empty())
        .map(|piece| {
            let mut block = json!({"type": "TextBlock", "text": piece, "wrap": true});
            if code {
                block["fontType"] = "Monospace".into();
            }
            block
        })
        .collect()
}

/// Fields become FactSets; a field too long for a fact gets text blocks of its own.
fn fact_sets(fields: &[(String, String)]) -> Vec<Element> {
    let mut elements = Vec::new();
    let mut facts = Vec::new();
    let flush = |facts: &mut Vec<Value>, elements: &mut Vec<Element>| {
        if !facts.is_empty() {
            elements.push(json!({"type": "FactSet", "facts": std::mem::take(facts)}));
        }
    };
    for (key, value) in fields {
        let (key, value) = (escape(key), escape(value));
        if key.len() + value.len() > PIECE_BYTES {
            flush(&mut facts, &mut elements);
            elements.extend(text_blocks(&format!("**{key}**\n\n{value}"), false));
            continue;
        }
        facts.push(json!({"title": key, "value": value}));
        if facts.len() == FACTS_PER_SET {
            flush(&mut facts, &mut elements);
        }
    }
    flush(&mut facts, &mut elements);
    elements
}

/// Links become rows of `Action.OpenUrl` buttons (button titles are plain text).
fn action_sets(message: &Message) -> Vec<Element> {
    message
        .links
        .chunks(ACTIONS_PER_SET)
        .map(|links| {
            let actions: Vec<Value> = links
                .iter()
                .map(|link| {
                    let (title, _) = cut(&link.label, BUTTON_TEXT_MAX, Measure::Chars);
                    json!({"type": "Action.OpenUrl", "title": title, "url": link.url})
                })
                .collect();
            json!({"type": "ActionSet", "actions": actions})
        })
        .collect()
}

fn card(message: &Message, title: Option<&str>, part: &[Element], marker: Option<&str>) -> Value {
    let mut body = Vec::with_capacity(part.len() + 2);
    if let Some(title) = title {
        let mut text = match message.level {
            Level::Info => escape(title),
            level => format!("{} {}", level.emoji(), escape(title)),
        };
        if let Some(marker) = marker {
            text.push(' ');
            text.push_str(marker);
        }
        body.push(
            json!({"type": "TextBlock", "text": text, "weight": "Bolder",
                         "size": "Medium", "wrap": true, "color": colour(message.level)}),
        );
    }
    body.extend(part.iter().cloned());
    body.push(context(message, marker));
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "msteams": {"width": "Full"},
        "body": body,
    })
}

/// Adaptive Cards have no colour bar; the title takes the level's text colour.
fn colour(level: Level) -> &'static str {
    match level {
        Level::Info => "Accent",
        Level::Success => "Good",
        Level::Warning => "Warning",
        Level::Error | Level::Critical => "Attention",
    }
}

/// "host · date time · part 1/3", with Adaptive Cards' DATE/TIME functions so
/// each reader sees their own time zone.
fn context(message: &Message, marker: Option<&str>) -> Value {
    let stamp = humantime::format_rfc3339_seconds(message.time);
    let mut text = format!(
        "{} · {{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}}",
        escape(&message.host)
    );
    if let Some(marker) = marker {
        text.push_str(&format!(" · part {}", marker.trim_matches(['(', ')'])));
    }
    json!({"type": "TextBlock", "text": text, "isSubtle": true, "size": "Small", "wrap": true})
}

/// The message envelope the workflow trigger expects (§6.1).
fn envelope(card: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markdown_and_angle_brackets() {
        assert_eq!(
            escape("a<b>&c *d* _e_ [f](g) `h`"),
            "a&lt;b&gt;&amp;c \\*d\\* \\_e\\_ \\[f\\](g) \\`h\\`"
        );
        assert_eq!(escape("- x\n  # y\na-b"), "\\- x\n  \\# y\na-b");
    }

    #[test]
    fn logic_apps_errors_are_read() {
        let body = r#"{"error":{"code":"DirectApiAuthorizationRequired","message":"no sig"}}"#;
        assert_eq!(
            logic_apps_error(body),
            ("DirectApiAuthorizationRequired".into(), "no sig".into())
        );
        assert_eq!(logic_apps_error("oops"), ("oops".into(), String::new()));
    }
}
