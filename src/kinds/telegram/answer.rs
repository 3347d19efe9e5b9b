//! The Bot API's answers: `{"ok": true, "result": …}`, or an error with its
//! description, flood control's `retry_after` and a hint at what to do.

use std::time::Duration;

use serde_json::Value;

use crate::kinds::{Answer, Verdict, classify_http};

/// Reads an answer (§5.3); a failure's HTTP status equals its `error_code`.
pub(super) fn classify(answer: &Answer) -> Verdict {
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
