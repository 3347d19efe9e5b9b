//! What a question looks like on Slack and what its clicks say: the marks
//! its blocks and buttons carry, a click read from a `block_actions`
//! payload, the decided look (buttons gone, a line below), and the answer
//! a question's metadata records.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use super::approvers::{Approvers, strings};
use crate::ask::{Answer, Person, Question, Style};

/// Marks a block, and the `action_id`s of its buttons, as a question's.
pub const MARK: &str = "chime_ask";
/// The metadata event type of a question settled.
pub const ANSWERED: &str = "chime_ask_answered";
/// The metadata event type of a question closed without an answer.
pub const CLOSED: &str = "chime_ask_closed";

/// A click on one of a question's buttons.
pub struct Click {
    pub nonce: String,
    pub index: usize,
    pub label: String,
    pub approvers: Approvers,
    pub user: String,
    pub name: Option<String>,
    pub channel: String,
    pub ts: String,
    pub text: String,
    pub blocks: Value,
    /// Whether the message still has the question's buttons: a click on a
    /// question already settled (a stale client's) is ignored.
    pub open: bool,
}

impl Click {
    /// The click, if it is on a chime question's button.
    pub fn read(payload: &Value) -> Option<Click> {
        let action = &payload["actions"][0];
        let rest = action["action_id"]
            .as_str()?
            .strip_prefix(MARK)?
            .strip_prefix(':')?;
        let (nonce, index) = rest.split_once(':')?;
        let value: Value = serde_json::from_str(action["value"].as_str()?).ok()?;
        let message = &payload["message"];
        let block_id = format!("{MARK}:{nonce}");
        let blocks = message["blocks"].clone();
        let open = blocks
            .as_array()
            .is_some_and(|b| b.iter().any(|block| block["block_id"] == block_id.as_str()));
        let user = &payload["user"];
        let container = &payload["container"];
        Some(Click {
            nonce: nonce.to_owned(),
            index: index.parse().ok()?,
            label: action["text"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            approvers: Approvers {
                users: strings(&value["u"]),
                groups: strings(&value["g"]),
            },
            user: user["id"].as_str()?.to_owned(),
            name: user["username"]
                .as_str()
                .or(user["name"].as_str())
                .map(str::to_owned),
            channel: container["channel_id"]
                .as_str()
                .or(payload["channel"]["id"].as_str())?
                .to_owned(),
            ts: container["message_ts"]
                .as_str()
                .or(message["ts"].as_str())?
                .to_owned(),
            text: message["text"].as_str().unwrap_or_default().to_owned(),
            blocks,
            open,
        })
    }

    pub fn answer(&self) -> Answer {
        Answer {
            index: self.index,
            label: self.label.clone(),
            by: Some(Person {
                id: self.user.clone(),
                name: self.name.clone(),
            }),
            at: crate::clock::now(),
        }
    }
}

/// The question's buttons, one per option, each carrying `value` (its
/// nonce and who may answer).
pub fn buttons(question: &Question, value: &str) -> Value {
    let buttons: Vec<Value> = question
        .options
        .iter()
        .enumerate()
        .map(|(i, choice)| {
            let mut button = json!({
                "type": "button",
                "text": {"type": "plain_text", "text": choice.label, "emoji": true},
                "action_id": format!("{MARK}:{}:{i}", question.nonce),
                "value": value,
            });
            match choice.style {
                Style::Primary => button["style"] = "primary".into(),
                Style::Danger => button["style"] = "danger".into(),
                Style::Plain => {}
            }
            button
        })
        .collect();
    json!({"type": "actions", "block_id": format!("{MARK}:{}", question.nonce), "elements": buttons})
}

/// The chat.update that settles `nonce` with `answer`: the question
/// decided, and the decision in its metadata for the ask that owns it.
pub fn settling(
    channel: &str,
    ts: &str,
    text: &str,
    blocks: &Value,
    line: &str,
    nonce: &str,
    answer: &Answer,
) -> Value {
    let by = answer.by.as_ref();
    json!({
        "channel": channel,
        "ts": ts,
        "text": format!("{text}\n{line}"),
        "blocks": decided(blocks, line),
        "metadata": {"event_type": ANSWERED, "event_payload": {
            "question": nonce,
            "option": answer.index,
            "label": answer.label,
            "user": by.map(|p| p.id.clone()),
            "name": by.and_then(|p| p.name.clone()),
            "at": crate::clock::epoch_secs(answer.at),
        }},
    })
}

/// The answer a question's metadata records, if it is `nonce`'s.
pub fn recorded(metadata: &Value, nonce: &str) -> Option<Answer> {
    if metadata["event_type"] != ANSWERED {
        return None;
    }
    let record = &metadata["event_payload"];
    if record["question"] != nonce {
        return None;
    }
    Some(Answer {
        index: usize::try_from(record["option"].as_u64()?).ok()?,
        label: record["label"].as_str()?.to_owned(),
        by: Some(Person {
            id: record["user"].as_str()?.to_owned(),
            name: record["name"].as_str().map(str::to_owned),
        }),
        at: UNIX_EPOCH + Duration::from_secs(record["at"].as_u64().unwrap_or_default()),
    })
}

/// The question's blocks without its buttons, with `line` below them.
pub fn decided(blocks: &Value, line: &str) -> Value {
    let mut kept: Vec<Value> = blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|block| {
            !block["block_id"]
                .as_str()
                .is_some_and(|id| id.starts_with(MARK))
        })
        .cloned()
        .collect();
    kept.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}));
    Value::Array(kept)
}

pub fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decided_question_loses_its_buttons_and_gains_the_line() {
        let blocks = json!([section("Deploy?"), {"type": "actions", "block_id": "chime_ask:ab", "elements": []}]);
        let decided = decided(&blocks, "✅ Approve");
        assert_eq!(decided.as_array().unwrap().len(), 2);
        assert_eq!(decided[1]["type"], "context");
        assert_eq!(decided[0]["type"], "section");
    }

    #[test]
    fn only_the_record_of_this_question_is_its_answer() {
        let metadata = json!({"event_type": ANSWERED, "event_payload":
            {"question": "ab", "option": 1, "label": "Reject", "user": "U1", "name": "al", "at": 5}});
        assert_eq!(recorded(&metadata, "ab").unwrap().index, 1);
        assert!(recorded(&metadata, "cd").is_none());
        assert!(recorded(&json!({"event_type": MARK}), "ab").is_none());
    }
}
