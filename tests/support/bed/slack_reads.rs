//! What the bed remembers of a Slack workspace, and the Web API methods that read it back
//! (PLATFORMS.md §2.8): the message store (every chat.postMessage and chat.update, content
//! and metadata included), the people and user groups a test adds, and the methods
//! `chime ask` reads them with — conversations.history and .replies, users.list and .info,
//! usergroups.users.list — plus chat.postEphemeral, which writes to no store anyone reads.
//!
//! Every method here checks the bot token as chat.postMessage does, answers `missing_scope`
//! for a scope a test denied, spends a token from its own per-method bucket (Slack's tiers
//! are per method, per app), and takes its arguments from the query string, a form body or
//! a JSON body, as Slack's read methods do. Posting, its checks and its answers stay in
//! `bed.rs`; Socket Mode's envelopes are `socket_mode.rs`'s.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::{Answer, Bed, Request, State, check_message};

/// Every scope the bed's bot token holds, in the order `provided` lists them.
const SCOPES: [&str; 5] = [
    "chat:write",
    "channels:history",
    "channels:read",
    "users:read",
    "usergroups:read",
];
/// conversations.history's default and largest `limit` (§2.7).
const HISTORY_LIMIT: (usize, usize) = (100, 999);
/// conversations.list's: "Must be an integer under 1000" (§2.7).
const LIST_LIMIT: (usize, usize) = (100, 999);
/// The workspace every user and click belongs to, as the webhook paths name it.
pub const TEAM: &str = "T0TESTTEAM";

/// One Web API message as Slack keeps it: what chat.postMessage answered, and its metadata.
#[derive(Clone)]
struct Stored {
    channel: String,
    message: Value,
    metadata: Option<Value>,
}

impl Stored {
    fn ts(&self) -> &str {
        self.message["ts"].as_str().unwrap_or("")
    }

    /// The thread this message belongs to, if any: its parent's ts.
    fn thread(&self) -> Option<&str> {
        self.message["thread_ts"].as_str()
    }

    fn is_reply(&self) -> bool {
        self.thread().is_some_and(|parent| parent != self.ts())
    }
}

/// The Web API messages posted so far, in posting order.
#[derive(Default)]
pub struct Messages(Vec<Stored>);

impl Messages {
    fn find(&self, channel: &str, ts: &str) -> Option<&Stored> {
        self.0.iter().find(|s| s.channel == channel && s.ts() == ts)
    }

    pub fn contains(&self, channel: &str, ts: &str) -> bool {
        self.find(channel, ts).is_some()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Keeps `posted` (the answer's `message`) as sent with `request`. An update replaces
    /// only what it names: Slack keeps the previous metadata when `metadata` is absent
    /// (§2.8), and the bed keeps text, blocks and attachments the same way.
    pub fn save(&mut self, channel: &str, request: &Value, posted: &Value, update: bool) -> Value {
        let mut message = posted.clone();
        fill_ids(&mut message);
        let metadata = metadata(request).ok().flatten();
        let ts = posted["ts"].as_str().unwrap_or("");
        let kept = self
            .0
            .iter()
            .position(|s| s.channel == channel && s.ts() == ts);
        match kept.filter(|_| update) {
            Some(at) => {
                let stored = &mut self.0[at];
                for key in ["text", "blocks", "attachments"] {
                    if !request[key].is_null() {
                        stored.message[key] = message[key].clone();
                    }
                }
                // chat.update's `metadata: {}` removes it; no `metadata` keeps it.
                stored.metadata = match metadata {
                    Some(m) if m.as_object().is_some_and(|o| o.is_empty()) => None,
                    Some(m) => Some(m),
                    None => stored.metadata.take(),
                };
                stored.message.clone()
            }
            None => {
                let channel = channel.to_owned();
                let metadata = metadata.filter(|m| m.as_object().is_none_or(|o| !o.is_empty()));
                self.0.push(Stored {
                    channel,
                    message: message.clone(),
                    metadata,
                });
                message
            }
        }
    }

    /// The message as conversations.history shows it: thread fields on a parent, and its
    /// metadata when `with_metadata`.
    fn shown(&self, stored: &Stored, with_metadata: bool) -> Value {
        let mut message = stored.message.clone();
        let ts = stored.ts();
        let replies: Vec<&Stored> = self.0.iter().filter(|s| is_reply_to(s, stored)).collect();
        if let Some(latest) = replies.last() {
            message["thread_ts"] = ts.into();
            message["reply_count"] = replies.len().into();
            message["latest_reply"] = latest.ts().into();
        }
        if let Some(metadata) = stored.metadata.as_ref().filter(|_| with_metadata) {
            message["metadata"] = metadata.clone();
        }
        message
    }

    /// The message with its metadata, as a test reads it back ([`super::Bed::message`]).
    pub fn read(&self, channel: &str, ts: &str) -> Option<Value> {
        self.find(channel, ts).map(|s| self.shown(s, true))
    }

    /// Where each message chime posted as a question went, in posting order:
    /// those whose metadata is `chime_ask`'s, before or after it was settled.
    pub fn questions(&self) -> Vec<(String, String)> {
        let asked = self.0.iter().filter(|s| {
            s.metadata.as_ref().is_some_and(|m| {
                m["event_type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("chime_ask"))
            })
        });
        asked
            .map(|s| (s.channel.clone(), s.ts().to_owned()))
            .collect()
    }

    /// The stored message as Slack hands it to an app in a click's payload.
    pub fn raw(&self, channel: &str, ts: &str) -> Option<Value> {
        self.find(channel, ts).map(|s| s.message.clone())
    }
}

fn is_reply_to(reply: &Stored, parent: &Stored) -> bool {
    reply.channel == parent.channel && reply.is_reply() && reply.thread() == Some(parent.ts())
}

/// Slack gives every block a `block_id` and every button an `action_id` the poster left
/// out; the generated ones here are plainly the bed's. The stored copy carries them, as
/// history and a click's payload do; the answer to chat.postMessage shows the blocks as sent.
fn fill_ids(message: &mut Value) {
    let Some(blocks) = message["blocks"].as_array_mut() else {
        return;
    };
    for (i, block) in blocks.iter_mut().enumerate() {
        if block["block_id"].is_null() {
            block["block_id"] = format!("bed.{i}").into();
        }
        let Some(parts) = block.as_object_mut() else {
            continue;
        };
        // The accessory and the elements are separate members, so both can be borrowed.
        let mut all: Vec<&mut Value> = vec![];
        for (key, part) in parts.iter_mut() {
            match (key.as_str(), part) {
                ("accessory", part) => all.push(part),
                ("elements", Value::Array(elements)) => all.extend(elements.iter_mut()),
                _ => {}
            }
        }
        for (j, element) in all.into_iter().enumerate() {
            if element["type"] == "button" && element["action_id"].is_null() {
                element["action_id"] = format!("bed.{i}.{j}").into();
            }
        }
    }
}

/// A message's `metadata` argument: `{event_type, event_payload}` as an object, or as a
/// string of one (how a form body carries it); `{}` is chat.update's way to remove it.
/// `Err` is `invalid_metadata_format`.
pub fn metadata(request: &Value) -> Result<Option<Value>, &'static str> {
    let value = match &request["metadata"] {
        Value::Null => return Ok(None),
        Value::String(s) => serde_json::from_str(s).map_err(|_| "invalid_metadata_format")?,
        other => other.clone(),
    };
    if value.as_object().is_some_and(|o| o.is_empty()) {
        return Ok(Some(value));
    }
    let typed = value["event_type"].as_str().is_some_and(|t| !t.is_empty());
    if !typed || !value["event_payload"].is_object() {
        return Err("invalid_metadata_format");
    }
    Ok(Some(value))
}

/// A person in the workspace.
#[derive(Clone)]
struct User {
    id: String,
    handle: String,
    real_name: String,
}

impl User {
    /// A member as users.list and users.info show one.
    fn member(&self) -> Value {
        json!({"id": self.id, "team_id": TEAM, "name": self.handle, "deleted": false,
               "real_name": self.real_name, "is_bot": false,
               "profile": {"display_name": self.handle, "real_name": self.real_name}})
    }
}

/// The workspace's people and groups, and what tests arranged around them.
#[derive(Default)]
pub struct Directory {
    users: Vec<User>,
    groups: Vec<(String, Vec<String>)>,
    /// Scopes a test took away ([`super::Bed::deny_scope`]).
    denied: HashSet<String>,
    /// (channel id, user id): users not in a channel; everyone else is in every one.
    outside: HashSet<(String, String)>,
    /// chat.postEphemeral's messages, as (channel id, user id, text).
    pub ephemerals: Vec<(String, String, String)>,
}

impl Directory {
    pub fn add_user(&mut self, id: &str, handle: &str, real_name: &str) {
        self.users.retain(|u| u.id != id);
        let (id, handle, real_name) = (id.into(), handle.into(), real_name.into());
        self.users.push(User {
            id,
            handle,
            real_name,
        });
    }

    pub fn add_group(&mut self, id: &str, members: &[&str]) {
        self.groups.retain(|(g, _)| g != id);
        let members = members.iter().map(|m| (*m).to_owned()).collect();
        self.groups.push((id.to_owned(), members));
    }

    /// A method stands for its scope: Slack grants scopes, not methods.
    pub fn deny(&mut self, method_or_scope: &str) {
        let scope = scope_of(method_or_scope).unwrap_or(method_or_scope);
        self.denied.insert(scope.to_owned());
    }

    pub fn keep_out(&mut self, channel: &str, user: &str) {
        self.outside.insert((channel.to_owned(), user.to_owned()));
    }

    /// The handle of `id`, for a click's `user`; a user no test added is named by its ID.
    pub fn handle(&self, id: &str) -> String {
        let found = self.users.iter().find(|u| u.id == id);
        found.map_or_else(|| id.to_ascii_lowercase(), |u| u.handle.clone())
    }
}

/// The scope each read method needs; chat.postEphemeral's is chat:write.
fn scope_of(method: &str) -> Option<&'static str> {
    Some(match method {
        "conversations.history" | "conversations.replies" => "channels:history",
        "conversations.list" => "channels:read",
        "users.list" | "users.info" => "users:read",
        "usergroups.users.list" => "usergroups:read",
        "chat.postEphemeral" => "chat:write",
        _ => return None,
    })
}

/// True for the methods this module answers.
pub fn serves(method: &str) -> bool {
    scope_of(method).is_some()
}

fn refuse(code: &str) -> Answer {
    Answer::json(&json!({"ok": false, "error": code}))
}

/// Answers one of the methods [`serves`] names.
pub fn answer(state: &mut State, request: &Request, method: &str) -> Answer {
    let token = match bot_token(state, request) {
        Ok(token) => token,
        Err(code) => return refuse(code),
    };
    if let Some(refusal) = missing_scope(&state.slack, method) {
        return refusal;
    }
    if let Err(secs) = state.take(&format!("{method} {token}")) {
        return Answer::rate_limited(&request.path, secs);
    }
    let args = match params(request) {
        Ok(args) => args,
        Err(code) => return refuse(code),
    };
    let body = match method {
        "conversations.history" => history(state, &args),
        "conversations.replies" => replies(state, &args),
        "conversations.list" => channels_list(state, &args),
        "users.list" => users_list(&state.slack, &args),
        "users.info" => users_info(&state.slack, &args),
        "usergroups.users.list" => group_members(&state.slack, &args),
        _ => return ephemeral(state, &args),
    };
    Answer::json(&body.unwrap_or_else(|code| json!({"ok": false, "error": code})))
}

/// The bearer token, when it is one of the bed's bot tokens.
fn bot_token(state: &State, request: &Request) -> Result<String, &'static str> {
    let auth = request.header("authorization").unwrap_or("");
    let token = auth
        .split_once(' ')
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"));
    let token = token.map(|(_, t)| t.trim()).filter(|t| !t.is_empty());
    match token {
        None => Err("not_authed"),
        Some(t) if state.tokens.contains(t) => Ok(t.to_owned()),
        Some(_) => Err("invalid_auth"),
    }
}

/// Slack's refusal of a token without the method's scope names the scope it needed and
/// every scope the token has (§2.8).
fn missing_scope(slack: &Directory, method: &str) -> Option<Answer> {
    let needed = scope_of(method)?;
    if !slack.denied.contains(needed) {
        return None;
    }
    let provided: Vec<&str> = SCOPES
        .into_iter()
        .filter(|s| *s != needed && !slack.denied.contains(*s))
        .collect();
    let body = json!({"ok": false, "error": "missing_scope", "needed": needed,
                      "provided": provided.join(",")});
    Some(Answer::json(&body))
}

/// The arguments from the query string and the body, form-encoded or JSON; the body's win.
fn params(request: &Request) -> Result<Map<String, Value>, &'static str> {
    let mut args = Map::new();
    let query = request.query.as_deref().unwrap_or("").as_bytes();
    for (key, value) in url::form_urlencoded::parse(query) {
        args.insert(key.into_owned(), value.into_owned().into());
    }
    let kind = request.header("content-type").unwrap_or("");
    if request.body.is_empty() {
        return Ok(args);
    }
    if kind.to_ascii_lowercase().contains("json") {
        match serde_json::from_slice(&request.body) {
            Ok(Value::Object(body)) => args.extend(body),
            Ok(_) => return Err("json_not_object"),
            Err(_) => return Err("invalid_json"),
        }
    } else {
        for (key, value) in url::form_urlencoded::parse(&request.body) {
            args.insert(key.into_owned(), value.into_owned().into());
        }
    }
    Ok(args)
}

/// An argument as text: form values are strings, JSON ones may be numbers or booleans.
fn arg(args: &Map<String, Value>, key: &str) -> Option<String> {
    match args.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn flag(args: &Map<String, Value>, key: &str) -> bool {
    matches!(arg(args, key).as_deref(), Some("true" | "1"))
}

/// A `limit`: absent or 0 means the method's default.
fn limit(args: &Map<String, Value>, default: usize, max: usize) -> Result<usize, &'static str> {
    match arg(args, "limit").map(|l| l.parse::<usize>()) {
        None | Some(Ok(0)) => Ok(default),
        Some(Ok(n)) => Ok(n.min(max)),
        Some(Err(_)) => Err("invalid_limit"),
    }
}

/// A ts as a number that orders: seconds, then microseconds.
fn ts_key(ts: &str) -> (u64, u64) {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    let micros = format!("{micros:0<6}");
    (secs.parse().unwrap_or(0), micros[..6].parse().unwrap_or(0))
}

/// The conversation's ID, once the bot can read it: Slack answers `not_in_channel` for a
/// conversation the bot is not a member of. The reads take an ID, never a name: `#deploys`
/// is `channel_not_found` (§2.7), as chat.postMessage alone resolves names.
fn readable(state: &State, args: &Map<String, Value>) -> Result<String, &'static str> {
    let wanted = arg(args, "channel").ok_or("channel_not_found")?;
    let channel = state.channel(&wanted).ok_or("channel_not_found")?;
    if channel.id != wanted {
        return Err("channel_not_found");
    }
    if !channel.member {
        return Err("not_in_channel");
    }
    Ok(channel.id)
}

/// The window `oldest`..`latest` (exclusive unless `inclusive`, as Slack has it).
fn in_window(args: &Map<String, Value>) -> impl Fn(&str) -> bool {
    let bound = |key| arg(args, key).map(|ts| ts_key(&ts));
    let (oldest, latest, inclusive) = (bound("oldest"), bound("latest"), flag(args, "inclusive"));
    move |ts: &str| {
        let ts = ts_key(ts);
        let after = oldest.is_none_or(|o| ts > o || (inclusive && ts == o));
        let before = latest.is_none_or(|l| ts < l || (inclusive && ts == l));
        after && before
    }
}

/// conversations.history: the channel's top-level messages, newest first, a page at a time.
fn history(state: &State, args: &Map<String, Value>) -> Result<Value, &'static str> {
    let channel = readable(state, args)?;
    let limit = limit(args, HISTORY_LIMIT.0, HISTORY_LIMIT.1)?;
    let window = in_window(args);
    let shown = |s: &&Stored| s.channel == channel && !s.is_reply() && window(s.ts());
    let mut found: Vec<&Stored> = state.messages.0.iter().filter(shown).collect();
    found.sort_by_key(|s| std::cmp::Reverse(ts_key(s.ts())));
    let start = match arg(args, "cursor") {
        None => 0,
        Some(cursor) => resume_at(&found, &cursor)?,
    };
    let with_metadata = flag(args, "include_all_metadata");
    let page = found.iter().skip(start).take(limit);
    let messages: Vec<Value> = page
        .map(|s| state.messages.shown(s, with_metadata))
        .collect();
    let next = found
        .get(start + limit)
        .map(|s| encode(&format!("next_ts:{}", s.ts())));
    let mut body = json!({"ok": true, "messages": messages, "has_more": next.is_some(),
                          "pin_count": 0});
    if let Some(next) = next {
        body["response_metadata"] = json!({"next_cursor": next});
    }
    Ok(body)
}

/// conversations.list: the channels, a page at a time (`limit` 100 by default, under 1000),
/// with the cursor of the next page; every channel of the bed is public and unarchived.
fn channels_list(state: &State, args: &Map<String, Value>) -> Result<Value, &'static str> {
    let limit = limit(args, LIST_LIMIT.0, LIST_LIMIT.1)?;
    let public =
        arg(args, "types").is_none_or(|t| t.split(',').any(|t| t.trim() == "public_channel"));
    let channels: Vec<Value> = state
        .channels
        .iter()
        .filter(|_| public)
        .map(|c| {
            json!({"id": c.id, "name": c.name, "is_channel": true, "is_private": false,
                   "is_archived": false, "is_member": c.member})
        })
        .collect();
    let start = match arg(args, "cursor") {
        None => 0,
        Some(cursor) => (0..channels.len())
            .find(|i| encode(&format!("next_index:{i}")) == cursor)
            .ok_or("invalid_cursor")?,
    };
    let page: Vec<Value> = channels.iter().skip(start).take(limit).cloned().collect();
    let next = match start + limit < channels.len() {
        true => encode(&format!("next_index:{}", start + limit)),
        false => String::new(),
    };
    Ok(json!({"ok": true, "channels": page, "response_metadata": {"next_cursor": next}}))
}

/// Where a history cursor (`next_ts:<ts>`, base64, as Slack's are) resumes.
fn resume_at(found: &[&Stored], cursor: &str) -> Result<usize, &'static str> {
    let at = found
        .iter()
        .position(|s| encode(&format!("next_ts:{}", s.ts())) == cursor);
    at.ok_or("invalid_cursor")
}

/// conversations.replies: the thread's parent, then its replies in `oldest`..`latest`,
/// oldest first. A reply's ts finds its whole thread; a message that started none is a
/// thread of one. The parent comes first whatever the window, and counts in `limit`, as
/// Slack's first page has it (only a cursor's later pages leave it out).
fn replies(state: &State, args: &Map<String, Value>) -> Result<Value, &'static str> {
    let channel = readable(state, args)?;
    let ts = arg(args, "ts").ok_or("thread_not_found")?;
    let asked = state
        .messages
        .find(&channel, &ts)
        .ok_or("thread_not_found")?;
    let root = asked.thread().unwrap_or(asked.ts()).to_owned();
    let window = in_window(args);
    let in_thread = |s: &&Stored| {
        let reply = s.ts() != root && s.thread() == Some(root.as_str());
        s.channel == channel && reply && window(s.ts())
    };
    let mut replies: Vec<&Stored> = state.messages.0.iter().filter(in_thread).collect();
    replies.sort_by_key(|s| ts_key(s.ts()));
    let parent = state.messages.find(&channel, &root);
    let thread: Vec<&Stored> = parent.into_iter().chain(replies).collect();
    let limit = limit(args, 1000, 1000)?;
    let with_metadata = flag(args, "include_all_metadata");
    let page = thread.iter().take(limit);
    let messages: Vec<Value> = page
        .map(|s| state.messages.shown(s, with_metadata))
        .collect();
    Ok(json!({"ok": true, "messages": messages, "has_more": thread.len() > limit}))
}

/// users.list: members in the order added, `limit` at a time; the last page's
/// `next_cursor` is empty, as Slack's is.
fn users_list(slack: &Directory, args: &Map<String, Value>) -> Result<Value, &'static str> {
    let users = &slack.users;
    let limit = limit(args, users.len().max(1), 1000)?;
    let cursor = |u: &User| encode(&format!("user:{}", u.id));
    let start = match arg(args, "cursor") {
        None => 0,
        Some(wanted) => users
            .iter()
            .position(|u| cursor(u) == wanted)
            .ok_or("invalid_cursor")?,
    };
    let members: Vec<Value> = users
        .iter()
        .skip(start)
        .take(limit)
        .map(User::member)
        .collect();
    let next = users.get(start + limit).map(cursor).unwrap_or_default();
    Ok(
        json!({"ok": true, "members": members, "cache_ts": now_secs(),
              "response_metadata": {"next_cursor": next}}),
    )
}

fn users_info(slack: &Directory, args: &Map<String, Value>) -> Result<Value, &'static str> {
    let id = arg(args, "user").unwrap_or_default();
    let user = slack
        .users
        .iter()
        .find(|u| u.id == id)
        .ok_or("user_not_found")?;
    Ok(json!({"ok": true, "user": user.member()}))
}

fn group_members(slack: &Directory, args: &Map<String, Value>) -> Result<Value, &'static str> {
    let id = arg(args, "usergroup").unwrap_or_default();
    let group = slack.groups.iter().find(|(g, _)| *g == id);
    let (_, members) = group.ok_or("no_such_subteam")?;
    Ok(json!({"ok": true, "users": members}))
}

/// chat.postEphemeral: shown to one user in the channel, kept nowhere a read finds it.
fn ephemeral(state: &mut State, args: &Map<String, Value>) -> Answer {
    let message = Value::Object(args.clone());
    let channel = match readable(state, args) {
        Ok(channel) => channel,
        Err(code) => return refuse(code),
    };
    let Some(user) = arg(args, "user") else {
        return refuse("user_not_found");
    };
    if state
        .slack
        .outside
        .contains(&(channel.clone(), user.clone()))
    {
        return refuse("user_not_in_channel");
    }
    if let Err((code, _)) = check_message(&parsed_blocks(message)) {
        return refuse(code);
    }
    let text = arg(args, "text").unwrap_or_default();
    state.slack.ephemerals.push((channel, user, text));
    let ts = state.next_ts();
    Answer::json(&json!({"ok": true, "message_ts": ts})).delivered()
}

/// A form body carries `blocks` as a string of JSON; the checks want the array.
fn parsed_blocks(mut message: Value) -> Value {
    for key in ["blocks", "attachments"] {
        if let Some(parsed) = message[key]
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
        {
            message[key] = parsed;
        }
    }
    message
}

fn now_secs() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.unwrap_or_default().as_secs()
}

/// Standard base64 with padding, for cursors shaped like Slack's.
fn encode(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            let shown = i <= chunk.len();
            let sextet = (n >> (18 - 6 * i)) & 63;
            out.push(if shown {
                ALPHABET[sextet as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

impl Bed {
    /// Message `ts` in `channel_id` as conversations.history shows it with
    /// `include_all_metadata`: content after every chat.update, thread fields, metadata.
    pub fn message(&self, channel_id: &str, ts: &str) -> Option<Value> {
        self.shared.lock().messages.read(channel_id, ts)
    }

    /// The questions `chime ask` posted, as (channel id, ts), in posting order.
    pub fn questions(&self) -> Vec<(String, String)> {
        self.shared.lock().messages.questions()
    }

    /// Adds a person to the workspace (`U0ALICE`, `alice`, `Alice Liddell`), listed by
    /// users.list in the order added and found by users.info.
    pub fn add_user(&self, id: &str, handle: &str, real_name: &str) {
        self.shared.lock().slack.add_user(id, handle, real_name);
    }

    /// Creates user group `id` (`S0…`) with these members, for usergroups.users.list.
    pub fn add_usergroup(&self, id: &str, members: &[&str]) {
        self.shared.lock().slack.add_group(id, members);
    }

    /// Takes a scope (`users:read`), or a method's scope (`users.list`), from the bot token:
    /// every method needing it answers `missing_scope`.
    pub fn deny_scope(&self, method_or_scope: &str) {
        self.shared.lock().slack.deny(method_or_scope);
    }

    /// Takes `user_id` out of channel `channel_id`: chat.postEphemeral to them there answers
    /// `user_not_in_channel`. Everyone else is in every channel.
    pub fn remove_member(&self, channel_id: &str, user_id: &str) {
        self.shared.lock().slack.keep_out(channel_id, user_id);
    }

    /// chat.postEphemeral's messages so far, as (channel id, user id, text).
    pub fn ephemerals(&self) -> Vec<(String, String, String)> {
        self.shared.lock().slack.ephemerals.clone()
    }
}
