//! Asking on Telegram: the question with an inline keyboard whose buttons'
//! `callback_data` carry the question's nonce, clicks read by long-polling
//! `getUpdates` for `callback_query`s, each answered (`answerCallbackQuery`)
//! so the person's spinner stops, and the message edited with the decision
//! (`editMessageText` without a keyboard, which takes the buttons away).
//!
//! Telegram lets one process poll a bot: a second `getUpdates` ends the
//! first with 409 Conflict, as a webhook does every poll. So the asks of
//! one machine take turns (`state::Asks`): whoever has the turn polls for
//! all of them, judges each click by the question's record, and leaves the
//! answer beside it; every ask watches for its own answer there. A poll
//! that still meets 409 means another program, or a chime on another
//! machine, polls the same bot: that is said with the fix, and the ask
//! gives up rather than fight over the updates.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Answer, Context, Ending, Person, Posted, Question};
use crate::exit::{ExitCode, Failure};
use crate::kinds::Payload;
use crate::report;
use crate::state::Asks;

/// How long one poll waits for an update; short, so that the turn passes
/// soon after the poller's own question is answered.
const POLL_SECONDS: u64 = 2;
/// How often an ask without the turn looks for its answer.
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// `callback_data` holds 1–64 bytes.
const DATA_PREFIX: &str = "chime:";

/// What a poller needs to judge a click on an open question.
#[derive(Serialize, Deserialize)]
struct Record {
    labels: Vec<String>,
    /// User IDs and usernames (without `@`); none: anyone.
    approvers: Vec<String>,
}

/// An answer as recorded for its question's owner.
#[derive(Serialize, Deserialize)]
struct Recorded {
    index: usize,
    label: String,
    id: String,
    name: Option<String>,
    at: u64,
}

pub struct Telegram {
    asks: Asks,
    turn: Option<crate::spool::lock::FileLock>,
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
        Ok(Telegram { asks, turn: None })
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
    pub fn register(&self, question: &Question) -> Result<(), Failure> {
        let record = Record {
            labels: question.options.iter().map(|c| c.label.clone()).collect(),
            approvers: question
                .approvers
                .iter()
                .map(|a| a.trim_start_matches('@').to_owned())
                .collect(),
        };
        self.asks.open(&question.nonce, &record).map_err(|e| {
            Failure::from(e).caused_by("cannot record the question for the asks of this machine")
        })
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
        self.asks.close(&question.nonce);
        let body: Value = serde_json::from_str(&asked.body).unwrap_or_default();
        let line = ctx.destination.platform.escape(&ending.line());
        let edit = json!({
            "chat_id": id_value(&posted.channel),
            "message_id": id_value(&posted.ts),
            "text": format!("{}\n\n{line}", body["text"].as_str().unwrap_or_default()),
            "parse_mode": "HTML",
            "link_preview_options": body["link_preview_options"],
        });
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

    /// One poll: the updates since the last, each click judged and
    /// answered, the answers recorded.
    async fn poll(&mut self, ctx: &Context<'_>) -> Result<(), Failure> {
        let offset = self.asks.offset();
        let body = json!({"offset": offset, "timeout": POLL_SECONDS, "allowed_updates": ["callback_query"]});
        let long = Context {
            timeout: ctx.timeout + Duration::from_secs(POLL_SECONDS),
            ..*ctx
        };
        let updates = match method(&long, "getUpdates", &body).await {
            Ok(updates) => updates,
            Err(failure) if failure.code == ExitCode::TempFail => {
                report::verbose(ctx.output, &failure.message);
                tokio::time::sleep(Duration::from_secs(1)).await;
                return Ok(());
            }
            Err(failure) => return Err(failure),
        };
        for update in updates["result"].as_array().into_iter().flatten() {
            if let Some(query) = update.get("callback_query") {
                self.click(ctx, query).await;
            }
            if let Some(id) = update["update_id"].as_i64() {
                self.asks.set_offset(id + 1);
            }
        }
        Ok(())
    }

    async fn click(&self, ctx: &Context<'_>, query: &Value) {
        let id = query["id"].as_str().unwrap_or_default();
        let data = query["data"].as_str().unwrap_or_default();
        let Some((nonce, index)) = data
            .strip_prefix(DATA_PREFIX)
            .and_then(|d| d.split_once(':'))
        else {
            return;
        };
        let index: usize = index.parse().unwrap_or(usize::MAX);
        let record: Option<Record> = self.asks.question(nonce);
        let Some(record) = record.filter(|r| index < r.labels.len()) else {
            answer_query(
                ctx,
                id,
                "This question is no longer waiting for an answer.",
                true,
            )
            .await;
            return;
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
            answer_query(
                ctx,
                id,
                "You are not an approver of this question: your answer was not counted.",
                true,
            )
            .await;
            return;
        }
        let name = from["username"]
            .as_str()
            .map(|u| format!("@{u}"))
            .or_else(|| from["first_name"].as_str().map(str::to_owned));
        let recorded = Recorded {
            index,
            label: record.labels[index].clone(),
            id: user_id,
            name,
            at: crate::clock::epoch_secs(crate::clock::now()),
        };
        let text = match self.asks.settle(nonce, &recorded) {
            Ok(true) => format!("Recorded: {}", recorded.label),
            Ok(false) => "This question was answered already.".to_owned(),
            Err(err) => {
                report::warning(ctx.output, &format!("cannot record an answer: {err}"));
                "chime could not record your answer: try again.".to_owned()
            }
        };
        answer_query(ctx, id, &text, false).await;
    }
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

/// Stops the clicker's spinner, with a notice; a failure is only worth a
/// word with `-v` (the query may have expired).
async fn answer_query(ctx: &Context<'_>, id: &str, text: &str, alert: bool) {
    let body = json!({"callback_query_id": id, "text": text, "show_alert": alert});
    if let Err(failure) = method(ctx, "answerCallbackQuery", &body).await {
        report::verbose(ctx.output, &failure.message);
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
            .with_hint("another program (or a chime ask on another machine) is polling this bot with getUpdates, and Telegram lets only one poll at a time: stop it, or give chime ask a bot of its own")),
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
