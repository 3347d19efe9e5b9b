//! A stand-in for Google Chat incoming webhooks (PLATFORMS.md §7), mounted on the bed under
//! `/chat/v1/spaces/`.
//!
//! `POST /chat/v1/spaces/{SPACE}/messages?key=…&token=…` with a message of `text` and/or
//! `cardsV2`. A wrong key answers 400 `API_KEY_INVALID`, a wrong token 403
//! `PERMISSION_DENIED` (both bodies as observed), unknown fields and unparseable JSON 400
//! `INVALID_ARGUMENT`, a message over 32,000 bytes 400 (wording ours: unconfirmed), a card
//! of more than 100 widgets posted without the rest (so not recorded as delivered), and a
//! throttled space 429 `RESOURCE_EXHAUSTED` without `Retry-After` (Google's limits page says
//! to back off exponentially; whether it sends the header is unconfirmed, so the stand-in
//! makes chime do without). Threads follow `thread.threadKey` only with
//! `messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`; otherwise every message starts
//! a thread of its own. A success is 200 with the request's fields plus `name` and
//! `thread.name`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use super::bed::{Answer, Bed, Request, Surface};

/// "The maximum message size, including the message contents, is 32,000 bytes." (§7)
pub const MAX_MESSAGE: usize = 32_000;
const FIELDS: &[&str] = &[
    "text",
    "cardsV2",
    "cards",
    "thread",
    "fallbackText",
    "accessoryWidgets",
    "privateMessageViewer",
];
const WIDGETS: &[&str] = &[
    "textParagraph",
    "buttonList",
    "decoratedText",
    "divider",
    "image",
];

#[derive(Default)]
pub struct GoogleChat {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Space id → (key, token).
    spaces: HashMap<String, (String, String)>,
    /// (space, thread key) → thread name.
    threads: HashMap<(String, String), String>,
    next: u64,
}

impl GoogleChat {
    pub fn mount(bed: &Bed) -> Arc<GoogleChat> {
        let chat = Arc::new(GoogleChat::default());
        bed.mount("/chat/v1/spaces/", Arc::clone(&chat) as Arc<dyn Surface>);
        chat
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The webhook URL of a space named `name`, shaped like Google's.
    pub fn space(&self, bed: &Bed, name: &str) -> String {
        let alnum: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        let id = format!("AAAA{}", alnum.to_ascii_uppercase());
        let key = format!("fakekey{}", alnum.to_ascii_lowercase());
        let token = format!("faketoken{}", alnum.to_ascii_lowercase());
        let url = format!(
            "{}/chat/v1/spaces/{id}/messages?key={key}&token={token}",
            bed.url()
        );
        self.state().spaces.insert(id, (key, token));
        url
    }
}

fn error(code: u16, status: &str, message: &str) -> Answer {
    let body = json!({"error": {"code": code, "message": message, "status": status}});
    Answer::json_status(code, &body)
}

fn invalid(message: &str) -> Answer {
    error(400, "INVALID_ARGUMENT", message)
}

impl Surface for GoogleChat {
    fn answer(&self, request: &Request, limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        let space = request
            .path
            .strip_prefix("/chat/v1/spaces/")
            .and_then(|rest| rest.strip_suffix("/messages"))
            .unwrap_or("")
            .to_owned();
        let query: HashMap<&str, &str> = request
            .query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .collect();
        let Some((key, token)) = self.state().spaces.get(&space).cloned() else {
            return error(404, "NOT_FOUND", "Requested entity was not found.");
        };
        if query.get("key") != Some(&key.as_str()) {
            let body = json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                "metadata": {"service": "chat.googleapis.com"}}]}});
            return Answer::json_status(400, &body);
        }
        if query.get("token") != Some(&token.as_str()) {
            let message = "The API is called without a valid token. Instructions on how to use incoming webhooks can be found at https://developers.google.com/chat/how-tos/webhooks";
            return error(403, "PERMISSION_DENIED", message);
        }
        if let Err(secs) = limit(&space) {
            return self.throttled(secs);
        }
        let message = match check(&request.body) {
            Ok(message) => message,
            Err(answer) => return answer,
        };
        let reply =
            query.get("messageReplyOption") == Some(&"REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD");
        let mut state = self.state();
        state.next += 1;
        let n = state.next;
        let thread_key = message["thread"]["threadKey"].as_str().filter(|_| reply);
        let thread = match thread_key {
            Some(k) => state
                .threads
                .entry((space.clone(), k.to_owned()))
                .or_insert_with(|| format!("spaces/{space}/threads/T{n}"))
                .clone(),
            None => format!("spaces/{space}/threads/T{n}"),
        };
        let whole = widgets(&message) <= MAX_WIDGETS;
        let mut posted = message;
        posted["name"] = format!("spaces/{space}/messages/M{n}").into();
        posted["thread"] = json!({"name": thread});
        let answer = Answer::json(&posted);
        // Widgets past the 100th are dropped without a word: posted, but not whole.
        if whole { answer.delivered() } else { answer }
    }

    fn throttled(&self, _secs: u64) -> Answer {
        error(
            429,
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        )
    }
}

/// The most widgets a card shows: "Any widgets beyond this limit are ignored"
/// (Cards v2 reference, developers.google.com/workspace/chat/api/reference/rest/v1/cards).
pub const MAX_WIDGETS: usize = 100;

/// The widgets of the message's fullest card.
fn widgets(message: &Value) -> usize {
    let cards = message["cardsV2"].as_array().into_iter().flatten();
    let count = |card: &Value| {
        let sections = card["card"]["sections"].as_array().into_iter().flatten();
        sections
            .map(|s| s["widgets"].as_array().map_or(0, Vec::len))
            .sum::<usize>()
    };
    cards.map(count).max().unwrap_or(0)
}

/// The message, or the 400 Google would answer.
fn check(body: &[u8]) -> Result<Value, Answer> {
    if body.len() > MAX_MESSAGE {
        return Err(invalid("Message exceeds the maximum size of 32000 bytes."));
    }
    let message: Value = serde_json::from_slice(body)
        .map_err(|_| invalid("Invalid JSON payload received. Unexpected token."))?;
    let Some(object) = message.as_object() else {
        return Err(invalid(
            "Invalid JSON payload received. Expected an object.",
        ));
    };
    if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(invalid(&format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\" at 'message': Cannot find field."
        )));
    }
    let has_text = message["text"].as_str().is_some_and(|t| !t.is_empty());
    let cards = message["cardsV2"].as_array().map_or(&[][..], |c| c);
    if !has_text && cards.is_empty() {
        return Err(invalid("Message cannot be empty. Discarded."));
    }
    for card in cards {
        check_card(card).map_err(|why| invalid(&format!("Invalid card: {why}")))?;
    }
    Ok(message)
}

fn check_card(card: &Value) -> Result<(), String> {
    if !card["cardId"].is_string() || !card["card"].is_object() {
        return Err("each cardsV2 item needs cardId and card".into());
    }
    let card = &card["card"];
    let titled = card["header"]["title"]
        .as_str()
        .is_some_and(|t| !t.is_empty());
    if !card["header"].is_null() && !titled {
        return Err("a header needs a title".into());
    }
    for section in card["sections"].as_array().into_iter().flatten() {
        for widget in section["widgets"].as_array().into_iter().flatten() {
            let keys: Vec<&String> = widget
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            let [kind] = keys[..] else {
                return Err("a widget has exactly one kind".into());
            };
            if !WIDGETS.contains(&kind.as_str()) {
                return Err(format!("unknown widget {kind}"));
            }
            if kind == "textParagraph" && !widget[kind]["text"].is_string() {
                return Err("textParagraph needs text".into());
            }
            if kind == "buttonList" {
                for button in widget[kind]["buttons"].as_array().into_iter().flatten() {
                    if !button["text"].is_string()
                        || !button["onClick"]["openLink"]["url"].is_string()
                    {
                        return Err("a button needs text and onClick.openLink.url".into());
                    }
                }
            }
        }
    }
    Ok(())
}
