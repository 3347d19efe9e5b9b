//! Asking on Slack: the question as a chime message with an `actions` block
//! of buttons, clicks heard over Socket Mode (`socket.rs`), and the message
//! edited with the decision (`click.rs`).
//!
//! Each button carries the question's nonce (in its `action_id`) and who may
//! answer (in its `value`: user IDs and user groups, `approvers.rs`), so
//! whichever chime's connection Slack hands a click to can judge it alone:
//! a click by someone else is refused to them with an ephemeral message; an
//! allowed click is settled by editing the question — buttons gone, the
//! decision shown, and the decision in the message's metadata
//! (`chime_ask_answered`). The ask that owns the question hears its own
//! clicks, and reads its message back every few seconds for one another ask
//! settled (conversations.history, or conversations.replies for a question
//! in a thread; `channels:history` or `groups:history`; without it, said
//! once, only its own connection counts, and a question whose wait ends
//! unanswered is left as it is rather than closed over a decision another
//! ask may have written there). The first answer recorded wins:
//! before an ask settles its own question it looks whether another ask
//! already did, and a question whose wait ended is looked at once more
//! before it is closed as unanswered.
//!
//! Connections are read by tasks of their own (`socket::listen`), which
//! acknowledge every envelope as it arrives, so nothing the asker waits on
//! (a rate limit, a slow edit) delays an acknowledgement past Slack's 3 s.

mod api;
mod approvers;
mod click;
mod look;
mod socket;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Answer, Context, Ending, Posted, Question, WATCH_EVERY};
use crate::exit::{ExitCode, Failure};
use crate::kinds::Payload;
use crate::report;
use crate::secret::Secret;
use api::{Api, Patience};
use approvers::{Approvers, Groups};
use click::{CLOSED, Click, MARK, decided, section, settling};
use look::left_open;
use socket::{Event, OpenError, Socket, Tagged};

/// A button's `value` holds at most this much (Block Kit).
const VALUE_MAX: usize = 2000;
/// The longest pause between tries to reconnect.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// Whether Socket Mode opens for `app_token` (`chime test`): a connection
/// that says hello, closed at once.
pub async fn check(
    ctx: &Context<'_>,
    api_url: String,
    token: Secret,
    app_token: Secret,
) -> Result<(), Failure> {
    let slack = Slack::new(api_url, token, app_token);
    slack.connect(ctx).await?.close().await;
    Ok(())
}

pub struct Slack {
    api: Api,
    app_token: Secret,
    approvers: Approvers,
    groups: Groups,
    /// Every connection's events, tagged with its number.
    events: mpsc::UnboundedReceiver<Tagged>,
    sender: mpsc::UnboundedSender<Tagged>,
    /// The tasks reading the connections, newest last; the last is current.
    readers: Vec<(u64, JoinHandle<()>)>,
    connections: u64,
    /// How long to wait before the next reconnect after a connection closed.
    pause: Duration,
    /// The scope the app lacks to read the channel's history, once Slack
    /// said so: answers another ask settled are not seen, and the question
    /// is not closed over one. No look before `look_after` (a rate limit).
    blind: Option<String>,
    look_after: Instant,
    /// The question is a reply in a thread, which the channel's history
    /// does not list: it is read back through its thread.
    threaded: bool,
    /// The edit that settles this ask's own answer, when it failed: the
    /// close tries it once more, so the buttons do not outlive the answer.
    unsettled: Option<Value>,
}

impl Slack {
    fn new(api_url: String, token: Secret, app_token: Secret) -> Slack {
        let (sender, events) = mpsc::unbounded_channel();
        Slack {
            api: Api {
                url: api_url,
                token,
            },
            app_token,
            approvers: Approvers::default(),
            groups: Groups::default(),
            events,
            sender,
            readers: Vec::new(),
            connections: 0,
            pause: Duration::ZERO,
            blind: None,
            look_after: Instant::now(),
            threaded: false,
            unsettled: None,
        }
    }

    /// Resolves who may answer and opens the connection, before anything
    /// is posted: a question no one could answer is never asked.
    pub async fn prepare(
        ctx: &Context<'_>,
        api_url: String,
        token: Secret,
        app_token: Secret,
        question: &Question,
    ) -> Result<Slack, Failure> {
        let mut slack = Slack::new(api_url, token, app_token);
        slack.approvers =
            approvers::resolve(&slack.api, ctx, &question.approvers, &mut slack.groups).await?;
        let socket = slack.connect(ctx).await?;
        slack.listen(socket);
        Ok(slack)
    }

    /// The rendered message with its buttons, and its mark in the metadata.
    pub fn question(&self, payload: &Payload, question: &Question) -> Result<Payload, Failure> {
        let mut body: Value = serde_json::from_str(&payload.body).expect("rendered as JSON");
        let value =
            json!({"q": question.nonce, "u": self.approvers.users, "g": self.approvers.groups})
                .to_string();
        if value.len() > VALUE_MAX {
            return Err(Failure::usage(
                "too many approvers for one Slack button (2,000 characters of IDs)",
            )
            .with_hint("name a user group (S…) instead of its members"));
        }
        let block = click::buttons(question, &value);
        match body["blocks"].as_array_mut() {
            Some(blocks) => blocks.push(block),
            None => body["blocks"] = json!([section(body["text"].as_str().unwrap_or("")), block]),
        }
        body["metadata"] =
            json!({"event_type": MARK, "event_payload": {"question": question.nonce}});
        Ok(payload.reworked(&body, payload.op.clone()))
    }

    /// Waits for this question's answer: a click on its own connection, or
    /// one another ask settled in the message. Reconnects when Slack asks
    /// or the connection breaks, for as long as the wait lasts.
    pub async fn wait(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
        posted: &Posted,
    ) -> Result<Answer, Failure> {
        let mut watch = tokio::time::interval(WATCH_EVERY);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        watch.tick().await;
        loop {
            let tagged = tokio::select! {
                tagged = self.events.recv() => tagged,
                _ = watch.tick(), if self.blind.is_none() => {
                    if let Some(answer) = self.settled(ctx, question, posted).await {
                        return Ok(answer);
                    }
                    continue;
                }
            };
            let (id, event) = tagged.expect("the asker holds a sender");
            if let Some(answer) = self.on(ctx, question, posted, id, event).await? {
                return Ok(answer);
            }
        }
    }

    /// What one event of connection `id` does.
    async fn on(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
        posted: &Posted,
        id: u64,
        event: Event,
    ) -> Result<Option<Answer>, Failure> {
        let current = id == self.connections;
        match event {
            Event::Envelope { kind, payload } => {
                self.pause = Duration::ZERO;
                if kind == "interactive" && payload["type"] == "block_actions" {
                    return Ok(self.click(ctx, &payload, question, posted).await);
                }
            }
            Event::Disconnect(reason) if reason == "link_disabled" => {
                return Err(Failure::config(
                    "Slack turned Socket Mode off for the app while waiting",
                )
                .with_hint("turn Socket Mode on again in the app's settings, then ask again"));
            }
            Event::Disconnect(reason) if current => {
                if reason == "too_many_websockets" {
                    report::warning(
                        ctx.output,
                        "the Slack app has 10 Socket Mode connections open, its most: trying again in a while, and reading the question back meanwhile",
                    );
                    self.pause = self.pause.max(Duration::from_secs(10));
                }
                self.reconnect(ctx).await?;
            }
            Event::Closed(why) if current => {
                report::verbose(ctx.output, &format!("{why}; reconnecting"));
                self.pause = (self.pause * 2).clamp(Duration::from_secs(1), MAX_PAUSE);
                self.reconnect(ctx).await?;
            }
            // An old connection's last words: the current one carries on.
            Event::Disconnect(_) | Event::Closed(_) => {}
        }
        Ok(None)
    }

    /// The answer another ask recorded once the wait is over, so that a
    /// question answered at the last moment is not closed as unanswered.
    pub async fn last_look(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
        posted: &Posted,
    ) -> Option<Answer> {
        self.look_after = Instant::now();
        match self.blind {
            None => self.settled(ctx, question, posted).await,
            Some(_) => None,
        }
    }

    /// Takes the question's buttons away once the wait ended without an
    /// answer; an answered question was edited by whoever settled it. An
    /// ask that cannot read the question back leaves it as it is: another
    /// ask may have settled it, and the edit would replace that decision.
    pub async fn close(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
        posted: &Posted,
        asked: &Payload,
        ending: &Ending,
    ) -> Result<(), String> {
        for (_, reader) in self.readers.drain(..) {
            reader.abort();
        }
        if let Some(scope) = &self.blind
            && !matches!(ending, Ending::Answered(_))
        {
            return Err(left_open(scope));
        }
        let edit = match ending {
            Ending::Answered(_) => match self.unsettled.take() {
                Some(edit) => edit,
                None => return Ok(()),
            },
            _ => {
                let body: Value = serde_json::from_str(&asked.body).unwrap_or_default();
                let line = ctx.destination.platform.escape(&ending.line());
                json!({
                    "channel": posted.channel,
                    "ts": posted.ts,
                    "text": format!("{}\n{line}", body["text"].as_str().unwrap_or_default()),
                    "blocks": decided(&body["blocks"], &line),
                    "metadata": {"event_type": CLOSED, "event_payload": {"question": question.nonce}},
                })
            }
        };
        let edited = self.api.write(ctx, "chat.update", &edit).await;
        edited.map(drop).map_err(|e| e.to_string())
    }

    /// A new connection first, then the old one let go of, so no click
    /// falls between them: an envelope the old one was sent is still read
    /// (and acknowledged) until Slack closes it.
    async fn reconnect(&mut self, ctx: &Context<'_>) -> Result<(), Failure> {
        loop {
            tokio::time::sleep(self.pause).await;
            match self.connect(ctx).await {
                Ok(socket) => {
                    self.listen(socket);
                    return Ok(());
                }
                Err(failure) if failure.code == ExitCode::TempFail => {
                    report::verbose(ctx.output, &failure.message);
                    self.pause = (self.pause * 2).clamp(Duration::from_secs(1), MAX_PAUSE);
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    /// Reads `socket` from now on; of the older connections, only the last
    /// is kept reading, for what Slack still sends on it.
    fn listen(&mut self, socket: Socket) {
        self.connections += 1;
        let reader = socket::listen(socket, self.connections, self.sender.clone());
        self.readers.push((self.connections, reader));
        while self.readers.len() > 2 {
            self.readers.remove(0).1.abort();
        }
    }

    async fn connect(&self, ctx: &Context<'_>) -> Result<Socket, Failure> {
        socket::open(ctx, &self.api.url, &self.app_token).await.map_err(|err| match err {
            OpenError::Refused(code) => {
                let hint = match code.as_str() {
                    "not_allowed_token_type" => "`app_token` must be the app-level token (xapp-…), not the bot token",
                    "invalid_auth" | "not_authed" | "token_revoked" => {
                        "check `app_token`: create one with connections:write under Basic Information → App-Level Tokens"
                    }
                    _ => "turn on Socket Mode and Interactivity in the app's settings",
                };
                Failure::config(format!("Slack refused Socket Mode: {code}")).with_hint(hint)
            }
            OpenError::Failed(why) => Failure::new(ExitCode::TempFail, why),
        })
    }

    /// Handles a click: refused to its author if they may not answer,
    /// settled in the message if they may. The answer, if the question is
    /// this ask's own.
    async fn click(
        &mut self,
        ctx: &Context<'_>,
        payload: &Value,
        question: &Question,
        posted: &Posted,
    ) -> Option<Answer> {
        let click = Click::read(payload).filter(|click| click.open)?;
        if !self.may_answer(ctx, &click).await {
            self.refuse(ctx, &click).await;
            return None;
        }
        let own = click.nonce == question.nonce;
        if own && let Some(first) = self.last_look(ctx, question, posted).await {
            return Some(first);
        }
        let mut answer = click.answer();
        if let Some(person) = answer.by.as_mut()
            && let Some(name) = self.display_name(ctx, &person.id).await
        {
            person.name = Some(name);
        }
        let line = ctx
            .destination
            .platform
            .escape(&Ending::Answered(answer.clone()).line());
        let edit = settling(
            &click.channel,
            &click.ts,
            &click.text,
            &click.blocks,
            &line,
            &click.nonce,
            &answer,
        );
        if let Err(err) = self.api.write(ctx, "chat.update", &edit).await {
            report::warning(
                ctx.output,
                &format!("cannot record the answer in the question: {err}"),
            );
            if own {
                self.unsettled = Some(edit);
            }
        }
        own.then_some(answer)
    }

    /// How Slack shows `user`: their display name, else their full name
    /// (users.info, with `users:read`); `None` leaves the username the
    /// click carried.
    async fn display_name(&self, ctx: &Context<'_>, user: &str) -> Option<String> {
        let body = self
            .api
            .read(ctx, "users.info", &[("user", user)], Patience::Once)
            .await
            .ok()?;
        let profile = &body["user"]["profile"];
        let named = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        named(&profile["display_name"]).or_else(|| named(&profile["real_name"]))
    }

    async fn may_answer(&mut self, ctx: &Context<'_>, click: &Click) -> bool {
        let approvers = &click.approvers;
        if approvers.anyone() || approvers.users.contains(&click.user) {
            return true;
        }
        for group in &approvers.groups {
            if self.groups.has(&self.api, ctx, group, &click.user).await {
                return true;
            }
        }
        false
    }

    async fn refuse(&self, ctx: &Context<'_>, click: &Click) {
        let text = format!(
            "You are not an approver of this question, so your click was not counted: it waits for {}.",
            click.approvers.mentioned()
        );
        let body = json!({"channel": click.channel, "user": click.user, "text": text});
        if let Err(err) = self.api.write(ctx, "chat.postEphemeral", &body).await {
            report::warning(
                ctx.output,
                &format!("cannot tell {} they may not answer: {err}", click.user),
            );
        }
    }
}
