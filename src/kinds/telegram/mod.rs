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
//!
//! The parts: `render` lays a message out as the text of each part, `html`
//! escapes, measures and splits Telegram's HTML, `answer` reads the Bot API's
//! answers. Addressing, replies and edits, and the profile's table stay here.

mod answer;
/// Shared with `matrix`, whose `formatted_body` is HTML too.
pub(in crate::kinds) mod html;
mod render;

use std::time::Duration;

use serde_json::{Value, json};

use crate::fields::{Fields, Problem};
use crate::kinds::files::FormPart;
use crate::kinds::text::{Measure, cut};
use crate::kinds::{
    Answer, HttpRequest, JSON_UTF8, Payload, Platform, Posted, Target, Threading, Verdict,
};
use crate::kinds::{FileRef, Upload};
use crate::message::Message;
use crate::secret::Secret;
use crate::template::Escape;

use html::escape;

const DEFAULT_API_URL: &str = "https://api.telegram.org";

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

/// A chat or message ID for a request: a numeric one goes as a number, as the
/// Bot API documents it.
fn id_value(id: &str) -> Value {
    id.parse::<i64>()
        .map_or_else(|_| Value::from(id), Value::from)
}

/// A bot uploads files of up to 50 MB (§5.6); more is "file is too big".
const DOCUMENT_LIMIT: u64 = 50 << 20;
/// A photo may be 10 MB; a larger picture goes as a document (§5.6).
const PHOTO_LIMIT: u64 = 10 << 20;
/// A caption holds 1,024 characters after entity parsing (§5.6).
const CAPTION_MAX: usize = 1024;

impl Telegram {
    /// `sendDocument` of `file` to `chat`, its title the caption, in the
    /// destination's topic; a reply under a thread key, as text is.
    fn document(&self, chat: &Value, file: &FileRef) -> Payload {
        let mut body = json!({"chat_id": chat, "parse_mode": "HTML"});
        if let Some(title) = &file.title {
            let (caption, _) = cut(title, CAPTION_MAX, Measure::Chars);
            body["caption"] = escape(&caption).into();
        }
        if let Some(thread) = self.thread {
            body["message_thread_id"] = thread.into();
        }
        // A picture asked for (`--photo`) and small enough goes as a photo.
        let photo = file.as_photo && file.size <= PHOTO_LIMIT;
        Payload {
            op: if photo { "sendPhoto" } else { "sendDocument" }.into(),
            ..Payload::json(&body)
        }
        .with_files(std::slice::from_ref(file))
    }
}

/// A `sendDocument` (or `sendPhoto`) as a form: each parameter a field
/// (objects as JSON), then the file as `document` (or `photo`).
fn document_form(payload: &Payload, file: &FileRef) -> Upload {
    let body: Value = serde_json::from_str(&payload.body).unwrap_or(Value::Null);
    let mut parts: Vec<FormPart> = body
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            FormPart::text(key, Secret::public(&text))
        })
        .collect();
    let field = match payload.op.as_str() {
        "sendPhoto" => "photo",
        _ => "document",
    };
    parts.push(FormPart::file(field, file));
    Upload::form(parts)
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
        let chat = id_value(target.channel.as_deref().unwrap_or(&self.chat_id));
        let documents = message.files.iter().map(|file| self.document(&chat, file));
        let texts = render::parts(message).into_iter().map(|text| {
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
        });
        // A message of files alone needs no text before them.
        let files_alone =
            message.text.trim().is_empty() && message.title.is_none() && !message.files.is_empty();
        match files_alone {
            true => documents.collect(),
            false => texts.chain(documents).collect(),
        }
    }

    /// Telegram parses the HTML and refuses the message when tags do not
    /// nest: a template's stray `</b>` is its own, not chime's to repair.
    fn refusal(&self, payload: &Payload) -> Option<String> {
        let body: serde_json::Value = serde_json::from_str(&payload.body).ok()?;
        let why = html::nesting_error(body["text"].as_str()?)?;
        Some(format!("Telegram refuses its HTML: {why}"))
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
        let request = HttpRequest::post(url, payload, JSON_UTF8);
        match payload.files.first() {
            Some(file) => request.uploading(document_form(payload, file)),
            None => request,
        }
    }

    /// What a bot may upload (§5.6).
    fn file_limit(&self) -> Option<u64> {
        Some(DOCUMENT_LIMIT)
    }

    /// `--thread KEY` replies to the first message posted under KEY.
    fn threading(&self) -> Threading {
        Threading::ByMessage
    }

    fn edits(&self) -> bool {
        true
    }

    /// Buttons are an inline keyboard; clicks come by `getUpdates`.
    fn asking(&self) -> Result<crate::kinds::Asking, String> {
        Ok(crate::kinds::Asking::Telegram)
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
        fields.insert("chat_id".into(), id_value(&parent.channel));
        // A document is never an edit of text: it goes as a reply.
        let op = if thread.edit && payload.op.is_empty() {
            fields.remove("message_thread_id");
            fields.insert("message_id".into(), id_value(&parent.ts));
            "editMessageText"
        } else {
            let reply =
                json!({"message_id": id_value(&parent.ts), "allow_sending_without_reply": true});
            fields.insert("reply_parameters".into(), reply);
            payload.op.as_str()
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

    fn measure(&self) -> Measure {
        Measure::Utf16
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        answer::classify(answer)
    }
}
