//! `kind = "discord"`: Discord channel webhooks (Execute Webhook, PLATFORMS.md §4).
//!
//! A message becomes embeds: the title (with the level's emoji) as the first
//! embed's title, the text as descriptions, fields as embed fields, links as
//! markdown `[label](url)` (webhooks that no application owns cannot send
//! buttons), the level's colour on every embed, and the host and time in the
//! last embed's footer. Discord refuses a message over its embed limits with
//! `400 Invalid Form Body`, so whatever does not fit one message is split into
//! several, sent in order, marked "(1/3)" in `content` and "part 1/3" in the
//! footer.
//!
//! Every request asks for `?wait=true`: without it Discord answers 204 before
//! the message is saved and "a message that is not saved does not return an
//! error", which would break chime's promise that nothing is lost. Mentions in
//! user text never ping (`allowed_mentions` with an empty `parse` list), and
//! markdown in user text is backslash-escaped so it shows as typed.
//!
//! The parts: `embeds` renders a message into payloads within those limits,
//! `markup` escapes user text for them, `answer` reads what Discord says back.
//! Addressing, editing and the profile's table stay here.

mod answer;
mod embeds;
mod markup;

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::fields::{Fields, Problem};
use crate::kinds::files::FormPart;
use crate::kinds::text::Measure;
use crate::kinds::{
    Answer, FileRef, HttpRequest, JSON_UTF8, Payload, Platform, Posted, Target, Threading, Upload,
    Verdict, describe_identity,
};
use crate::message::Message;
use crate::secret::Secret;
use crate::template::Escape;

use markup::escape;

/// A webhook name's limit (PLATFORMS.md §4.1).
const USERNAME_MAX: usize = 80;
/// Discord's limits count what JavaScript's `length` counts; counting UTF-16
/// units is never less than counting characters, so it is safe either way.
const MEASURE: Measure = Measure::Utf16;
/// Discord refuses empty field names and values, and a code block's text may
/// not hold its closing fence: this shows as nothing, in either place.
const ZERO_WIDTH_SPACE: char = '\u{200B}';

pub struct Discord {
    /// The profile's URL, for `chime config show`; requests go to `endpoint`.
    url: Secret,
    endpoint: Secret,
    identity: Map<String, Value>,
    /// The thread every message goes into, already in `endpoint`'s query.
    thread_id: Option<String>,
}

impl Discord {
    pub fn from_fields(fields: &mut Fields) -> Discord {
        let help = "set `url` to the webhook URL from the channel's Edit Channel → Integrations → Webhooks → Copy Webhook URL, e.g. url = \"${DISCORD_WEBHOOK_URL}\"";
        let url = fields.secret_url("url", "discord", help);
        // Quoted as written when wrong: `${NAME}` may hold anything.
        let (thread_id, written) = fields.string_as_written("thread_id").unzip();
        let name = fields.name;
        if let (Some(id), Some(written)) = (&thread_id, &written)
            && !is_snowflake(id)
        {
            let message = format!(
                "`thread_id` of destination `{name}` must be a thread's numeric ID, not {written:?}"
            );
            let help =
                "in Discord, turn on Developer Mode, then right-click the thread → Copy Thread ID";
            fields.problem(Problem::new(None, message).help(help));
        }
        let mut identity = Map::new();
        if let Some(username) = fields.string("username") {
            if let Some(why) = bad_username(&username) {
                let message = format!(
                    "`username` of destination `{name}` is not a name Discord accepts: {why}"
                );
                fields.problem(Problem::new(None, message));
            }
            identity.insert("username".into(), Value::String(username));
        }
        if let Some(avatar) = fields.url("avatar_url") {
            identity.insert("avatar_url".into(), Value::String(avatar));
        }
        let url = url.unwrap_or_else(|| Secret::url(String::new()));
        let endpoint = endpoint(&url, thread_id.as_deref());
        Discord {
            url,
            endpoint,
            identity,
            thread_id,
        }
    }
}

fn is_snowflake(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Webhook names may not be empty, longer than 80 characters, or contain
/// "clyde" or "discord" (§4.1). That the override follows the same rules is
/// unconfirmed but likely; a profile error now beats a refusal on every send.
fn bad_username(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    if name.trim().is_empty() {
        Some("it is empty")
    } else if name.chars().count() > USERNAME_MAX {
        Some("it is longer than 80 characters")
    } else if lower.contains("clyde") || lower.contains("discord") {
        Some("it may not contain \"clyde\" or \"discord\"")
    } else {
        None
    }
}

/// The `op` of a part that replaces the message whose id follows.
const EDIT: &str = "edit ";

/// Where the message `id` the webhook posted is edited: `…/messages/{id}`,
/// with the webhook's own query (its thread).
fn message_url(endpoint: &Secret, id: &str) -> Secret {
    let Ok(mut url) = reqwest::Url::parse(endpoint.expose()) else {
        return endpoint.clone();
    };
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().push("messages").push(id);
    }
    Secret::url(url.to_string())
}

/// The webhook URL with `wait=true` (and the thread, when set) in its query.
fn endpoint(url: &Secret, thread_id: Option<&str>) -> Secret {
    let Ok(mut parsed) = reqwest::Url::parse(url.expose()) else {
        return url.clone();
    };
    let keep: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(key, _)| key != "wait" && !(key == "thread_id" && thread_id.is_some()))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    {
        let mut query = parsed.query_pairs_mut();
        query.clear().extend_pairs(keep).append_pair("wait", "true");
        if let Some(id) = thread_id {
            query.append_pair("thread_id", id);
        }
    }
    Secret::url(parsed.into())
}

impl Platform for Discord {
    fn kind(&self) -> &'static str {
        "discord"
    }

    fn markup(&self) -> Escape {
        escape
    }

    fn threading(&self) -> Threading {
        if self.thread_id.is_some() {
            Threading::Fixed
        } else {
            Threading::Unsupported
        }
    }

    /// Discord webhooks post to the channel they were made for; a route's
    /// channel is meant for other kinds and does not apply here.
    fn render(&self, message: &Message, _target: &Target) -> Vec<Payload> {
        let mut payloads: Vec<Payload> = embeds::payloads(message)
            .into_iter()
            .map(|mut payload| {
                payload.extend(self.identity.clone());
                Payload::json(&Value::Object(payload))
            })
            .collect();
        // The files go with the last part, as many as one message takes;
        // the rest in messages of their own after it.
        for (i, group) in upload_groups(&message.files).into_iter().enumerate() {
            if i > 0 || payloads.is_empty() {
                let mut only_files = Map::new();
                only_files.extend(self.identity.clone());
                payloads.push(Payload::json(&Value::Object(only_files)));
            }
            let last = payloads.last_mut().expect("one part at least");
            *last = with_attachments(last, group);
        }
        payloads
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        let request = match payload.op.strip_prefix(EDIT) {
            Some(message) => HttpRequest {
                method: reqwest::Method::PATCH,
                ..HttpRequest::post(message_url(&self.endpoint, message), payload, JSON_UTF8)
            },
            None => HttpRequest::post(self.endpoint.clone(), payload, JSON_UTF8),
        };
        if payload.files.is_empty() {
            return request;
        }
        // `payload_json` and `files[n]`, the n matching `attachments[].id` (§4.5).
        let mut parts = vec![FormPart::json(
            "payload_json",
            Secret::public(&payload.body),
        )];
        for (n, file) in payload.files.iter().enumerate() {
            parts.push(FormPart::file(&format!("files[{n}]"), file));
        }
        request.uploading(Upload::form(parts))
    }

    /// A webhook's request, files and all, may be 10 MiB (§4.5).
    fn file_limit(&self) -> Option<u64> {
        Some(UPLOAD_LIMIT)
    }

    /// A webhook edits the messages it posted (`--update`); it cannot reply
    /// to one, so the other parts of a long edit are posted after it.
    fn edits(&self) -> bool {
        true
    }

    /// 30 messages a minute per channel (PLATFORMS.md §4.3, a staff comment);
    /// the 5 per 2 s a webhook bursts to would meet that wall within a minute.
    fn pace(&self) -> Duration {
        Duration::from_secs(2)
    }

    fn attach(&self, payload: &Payload, parent: &Posted) -> Payload {
        if !payload.thread.as_ref().is_some_and(|t| t.edit) {
            return payload.clone();
        }
        let mut body: Value = serde_json::from_str(&payload.body).expect("rendered as JSON");
        if let Some(fields) = body.as_object_mut() {
            // The author of a message stays who posted it; only its content changes.
            fields.remove("username");
            fields.remove("avatar_url");
            // An edit keeps every field it does not send: an old "(1/3)" too.
            fields
                .entry("content")
                .or_insert_with(|| Value::String(String::new()));
            fields
                .entry("embeds")
                .or_insert_with(|| Value::Array(Vec::new()));
        }
        payload.reworked(&body, format!("{EDIT}{}", parent.ts))
    }

    fn edit_refused(&self, verdict: &Verdict) -> bool {
        matches!(verdict, Verdict::Rejected { error, .. } if error.ends_with("(code 10008)"))
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![("url", self.url.to_string().into())];
        if let Some(id) = &self.thread_id {
            out.push(("thread_id", id.as_str().into()));
        }
        describe_identity(&self.identity, &["username", "avatar_url"], &mut out);
        out
    }

    /// For `chime pipe`: a description holds 4096 UTF-16 units; the rest is room for the footer and marker.
    fn batch_limit(&self) -> usize {
        3800
    }

    fn measure(&self) -> Measure {
        MEASURE
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        answer::classify(answer)
    }
}

/// What one webhook request may carry, files and JSON together: 10 MiB
/// since January 2025 (§4.5); more is a 413 with code 40005.
const UPLOAD_LIMIT: u64 = 10 << 20;
/// The files one message takes (§4.5).
const FILES_PER_MESSAGE: usize = 10;
/// Room left in a request for its JSON and the form's own lines.
const FORM_ROOM: u64 = 64 << 10;

/// The files in groups that each fit one request.
fn upload_groups(files: &[FileRef]) -> Vec<&[FileRef]> {
    let mut groups = Vec::new();
    let (mut start, mut bytes) = (0, FORM_ROOM);
    for (i, file) in files.iter().enumerate() {
        let full = i - start == FILES_PER_MESSAGE || bytes + file.size > UPLOAD_LIMIT;
        if full && i > start {
            groups.push(&files[start..i]);
            (start, bytes) = (i, FORM_ROOM);
        }
        bytes += file.size;
    }
    if start < files.len() {
        groups.push(&files[start..]);
    }
    groups
}

/// `payload` carrying `files`, named in its JSON's `attachments`.
fn with_attachments(payload: &Payload, files: &[FileRef]) -> Payload {
    let mut body: Value = serde_json::from_str(&payload.body).expect("rendered as JSON");
    let attachments: Vec<Value> = files
        .iter()
        .enumerate()
        .map(|(id, file)| {
            let mut attachment = json!({"id": id, "filename": file.name});
            if let Some(title) = &file.title {
                attachment["description"] = json!(title);
            }
            attachment
        })
        .collect();
    body["attachments"] = Value::Array(attachments);
    Payload {
        body: body.to_string(),
        ..payload.clone()
    }
    .with_files(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_and_wait_go_in_the_query() {
        let url = Secret::url("https://discord.com/api/webhooks/1/tok?wait=false".into());
        assert_eq!(
            endpoint(&url, Some("42")).expose(),
            "https://discord.com/api/webhooks/1/tok?wait=true&thread_id=42"
        );
    }
}
