//! Asking on Telegram: the question with an inline keyboard whose buttons'
//! `callback_data` carry the question's nonce, clicks read by long-polling
//! `getUpdates` for `callback_query`s, each answered (`answerCallbackQuery`)
//! so the person's spinner stops, and the message edited with the decision
//! (`editMessageText` without a keyboard, which takes the buttons away).
//!
//! Telegram lets one process poll a bot: a second `getUpdates` ends the
//! first with 409 Conflict, and a webhook ends every poll so. So the asks
//! of one machine take turns (`state::Asks`): whoever has the turn polls
//! for all of them, judges each click by the question's record, and leaves
//! the answer beside it; every ask watches for its own answer there.
//!
//! Asks on other machines (the jobs of one pipeline on several runners)
//! poll the same bot too, and their polls end each other's now and then:
//! that 409 is said once and the poll tried again. A click on a question
//! this machine knows nothing of is not confirmed at first: the offset
//! stops short of it, so the machine that asked still receives it (and the
//! updates after it come back with it; each is handled once), and so does
//! this one if the question's record was a moment from written. Held for
//! [`HOLD_SECS`], it is the question of a machine that is gone: it is
//! answered so and confirmed, so that a page of updates stuck behind it
//! never starves the asks after. A click on a question whose ask has ended
//! (its tombstone, or its ask killed) is answered so at once, and a killed
//! ask's buttons are taken away. A webhook makes polling impossible: that
//! ends the ask, with the fix.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Answer, Context, Ending, Person, Posted, Question};
use crate::exit::{ExitCode, Failure};
use crate::kinds::Payload;
use crate::report;
use crate::spool::lock::FileLock;
use crate::state::{Asks, Standing};

/// How long one poll waits for an update; short, so that the turn passes
/// soon after the poller's own question is answered.
const POLL_SECONDS: u64 = 2;
/// How often an ask without the turn looks for its answer.
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// `callback_data` holds 1–64 bytes.
const DATA_PREFIX: &str = "chime:";
/// Updates one poll reads: a page of clicks, well within a bounded answer.
const POLL_LIMIT: u64 = 20;
/// What the Bot API says when a second poll ends this one.
const OTHER_POLLER: &str = "terminated by other getUpdates request";
/// The records' format: a later chime reading an older one knows it.
const RECORD_VERSION: u32 = 1;
/// How long a click on a question not known here is left for the machine
/// that asked it: its poll gets through between this one's within seconds
/// (each poll waits at most [`POLL_SECONDS`], and one held back waits 1 s).
const HOLD_SECS: u64 = 60;
/// What a click on a question no one waits for is told.
const NOT_WAITING: &str = "This question is no longer waiting for an answer.";

/// What a poller needs to judge a click on an open question.
#[derive(Serialize, Deserialize)]
struct Record {
    #[serde(default)]
    version: u32,
    labels: Vec<String>,
    /// User IDs and usernames (without `@`); none: anyone.
    approvers: Vec<String>,
}

/// An answer as recorded for its question's owner.
#[derive(Serialize, Deserialize)]
struct Recorded {
    #[serde(default)]
    version: u32,
    index: usize,
    label: String,
    id: String,
    name: Option<String>,
    at: u64,
}

pub struct Telegram {
    asks: Asks,
    turn: Option<FileLock>,
    /// Held while the question waits, so a poller can tell a killed ask's.
    waiting: Option<FileLock>,
    /// Updates this process handled, so one held back for another machine
    /// (and those after it, which come back with it) are handled once.
    handled: std::collections::HashSet<i64>,
    /// Updates held back, with when they were first held (`Asks::held`).
    held: std::collections::BTreeMap<i64, u64>,
    /// Whether another poller was said already.
    warned: bool,
}

impl Telegram {
    /// Checks that the bot can be polled at all: a webhook takes every
    /// update, so no poll would ever see a click.
    pub async fn prepare(
        ctx: &Context<'_>,
        asks: Asks,
        question: &Question,
    ) -> Result<Telegram, Failure> {
        if question.options.iter().any(|c| c.label.trim().is_empty()) {
            return Err(Failure::usage("--option: a button needs a label"));
        }
        let info = method(ctx, "getWebhookInfo", &json!({})).await;
        if let Ok(info) = &info
            && let Some(url) = info["result"]["url"].as_str().filter(|u| !u.is_empty())
        {
            return Err(webhook_failure(&crate::secret::redact_url(url)));
        }
        if let Err(failure) = info
            && failure.code != ExitCode::TempFail
        {
            return Err(failure);
        }
        Ok(Telegram {
            asks,
            turn: None,
            waiting: None,
            handled: Default::default(),
            held: Default::default(),
            warned: false,
        })
    }

    /// The rendered message with one row of buttons.
    pub fn question(&self, payload: &Payload, question: &Question) -> Payload {
        let mut body: Value = serde_json::from_str(&payload.body).expect("rendered as JSON");
        let row: Vec<Value> = question
            .options
            .iter()
            .enumerate()
            .map(|(i, choice)| {
                json!({"text": choice.label, "callback_data": format!("{DATA_PREFIX}{}:{i}", question.nonce)})
            })
            .collect();
        body["reply_markup"] = json!({"inline_keyboard": [row]});
        payload.reworked(&body, payload.op.clone())
    }

    /// Records the posted question for whoever polls.
    pub fn register(&mut self, question: &Question) -> Result<(), Failure> {
        let record = Record {
            version: RECORD_VERSION,
            labels: question.options.iter().map(|c| c.label.clone()).collect(),
            approvers: question
                .approvers
                .iter()
                .map(|a| a.trim_start_matches('@').to_owned())
                .collect(),
        };
        let waiting = self.asks.open(&question.nonce, &record).map_err(|e| {
            Failure::from(e).caused_by("cannot record the question for the asks of this machine")
        })?;
        self.waiting = Some(waiting);
        Ok(())
    }

    /// Waits for the question's answer, polling when it is this ask's turn.
    pub async fn wait(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
    ) -> Result<Answer, Failure> {
        loop {
            if let Some(recorded) = self.asks.answer::<Recorded>(&question.nonce) {
                return Ok(recorded.into_answer());
            }
            if self.turn.is_none() {
                self.turn = self.asks.take_turn().map_err(Failure::from)?;
            }
            if self.turn.is_some() {
                self.poll(ctx).await?;
            } else {
                tokio::time::sleep(LOOK_EVERY).await;
            }
        }
    }

    /// Edits the question to say how its wait ended, its buttons gone.
    pub async fn close(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
        posted: &Posted,
        asked: &Payload,
        ending: &Ending,
    ) -> Result<(), String> {
        self.turn = None;
        // The tombstone goes before the keyboard: a tap in between is told
        // no one waits, rather than held for a question that never returns.
        self.asks.close(&question.nonce);
        self.waiting = None;
        let body: Value = serde_json::from_str(&asked.body).unwrap_or_default();
        let line = ctx.destination.platform.escape(&ending.line());
        let edit = json!({
            "chat_id": id_value(&posted.channel),
            "message_id": id_value(&posted.ts),
            "text": format!("{}\n\n{line}", body["text"].as_str().unwrap_or_default()),
            "parse_mode": "HTML",
        });
        let mut edit = edit;
        if !body["link_preview_options"].is_null() {
            edit["link_preview_options"] = body["link_preview_options"].clone();
        }
        match method(ctx, "editMessageText", &edit).await {
            Ok(_) => Ok(()),
            // Too long with the line, or gone: at least take the buttons away.
            Err(_) => {
                let bare = json!({"chat_id": edit["chat_id"], "message_id": edit["message_id"]});
                method(ctx, "editMessageReplyMarkup", &bare)
                    .await
                    .map(drop)
                    .map_err(|f| f.message)
            }
        }
    }

    /// The answer someone recorded for the question, if one did.
    pub fn recorded(&self, question: &Question) -> Option<Answer> {
        let recorded = self.asks.answer::<Recorded>(&question.nonce)?;
        Some(recorded.into_answer())
    }

    /// One poll: the updates since the last, each click judged and
    /// answered, the answers recorded. A click on a question this machine
    /// does not know is left unconfirmed, for the machine that asked it:
    /// the offset stops short of it, so its poll still gets it.
    async fn poll(&mut self, ctx: &Context<'_>) -> Result<(), Failure> {
        let offset = self.asks.offset();
        let body = json!({"offset": offset, "limit": POLL_LIMIT, "timeout": POLL_SECONDS,
                          "allowed_updates": ["callback_query"]});
        let long = Context {
            timeout: ctx.timeout + Duration::from_secs(POLL_SECONDS),
            ..*ctx
        };
        let updates = match method(&long, "getUpdates", &body).await {
            Ok(updates) => updates,
            Err(failure) => return self.poll_failed(ctx, failure).await,
        };
        let mut confirmed = offset;
        let mut held = false;
        let mut fresh = false;
        self.held = self.asks.held();
        let noted = self.held.clone();
        let now = crate::clock::epoch_secs(crate::clock::now());
        for update in updates["result"].as_array().into_iter().flatten() {
            let Some(id) = update["update_id"].as_i64() else {
                continue;
            };
            let query = &update["callback_query"];
            let judged = self.judge(query);
            match self.step(id, &judged, now) {
                Step::Hold => held = true,
                Step::Skip => {}
                Step::Act => {
                    fresh = true;
                    self.act(ctx, query, judged).await;
                }
            }
            if !held {
                confirmed = id + 1;
            }
        }
        if confirmed != offset {
            self.asks.set_offset(confirmed);
        }
        // Confirmed updates never come back.
        self.held.retain(|id, _| *id >= confirmed);
        if self.held != noted {
            self.asks.set_held(&self.held);
        }
        // Only updates held for another machine came back, at once: they
        // come back at once every time, so the next poll waits a while.
        if held && !fresh {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(())
    }

    /// What one poll does with update `id`, judged so at `now` (epoch
    /// seconds). An update held for another machine (or for a question
    /// whose record is not written yet: a click the moment it was posted)
    /// is not handled, so that it is acted on when it comes back, until it
    /// has been held [`HOLD_SECS`]; any other is acted on once.
    fn step(&mut self, id: i64, judged: &Judged, now: u64) -> Step {
        match judged {
            Judged::Foreign if self.holding(id, now) => Step::Hold,
            _ if self.handled.insert(id) => Step::Act,
            _ => Step::Skip,
        }
    }

    /// Whether update `id` is still to be held, first held now if it was not.
    fn holding(&mut self, id: i64, now: u64) -> bool {
        let since = *self.held.entry(id).or_insert(now);
        now.saturating_sub(since) < HOLD_SECS
    }

    /// A failed poll: another poller is said once and waited out (it may
    /// be another machine's `chime ask` on the same bot, which gets its
    /// turn so); a webhook or a refusal ends the wait.
    async fn poll_failed(&mut self, ctx: &Context<'_>, failure: Failure) -> Result<(), Failure> {
        match failure.code {
            ExitCode::TempFail => report::verbose(ctx.output, &failure.message),
            _ if failure.message.contains(OTHER_POLLER) => {
                if !self.warned {
                    let text = format!("{}: {}", failure.message, failure.hint.unwrap_or_default());
                    report::warning(ctx.output, &text);
                    self.warned = true;
                }
            }
            _ => return Err(failure),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    }

    /// What a callback query is to this machine.
    fn judge(&self, query: &Value) -> Judged {
        let data = query["data"].as_str().unwrap_or_default();
        let Some((nonce, index)) = data
            .strip_prefix(DATA_PREFIX)
            .and_then(|d| d.split_once(':'))
        else {
            return Judged::NotChimes;
        };
        // A nonce names files: only what chime makes is one.
        if nonce.len() != 16 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Judged::NotChimes;
        }
        let record = match self.asks.standing::<Record>(nonce) {
            Standing::Open(record) => record,
            Standing::Ended => return Judged::Ended,
            Standing::Unknown => return Judged::Foreign,
        };
        let index: usize = index.parse().unwrap_or(usize::MAX);
        let Some(label) = record.labels.get(index).cloned() else {
            return Judged::NotChimes;
        };
        let from = &query["from"];
        let user_id = from["id"]
            .as_i64()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let username = from["username"].as_str().unwrap_or_default();
        let allowed = record.approvers.is_empty()
            || record.approvers.iter().any(|a| {
                *a == user_id || (!username.is_empty() && a.eq_ignore_ascii_case(username))
            });
        if !allowed {
            return Judged::Refused;
        }
        let name = from["username"]
            .as_str()
            .map(|u| format!("@{u}"))
            .or_else(|| from["first_name"].as_str().map(str::to_owned));
        Judged::Answer(
            nonce.to_owned(),
            Recorded {
                version: RECORD_VERSION,
                index,
                label,
                id: user_id,
                name,
                at: crate::clock::epoch_secs(crate::clock::now()),
            },
        )
    }

    /// Answers the clicker, and records an answer for its question's owner.
    async fn act(&self, ctx: &Context<'_>, query: &Value, judged: Judged) {
        let id = query["id"].as_str().unwrap_or_default();
        if matches!(judged, Judged::Ended) {
            take_keyboard_away(ctx, &query["message"]).await;
        }
        let (text, alert) = match judged {
            // A foreign click acted on was held long enough: the machine
            // that asked it is gone.
            Judged::Foreign | Judged::Ended | Judged::NotChimes => (NOT_WAITING.into(), true),
            Judged::Refused => (
                "You are not an approver of this question: your answer was not counted.".into(),
                true,
            ),
            Judged::Answer(nonce, recorded) => match self.asks.settle(&nonce, &recorded) {
                Ok(true) => (format!("Recorded: {}", recorded.label), false),
                Ok(false) => ("This question was answered already.".into(), false),
                Err(err) => {
                    report::warning(ctx.output, &format!("cannot record an answer: {err}"));
                    (
                        "chime could not record your answer: try again.".into(),
                        true,
                    )
                }
            },
        };
        let body = json!({"callback_query_id": id, "text": text, "show_alert": alert});
        if let Err(failure) = method(ctx, "answerCallbackQuery", &body).await {
            report::verbose(ctx.output, &failure.message);
        }
    }
}

/// Takes the buttons off `message`, a question of this machine whose ask
/// ended, when it still shows them (its ask was killed before it closed it).
async fn take_keyboard_away(ctx: &Context<'_>, message: &Value) {
    if message["reply_markup"].is_null() {
        return;
    }
    let bare = json!({"chat_id": message["chat"]["id"], "message_id": message["message_id"]});
    if let Err(failure) = method(ctx, "editMessageReplyMarkup", &bare).await {
        report::verbose(ctx.output, &failure.message);
    }
}

/// What a poll does with one update.
#[derive(Debug, PartialEq)]
enum Step {
    /// Leave it unconfirmed, for another machine, or for later.
    Hold,
    /// Handled already.
    Skip,
    Act,
}

/// What a callback query is to the asks of this machine.
enum Judged {
    /// An answer to one of its questions, to record.
    Answer(String, Recorded),
    /// A click by someone who may not answer.
    Refused,
    /// A chime question this machine knows nothing of: another machine's,
    /// or one whose record is a moment from written.
    Foreign,
    /// A question of this machine's whose ask has ended, or was killed.
    Ended,
    /// Not a chime question's, or not one that is waiting.
    NotChimes,
}

impl Recorded {
    fn into_answer(self) -> Answer {
        Answer {
            index: self.index,
            label: self.label,
            by: Some(Person {
                id: self.id,
                name: self.name,
            }),
            at: std::time::UNIX_EPOCH + Duration::from_secs(self.at),
        }
    }
}

/// One Bot API call; its `{"ok": true}` answer, or what it means: 409 is
/// another poller or a webhook (78), a refusal 65, the rest worth retrying (75).
async fn method(ctx: &Context<'_>, name: &str, body: &Value) -> Result<Value, Failure> {
    let payload = Payload {
        op: name.to_owned(),
        ..Payload::json(body)
    };
    let request = ctx.destination.platform.request(&payload);
    let answer = ctx
        .call(&request)
        .await
        .map_err(|why| Failure::new(ExitCode::TempFail, format!("Telegram {name}: {why}")))?;
    let value: Value = serde_json::from_str(&answer.body).unwrap_or_default();
    if answer.status == 200 && value["ok"] == true {
        return Ok(value);
    }
    let description = format!(
        "{} {}",
        answer.status,
        value["description"].as_str().unwrap_or("no description")
    );
    match answer.status {
        409 if description.contains("webhook") => Err(webhook_failure("it")),
        409 => Err(Failure::config(format!("Telegram {name}: {description}"))
            .with_hint("another program, or a chime ask on another machine, polls this bot with getUpdates, and Telegram lets one poll at a time: chime takes turns with it, but a program that is not chime takes the clicks it reads; stop it, or give chime ask a bot of its own")),
        429 | 500..=599 => Err(Failure::new(ExitCode::TempFail, format!("Telegram {name}: {description}"))),
        _ => Err(Failure::new(ExitCode::Rejected, format!("Telegram {name}: {description}"))),
    }
}

fn webhook_failure(url: &str) -> Failure {
    Failure::config(format!(
        "the bot has a webhook set ({url}): Telegram sends it every click, and answers getUpdates with 409 Conflict while it is set"
    ))
    .with_hint("remove it with the Bot API's deleteWebhook (https://api.telegram.org/bot<token>/deleteWebhook), or give chime ask a bot of its own")
}

/// A chat or message ID as the Bot API documents it: a number when it is one.
fn id_value(id: &str) -> Value {
    id.parse::<i64>()
        .map_or_else(|_| Value::from(id), Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poller() -> Telegram {
        Telegram {
            asks: Asks::at(std::env::temp_dir().join("chime-unused")),
            turn: None,
            waiting: None,
            handled: Default::default(),
            held: Default::default(),
            warned: false,
        }
    }

    fn answer() -> Judged {
        let recorded = Recorded {
            version: RECORD_VERSION,
            index: 0,
            label: "Approve".into(),
            id: "1".into(),
            name: None,
            at: 0,
        };
        Judged::Answer("0123456789abcdef".into(), recorded)
    }

    #[test]
    fn a_click_held_before_its_question_was_recorded_is_acted_on_when_it_comes_back() {
        let mut poller = poller();
        assert_eq!(poller.step(7, &Judged::Foreign, 100), Step::Hold);
        assert_eq!(poller.step(7, &answer(), 101), Step::Act);
    }

    #[test]
    fn an_update_that_comes_back_after_a_held_one_is_acted_on_once() {
        let mut poller = poller();
        assert_eq!(poller.step(8, &answer(), 100), Step::Act);
        assert_eq!(poller.step(8, &answer(), 100), Step::Skip);
        assert_eq!(poller.step(9, &Judged::Refused, 100), Step::Act);
        assert_eq!(poller.step(9, &Judged::Refused, 100), Step::Skip);
    }

    #[test]
    fn a_click_on_a_question_not_known_here_is_held_for_a_while_then_acted_on_once() {
        let mut poller = poller();
        assert_eq!(poller.step(7, &Judged::Foreign, 100), Step::Hold);
        let last = 100 + HOLD_SECS - 1;
        assert_eq!(poller.step(7, &Judged::Foreign, last), Step::Hold);
        assert_eq!(poller.step(7, &Judged::Foreign, last + 1), Step::Act);
        assert_eq!(poller.step(7, &Judged::Foreign, last + 2), Step::Skip);
    }

    #[test]
    fn a_click_on_an_ended_question_is_acted_on_at_once() {
        let mut poller = poller();
        assert_eq!(poller.step(7, &Judged::Ended, 100), Step::Act);
    }
}
