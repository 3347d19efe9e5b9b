//! Slack: Block Kit rendering shared by incoming webhooks and the Web API.
//!
//! A message becomes a header (title), sections (text, split at 3,000
//! characters), field sections (10 fields each), action blocks (buttons; a
//! link whose label is too long for a button is a link in the text) and a
//! coloured attachment with a context line (host, time, part). Slack cuts or
//! rejects anything over its limits, so whatever does not fit one message is
//! split into several, sent in order and marked "(1/3)", "(2/3)"… A code block
//! that is split is closed and reopened so each part renders.

mod api;
mod history;
mod upload;
mod webhook;

use std::borrow::Cow;
use std::time::UNIX_EPOCH;

use serde_json::{Map, Value, json};

pub use api::Api;
pub use webhook::Webhook;

use crate::kinds::Payload;
use crate::kinds::text::{Measure, cut as cut_to, split as split_by};
use crate::message::{Level, Message};

/// Block Kit limits (https://docs.slack.dev/block-kit and the block references).
const HEADER_MAX: usize = 150;
/// What a part's marker takes in a header: " (1234/1234)".
const MARKER_ROOM: usize = 12;
const SECTION_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;
const FIELDS_PER_SECTION: usize = 10;
const BLOCKS_MAX: usize = 50;
const BUTTONS_PER_ACTIONS: usize = 25;
const BUTTON_TEXT_MAX: usize = 75;
const BUTTON_URL_MAX: usize = 3000;
/// The button beside a link label too long to be the link's text.
const OPEN_LINK: &str = "Open link";
/// Slack truncates a message past 40,000 characters; stay clear of it, since
/// the fallback text (at most 300) and the context line count too.
pub const MESSAGE_CHARS_BUDGET: usize = 39_000;
/// What `chime pipe` puts in one message: the budget less the code fences of
/// up to 49 sections, so a full batch still renders as a single message.
pub const BATCH_LIMIT: usize = MESSAGE_CHARS_BUDGET - (BLOCKS_MAX - 1) * CODE_FENCES;
/// chat.postMessage refuses blocks whose text adds up to much more than this
/// (`msg_blocks_too_long`). The limit is undocumented: "12,000 text characters
/// with a buffer for block containers" in a Slack SDK maintainer's words,
/// one message refused at 11,341 and one posted at 9,597 (slackapi/bolt-js
/// #2509, #2867). Slash-command responses do not check it, and incoming
/// webhooks are not known to, so only the Web API keeps below it.
pub const API_CHARS_BUDGET: usize = 9_000;
/// A fields section or a row of buttons holds at most this many characters,
/// so that one block always fits a Web API message.
const BLOCK_CHARS_MAX: usize = 6_000;
/// What `chime pipe` puts in one Web API message: the budget less a title
/// and the code fences of the few sections it makes.
pub const API_BATCH_LIMIT: usize = API_CHARS_BUDGET - HEADER_MAX - 8 * CODE_FENCES;
/// The fallback text is what notifications show: a glimpse, not the message.
const FALLBACK_MAX: usize = 300;
/// "```\n" and "\n```" around each part of a code block.
const CODE_FENCES: usize = 8;

/// The profile keys Slack keeps in its identity map.
const IDENTITY: [&str; 3] = ["username", "icon_emoji", "icon_url"];

/// Escapes the three characters Slack parses as control characters.
pub fn escape(text: &str) -> String {
    // The three are ASCII, so a byte search finds them; what lies between
    // is copied whole (the hot path of pipe, and of a long send).
    let special = |rest: &str| rest.bytes().position(|b| matches!(b, b'&' | b'<' | b'>'));
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(at) = special(rest) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            _ => "&gt;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

fn emoji(level: Level) -> &'static str {
    match level {
        Level::Info => ":information_source:",
        Level::Success => ":white_check_mark:",
        Level::Warning => ":warning:",
        Level::Error => ":x:",
        Level::Critical => ":rotating_light:",
    }
}

fn colour(level: Level) -> String {
    format!("#{:06X}", level.colour())
}

/// A block with the number of characters it contributes to the message.
struct Block<'m> {
    content: Content<'m>,
    chars: usize,
}

enum Content<'m> {
    /// A mrkdwn section, kept as its text until its part is assembled, so
    /// that the sections of a long message borrow its text instead of
    /// holding a copy of it beside the payloads (issue 11). `code` fences it.
    Section {
        text: Cow<'m, str>,
        code: bool,
        accessory: Option<Value>,
    },
    /// Any other block, built.
    Built(Value),
}

impl<'m> Block<'m> {
    fn section(text: Cow<'m, str>, code: bool) -> Block<'m> {
        let fences = if code { CODE_FENCES } else { 0 };
        Block {
            chars: text.chars().count() + fences,
            content: Content::Section {
                text,
                code,
                accessory: None,
            },
        }
    }

    fn built(json: Value, chars: usize) -> Block<'static> {
        Block {
            content: Content::Built(json),
            chars,
        }
    }

    /// The block's mrkdwn text as shown, for the fallback of the part it lands in.
    fn text(&self) -> Option<Cow<'_, str>> {
        match &self.content {
            Content::Section { text, code, .. } => Some(fenced(text, *code)),
            Content::Built(_) => None,
        }
    }

    fn into_owned(self) -> Block<'static> {
        let content = match self.content {
            Content::Section {
                text,
                code,
                accessory,
            } => Content::Section {
                text: Cow::Owned(text.into_owned()),
                code,
                accessory,
            },
            Content::Built(json) => Content::Built(json),
        };
        Block {
            content,
            chars: self.chars,
        }
    }

    fn into_json(self) -> Value {
        match self.content {
            Content::Section {
                text,
                code,
                accessory,
            } => {
                let text = fenced(&text, code).into_owned();
                let mut json = json!({"type": "section", "text": {"type": "mrkdwn", "text": text}});
                if let Some(accessory) = accessory {
                    json["accessory"] = accessory;
                }
                json
            }
            Content::Built(json) => json,
        }
    }
}

/// A section's text, in a code block when `code`: closed and reopened in
/// each section, so every part renders.
fn fenced(text: &str, code: bool) -> Cow<'_, str> {
    match code {
        true => Cow::Owned(format!("```\n{text}\n```")),
        false => Cow::Borrowed(text),
    }
}

/// The payloads that deliver `message`, in order: [`parts`], each serialised
/// as soon as it is assembled, so only one part is ever held as JSON values.
pub fn render(message: &Message, extra: &Map<String, Value>, chars: usize) -> Vec<Payload> {
    parts(message, extra, chars, |part| Payload::json(&part))
}

/// The [`parts`] of `message` as JSON values, for the tests to look into.
#[cfg(test)]
fn payloads(message: &Message, extra: &Map<String, Value>, chars: usize) -> Vec<Value> {
    parts(message, extra, chars, |part| part)
}

/// Renders `message` into one or more parts, each within Slack's limits and
/// `chars` characters of block text and URLs, with `extra` (channel,
/// username…) added to each, and hands each part to `each` as it is made.
fn parts<'m, T>(
    message: &'m Message,
    extra: &Map<String, Value>,
    chars: usize,
    mut each: impl FnMut(Value) -> T,
) -> Vec<T> {
    let (header, title_cut) = header(message);
    let mut body: Vec<Block<'m>> = Vec::new();
    if title_cut && let Some(title) = &message.title {
        body.extend(owned_sections(format!("*{}*", escape(title))));
    }
    if message.code && message.text.contains("```") {
        // Slack has no escape for a fence inside a code block: an invisible
        // space breaks it, as Discord and Mattermost do (issue 12).
        let broken = break_fences(&message.text);
        body.extend(
            text_sections(&broken, true)
                .into_iter()
                .map(|block| -> Block<'m> { block.into_owned() }),
        );
    } else {
        body.extend(text_sections(&message.text, message.code));
    }
    body.extend(field_sections(&message.fields));
    body.extend(link_blocks(message));

    let room = BLOCKS_MAX - usize::from(header.is_some());
    let header_chars = header.as_ref().map_or(0, |h| {
        h["text"]["text"].as_str().map_or(0, |t| t.chars().count()) + MARKER_ROOM
    });
    let parts = pack(body, room, chars - header_chars);
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let marker = crate::kinds::marker(i, count);
            each(assemble(
                message,
                header.as_ref(),
                part,
                marker.as_deref(),
                extra,
            ))
        })
        .collect()
}

fn header(message: &Message) -> (Option<Value>, bool) {
    let Some(title) = message.title.as_deref().filter(|t| !t.trim().is_empty()) else {
        return (None, false);
    };
    let text = match message.level {
        Level::Info => title.to_owned(),
        level => format!("{} {title}", emoji(level)),
    };
    // Room for the part's marker, shown in every part's header.
    let (text, cut) = cut(&text, HEADER_MAX - MARKER_ROOM);
    let block =
        json!({"type": "header", "text": {"type": "plain_text", "text": text, "emoji": true}});
    (Some(block), cut)
}

/// Slack counts characters.
fn cut(text: &str, max: usize) -> (String, bool) {
    cut_to(text, max, Measure::Chars)
}

fn split(text: &str, max: usize) -> Vec<&str> {
    split_by(text, max, Measure::Chars)
}

/// `text` with every ``` broken by a zero-width space, so it cannot end a
/// code block early.
fn break_fences(text: &str) -> String {
    let mut text = text.to_owned();
    while text.contains("```") {
        text = text.replace("```", "`\u{200B}``");
    }
    text
}

/// Sections of `text`, each a borrowed piece of it.
fn text_sections(text: &str, code: bool) -> Vec<Block<'_>> {
    let max = if code {
        SECTION_MAX - CODE_FENCES
    } else {
        SECTION_MAX
    };
    // A fence the user typed is closed and reopened where a split cuts it.
    if !code && text.contains("```") {
        let pieces = split(text, max - crate::kinds::text::FENCE_ROOM);
        return crate::kinds::text::close_fences(pieces)
            .into_iter()
            .filter(|part| !part.trim().is_empty())
            .map(|part| Block::section(part, false))
            .collect();
    }
    split(text, max)
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .map(|part| Block::section(Cow::Borrowed(part), code))
        .collect()
}

/// [`text_sections`] of a text made for them (a title, a field, a label).
fn owned_sections(text: String) -> Vec<Block<'static>> {
    text_sections(&text, false)
        .into_iter()
        .map(Block::into_owned)
        .collect()
}

/// Fields go up to ten to a section; one too long for a field gets sections of its own.
fn field_sections(fields: &[(String, String)]) -> Vec<Block<'static>> {
    let mut blocks = Vec::new();
    let mut group: Vec<String> = Vec::new();
    let flush = |group: &mut Vec<String>, blocks: &mut Vec<Block>| {
        if group.is_empty() {
            return;
        }
        let chars = group.iter().map(|f| f.chars().count()).sum();
        let items: Vec<Value> = group
            .drain(..)
            .map(|f| json!({"type": "mrkdwn", "text": f}))
            .collect();
        blocks.push(Block::built(
            json!({"type": "section", "fields": items}),
            chars,
        ));
    };
    for (key, value) in fields {
        let text = format!("*{}*\n{}", escape(key), escape(value));
        if text.chars().count() > FIELD_MAX {
            flush(&mut group, &mut blocks);
            blocks.extend(owned_sections(text));
            continue;
        }
        let chars: usize = group.iter().map(|f| f.chars().count()).sum();
        if chars + text.chars().count() > BLOCK_CHARS_MAX {
            flush(&mut group, &mut blocks);
        }
        group.push(text);
        if group.len() == FIELDS_PER_SECTION {
            flush(&mut group, &mut blocks);
        }
    }
    flush(&mut group, &mut blocks);
    blocks
}

/// Links become buttons, up to 25 to an actions block. A button's text holds
/// 75 characters and Slack refuses more, so a link with a longer label goes
/// into the text as `<url|label>`, label whole; one too long even for a
/// section's 3,000 characters is written out as sections with an "Open link"
/// button beside the last. A URL longer than a button takes (3,000) can only
/// be shown as text.
fn link_blocks(message: &Message) -> Vec<Block<'static>> {
    let mut blocks = Vec::new();
    let mut buttons: Vec<(Value, usize)> = Vec::new();
    let flush = |buttons: &mut Vec<(Value, usize)>, blocks: &mut Vec<Block>| {
        let rows = crate::kinds::pack(std::mem::take(buttons), |row| {
            row.len() <= BUTTONS_PER_ACTIONS
                && row.iter().map(|(_, c)| c).sum::<usize>() <= BLOCK_CHARS_MAX
        });
        for row in rows.into_iter().filter(|row| !row.is_empty()) {
            let chars = row.iter().map(|(_, c)| c).sum();
            let elements: Vec<Value> = row.into_iter().map(|(b, _)| b).collect();
            let json = json!({"type": "actions", "elements": elements});
            blocks.push(Block::built(json, chars));
        }
    };
    for link in &message.links {
        let label_chars = link.label.chars().count();
        let url_fits = link.url.chars().count() <= BUTTON_URL_MAX;
        if label_chars <= BUTTON_TEXT_MAX && url_fits {
            let chars = label_chars + link.url.chars().count();
            buttons.push((button(&link.label, &link.url), chars));
            continue;
        }
        flush(&mut buttons, &mut blocks);
        let linked = format!("<{}|{}>", link_target(&link.url), escape(&link.label));
        if url_fits && linked.chars().count() <= SECTION_MAX {
            blocks.push(Block::section(Cow::Owned(linked), false));
        } else if url_fits {
            let mut sections = owned_sections(escape(&link.label));
            if let Some(last) = sections.last_mut()
                && let Content::Section { accessory, .. } = &mut last.content
            {
                *accessory = Some(button(OPEN_LINK, &link.url));
                last.chars += OPEN_LINK.len() + link.url.chars().count();
            }
            blocks.extend(sections);
        } else {
            let text = format!("{}: {}", escape(&link.label), escape(&link.url));
            blocks.extend(owned_sections(text));
        }
    }
    flush(&mut buttons, &mut blocks);
    blocks
}

fn button(label: &str, url: &str) -> Value {
    json!({"type": "button", "text": {"type": "plain_text", "text": label, "emoji": true}, "url": url})
}

/// A URL for `<url|label>`: escaped like text, and without the `|` or `>`
/// that would end it early.
fn link_target(url: &str) -> String {
    escape(&url.replace('|', "%7C"))
}

/// Packs blocks, in order, into as few messages as the limits allow.
fn pack(blocks: Vec<Block>, room: usize, chars: usize) -> Vec<Vec<Block>> {
    crate::kinds::pack(blocks, |part| {
        part.len() <= room && part.iter().map(|b| b.chars).sum::<usize>() <= chars
    })
}

fn assemble(
    message: &Message,
    header: Option<&Value>,
    part: Vec<Block>,
    marker: Option<&str>,
    extra: &Map<String, Value>,
) -> Value {
    let fallback = fallback(message, &part, marker);
    let mut blocks: Vec<Value> = header.into_iter().cloned().collect();
    if let (Some(header), Some(marker)) = (blocks.first_mut(), marker) {
        // The fallback text is hidden once blocks show; the header is what
        // tells one part from the next (issue 12).
        let text = header["text"]["text"].as_str().unwrap_or_default();
        header["text"]["text"] = Value::String(format!("{text} {marker}"));
    }
    blocks.extend(part.into_iter().map(Block::into_json));
    let mut payload = Map::new();
    payload.insert("text".into(), Value::String(fallback));
    payload.insert("blocks".into(), Value::Array(blocks));
    payload.insert(
        "attachments".into(),
        json!([{"color": colour(message.level), "blocks": [context(message, marker)]}]),
    );
    for (key, value) in extra {
        payload.insert(key.clone(), value.clone());
    }
    Value::Object(payload)
}

/// The notification text: title and the start of this part's text.
fn fallback(message: &Message, part: &[Block], marker: Option<&str>) -> String {
    let mut out = String::new();
    if message.level != Level::Info {
        out.push_str(emoji(message.level));
        out.push(' ');
    }
    let title = message.title.as_deref().filter(|t| !t.trim().is_empty());
    if let Some(title) = title {
        // A long title is whole in a section already; chat.update refuses a
        // `text` over 4,000 characters (msg_too_long).
        out.push_str(&escape(&cut(title, FALLBACK_MAX).0));
    }
    if let Some(text) = part.iter().find_map(Block::text) {
        // Only a title is followed by ": "; an emoji alone by its space.
        if title.is_some() {
            out.push_str(": ");
        }
        let first = split(&text, FALLBACK_MAX)
            .into_iter()
            .next()
            .unwrap_or_default();
        out.push_str(first);
        if first.len() < text.len() {
            out.push('…');
        }
    }
    if let Some(marker) = marker {
        out.push(' ');
        out.push_str(marker);
    }
    if out.trim().is_empty() {
        out = "(fields)".into();
    }
    out
}

/// "host · time · part 1/3 · repo@branch · commit", with the time in each
/// reader's own time zone.
fn context(message: &Message, marker: Option<&str>) -> Value {
    let secs = message
        .time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stamp = humantime::format_rfc3339_seconds(message.time);
    let mut text = format!(
        "{} *{}* · <!date^{secs}^{{date_short_pretty}} at {{time}}|{stamp}>",
        emoji(message.level),
        escape(&message.host)
    );
    if let Some(marker) = marker {
        text.push_str(&format!(" · part {}", marker.trim_matches(['(', ')'])));
    }
    for line in &message.context {
        text.push_str(" · ");
        text.push_str(&escape(line));
    }
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
}

/// Seconds since the epoch, for Slack's `<!date^…>`.
#[cfg(test)]
fn epoch(time: std::time::SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn message(text: &str) -> Message {
        Message {
            title: None,
            text: text.into(),
            level: Level::Info,
            fields: vec![],
            links: vec![],
            code: false,
            host: "db1".into(),
            time: SystemTime::UNIX_EPOCH,
            context: Vec::new(),
            files: Vec::new(),
            file_urls: Vec::new(),
        }
    }

    #[test]
    fn escape_replaces_only_slack_control_characters() {
        assert_eq!(escape("a<b>&c \"d\""), "a&lt;b&gt;&amp;c \"d\"");
    }

    #[test]
    fn escape_keeps_the_text_between_control_characters_whole() {
        assert_eq!(escape("é<😀&>x\n"), "é&lt;😀&amp;&gt;x\n");
        assert_eq!(escape("<<>>"), "&lt;&lt;&gt;&gt;");
        assert_eq!(escape("plain 😀"), "plain 😀");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn long_text_becomes_sections_of_at_most_3000_characters() {
        let text = "word ".repeat(2000);
        let payloads = payloads(&message(&text), &Map::new(), MESSAGE_CHARS_BUDGET);
        assert_eq!(payloads.len(), 1);
        let blocks = payloads[0]["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 4);
        for block in blocks {
            assert!(block["text"]["text"].as_str().unwrap().chars().count() <= SECTION_MAX);
        }
    }

    #[test]
    fn a_long_text_goes_out_whole_and_in_order_in_sections_within_the_limits() {
        let lines: Vec<String> = (0..40_000).map(|i| format!("line {i} <a&b>")).collect();
        let text = escape(&lines.join("\n"));
        for code in [false, true] {
            let mut m = message(&text);
            m.code = code;
            let mut sections = Vec::new();
            for payload in render(&m, &Map::new(), MESSAGE_CHARS_BUDGET) {
                let body: Value = serde_json::from_str(&payload.body).unwrap();
                let blocks = body["blocks"].as_array().unwrap();
                assert!(blocks.len() <= BLOCKS_MAX);
                let mut chars = 0;
                for block in blocks {
                    let shown = block["text"]["text"].as_str().unwrap();
                    assert!(shown.chars().count() <= SECTION_MAX);
                    chars += shown.chars().count();
                    let inner = match code {
                        true => shown
                            .strip_prefix("```\n")
                            .unwrap()
                            .strip_suffix("\n```")
                            .unwrap(),
                        false => shown,
                    };
                    sections.push(inner.to_owned());
                }
                assert!(chars <= MESSAGE_CHARS_BUDGET);
            }
            // Every cut fell on a line break, which the sections do not keep.
            assert_eq!(sections.join("\n"), text, "code: {code}");
        }
    }

    #[test]
    fn split_code_blocks_are_closed_and_reopened() {
        let mut m = message(&"line\n".repeat(1500));
        m.code = true;
        let payloads = payloads(&m, &Map::new(), MESSAGE_CHARS_BUDGET);
        for block in payloads[0]["blocks"].as_array().unwrap() {
            let text = block["text"]["text"].as_str().unwrap();
            assert!(
                text.starts_with("```\n") && text.ends_with("\n```"),
                "{text}"
            );
        }
    }

    #[test]
    fn more_than_fifty_blocks_become_marked_parts() {
        let text = format!("{}\n", "y".repeat(2999)).repeat(60);
        let payloads = payloads(&message(&text), &Map::new(), MESSAGE_CHARS_BUDGET);
        assert_eq!(payloads.len(), 5);
        assert!(payloads[0]["text"].as_str().unwrap().ends_with("(1/5)"));
        for p in &payloads {
            assert!(p["blocks"].as_array().unwrap().len() <= BLOCKS_MAX);
        }
    }

    #[test]
    fn long_title_is_cut_in_the_header_and_kept_whole_in_the_text() {
        let mut m = message("body");
        m.title = Some("t".repeat(200));
        let p = &payloads(&m, &Map::new(), MESSAGE_CHARS_BUDGET)[0];
        let header = p["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), HEADER_MAX - MARKER_ROOM);
        assert!(header.ends_with('…'));
        assert_eq!(
            p["blocks"][1]["text"]["text"],
            format!("*{}*", "t".repeat(200))
        );
    }

    #[test]
    fn a_huge_title_keeps_the_notification_text_short() {
        let mut m = message("body");
        m.title = Some("t".repeat(5000));
        let p = &payloads(&m, &Map::new(), MESSAGE_CHARS_BUDGET)[0];
        let text = p["text"].as_str().unwrap();
        assert!(text.chars().count() < 700, "{}", text.chars().count());
        assert!(text.contains(&format!("{}…", "t".repeat(FALLBACK_MAX - 1))));
    }

    #[test]
    fn context_carries_a_slack_date() {
        let p = &payloads(&message("x"), &Map::new(), MESSAGE_CHARS_BUDGET)[0];
        let ctx = p["attachments"][0]["blocks"][0]["elements"][0]["text"]
            .as_str()
            .unwrap();
        assert!(
            ctx.contains(&format!("<!date^{}^", epoch(SystemTime::UNIX_EPOCH))),
            "{ctx}"
        );
    }
}
