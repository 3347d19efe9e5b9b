//! Reading a question back for the answer another ask settled in it: one
//! read of the channel's history (or the question's thread), put off when
//! Slack limits the rate, and given up on, said once, when the app lacks the
//! scope. Without the scope, an ask cannot know whether its question carries
//! a decision, so it leaves the question as it is ([`left_open`]).

use std::time::Instant;

use serde_json::Value;

use super::Slack;
use super::api::{CallError, Patience};
use super::click::recorded;
use crate::ask::{Answer, Context, Posted, Question};
use crate::report;

impl Slack {
    /// The answer another ask recorded in the question, if one did. One
    /// try: a rate limit puts the next look off rather than hold the wait.
    pub(super) async fn settled(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
        posted: &Posted,
    ) -> Option<Answer> {
        if Instant::now() < self.look_after {
            return None;
        }
        let read = self.read_back(ctx, posted).await;
        let message = match read {
            Ok(message) => message?,
            Err(CallError::Limited(after)) => {
                self.look_after = Instant::now() + after;
                return None;
            }
            Err(CallError::Slack { code, needed }) if code == "missing_scope" => {
                let scope = needed.unwrap_or_else(|| "channels:history".into());
                report::warning(
                    ctx.output,
                    &format!(
                        "cannot read the channel's history (the app needs {scope}): a click Slack hands to another chime ask's connection will not reach this one"
                    ),
                );
                self.blind = Some(scope);
                return None;
            }
            Err(err) => {
                report::verbose(ctx.output, &format!("cannot read the question back: {err}"));
                return None;
            }
        };
        recorded(&message["metadata"], &question.nonce)
    }

    /// The question as the channel has it now, with its metadata: from the
    /// channel's history, or its thread once the history has not got it.
    /// Both are read in the window of the question's own ts; the thread's
    /// first page starts with its parent whatever the window, so it is
    /// asked for two messages, and the question is the one whose ts it is.
    async fn read_back(
        &mut self,
        ctx: &Context<'_>,
        posted: &Posted,
    ) -> Result<Option<Value>, CallError> {
        let (channel, ts) = (posted.channel.as_str(), posted.ts.as_str());
        let form = vec![
            ("channel", channel),
            ("latest", ts),
            ("oldest", ts),
            ("inclusive", "true"),
            ("include_all_metadata", "true"),
        ];
        for _ in 0..2 {
            let method = match self.threaded {
                false => "conversations.history",
                true => "conversations.replies",
            };
            let mut asked = form.clone();
            match self.threaded {
                false => asked.push(("limit", "1")),
                true => asked.extend([("ts", ts), ("limit", "2")]),
            }
            let body = self.api.read(ctx, method, &asked, Patience::Once).await?;
            let messages = body["messages"].as_array().into_iter().flatten();
            if let Some(message) = messages.into_iter().find(|m| m["ts"] == ts) {
                return Ok(Some(message.clone()));
            }
            if self.threaded {
                break;
            }
            self.threaded = true;
        }
        Ok(None)
    }
}

/// Why a question is left as it is, when its ask could not read it back
/// without `scope`.
pub(super) fn left_open(scope: &str) -> String {
    let private = match scope {
        "channels:history" => " (groups:history for a private channel)",
        _ => "",
    };
    format!(
        "it is left as it is, buttons and all: without {scope} this ask cannot see whether another chime ask recorded an answer in it, and closing it would replace that answer; add {scope}{private} to the app's bot scopes and reinstall it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_left_open_names_the_scope_to_add_and_its_private_channel_twin() {
        let public = left_open("channels:history");
        assert!(public.contains("add channels:history (groups:history for a private channel)"));
        let private = left_open("groups:history");
        assert!(
            private.contains("add groups:history to the app's bot scopes"),
            "{private}"
        );
    }
}
