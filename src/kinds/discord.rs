//! `kind = "discord"`: Discord channel webhooks (Execute Webhook, PLATFORMS.md §4).
//!
//! A message becomes embeds: the title (with the level's emoji) as the first
//! embed's title, the text as descriptions, fields as embed fields, links as
//! markdown `[label](url)` (webhooks that no application owns cannot send
//! buttons), the level's colour on every embed, and the host and time in the
//! last embed's footer. Discord refuses a message over its embed limits with
//! `400 Invalid Form Body`, so whatever does not fit one message is split into
//! several, sent in order, marked "(1/3)" in `content` and "part 1/3" in the
//! footer.
//!
//! Every request asks for `?wait=true`: without it Discord answers 204 before
//! the message is saved and "a message that is not saved does not return an
//! error", which would break chime's promise that nothing is lost. Mentions in
//! user text never ping (`allowed_mentions` with an empty `parse` list), and
//! markdown in user text is backslash-escaped so it shows as typed.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::fields::{Fields, Problem};
use crate::kinds::markdown::Markdown;
use crate::kinds::text::{self, Measure, cut, split};
use crate::kinds::{
    Answer, HttpRequest, JSON_UTF8, Payload, Platform, Posted, Target, Threading, Verdict,
    classify_http, describe_identity,
};
use crate::message::{Level, Message};
use crate::secret::Secret;
use crate::template::Escape;

/// Limits from PLATFORMS.md §4.1 ("Embed Limits" and the Execute Webhook fields).
const CONTENT_MAX: usize = 2000;
const EMBEDS_MAX: usize = 10;
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELDS_PER_EMBED: usize = 25;
const FIELD_NAME_MAX: usize = 256;
const FIELD_VALUE_MAX: usize = 1024;
/// Title, descriptions, field names and values and footers of all embeds together.
const EMBEDS_TOTAL_MAX: usize = 6000;
const USERNAME_MAX: usize = 80;
/// Hostnames are short; a bound keeps a strange one from crowding out the text.
const FOOTER_HOST_MAX: usize = 200;
/// " · part 999/999": the room the footer's part marker may take.
const FOOTER_MARKER_ROOM: usize = 16;
/// "```\n" and "\n```" around each part of a code block.
const CODE_FENCES: usize = 8;
/// Discord's limits count what JavaScript's `length` counts; counting UTF-16
/// units is never less than counting characters, so it is safe either way.
const MEASURE: Measure = Measure::Utf16;
/// The link under a label too long to be the link's text.
const OPEN_LINK: &str = "Open link";
/// Discord refuses empty field names and values; this shows as nothing.
const BLANK: &str = "\u{200B}";
const ZERO_WIDTH_SPACE: char = '\u{200B}';

pub struct Discord {
    /// The profile's URL, for `chime config show`; requests go to `endpoint`.
    url: Secret,
    endpoint: Secret,
    identity: Map<String, Value>,
    /// The thread every message goes into, already in `endpoint`'s query.
    thread_id: Option<String>,
}

impl Discord {
    pub fn from_fields(fields: &mut Fields) -> Discord {
        let help = "set `url` to the webhook URL from the channel's Edit Channel → Integrations → Webhooks → Copy Webhook URL, e.g. url = \"${DISCORD_WEBHOOK_URL}\"";
        let url = fields.secret_url("url", "discord", help);
        // Quoted as written when wrong: `${NAME}` may hold anything.
        let (thread_id, written) = fields.string_as_written("thread_id").unzip();
        let name = fields.name;
        if let (Some(id), Some(written)) = (&thread_id, &written)
            && !is_snowflake(id)
        {
            let message = format!(
                "`thread_id` of destination `{name}` must be a thread's numeric ID, not {written:?}"
            );
            let help =
                "in Discord, turn on Developer Mode, then right-click the thread → Copy Thread ID";
            fields.problem(Problem::new(None, message).help(help));
        }
        let mut identity = Map::new();
        if let Some(username) = fields.string("username") {
            if let Some(why) = bad_username(&username) {
                let message = format!(
                    "`username` of destination `{name}` is not a name Discord accepts: {why}"
                );
                fields.problem(Problem::new(None, message));
            }
            identity.insert("username".into(), Value::String(username));
        }
        if let Some(avatar) = fields.url("avatar_url") {
            identity.insert("avatar_url".into(), Value::String(avatar));
        }
        let url = url.unwrap_or_else(|| Secret::url(String::new()));
        let endpoint = endpoint(&url, thread_id.as_deref());
        Discord {
            url,
            endpoint,
            identity,
            thread_id,
        }
    }
}

fn is_snowflake(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Webhook names may not be empty, longer than 80 characters, or contain
/// "clyde" or "discord" (§4.1). That the override follows the same rules is
/// unconfirmed but likely; a profile error now beats a refusal on every send.
fn bad_username(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    if name.trim().is_empty() {
        Some("it is empty")
    } else if name.chars().count() > USERNAME_MAX {
        Some("it is longer than 80 characters")
    } else if lower.contains("clyde") || lower.contains("discord") {
        Some("it may not contain \"clyde\" or \"discord\"")
    } else {
        None
    }
}

/// The `op` of a part that replaces the message whose id follows.
const EDIT: &str = "edit ";

/// Where the message `id` the webhook posted is edited: `…/messages/{id}`,
/// with the webhook's own query (its thread).
fn message_url(endpoint: &Secret, id: &str) -> Secret {
    let Ok(mut url) = reqwest::Url::parse(endpoint.expose()) else {
        return endpoint.clone();
    };
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().push("messages").push(id);
    }
    Secret::url(url.to_string())
}

/// The webhook URL with `wait=true` (and the thread, when set) in its query.
fn endpoint(url: &Secret, thread_id: Option<&str>) -> Secret {
    let Ok(mut parsed) = reqwest::Url::parse(url.expose()) else {
        return url.clone();
    };
    let keep: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(key, _)| key != "wait" && !(key == "thread_id" && thread_id.is_some()))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    {
        let mut query = parsed.query_pairs_mut();
        query.clear().extend_pairs(keep).append_pair("wait", "true");
        if let Some(id) = thread_id {
            query.append_pair("thread_id", id);
        }
    }
    Secret::url(parsed.into())
}

impl Platform for Discord {
    fn kind(&self) -> &'static str {
        "discord"
    }

    fn markup(&self) -> Escape {
        escape
    }

    fn threading(&self) -> Threading {
        if self.thread_id.is_some() {
            Threading::Fixed
        } else {
            Threading::Unsupported
        }
    }

    /// Discord webhooks post to the channel they were made for; a route's
    /// channel is meant for other kinds and does not apply here.
    fn render(&self, message: &Message, _target: &Target) -> Vec<Payload> {
        payloads(message)
            .into_iter()
            .map(|mut payload| {
                payload.extend(self.identity.clone());
                Payload::json(&Value::Object(payload))
            })
            .collect()
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        match payload.op.strip_prefix(EDIT) {
            Some(message) => HttpRequest {
                method: reqwest::Method::PATCH,
                ..HttpRequest::post(message_url(&self.endpoint, message), payload, JSON_UTF8)
            },
            None => HttpRequest::post(self.endpoint.clone(), payload, JSON_UTF8),
        }
    }

    /// A webhook edits the messages it posted (`--update`); it cannot reply
    /// to one, so the other parts of a long edit are posted after it.
    fn edits(&self) -> bool {
        true
    }

    /// 30 messages a minute per channel (PLATFORMS.md §4.3, a staff comment);
    /// the 5 per 2 s a webhook bursts to would meet that wall within a minute.
    fn pace(&self) -> Duration {
        Duration::from_secs(2)
    }

    fn attach(&self, payload: &Payload, parent: &Posted) -> Payload {
        if !payload.thread.as_ref().is_some_and(|t| t.edit) {
            return payload.clone();
        }
        let mut body: Value = serde_json::from_str(&payload.body).expect("rendered as JSON");
        if let Some(fields) = body.as_object_mut() {
            // The author of a message stays who posted it; only its content changes.
            fields.remove("username");
            fields.remove("avatar_url");
            // An edit keeps every field it does not send: an old "(1/3)" too.
            fields
                .entry("content")
                .or_insert_with(|| Value::String(String::new()));
            fields
                .entry("embeds")
                .or_insert_with(|| Value::Array(Vec::new()));
        }
        payload.reworked(&body, format!("{EDIT}{}", parent.ts))
    }

    fn edit_refused(&self, verdict: &Verdict) -> bool {
        matches!(verdict, Verdict::Rejected { error, .. } if error.ends_with("(code 10008)"))
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![("url", self.url.to_string().into())];
        if let Some(id) = &self.thread_id {
            out.push(("thread_id", id.as_str().into()));
        }
        describe_identity(&self.identity, &["username", "avatar_url"], &mut out);
        out
    }

    /// For `chime pipe`: a description holds 4096 UTF-16 units; the rest is room for the footer and marker.
    fn batch_limit(&self) -> usize {
        3800
    }

    fn measure(&self) -> crate::kinds::text::Measure {
        crate::kinds::text::Measure::Utf16
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        classify(answer)
    }
}

/// Escapes Discord markdown, so user text shows exactly as typed.
///
/// Discord drops a backslash before any ASCII punctuation, so escaping is
/// always safe to display. `<` covers mentions, channels, custom emoji and
/// timestamps (`<@id>`, `<#id>`, `<t:…>`); `&` has no meaning in Discord but is
/// escaped like the other two control characters chime's kinds all treat
/// alike. `#`, `-` and `+` only mean something at the start of a line
/// (headings, `-#` subtext, lists), and so does a number followed by a dot.
const MARKDOWN: Markdown = Markdown {
    entities: &[],
    inline: &['\\', '*', '_', '~', '`', '|', '<', '>', '&', '[', ']', '@'],
    line_start: &['#', '-', '+'],
    after_number: &['.'],
    tab_indents: true,
};

pub fn escape(text: &str) -> String {
    MARKDOWN.escape(text)
}

/// Undoes [`escape`]: inside a code block Discord shows backslashes as they are.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && next.is_ascii_punctuation()
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// Text for a code block: unescaped, with any ``` broken by an invisible space
/// so it cannot close the block early.
fn code_text(text: &str) -> String {
    let mut text = unescape(text);
    while text.contains("```") {
        text = text.replace("```", &format!("`{ZERO_WIDTH_SPACE}``"));
    }
    text
}

/// Splits escaped text, never parting a backslash from the character it escapes.
fn split_escaped(text: &str, max: usize) -> Vec<String> {
    text::split_escaped(text, max, MEASURE)
}

/// Cuts escaped text without leaving a lone backslash before the ellipsis.
fn cut_escaped(text: &str, max: usize) -> (String, bool) {
    let (cut_text, was_cut) = cut(text, max, MEASURE);
    if !was_cut {
        return (cut_text, false);
    }
    let body = cut_text.trim_end_matches('…');
    let backslashes = body.chars().rev().take_while(|c| *c == '\\').count();
    let body = if backslashes % 2 == 1 {
        &body[..body.len() - 1]
    } else {
        body
    };
    (format!("{body}…"), true)
}

/// One piece of the message, in the order it is shown.
enum Unit {
    /// An embed description.
    Text(String),
    /// An embed field: name and value, both within their limits.
    Field(String, String),
}

impl Unit {
    fn size(&self) -> usize {
        match self {
            Unit::Text(text) => MEASURE.of(text),
            Unit::Field(name, value) => MEASURE.of(name) + MEASURE.of(value),
        }
    }
}

#[derive(Default)]
struct Embed {
    description: Option<String>,
    fields: Vec<(String, String)>,
}

/// Renders `message` into one or more payloads, each within Discord's limits.
fn payloads(message: &Message) -> Vec<Map<String, Value>> {
    let (headline, title_cut) = headline(message);
    let (footer_host, _) = cut(message.host.trim(), FOOTER_HOST_MAX, MEASURE);
    let overhead = headline.as_deref().map_or(0, |h| MEASURE.of(h))
        + MEASURE.of(&footer_host)
        + FOOTER_MARKER_ROOM;
    let budget = EMBEDS_TOTAL_MAX - overhead;
    // Two descriptions to a message use its 6,000 characters better than one
    // description of 4,096 would.
    let text_max = DESCRIPTION_MAX.min(budget / 2);
    let parts = pack(units(message, title_cut, text_max, budget), budget);
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, embeds)| {
            let marker = (count > 1).then(|| (i + 1, count));
            assemble(message, headline.as_deref(), &footer_host, embeds, marker)
        })
        .collect()
}

/// The first embed's title: the level's emoji and the title, cut to 256 and
/// saying whether it was cut (the whole title then opens the text).
fn headline(message: &Message) -> (Option<String>, bool) {
    let Some(title) = message.title.as_deref().filter(|t| !t.trim().is_empty()) else {
        return (None, false);
    };
    let text = match message.level {
        Level::Info => escape(title),
        level => format!("{} {}", level.emoji(), escape(title)),
    };
    let (text, was_cut) = cut_escaped(&text, TITLE_MAX);
    (Some(text), was_cut)
}

fn units(message: &Message, title_cut: bool, text_max: usize, budget: usize) -> Vec<Unit> {
    let mut units = Vec::new();
    let texts = |text: &str| {
        let pieces = split_escaped(text, text_max);
        pieces
            .into_iter()
            .filter(|p| !p.trim().is_empty())
            .map(Unit::Text)
            .collect::<Vec<_>>()
    };
    if title_cut && let Some(title) = &message.title {
        units.extend(texts(&format!("**{}**", escape(title))));
    }
    if message.code {
        let code = code_text(&message.text);
        let pieces = split(&code, text_max - CODE_FENCES, MEASURE);
        let fenced = pieces.into_iter().filter(|p| !p.trim().is_empty());
        units.extend(fenced.map(|p| Unit::Text(format!("```\n{p}\n```"))));
    } else {
        units.extend(texts(&message.text));
    }
    for (key, value) in &message.fields {
        let name = non_blank(escape(key));
        let value = non_blank(escape(value));
        if MEASURE.of(&name) <= FIELD_NAME_MAX && MEASURE.of(&value) <= FIELD_VALUE_MAX {
            units.push(Unit::Field(name, value));
        } else {
            units.extend(texts(&format!("**{name}**\n{value}")));
        }
    }
    units.extend(link_units(
        message,
        text_max,
        text_max.max(DESCRIPTION_MAX.min(budget)),
    ));
    units
}

fn non_blank(text: String) -> String {
    if text.trim().is_empty() {
        BLANK.to_owned()
    } else {
        text
    }
}

/// Links as markdown, one to a line, never split inside a link: lines are
/// gathered up to `text_max`, and a longer one is a description of its own
/// (up to `whole_max`, what one description in one message can hold). A
/// label too long even for that is written out as text, followed by an
/// "Open link" link to its URL.
fn link_units(message: &Message, text_max: usize, whole_max: usize) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, units: &mut Vec<Unit>| {
        if !current.is_empty() {
            units.push(Unit::Text(std::mem::take(current)));
        }
    };
    for link in &message.links {
        let target = link_target(&link.url);
        let line = format!("[{}]({target})", escape(&link.label));
        let size = MEASURE.of(&line);
        if size > whole_max {
            flush(&mut current, &mut units);
            let label = split_escaped(&escape(&link.label), text_max);
            units.extend(label.into_iter().map(Unit::Text));
            let open = format!("[{OPEN_LINK}]({target})");
            if MEASURE.of(&open) <= whole_max {
                units.push(Unit::Text(open));
            } else {
                // Longer than a description: it can only be text.
                let url = split_escaped(&escape(&link.url), text_max);
                units.extend(url.into_iter().map(Unit::Text));
            }
            continue;
        }
        let sep = usize::from(!current.is_empty());
        if !current.is_empty() && MEASURE.of(&current) + sep + size > text_max {
            flush(&mut current, &mut units);
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    flush(&mut current, &mut units);
    units
}

/// A URL that cannot end the markdown link early.
fn link_target(url: &str) -> String {
    url.replace('(', "%28")
        .replace(')', "%29")
        .replace(' ', "%20")
}

/// Packs units, in order, into messages of at most ten embeds and `budget` characters.
fn pack(units: Vec<Unit>, budget: usize) -> Vec<Vec<Embed>> {
    let mut parts: Vec<Vec<Embed>> = vec![vec![Embed::default()]];
    let mut used = 0;
    for unit in units {
        let size = unit.size();
        let part = parts.last_mut().expect("parts is never empty");
        let last = part.last().expect("a part has an embed");
        let joins_last = match &unit {
            Unit::Text(_) => last.description.is_none() && last.fields.is_empty(),
            Unit::Field(..) => last.fields.len() < FIELDS_PER_EMBED,
        };
        let embeds = part.len() + usize::from(!joins_last);
        let part_is_empty = part.len() == 1 && used == 0;
        let joins_last = if !part_is_empty && (used + size > budget || embeds > EMBEDS_MAX) {
            parts.push(vec![Embed::default()]);
            used = 0;
            true
        } else {
            joins_last
        };
        let part = parts.last_mut().expect("parts is never empty");
        if !joins_last {
            part.push(Embed::default());
        }
        let embed = part.last_mut().expect("a part has an embed");
        match unit {
            Unit::Text(text) => embed.description = Some(text),
            Unit::Field(name, value) => embed.fields.push((name, value)),
        }
        used += size;
    }
    parts
}

fn assemble(
    message: &Message,
    headline: Option<&str>,
    host: &str,
    embeds: Vec<Embed>,
    marker: Option<(usize, usize)>,
) -> Map<String, Value> {
    let count = embeds.len();
    let mut footer = host.to_owned();
    if let Some((part, of)) = marker {
        if !footer.is_empty() {
            footer.push_str(" · ");
        }
        footer.push_str(&format!("part {part}/{of}"));
    }
    let embeds: Vec<Value> = embeds
        .into_iter()
        .enumerate()
        .map(|(i, embed)| {
            let mut json = Map::new();
            if i == 0
                && let Some(title) = headline
            {
                json.insert("title".into(), title.into());
            }
            if let Some(description) = embed.description {
                json.insert("description".into(), description.into());
            }
            if !embed.fields.is_empty() {
                let fields: Vec<Value> = embed
                    .fields
                    .into_iter()
                    .map(|(name, value)| json!({"name": name, "value": value, "inline": false}))
                    .collect();
                json.insert("fields".into(), fields.into());
            }
            json.insert("color".into(), message.level.colour().into());
            if i + 1 == count {
                if !footer.is_empty() {
                    json.insert("footer".into(), json!({"text": footer}));
                }
                let stamp = humantime::format_rfc3339_seconds(message.time).to_string();
                json.insert("timestamp".into(), stamp.into());
            }
            Value::Object(json)
        })
        .collect();
    let mut payload = Map::new();
    if let Some((part, of)) = marker {
        let content = format!("({part}/{of})");
        debug_assert!(MEASURE.of(&content) <= CONTENT_MAX);
        payload.insert("content".into(), content.into());
    }
    payload.insert("embeds".into(), embeds.into());
    // User text must never ping anyone; the webhook default parses user mentions.
    payload.insert("allowed_mentions".into(), json!({"parse": []}));
    payload
}

/// Reads Discord's answer: 200 with the message (we always wait), 204 without,
/// 429 with `retry_after`, or an error `{message, code}` (§4.2, §4.3).
fn classify(answer: &Answer) -> Verdict {
    let body: Option<Value> = serde_json::from_str(&answer.body).ok();
    if answer.status == 429 {
        let after = body
            .as_ref()
            .and_then(|b| b["retry_after"].as_f64())
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .map(|secs| Duration::from_secs_f64(secs.min(86_400.0)))
            .or(answer.retry_after);
        let scope = match body.as_ref().and_then(|b| b["global"].as_bool()) {
            Some(true) => " (global)",
            _ => "",
        };
        let error = format!("429 You are being rate limited{scope}");
        return Verdict::Retry { after, error };
    }
    if let Some(verdict) = classify_http(answer) {
        return verdict;
    }
    match answer.status {
        200 => {
            let field = |key: &str| {
                let value = body.as_ref().map(|b| &b[key]);
                value.and_then(Value::as_str).map(str::to_owned)
            };
            return Verdict::Delivered {
                channel: field("channel_id"),
                ts: field("id"),
            };
        }
        201..=299 => {
            return Verdict::Delivered {
                channel: None,
                ts: None,
            };
        }
        _ => {}
    }
    let code = body.as_ref().and_then(|b| b["code"].as_u64());
    let message = body
        .as_ref()
        .and_then(|b| b["message"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| answer.body.trim().chars().take(200).collect());
    let mut error = format!("{} {message}", answer.status);
    if let Some(code) = code {
        error.push_str(&format!(" (code {code})"));
    }
    if let Some(details) = body.as_ref().map(form_errors).filter(|d| !d.is_empty()) {
        error.push_str(": ");
        error.push_str(&details.join("; "));
    }
    match code {
        // Slowmode and the channel's write limit: the message is fine, just early.
        Some(20016 | 20028) => Verdict::Retry {
            after: answer.retry_after,
            error,
        },
        code => Verdict::Rejected {
            hint: hint(answer.status, code).map(str::to_owned),
            error,
        },
    }
}

/// "field.path: message" for each form error, in both Discord's formats: v8+
/// `{"errors": {"content": {"_errors": [{"message": …}]}}}` and the legacy one
/// unversioned URLs get, `{"content": ["…"]}` (§4.2).
fn form_errors(body: &Value) -> Vec<String> {
    fn walk(value: &Value, path: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Array(errors)) = map.get("_errors") {
                    for error in errors {
                        let text = error["message"].as_str().unwrap_or("invalid");
                        out.push(format!("{path}: {text}"));
                    }
                }
                for (key, value) in map.iter().filter(|(k, _)| *k != "_errors") {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(value, &path, out);
                }
            }
            Value::Array(items) => {
                let texts = items.iter().filter_map(Value::as_str);
                out.extend(texts.map(|text| format!("{path}: {text}")));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    match body {
        Value::Object(map) if map.contains_key("errors") => walk(&map["errors"], "", &mut out),
        Value::Object(map) if !map.contains_key("code") => walk(body, "", &mut out),
        _ => {}
    }
    out.truncate(5);
    out
}

/// What the user can do about the errors a webhook meets (§4.2).
fn hint(status: u16, code: Option<u64>) -> Option<&'static str> {
    Some(match (status, code) {
        (_, Some(10015 | 50027)) | (401 | 404, None) => {
            "the webhook was deleted or its token is wrong: create a new one in the channel's Edit Channel → Integrations → Webhooks and update the profile (Discord restricts clients that keep using a dead webhook)"
        }
        (_, Some(10003 | 50083)) => {
            "the thread in `thread_id` was deleted or archived: check `thread_id`, or remove it to post in the channel"
        }
        (_, Some(220001)) => {
            "the webhook's channel is a forum: set `thread_id` to a post's thread ID"
        }
        (_, Some(220003 | 220004)) => {
            "this webhook cannot post into that channel or thread: create a webhook in a text channel"
        }
        (_, Some(50001 | 50013)) | (403, None) => {
            "the webhook lacks permission to post there: check the channel's permissions and `thread_id`"
        }
        (_, Some(50006 | 50035 | 50109 | 40005)) | (400, None) => {
            "Discord refused the payload chime built: please report this with the output of --dry-run"
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
        }
    }

    fn total(embeds: &[Value]) -> usize {
        let len = |v: &Value| v.as_str().map_or(0, |s| MEASURE.of(s));
        embeds
            .iter()
            .map(|e| {
                len(&e["title"])
                    + len(&e["description"])
                    + len(&e["footer"]["text"])
                    + e["fields"].as_array().map_or(0, |fs| {
                        fs.iter().map(|f| len(&f["name"]) + len(&f["value"])).sum()
                    })
            })
            .sum()
    }

    #[test]
    fn escape_shows_markdown_and_mentions_as_typed() {
        assert_eq!(
            escape("<@123> **b** a&b"),
            "\\<\\@123\\> \\*\\*b\\*\\* a\\&b"
        );
        assert_eq!(escape("# h\n- x\n1. y\nv1.2"), "\\# h\n\\- x\n1\\. y\nv1.2");
        assert_eq!(unescape(&escape("a\\b *c* <d>")), "a\\b *c* <d>");
    }

    #[test]
    fn split_never_parts_a_backslash_from_its_character() {
        let text = escape(&"*".repeat(50));
        for piece in split_escaped(&text, 11) {
            assert!(MEASURE.of(&piece) <= 11);
            assert!(piece.starts_with('\\') && piece.len() % 2 == 0, "{piece}");
        }
    }

    #[test]
    fn long_text_fills_messages_within_every_embed_limit() {
        let text = "word ".repeat(6000);
        let payloads = payloads(&message(&text));
        assert_eq!(payloads.len(), 6);
        for p in &payloads {
            let embeds = p["embeds"].as_array().unwrap();
            assert!(embeds.len() <= EMBEDS_MAX);
            assert!(total(embeds) <= EMBEDS_TOTAL_MAX);
            for e in embeds {
                assert!(MEASURE.of(e["description"].as_str().unwrap()) <= DESCRIPTION_MAX);
            }
        }
        assert_eq!(payloads[0]["content"], "(1/6)");
    }

    #[test]
    fn many_fields_go_25_to_an_embed() {
        let mut m = message("x");
        m.fields = (0..60)
            .map(|i| (format!("k{i}"), format!("v{i}")))
            .collect();
        let p = &payloads(&m)[0];
        let sizes: Vec<usize> = p["embeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["fields"].as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(sizes, vec![25, 25, 10]);
    }

    #[test]
    fn long_title_is_cut_in_the_embed_title_and_kept_whole_in_the_text() {
        let mut m = message("body");
        m.title = Some("t".repeat(300));
        let p = &payloads(&m)[0];
        let title = p["embeds"][0]["title"].as_str().unwrap();
        assert_eq!(MEASURE.of(title), TITLE_MAX);
        assert_eq!(
            p["embeds"][0]["description"],
            format!("**{}**", "t".repeat(300))
        );
    }

    #[test]
    fn a_link_longer_than_a_description_share_stays_one_whole_link() {
        let mut m = message("x");
        m.title = Some("t".repeat(250));
        let url = format!("https://ci.example/{}", "a".repeat(2980));
        m.links = vec![crate::message::Link {
            label: "l".repeat(300),
            url: url.clone(),
        }];
        let descriptions: Vec<String> = payloads(&m)
            .iter()
            .flat_map(|p| p["embeds"].as_array().unwrap().clone())
            .filter_map(|e| e["description"].as_str().map(str::to_owned))
            .collect();
        let whole = format!("[{}]({url})", "l".repeat(300));
        assert!(descriptions.contains(&whole), "{descriptions:?}");
    }

    #[test]
    fn thread_and_wait_go_in_the_query() {
        let url = Secret::url("https://discord.com/api/webhooks/1/tok?wait=false".into());
        assert_eq!(
            endpoint(&url, Some("42")).expose(),
            "https://discord.com/api/webhooks/1/tok?wait=true&thread_id=42"
        );
    }

    #[test]
    fn rate_limit_reads_the_precise_retry_after_from_the_body() {
        let answer = Answer {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
            body: r#"{"message": "You are being rate limited.", "retry_after": 1.25, "global": false}"#
                .into(),
        };
        assert_eq!(
            classify(&answer),
            Verdict::Retry {
                after: Some(Duration::from_millis(1250)),
                error: "429 You are being rate limited".into()
            }
        );
    }
}
