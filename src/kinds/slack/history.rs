//! Finding a thread by its key on Slack, for a runner that remembers
//! nothing: the first message under a key carries it in message metadata,
//! and a key no host remembers is looked for in the channel's history
//! (`conversations.history` with `include_all_metadata`, by ID; a channel
//! given by name is found in `conversations.list` first). PLATFORMS.md §2.7.

use serde_json::{Value, json};

use crate::kinds::{Answer, Payload, Posted, Search};

/// Where a key no host remembers is looked for (PLATFORMS.md §2.9).
pub(super) const HISTORY: &str = "conversations.history";
/// How many of the channel's latest messages that look reads: one page.
const HISTORY_PAGE: &str = "100";
/// Where a channel given by name is found (§2.7), a page at a time.
pub(super) const LIST: &str = "conversations.list";
/// "Must be an integer under 1000."
const LIST_PAGE: &str = "999";
/// The metadata event that marks the first message under a thread key.
const THREAD_EVENT: &str = "chime_thread";
/// Slack's read methods take a form, not JSON.
pub(super) const FORM: &str = "application/x-www-form-urlencoded";

/// One page of the channel's latest messages since `oldest`, with their
/// metadata.
fn history(channel: &str, oldest: u64) -> Payload {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("channel", channel)
        .append_pair("include_all_metadata", "true")
        .append_pair("oldest", &oldest.to_string())
        .append_pair("limit", HISTORY_PAGE)
        .finish();
    read_method(HISTORY, form)
}

/// A page of the public channels, from `cursor`. Not the private ones:
/// asking for `private_channel` without `groups:read` is `invalid_types`
/// for the whole list, and a private channel given by ID needs no list.
fn channels(cursor: &str) -> Payload {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("types", "public_channel")
        .append_pair("exclude_archived", "true")
        .append_pair("limit", LIST_PAGE);
    if !cursor.is_empty() {
        form.append_pair("cursor", cursor);
    }
    read_method(LIST, form.finish())
}

fn read_method(method: &str, form: String) -> Payload {
    Payload {
        body: form,
        op: method.into(),
        ..Payload::json(&Value::Null)
    }
}

/// What a page of conversations.list says of the channel `wanted` (a
/// name, with or without `#`): its history is the next step, or the next
/// page is.
fn channel_found(body: &Value, wanted: &str, oldest: u64) -> Search {
    let name = wanted.trim_start_matches('#');
    let found = body["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"].as_str() == Some(name));
    if let Some(id) = found.and_then(|c| c["id"].as_str()) {
        return Search::ChannelId(id.to_owned(), history(id, oldest));
    }
    match body["response_metadata"]["next_cursor"].as_str() {
        Some(cursor) if !cursor.is_empty() => Search::Next(channels(cursor)),
        _ => Search::Missing,
    }
}

/// A read method's `{"ok": true}` answer, or why it is not one.
fn read_answer(method: &str, answer: &Answer) -> Result<Value, String> {
    if answer.status == 429 {
        return Err(format!("{method} is rate limited"));
    }
    let body: Value = serde_json::from_str(&answer.body)
        .map_err(|_| format!("{method} answered {} without JSON", answer.status))?;
    if body["ok"] == true {
        return Ok(body);
    }
    let code = body["error"].as_str().unwrap_or("unknown_error");
    Err(match body["needed"].as_str() {
        Some(scope) => format!("{method}: {code} (the token needs {scope})"),
        None => format!("{method}: {code}"),
    })
}

fn form_value(form: &str, key: &str) -> String {
    url::form_urlencoded::parse(form.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `C0123ABCD`, `G…`, `D…`: a conversation's ID rather than its name.
fn is_channel_id(channel: &str) -> bool {
    channel.len() >= 9
        && channel.starts_with(['C', 'G', 'D'])
        && channel
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Message metadata carries the key, so that a runner with an empty
/// disk finds the thread in the channel's history; a part that has
/// metadata of its own (a `chime ask` question) keeps it.
pub(super) fn mark_first(payload: &Payload) -> Payload {
    let Some(thread) = payload.thread.as_ref().filter(|_| payload.op.is_empty()) else {
        return payload.clone();
    };
    let Ok(mut body) = serde_json::from_str::<Value>(&payload.body) else {
        return payload.clone();
    };
    let Some(fields) = body.as_object_mut().filter(|f| !f.contains_key("metadata")) else {
        return payload.clone();
    };
    let metadata = json!({"event_type": THREAD_EVENT, "event_payload": {"key": thread.key}});
    fields.insert("metadata".into(), metadata);
    payload.reworked(&body, "")
}

/// The first request of a look for `payload`'s thread: in the channel by ID; a channel given by name is found first in
/// conversations.list, since conversations.history takes IDs only.
pub(super) fn search(payload: &Payload, oldest: u64, channel_id: Option<&str>) -> Option<Payload> {
    payload.thread.as_ref()?;
    let body: Value = serde_json::from_str(&payload.body).ok()?;
    let channel = body["channel"].as_str()?;
    Some(match channel_id {
        Some(id) => history(id, oldest),
        None if is_channel_id(channel) => history(channel, oldest),
        None => channels(""),
    })
}

/// What the answer to one step of the look found.
pub(super) fn found(
    payload: &Payload,
    search: &Payload,
    answer: &Answer,
    oldest: u64,
) -> Result<Search, String> {
    let body = read_answer(&search.op, answer)?;
    if search.op == LIST {
        let wanted: Value = serde_json::from_str(&payload.body).unwrap_or_default();
        let wanted = wanted["channel"].as_str().unwrap_or_default();
        return Ok(channel_found(&body, wanted, oldest));
    }
    let key = payload.thread.as_ref().map(|t| t.key.as_str());
    let channel = form_value(&search.body, "channel");
    let marked = body["messages"].as_array().into_iter().flatten().find(|m| {
        m["metadata"]["event_type"] == THREAD_EVENT
            && m["metadata"]["event_payload"]["key"].as_str() == key
    });
    Ok(marked
        .and_then(|m| {
            let ts = m["ts"].as_str()?.to_owned();
            let at = ts.split('.').next()?.parse().ok()?;
            Some(Search::Found(Posted { channel, ts, at }))
        })
        .unwrap_or(Search::Missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::ThreadRef;

    fn first(channel: &str) -> Payload {
        let mut payload = Payload::json(&json!({"channel": channel, "text": "hi"}));
        payload.thread = Some(ThreadRef {
            key: "deploy-9".into(),
            edit: false,
            broadcast: false,
        });
        payload
    }

    fn answer(body: Value) -> Answer {
        Answer {
            status: 200,
            retry_after: None,
            body: body.to_string(),
        }
    }

    #[test]
    fn only_conversation_ids_are_read_directly() {
        assert!(is_channel_id("C0DEPLOYS"));
        assert!(is_channel_id("G012345678"));
        assert!(!is_channel_id("#deploys"));
        assert!(!is_channel_id("deploys"));
        assert!(!is_channel_id("C0de"));
    }

    #[test]
    fn a_named_channel_is_listed_page_by_page_until_its_id_is_found() {
        let payload = first("#deploys");
        let list = search(&payload, 0, None).expect("a look");
        assert_eq!(list.op, LIST);
        let page = json!({"ok": true, "channels": [{"id": "C0OTHER1", "name": "other"}],
                          "response_metadata": {"next_cursor": "abc"}});
        let Ok(Search::Next(next)) = found(&payload, &list, &answer(page), 0) else {
            panic!("the next page");
        };
        assert_eq!(form_value(&next.body, "cursor"), "abc");
        let page = json!({"ok": true, "channels": [{"id": "C0DEPLOYS", "name": "deploys"}]});
        let Ok(Search::ChannelId(id, history)) = found(&payload, &next, &answer(page), 7) else {
            panic!("the channel's ID");
        };
        assert_eq!(id, "C0DEPLOYS");
        assert_eq!(history.op, HISTORY);
        assert_eq!(form_value(&history.body, "oldest"), "7");
    }

    #[test]
    fn the_history_finds_the_message_marked_with_the_key_and_no_other() {
        let payload = first("C0DEPLOYS");
        let look = search(&payload, 0, None).expect("a look");
        let marked = |key: &str, ts: &str| json!({"ts": ts, "metadata": {"event_type": THREAD_EVENT, "event_payload": {"key": key}}});
        let page = json!({"ok": true, "messages": [marked("other", "1700000002.000200"),
                                                    marked("deploy-9", "1700000001.000100")]});
        let Ok(Search::Found(parent)) = found(&payload, &look, &answer(page), 0) else {
            panic!("found");
        };
        assert_eq!(
            (parent.channel.as_str(), parent.ts.as_str()),
            ("C0DEPLOYS", "1700000001.000100")
        );
        let refused = json!({"ok": false, "error": "missing_scope", "needed": "channels:history"});
        let why = found(&payload, &look, &answer(refused), 0).unwrap_err();
        assert!(why.contains("channels:history"), "{why}");
    }

    #[test]
    fn a_part_with_metadata_of_its_own_keeps_it() {
        let marked = mark_first(&first("C0DEPLOYS"));
        let body: Value = serde_json::from_str(&marked.body).unwrap();
        assert_eq!(body["metadata"]["event_payload"]["key"], "deploy-9");
        let mut asked = Payload::json(
            &json!({"channel": "C0DEPLOYS", "metadata": {"event_type": "chime_ask"}}),
        );
        asked.thread = first("C0DEPLOYS").thread;
        assert_eq!(mark_first(&asked), asked);
    }
}
