//! `kind = "ntfy"`: publishing to an ntfy topic (ntfy.sh or a self-hosted server).
//!
//! Owns the body, the content headers (`X-Title`, `X-Priority`, `X-Tags`,
//! `X-Click`, `X-Markdown`), the split into messages ntfy keeps as messages,
//! and the reading of its answers (PLATFORMS.md §9).
//!
//! The body is plain text unless the destination sets `markdown = true`: ntfy
//! renders Markdown only in its web app, and a phone, where most ntfy messages
//! are read, would show every escaping backslash and `**` as written.
//!
//! ntfy takes 4,096 bytes of body per message; a larger one becomes an
//! attachment, or is refused (`40014 attachments not allowed`) on servers
//! without attachments, so chime splits by bytes and puts the "(1/3)" marker in
//! the title, where a phone shows it. Header values must be ASCII on the wire:
//! anything else is sent RFC 2047-encoded (`=?UTF-8?B?…?=`), which ntfy decodes.
//! The topic URL is a secret: on a public server, whoever knows the topic can
//! read it. 429 comes without `Retry-After`, so the delivery engine's own
//! back-off applies, except for the daily quotas, which no short wait will cure:
//! those wait in the spool until just past midnight UTC, when ntfy resets them.

mod body;

use body::bodies;
pub use body::escape;

use std::time::Duration;

use serde_json::Value;

use crate::fields::{Fields, Problem};
use crate::kinds::text::{Measure, cut};
use crate::kinds::{
    Answer, FileRef, HttpRequest, Payload, Platform, Schedules, Target, Upload, Verdict,
    classify_http,
};
use crate::message::{Level, Link, Message};
use crate::secret::Secret;
use crate::template::{Escape, plain};

/// `DefaultMessageSizeLimit` (§9).
const BODY_MAX: usize = 4096;
/// Android phones get a message through Firebase, whose messages hold 4,000
/// bytes: ntfy cuts the body to fit and marks it truncated, but not the title
/// or the click URL, and a push they alone fill is refused and never arrives
/// (ntfy `server/server_firebase.go`, `maybeTruncateFCMMessage`).
/// So the title header shows at most this many bytes, cut with "…", and the
/// whole title then opens the body.
const TITLE_MAX: usize = 250;
/// A longer first link is not sent as `X-Click`, for the same reason; it is
/// in the body with every other link.
const CLICK_MAX: usize = 1000;
/// When ntfy resets a visitor's daily quotas: midnight UTC, its default
/// `visitor-stats-reset-time` (binwiederhier/ntfy `server/config.go`,
/// `DefaultVisitorStatsResetTime`), which ntfy.sh keeps. A server set to
/// another time answers 429 again and the spool's backoff takes over.
const QUOTA_RESET_SECS_OF_DAY: u64 = 0;
/// After the reset, this much more: the server's clock may be behind ours.
const QUOTA_RESET_MARGIN: Duration = Duration::from_secs(60);
/// ntfy's scheduled delivery (`At:`) takes a time between its server's
/// `MinDelay` (10 s) and `message-delay-limit` (3 days by default, ntfy.sh
/// too); outside them it answers 400 with 40005/40006 (PLATFORMS.md §9).
const SCHEDULE_MIN: Duration = Duration::from_secs(10);
const SCHEDULE_MAX: Duration = Duration::from_secs(3 * 86_400);
/// Line breaks a Markdown reader keeps: a single newline would join the lines.
const HARD_BREAK: &str = "  \n";

pub struct Ntfy {
    url: Secret,
    auth: Option<Auth>,
    priority: Option<u8>,
    tags: Vec<String>,
    markdown: bool,
    /// `reply_topic`: where `chime ask`'s buttons publish the answer, when
    /// not a topic of its own per question.
    reply_topic: Option<String>,
}

impl Ntfy {
    pub fn from_fields(fields: &mut Fields) -> Ntfy {
        let help = "set `url` to the server and topic, e.g. url = \"https://ntfy.sh/ops-alerts\"";
        let url = fields.secret_url("url", "ntfy", help);
        if let Some(url) = &url
            && !has_topic(url.expose())
        {
            let message = format!("the `url` of destination `{}` has no topic", fields.name);
            fields.problem(Problem::new(None, message).help(help));
        }
        let auth = auth(fields);
        let priority_span = fields.span_of("priority");
        let priority = fields.id("priority").and_then(|p| {
            let parsed = parse_priority(&p);
            if parsed.is_none() {
                let message = format!(
                    "`priority` of destination `{}` must be 1–5 or min, low, default, high, max, urgent",
                    fields.name
                );
                fields.problem(Problem::new(priority_span, message));
            }
            parsed
        });
        let tags = fields
            .string("tags")
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ntfy {
            url: url.unwrap_or_else(|| Secret::url(String::new())),
            auth,
            priority,
            tags,
            markdown: fields.boolean("markdown").unwrap_or(false),
            reply_topic: reply_topic(fields),
        }
    }
}

/// `reply_topic`, if set: a topic name as ntfy takes one (1–64 of
/// `A-Za-z0-9_-`), on the same server.
fn reply_topic(fields: &mut Fields) -> Option<String> {
    let span = fields.span_of("reply_topic");
    let topic = fields.string("reply_topic")?;
    let valid = (1..=64).contains(&topic.len())
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        let message = format!(
            "`reply_topic` of destination `{}` must be a topic name: 1 to 64 letters, digits, `_` or `-`",
            fields.name
        );
        fields.problem(Problem::new(span, message));
        return None;
    }
    Some(topic)
}

fn has_topic(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| {
        u.path_segments()
            .is_some_and(|mut s| s.any(|s| !s.is_empty()))
    })
}

/// How the destination signs in to its server, as the profile put it.
enum Auth {
    Token(Secret),
    Basic { user: String, password: Secret },
}

impl Auth {
    /// The Authorization header value.
    fn header(&self) -> Secret {
        match self {
            Auth::Token(token) => Secret::bearer(token),
            Auth::Basic { user, password } => {
                let basic = base64(format!("{user}:{}", password.expose()).as_bytes());
                Secret::token(format!("Basic {basic}"))
            }
        }
    }

    fn describe(&self, out: &mut Vec<(&'static str, toml::Value)>) {
        match self {
            Auth::Token(token) => out.push(("token", token.to_string().into())),
            Auth::Basic { user, password } => {
                out.push(("user", user.as_str().into()));
                out.push(("password", password.to_string().into()));
            }
        }
    }
}

/// `token`, or `user` and `password`.
fn auth(fields: &mut Fields) -> Option<Auth> {
    let token = fields.optional_secret_token("token", "ntfy");
    let user = fields.string("user");
    let password = fields.optional_secret_token("password", "ntfy");
    let problem = match (token, user, password) {
        (Some(token), None, None) => return Some(Auth::Token(token)),
        (None, Some(user), Some(password)) => return Some(Auth::Basic { user, password }),
        (None, None, None) => return None,
        (Some(_), _, _) => "set either `token` or `user` and `password`, not both",
        (None, Some(_), None) => "`user` needs a `password`",
        (None, None, Some(_)) => "`password` needs a `user`",
    };
    let message = format!("destination `{}` (kind ntfy): {problem}", fields.name);
    fields.problem(Problem::new(None, message));
    None
}

fn parse_priority(value: &str) -> Option<u8> {
    Some(match value.trim().to_ascii_lowercase().as_str() {
        "1" | "min" => 1,
        "2" | "low" => 2,
        "3" | "default" => 3,
        "4" | "high" => 4,
        "5" | "max" | "urgent" => 5,
        _ => return None,
    })
}

/// An error pops over, a critical one rings like an alarm; the rest stay quiet.
fn level_priority(level: Level) -> u8 {
    match level {
        Level::Info | Level::Success => 3,
        Level::Warning | Level::Error => 4,
        Level::Critical => 5,
    }
}

/// Tags that are emoji shortcodes show as that emoji before the title.
fn level_tag(level: Level) -> Option<&'static str> {
    match level {
        Level::Info => None,
        Level::Success => Some("white_check_mark"),
        Level::Warning => Some("warning"),
        Level::Error => Some("x"),
        Level::Critical => Some("rotating_light"),
    }
}

impl Platform for Ntfy {
    fn kind(&self) -> &'static str {
        "ntfy"
    }

    fn markup(&self) -> Escape {
        if self.markdown { escape } else { plain }
    }

    /// A topic is the whole destination, so `--channel` has nothing to pick.
    fn render(&self, message: &Message, _target: &Target) -> Vec<Payload> {
        let whole_title = message.title.as_deref().map(str::trim).unwrap_or_default();
        let (short_title, title_cut) = cut(whole_title, TITLE_MAX, Measure::Bytes);
        let mut bodies = bodies(message, self.markdown, title_cut.then_some(whole_title));
        let mut title = short_title.as_str();
        // ntfy shows "triggered" for an empty body: a title alone is the message.
        if bodies.iter().all(String::is_empty) && !title.is_empty() {
            bodies = vec![(self.markup())(title)];
            title = "";
        }
        let count = bodies.len();
        let priority = self
            .priority
            .unwrap_or_else(|| level_priority(message.level));
        let tags: Vec<&str> = level_tag(message.level)
            .into_iter()
            .chain(self.tags.iter().map(String::as_str))
            .collect();
        let mut payloads: Vec<Payload> = bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                let title = match count {
                    1 => title.to_owned(),
                    _ => format!("{title} ({}/{count})", i + 1).trim().to_owned(),
                };
                let mut headers = Vec::new();
                if !title.is_empty() {
                    headers.push(("x-title".to_owned(), header_value(&title)));
                }
                headers.push(("x-priority".to_owned(), priority.to_string()));
                if !tags.is_empty() {
                    headers.push(("x-tags".to_owned(), header_value(&tags.join(","))));
                }
                if let Some(link) = message.links.first().filter(|l| l.url.len() <= CLICK_MAX) {
                    headers.push(("x-click".to_owned(), header_value(&link.url)));
                }
                if self.markdown {
                    headers.push(("x-markdown".to_owned(), "yes".to_owned()));
                }
                Payload {
                    body,
                    headers,
                    op: String::new(),
                    thread: None,
                    secrets: Vec::new(),
                    files: Vec::new(),
                }
            })
            .collect();
        payloads.extend(
            message
                .files
                .iter()
                .map(|file| attachment(file, title, priority)),
        );
        attach_urls(&mut payloads, &message.file_urls, title, priority);
        payloads
    }

    fn schedules(&self) -> Option<Schedules> {
        Some(Schedules {
            min: SCHEDULE_MIN,
            max: SCHEDULE_MAX,
            holder: "the ntfy server",
        })
    }

    /// `At: <seconds since the epoch>`: ntfy keeps the message until then.
    /// An upload is not scheduled, so that a file never waits on the
    /// server's attachment cache, which may expire it first.
    fn schedule(&self, payload: &Payload, post_at: u64) -> Result<Payload, String> {
        if !payload.files.is_empty() {
            return Err("a file is not scheduled on the ntfy server".into());
        }
        let mut scheduled = payload.clone();
        scheduled
            .headers
            .push(("at".to_owned(), post_at.to_string()));
        Ok(scheduled)
    }

    /// `Attach: URL`: ntfy shows the file at the URL as the message's attachment.
    fn attaches_urls(&self) -> bool {
        true
    }

    /// Buttons are `http` actions that publish the answer to a reply topic,
    /// which chime subscribes to.
    fn asking(&self) -> Result<crate::kinds::Asking, String> {
        Ok(crate::kinds::Asking::Ntfy {
            url: self.url.clone(),
            auth: self.auth.as_ref().map(Auth::header),
            reply_topic: self.reply_topic.clone(),
        })
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        let mut request = HttpRequest::post(self.url.clone(), payload, "text/plain; charset=utf-8");
        if let (ATTACH, Some(file)) = (payload.op.as_str(), payload.files.first()) {
            request.method = reqwest::Method::PUT;
            request = request.uploading(Upload::Raw(file.clone()));
        }
        match &self.auth {
            Some(auth) => request.header("authorization", auth.header()),
            None => request,
        }
    }

    /// ntfy.sh's `attachment-file-size-limit`, also its server default (§9);
    /// a server set up otherwise answers 413, and `max_file_size` says so.
    fn file_limit(&self) -> Option<u64> {
        Some(ATTACHMENT_LIMIT)
    }

    /// `markdown` is shown even when unset: a reader wondering why `**bold**`
    /// arrives as typed should see that it is off.
    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![("url", self.url.to_string().into())];
        if let Some(auth) = &self.auth {
            auth.describe(&mut out);
        }
        if let Some(priority) = self.priority {
            out.push(("priority", i64::from(priority).into()));
        }
        if !self.tags.is_empty() {
            out.push(("tags", self.tags.join(",").into()));
        }
        out.push(("markdown", self.markdown.into()));
        if let Some(topic) = &self.reply_topic {
            out.push(("reply_topic", topic.as_str().into()));
        }
        out
    }

    /// A visitor's bucket of 60 requests refills one every 5 s (PLATFORMS.md
    /// §9): past the first burst, that is the rate a stream can keep.
    fn pace(&self) -> Duration {
        Duration::from_secs(5)
    }

    /// For `chime pipe`: a body holds 4,096 bytes; escaping and the code fence take the rest.
    fn batch_limit(&self) -> usize {
        3500
    }

    fn measure(&self) -> crate::kinds::text::Measure {
        crate::kinds::text::Measure::Bytes
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        if answer.status == 200 && body["id"].is_string() {
            let field = |key: &str| body[key].as_str().map(str::to_owned);
            return Verdict::Delivered {
                channel: field("topic"),
                ts: field("id"),
            };
        }
        let Some(text) = body["error"].as_str() else {
            return classify_http(answer).unwrap_or_else(|| Verdict::Rejected {
                error: format!("{} (not an ntfy answer)", answer.status),
                hint: Some("check `url`: it must be an ntfy server followed by a topic".into()),
            });
        };
        let code = body["code"].as_u64().unwrap_or_default();
        let error = format!("{} {text} (ntfy {code})", answer.status);
        match answer.status {
            // A daily quota (42908 messages, 42905 attachment bandwidth): no
            // retry before it resets helps, so the message waits in the spool.
            429 if matches!(code, 42905 | 42908) => Verdict::Retry {
                after: Some(until_quota_resets(std::time::SystemTime::now())),
                error: format!(
                    "{error}; ntfy resets daily quotas at 00:00 UTC, chime tries again then"
                ),
            },
            429 | 408 | 500..=599 => Verdict::Retry {
                after: answer.retry_after,
                error,
            },
            status => Verdict::Rejected {
                error,
                hint: hint(status, code).map(str::to_owned),
            },
        }
    }
}

/// How long from `now` until ntfy's daily quotas have reset.
/// Files already online: the first is the first message's `Attach`, each
/// other one a message of its own naming it (§9: one attachment a message).
fn attach_urls(payloads: &mut Vec<Payload>, urls: &[Link], title: &str, priority: u8) {
    for (i, url) in urls.iter().enumerate() {
        let name = url.label.trim_start_matches("📎 ");
        let attach = [
            ("x-attach".to_owned(), header_value(&url.url)),
            ("x-filename".to_owned(), header_value(name)),
        ];
        match payloads.first_mut().filter(|_| i == 0) {
            Some(first) => first.headers.extend(attach),
            None => {
                let mut headers = attach.to_vec();
                headers.push(("x-priority".to_owned(), priority.to_string()));
                if !title.is_empty() {
                    headers.push(("x-title".to_owned(), header_value(title)));
                }
                payloads.push(Payload {
                    body: url.label.clone(),
                    headers,
                    ..Payload::json(&Value::Null)
                });
            }
        }
    }
}

/// The operation of a part that is a file: a `PUT` of its bytes (§9).
const ATTACH: &str = "attach";
/// The default `attachment-file-size-limit`, "15M" (§9).
const ATTACHMENT_LIMIT: u64 = 15 << 20;

/// A file as its own ntfy message: its bytes the body, its name in
/// `Filename`, its title (or name and size) as the message.
fn attachment(file: &FileRef, title: &str, priority: u8) -> Payload {
    let message = file.title.clone().unwrap_or_else(|| file.described());
    let mut headers = vec![
        ("filename".to_owned(), header_value(&file.name)),
        ("x-message".to_owned(), header_value(&message)),
        ("x-priority".to_owned(), priority.to_string()),
    ];
    if !title.is_empty() {
        headers.push(("x-title".to_owned(), header_value(title)));
    }
    Payload {
        body: String::new(),
        headers,
        op: ATTACH.to_owned(),
        thread: None,
        secrets: Vec::new(),
        files: vec![file.clone()],
    }
}

fn until_quota_resets(now: std::time::SystemTime) -> Duration {
    const DAY: u64 = 86_400;
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let into_day = (secs + DAY - QUOTA_RESET_SECS_OF_DAY) % DAY;
    Duration::from_secs(DAY - into_day) + QUOTA_RESET_MARGIN
}

/// What the user can do about ntfy's refusals (§9).
fn hint(status: u16, code: u64) -> Option<&'static str> {
    Some(match (status, code) {
        (401, _) => {
            "ntfy did not accept the credentials: check `token` (an access token, tk_…, from the web app's Account page) or `user` and `password`"
        }
        (403, _) => {
            "the topic is protected: set `token`, or `user` and `password`, of an account allowed to publish to it"
        }
        (_, 40009) | (404, _) => {
            "check `url`: the server followed by a topic of letters, digits, - and _ (e.g. https://ntfy.sh/ops-alerts)"
        }
        (_, 40007) => "check `priority`: 1–5, or min, low, default, high, max, urgent",
        (400 | 413, _) => {
            "ntfy refused the message chime built: please report this with the output of --dry-run"
        }
        _ => return None,
    })
}

/// A URL that cannot end the Markdown link early.
pub(super) fn link_target(url: &str) -> String {
    url.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
        .replace('<', "%3C")
        .replace('>', "%3E")
}

/// A header value as ASCII: as it is when it can be, else RFC 2047 encoded words.
fn header_value(value: &str) -> String {
    let plain = value.bytes().all(|b| (0x20..0x7f).contains(&b)) && !value.contains("=?");
    if plain {
        return value.to_owned();
    }
    // Words of at most 45 bytes of text keep each encoded word within RFC 2047's 75.
    let mut words = Vec::new();
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if i + c.len_utf8() - start > 45 {
            words.push(&value[start..i]);
            start = i;
        }
    }
    words.push(&value[start..]);
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", base64(w.as_bytes())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Standard base64 with padding (RFC 4648 §4), for Basic auth and encoded words.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::body::{pieces, unescape};
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in vectors {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn markdown_escaping_covers_inline_and_line_start_markup() {
        assert_eq!(
            escape("a <b> & *c* _d_ [e](f) `g`"),
            r"a \<b\> \& \*c\* \_d\_ \[e\](f) \`g\`"
        );
        assert_eq!(
            escape("# h\n- item\n  1. one\nx-y 2.5"),
            "\\# h\n\\- item\n  1\\. one\nx-y 2.5"
        );
    }

    #[test]
    fn unescape_restores_the_text_exactly() {
        let text = r"C:\path\*.rs <a> & `x` # y";
        assert_eq!(unescape(&escape(text)), text);
    }

    #[test]
    fn a_piece_never_ends_in_a_lone_backslash() {
        let text = format!("{}\\*", "x".repeat(99));
        let pieces = pieces(&text, 101);
        assert_eq!(pieces.concat(), text);
        assert!(pieces.iter().all(|p| !p.ends_with('\\')), "{pieces:?}");
    }

    #[test]
    fn non_ascii_headers_become_encoded_words_within_75_characters() {
        assert_eq!(header_value("Backup done"), "Backup done");
        assert_eq!(
            header_value("Sauvegarde réussie"),
            "=?UTF-8?B?U2F1dmVnYXJkZSByw6l1c3NpZQ==?="
        );
        for word in header_value(&"é".repeat(100)).split(' ') {
            assert!(word.len() <= 75, "{word}");
        }
    }
}
