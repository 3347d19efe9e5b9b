//! Files on the Slack Web API (PLATFORMS.md §2.7): `files.upload` was
//! retired for every app in 2025, and a file now takes three calls —
//! `files.getUploadURLExternal` (a name and a length, for an upload URL and
//! a file id), the bytes to that URL, and `files.completeUploadExternal`,
//! which shares the files in a channel, by its ID, in a thread if asked.
//!
//! The message's text goes first, as ever, with chat.postMessage (or
//! chat.update), and its answer gives what the files need: the channel's ID
//! (the profile may name `#deploys`), and the thread. Then one call leads to
//! the next ([`follow`]), the state carried in each step's body under
//! `chime`. `initial_comment` is not used: with it Slack ignores `blocks`.
//!
//! A step that fails leaves its message with the files' first step, the
//! channel and thread known ([`restart`]): a retry or a flush uploads the
//! files again without posting the text twice. Files uploaded but never
//! completed are never shared, so a half-done upload posts nothing.

use serde_json::{Value, json};

use crate::kinds::{Answer, FileRef, HttpRequest, JSON_UTF8, Payload, Upload};
use crate::secret::Secret;

pub const GET_URL: &str = "files.getUploadURLExternal";
pub const UPLOAD: &str = "chime.upload";
pub const COMPLETE: &str = "files.completeUploadExternal";

/// The largest file Slack takes: 1 GB (§2.7).
pub const LIMIT: u64 = 1 << 30;

/// Where the files stand: the channel and thread they go to, the ids of
/// those uploaded, and which file is next.
#[derive(serde::Serialize, serde::Deserialize, Default, Clone)]
struct Chain {
    channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thread_ts: Option<String>,
    #[serde(default)]
    done: Vec<Value>,
    #[serde(default)]
    next: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upload_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file_id: Option<String>,
}

/// The step after `sent`, which `answer` delivered; `None` when the files
/// are shared, or `sent` carried none.
pub fn follow(sent: &Payload, answer: &Answer) -> Option<Payload> {
    if sent.files.is_empty() {
        return None;
    }
    let reply: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    match sent.op.as_str() {
        GET_URL => {
            let mut chain = chain_of(sent)?;
            chain.upload_url = Some(reply["upload_url"].as_str()?.to_owned());
            chain.file_id = Some(reply["file_id"].as_str()?.to_owned());
            Some(step(sent, UPLOAD, chain))
        }
        UPLOAD => {
            let mut chain = chain_of(sent)?;
            let file = sent.files.get(chain.next)?;
            let mut done = json!({"id": chain.file_id.take()?});
            done["title"] = json!(file.title.clone().unwrap_or_else(|| file.name.clone()));
            chain.done.push(done);
            chain.upload_url = None;
            chain.next += 1;
            let op = if chain.next < sent.files.len() {
                GET_URL
            } else {
                COMPLETE
            };
            Some(step(sent, op, chain))
        }
        COMPLETE => None,
        // The text, posted or updated: the files go where it went.
        _ => {
            let body: Value = serde_json::from_str(&sent.body).unwrap_or(Value::Null);
            let channel = reply["channel"].as_str()?.to_owned();
            let thread_ts = match sent.op.as_str() {
                "chat.update" => body["ts"].as_str(),
                _ => body["thread_ts"].as_str(),
            };
            let chain = Chain {
                channel,
                thread_ts: thread_ts.map(str::to_owned),
                ..Chain::default()
            };
            Some(step(sent, GET_URL, chain))
        }
    }
}

/// What a message whose files failed at `step` keeps: their first step,
/// with the channel and thread it had found.
pub fn restart(step: &Payload) -> Option<Payload> {
    let chain = chain_of(step)?;
    let fresh = Chain {
        channel: chain.channel,
        thread_ts: chain.thread_ts,
        ..Chain::default()
    };
    Some(Payload {
        thread: None,
        ..self::step(step, GET_URL, fresh)
    })
}

/// The request of a files step, or `None` for a part that is not one.
pub fn request(payload: &Payload, api_url: &str, token: &Secret) -> Option<HttpRequest> {
    let chain = chain_of(payload)?;
    let auth = Secret::bearer(token);
    let url = |method: &str| Secret::public(&format!("{api_url}/{method}"));
    let request = match payload.op.as_str() {
        GET_URL => {
            let file = payload.files.get(chain.next)?;
            let form = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("filename", &file.name)
                .append_pair("length", &file.size.to_string())
                .finish();
            let form = Payload {
                body: form,
                ..Payload::json(&Value::Null)
            };
            HttpRequest::post(url(GET_URL), &form, "application/x-www-form-urlencoded")
                .header("authorization", auth)
        }
        // The URL is the upload's own authority: the token stays home.
        UPLOAD => {
            let file: &FileRef = payload.files.get(chain.next)?;
            let target = Secret::url(chain.upload_url.clone()?);
            HttpRequest::post(target, payload, "application/octet-stream")
                .uploading(Upload::Raw(file.clone()))
        }
        COMPLETE => {
            let mut body = json!({"files": chain.done, "channel_id": chain.channel});
            if let Some(ts) = &chain.thread_ts {
                body["thread_ts"] = json!(ts);
            }
            HttpRequest::post(url(COMPLETE), &Payload::json(&body), JSON_UTF8)
                .header("authorization", auth)
        }
        _ => return None,
    };
    Some(request)
}

/// The upload URL's answer: `OK - <bytes>` as plain text, not the Web API's JSON.
pub fn uploaded(answer: &Answer) -> bool {
    answer.status == 200 && answer.body.starts_with("OK")
}

fn chain_of(payload: &Payload) -> Option<Chain> {
    let body: Value = serde_json::from_str(&payload.body).ok()?;
    serde_json::from_value(body.get("chime")?.clone()).ok()
}

/// A step `op`, the files and `chain` carried along.
fn step(sent: &Payload, op: &str, chain: Chain) -> Payload {
    let body = json!({"chime": chain});
    Payload {
        op: op.to_owned(),
        thread: None,
        ..Payload::json(&body)
    }
    .with_files(&sent.files)
}
