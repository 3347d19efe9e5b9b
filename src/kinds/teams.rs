//! `kind = "teams"`: Microsoft Teams through a Workflows (Power Automate) webhook.
//!
//! The workflow's trigger takes a `message` whose attachment is an Adaptive
//! Card (PLATFORMS.md §6.1): a title, the text, a FactSet for fields,
//! `Action.OpenUrl` buttons for links and a subtle context line. The trigger
//! answers `202 Accepted` before the card is posted, so a card over the 28 KB
//! limit is accepted and then dropped, visible only in the flow's run history:
//! chime must split before sending, never after. Each card is measured as
//! Teams counts it (the card as a JSON string, see [`size`]), and a message
//! that does not fit one card becomes several, sent in order and marked
//! "(1/3)", "(2/3)"…: text, facts and buttons alike are split between cards,
//! and a field too large for a fact is text of its own.
//!
//! Adaptive Card text is Markdown without HTML, so user text has its Markdown
//! characters backslash-escaped and `<`, `>`, `&` written as entities (the
//! CommonMark forms Teams renders). Errors come from Azure Logic Apps as
//! `{"error": {"code", "message"}}`.

use serde_json::{Value, json};

use crate::fields::Fields;
use crate::kinds::markdown::Markdown;
use crate::kinds::text::{Measure, cut, split_escaped};
use crate::kinds::{
    Answer, HttpRequest, JSON_UTF8, Payload, Platform, Target, Verdict, WIDEST_MARKER,
    classify_http, pack,
};
use crate::message::{Level, Message};
use crate::secret::Secret;
use crate::template::Escape;

/// "The message size limit is 28 KB" (§6.1), which Teams counts as 28,672
/// bytes of the card as it stores it (see [`size`]); the flow adds a few
/// properties of its own, so chime keeps 2.6 KB clear of the limit.
const REQUEST_BUDGET: usize = 26_000;
/// Text goes in blocks of at most this many bytes.
const PIECE_BYTES: usize = 4_000;
/// A title longer than this is cut in the title line and kept whole in the text.
const TITLE_MAX: usize = 200;
/// A fact's title is a narrow column; a longer key makes the field text.
const FACT_TITLE_MAX: usize = 400;
/// Teams shows at most a handful of buttons in a row; more go in further rows.
const ACTIONS_PER_SET: usize = 5;
/// Longer labels are not buttons (see [`link_units`]).
const BUTTON_TEXT_MAX: usize = 75;
/// The button under a label too long to be a link's text.
const OPEN_LINK: &str = "Open link";

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
        // Each card goes as soon as it is serialised, so a long message is
        // never held as every card's values and every body at once (issue 11).
        render(message)
            .into_iter()
            .map(|card| Payload::json(&card))
            .collect()
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        HttpRequest::post(self.url.clone(), payload, JSON_UTF8)
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        vec![("url", self.url.to_string().into())]
    }

    /// For `chime pipe`: a card stays under 26,000 bytes as Teams counts them; JSON and the title take the rest.
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
    after_number: &['.'],
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

/// What the stored size of one unit may be: with the title line, the
/// context line and the envelope, a card of one unit always fits the budget.
const UNIT_STORED_MAX: usize = 16_000;

/// One piece of the message, in the order it is shown. A part's consecutive
/// facts become one FactSet and its consecutive buttons rows of ActionSets,
/// so a long list of either can be split between cards like text is.
#[derive(Clone)]
enum Unit {
    /// A TextBlock, ready.
    Block(Value),
    Fact {
        title: String,
        value: String,
    },
    Button {
        title: String,
        url: String,
    },
}

/// The payloads for `message`, each within Teams' size limit.
fn render(message: &Message) -> Vec<Value> {
    let title = message
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(|t| cut(t, TITLE_MAX, Measure::Chars));
    let mut units = Vec::new();
    if let Some((_, true)) = &title
        && let Some(full) = &message.title
    {
        units.extend(text_blocks(&format!("**{}**", escape(full)), false));
    }
    units.extend(text_blocks(&message.text, message.code));
    units.extend(fact_units(&message.fields));
    units.extend(link_units(message));
    let title = title.map(|(t, _)| t);

    let card = |part: &[Unit], marker: Option<&str>| {
        envelope(card(message, title.as_deref(), &elements(part), marker))
    };
    let parts = pack(units, |part| {
        size(&card(part, Some(WIDEST_MARKER))) <= REQUEST_BUDGET
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

/// What Teams counts of a payload: the flow hands the card on as a JSON
/// string inside the chat message, so every quote, backslash and escape in
/// it is counted twice ("Message properties size exceeded. Actual message
/// properties size: 28897 bytes, whereas max allowed size is 28672 bytes"
/// for a request of 24,453 bytes: MicrosoftDocs/msteams-docs#11274). The
/// bytes sent are never more than that.
fn size(value: &Value) -> usize {
    Value::String(value.to_string()).to_string().len()
}

/// The body elements of a part: facts gathered into FactSets, buttons into
/// rows of at most [`ACTIONS_PER_SET`].
fn elements(part: &[Unit]) -> Vec<Element> {
    let mut elements = Vec::new();
    let mut facts = Vec::new();
    let mut buttons = Vec::new();
    let flush = |facts: &mut Vec<Value>, buttons: &mut Vec<Value>, out: &mut Vec<Element>| {
        if !facts.is_empty() {
            out.push(json!({"type": "FactSet", "facts": std::mem::take(facts)}));
        }
        for row in buttons.chunks(ACTIONS_PER_SET) {
            out.push(json!({"type": "ActionSet", "actions": row}));
        }
        buttons.clear();
    };
    for unit in part {
        match unit {
            Unit::Fact { title, value } => {
                if !buttons.is_empty() {
                    flush(&mut facts, &mut buttons, &mut elements);
                }
                facts.push(json!({"title": title, "value": value}));
            }
            Unit::Button { title, url } => {
                if !facts.is_empty() {
                    flush(&mut facts, &mut buttons, &mut elements);
                }
                buttons.push(json!({"type": "Action.OpenUrl", "title": title, "url": url}));
            }
            Unit::Block(block) => {
                flush(&mut facts, &mut buttons, &mut elements);
                elements.push(block.clone());
            }
        }
    }
    flush(&mut facts, &mut buttons, &mut elements);
    elements
}

/// Text as TextBlocks of at most [`PIECE_BYTES`], each small enough as
/// stored to share a card with anything.
fn text_blocks(text: &str, code: bool) -> Vec<Unit> {
    let block = |piece: &str| {
        let mut block = json!({"type": "TextBlock", "text": piece, "wrap": true});
        if code {
            block["fontType"] = "Monospace".into();
        }
        block
    };
    let mut units = Vec::new();
    let mut pieces: Vec<String> = split_escaped(text, PIECE_BYTES, Measure::Bytes);
    pieces.reverse();
    while let Some(piece) = pieces.pop() {
        if piece.trim().is_empty() {
            continue;
        }
        let candidate = block(&piece);
        // Text that escapes to far more than it is (control characters,
        // backslashes) is split further until it fits.
        if size(&candidate) > UNIT_STORED_MAX && piece.len() > 16 {
            let halves = split_escaped(&piece, piece.len() / 2 + 1, Measure::Bytes);
            pieces.extend(halves.into_iter().rev());
            continue;
        }
        units.push(Unit::Block(candidate));
    }
    units
}

/// Fields become facts; one too large for a fact becomes text blocks of its
/// own, its key in bold, so nothing of it is cut.
fn fact_units(fields: &[(String, String)]) -> Vec<Unit> {
    let mut units = Vec::new();
    for (key, value) in fields {
        let (title, value) = (escape(key), escape(value));
        let fact = json!({"title": title, "value": value});
        if title.len() <= FACT_TITLE_MAX && size(&fact) <= UNIT_STORED_MAX {
            units.push(Unit::Fact { title, value });
        } else {
            units.extend(text_blocks(&format!("**{title}**\n\n{value}"), false));
        }
    }
    units
}

/// Links become `Action.OpenUrl` buttons. Teams shows a button's title on
/// one line and cuts what does not fit, so a link whose label is longer than
/// [`BUTTON_TEXT_MAX`] goes into the text as a Markdown link, label whole;
/// a label too long even for that is written out as text, followed by a
/// button "Open link" for its URL.
fn link_units(message: &Message) -> Vec<Unit> {
    let mut units = Vec::new();
    for link in &message.links {
        let button = |title: &str| Unit::Button {
            title: title.to_owned(),
            url: link.url.clone(),
        };
        if link.url.len() > UNIT_STORED_MAX / 2 {
            // No card could hold it as a link: it can only be text.
            let text = format!("{}: {}", escape(&link.label), escape(&link.url));
            units.extend(text_blocks(&text, false));
            continue;
        }
        if link.label.chars().count() <= BUTTON_TEXT_MAX {
            units.push(button(&link.label));
            continue;
        }
        let markdown = format!("[{}]({})", escape(&link.label), link_target(&link.url));
        let block = json!({"type": "TextBlock", "text": markdown, "wrap": true});
        if size(&block) <= UNIT_STORED_MAX {
            units.push(Unit::Block(block));
        } else {
            units.extend(text_blocks(&escape(&link.label), false));
            units.push(button(OPEN_LINK));
        }
    }
    units
}

/// A URL that cannot end the Markdown link early.
fn link_target(url: &str) -> String {
    url.replace('(', "%28")
        .replace(')', "%29")
        .replace(' ', "%20")
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

    fn message(text: &str) -> Message {
        Message {
            title: Some("Report".into()),
            text: text.into(),
            level: Level::Info,
            fields: vec![],
            links: vec![],
            code: false,
            host: "db1".into(),
            time: std::time::SystemTime::UNIX_EPOCH,
            context: Vec::new(),
            files: Vec::new(),
            file_urls: Vec::new(),
        }
    }

    #[test]
    fn every_card_fits_as_teams_stores_it_whatever_the_text_escapes_to() {
        // Control characters, quotes and backslashes cost the most once stored.
        let nasty = "\u{1}\"\\".repeat(20_000);
        let mut m = message(&escape(&nasty));
        m.fields = (0..30)
            .map(|i| (format!("k{i}"), nasty[..3000].to_owned()))
            .collect();
        let cards = render(&m);
        assert!(cards.len() > 1);
        for card in &cards {
            assert!(size(card) <= REQUEST_BUDGET, "{} bytes", size(card));
        }
    }

    #[test]
    fn a_label_too_long_for_a_button_becomes_a_markdown_link() {
        let mut m = message("x");
        m.links = vec![crate::message::Link {
            label: "l".repeat(100),
            url: "https://ci.example/(1)".into(),
        }];
        let card = &render(&m)[0]["attachments"][0]["content"];
        let text = card["body"][2]["text"].as_str().unwrap();
        assert_eq!(
            text,
            format!("[{}](https://ci.example/%281%29)", "l".repeat(100))
        );
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
