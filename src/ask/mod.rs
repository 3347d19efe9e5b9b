//! Asking a person (`chime ask`): a question with buttons posted to one
//! destination, an answer from someone allowed to give it, and the message
//! closed with what became of it.
//!
//! Each kind that can ask hears clicks its own way: Slack over Socket Mode
//! (`slack/`), Telegram by polling `getUpdates` (`telegram.rs`), ntfy by
//! subscribing to the topic its buttons publish to (`ntfy.rs`). What they
//! share is here: the question, the answer, how a wait ends, and the line
//! the channel sees once it has.
//!
//! # A click for another question
//!
//! Every question carries a nonce of its own in its buttons, so a click is
//! always told apart: an ask acts only on its own, or on one it can settle
//! for its owner. Slack hands a click to any one of an app's open
//! connections, so one ask may receive another's: it settles it where the
//! owner looks (the question's own message, edited with the decision and
//! the decision in its metadata), and every ask watches its message as
//! well as its connection. Telegram lets one process poll a bot: the asks
//! of one state directory take turns at polling and leave each other's
//! answers in files (`telegram.rs`). ntfy gives each question a secret its
//! buttons carry, so an answer published by anyone else is ignored.
//!
//! # What is never left behind
//!
//! A question whose wait ended without an answer (time out, a signal) is
//! edited to say so and loses its buttons, so no one clicks a question no
//! one waits for. A question is never queued: it needs a live answer, so
//! one that cannot be posted is a failure at once.

pub mod ntfy;
pub mod slack;
pub mod telegram;

use std::io::Read;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::Destination;
use crate::deliver::Clients;
use crate::exit::{ExitCode, Failure};
use crate::report::Output;

/// The most options a question offers: what fits a phone's notification
/// (ntfy shows three) and a reader's attention.
pub const MAX_OPTIONS: usize = 5;

/// How a button looks where the platform styles buttons (Slack).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Primary,
    Danger,
    Plain,
}

/// One answer a person may give.
#[derive(Clone, Debug)]
pub struct Choice {
    pub label: String,
    pub style: Style,
}

/// What is asked, beyond the message itself.
#[derive(Clone, Debug)]
pub struct Question {
    /// Marks this question's buttons apart from every other's.
    pub nonce: String,
    pub options: Vec<Choice>,
    /// Who may answer, as the profile and flags name them; none: anyone.
    pub approvers: Vec<String>,
    /// How long to wait for an answer.
    pub wait: Duration,
}

impl Question {
    /// The options: `labels`, or Approve and Reject. The first is the one
    /// that makes `chime ask` succeed, so it is the primary button; Reject,
    /// and any option after the first named like a refusal, is danger.
    pub fn choices(labels: &[String]) -> Vec<Choice> {
        if labels.is_empty() {
            return vec![
                Choice {
                    label: "Approve".into(),
                    style: Style::Primary,
                },
                Choice {
                    label: "Reject".into(),
                    style: Style::Danger,
                },
            ];
        }
        labels
            .iter()
            .enumerate()
            .map(|(i, label)| Choice {
                label: label.clone(),
                style: match (i, label.to_lowercase().as_str()) {
                    (0, _) => Style::Primary,
                    (_, "reject" | "deny" | "no" | "abort" | "cancel" | "stop") => Style::Danger,
                    _ => Style::Plain,
                },
            })
            .collect()
    }
}

/// Who answered, as the platform names them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: String,
    /// Their display name, when the platform says it.
    pub name: Option<String>,
}

/// A counted answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub index: usize,
    pub label: String,
    /// `None` where the platform cannot say who pressed (ntfy).
    pub by: Option<Person>,
    pub at: SystemTime,
}

/// How a wait ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    Answered(Answer),
    /// Nobody answered within the wait.
    TimedOut(Duration),
    /// Stopped by this signal (a cancelled CI job).
    Stopped(&'static str),
    /// chime could not go on waiting (the failure is told apart).
    Abandoned,
}

impl Ending {
    /// The line the question gains once its wait is over, in plain words;
    /// each kind escapes it for its markup.
    pub fn line(&self) -> String {
        match self {
            Ending::Answered(answer) => {
                let by = match &answer.by {
                    Some(person) => format!(" by {}", person.name.as_deref().unwrap_or(&person.id)),
                    None => String::new(),
                };
                format!(
                    "✅ {} — chosen{by} at {}",
                    answer.label,
                    crate::clock::clock_time(answer.at, &crate::clock::local())
                )
            }
            Ending::TimedOut(after) => format!("⏱ No answer after {}", crate::clock::span(*after)),
            Ending::Stopped(signal) => {
                format!("✖ Cancelled: the job that asked was stopped ({signal})")
            }
            Ending::Abandoned => "✖ Cancelled: chime could not go on waiting for an answer".into(),
        }
    }

    /// What the wait means to a script: 0 for the first option, 1 for any
    /// other, 124 for no answer (as `timeout(1)`), 128 + the signal.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Ending::Answered(answer) if answer.index == 0 => ExitCode::Ok,
            Ending::Answered(_) => ExitCode::Declined,
            Ending::TimedOut(_) => ExitCode::TimedOut,
            Ending::Stopped("SIGINT") => ExitCode::Signalled(2),
            Ending::Stopped("SIGHUP") => ExitCode::Signalled(1),
            Ending::Stopped(_) => ExitCode::Signalled(15),
            Ending::Abandoned => ExitCode::Failure,
        }
    }
}

/// Where the question went, as the platform identifies it.
#[derive(Clone, Debug)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// What every kind's asking needs around it.
pub struct Context<'a> {
    pub clients: &'a Clients,
    pub destination: &'a Destination,
    /// The time one request may take.
    pub timeout: Duration,
    pub output: Output,
}

impl Context<'_> {
    /// One request of the conversation (not the question itself), within
    /// the destination's timeout.
    pub async fn call(
        &self,
        request: &crate::kinds::HttpRequest,
    ) -> Result<crate::kinds::Answer, String> {
        crate::deliver::call(self.clients, self.destination, request, self.timeout).await
    }
}

/// A question that could not be posted: refused for good (65), or not now
/// (75; a question is not queued, it needs a live answer).
pub fn not_posted(report: &crate::deliver::Report) -> Failure {
    let error = report.error.clone().unwrap_or_else(|| "no answer".into());
    let name = &report.destination;
    match report.status {
        crate::deliver::Status::Rejected => {
            let failure = Failure::new(
                ExitCode::Rejected,
                format!("{name} refused the question: {error}"),
            );
            match &report.hint {
                Some(hint) => failure.with_hint(hint.clone()),
                None => failure,
            }
        }
        _ => Failure::new(
            ExitCode::TempFail,
            format!("the question could not be posted to {name}: {error}"),
        )
        .with_hint("a question is not queued, as it needs a live answer: run `chime ask` again"),
    }
}

/// 16 random hex digits: a question's nonce, or ntfy's secret.
pub fn nonce() -> Result<String, Failure> {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Failure::from(e).caused_by("cannot read /dev/urandom"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The wait for an answer, polled again after this when a platform gives
/// no push (Slack's record of an answer another ask took).
pub const WATCH_EVERY: Duration = Duration::from_secs(5);

/// The asking of the kind a question goes to.
pub enum Asker {
    Slack(Box<slack::Slack>),
    Telegram(telegram::Telegram),
    Ntfy(Box<ntfy::Ntfy>),
}

impl Asker {
    /// Gets ready to hear answers before anything is posted: resolves who
    /// may answer, connects or subscribes (`asks` is where the asks of this
    /// machine share Telegram's updates).
    pub async fn prepare(
        ctx: &Context<'_>,
        asking: crate::kinds::Asking,
        asks: crate::state::Asks,
        question: &Question,
    ) -> Result<Asker, Failure> {
        use crate::kinds::Asking;
        Ok(match asking {
            Asking::Slack {
                api_url,
                token,
                app_token,
            } => Asker::Slack(Box::new(
                slack::Slack::prepare(ctx, api_url, token, app_token, question).await?,
            )),
            Asking::Telegram => {
                Asker::Telegram(telegram::Telegram::prepare(ctx, asks, question).await?)
            }
            Asking::Ntfy {
                url,
                auth,
                reply_topic,
            } => Asker::Ntfy(Box::new(
                ntfy::Ntfy::prepare(ctx, &url, auth, reply_topic, question).await?,
            )),
        })
    }

    /// `payload`, the rendered message, with the question's buttons.
    pub fn question(
        &self,
        payload: &crate::kinds::Payload,
        question: &Question,
    ) -> Result<crate::kinds::Payload, Failure> {
        match self {
            Asker::Slack(slack) => slack.question(payload, question),
            Asker::Telegram(telegram) => Ok(telegram.question(payload, question)),
            Asker::Ntfy(ntfy) => Ok(ntfy.question(payload, question)),
        }
    }

    /// Once the question is posted: records it where the asks of this
    /// machine judge its clicks (Telegram). A click that comes before is
    /// not lost: it waits, unconfirmed, for the poll after.
    pub fn asked(&mut self, question: &Question) -> Result<(), Failure> {
        match self {
            Asker::Telegram(telegram) => telegram.register(question),
            Asker::Slack(_) | Asker::Ntfy(_) => Ok(()),
        }
    }

    /// Waits for an authorised answer to the question posted at `posted`.
    pub async fn wait(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
        posted: &Posted,
    ) -> Result<Answer, Failure> {
        match self {
            Asker::Slack(slack) => slack.wait(ctx, question, posted).await,
            Asker::Telegram(telegram) => telegram.wait(ctx, question).await,
            Asker::Ntfy(ntfy) => ntfy.wait(ctx, question).await,
        }
    }

    /// An answer recorded for the question since the wait last looked,
    /// once the wait is over: a question answered at the last moment is
    /// not closed as unanswered.
    pub async fn last_look(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
        posted: &Posted,
    ) -> Option<Answer> {
        match self {
            Asker::Slack(slack) => slack.last_look(ctx, question, posted).await,
            Asker::Telegram(telegram) => telegram.recorded(question),
            Asker::Ntfy(_) => None,
        }
    }

    /// Leaves the question saying how its wait ended, with no live
    /// buttons; what went wrong doing so, if anything.
    pub async fn close(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
        posted: &Posted,
        asked: &crate::kinds::Payload,
        ending: &Ending,
    ) -> Result<(), String> {
        match self {
            Asker::Slack(slack) => slack.close(ctx, question, posted, asked, ending).await,
            Asker::Telegram(telegram) => telegram.close(ctx, question, posted, asked, ending).await,
            Asker::Ntfy(ntfy) => ntfy.close(ctx, asked, ending).await,
        }
    }
}
