//! A stand-in for Slack's file upload (PLATFORMS.md §2.7), the three calls
//! that replaced `files.upload`: `files.getUploadURLExternal` (form-encoded
//! `filename` and `length`, a bot token) answers an upload URL and a file
//! id; the URL takes the bytes (raw, or a form's `file`) and answers
//! `OK - <bytes>`; `files.completeUploadExternal` (`files` as JSON, the
//! channel by its ID, `thread_ts`) shares the uploaded files. Slack does not
//! document what completing a file twice does; the stand-in refuses it
//! (`file_already_completed`), so that a test sees a file shared twice.
//! Mounted on the bed under `/api/files.` and [`UPLOAD_PREFIX`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use super::bed::{Answer, Bed, Request, Surface};
use super::multipart;

pub const API_PREFIX: &str = "/api/files.";
pub const UPLOAD_PREFIX: &str = "/slack-upload/";

/// A file shared in a channel.
#[derive(Clone, Debug)]
pub struct Shared {
    pub name: String,
    pub title: Option<String>,
    pub bytes: Vec<u8>,
    pub channel: String,
    pub thread_ts: Option<String>,
}

#[derive(Default)]
struct State {
    base: String,
    tokens: HashSet<String>,
    channels: HashSet<String>,
    /// Files handed an upload URL: name, declared length, bytes once uploaded.
    files: HashMap<String, (String, u64, Option<Vec<u8>>)>,
    completed: HashSet<String>,
    shared: Vec<Shared>,
    calls: Vec<String>,
    /// How long the upload URL takes to answer.
    upload_pause: std::time::Duration,
}

#[derive(Default)]
pub struct SlackFiles {
    state: Mutex<State>,
}

impl SlackFiles {
    /// Mounted on `bed`, taking `token` and sharing into the channels `ids`.
    pub fn mount(bed: &Bed, token: &str, ids: &[&str]) -> Arc<SlackFiles> {
        let files = Arc::new(SlackFiles::default());
        {
            let mut state = files.lock();
            state.base = bed.url();
            state.tokens.insert(token.to_owned());
            state.channels = ids.iter().map(|id| (*id).to_owned()).collect();
        }
        bed.mount(API_PREFIX, files.clone());
        bed.mount(UPLOAD_PREFIX, files.clone());
        files
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The upload URL answers `pause` after the bytes came, as a slow link does.
    pub fn slow_uploads(&self, pause: std::time::Duration) {
        self.lock().upload_pause = pause;
    }

    /// Every file shared, in order.
    pub fn shared(&self) -> Vec<Shared> {
        self.lock().shared.clone()
    }

    /// Each call, as `METHOD path`, in order.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    fn get_upload_url(&self, request: &Request) -> Answer {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let (Some(name), Some(length)) = (form.get("filename"), form.get("length")) else {
            return refuse("invalid_arguments");
        };
        let Ok(length) = length.parse::<u64>() else {
            return refuse("invalid_arguments");
        };
        let mut state = self.lock();
        let id = format!("F0{:08}", state.files.len() + 1);
        state.files.insert(id.clone(), (name.clone(), length, None));
        let url = format!("{}{UPLOAD_PREFIX}{id}", state.base);
        Answer::json(&json!({"ok": true, "upload_url": url, "file_id": id}))
    }

    fn upload(&self, request: &Request, id: &str) -> Answer {
        let content_type = request.header("content-type").unwrap_or("");
        let bytes = match multipart::is_form(content_type) {
            true => match multipart::parse(content_type, &request.body) {
                Ok(parts) => match parts.into_iter().find(|p| p.name == "file") {
                    Some(part) => part.data,
                    None => return Answer::new(400, "text/plain", "no file"),
                },
                Err(_) => return Answer::new(400, "text/plain", "bad form"),
            },
            false => request.body.clone(),
        };
        let mut state = self.lock();
        let Some(file) = state.files.get_mut(id) else {
            return Answer::new(404, "text/plain", "not found");
        };
        if bytes.len() as u64 != file.1 {
            return Answer::new(400, "text/plain", "length mismatch");
        }
        let length = bytes.len();
        file.2 = Some(bytes);
        let pause = state.upload_pause;
        drop(state);
        std::thread::sleep(pause);
        Answer::new(200, "text/plain", format!("OK - {length}"))
    }

    fn complete(&self, request: &Request) -> Answer {
        let params: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let Some(files) = params["files"].as_array().filter(|f| !f.is_empty()) else {
            return refuse("invalid_arguments");
        };
        let mut state = self.lock();
        let channel = params["channel_id"].as_str().unwrap_or_default().to_owned();
        if !state.channels.contains(&channel) {
            return refuse("channel_not_found");
        }
        let thread_ts = params["thread_ts"].as_str().map(str::to_owned);
        let mut shares = Vec::new();
        for file in files {
            let id = file["id"].as_str().unwrap_or_default();
            let Some((name, _, Some(bytes))) = state.files.get(id).cloned() else {
                return refuse("file_not_found");
            };
            if state.completed.contains(id) {
                return refuse("file_already_completed");
            }
            let title = file["title"].as_str().map(str::to_owned);
            shares.push((
                id.to_owned(),
                Shared {
                    name,
                    title,
                    bytes,
                    channel: channel.clone(),
                    thread_ts: thread_ts.clone(),
                },
            ));
        }
        let listed: Vec<Value> = shares
            .iter()
            .map(|(id, share)| json!({"id": id, "title": share.title}))
            .collect();
        for (id, share) in shares {
            state.completed.insert(id);
            state.shared.push(share);
        }
        Answer::json(&json!({"ok": true, "files": listed})).delivered()
    }

    fn authorised(&self, request: &Request) -> bool {
        let token = request
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "));
        token.is_some_and(|t| self.lock().tokens.contains(t.trim()))
    }
}

impl Surface for SlackFiles {
    fn answer(&self, request: &Request, _limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        self.lock()
            .calls
            .push(format!("{} {}", request.method, request.path));
        if let Some(id) = request.path.strip_prefix(UPLOAD_PREFIX) {
            return self.upload(request, id);
        }
        if !self.authorised(request) {
            return refuse("invalid_auth");
        }
        match request.path.strip_prefix("/api/") {
            Some("files.getUploadURLExternal") => self.get_upload_url(request),
            Some("files.completeUploadExternal") => self.complete(request),
            _ => refuse("unknown_method"),
        }
    }

    fn throttled(&self, secs: u64) -> Answer {
        Answer::rate_limited("/api/files", secs)
    }
}

/// The Web API's refusal: HTTP 200 with `ok: false` (§2).
fn refuse(code: &str) -> Answer {
    Answer::json(&json!({"ok": false, "error": code}))
}
