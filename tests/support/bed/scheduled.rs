//! The Web API's scheduled messages (PLATFORMS.md §2.7): chat.scheduleMessage takes what
//! chat.postMessage takes with a `post_at` between now and 120 days ahead (`time_in_past`,
//! `time_too_far`), at most 30 per channel in any 5 minutes (`restricted_too_many`), and
//! answers a `scheduled_message_id`; chat.deleteScheduledMessage cancels one by channel and
//! id (`invalid_scheduled_message_id` for one it does not hold). Slack accepts `metadata`
//! here and then never posts the message, so the bed records it for a test to refuse.
//! Nothing is ever posted: the bed's clock would have to run for hours.

use super::{Answer, Request, State, check_message};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// 120 days, in seconds.
const MAX_AHEAD: u64 = 120 * 86_400;
/// Per channel, in any 5-minute window of `post_at`.
const PER_WINDOW: usize = 30;

/// One message the bed holds.
#[derive(Clone, Debug)]
pub struct Held {
    pub id: String,
    pub channel: String,
    pub post_at: u64,
    pub message: Value,
}

fn refuse(code: &str) -> Answer {
    Answer::json(&json!({"ok": false, "error": code}))
}

/// The request's JSON and the channel ID it names, once the token and channel pass.
fn authed(state: &State, request: &Request) -> Result<(Value, String), Answer> {
    let auth = request.header("authorization").unwrap_or("");
    let token = auth.strip_prefix("Bearer ").unwrap_or("").trim();
    if token.is_empty() {
        return Err(refuse("not_authed"));
    }
    if !state.tokens.contains(token) {
        return Err(refuse("invalid_auth"));
    }
    let Ok(message @ Value::Object(_)) = serde_json::from_slice::<Value>(&request.body) else {
        return Err(refuse("invalid_json"));
    };
    let channel = message["channel"].as_str().and_then(|c| state.channel(c));
    let Some(channel) = channel else {
        return Err(refuse("channel_not_found"));
    };
    if !channel.member {
        return Err(refuse("not_in_channel"));
    }
    Ok((message, channel.id))
}

pub fn schedule(state: &mut State, request: &Request) -> Answer {
    let (message, channel) = match authed(state, request) {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Slack takes `post_at` as a number or a string of one.
    let post_at = match &message["post_at"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let Some(post_at) = post_at else {
        return refuse("invalid_time");
    };
    if post_at <= now {
        return refuse("time_in_past");
    }
    if post_at > now + MAX_AHEAD {
        return refuse("time_too_far");
    }
    let near = |h: &&Held| h.channel == channel && h.post_at.abs_diff(post_at) < 300;
    if state.scheduled.iter().filter(near).count() >= PER_WINDOW {
        return refuse("restricted_too_many");
    }
    if let Err((code, _)) = check_message(&message) {
        return refuse(code);
    }
    let id = format!("Q{:010}", state.scheduled.len() + 1);
    state.scheduled.push(Held {
        id: id.clone(),
        channel: channel.clone(),
        post_at,
        message: message.clone(),
    });
    Answer::json(
        &json!({"ok": true, "channel": channel, "scheduled_message_id": id,
                         "post_at": post_at.to_string(), "message": {"text": message["text"]}}),
    )
    .delivered()
}

pub fn delete(state: &mut State, request: &Request) -> Answer {
    let (message, channel) = match authed(state, request) {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let id = message["scheduled_message_id"].as_str().unwrap_or("");
    let before = state.scheduled.len();
    state
        .scheduled
        .retain(|h| !(h.id == id && h.channel == channel));
    match state.scheduled.len() < before {
        true => Answer::json(&json!({"ok": true})).delivered(),
        false => refuse("invalid_scheduled_message_id"),
    }
}
