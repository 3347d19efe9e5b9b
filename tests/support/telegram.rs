//! A stand-in for the Telegram Bot API's `sendMessage` and `editMessageText` (PLATFORMS.md
//! §5), mounted on the test bed under `/telegram/`, so a profile's `api_url` is
//! `{bed}/telegram`. Replies name their parent in `reply_parameters`; an edit of a message
//! that is gone answers 400 `message to edit not found`, and one that changes nothing 400
//! `message is not modified`, as the Bot API does.
//!
//! It owns what Telegram checks: the token in the path (malformed: 401 `invalid token
//! specified`; unknown: 401), the method name (case-insensitive), the chat (by ID or
//! `@username`; blocked, kicked or migrated), the forum topic, the HTML parse mode (only
//! Telegram's tags; entities `&lt;` `&gt;` `&amp;` `&quot;` and numeric), and the 4096-character
//! limit counted on the text after entity parsing, in code points as TDLib counts them.
//! Answers are `{"ok": …}` JSON with the HTTP status equal to `error_code`; flood control is
//! 429 with `Retry-After` and `parameters.retry_after`.
//!
//! For questions with buttons it also owns each message's inline keyboard (`keyboard.rs`:
//! `reply_markup` on sendMessage, editMessageText and editMessageReplyMarkup; an edit
//! without one removes it, as Telegram does), `getMe`, and what comes back from people
//! (`updates.rs`: getUpdates long polls, webhooks, callback queries and their answers).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::bed::{Answer, Request, Surface};
use super::multipart;

mod keyboard;
mod updates;

pub use keyboard::Keyboard;

pub const PREFIX: &str = "/telegram/";
const NOT_MODIFIED: &str = "Bad Request: message is not modified: specified new message content \
                            and reply markup are exactly the same as a current content and reply \
                            markup of the message";
/// What a bot may upload (§5.6).
const DOCUMENT_MAX: usize = 50 << 20;
/// A photo's limit (§5.6).
const PHOTO_MAX: usize = 10 << 20;
const TEXT_MAX: usize = 4096;
impl Posted {
    fn set_keyboard(&mut self, keyboard: Keyboard) {
        self.keyboard = keyboard.pairs();
        self.markup = keyboard;
    }
}

/// The Bot API server refuses longer text before parsing it (§5.1).
const RAW_MAX: usize = 32_768;
const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
];

/// How the bot stands in a chat.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Standing {
    Member,
    /// A private chat whose user blocked the bot.
    Blocked,
    /// A group that removed the bot.
    Kicked,
    /// A group upgraded to a supergroup with this new ID.
    Migrated(i64),
}

#[derive(Clone)]
struct Chat {
    id: i64,
    username: Option<String>,
    standing: Standing,
    topics: Vec<i64>,
}

/// One message Telegram would have posted.
#[derive(Clone, Debug)]
pub struct Posted {
    /// Its `message_id`: its position in [`Telegram::posted`], counting from 1.
    pub id: i64,
    pub chat_id: i64,
    pub thread: Option<i64>,
    /// The text as sent, with its HTML.
    pub html: String,
    /// The text after entity parsing: what a reader sees.
    pub text: String,
    /// The message this one replies to (`reply_parameters.message_id`).
    pub reply_to: Option<i64>,
    /// How many times it was edited.
    pub edits: usize,
    pub deleted: bool,
    /// A `sendDocument`'s file: its name and bytes (its caption is `text`).
    pub document: Option<(String, Vec<u8>)>,
    /// It came by `sendPhoto`.
    pub photo: bool,
    /// The inline keyboard it shows now: (text, callback_data) per button, by row; a
    /// button of another kind (a URL) has empty data. Empty: no buttons.
    pub keyboard: Vec<Vec<(String, String)>>,
    /// The same keyboard as Telegram echoes it in the message's `reply_markup`.
    pub markup: Keyboard,
    /// Unix seconds when it was sent.
    pub date: i64,
}

#[derive(Default)]
struct State {
    tokens: Vec<String>,
    chats: Vec<Chat>,
    posted: Vec<Posted>,
    updates: updates::Updates,
}

impl State {
    /// The bot's user ID: the digits of its first token, as Telegram's tokens begin.
    fn bot_id(&self) -> i64 {
        let token = self.tokens.first().map_or("", String::as_str);
        token
            .split(':')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or(1)
    }
}

#[derive(Default)]
pub struct Telegram {
    state: Mutex<State>,
    /// Wakes a waiting getUpdates: an update came, or another request ended its wait.
    woken: Condvar,
}

const BOT_NAME: &str = "Chime Bed";
const BOT_USERNAME: &str = "chime_bed_bot";

fn now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map_or(0, |d| d.as_secs() as i64)
}

/// `message` as the Bot API shows a bot's text message (`JsonMessage`): in a send's or an
/// edit's result and in a callback query.
fn message_json(message: &Posted, bot_id: i64) -> Value {
    let id = message.chat_id;
    let chat = if id < 0 {
        json!({"id": id, "type": "supergroup", "title": "Bed Group"})
    } else {
        json!({"id": id, "type": "private", "first_name": "Tester"})
    };
    let from = json!({"id": bot_id, "is_bot": true, "first_name": BOT_NAME,
                      "username": BOT_USERNAME});
    let mut shown = json!({"message_id": message.id, "from": from, "chat": chat,
                           "date": message.date, "text": message.text});
    if message.edits > 0 {
        shown["edit_date"] = now().max(message.date).into();
    }
    if let Some(thread) = message.thread {
        shown["message_thread_id"] = thread.into();
    }
    if let Some(markup) = message.markup.markup() {
        shown["reply_markup"] = markup;
    }
    shown
}

impl Telegram {
    pub fn new() -> Arc<Telegram> {
        Arc::new(Telegram::default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>, left: Duration) -> MutexGuard<'a, State> {
        let waited = self.woken.wait_timeout(state, left);
        waited.unwrap_or_else(PoisonError::into_inner).0
    }

    /// Makes `token` a valid bot token.
    pub fn add_token(&self, token: &str) {
        self.lock().tokens.push(token.to_owned());
    }

    /// Adds a chat the bot is a member of, found by `id` or `@username`.
    pub fn add_chat(&self, id: i64, username: Option<&str>) {
        self.lock().chats.push(Chat {
            id,
            username: username.map(|u| u.trim_start_matches('@').to_owned()),
            standing: Standing::Member,
            topics: vec![],
        });
    }

    /// Adds forum topic `thread` to chat `id`.
    pub fn add_topic(&self, id: i64, thread: i64) {
        let mut state = self.lock();
        let chat = state.chats.iter_mut().find(|c| c.id == id).expect("a chat");
        chat.topics.push(thread);
    }

    pub fn set_standing(&self, id: i64, standing: Standing) {
        let mut state = self.lock();
        let chat = state.chats.iter_mut().find(|c| c.id == id).expect("a chat");
        chat.standing = standing;
    }

    /// Every message posted so far, in order (as edited since); its `message_id` is its
    /// position, counting from 1.
    pub fn posted(&self) -> Vec<Posted> {
        self.lock().posted.clone()
    }

    /// Someone deleted every message posted so far.
    pub fn delete_messages(&self) {
        self.lock().posted.iter_mut().for_each(|p| p.deleted = true);
    }

    fn send_message(
        &self,
        request: &Request,
        limit: &mut dyn FnMut(&str) -> Result<(), u64>,
        edit: bool,
    ) -> Answer {
        let params: Value = serde_json::from_slice(&request.body).unwrap_or(json!({}));
        let chat = match &params["chat_id"] {
            Value::Null => return fail(400, "Bad Request: chat_id is empty"),
            Value::String(s) if s.is_empty() => return fail(400, "Bad Request: chat_id is empty"),
            wanted => self.chat(wanted),
        };
        let Some(chat) = chat else {
            return fail(400, "Bad Request: chat not found");
        };
        if let Err(secs) = limit(&format!("telegram {}", chat.id)) {
            return self.throttled(secs);
        }
        match chat.standing {
            Standing::Member => {}
            Standing::Blocked => return fail(403, "Forbidden: bot was blocked by the user"),
            Standing::Kicked => return fail(403, "Forbidden: bot was kicked from the group chat"),
            Standing::Migrated(new_id) => {
                let body = json!({"ok": false, "error_code": 400,
                    "description": "Bad Request: group chat was upgraded to a supergroup chat",
                    "parameters": {"migrate_to_chat_id": new_id}});
                return Answer::json_status(400, &body);
            }
        }
        let thread = params["message_thread_id"].as_i64();
        if !edit && thread.is_some_and(|t| !chat.topics.contains(&t)) {
            return fail(400, "Bad Request: message thread not found");
        }
        let html = params["text"].as_str().unwrap_or_default();
        if html.len() > RAW_MAX {
            return fail(400, "Bad Request: text is too long");
        }
        let text = match params["parse_mode"].as_str() {
            None => html.to_owned(),
            Some(mode) if mode.eq_ignore_ascii_case("html") => match parse_html(html) {
                Ok(text) => text,
                Err(why) => return fail(400, &format!("Bad Request: can't parse entities: {why}")),
            },
            Some(_) => return fail(400, "Bad Request: unsupported parse_mode"),
        };
        if text.trim().is_empty() {
            return fail(400, "Bad Request: message text is empty");
        }
        if text.chars().count() > TEXT_MAX {
            return fail(400, "Bad Request: message is too long");
        }
        let mut state = self.lock();
        let exists = |state: &State, id: i64| {
            let index = usize::try_from(id).ok().and_then(|i| i.checked_sub(1));
            index
                .and_then(|i| state.posted.get(i))
                .is_some_and(|p| p.chat_id == chat.id && !p.deleted)
        };
        if edit {
            let id = params["message_id"].as_i64().unwrap_or(0);
            if !exists(&state, id) {
                return fail(400, "Bad Request: message to edit not found");
            }
            let keyboard = match keyboard::parse(&params["reply_markup"]) {
                Ok(keyboard) => keyboard,
                Err(why) => return fail(400, &why),
            };
            let bot_id = state.bot_id();
            let message = &mut state.posted[id as usize - 1];
            // An edit without `reply_markup` removes the keyboard: only text and markup
            // both unchanged is no change.
            if message.html == html && message.markup == keyboard {
                return fail(400, NOT_MODIFIED);
            }
            message.html = html.to_owned();
            message.text = text.clone();
            message.set_keyboard(keyboard);
            message.edits += 1;
            let shown = message_json(message, bot_id);
            return Answer::json(&json!({"ok": true, "result": shown})).delivered();
        }
        let keyboard = match keyboard::parse(&params["reply_markup"]) {
            Ok(keyboard) => keyboard,
            Err(why) => return fail(400, &why),
        };
        let reply = &params["reply_parameters"];
        let reply_to = reply["message_id"].as_i64();
        let lenient = reply["allow_sending_without_reply"] == Value::Bool(true);
        if let Some(id) = reply_to
            && !lenient
            && !exists(&state, id)
        {
            return fail(400, "Bad Request: message to be replied not found");
        }
        let reply_to = reply_to.filter(|id| exists(&state, *id));
        let mut posted = Posted {
            chat_id: chat.id,
            thread,
            html: html.to_owned(),
            text: text.clone(),
            reply_to,
            edits: 0,
            deleted: false,
            document: None,
            photo: false,
            keyboard: vec![],
            markup: Keyboard::default(),
            date: now(),
            id: state.posted.len() as i64 + 1,
        };
        posted.set_keyboard(keyboard);
        let shown = message_json(&posted, state.bot_id());
        state.posted.push(posted);
        Answer::json(&json!({"ok": true, "result": shown})).delivered()
    }

    /// `editMessageReplyMarkup`: the keyboard alone; without `reply_markup`, none.
    fn edit_markup(&self, request: &Request) -> Answer {
        let params = updates::params(request);
        let Some(chat) = self.chat(&params["chat_id"]) else {
            return fail(400, "Bad Request: chat not found");
        };
        let keyboard = match keyboard::parse(&params["reply_markup"]) {
            Ok(keyboard) => keyboard,
            Err(why) => return fail(400, &why),
        };
        let id = updates::integer(&params["message_id"]).unwrap_or(0);
        let mut state = self.lock();
        let bot_id = state.bot_id();
        let index = usize::try_from(id - 1).ok();
        let message = index.and_then(|i| state.posted.get_mut(i));
        let Some(message) = message.filter(|m| m.chat_id == chat.id && !m.deleted) else {
            return fail(400, "Bad Request: message to edit not found");
        };
        if message.markup == keyboard {
            return fail(400, NOT_MODIFIED);
        }
        message.set_keyboard(keyboard);
        message.edits += 1;
        let shown = message_json(message, bot_id);
        Answer::json(&json!({"ok": true, "result": shown})).delivered()
    }

    /// `getMe` (`JsonUser` with full bot info).
    fn get_me(&self) -> Answer {
        let id = self.lock().bot_id();
        let me = json!({"id": id, "is_bot": true, "first_name": BOT_NAME,
            "username": BOT_USERNAME, "can_join_groups": true,
            "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false});
        Answer::json(&json!({"ok": true, "result": me}))
    }

    /// The token checked and the method named by `request`'s path, or the refusal.
    fn method<'a>(&self, request: &'a Request) -> Result<&'a str, Answer> {
        let rest = request.path.strip_prefix(PREFIX).unwrap_or_default();
        let Some((token, method)) = rest.strip_prefix("bot").and_then(|r| r.split_once('/')) else {
            return Err(fail(404, "Not Found"));
        };
        if !well_formed(token) {
            return Err(fail(401, "Unauthorized: invalid token specified"));
        }
        if !self.lock().tokens.iter().any(|t| t == token) {
            return Err(fail(401, "Unauthorized"));
        }
        Ok(method)
    }

    /// `sendDocument` (`sendPhoto`) as a form (§5.6): the parameters as
    /// fields, the file as `field`, at most `max`; the caption checked as a
    /// text is, within 1,024 characters.
    fn send_document(
        &self,
        request: &Request,
        limit: &mut dyn FnMut(&str) -> Result<(), u64>,
        field: &str,
        max: usize,
    ) -> Answer {
        let content_type = request.header("content-type").unwrap_or("");
        let Ok(parts) = multipart::parse(content_type, &request.body) else {
            return fail(400, "Bad Request: there is no document in the request");
        };
        let Some(document) = parts
            .iter()
            .find(|p| p.name == field && p.filename.is_some())
        else {
            return fail(400, "Bad Request: there is no document in the request");
        };
        if document.data.len() > max {
            return fail(400, "Bad Request: file is too big");
        }
        let mut params = serde_json::Map::new();
        for part in parts.iter().filter(|p| p.name != field) {
            let value =
                serde_json::from_slice(&part.data).unwrap_or_else(|_| Value::String(part.text()));
            params.insert(part.name.clone(), value);
        }
        if let Some(id) = params.get("chat_id").and_then(Value::as_i64) {
            params.insert("chat_id".into(), json!(id));
        }
        let caption = params
            .remove("caption")
            .and_then(|c| c.as_str().map(str::to_owned));
        params.insert(
            "text".into(),
            json!(caption.clone().unwrap_or_else(|| "document".into())),
        );
        let shown = Request {
            body: Value::Object(params).to_string().into_bytes(),
            ..request.clone()
        };
        let answer = self.send_message(&shown, limit, false);
        let mut state = self.lock();
        if let Some(posted) = state.posted.last_mut().filter(|_| answer.status == 200) {
            let name = document.filename.clone().unwrap_or_default();
            posted.document = Some((name, document.data.clone()));
            posted.photo = field == "photo";
            if caption.is_none() {
                (posted.html, posted.text) = (String::new(), String::new());
            }
        }
        answer
    }

    fn chat(&self, wanted: &Value) -> Option<Chat> {
        let state = self.lock();
        let found = |chat: &&Chat| match wanted {
            Value::Number(n) => n.as_i64() == Some(chat.id),
            Value::String(s) => match s.strip_prefix('@') {
                Some(name) => chat.username.as_deref() == Some(name),
                None => s.parse::<i64>().ok() == Some(chat.id),
            },
            _ => false,
        };
        state.chats.iter().find(found).cloned()
    }
}

impl Surface for Telegram {
    fn answer(&self, request: &Request, limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        let method = match self.method(request) {
            Ok(method) => method.to_ascii_lowercase(),
            Err(refused) => return refused,
        };
        match method.as_str() {
            "sendmessage" => self.send_message(request, limit, false),
            "editmessagetext" => self.send_message(request, limit, true),
            "editmessagereplymarkup" => self.edit_markup(request),
            "senddocument" => self.send_document(request, limit, "document", DOCUMENT_MAX),
            "sendphoto" => self.send_document(request, limit, "photo", PHOTO_MAX),
            "getme" => self.get_me(),
            "answercallbackquery" => self.answer_callback(request),
            "setwebhook" => self.set_webhook_method(request, false),
            "deletewebhook" => self.set_webhook_method(request, true),
            "getwebhookinfo" => self.webhook_info(),
            _ => fail(404, "Not Found: method not found"),
        }
    }

    /// getUpdates waits for updates without holding the bed.
    fn answer_unlocked(
        &self,
        request: &Request,
        _limit: &mut dyn FnMut(&str) -> Result<(), u64>,
    ) -> Option<Answer> {
        let method = self.method(request).ok()?;
        method
            .eq_ignore_ascii_case("getUpdates")
            .then(|| self.get_updates(request))
    }

    fn throttled(&self, secs: u64) -> Answer {
        let body = json!({"ok": false, "error_code": 429,
            "description": format!("Too Many Requests: retry after {secs}"),
            "parameters": {"retry_after": secs}});
        Answer::json_status(429, &body).retry_after(secs)
    }
}

fn fail(code: u16, description: &str) -> Answer {
    Answer::json_status(
        code,
        &json!({"ok": false, "error_code": code, "description": description}),
    )
}

/// `<bot id>:<secret>`, as BotFather hands them out.
fn well_formed(token: &str) -> bool {
    token.split_once(':').is_some_and(|(id, secret)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && !secret.is_empty()
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// The text a reader sees, or the parse error in TDLib's words.
pub fn parse_html(html: &str) -> Result<String, String> {
    let mut text = String::new();
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        if rest.starts_with('<') {
            let Some(end) = rest.find('>') else {
                return Err(format!("Unclosed start tag at byte offset {i}"));
            };
            let inner = &rest[1..end];
            if let Some(name) = inner.strip_prefix('/') {
                let name = name.trim().to_ascii_lowercase();
                match open.pop() {
                    Some(top) if top == name => {}
                    Some(top) => {
                        return Err(format!(
                            "Unmatched end tag at byte offset {i}, expected \"</{top}>\", found \"</{name}>\""
                        ));
                    }
                    None => return Err(format!("Unexpected end tag at byte offset {i}")),
                }
            } else {
                let name = inner
                    .split(char::is_whitespace)
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if !TAGS.contains(&name.as_str()) {
                    return Err(format!(
                        "Unsupported start tag \"{name}\" at byte offset {i}"
                    ));
                }
                open.push(name);
            }
            i += end + 1;
        } else if rest.starts_with('&')
            && let Some((c, len)) = entity(rest)
        {
            text.push(c);
            i += len;
        } else {
            let c = rest.chars().next().expect("not at the end");
            text.push(c);
            i += c.len_utf8();
        }
    }
    match open.last() {
        Some(name) => Err(format!(
            "Can't find end tag corresponding to start tag \"{name}\""
        )),
        None => Ok(text),
    }
}

fn entity(s: &str) -> Option<(char, usize)> {
    let end = s.find(';').filter(|end| *end < 12)?;
    let c = match &s[1..end] {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        name => {
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
