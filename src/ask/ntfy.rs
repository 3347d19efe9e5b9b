//! Asking on ntfy: the question as a notification with `http` action
//! buttons, each of which makes the phone (or the web app) publish
//! `<nonce> <option> <secret>` to a reply topic that chime subscribes to
//! (`<server>/<topic>/json`, a stream of JSON lines), so no endpoint of
//! chime's is needed. ntfy cannot edit a notification, so the decision
//! goes as a follow-up in the question's topic.
//!
//! The reply topic is `reply_topic` from the profile, else one made for the
//! question, which no one can guess. The secret in the buttons keeps anyone
//! who has not seen the notification from answering in its place; anyone
//! who can read the notification can press its buttons, and ntfy does not
//! say who pressed, so approvers cannot be checked here.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Answer, Context, Ending, Question};
use crate::exit::{ExitCode, Failure};
use crate::kinds::Payload;
use crate::report;
use crate::secret::Secret;

/// ntfy shows at most three actions on a notification.
const MAX_ACTIONS: usize = 3;
/// Two of ntfy's 45 s keepalives, and some.
const QUIET: Duration = Duration::from_secs(100);
/// A line of the stream longer than this is no event of ntfy's.
const MAX_LINE: usize = 64 << 10;

pub struct Ntfy {
    /// The server's base URL, without a topic.
    server: String,
    reply_topic: String,
    auth: Option<Secret>,
    secret: String,
    stream: Option<reqwest::Response>,
    /// What the stream has read that is not a whole line yet.
    pending: Vec<u8>,
    /// The last event read, to resume from after a reconnect, and when
    /// the first subscription opened (seconds since the epoch).
    last_id: Option<String>,
    listening_since: u64,
}

impl Ntfy {
    /// Subscribes to the reply topic before anything is posted, so no
    /// answer can come before chime listens.
    pub async fn prepare(
        ctx: &Context<'_>,
        url: &Secret,
        auth: Option<Secret>,
        reply_topic: Option<String>,
        question: &Question,
    ) -> Result<Ntfy, Failure> {
        if !question.approvers.is_empty() {
            return Err(Failure::config(
                "ntfy does not say who pressed a button, so approvers cannot be checked there",
            )
            .with_hint("drop --approver (and `approvers`) for this destination, or ask on Slack or Telegram"));
        }
        if question.options.len() > MAX_ACTIONS {
            return Err(Failure::usage(format!(
                "ntfy shows at most {MAX_ACTIONS} buttons; {} options were given",
                question.options.len()
            )));
        }
        let mut ntfy = Ntfy {
            server: server_of(url.expose()),
            reply_topic: reply_topic.unwrap_or_else(|| format!("chime-ask-{}", question.nonce)),
            auth,
            secret: super::nonce()?,
            stream: None,
            pending: Vec::new(),
            last_id: None,
            listening_since: 0,
        };
        ntfy.subscribe(ctx).await?;
        Ok(ntfy)
    }

    /// The rendered message with a button per option.
    pub fn question(&self, payload: &Payload, question: &Question) -> Payload {
        let reply_url = format!("{}/{}", self.server, self.reply_topic);
        let actions: Vec<Value> = question
            .options
            .iter()
            .enumerate()
            .map(|(i, choice)| {
                json!({
                    "action": "http",
                    "label": choice.label,
                    "url": reply_url,
                    "method": "POST",
                    "body": format!("{} {i} {}", question.nonce, self.secret),
                    "clear": true,
                })
            })
            .collect();
        let mut asked = payload.clone();
        asked
            .headers
            .push(("Actions".into(), ascii_json(&Value::Array(actions))));
        asked
    }

    /// Waits for a press of one of the question's buttons; an answer that
    /// does not carry the secret is ignored.
    pub async fn wait(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
    ) -> Result<Answer, Failure> {
        loop {
            if self.stream.is_none() {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Err(failure) = self.subscribe(ctx).await {
                    report::verbose(ctx.output, &failure.message);
                }
                continue;
            }
            let Some(line) = self.line(ctx).await else {
                continue;
            };
            let Ok(event) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            // Only a message's id is in ntfy's cache for `since=` to find.
            if event["event"] != "message" {
                continue;
            }
            self.last_id = event["id"].as_str().map(str::to_owned);
            let text = event["message"].as_str().unwrap_or_default();
            match self.read_answer(text, question) {
                Some(answer) => return Ok(answer),
                None if text.starts_with(question.nonce.as_str()) => {
                    report::warning(
                        ctx.output,
                        "an answer without the question's secret was ignored",
                    );
                }
                None => {}
            }
        }
    }

    /// Tells the question's topic how its wait ended.
    pub async fn close(
        &mut self,
        ctx: &Context<'_>,
        asked: &Payload,
        ending: &Ending,
    ) -> Result<(), String> {
        self.stream = None;
        let mut follow_up = Payload {
            body: ending.line(),
            ..Payload::json(&Value::Null)
        };
        follow_up.headers = asked
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("title"))
            .cloned()
            .collect();
        let request = ctx.destination.platform.request(&follow_up);
        let answer = ctx.call(&request).await?;
        match answer.status {
            200..=299 => Ok(()),
            status => Err(format!("ntfy answered {status}")),
        }
    }

    fn read_answer(&self, text: &str, question: &Question) -> Option<Answer> {
        let mut words = text.split_whitespace();
        let (nonce, index, secret) = (words.next()?, words.next()?, words.next()?);
        let index: usize = index.parse().ok()?;
        if nonce != question.nonce || !same(secret, &self.secret) || words.next().is_some() {
            return None;
        }
        let choice = question.options.get(index)?;
        Some(Answer {
            index,
            label: choice.label.clone(),
            by: None,
            at: crate::clock::now(),
        })
    }

    /// The next whole line of the stream, or `None` for now: a line is
    /// not whole yet, or the stream ended (it is then dropped, and the
    /// caller subscribes again from the last event read).
    async fn line(&mut self, ctx: &Context<'_>) -> Option<Vec<u8>> {
        if let Some(at) = self.pending.iter().position(|b| *b == b'\n') {
            return Some(self.pending.drain(..=at).collect());
        }
        let stream = self.stream.as_mut()?;
        // ntfy sends a keepalive every 45 s: a stream quiet for longer
        // than two is a broken one, whatever TCP says.
        match tokio::time::timeout(QUIET, stream.chunk())
            .await
            .unwrap_or(Ok(None))
        {
            Ok(Some(chunk)) => {
                self.pending.extend_from_slice(&chunk);
                if self.pending.len() > MAX_LINE && !self.pending.contains(&b'\n') {
                    self.pending.clear();
                }
            }
            Ok(None) | Err(_) => {
                report::verbose(ctx.output, "the ntfy subscription ended; subscribing again");
                self.stream = None;
            }
        }
        None
    }

    /// Opens the subscription and reads up to its `open` event.
    async fn subscribe(&mut self, ctx: &Context<'_>) -> Result<(), Failure> {
        let url = self.subscription_url();
        let response = self.open_stream(ctx, &url).await?;
        self.stream = Some(response);
        self.pending.clear();
        let opened = tokio::time::timeout(ctx.timeout, async {
            loop {
                match self.line(ctx).await {
                    Some(line) => {
                        let event: Value = serde_json::from_slice(&line).unwrap_or_default();
                        if event["event"] == "open" {
                            return true;
                        }
                    }
                    None if self.stream.is_none() => return false,
                    None => {}
                }
            }
        });
        match opened.await {
            Ok(true) => Ok(()),
            _ => Err(Failure::new(
                ExitCode::TempFail,
                "the ntfy subscription did not open",
            )),
        }
    }

    /// The reply topic's stream; again after a break, from the last
    /// message read, else from when chime first listened, so that a press
    /// in the gap is not lost.
    fn subscription_url(&mut self) -> String {
        let mut url = format!("{}/{}/json", self.server, self.reply_topic);
        match &self.last_id {
            Some(id) => url.push_str(&format!("?since={id}")),
            None if self.listening_since > 0 => {
                url.push_str(&format!("?since={}", self.listening_since))
            }
            None => self.listening_since = crate::clock::epoch_secs(crate::clock::now()),
        }
        url
    }

    async fn open_stream(
        &self,
        ctx: &Context<'_>,
        url: &str,
    ) -> Result<reqwest::Response, Failure> {
        let temporary = |why: String| Failure::new(ExitCode::TempFail, why);
        let client =
            crate::deliver::client(ctx.clients, ctx.destination, url).map_err(temporary)?;
        let mut request = client.get(url);
        if let Some(auth) = &self.auth {
            request = request.header("authorization", auth.expose());
        }
        let response = tokio::time::timeout(ctx.timeout, request.send())
            .await
            .map_err(|_| temporary("ntfy did not answer the subscription in time".into()))?
            .map_err(|e| {
                temporary(format!(
                    "cannot subscribe to the reply topic: {}",
                    e.without_url()
                ))
            })?;
        match response.status().as_u16() {
            200 => Ok(response),
            401 | 403 => Err(Failure::config(format!(
                "ntfy refused to let chime read the reply topic `{}` ({})",
                self.reply_topic,
                response.status()
            ))
            .with_hint("give the destination's credentials read access to it, or set `reply_topic` to a topic they can read; the phones press without credentials, so anyone must be able to write to it")),
            status => Err(temporary(format!("ntfy answered the subscription with {status}"))),
        }
    }
}

/// The server part of a topic URL: `https://ntfy.sh/alerts` → `https://ntfy.sh`.
fn server_of(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((server, _)) => server.to_owned(),
        None => trimmed.to_owned(),
    }
}

/// JSON with everything past ASCII escaped, so that it fits a header.
fn ascii_json(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Compares two secrets without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_is_the_topic_url_without_its_topic() {
        assert_eq!(server_of("https://ntfy.sh/alerts"), "https://ntfy.sh");
        assert_eq!(
            server_of("http://127.0.0.1:9/ntfy/alerts/"),
            "http://127.0.0.1:9/ntfy"
        );
    }

    #[test]
    fn actions_in_a_header_are_ascii_json_that_reads_back_the_same() {
        let value = json!([{"label": "Déployer ✅"}]);
        let header = ascii_json(&value);
        assert!(header.is_ascii());
        assert_eq!(serde_json::from_str::<Value>(&header).unwrap(), value);
    }
}
