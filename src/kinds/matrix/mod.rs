//! `kind = "matrix"`: an `m.room.message` to a room, through a homeserver's
//! client-server API (PLATFORMS.md, "Matrix").
//!
//! Owns the profile's table (`homeserver`, `access_token`, `room`,
//! `msgtype`), the requests (`PUT …/rooms/{roomId}/send/m.room.message/{txnId}`,
//! the directory look-up of a room alias, and `chime test`'s `whoami` and
//! `joined_members`), threads and edits as relations, and the reading of the
//! answers (`answer`). The text of each part is `render`'s. The token goes
//! only in `Authorization: Bearer`: never in a URL, which servers and
//! proxies log and chime prints.
//!
//! # Exactly once
//!
//! Each part gets a transaction ID when it is rendered, kept in its payload
//! and so in the spool entry: every retry of the part, in-process or by a
//! flush, PUTs to the same path, and the homeserver answers a retransmission
//! with the event it made the first time instead of posting again (spec,
//! "Transaction identifiers"; Synapse keeps the mapping a day in its
//! database). A part is kept in the spool with its room's ID, not its alias
//! (`deliver::resolve`), so the path stays the same even if the alias moves.
//!
//! The payload's body is `{"room", "txn_id", "content"}`; only `content`
//! is sent.

mod answer;
mod render;

use std::time::Duration;

use serde_json::{Value, json};

use crate::fields::{Fields, Problem};
use crate::kinds::text::Measure;
use crate::kinds::{Answer, HttpRequest, JSON_UTF8, Payload, Platform, Posted, Target, Threading};
use crate::kinds::{Verdict, telegram::html::escape_attribute};
use crate::message::Message;
use crate::secret::Secret;
use crate::template::Escape;

/// The operations besides sending (`op` "").
const DIRECTORY: &str = "directory";
const WHOAMI: &str = "whoami";
const MEMBERS: &str = "joined_members";

pub struct Matrix {
    homeserver: String,
    token: Secret,
    room: String,
    /// `m.text`, or `m.notice` when the profile asks for it.
    msgtype: &'static str,
}

impl Matrix {
    pub fn from_fields(fields: &mut Fields) -> Matrix {
        let help = "set `homeserver` to the base URL clients use, e.g. homeserver = \"https://matrix.example.org\"";
        let homeserver_span = fields.span_of("homeserver");
        let homeserver = fields
            .required_string("homeserver", "matrix", help)
            .unwrap_or_default();
        let web =
            reqwest::Url::parse(&homeserver).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !homeserver.is_empty() && !web {
            let message = format!(
                "`homeserver` of destination `{}` must be an http(s) URL",
                fields.name
            );
            fields.problem(Problem::new(homeserver_span, message).help(help));
        }
        let help = "set `access_token` to the bot's access token, e.g. access_token = { env = \"MATRIX_TOKEN\" }";
        let token = fields
            .secret_token("access_token", "matrix", help)
            .unwrap_or_else(|| Secret::token(String::new()));
        let help = "set `room` to the room's ID (\"!abc123:example.org\") or an alias (\"#ops:example.org\")";
        let room_span = fields.span_of("room");
        let room = fields
            .required_string("room", "matrix", help)
            .unwrap_or_default();
        if !room.is_empty() && !valid_room(&room) {
            let message = format!(
                "`room` of destination `{}` must be a room ID (!…) or an alias (#name:server)",
                fields.name
            );
            fields.problem(Problem::new(room_span, message).help(help));
        }
        let msgtype_span = fields.span_of("msgtype");
        let msgtype = match fields.string("msgtype").as_deref() {
            None | Some("text" | "m.text") => "m.text",
            Some("notice" | "m.notice") => "m.notice",
            Some(_) => {
                let message = format!(
                    "`msgtype` of destination `{}` must be \"text\" or \"notice\"",
                    fields.name
                );
                fields.problem(Problem::new(msgtype_span, message));
                "m.text"
            }
        };
        Matrix {
            homeserver,
            token,
            room,
            msgtype,
        }
    }
}

/// A room ID (`!opaque:server`, or `!opaque` from room version 12) or an
/// alias (`#name:server`).
fn valid_room(room: &str) -> bool {
    match room.split_at_checked(1) {
        Some(("!", rest)) => !rest.is_empty(),
        Some(("#", rest)) => rest
            .split_once(':')
            .is_some_and(|(n, s)| !n.is_empty() && !s.is_empty()),
        _ => false,
    }
}

/// HTML as `org.matrix.custom.html` wants it: `&`, `<`, `>` and quotes escaped.
pub fn escape(text: &str) -> String {
    escape_attribute(text).replace('\'', "&#39;")
}

/// A path segment, percent-encoded: an alias's `#` would end the path, and
/// every retry must name the same path for its transaction to be known.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char);
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// 128 bits no other chime run picks: the spec asks a transaction ID to be
/// unique for the access token, and two hosts may share the bot's.
fn new_transaction() -> String {
    format!("chime{}", crate::kinds::unique::random_hex128())
}

fn body_of(payload: &Payload) -> Value {
    serde_json::from_str(&payload.body).unwrap_or(Value::Null)
}

impl Matrix {
    fn content(&self, text: render::Text) -> Value {
        json!({
            "msgtype": self.msgtype,
            "body": text.plain,
            "format": "org.matrix.custom.html",
            "formatted_body": text.html,
            // An empty `m.mentions` turns off the legacy push rules that ring
            // for a display name or "@room" found in the text (spec,
            // "User and room mentions"): user text never pings anyone.
            "m.mentions": {},
        })
    }

    fn api(&self, path: &str) -> Secret {
        let base = self.homeserver.trim_end_matches('/');
        Secret::public(&format!("{base}/_matrix/client/v3/{path}"))
    }
}

/// An edit of `original` to say what `content` says (spec, "Event
/// replacements"): the new content whole, and a `* ` fallback for clients
/// that do not know edits.
fn edit(content: &Value, original: &str) -> Value {
    let mut new_content = content.clone();
    if let Some(fields) = new_content.as_object_mut() {
        fields.remove("m.relates_to");
    }
    let starred = |key: &str| format!("* {}", content[key].as_str().unwrap_or_default());
    let mut edit = content.clone();
    edit["body"] = starred("body").into();
    edit["formatted_body"] = starred("formatted_body").into();
    edit["m.new_content"] = new_content;
    edit["m.relates_to"] = json!({"rel_type": "m.replace", "event_id": original});
    edit
}

/// A reply in the thread of `root` (spec, "Threading"), with the rich-reply
/// fallback for clients that do not show threads. chime remembers a key's
/// first message only, so the fallback replies to the root, not to the
/// thread's latest message.
fn in_thread(content: &Value, root: &str) -> Value {
    let mut reply = content.clone();
    reply["m.relates_to"] = json!({
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": true,
        "m.in_reply_to": {"event_id": root},
    });
    reply
}

impl Platform for Matrix {
    fn kind(&self) -> &'static str {
        "matrix"
    }

    fn markup(&self) -> Escape {
        escape
    }

    /// `--channel` and a route's `channel` name another room, by ID or alias.
    fn render(&self, message: &Message, target: &Target) -> Vec<Payload> {
        let room = target.channel.as_deref().unwrap_or(&self.room);
        let transaction = new_transaction();
        render::parts(message)
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                Payload::json(&json!({
                    "room": room,
                    "txn_id": format!("{transaction}.{i}"),
                    "content": self.content(text),
                }))
            })
            .collect()
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        let body = body_of(payload);
        let room = segment(body["room"].as_str().unwrap_or_default());
        let (method, url, sent) = match payload.op.as_str() {
            DIRECTORY => (
                reqwest::Method::GET,
                self.api(&format!("directory/room/{room}")),
                String::new(),
            ),
            WHOAMI => (
                reqwest::Method::GET,
                self.api("account/whoami"),
                String::new(),
            ),
            MEMBERS => (
                reqwest::Method::GET,
                self.api(&format!("rooms/{room}/joined_members")),
                String::new(),
            ),
            _ => {
                let txn = segment(body["txn_id"].as_str().unwrap_or_default());
                let path = format!("rooms/{room}/send/m.room.message/{txn}");
                (
                    reqwest::Method::PUT,
                    self.api(&path),
                    body["content"].to_string(),
                )
            }
        };
        let sent = Payload {
            body: sent,
            ..Payload::json(&Value::Null)
        };
        let mut request = HttpRequest::post(url, &sent, JSON_UTF8)
            .header("authorization", Secret::bearer(&self.token));
        request.method = method;
        request
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        answer::classify(answer)
    }

    /// A send's event is in the payload's room; an edit stands for the
    /// message it edits, which later edits must name too (an edit of an
    /// edit is ignored).
    fn classify_sent(&self, payload: &Payload, answer: &Answer) -> Verdict {
        let verdict = answer::classify(answer);
        let Verdict::Delivered { ts, .. } = &verdict else {
            return verdict;
        };
        if !payload.op.is_empty() {
            return verdict;
        }
        let body = body_of(payload);
        let relation = &body["content"]["m.relates_to"];
        let edited = (relation["rel_type"] == "m.replace")
            .then(|| relation["event_id"].as_str().map(str::to_owned))
            .flatten();
        Verdict::Delivered {
            channel: body["room"].as_str().map(str::to_owned),
            ts: edited.or_else(|| ts.clone()),
        }
    }

    /// An alias is looked up in the room directory, once: its room's ID is
    /// remembered beside the thread keys.
    fn lookup(&self, payload: &Payload) -> Option<(String, Payload)> {
        if !matches!(payload.op.as_str(), "" | MEMBERS) {
            return None;
        }
        let room = body_of(payload)["room"].as_str()?.to_owned();
        let look = Payload {
            op: DIRECTORY.into(),
            ..Payload::json(&json!({"room": room}))
        };
        room.starts_with('#').then_some((room, look))
    }

    fn found(&self, payload: &Payload, id: &str) -> Payload {
        let mut body = body_of(payload);
        body["room"] = id.into();
        Payload {
            body: body.to_string(),
            ..payload.clone()
        }
    }

    /// Who the token is, then whether that user is in the room: nothing posted.
    fn probe(&self, _message: &Message, _target: &Target) -> Vec<Payload> {
        let whoami = Payload {
            op: WHOAMI.into(),
            ..Payload::json(&json!({}))
        };
        let members = Payload {
            op: MEMBERS.into(),
            ..Payload::json(&json!({"room": self.room}))
        };
        vec![whoami, members]
    }

    /// A click in Matrix is a reaction or a reply read from `/sync`, which
    /// chime does not follow (yet).
    fn asking(&self) -> Result<crate::kinds::Asking, String> {
        let why = ": chime does not read a room's replies or reactions";
        Err(crate::kinds::cannot_ask(
            "matrix",
            "the client-server API",
            why,
        ))
    }

    fn threading(&self) -> Threading {
        Threading::ByMessage
    }

    fn edits(&self) -> bool {
        true
    }

    /// A reply goes in the thread of the key's first message, an edit
    /// replaces it; either in the room that message is in, with the part's
    /// own transaction ID.
    fn attach(&self, payload: &Payload, parent: &Posted) -> Payload {
        let Some(thread) = &payload.thread else {
            return payload.clone();
        };
        if !payload.op.is_empty() {
            return payload.clone();
        }
        let mut body = body_of(payload);
        body["room"] = parent.channel.as_str().into();
        body["content"] = match thread.edit {
            true => edit(&body["content"], &parent.ts),
            false => in_thread(&body["content"], &parent.ts),
        };
        payload.reworked(&body, "")
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        let mut out = vec![
            ("homeserver", self.homeserver.as_str().into()),
            ("access_token", self.token.to_string().into()),
            ("room", self.room.as_str().into()),
        ];
        if self.msgtype == "m.notice" {
            out.push(("msgtype", "notice".into()));
        }
        out
    }

    /// For `chime pipe`: a part holds 29,000 bytes of JSON for its HTML and
    /// its plain text together, each about the size of the text.
    fn batch_limit(&self) -> usize {
        13_000
    }

    fn measure(&self) -> Measure {
        Measure::Bytes
    }

    /// Synapse's default `rc_message`: a burst of 10, then one every 5 s.
    fn pace(&self) -> Duration {
        Duration::from_secs(5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_ids_or_aliases_with_a_server() {
        assert!(valid_room("!abc:example.org"));
        assert!(valid_room("!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"));
        assert!(valid_room("#ops:example.org"));
        assert!(!valid_room("#ops"));
        assert!(!valid_room("ops"));
        assert!(!valid_room("!"));
    }

    #[test]
    fn an_alias_is_percent_encoded_in_the_path() {
        assert_eq!(segment("#ops:example.org"), "%23ops%3Aexample.org");
        assert_eq!(segment("chime0f.1"), "chime0f.1");
    }

    #[test]
    fn transaction_ids_differ_between_messages() {
        assert_ne!(new_transaction(), new_transaction());
        assert_eq!(new_transaction().len(), 37);
    }

    #[test]
    fn an_edit_carries_the_new_content_and_a_starred_fallback() {
        let content = json!({"msgtype": "m.text", "body": "b", "format": "org.matrix.custom.html",
            "formatted_body": "<b>b</b>", "m.mentions": {}});
        let edit = edit(&content, "$orig");
        assert_eq!(edit["body"], "* b");
        assert_eq!(edit["formatted_body"], "* <b>b</b>");
        assert_eq!(edit["m.new_content"], content);
        assert_eq!(edit["m.relates_to"]["rel_type"], "m.replace");
        assert_eq!(edit["m.relates_to"]["event_id"], "$orig");
    }
}
