//! What reaches the bot: the queue of updates `getUpdates` hands out, the webhook that
//! stands in its way, and callback queries (a person's press of an inline button) with
//! their answers (`answerCallbackQuery`).
//!
//! The rules are the Bot API server's (`telegram-bot-api/Client.cpp`):
//! `process_get_updates_query` (409 while a webhook is set; `limit` clamped to 1–100,
//! `timeout` to 0–50 s), `do_get_updates` (an update is confirmed, and forgotten, once
//! `offset` passes its `update_id`; a negative offset keeps only the last ones; a request
//! that must wait ends the one already waiting with 409), `add_update_impl` (`allowed_updates`
//! filters updates as they are made, so a change does not touch updates already queued) and
//! `get_allowed_update_types` (an empty or unknown list means the default: every type but
//! `chat_member`, `message_reaction` and `message_reaction_count`). Two simplifications: the
//! server delays a second 409 within 3 s by 3 s, and stretches a short poll repeated at
//! the same offset within 3 s to 3 s; the bed answers both at once.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Posted, Telegram, fail, message_json};
use crate::support::bed::{Answer, Request};

/// `LONG_POLL_MAX_TIMEOUT`, in seconds.
const POLL_MAX: i64 = 50;
/// The Bot API's text for each refusal, verbatim.
const WEBHOOK_ACTIVE: &str = "Conflict: can't use getUpdates method while webhook is active; \
                              use deleteWebhook to delete the webhook first";
const OTHER_POLL: &str = "Conflict: terminated by other getUpdates request; \
                          make sure that only one bot instance is running";
const SET_WEBHOOK: &str = "Conflict: terminated by setWebhook request";
const QUERY_INVALID: &str =
    "Bad Request: query is too old and response timeout expired or query ID is invalid";
/// `answerCallbackQuery.text`: "0-200 characters"; longer is refused by Telegram's servers
/// with `MESSAGE_TOO_LONG` (as bots are seen to get it).
const ANSWER_TEXT_MAX: usize = 200;
const NOT_BY_DEFAULT: [&str; 3] = ["chat_member", "message_reaction", "message_reaction_count"];

/// The bed's updates for one bot.
#[derive(Default)]
pub(super) struct Updates {
    /// Unconfirmed updates, oldest first.
    queue: VecDeque<Value>,
    last_id: i64,
    /// `allowed_updates` as last set; `None`: the default.
    allowed: Option<Vec<String>>,
    /// Bumped by each getUpdates that starts to wait, and by setWebhook: a waiting poll
    /// that finds it changed was ended by another.
    poll: u64,
    /// getUpdates requests waiting now.
    waiting: usize,
    webhook: Option<String>,
    /// Callback queries by ID: true once answered or too old.
    callbacks: HashMap<String, bool>,
    answers: Vec<(String, Option<String>, bool)>,
}

impl Updates {
    /// Queues `update` under the next `update_id`, unless `allowed_updates` filters out
    /// its type.
    fn push(&mut self, mut update: Value) -> Option<i64> {
        let kind = update
            .as_object()?
            .keys()
            .find(|k| *k != "update_id")?
            .clone();
        let allowed = match &self.allowed {
            Some(types) => types.contains(&kind),
            None => !NOT_BY_DEFAULT.contains(&kind.as_str()),
        };
        if !allowed {
            return None;
        }
        self.last_id = self.last_id.max(700_000_000) + 1;
        update["update_id"] = self.last_id.into();
        self.queue.push_back(update);
        Some(self.last_id)
    }

    /// Forgets the updates `offset` confirms.
    fn confirm(&mut self, offset: i64) {
        if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            let forget = self.queue.len().saturating_sub(keep);
            self.queue.drain(..forget);
        } else {
            self.queue
                .retain(|u| u["update_id"].as_i64() >= Some(offset));
        }
    }

    fn pending(&self, limit: usize) -> Vec<Value> {
        self.queue.iter().take(limit).cloned().collect()
    }
}

/// A request's parameters from its query, its form body or its JSON body, as the Bot API
/// takes them; values from a query or form are strings.
pub(super) fn params(request: &Request) -> Value {
    let mut params = serde_json::Map::new();
    let form = request
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let body = form.then(|| request.text());
    for pairs in [request.query.clone(), body].into_iter().flatten() {
        for pair in pairs.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(decode(key), Value::String(decode(value)));
        }
    }
    if let Ok(Value::Object(json)) = serde_json::from_slice(&request.body) {
        params.extend(json);
    }
    Value::Object(params)
}

fn decode(text: &str) -> String {
    let mut bytes = vec![];
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let hex = tail.get(..2).and_then(|h| std::str::from_utf8(h).ok());
        match (b, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                bytes.push(byte);
                rest = &tail[2..];
                continue;
            }
            (b'+', _) => bytes.push(b' '),
            (b, _) => bytes.push(b),
        }
        rest = tail;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// An integer parameter, given as a number or as text.
pub(super) fn integer(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

fn boolean(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1"),
        Value::Number(n) => n.as_i64() != Some(0),
        _ => false,
    }
}

/// `allowed_updates` as the Bot API reads it: `None` leaves the setting as it is;
/// `Some(None)`, a list without one known type, is the default.
fn allowed_updates(value: &Value) -> Option<Option<Vec<String>>> {
    let parsed;
    let list = match value {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).ok()?;
            parsed.as_array()?
        }
        value => value.as_array()?,
    };
    let names: Option<Vec<String>> = list
        .iter()
        .map(|n| n.as_str().map(str::to_ascii_lowercase))
        .collect();
    let names: Vec<String> = names?.into_iter().filter(|n| known(n)).collect();
    Some(Some(names).filter(|n| !n.is_empty()))
}

fn known(kind: &str) -> bool {
    const TYPES: &[&str] = &[
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    ];
    TYPES.contains(&kind)
}

impl Telegram {
    /// `getUpdates`: the pending updates at `offset`, waiting up to `timeout` seconds for
    /// one when there are none.
    pub(super) fn get_updates(&self, request: &Request) -> Answer {
        let params = params(request);
        let offset = integer(&params["offset"]).unwrap_or(0);
        let limit = integer(&params["limit"]).unwrap_or(100).clamp(1, 100) as usize;
        let timeout = integer(&params["timeout"]).unwrap_or(0).clamp(0, POLL_MAX);
        let mut state = self.lock();
        if state.updates.webhook.is_some() {
            return fail(409, WEBHOOK_ACTIVE);
        }
        if let Some(allowed) = allowed_updates(&params["allowed_updates"]) {
            state.updates.allowed = allowed;
        }
        state.updates.confirm(offset);
        if state.updates.queue.is_empty() && timeout > 0 {
            state.updates.poll += 1;
            let mine = state.updates.poll;
            self.woken.notify_all();
            let deadline = Instant::now() + Duration::from_secs(timeout as u64);
            state.updates.waiting += 1;
            while state.updates.queue.is_empty() && state.updates.poll == mine {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = self.wait(state, left);
            }
            state.updates.waiting -= 1;
            if state.updates.poll != mine {
                let webhook = state.updates.webhook.is_some();
                return fail(409, if webhook { SET_WEBHOOK } else { OTHER_POLL });
            }
        }
        Answer::json(&json!({"ok": true, "result": state.updates.pending(limit)}))
    }

    /// `setWebhook` and `deleteWebhook` (`url` empty or absent), with the Bot API's
    /// descriptions; setting one ends a waiting getUpdates.
    pub(super) fn set_webhook_method(&self, request: &Request, delete: bool) -> Answer {
        let params = params(request);
        let url = params["url"].as_str().filter(|u| !u.is_empty() && !delete);
        let mut state = self.lock();
        if boolean(&params["drop_pending_updates"]) {
            state.updates.queue.clear();
        }
        let description = match (url, &state.updates.webhook) {
            (Some(url), Some(set)) if url == set => "Webhook is already set",
            (Some(_), _) => "Webhook was set",
            (None, Some(_)) => "Webhook was deleted",
            (None, None) => "Webhook is already deleted",
        };
        state.updates.webhook = url.map(str::to_owned);
        if url.is_some() {
            state.updates.poll += 1;
            self.woken.notify_all();
        }
        Answer::json(&json!({"ok": true, "result": true, "description": description}))
    }

    pub(super) fn webhook_info(&self) -> Answer {
        let state = self.lock();
        let url = state.updates.webhook.clone().unwrap_or_default();
        let info = json!({"url": url, "has_custom_certificate": false,
                          "pending_update_count": state.updates.queue.len()});
        Answer::json(&json!({"ok": true, "result": info}))
    }

    /// `answerCallbackQuery`: once per query, while it is fresh.
    pub(super) fn answer_callback(&self, request: &Request) -> Answer {
        let params = params(request);
        let id = match &params["callback_query_id"] {
            Value::Number(n) => n.to_string(),
            other => other.as_str().unwrap_or_default().to_owned(),
        };
        let text = params["text"].as_str().filter(|t| !t.is_empty());
        let mut state = self.lock();
        if state.updates.callbacks.get(&id) != Some(&false) {
            return fail(400, QUERY_INVALID);
        }
        if text.is_some_and(|t| t.chars().count() > ANSWER_TEXT_MAX) {
            return fail(400, "Bad Request: MESSAGE_TOO_LONG");
        }
        state.updates.callbacks.insert(id.clone(), true);
        let answer = (id, text.map(str::to_owned), boolean(&params["show_alert"]));
        state.updates.answers.push(answer);
        Answer::json(&json!({"ok": true, "result": true}))
    }

    /// Someone pressed the button labelled `label` on message `message_id` in chat
    /// `chat_id`: a `callback_query` update is queued, as Telegram sends it, for the bot
    /// to fetch. Returns the query's ID, for `answerCallbackQuery`. Panics when the
    /// message shows no callback button so labelled.
    pub fn click(
        &self,
        chat_id: i64,
        message_id: i64,
        label: &str,
        from_id: i64,
        username: Option<&str>,
    ) -> String {
        let state = self.lock();
        let message = clicked(&state.posted, chat_id, message_id);
        let pairs = message.keyboard.iter().flatten();
        let Some((_, data)) = pairs
            .into_iter()
            .find(|(text, data)| text == label && !data.is_empty())
        else {
            let labels: Vec<&String> = message.keyboard.iter().flatten().map(|(t, _)| t).collect();
            panic!(
                "telegram bed: message {message_id} has no button {label:?}; it shows {labels:?}"
            );
        };
        let data = data.clone();
        drop(state);
        self.click_shown(chat_id, message_id, &data, from_id, username)
    }

    /// Someone pressed a button carrying `data` that their screen still shows on
    /// message `message_id` in chat `chat_id`, though the message may have lost it
    /// since (a second tap before the edit reached their phone): queued as
    /// [`Telegram::click`] queues one. Returns the query's ID.
    pub fn click_shown(
        &self,
        chat_id: i64,
        message_id: i64,
        data: &str,
        from_id: i64,
        username: Option<&str>,
    ) -> String {
        let mut state = self.lock();
        let shown = message_json(clicked(&state.posted, chat_id, message_id), state.bot_id());
        let id =
            (4_000_000_000_000_000_000_u64 + state.updates.callbacks.len() as u64 + 1).to_string();
        state.updates.callbacks.insert(id.clone(), false);
        let mut from = json!({"id": from_id, "is_bot": false,
                              "first_name": username.unwrap_or("Tester")});
        if let Some(username) = username {
            from["username"] = username.into();
        }
        let query = json!({"id": id, "from": from, "message": shown,
                           "chat_instance": format!("{}", chat_id.unsigned_abs() * 7 + 1),
                           "data": data});
        state.updates.push(json!({"callback_query": query}));
        self.woken.notify_all();
        id
    }

    /// Queues `update` (its `update_id` is set here), e.g. a plain `message` someone
    /// wrote, for the bot to fetch. Returns its `update_id`, or `None` when the bot's
    /// `allowed_updates` filters out its type.
    pub fn queue_update(&self, update: Value) -> Option<i64> {
        let id = self.lock().updates.push(update);
        self.woken.notify_all();
        id
    }

    /// The updates queued and not yet confirmed, oldest first.
    pub fn pending_updates(&self) -> Vec<Value> {
        self.lock().updates.pending(usize::MAX)
    }

    /// Sets the bot's webhook (`None`: deletes it), as `setWebhook` does.
    pub fn set_webhook(&self, url: Option<&str>) {
        let mut state = self.lock();
        state.updates.webhook = url.map(str::to_owned);
        if url.is_some() {
            state.updates.poll += 1;
        }
        self.woken.notify_all();
    }

    /// Every `answerCallbackQuery` taken, in order: (query ID, text, show_alert).
    pub fn callback_answers(&self) -> Vec<(String, Option<String>, bool)> {
        self.lock().updates.answers.clone()
    }

    /// Every callback query so far is now too old to answer, as Telegram's servers find
    /// one after their (undocumented) response timeout.
    pub fn expire_callbacks(&self) {
        let mut state = self.lock();
        state
            .updates
            .callbacks
            .values_mut()
            .for_each(|done| *done = true);
    }

    /// Waits until a getUpdates is waiting for updates, or `timeout` passes; true if one is.
    pub fn wait_for_poll(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.updates.waiting == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self.wait(state, left.min(Duration::from_millis(20)));
        }
        true
    }
}

impl Posted {
    /// The (text, callback_data) of the button labelled `label`, if the message shows it.
    pub fn button(&self, label: &str) -> Option<(String, String)> {
        self.keyboard
            .iter()
            .flatten()
            .find(|(t, _)| t == label)
            .cloned()
    }
}

/// The message `message_id` of chat `chat_id`, to be clicked; panics when there is none.
fn clicked(posted: &[Posted], chat_id: i64, message_id: i64) -> &Posted {
    let index = usize::try_from(message_id - 1).ok();
    let message = index.and_then(|i| posted.get(i));
    match message.filter(|m| m.chat_id == chat_id && !m.deleted) {
        Some(message) => message,
        None => panic!("telegram bed: no message {message_id} in chat {chat_id} to click"),
    }
}
