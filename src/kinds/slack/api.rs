//! `kind = "slack-api"`: the Slack Web API's chat.postMessage with a bot token.
//!
//! Errors arrive as HTTP 200 with `{"ok": false, "error": "…"}`, so the body is
//! read even on success statuses; only rate limiting uses HTTP 429. A success
//! says where the message went (`channel`, `ts`), which scripts can use later
//! for threads and edits. The success repeats the whole message, so for a long
//! one it can be longer than the part of an answer chime reads; such an answer
//! is read as far as it goes (see [`cut_answer`]).

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::fields::Fields;
use crate::kinds::{
    Answer, Asking, HttpRequest, JSON_UTF8, Payload, Platform, Posted, Schedules, Search, Target,
    Threading, Verdict, classify_http, describe_identity,
};
use crate::message::Message;
use crate::secret::Secret;
use crate::template::Escape;

use super::{history, upload};

const DEFAULT_API_URL: &str = "https://slack.com/api";

/// chat.scheduleMessage takes a `post_at` up to 120 days ahead
/// (`time_too_far` past it; PLATFORMS.md §2.7).
const SCHEDULE_MAX: Duration = Duration::from_secs(120 * 86_400);
/// A `post_at` must still be ahead when Slack reads it (`time_in_past`):
/// a message due sooner waits in the spool, whose flush is as good.
const SCHEDULE_MIN: Duration = Duration::from_secs(10);
pub const SCHEDULE: &str = "chat.scheduleMessage";
const UNSCHEDULE: &str = "chat.deleteScheduledMessage";

pub struct Api {
    token: Secret,
    /// The app-level token (xapp-…) that opens Socket Mode, for `chime ask`.
    app_token: Option<Secret>,
    channel: String,
    api_url: String,
    identity: Map<String, Value>,
}

impl Api {
    pub fn from_fields(fields: &mut Fields) -> Api {
        let help = "set `token` to the app's Bot User OAuth Token (xoxb-…), e.g. token = { file = \"/run/secrets/slack_bot\" }";
        let token = fields
            .secret_token("token", "slack-api", help)
            .unwrap_or_else(|| Secret::token(String::new()));
        let channel = fields
            .required_string(
                "channel",
                "slack-api",
                "set `channel = \"#name\"` (routes and --channel can still override it)",
            )
            .unwrap_or_default();
        let api_url = fields
            .url("api_url")
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let api_url = api_url.trim_end_matches('/').to_owned();
        let app_token = fields.optional_secret_token("app_token", "slack-api");
        let mut identity = Map::new();
        for key in ["username", "icon_emoji", "icon_url"] {
            if let Some(value) = fields.string(key) {
                identity.insert(key.into(), Value::String(value));
            }
        }
        Api {
            token,
            app_token,
            channel,
            api_url,
            identity,
        }
    }
}

impl Platform for Api {
    fn kind(&self) -> &'static str {
        "slack-api"
    }

    fn markup(&self) -> Escape {
        super::escape
    }

    /// Parts go to the channel; threads and edits are attached when sent.
    fn render(&self, message: &Message, target: &Target) -> Vec<Payload> {
        let mut extra = self.identity.clone();
        let channel = target.channel.as_ref().unwrap_or(&self.channel);
        extra.insert("channel".into(), Value::String(channel.clone()));
        let mut payloads = super::render(message, &extra, super::API_CHARS_BUDGET);
        // The files follow the last part, in the channel it went to (`upload.rs`).
        if let Some(last) = payloads.last_mut().filter(|_| !message.files.is_empty()) {
            last.files = message.files.clone();
        }
        payloads
    }

    fn follow(&self, sent: &Payload, answer: &Answer) -> Option<Payload> {
        upload::follow(sent, answer)
    }

    fn restart(&self, step: &Payload) -> Option<Payload> {
        upload::restart(step)
    }

    fn file_limit(&self) -> Option<u64> {
        Some(upload::LIMIT)
    }

    /// A reply carries the parent's `thread_ts`; an edit becomes chat.update
    /// of the parent's `ts`. Either goes to the channel Slack named when it
    /// answered, which is an ID even when the profile gave a name.
    fn attach(&self, payload: &Payload, parent: &Posted) -> Payload {
        let Some(thread) = &payload.thread else {
            return payload.clone();
        };
        let mut body: Value = serde_json::from_str(&payload.body).expect("rendered as JSON");
        let Some(fields) = body.as_object_mut() else {
            return payload.clone();
        };
        fields.insert("channel".into(), Value::String(parent.channel.clone()));
        let op = if thread.edit {
            fields.insert("ts".into(), Value::String(parent.ts.clone()));
            "chat.update"
        } else {
            fields.insert("thread_ts".into(), Value::String(parent.ts.clone()));
            if thread.broadcast {
                fields.insert("reply_broadcast".into(), Value::Bool(true));
            }
            ""
        };
        payload.reworked(&body, op)
    }

    /// Message metadata carries the key, so that a runner with an empty
    /// disk finds the thread in the channel's history (`history.rs`); a
    /// part that has metadata of its own (a `chime ask` question) keeps it.
    fn mark_first(&self, payload: &Payload) -> Payload {
        history::mark_first(payload)
    }

    fn thread_search(
        &self,
        payload: &Payload,
        oldest: u64,
        channel_id: Option<&str>,
    ) -> Option<Payload> {
        history::search(payload, oldest, channel_id)
    }

    fn thread_found(
        &self,
        payload: &Payload,
        search: &Payload,
        answer: &Answer,
        oldest: u64,
    ) -> Result<Search, String> {
        history::found(payload, search, answer, oldest)
    }

    fn schedules(&self) -> Option<Schedules> {
        Some(Schedules {
            min: SCHEDULE_MIN,
            max: SCHEDULE_MAX,
            holder: "Slack",
        })
    }

    /// chat.scheduleMessage takes what chat.postMessage takes, with
    /// `post_at`. A reply is scheduled once its parent is attached (the
    /// caller does that); an edit or a part with files cannot be (Slack
    /// schedules neither chat.update nor uploads).
    fn schedule(&self, payload: &Payload, post_at: u64) -> Result<Payload, String> {
        if !payload.files.is_empty() {
            return Err("Slack does not schedule files".into());
        }
        if payload.thread.is_some() || !payload.op.is_empty() {
            return Err("Slack schedules new messages and replies, not edits".into());
        }
        let mut body: Value = serde_json::from_str(&payload.body).expect("rendered as JSON");
        let Some(fields) = body.as_object_mut() else {
            return Err("not a Slack message".into());
        };
        // "Messages scheduled with chat.scheduleMessage will not post if the
        // metadata parameter is used" (its docs' bug alert).
        fields.remove("metadata");
        fields.insert("post_at".into(), Value::from(post_at));
        Ok(payload.reworked(&body, SCHEDULE))
    }

    fn unschedule(&self, channel: &str, id: &str) -> Option<Payload> {
        let body = json!({"channel": channel, "scheduled_message_id": id});
        Some(Payload::json(&body).reworked(&body, UNSCHEDULE))
    }

    fn edit_refused(&self, verdict: &Verdict) -> bool {
        matches!(verdict, Verdict::Rejected { error, .. }
            if matches!(error.as_str(), "message_not_found" | "cant_update_message" | "edit_window_closed"))
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        if let Some(step) = upload::request(payload, &self.api_url, &self.token) {
            return step;
        }
        let method = if payload.op.is_empty() {
            "chat.postMessage"
        } else {
            &payload.op
        };
        let url = Secret::public(&format!("{}/{method}", self.api_url));
        // Without the charset Slack answers with a `missing_charset` warning.
        let content_type = match method {
            history::HISTORY | history::LIST => history::FORM,
            _ => JSON_UTF8,
        };
        HttpRequest::post(url, payload, content_type)
            .header("authorization", Secret::bearer(&self.token))
    }

    fn asking(&self) -> Result<Asking, String> {
        let Some(app_token) = &self.app_token else {
            return Err(
                "slack-api hears clicks through Socket Mode, which needs an \
                        app-level token: set `app_token` (xapp-…, with connections:write) \
                        and turn on Socket Mode and Interactivity in the app's settings"
                    .into(),
            );
        };
        Ok(Asking::Slack {
            api_url: self.api_url.clone(),
            token: self.token.clone(),
            app_token: app_token.clone(),
        })
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![
            ("token", self.token.to_string().into()),
            ("channel", self.channel.as_str().into()),
            ("api_url", self.api_url.as_str().into()),
        ];
        if let Some(app_token) = &self.app_token {
            out.push(("app_token", app_token.to_string().into()));
        }
        describe_identity(&self.identity, &super::IDENTITY, &mut out);
        out
    }

    fn threading(&self) -> Threading {
        Threading::ByMessage
    }

    fn edits(&self) -> bool {
        true
    }

    /// Every refusal is a 200 with `ok: false` (PLATFORMS.md §2).
    fn posted_by_status(&self, _status: u16) -> bool {
        false
    }

    fn batch_limit(&self) -> usize {
        super::API_BATCH_LIMIT
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        if upload::uploaded(answer) {
            let (channel, ts) = (None, None);
            return Verdict::Delivered { channel, ts };
        }
        if let Some(verdict) = classify_http(answer) {
            return verdict;
        }
        let Ok(body) = serde_json::from_str::<Value>(&answer.body) else {
            if let Some(verdict) = cut_answer(answer) {
                return verdict;
            }
            let error = format!("{} (not a Slack API answer)", answer.status);
            return Verdict::Rejected {
                error,
                hint: Some("check `api_url`".into()),
            };
        };
        if body["ok"] == Value::Bool(true) {
            let field = |key: &str| body[key].as_str().map(str::to_owned);
            // A scheduled message has no `ts` until it posts: the id Slack
            // gives in its place is what cancels it (`spool drop`).
            return Verdict::Delivered {
                channel: field("channel"),
                ts: field("ts").or_else(|| field("scheduled_message_id")),
            };
        }
        let code = body["error"].as_str().unwrap_or("unknown_error").to_owned();
        match code.as_str() {
            "internal_error"
            | "fatal_error"
            | "service_unavailable"
            | "request_timeout"
            | "ratelimited"
            | "rate_limited" => Verdict::Retry {
                after: answer.retry_after,
                error: code,
            },
            _ => Verdict::Rejected {
                hint: hint(&code).map(str::to_owned),
                error: code,
            },
        }
    }
}

/// chime reads the first 64 KiB of an answer, and chat.postMessage answers
/// with the message it posted: a long message in emoji or CJK, which Slack
/// writes as `\uXXXX` escapes, makes an answer longer than that. Slack's
/// refusals are a few hundred bytes, so a 200 answer this long that stops
/// mid-JSON is a posted message; its `channel` and `ts` are read from what
/// arrived (Slack sends them before `message`).
const CUT_ANSWER: usize = 60_000;

fn cut_answer(answer: &Answer) -> Option<Verdict> {
    let body = answer.body.trim_start();
    if answer.status != 200 || body.len() < CUT_ANSWER || !body.starts_with('{') {
        return None;
    }
    let fields = top_level(body);
    let field = |key: &str| {
        let value = fields.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        value.and_then(Value::as_str).map(str::to_owned)
    };
    if fields
        .iter()
        .any(|(k, v)| k == "ok" && *v != Value::Bool(true))
    {
        return None;
    }
    Some(Verdict::Delivered {
        channel: field("channel"),
        ts: field("ts"),
    })
}

/// The string and boolean members of a JSON object's top level, as far as
/// the text goes.
fn top_level(json: &str) -> Vec<(String, Value)> {
    let mut fields = Vec::new();
    let (mut depth, mut key): (usize, Option<String>) = (0, None);
    let mut chars = json.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            '"' => {
                let start = at;
                let Some(end) = string_end(&mut chars) else {
                    break;
                };
                let Ok(text) = serde_json::from_str::<String>(&json[start..=end]) else {
                    break;
                };
                if depth != 1 {
                    continue;
                }
                match key.take() {
                    Some(name) => fields.push((name, Value::String(text))),
                    None => key = Some(text),
                }
            }
            't' | 'f' if depth == 1 && key.is_some() => {
                let value = json[at..].starts_with("true");
                fields.push((key.take().unwrap_or_default(), Value::Bool(value)));
            }
            ',' if depth == 1 => key = None,
            _ => {}
        }
    }
    fields
}

/// Where the string whose opening quote `chars` just gave ends: the offset of
/// its closing quote, past any escaped one.
fn string_end(chars: &mut impl Iterator<Item = (usize, char)>) -> Option<usize> {
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// What the user can do about the errors a bot most often meets.
fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "not_in_channel" => "invite the bot to the channel: type `/invite @your-bot` in it",
        "channel_not_found" => {
            "check the channel name or ID; for a private channel, invite the bot first"
        }
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" => {
            "check the token: use the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page"
        }
        "missing_scope" | "no_permission" => {
            "add the chat:write scope to the Slack app and reinstall it"
        }
        "is_archived" => "the channel is archived: unarchive it, or pick another channel",
        "restricted_action" | "restricted_action_read_only_channel" => {
            "a workspace admin restricted posting here: ask them, or use another channel"
        }
        "time_too_far" | "time_in_past" | "restricted_too_many" => {
            "Slack would not schedule it: it waits in the spool for a `chime flush` instead"
        }
        "invalid_blocks"
        | "invalid_blocks_format"
        | "no_text"
        | "msg_too_long"
        | "invalid_arguments"
        | "invalid_json"
        | "json_not_object" => {
            "Slack refused the payload chime built: please report this with the output of --dry-run"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: String) -> Answer {
        Answer {
            status: 200,
            retry_after: None,
            body,
        }
    }

    #[test]
    fn a_success_too_long_to_read_whole_is_a_delivery_with_its_ts() {
        let echo = "\\ud83d\\ude00".repeat(10_000);
        let body = format!(
            r#"{{"ok":true,"channel":"C0DEPLOYS","ts":"1700000000.000100","message":{{"text":"{echo}"#
        );
        assert_eq!(
            cut_answer(&answer(body)),
            Some(Verdict::Delivered {
                channel: Some("C0DEPLOYS".into()),
                ts: Some("1700000000.000100".into()),
            })
        );
    }

    #[test]
    fn a_short_or_refused_answer_that_is_not_json_is_no_delivery() {
        assert_eq!(cut_answer(&answer("<html>".into())), None);
        let refusal = format!(
            r#"{{"ok":false,"error":"x","errors":["{}"#,
            "e".repeat(70_000)
        );
        assert_eq!(cut_answer(&answer(refusal)), None);
    }
}
