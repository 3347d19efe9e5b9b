//! A stand-in for Discord's Execute Webhook (PLATFORMS.md §4), mounted on the bed under
//! `/discord/api/`: webhooks by id and token, the embed and content limits, the form-error
//! bodies in both formats (v8+ for versioned URLs, the legacy one for `/api/webhooks/…`),
//! `wait` and `thread_id`, editing a message the webhook posted (`PATCH …/messages/{id}`,
//! 404 `10008 Unknown Message` for one that is gone), and 429s with a float `retry_after`.
//! Limits are counted in UTF-16
//! units, as chime's kind counts them. Only JSON bodies are understood; Discord also takes
//! forms, which chime never sends.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::bed::{Answer, Bed, Request, Surface};
use super::multipart::{self, Part};

pub const PREFIX: &str = "/discord/api/";

/// The Discord surface; keep the `Arc` to create, delete and inspect webhooks.
#[derive(Default)]
pub struct Discord {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By webhook id.
    hooks: HashMap<String, Hook>,
    next_id: u64,
    /// Messages posted with `wait=true`, by id: the webhook that posted each.
    messages: HashMap<String, String>,
}

struct Hook {
    token: String,
    deleted: bool,
    threads: Vec<String>,
}

/// One form error: where, Discord's error code, and its message.
type FormError = (String, &'static str, String);

impl Discord {
    /// A fresh surface, mounted on `bed`.
    pub fn mount(bed: &Bed) -> Arc<Discord> {
        let discord = Arc::new(Discord::default());
        bed.mount(PREFIX, discord.clone());
        discord
    }

    fn id(name: &str) -> String {
        let digits: u64 = name
            .bytes()
            .fold(7, |h, b| h.wrapping_mul(31) + u64::from(b));
        format!("11{:016}", digits % 10u64.pow(16))
    }

    /// Creates (or revives) webhook `name` and returns its unversioned URL, as Discord's
    /// "Copy Webhook URL" gives it.
    pub fn hook(&self, bed: &Bed, name: &str) -> String {
        let id = Discord::id(name);
        let token = format!("fakediscordtoken-{name}-xxxxxxxxxxxx");
        self.state.lock().unwrap().hooks.insert(
            id.clone(),
            Hook {
                token: token.clone(),
                deleted: false,
                threads: Vec::new(),
            },
        );
        format!("{}{PREFIX}webhooks/{id}/{token}", bed.url())
    }

    /// The same webhook's URL with an API version, whose errors use the v8+ format.
    pub fn versioned(url: &str) -> String {
        url.replacen("/discord/api/webhooks/", "/discord/api/v10/webhooks/", 1)
    }

    /// The webhook now answers 404 Unknown Webhook, as a deleted one does.
    pub fn delete(&self, name: &str) {
        if let Some(hook) = self.state.lock().unwrap().hooks.get_mut(&Discord::id(name)) {
            hook.deleted = true;
        }
    }

    /// Makes `thread` a thread the webhook `name` may post into.
    pub fn add_thread(&self, name: &str, thread: &str) {
        if let Some(hook) = self.state.lock().unwrap().hooks.get_mut(&Discord::id(name)) {
            hook.threads.push(thread.to_owned());
        }
    }

    /// Every message posted so far is deleted: editing one answers 404 Unknown Message.
    pub fn delete_messages(&self) {
        self.state.lock().unwrap().messages.clear();
    }

    fn snowflake(&self) -> String {
        let mut state = self.state.lock().unwrap();
        state.next_id += 1;
        format!("12{:016}", state.next_id)
    }
}

fn error(status: u16, code: u64, message: &str) -> Answer {
    Answer::json_status(status, &json!({"message": message, "code": code}))
}

/// A form error in the format the URL's version gets (§4.2).
fn form_error(versioned: bool, errors: &[FormError]) -> Answer {
    if !versioned {
        let mut body = serde_json::Map::new();
        for (path, _, message) in errors {
            let top = path.split('.').next().unwrap_or(path).to_owned();
            let entry = body.entry(top).or_insert_with(|| json!([]));
            entry.as_array_mut().unwrap().push(message.clone().into());
        }
        return Answer::json_status(400, &Value::Object(body));
    }
    let mut tree = json!({});
    for (path, code, message) in errors {
        let mut node = &mut tree;
        for key in path.split('.') {
            node = node
                .as_object_mut()
                .unwrap()
                .entry(key.to_owned())
                .or_insert_with(|| json!({}));
        }
        let list = node
            .as_object_mut()
            .unwrap()
            .entry("_errors")
            .or_insert_with(|| json!([]));
        list.as_array_mut()
            .unwrap()
            .push(json!({"code": code, "message": message}));
    }
    Answer::json_status(
        400,
        &json!({"code": 50035, "errors": tree, "message": "Invalid Form Body"}),
    )
}

impl Surface for Discord {
    fn answer(&self, request: &Request, limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        let rest = &request.path[PREFIX.len()..];
        // `/api/v10/webhooks/…` or the unversioned `/api/webhooks/…`.
        let (versioned, rest) = match rest.strip_prefix('v').and_then(|r| r.split_once('/')) {
            Some((version, rest)) if version.bytes().all(|b| b.is_ascii_digit()) => (true, rest),
            _ => (false, rest),
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let (id, token, edited) = match segments[..] {
            ["webhooks", id, token] if request.method == "POST" => (id, token, None),
            ["webhooks", id, token, "messages", message] if request.method == "PATCH" => {
                (id, token, Some(message))
            }
            ["webhooks", _, _] | ["webhooks", _, _, "messages", _] => {
                return error(405, 0, "405: Method Not Allowed");
            }
            _ => return error(404, 0, "404: Not Found"),
        };
        let threads = {
            let state = self.state.lock().unwrap();
            match state.hooks.get(id) {
                Some(hook) if hook.deleted => return error(404, 10015, "Unknown Webhook"),
                None => return error(404, 10015, "Unknown Webhook"),
                Some(hook) if hook.token != token => {
                    return error(401, 50027, "Invalid Webhook Token");
                }
                Some(hook) => hook.threads.clone(),
            }
        };
        if let Err(secs) = limit(&format!("discord {id}")) {
            return self.throttled(secs);
        }
        let query = parse_query(request.query.as_deref().unwrap_or(""));
        let wait = query
            .get("wait")
            .is_some_and(|v| matches!(v.as_str(), "true" | "True" | "1"));
        if let Some(thread) = query.get("thread_id") {
            if thread.is_empty() || !thread.bytes().all(|b| b.is_ascii_digit()) {
                let message = format!("Value \"{thread}\" is not snowflake.");
                let errors = [("thread_id".to_owned(), "NUMBER_TYPE_COERCE", message)];
                return form_error(versioned, &errors);
            }
            if !threads.contains(thread) {
                return error(404, 10003, "Unknown Channel");
            }
        }
        let content_type = request.header("content-type").unwrap_or("");
        let (json, files) = match multipart::is_form(content_type) {
            true => match form(request, content_type) {
                Ok(form) => form,
                Err(refused) => return refused,
            },
            false
                if content_type
                    .to_ascii_lowercase()
                    .starts_with("application/json") =>
            {
                (request.body.clone(), Vec::new())
            }
            false => return error(400, 50035, "Invalid Form Body"),
        };
        let message = match serde_json::from_slice::<Value>(&json) {
            Ok(message @ Value::Object(_)) => message,
            _ => return error(400, 50109, "The request body contains invalid JSON."),
        };
        if let Err(refused) = attachments_match(&message, &files) {
            return refused;
        }
        let errors = check(&message);
        if !errors.is_empty() {
            return form_error(versioned, &errors);
        }
        if !shows_something(&message) && files.is_empty() {
            return error(400, 50006, "Cannot send an empty message");
        }
        let message_id = match edited {
            // An edit answers with the message, whatever `wait` says.
            Some(message_id) => {
                let state = self.state.lock().unwrap();
                if state.messages.get(message_id).is_none_or(|hook| hook != id) {
                    return error(404, 10008, "Unknown Message");
                }
                message_id.to_owned()
            }
            None if !wait => return Answer::new(204, "text/plain", "").delivered(),
            None => {
                let message_id = self.snowflake();
                let mut state = self.state.lock().unwrap();
                state.messages.insert(message_id.clone(), id.to_owned());
                message_id
            }
        };
        let posted = json!({
            "id": message_id,
            "type": 0,
            "channel_id": query.get("thread_id").cloned().unwrap_or_else(|| "1300000000000000001".into()),
            "webhook_id": id,
            "content": message["content"].as_str().unwrap_or(""),
            "embeds": message["embeds"].clone(),
            "author": {"id": id, "username": message["username"].as_str().unwrap_or("Captain Hook"), "bot": true},
            "mentions": [],
            "mention_everyone": false,
            "pinned": false,
            "tts": false,
        });
        Answer::json(&posted).delivered()
    }

    /// §4.3: JSON with a float `retry_after`, `Retry-After`, the scope, and a `Via` header
    /// (discord.py treats a 429 without one as a Cloudflare ban).
    fn throttled(&self, secs: u64) -> Answer {
        let body = json!({"message": "You are being rate limited.", "retry_after": secs as f64, "global": false});
        Answer::json_status(429, &body)
            .retry_after(secs)
            .header("x-ratelimit-scope", "user")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset-after", &format!("{secs}.000"))
            .header("via", "1.1 google")
    }
}

/// What a webhook request may carry in all, since January 2025 (§4.5).
pub const UPLOAD_LIMIT: usize = 10 << 20;

/// A form's `payload_json` and its `files[n]` (§4.5); a 413 with code 40005
/// past the upload limit, a 400 for a form Discord cannot read.
fn form(request: &Request, content_type: &str) -> Result<(Vec<u8>, Vec<Part>), Answer> {
    if request.body.len() > UPLOAD_LIMIT {
        return Err(error(413, 40005, "Request entity too large"));
    }
    let parts = multipart::parse(content_type, &request.body)
        .map_err(|_| error(400, 50035, "Invalid Form Body"))?;
    let json = parts
        .iter()
        .find(|p| p.name == "payload_json")
        .map(|p| p.data.clone())
        .unwrap_or_else(|| b"{}".to_vec());
    let files = parts
        .into_iter()
        .filter(|p| p.name.starts_with("files["))
        .collect();
    Ok((json, files))
}

/// Each `files[n]` needs a filename and, when `attachments` is given, the
/// entry whose `id` is n (§4.5); more than ten is refused.
fn attachments_match(message: &Value, files: &[Part]) -> Result<(), Answer> {
    if files.len() > 10 {
        return Err(error(400, 50035, "Invalid Form Body"));
    }
    let listed = message["attachments"].as_array();
    for file in files {
        let n = &file.name["files[".len()..file.name.len() - 1];
        let n: Option<u64> = n.parse().ok();
        let named = listed.is_none_or(|list| list.iter().any(|a| a["id"].as_u64() == n));
        if file.filename.is_none() || !named {
            return Err(error(400, 50035, "Invalid Form Body"));
        }
    }
    Ok(())
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Discord's lengths, after trimming, in UTF-16 units.
fn length(value: &Value) -> usize {
    value
        .as_str()
        .map_or(0, |s| s.trim().encode_utf16().count())
}

fn shows_something(message: &Value) -> bool {
    let content = message["content"]
        .as_str()
        .is_some_and(|c| !c.trim().is_empty());
    let embeds = message["embeds"].as_array().is_some_and(|e| !e.is_empty());
    content || embeds
}

/// Every limit of §4.1 that a payload breaks, as `(path, code, message)`.
pub fn check(message: &Value) -> Vec<FormError> {
    let mut errors = Vec::new();
    let max = |errors: &mut Vec<FormError>, value: &Value, path: String, limit: usize| {
        if length(value) > limit {
            let text = format!("Must be {limit} or fewer in length.");
            errors.push((path, "BASE_TYPE_MAX_LENGTH", text));
        }
    };
    max(&mut errors, &message["content"], "content".into(), 2000);
    if let Some(name) = message["username"].as_str() {
        let lower = name.to_lowercase();
        if name.chars().count() > 80 || lower.contains("clyde") || lower.contains("discord") {
            let text =
                "Username cannot contain \"clyde\" or \"discord\" or be longer than 80".into();
            errors.push(("username".into(), "USERNAME_INVALID", text));
        }
    }
    if let Some(parse) = message["allowed_mentions"]["parse"].as_array() {
        let known = ["roles", "users", "everyone"];
        if parse
            .iter()
            .any(|p| !p.as_str().is_some_and(|p| known.contains(&p)))
        {
            let text = "Value must be one of {'roles', 'users', 'everyone'}.".into();
            errors.push(("allowed_mentions.parse".into(), "ENUM_TYPE_COERCE", text));
        }
    }
    let Some(embeds) = message["embeds"].as_array() else {
        return errors;
    };
    if embeds.len() > 10 {
        let text = "Must be 10 or fewer in length.".into();
        errors.push(("embeds".into(), "BASE_TYPE_MAX_LENGTH", text));
    }
    let mut total = 0;
    for (i, embed) in embeds.iter().enumerate() {
        let at = |key: &str| format!("embeds.{i}.{key}");
        max(&mut errors, &embed["title"], at("title"), 256);
        max(&mut errors, &embed["description"], at("description"), 4096);
        max(
            &mut errors,
            &embed["footer"]["text"],
            at("footer.text"),
            2048,
        );
        max(
            &mut errors,
            &embed["author"]["name"],
            at("author.name"),
            256,
        );
        total += length(&embed["title"])
            + length(&embed["description"])
            + length(&embed["footer"]["text"])
            + length(&embed["author"]["name"]);
        if let Some(colour) = embed.get("color")
            && colour.as_u64().is_none_or(|c| c > 0xFF_FFFF)
        {
            let text = "Int value should be less than or equal to 16777215.".into();
            errors.push((at("color"), "NUMBER_TYPE_MAX", text));
        }
        let fields = embed["fields"].as_array().map_or(&[][..], |f| f);
        if fields.len() > 25 {
            let text = "Must be 25 or fewer in length.".into();
            errors.push((at("fields"), "BASE_TYPE_MAX_LENGTH", text));
        }
        for (j, field) in fields.iter().enumerate() {
            for (key, limit) in [("name", 256), ("value", 1024)] {
                let path = format!("embeds.{i}.fields.{j}.{key}");
                if length(&field[key]) == 0 {
                    errors.push((path, "BASE_TYPE_REQUIRED", "This field is required".into()));
                } else {
                    max(&mut errors, &field[key], path, limit);
                }
                total += length(&field[key]);
            }
        }
    }
    if total > 6000 {
        let text = "Embed size exceeds maximum size of 6000".into();
        errors.push(("embeds".into(), "MAX_EMBED_SIZE_EXCEEDED", text));
    }
    errors
}

/// POSTs `body` as JSON to `url` on a fresh connection; the answer's status and body.
pub fn post_json(url: &str, body: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(host).expect("the bed is up");
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    (status.expect("a status line"), body.to_owned())
}
