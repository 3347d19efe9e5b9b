//! `kind = "mattermost"`: Mattermost incoming webhooks (PLATFORMS.md §8.1).
//!
//! Mattermost takes Slack's webhook JSON: the post's `text` is markdown, and
//! `attachments` carry the level's colour, the fields and a footer with the
//! host. The title opens the text in bold with the level's emoji. A post holds
//! 16,383 characters; the server splits longer webhook text on its own, at an
//! arbitrary character and without saying so, so chime splits first, at line
//! breaks, and marks the parts "(1/3)".
//!
//! Mattermost rewrites Slack syntax in webhook text before anything else
//! (`<!channel>` becomes `@channel`, `<@id>` a mention, `<url|label>` a link),
//! so user text is escaped with entities (`&lt;`, `&amp;`, `&#64;` for `@`) that
//! neither that rewriting nor mention detection sees, and backslashes for
//! markdown.

use serde_json::{Map, Value, json};

use crate::fields::Fields;
use crate::kinds::markdown::Markdown;
use crate::kinds::text::{self, Measure, cut, split};
use crate::kinds::{
    Answer, HttpRequest, JSON_UTF8, Payload, Platform, Target, Verdict, classify_http,
    describe_identity,
};
use crate::message::{Level, Message};
use crate::secret::Secret;
use crate::template::Escape;

/// `PostMessageMaxRunesV2` (§8.1): Mattermost counts runes, i.e. characters.
const POST_MAX: usize = 16_383;
const MEASURE: Measure = Measure::Chars;
/// A title longer than this is cut in the bold first line of every part and
/// kept whole in the text of the first.
const HEADLINE_TITLE_MAX: usize = 256;
/// " (999/999)" after the headline.
const MARKER_ROOM: usize = 10;
/// "```\n" and "\n```" around each part of a code block.
const CODE_FENCES: usize = 8;
/// `PostPropsMaxUserRunes` (800,000 − 40,000, §8.1): a post's properties,
/// attachments included, as JSON. Longer, the server cuts an attachment's
/// text or refuses the post (`split_props_length`); the fields of one post
/// keep well clear of it, leaving room for the rest of the attachment.
const FIELDS_PROPS_MAX: usize = 700_000;
/// The link under a label too long to share a post with its URL.
const OPEN_LINK: &str = "Open link";
/// Fields this short sit side by side, as Slack's `short` fields do.
const SHORT_FIELD: usize = 40;
const ZERO_WIDTH_SPACE: char = '\u{200B}';

pub struct Mattermost {
    url: Secret,
    channel: Option<String>,
    identity: Map<String, Value>,
}

impl Mattermost {
    pub fn from_fields(fields: &mut Fields) -> Mattermost {
        let help = "set `url` to the incoming webhook URL (https://YOUR-SERVER/hooks/…) from Integrations → Incoming Webhooks, e.g. url = \"${MATTERMOST_WEBHOOK_URL}\"";
        let url = fields
            .secret_url("url", "mattermost", help)
            .unwrap_or_else(|| Secret::url(String::new()));
        let channel = fields.string("channel");
        let mut identity = Map::new();
        if let Some(username) = fields.string("username") {
            identity.insert("username".into(), Value::String(username));
        }
        if let Some(icon) = fields.url("icon_url") {
            identity.insert("icon_url".into(), Value::String(icon));
        }
        Mattermost {
            url,
            channel,
            identity,
        }
    }
}

impl Platform for Mattermost {
    fn kind(&self) -> &'static str {
        "mattermost"
    }

    fn markup(&self) -> Escape {
        escape
    }

    fn render(&self, message: &Message, target: &Target) -> Vec<Payload> {
        let mut extra = self.identity.clone();
        // A channel's name, `#name` or `@user` for a direct message; a locked
        // webhook refuses any but its own.
        if let Some(channel) = target.channel.as_ref().or(self.channel.as_ref()) {
            extra.insert("channel".into(), Value::String(channel.clone()));
        }
        payloads(message)
            .into_iter()
            .map(|mut payload| {
                payload.extend(extra.clone());
                Payload::json(&Value::Object(payload))
            })
            .collect()
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        HttpRequest::post(self.url.clone(), payload, JSON_UTF8)
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![("url", self.url.to_string().into())];
        if let Some(channel) = &self.channel {
            out.push(("channel", channel.as_str().into()));
        }
        describe_identity(&self.identity, &["username", "icon_url"], &mut out);
        out
    }

    /// For `chime pipe`: a post holds 16,383 characters; the headline and links take the rest.
    fn batch_limit(&self) -> usize {
        15000
    }

    fn measure(&self) -> crate::kinds::text::Measure {
        crate::kinds::text::Measure::Chars
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        classify(answer)
    }
}

/// Escapes user text for Mattermost markdown and its Slack compatibility.
///
/// Entities for `&`, `<`, `>` (as Slack does, and markdown renders them back)
/// and for `@`, which no mention or `<!channel>` rewrite can see through; a
/// backslash for markdown, which CommonMark drops before any punctuation. `#`
/// is escaped everywhere because Mattermost links hashtags, `~` because it
/// links channels; `-`, `+`, `=` and a number's dot only at the start of a
/// line, where they make lists and headings.
const MARKDOWN: Markdown = Markdown {
    entities: &[('&', "&amp;"), ('<', "&lt;"), ('>', "&gt;"), ('@', "&#64;")],
    inline: &['\\', '*', '_', '~', '`', '|', '[', ']', '#'],
    line_start: &['-', '+', '='],
    after_number: &['.'],
    tab_indents: true,
};

pub fn escape(text: &str) -> String {
    MARKDOWN.escape(text)
}

/// Undoes [`escape`]: a code block shows entities and backslashes as they are.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let entity = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>'), ("&#64;", '@')]
            .into_iter()
            .find(|(entity, _)| rest.starts_with(entity));
        if let Some((entity, plain)) = entity {
            out.push(plain);
            rest = &rest[entity.len()..];
            continue;
        }
        let mut chars = rest.chars();
        chars.next();
        match chars.next() {
            Some(next) if c == '\\' && next.is_ascii_punctuation() => {
                out.push(next);
                rest = &rest[1 + next.len_utf8()..];
            }
            _ => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// Text for a code block: unescaped, with an invisible space where Mattermost
/// would otherwise rewrite Slack syntax (`<!…>`, `<@…>`, `<url|label>`) even
/// inside the block, and inside any ``` so it cannot close the block early.
fn code_text(text: &str) -> String {
    let text = unescape(text);
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        out.push(c);
        if c == '<' {
            let rest = &text[i + 1..];
            let inner = rest.split(['>', '\n', '<']).next().unwrap_or("");
            let closed = rest[inner.len()..].starts_with('>');
            if closed && (inner.starts_with(['!', '@']) || inner.contains('|')) {
                out.push(ZERO_WIDTH_SPACE);
            }
        }
    }
    while out.contains("```") {
        out = out.replace("```", &format!("`{ZERO_WIDTH_SPACE}``"));
    }
    out
}

/// Splits escaped text, never parting a backslash from the character it escapes.
fn split_escaped(text: &str, max: usize) -> Vec<String> {
    text::split_escaped(text, max, MEASURE)
}

/// Renders `message` into one or more payloads, each post within 16,383 characters.
fn payloads(message: &Message) -> Vec<Map<String, Value>> {
    let (title, title_cut) = headline_title(message);
    let headline_size = title.as_deref().map_or(0, |t| MEASURE.of(t));
    // The headline, its marker and the line break after it come first in every part.
    let budget = POST_MAX - headline_size - MARKER_ROOM - 1;
    let mut chunks: Vec<String> = Vec::new();
    if title_cut && let Some(title) = &message.title {
        chunks.extend(split_escaped(&format!("**{}**", escape(title)), budget));
    }
    if message.code {
        let code = code_text(&message.text);
        let pieces = split(&code, budget - CODE_FENCES, MEASURE);
        let fenced = pieces.into_iter().filter(|p| !p.trim().is_empty());
        chunks.extend(fenced.map(|p| format!("```\n{p}\n```")));
    } else {
        let pieces = split_escaped(&message.text, budget);
        chunks.extend(pieces.into_iter().filter(|p| !p.trim().is_empty()));
    }
    chunks.extend(links(message, budget));
    let parts = pack(chunks, budget);
    // The fields go with the last part's text; more than one post's
    // attachment holds go in posts of their own after it.
    let mut fields = field_groups(&message.fields).into_iter();
    let first = fields.next().unwrap_or_default();
    let mut posts: Vec<(Vec<String>, Vec<Value>)> = parts
        .into_iter()
        .map(|chunks| (chunks, Vec::new()))
        .collect();
    if let Some(last) = posts.last_mut() {
        last.1 = first;
    }
    posts.extend(fields.map(|group| (Vec::new(), group)));
    let count = posts.len();
    posts
        .into_iter()
        .enumerate()
        .map(|(i, (chunks, fields))| {
            let marker = (count > 1).then(|| (i + 1, count));
            assemble(message, title.as_deref(), &chunks, marker, fields)
        })
        .collect()
}

/// The fields as attachment fields, in groups that each fit one post's
/// properties. A value too large for one post is split over several fields
/// under the same title.
fn field_groups(fields: &[(String, String)]) -> Vec<Vec<Value>> {
    let mut items = Vec::new();
    for (key, value) in fields {
        let short = MEASURE.of(key).max(MEASURE.of(value)) <= SHORT_FIELD;
        let (title, value) = (escape(key), escape(value));
        let field = |value: &str| json!({"title": title, "value": value, "short": short});
        if props_runes(&field(&value)) <= FIELDS_PROPS_MAX {
            items.push(field(&value));
            continue;
        }
        // Escaping and JSON can make a rune cost up to ten; pieces of a tenth fit.
        let piece_max = (FIELDS_PROPS_MAX / 10)
            .saturating_sub(MEASURE.of(&title))
            .max(64);
        for piece in split_escaped(&value, piece_max) {
            items.push(field(&piece));
        }
    }
    let mut groups: Vec<Vec<Value>> = Vec::new();
    let mut used = 0;
    for item in items {
        let size = props_runes(&item) + 1;
        match groups.last_mut() {
            Some(group) if used + size <= FIELDS_PROPS_MAX => {
                group.push(item);
                used += size;
            }
            _ => {
                groups.push(vec![item]);
                used = size;
            }
        }
    }
    groups
}

/// What Mattermost counts of a value in a post's properties: the runes of
/// Go's `json.Marshal`, which writes `&`, `<`, `>`, U+2028 and U+2029 as
/// six-rune `\u` escapes (`SplitWebhookPost`, §8.1).
fn props_runes(value: &Value) -> usize {
    let json = value.to_string();
    let escaped = json
        .chars()
        .filter(|c| matches!(c, '&' | '<' | '>' | '\u{2028}' | '\u{2029}'))
        .count();
    json.chars().count() + 5 * escaped
}

/// "emoji **title**", with the title cut when very long; says whether it was cut.
fn headline_title(message: &Message) -> (Option<String>, bool) {
    let Some(title) = message.title.as_deref().filter(|t| !t.trim().is_empty()) else {
        return (None, false);
    };
    // Bold cannot span lines, and a heading is one line.
    let one_line = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let (short, was_cut) = cut(&one_line, HEADLINE_TITLE_MAX, MEASURE);
    let bold = format!("**{}**", escape(&short));
    let line = match message.level {
        Level::Info => bold,
        level => format!("{} {bold}", level.emoji()),
    };
    (Some(line), was_cut || one_line != title)
}

/// Links as markdown, one to a line, never split inside a link; a label too
/// long to share a post with its URL is written out as text, followed by an
/// "Open link" link to the URL.
fn links(message: &Message, budget: usize) -> Vec<String> {
    let mut chunks: Vec<String> = Vec::new();
    for link in &message.links {
        let url = link
            .url
            .replace('(', "%28")
            .replace(')', "%29")
            .replace(' ', "%20");
        let line = format!("[{}]({url})", escape(&link.label));
        if MEASURE.of(&line) > budget {
            chunks.extend(split_escaped(&escape(&link.label), budget));
            let open = format!("[{OPEN_LINK}]({url})");
            if MEASURE.of(&open) <= budget {
                chunks.push(open);
            } else {
                chunks.extend(split_escaped(&escape(&link.url), budget));
            }
            continue;
        }
        match chunks.last_mut() {
            Some(last) if MEASURE.of(last) + 1 + MEASURE.of(&line) <= budget => {
                last.push('\n');
                last.push_str(&line);
            }
            _ => chunks.push(line),
        }
    }
    chunks
}

/// Packs chunks, in order and joined by line breaks, into posts of at most `budget`.
fn pack(chunks: Vec<String>, budget: usize) -> Vec<Vec<String>> {
    let mut parts: Vec<Vec<String>> = vec![Vec::new()];
    let mut used = 0;
    for chunk in chunks {
        let size = MEASURE.of(&chunk);
        let current = parts.last_mut().expect("parts is never empty");
        if !current.is_empty() && used + 1 + size > budget {
            parts.push(Vec::new());
            used = 0;
        }
        let current = parts.last_mut().expect("parts is never empty");
        used += size + usize::from(!current.is_empty());
        current.push(chunk);
    }
    parts
}

fn assemble(
    message: &Message,
    title: Option<&str>,
    chunks: &[String],
    marker: Option<(usize, usize)>,
    fields: Vec<Value>,
) -> Map<String, Value> {
    let mut headline = title.unwrap_or_default().to_owned();
    if let Some((part, of)) = marker {
        if !headline.is_empty() {
            headline.push(' ');
        }
        headline.push_str(&format!("({part}/{of})"));
    }
    let mut lines: Vec<&str> = Vec::new();
    if !headline.is_empty() {
        lines.push(&headline);
    }
    lines.extend(chunks.iter().map(String::as_str));
    let text = lines.join("\n");
    debug_assert!(MEASURE.of(&text) <= POST_MAX);

    let mut footer = message.host.trim().to_owned();
    if let Some((part, of)) = marker {
        if !footer.is_empty() {
            footer.push_str(" · ");
        }
        footer.push_str(&format!("part {part}/{of}"));
    }
    let mut attachment = Map::new();
    attachment.insert("fallback".into(), fallback(message).into());
    attachment.insert(
        "color".into(),
        format!("#{:06X}", message.level.colour()).into(),
    );
    if !fields.is_empty() {
        attachment.insert("fields".into(), fields.into());
    }
    if !footer.is_empty() {
        attachment.insert("footer".into(), footer.into());
    }

    let mut payload = Map::new();
    if !text.is_empty() {
        payload.insert("text".into(), text.into());
    }
    payload.insert("attachments".into(), json!([attachment]));
    payload
}

/// What notifications and clients that cannot show attachments show: plain
/// text, the title or else the start of the text.
fn fallback(message: &Message) -> String {
    let title = message.title.as_deref().filter(|t| !t.trim().is_empty());
    let text = unescape(&message.text);
    let first = title.or_else(|| text.lines().find(|l| !l.trim().is_empty()));
    let first = first.unwrap_or("(fields)");
    let line = match message.level {
        Level::Info => first.to_owned(),
        level => format!("{} {first}", level.emoji()),
    };
    cut(&line, 200, MEASURE).0
}

/// Reads Mattermost's answer: 200 `ok`, or an AppError `{"id", "message", …}` (§8.1).
fn classify(answer: &Answer) -> Verdict {
    let body: Option<Value> = serde_json::from_str(&answer.body).ok();
    let id = body
        .as_ref()
        .and_then(|b| b["id"].as_str())
        .map(str::to_owned);
    // 501 is no server trouble here: the admin turned incoming webhooks off.
    if id.as_deref() == Some("web.incoming_webhook.disabled.app_error") {
        return Verdict::Rejected {
            error: error(answer, body.as_ref()),
            hint: hint(answer.status, id.as_deref()).map(str::to_owned),
        };
    }
    if let Some(verdict) = classify_http(answer) {
        return verdict;
    }
    if answer.status == 200 {
        if answer.body.trim() == "ok" {
            return Verdict::Delivered {
                channel: None,
                ts: None,
            };
        }
        // Any other path on a Mattermost server answers 200 with the web app's page.
        return Verdict::Rejected {
            error: "200 (not a Mattermost webhook answer)".into(),
            hint: Some(
                "check `url`: it must be the incoming webhook URL, https://YOUR-SERVER/hooks/ID"
                    .into(),
            ),
        };
    }
    Verdict::Rejected {
        error: error(answer, body.as_ref()),
        hint: hint(answer.status, id.as_deref()).map(str::to_owned),
    }
}

/// "400 Invalid webhook. (web.incoming_webhook.invalid.app_error)"
fn error(answer: &Answer, body: Option<&Value>) -> String {
    let message = body.and_then(|b| b["message"].as_str());
    let id = body.and_then(|b| b["id"].as_str());
    match (message, id) {
        (Some(message), Some(id)) => format!("{} {message} ({id})", answer.status),
        (Some(text), None) | (None, Some(text)) => format!("{} {text}", answer.status),
        (None, None) => {
            let text: String = answer.body.trim().chars().take(200).collect();
            format!("{} {text}", answer.status).trim_end().to_owned()
        }
    }
}

/// What the user can do about each refusal `HandleIncomingWebhook` gives (§8.1).
fn hint(status: u16, id: Option<&str>) -> Option<&'static str> {
    Some(match (status, id.unwrap_or("")) {
        (_, "web.incoming_webhook.disabled.app_error") => {
            "incoming webhooks are turned off on this server: a system admin can turn them on in System Console → Integrations → Integration Management"
        }
        (_, "web.incoming_webhook.invalid.app_error") | (404, "") => {
            "the webhook was deleted or the URL is wrong: create a new one in Integrations → Incoming Webhooks and update the profile"
        }
        (_, "web.incoming_webhook.channel.app_error" | "app.channel.get.existing.app_error") => {
            "no such channel: set `channel` to the channel's name as in its URL (not its display name), or remove it to use the webhook's own"
        }
        (403, "web.incoming_webhook.user.app_error") => {
            "the user who created the webhook no longer exists: create a new webhook"
        }
        (_, "web.incoming_webhook.user.app_error") => {
            "no such user for a direct message: check `channel = \"@username\"`"
        }
        (_, "web.incoming_webhook.channel_locked.app_error") => {
            "this webhook may only post to its own channel: remove `channel` (and --channel), or create a webhook for that channel"
        }
        (_, "web.incoming_webhook.permissions.app_error") => {
            "the webhook's creator cannot post in that private channel: add them to it, or use another webhook"
        }
        (
            _,
            "web.incoming_webhook.text.app_error"
            | "web.incoming_webhook.parse.app_error"
            | "model.incoming_hook.parse_data.app_error"
            | "api.webhook.incoming.error"
            | "web.incoming_webhook.split_props_length.app_error",
        ) => {
            "Mattermost refused the payload chime built: please report this with the output of --dry-run"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn message(text: &str) -> Message {
        Message {
            title: None,
            text: escape(text),
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
    fn escape_defeats_slack_rewrites_mentions_and_markdown() {
        assert_eq!(
            escape("<!channel> @all a&b *x*"),
            "&lt;!channel&gt; &#64;all a&amp;b \\*x\\*"
        );
        assert_eq!(escape("- a\n1. b\n#tag"), "\\- a\n1\\. b\n\\#tag");
        let raw = "<!here> a&amp;b \\ *c* @d";
        assert_eq!(unescape(&escape(raw)), raw);
    }

    #[test]
    fn code_keeps_text_verbatim_but_defuses_slack_syntax() {
        let code = code_text(&escape("if a < b && c > d { x }\n<!channel> ```"));
        assert_eq!(
            code,
            "if a < b && c > d { x }\n<\u{200B}!channel> `\u{200B}``"
        );
    }

    #[test]
    fn long_text_becomes_posts_of_at_most_16383_characters() {
        let text = "0123456789 ".repeat(4000);
        let mut m = message(&text);
        m.title = Some("Big".into());
        let payloads = payloads(&m);
        assert_eq!(payloads.len(), 3);
        for (i, p) in payloads.iter().enumerate() {
            let text = p["text"].as_str().unwrap();
            assert!(text.chars().count() <= POST_MAX);
            assert!(
                text.starts_with(&format!("**Big** ({}/3)\n", i + 1)),
                "{text}"
            );
        }
    }

    #[test]
    fn fields_and_colour_go_in_the_last_parts_attachment() {
        let mut m = message("x");
        m.level = Level::Error;
        m.fields = vec![("size".into(), "12G".into())];
        let p = &payloads(&m)[0];
        assert_eq!(p["attachments"][0]["color"], "#E01E5A");
        assert_eq!(p["attachments"][0]["fields"][0]["title"], "size");
        assert_eq!(p["attachments"][0]["footer"], "db1");
        assert_eq!(
            p["attachments"][0]["fallback"], "❌ x",
            "plain, for notifications"
        );
    }

    #[test]
    fn an_html_page_with_200_is_not_a_delivery() {
        let answer = Answer {
            status: 200,
            retry_after: None,
            body: "<!doctype html><html>".into(),
        };
        assert!(matches!(classify(&answer), Verdict::Rejected { .. }));
    }
}
