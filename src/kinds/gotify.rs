//! `kind = "gotify"`: a message to a self-hosted Gotify server (PLATFORMS.md, "Gotify").
//!
//! Owns the `POST /message` body (`title`, `message`, `priority`, `extras`),
//! the split into messages the server stores whole, and the reading of its
//! answers. The application token goes in the `X-Gotify-Key` header, never
//! the URL's `?token=` that Gotify also reads: a URL ends up in proxy and
//! server logs, and in chime's own output.
//!
//! The message is Markdown (`extras["client::display"]["contentType"] =
//! "text/markdown"`, which the web UI and the Android app render), so user
//! text is backslash-escaped as CommonMark reads it; the title is shown as
//! plain text and goes as written. Gotify's server takes any length, but it
//! stores the message in a `text` column, which on MySQL/MariaDB holds
//! 65,535 bytes: a longer one is refused with a 500 (strict mode), which
//! would be retried forever, or cut silently. So chime splits at
//! [`MESSAGE_MAX`] bytes and marks the parts "(1/3)" in the title.

use serde_json::{Value, json};

use crate::fields::Fields;
use crate::kinds::markdown::Markdown;
use crate::kinds::text::{Block, Measure, cut, longest_run, pack_blocks, split, split_escaped};
use crate::kinds::{
    Answer, HttpRequest, JSON_UTF8, Payload, Platform, Target, Verdict, classify_http,
};
use crate::message::{Level, Message};
use crate::secret::Secret;
use crate::template::Escape;

/// What one message's body holds: well under MySQL's 65,535-byte `text`
/// column, the strictest store Gotify supports.
const MESSAGE_MAX: usize = 60_000;
/// A notification shows a line of title: a longer one is cut there and kept
/// whole at the top of the message.
const TITLE_MAX: usize = 250;
/// " (9999/9999)" after a split message's title.
const MARKER_ROOM: usize = 12;
/// Line breaks a Markdown reader keeps: a single newline would join the lines.
const HARD_BREAK: &str = "  \n";

pub struct Gotify {
    url: Secret,
    token: Secret,
}

impl Gotify {
    pub fn from_fields(fields: &mut Fields) -> Gotify {
        let help =
            "set `url` to the Gotify server's base URL, e.g. url = \"https://gotify.example.com\"";
        let url = fields
            .secret_url("url", "gotify", help)
            .unwrap_or_else(|| Secret::url(String::new()));
        let help = "set `token` to an application's token (Apps → the app's token), e.g. token = \"${GOTIFY_TOKEN}\"";
        let token = fields
            .secret_token("token", "gotify", help)
            .unwrap_or_else(|| Secret::token(String::new()));
        Gotify { url, token }
    }
}

/// The Android app rings from 4 and pops up with vibration from 8
/// (gotify/android README, "Message Priorities"); 1–3 only show an icon.
/// Info and success stay quiet, a warning makes a sound, an error pops up,
/// a critical one at the top of the scale.
pub fn level_priority(level: Level) -> u8 {
    match level {
        Level::Info | Level::Success => 2,
        Level::Warning => 5,
        Level::Error => 8,
        Level::Critical => 10,
    }
}

/// CommonMark as Gotify's clients render it (react-markdown, Markwon): the
/// inline markers everywhere, `<` and `&` too (HTML is not rendered, but an
/// entity is), block markers where they start a line.
const MARKDOWN: Markdown = Markdown {
    entities: &[],
    inline: &['\\', '`', '*', '_', '~', '[', ']', '<', '>', '&', '|'],
    line_start: &['#', '-', '+', '='],
    after_number: &['.', ')'],
    tab_indents: true,
};

pub fn escape(text: &str) -> String {
    MARKDOWN.escape(text)
}

/// Undoes [`escape`], for text shown in a code block, where a backslash is literal.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.next_if(|next| c == '\\' && next.is_ascii_punctuation()) {
            Some(escaped) => out.push(escaped),
            None => out.push(c),
        }
    }
    out
}

impl Platform for Gotify {
    fn kind(&self) -> &'static str {
        "gotify"
    }

    /// A Gotify message's extras open a URL or an app; none answers back.
    fn asking(&self) -> Result<crate::kinds::Asking, String> {
        let why = ": a message has no button that answers";
        Err(crate::kinds::cannot_ask(
            "gotify",
            "Gotify's message API",
            why,
        ))
    }

    fn markup(&self) -> Escape {
        escape
    }

    /// An application is the whole destination, so `--channel` has nothing to pick.
    fn render(&self, message: &Message, _target: &Target) -> Vec<Payload> {
        let whole = message.title.as_deref().map(str::trim).unwrap_or_default();
        let (title, title_cut) = cut(whole, TITLE_MAX, Measure::Bytes);
        let mut bodies = bodies(message, title_cut.then_some(whole));
        // Gotify requires a `message`: a title alone is the message.
        if bodies.iter().all(String::is_empty) {
            bodies = vec![escape(if whole.is_empty() { "(empty)" } else { whole })];
        }
        let count = bodies.len();
        let mut extras = json!({"client::display": {"contentType": "text/markdown"}});
        if let Some(link) = message.links.first() {
            extras["client::notification"] = json!({"click": {"url": link.url}});
        }
        let priority = level_priority(message.level);
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                let title = match crate::kinds::marker(i, count) {
                    Some(marker) => format!("{title} {marker}").trim().to_owned(),
                    None => title.clone(),
                };
                Payload::json(&json!({
                    "title": title,
                    "message": body,
                    "priority": priority,
                    "extras": extras,
                }))
            })
            .collect()
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        let url = format!("{}/message", self.url.expose().trim_end_matches('/'));
        HttpRequest::post(Secret::url(url), payload, JSON_UTF8)
            .header("x-gotify-key", self.token.clone())
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        vec![
            ("url", self.url.to_string().into()),
            ("token", self.token.to_string().into()),
        ]
    }

    /// For `chime pipe`: a message holds 60,000 bytes; escaping and the code fence take the rest.
    fn batch_limit(&self) -> usize {
        50_000
    }

    fn measure(&self) -> Measure {
        Measure::Bytes
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        if (200..300).contains(&answer.status) {
            let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
            return Verdict::Delivered {
                channel: None,
                ts: body["id"].as_u64().map(|id| id.to_string()),
            };
        }
        if let Some(verdict) = classify_http(answer) {
            return verdict;
        }
        let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let Some(description) = body["errorDescription"].as_str() else {
            return Verdict::Rejected {
                error: format!("{} (not a Gotify answer)", answer.status),
                hint: Some(URL_HINT.into()),
            };
        };
        let error = body["error"].as_str().unwrap_or_default();
        Verdict::Rejected {
            error: format!("{} {error}: {description}", answer.status),
            hint: hint(answer.status, description).map(str::to_owned),
        }
    }
}

const URL_HINT: &str = "check `url`: the Gotify server's base URL (e.g. https://gotify.example.com, with its sub-path if it is served under one), without /message";

/// What the user can do about Gotify's refusals (PLATFORMS.md, "Gotify").
fn hint(status: u16, description: &str) -> Option<&'static str> {
    Some(match status {
        401 => {
            "Gotify did not accept `token`: copy the token of an application (Apps → the app: it starts with A, or gtfya. on Gotify 3), not a client's"
        }
        403 => {
            "Gotify knows the credentials but not for sending: `token` must be an application's token (Apps), not a user's"
        }
        400 if description.contains("appid") => {
            "`token` is a client token: use the token of an application (Apps → the app: it starts with A, or gtfya. on Gotify 3)"
        }
        404 => URL_HINT,
        400 | 413 => {
            "Gotify refused the message chime built: please report this with the output of --dry-run"
        }
        _ => return None,
    })
}

/// The bodies, in order, each at most [`MESSAGE_MAX`] bytes; `title` is the
/// whole title when the title could only show the start of it.
fn bodies(message: &Message, title: Option<&str>) -> Vec<String> {
    let room = MESSAGE_MAX - MARKER_ROOM;
    let mut blocks: Vec<Block> = Vec::new();
    let add = |blocks: &mut Vec<Block>, text: &str, separator: &'static str| {
        let pieces = split_escaped(text, room, Measure::Bytes).into_iter();
        for (i, piece) in pieces.enumerate() {
            // A split at a hard break leaves its spaces, which CommonMark
            // drops at the end of a message anyway.
            let piece = piece.trim_end_matches(' ').to_owned();
            blocks.push((piece, (i == 0).then_some(separator)));
        }
    };
    if let Some(title) = title {
        let title = format!("**{}**", escape(title).replace('\n', HARD_BREAK));
        add(&mut blocks, &title, "\n\n");
    }
    if !message.text.trim().is_empty() {
        if message.code {
            let code = unescape(&message.text);
            // A fence longer than any run of backticks inside cannot be closed early.
            let fence = "`".repeat(longest_run(&code, '`').max(2) + 1);
            let inner = room - 2 * (fence.len() + 1);
            for (i, piece) in split(&code, inner, Measure::Bytes).into_iter().enumerate() {
                blocks.push((
                    format!("{fence}\n{piece}\n{fence}"),
                    (i == 0).then_some("\n\n"),
                ));
            }
        } else {
            add(&mut blocks, &message.text.replace('\n', HARD_BREAK), "\n\n");
        }
    }
    for (i, (key, value)) in message.fields.iter().enumerate() {
        let value = escape(value).replace('\n', HARD_BREAK);
        add(
            &mut blocks,
            &format!("- **{}**: {value}", escape(key)),
            list_separator(i),
        );
    }
    for (i, link) in message.links.iter().enumerate() {
        let line = format!("- [{}]({})", escape(&link.label), link_target(&link.url));
        add(&mut blocks, &line, list_separator(i));
    }
    pack_blocks(blocks, room)
}

/// A list starts after a blank line; its items follow one per line.
fn list_separator(index: usize) -> &'static str {
    if index == 0 { "\n\n" } else { "\n" }
}

/// A URL that cannot end the Markdown link early.
fn link_target(url: &str) -> String {
    url.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
        .replace('<', "%3C")
        .replace('>', "%3E")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_rising_gotify_priorities() {
        let priorities: Vec<u8> = Level::ALL.into_iter().map(level_priority).collect();
        assert_eq!(priorities, [2, 2, 5, 8, 10]);
    }

    #[test]
    fn markdown_escaping_round_trips_through_unescape() {
        let text = r"a <b> & *c* _d_ [e](f) `g` C:\x";
        assert_eq!(escape("# h\n1. one"), "\\# h\n1\\. one");
        assert_eq!(unescape(&escape(text)), text);
    }

    #[test]
    fn a_refusal_of_a_client_token_says_to_use_an_application_token() {
        let hint = hint(
            400,
            "appid is required when not authenticating with an application token",
        );
        assert!(hint.unwrap().contains("application"));
    }
}
