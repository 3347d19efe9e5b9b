//! `kind = "telegram"`: the Telegram Bot API's `sendMessage`, formatted as HTML.
//!
//! Owns the HTML rendering (bold title, fields as lines, links as anchors, a
//! `<pre>` block for code), the split into messages Telegram accepts, and the
//! reading of its answers. The bot token travels in the URL path
//! (`{api_url}/bot{token}/sendMessage`), so the URL is a [`Secret`].
//!
//! Telegram limits a message to 4096 characters of text *after entity parsing*:
//! tags cost nothing and `&lt;` costs one (PLATFORMS.md §5.1). TDLib counts code
//! points; chime counts UTF-16 units of that visible text, which is never less,
//! so a part that fits by chime's count fits by Telegram's. The raw HTML has a
//! limit of its own, 32,768 bytes before parsing, which links (whose URLs cost
//! nothing visible) can reach first; parts keep to both. Text is split before
//! it is wrapped in tags, and a split that falls inside a template's own tags
//! closes them at the end of one part and reopens them in the next, so each part
//! parses on its own. User text is escaped (`&`, `<`, `>`) and its `@name`s
//! are kept from notifying anyone.
//!
//! `--thread KEY` replies to the first message posted under KEY
//! (`reply_parameters`), and `--update KEY` edits it (`editMessageText`); an
//! edit that changes nothing is answered "message is not modified", which is
//! no failure.
//!
//! Answers are `{"ok": true, "result": …}` or `{"ok": false, "error_code",
//! "description", "parameters"}` with the HTTP status equal to `error_code`;
//! flood control is 429 with `parameters.retry_after` (§5.3).

use std::ops::Range;
use std::time::Duration;

use serde_json::{Value, json};

use crate::fields::{Fields, Problem};
use crate::kinds::text::{Measure, cut, split};
use crate::kinds::{
    Answer, HttpRequest, JSON_UTF8, Payload, Platform, Posted, Target, Threading, Verdict,
    classify_http,
};
use crate::message::{Level, Message};
use crate::secret::Secret;
use crate::template::Escape;

const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// "1-4096 characters after entities parsing" (§5.1).
const TEXT_MAX: usize = 4096;
/// "Text is too long": the Bot API's limit on the raw HTML, before parsing (§5.1).
const RAW_MAX: usize = 32_768;
/// Room for the part marker, " (99/99)", and a margin.
const MARKER_ROOM: usize = 12;
/// A title longer than this is cut in the heading and kept whole in the text.
const TITLE_MAX: usize = 256;
/// The blank line between heading, body and footer.
const PARAGRAPH: &str = "\n\n";

pub struct Telegram {
    chat_id: String,
    thread: Option<i64>,
    /// `token` and `api_url` make the endpoints; kept apart for `chime config show`.
    token: Secret,
    api_url: String,
}

impl Telegram {
    pub fn from_fields(fields: &mut Fields) -> Telegram {
        let help = "set `token` to the token @BotFather gave the bot, e.g. token = { file = \"/run/secrets/telegram_bot\" }";
        let token = fields.secret_token("token", "telegram", help);
        let help = "set `chat_id` to the chat's numeric ID (e.g. -1001234567890) or a public channel's \"@username\"";
        let chat_id = fields
            .required_id("chat_id", "telegram", help)
            .unwrap_or_default();
        if !chat_id.is_empty() && !valid_chat_id(&chat_id) {
            let message = format!(
                "`chat_id` of destination `{}` must be a numeric chat ID or \"@channelusername\"",
                fields.name
            );
            fields.problem(Problem::new(None, message).help(help));
        }
        let thread = fields.id("message_thread_id").and_then(|id| {
            let parsed = id.trim().parse::<i64>().ok();
            if parsed.is_none() {
                let message = format!(
                    "`message_thread_id` of destination `{}` must be a whole number (the forum topic's ID)",
                    fields.name
                );
                fields.problem(Problem::new(None, message));
            }
            parsed
        });
        let api_url = fields
            .url("api_url")
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let token = token.unwrap_or_else(|| Secret::token(String::new()));
        Telegram {
            chat_id,
            thread,
            token,
            api_url,
        }
    }
}

fn valid_chat_id(id: &str) -> bool {
    id.parse::<i64>().is_ok() || (id.len() > 1 && id.starts_with('@'))
}

impl Platform for Telegram {
    fn kind(&self) -> &'static str {
        "telegram"
    }

    fn markup(&self) -> Escape {
        escape
    }

    /// `--channel` and a route's `channel` name another chat for this send.
    fn render(&self, message: &Message, target: &Target) -> Vec<Payload> {
        let chat = target.channel.as_deref().unwrap_or(&self.chat_id);
        // A numeric ID goes as a number, as the Bot API documents it.
        let chat = chat
            .parse::<i64>()
            .map_or_else(|_| Value::from(chat), Value::from);
        parts(message)
            .into_iter()
            .map(|text| {
                let mut body = json!({
                    "chat_id": chat,
                    "text": text,
                    "parse_mode": "HTML",
                    // A preview of a CI or dashboard link would bury the alert.
                    "link_preview_options": {"is_disabled": true},
                });
                if let Some(thread) = self.thread {
                    body["message_thread_id"] = thread.into();
                }
                Payload::json(&body)
            })
            .collect()
    }

    /// `{api_url}/bot{token}/sendMessage`, or the method the part names.
    fn request(&self, payload: &Payload) -> HttpRequest {
        let method = if payload.op.is_empty() {
            "sendMessage"
        } else {
            &payload.op
        };
        let url = Secret::url(format!(
            "{}/bot{}/{method}",
            self.api_url.trim_end_matches('/'),
            self.token.expose()
        ));
        HttpRequest::post(url, payload, JSON_UTF8)
    }

    /// `--thread KEY` replies to the first message posted under KEY.
    fn threading(&self) -> Threading {
        Threading::ByMessage
    }

    fn edits(&self) -> bool {
        true
    }

    /// One message a second in a private chat, but 20 a minute in a group,
    /// and a channel is addressed like one (PLATFORMS.md §5.4): a chat with a
    /// positive ID is a person.
    fn pace(&self) -> Duration {
        match self.chat_id.parse::<i64>() {
            Ok(id) if id > 0 => Duration::from_secs(1),
            _ => Duration::from_secs(3),
        }
    }

    /// A reply names its parent in `reply_parameters` (and still posts, as a
    /// plain message, if the parent was deleted); an edit is editMessageText
    /// of the parent. Either goes to the chat the parent is in.
    fn attach(&self, payload: &Payload, parent: &Posted) -> Payload {
        let Some(thread) = &payload.thread else {
            return payload.clone();
        };
        let mut body: Value = serde_json::from_str(&payload.body).expect("rendered as JSON");
        let Some(fields) = body.as_object_mut() else {
            return payload.clone();
        };
        let number = |id: &str| {
            id.parse::<i64>()
                .map_or_else(|_| Value::from(id), Value::from)
        };
        fields.insert("chat_id".into(), number(&parent.channel));
        let op = if thread.edit {
            fields.remove("message_thread_id");
            fields.insert("message_id".into(), number(&parent.ts));
            "editMessageText"
        } else {
            let reply =
                json!({"message_id": number(&parent.ts), "allow_sending_without_reply": true});
            fields.insert("reply_parameters".into(), reply);
            ""
        };
        payload.reworked(&body, op)
    }

    fn edit_refused(&self, verdict: &Verdict) -> bool {
        matches!(verdict, Verdict::Rejected { error, .. }
            if ["message to edit not found", "message can't be edited"]
                .iter()
                .any(|gone| error.to_ascii_lowercase().contains(gone)))
    }

    /// `api_url` is shown even when defaulted: it is where the token is sent.
    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        // A numeric ID shows as a number, as the profile most likely has it.
        let chat_id = self
            .chat_id
            .parse::<i64>()
            .map_or_else(|_| self.chat_id.as_str().into(), toml::Value::from);
        let mut out = vec![
            ("token", self.token.to_string().into()),
            ("chat_id", chat_id),
        ];
        if let Some(thread) = self.thread {
            out.push(("message_thread_id", thread.into()));
        }
        out.push(("api_url", self.api_url.as_str().into()));
        out
    }

    /// For `chime pipe`: a message holds 4,096 UTF-16 units of visible text; the title and footer take the rest.
    fn batch_limit(&self) -> usize {
        3500
    }

    fn measure(&self) -> crate::kinds::text::Measure {
        crate::kinds::text::Measure::Utf16
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        if answer.status == 200 && body["ok"] == Value::Bool(true) {
            let result = &body["result"];
            return Verdict::Delivered {
                channel: result["chat"]["id"].as_i64().map(|id| id.to_string()),
                ts: result["message_id"].as_i64().map(|id| id.to_string()),
            };
        }
        let Some(description) = body["description"].as_str() else {
            return classify_http(answer).unwrap_or_else(|| Verdict::Rejected {
                error: format!("{} (not a Telegram Bot API answer)", answer.status),
                hint: Some("check `api_url`".into()),
            });
        };
        // Editing a message into what it already says is not a failure.
        if description.contains("message is not modified") {
            return Verdict::Delivered {
                channel: None,
                ts: None,
            };
        }
        let code = body["error_code"].as_u64().unwrap_or(answer.status.into());
        let error = format!("{code} {description}");
        let parameters = &body["parameters"];
        if answer.status == 429 || code == 429 || answer.status >= 500 {
            // The body's `retry_after` is the Bot API's own word; the header mirrors it.
            let after = parameters["retry_after"]
                .as_u64()
                .map(Duration::from_secs)
                .or(answer.retry_after);
            return Verdict::Retry { after, error };
        }
        let hint = match parameters["migrate_to_chat_id"].as_i64() {
            Some(new_id) => Some(format!(
                "the group became a supergroup: set chat_id = {new_id} in the profile"
            )),
            None => hint(answer.status, description).map(str::to_owned),
        };
        Verdict::Rejected { error, hint }
    }
}

/// What the user can do about the errors a bot most often meets (§5.3).
fn hint(status: u16, description: &str) -> Option<&'static str> {
    let lower = description.to_ascii_lowercase();
    let has = |s: &str| lower.contains(s);
    Some(match status {
        401 | 404 => {
            "check `token`: send /mybots to @BotFather, pick the bot and copy its API token (and check `api_url`)"
        }
        403 if has("blocked") || has("deactivated") => {
            "the user blocked the bot or left Telegram: they must open the bot and press Start again"
        }
        403 => {
            "add the bot to the chat again; in a channel it must be an administrator allowed to post"
        }
        _ if has("chat not found") => {
            "check `chat_id`: use the numeric ID (groups start with -100) or @channelname, and make sure the bot is in the chat (a user must have pressed Start)"
        }
        _ if has("thread not found") => {
            "check `message_thread_id`: the forum topic no longer exists or is in another chat"
        }
        _ if has("parse entities") || has("too long") || has("text is empty") => {
            "Telegram refused the text chime built: if a template adds HTML, check its tags; otherwise please report this with the output of --dry-run"
        }
        _ => return None,
    })
}

/// Escapes the three characters Telegram's HTML parse mode reserves (§5.2),
/// and keeps `@name` in user text from becoming a mention that notifies
/// someone: a word joiner after the `@` is invisible but breaks the match.
/// An `@` inside a word, as in an e-mail address, is no mention and stays.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous = ' ';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        push_escaped(&mut out, c);
        let word = |c: &char| c.is_alphanumeric() || *c == '_';
        if c == '@' && !word(&previous) && chars.peek().is_some_and(word) {
            out.push('\u{2060}');
        }
        previous = c;
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        c => out.push(c),
    }
}

/// Escapes an attribute value, such as a link's URL, which sits between double quotes.
fn escape_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            c => push_escaped(&mut out, c),
        }
    }
    out
}

fn emoji(level: Level) -> Option<&'static str> {
    (level != Level::Info).then(|| level.emoji())
}

/// One piece of a message, with what separates it from the piece before it
/// when both land in the same message; `None` starts a new message, as the
/// continuation of a split does.
struct Block {
    html: String,
    separator: Option<&'static str>,
}

/// The text of each message: heading, this part's share of the body, footer.
fn parts(message: &Message) -> Vec<String> {
    let (heading, title_cut) = heading(message);
    let footer = match message.host.trim() {
        "" => String::new(),
        host => format!("<i>{}</i>", escape(host)),
    };
    let frame = 2 * PARAGRAPH.len() + MARKER_ROOM;
    let budget = Budget {
        visible: TEXT_MAX - visible(&heading) - visible(&footer) - frame,
        raw: RAW_MAX - heading.len() - footer.len() - frame,
    };
    let bodies = pack(blocks(message, title_cut, budget.visible), budget);
    let count = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let marker = crate::kinds::marker(i, count);
            let footer = match (&marker, footer.is_empty()) {
                (Some(marker), true) => marker.clone(),
                (Some(marker), false) => format!("{footer} {marker}"),
                (None, _) => footer.clone(),
            };
            [heading.as_str(), body.as_str(), footer.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(PARAGRAPH)
        })
        .collect()
}

/// "⚠️ <b>Title</b>", the title cut if it is long; says whether it was cut.
fn heading(message: &Message) -> (String, bool) {
    let title = message.title.as_deref().map(str::trim).unwrap_or_default();
    let (title, was_cut) = cut(title, TITLE_MAX, Measure::Utf16);
    let title = (!title.is_empty()).then(|| format!("<b>{}</b>", escape(&title)));
    let heading = match (emoji(message.level), title) {
        (Some(emoji), Some(title)) => format!("{emoji} {title}"),
        (Some(emoji), None) => emoji.to_owned(),
        (None, Some(title)) => title,
        (None, None) => String::new(),
    };
    (heading, was_cut)
}

/// The body as blocks no larger than `budget`: the whole title when the
/// heading had to cut it, the text, the fields, the links.
fn blocks(message: &Message, title_cut: bool, budget: usize) -> Vec<Block> {
    let mut blocks = Vec::new();
    if title_cut && let Some(title) = &message.title {
        let title = format!("<b>{}</b>", escape(title.trim()));
        add(&mut blocks, &title, PARAGRAPH, budget);
    }
    if !message.text.trim().is_empty() {
        if message.code {
            // Split first, then wrap each piece, so every part has a whole <pre>.
            for (i, chunk) in chunks(&message.text, budget).into_iter().enumerate() {
                blocks.push(Block {
                    html: format!("<pre>{chunk}</pre>"),
                    separator: (i == 0).then_some(PARAGRAPH),
                });
            }
        } else {
            add(&mut blocks, &message.text, PARAGRAPH, budget);
        }
    }
    for (i, (key, value)) in message.fields.iter().enumerate() {
        let line = format!("<b>{}</b>: {}", escape(key), escape(value));
        add(
            &mut blocks,
            &line,
            if i == 0 { PARAGRAPH } else { "\n" },
            budget,
        );
    }
    for (i, link) in message.links.iter().enumerate() {
        let line = format!(
            "<a href=\"{}\">{}</a>",
            escape_attribute(&link.url),
            escape(&link.label)
        );
        add(
            &mut blocks,
            &line,
            if i == 0 { PARAGRAPH } else { "\n" },
            budget,
        );
    }
    blocks
}

/// Adds `html` as blocks of at most `budget`, after `separator`.
fn add(blocks: &mut Vec<Block>, html: &str, separator: &'static str, budget: usize) {
    for (i, chunk) in chunks(html, budget).into_iter().enumerate() {
        blocks.push(Block {
            html: chunk,
            separator: (i == 0).then_some(separator),
        });
    }
}

/// What one part's body may hold: visible UTF-16 units, and raw HTML bytes.
#[derive(Clone, Copy)]
struct Budget {
    visible: usize,
    raw: usize,
}

/// Packs blocks, in order, into as few bodies as fit the budget. A block is
/// at most `budget.visible` already; its raw HTML, at most a few bytes per
/// visible unit plus its link's URL, always fits `budget.raw` alone.
fn pack(blocks: Vec<Block>, budget: Budget) -> Vec<String> {
    let mut bodies = vec![String::new()];
    let mut used = 0;
    for block in blocks {
        let size = visible(&block.html);
        let body = bodies.last_mut().expect("bodies is never empty");
        let fits = block.separator.filter(|sep| {
            used + sep.len() + size <= budget.visible
                && body.len() + sep.len() + block.html.len() <= budget.raw
        });
        if body.is_empty() {
            body.push_str(&block.html);
            used = size;
        } else if let Some(separator) = fits {
            body.push_str(separator);
            body.push_str(&block.html);
            used += separator.len() + size;
        } else {
            bodies.push(block.html);
            used = size;
        }
    }
    bodies
}

/// Splits HTML into pieces of at most `budget` visible UTF-16 units, each with
/// balanced tags.
fn chunks(html: &str, budget: usize) -> Vec<String> {
    // Raw length is never less than visible length, so the shared splitter's
    // pieces fit; neighbours are then joined again while they still fit, so
    // escaped text is not split more than it needs.
    let mut ranges: Vec<Range<usize>> = split(html, budget, Measure::Utf16)
        .into_iter()
        .map(|piece| {
            let start = piece.as_ptr() as usize - html.as_ptr() as usize;
            start..start + piece.len()
        })
        .collect();
    // A split inside a tag (`<a href…` has a space) moves to before the tag.
    for i in 1..ranges.len() {
        let piece = &html[ranges[i - 1].clone()];
        if let Some(open) = piece.rfind('<').filter(|at| !piece[*at..].contains('>'))
            && open > 0
        {
            let at = ranges[i - 1].start + open;
            ranges[i - 1].end = at;
            ranges[i].start = at;
        }
    }
    let mut merged: Vec<Range<usize>> = Vec::new();
    for range in ranges {
        match merged.last_mut() {
            Some(last) if visible(&html[last.start..range.end]) <= budget => last.end = range.end,
            _ => merged.push(range),
        }
    }
    balance(html, &merged)
}

/// Closes the tags still open at the end of each piece and reopens them at
/// the start of the next.
fn balance(html: &str, ranges: &[Range<usize>]) -> Vec<String> {
    let mut open: Vec<(String, String)> = Vec::new();
    let mut out = Vec::with_capacity(ranges.len());
    for range in ranges {
        let piece = &html[range.clone()];
        let mut text: String = open.iter().map(|(_, tag)| tag.as_str()).collect();
        text.push_str(piece);
        track_tags(piece, &mut open);
        for (name, _) in open.iter().rev() {
            text.push_str(&format!("</{name}>"));
        }
        out.push(text);
    }
    out
}

/// Updates the stack of open tags (name, opening tag) with the tags in `html`.
fn track_tags(html: &str, open: &mut Vec<(String, String)>) {
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            return;
        };
        let tag = &rest[start..=start + len];
        let inner = &tag[1..tag.len() - 1];
        if let Some(name) = inner.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            if let Some(at) = open.iter().rposition(|(n, _)| *n == name) {
                open.truncate(at);
            }
        } else {
            let name = inner
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            open.push((name, tag.to_owned()));
        }
        rest = &rest[start + len + 1..];
    }
}

/// The length Telegram counts: text outside tags, entities as the one
/// character they stand for, in UTF-16 units.
fn visible(html: &str) -> usize {
    let mut count = 0;
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(end) = rest.find('>')
        {
            rest = &rest[end + 1..];
            continue;
        }
        if c == '&'
            && let Some((decoded, len)) = entity(rest)
        {
            count += decoded.len_utf16();
            rest = &rest[len..];
            continue;
        }
        count += c.len_utf16();
        rest = &rest[c.len_utf8()..];
    }
    count
}

/// The character an entity at the start of `s` stands for, and its length.
fn entity(s: &str) -> Option<(char, usize)> {
    let end = s.get(..12).unwrap_or(s).find(';')?;
    let name = &s[1..end];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((c, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Link;
    use std::time::SystemTime;

    fn message(text: &str) -> Message {
        Message {
            title: None,
            text: text.to_owned(),
            level: Level::Info,
            fields: vec![],
            links: vec![],
            code: false,
            host: "web1".into(),
            time: SystemTime::UNIX_EPOCH,
            context: Vec::new(),
        }
    }

    #[test]
    fn visible_length_skips_tags_and_counts_entities_once() {
        // The emoji is two UTF-16 units.
        assert_eq!(visible("<b>a &lt; b</b> &amp; &#128512;"), 10);
        assert_eq!(visible("a & b"), 5);
    }

    #[test]
    fn a_message_has_a_bold_title_fields_links_and_the_host() {
        let mut m = message("disk &lt;90%");
        m.title = Some("Backup <done>".into());
        m.level = Level::Success;
        m.fields = vec![("size".into(), "12 G".into())];
        m.links = vec![Link {
            label: "Logs".into(),
            url: "https://ci.example/?a=1&b=\"2\"".into(),
        }];
        assert_eq!(
            parts(&m),
            vec![
                "✅ <b>Backup &lt;done&gt;</b>\n\ndisk &lt;90%\n\n<b>size</b>: 12 G\n\n\
                 <a href=\"https://ci.example/?a=1&amp;b=&quot;2&quot;\">Logs</a>\n\n<i>web1</i>"
            ]
        );
    }

    #[test]
    fn a_mention_in_user_text_is_broken_but_an_email_address_is_not() {
        assert_eq!(
            escape("ping @durov, mail a@b.example"),
            "ping @\u{2060}durov, mail a@b.example"
        );
        assert_eq!(
            escape_attribute("mailto:a@b?x=\"1\"&y"),
            "mailto:a@b?x=&quot;1&quot;&amp;y"
        );
    }

    #[test]
    fn escaped_text_counts_once_per_entity_so_it_is_not_split_early() {
        let m = message(&"&lt;".repeat(4000));
        assert_eq!(parts(&m).len(), 1);
    }

    #[test]
    fn many_long_links_split_before_the_raw_html_limit() {
        let mut m = message("x");
        let url = format!("https://example.com/{}", "a".repeat(1900));
        m.links = (0..20)
            .map(|i| crate::message::Link {
                label: format!("link {i}"),
                url: url.clone(),
            })
            .collect();
        let parts = parts(&m);
        assert!(parts.len() >= 2, "{} parts", parts.len());
        for part in &parts {
            assert!(part.len() <= RAW_MAX, "{} bytes", part.len());
        }
        let links: usize = parts.iter().map(|p| p.matches("<a href").count()).sum();
        assert_eq!(links, 20, "every link in some part");
    }

    #[test]
    fn long_text_splits_into_parts_within_the_limit() {
        let m = message(&"word ".repeat(3000));
        let parts = parts(&m);
        assert_eq!(parts.len(), 4);
        for (i, part) in parts.iter().enumerate() {
            assert!(visible(part) <= TEXT_MAX);
            assert!(part.ends_with(&format!("({}/4)", i + 1)), "{part}");
        }
    }

    #[test]
    fn a_split_inside_template_tags_closes_and_reopens_them() {
        let html = format!("<b>{}</b>", "bold words ".repeat(40));
        let pieces = chunks(&html, 100);
        assert!(pieces.len() > 1);
        for piece in &pieces {
            assert!(
                piece.starts_with("<b>") && piece.ends_with("</b>"),
                "{piece}"
            );
        }
    }

    #[test]
    fn a_split_never_falls_inside_a_tag() {
        let html = format!(
            "{}<a href=\"https://x.example/\">{}</a>",
            "x".repeat(60),
            "y".repeat(30)
        );
        for piece in chunks(&html, 70) {
            assert_eq!(
                piece.matches('<').count(),
                piece.matches('>').count(),
                "{piece}"
            );
        }
    }

    #[test]
    fn a_long_title_is_cut_in_the_heading_and_kept_whole_in_the_text() {
        let mut m = message("body");
        m.title = Some("t".repeat(300));
        let part = &parts(&m)[0];
        assert!(
            part.starts_with(&format!("<b>{}…</b>", "t".repeat(255))),
            "{part}"
        );
        assert!(part.contains(&format!("<b>{}</b>", "t".repeat(300))));
    }
}
