//! Asking on Slack: the question as a chime message with an `actions` block
//! of buttons, clicks heard over Socket Mode (`socket.rs`), and the message
//! edited with the decision.
//!
//! Each button carries the question's nonce (in its `action_id`) and who may
//! answer (in its `value`: user IDs and user groups), so whichever chime's
//! connection Slack hands a click to can judge it alone: a click by someone
//! else is refused to them with an ephemeral message; an allowed click is
//! settled by editing the question — buttons gone, the decision shown, and
//! the decision in the message's metadata (`chime_ask_answered`). The ask
//! that owns the question hears its own clicks, and reads its message's
//! metadata every few seconds for one another ask settled
//! (`conversations.replies`, which needs `channels:history` or
//! `groups:history`; without it, said once, only its own connection
//! counts).

mod socket;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{Answer, Context, Ending, Person, Posted, Question, Style, WATCH_EVERY};
use crate::exit::{ExitCode, Failure};
use crate::kinds::{HttpRequest, JSON_UTF8, Payload};
use crate::report;
use crate::secret::Secret;
use socket::{Event, OpenError, Socket};

/// Marks a block, and the `action_id`s of its buttons, as a question's.
const MARK: &str = "chime_ask";
/// The metadata event type of a question settled.
const ANSWERED: &str = "chime_ask_answered";
/// A button's `value` holds at most this much (Block Kit).
const VALUE_MAX: usize = 2000;
/// Pages of users.list read to find `@handle`s: 200 users each.
const MAX_USER_PAGES: usize = 50;

/// A Slack API method's refusal, or a failure to reach it.
#[derive(Debug)]
enum CallError {
    Slack {
        code: String,
        needed: Option<String>,
    },
    Failed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Slack {
                code,
                needed: Some(scope),
            } => write!(f, "{code} (needs {scope})"),
            CallError::Slack { code, .. } => f.write_str(code),
            CallError::Failed(why) => f.write_str(why),
        }
    }
}

/// Who may answer, resolved to what a click carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Approvers {
    users: Vec<String>,
    groups: Vec<String>,
}

/// Whether Socket Mode opens for `app_token` (`chime test`): a connection
/// that says hello, closed at once.
pub async fn check(
    ctx: &Context<'_>,
    api_url: String,
    token: Secret,
    app_token: Secret,
) -> Result<(), Failure> {
    let slack = Slack {
        api_url,
        token,
        app_token,
        socket: None,
        approvers: Approvers::default(),
        members: HashMap::new(),
        watching: false,
        unsettled: None,
    };
    slack.connect(ctx).await?.close().await;
    Ok(())
}

pub struct Slack {
    api_url: String,
    token: Secret,
    app_token: Secret,
    socket: Option<Socket>,
    approvers: Approvers,
    /// User groups' members, read once per run.
    members: HashMap<String, Vec<String>>,
    /// Whether the channel's history can be read, to see answers another ask settled.
    watching: bool,
    /// The edit that settles this ask's own answer, when it failed: the
    /// close tries it once more, so the buttons do not outlive the answer.
    unsettled: Option<Value>,
}

impl Slack {
    /// Resolves who may answer and opens the connection, before anything
    /// is posted: a question no one could answer is never asked.
    pub async fn prepare(
        ctx: &Context<'_>,
        api_url: String,
        token: Secret,
        app_token: Secret,
        question: &Question,
    ) -> Result<Slack, Failure> {
        let mut slack = Slack {
            api_url,
            token,
            app_token,
            socket: None,
            approvers: Approvers::default(),
            members: HashMap::new(),
            watching: true,
            unsettled: None,
        };
        slack.approvers = slack.resolve(ctx, &question.approvers).await?;
        slack.socket = Some(slack.connect(ctx).await?);
        Ok(slack)
    }

    /// The rendered message with its buttons, and its mark in the metadata.
    pub fn question(&self, payload: &Payload, question: &Question) -> Result<Payload, Failure> {
        let mut body: Value = serde_json::from_str(&payload.body).expect("rendered as JSON");
        let value = json!({
            "q": question.nonce,
            "u": self.approvers.users,
            "g": self.approvers.groups,
        })
        .to_string();
        if value.len() > VALUE_MAX {
            return Err(Failure::usage(
                "too many approvers for one Slack button (2,000 characters of IDs)",
            )
            .with_hint("name a user group (S…) instead of its members"));
        }
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
        let block = json!({"type": "actions", "block_id": format!("{MARK}:{}", question.nonce), "elements": buttons});
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
            let socket = self.socket.as_mut().expect("connected in prepare");
            tokio::select! {
                event = socket.next() => match event {
                    Event::Envelope { kind, payload } => {
                        if kind == "interactive"
                            && payload["type"] == "block_actions"
                            && let Some(answer) = self.click(ctx, &payload, question).await
                        {
                            return Ok(answer);
                        }
                    }
                    Event::Disconnect(reason) if reason == "link_disabled" => {
                        return Err(Failure::config("Slack turned Socket Mode off for the app while waiting")
                            .with_hint("turn Socket Mode on again in the app's settings, then ask again"));
                    }
                    Event::Disconnect(_) => self.reconnect(ctx).await?,
                    Event::Closed(why) => {
                        report::verbose(ctx.output, &format!("{why}; reconnecting"));
                        self.reconnect(ctx).await?;
                    }
                },
                _ = watch.tick(), if self.watching => {
                    if let Some(answer) = self.settled(ctx, question, posted).await {
                        return Ok(answer);
                    }
                }
            }
        }
    }

    /// Takes the question's buttons away once the wait ended without an
    /// answer; an answered question was edited by whoever settled it.
    pub async fn close(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
        posted: &Posted,
        asked: &Payload,
        ending: &Ending,
    ) -> Result<(), String> {
        if let Some(socket) = self.socket.take() {
            socket.close().await;
        }
        if matches!(ending, Ending::Answered(_)) {
            return match self.unsettled.take() {
                Some(edit) => self
                    .post(ctx, "chat.update", &edit)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                None => Ok(()),
            };
        }
        let body: Value = serde_json::from_str(&asked.body).unwrap_or_default();
        let line = ctx.destination.platform.escape(&ending.line());
        let edit = json!({
            "channel": posted.channel,
            "ts": posted.ts,
            "text": format!("{}\n{line}", body["text"].as_str().unwrap_or_default()),
            "blocks": decided(&body["blocks"], &line),
            "metadata": {"event_type": "chime_ask_closed",
                         "event_payload": {"question": question.nonce}},
        });
        self.post(ctx, "chat.update", &edit)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// A new connection first, then the old one closed, so no click falls
    /// between them; Slack sends what the old one did not acknowledge again.
    async fn reconnect(&mut self, ctx: &Context<'_>) -> Result<(), Failure> {
        let mut pause = Duration::from_secs(1);
        loop {
            match self.connect(ctx).await {
                Ok(socket) => {
                    if let Some(old) = self.socket.replace(socket) {
                        old.close().await;
                    }
                    return Ok(());
                }
                Err(failure) if failure.code == ExitCode::TempFail => {
                    report::verbose(ctx.output, &failure.message);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    async fn connect(&self, ctx: &Context<'_>) -> Result<Socket, Failure> {
        socket::open(ctx, &self.api_url, &self.app_token)
            .await
            .map_err(|err| match err {
                OpenError::Refused(code) => {
                    Failure::config(format!("Slack refused Socket Mode: {code}")).with_hint(
                        match code.as_str() {
                            "not_allowed_token_type" => {
                                "`app_token` must be the app-level token (xapp-…), not the bot token"
                            }
                            "invalid_auth" | "not_authed" | "token_revoked" => {
                                "check `app_token`: create one with connections:write under Basic Information → App-Level Tokens"
                            }
                            _ => "turn on Socket Mode and Interactivity in the app's settings",
                        },
                    )
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
    ) -> Option<Answer> {
        let click = Click::read(payload)?;
        if !click.open {
            return None;
        }
        if !self.may_answer(ctx, &click).await {
            self.refuse(ctx, &click).await;
            return None;
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
        let edit = json!({
            "channel": click.channel,
            "ts": click.ts,
            "text": format!("{}\n{line}", click.text),
            "blocks": decided(&click.blocks, &line),
            "metadata": {"event_type": ANSWERED, "event_payload": {
                "question": click.nonce,
                "option": answer.index,
                "label": answer.label,
                "user": click.user,
                "name": answer.by.as_ref().and_then(|p| p.name.clone()),
                "at": epoch(answer.at),
            }},
        });
        if let Err(err) = self.post(ctx, "chat.update", &edit).await {
            report::warning(
                ctx.output,
                &format!("cannot record the answer in the question: {err}"),
            );
        }
        (click.nonce == question.nonce).then_some(answer)
    }

    /// How Slack shows `user`: their display name, else their full name
    /// (users.info, with `users:read`); `None` leaves the handle the click
    /// carried.
    async fn display_name(&self, ctx: &Context<'_>, user: &str) -> Option<String> {
        let body = self.read(ctx, "users.info", &[("user", user)]).await.ok()?;
        let profile = &body["user"]["profile"];
        let named = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        named(&profile["display_name"]).or_else(|| named(&profile["real_name"]))
    }

    async fn may_answer(&mut self, ctx: &Context<'_>, click: &Click) -> bool {
        if click.approvers.users.is_empty() && click.approvers.groups.is_empty() {
            return true;
        }
        if click.approvers.users.contains(&click.user) {
            return true;
        }
        for group in &click.approvers.groups {
            if self.members(ctx, group).await.contains(&click.user) {
                return true;
            }
        }
        false
    }

    async fn members(&mut self, ctx: &Context<'_>, group: &str) -> Vec<String> {
        if let Some(members) = self.members.get(group) {
            return members.clone();
        }
        let users = match self
            .read(ctx, "usergroups.users.list", &[("usergroup", group)])
            .await
        {
            Ok(body) => strings(&body["users"]),
            Err(err) => {
                report::warning(
                    ctx.output,
                    &format!("cannot read user group {group}: {err}"),
                );
                return Vec::new();
            }
        };
        self.members.insert(group.to_owned(), users.clone());
        users
    }

    async fn refuse(&self, ctx: &Context<'_>, click: &Click) {
        let mut who: Vec<String> = click
            .approvers
            .users
            .iter()
            .map(|u| format!("<@{u}>"))
            .collect();
        who.extend(
            click
                .approvers
                .groups
                .iter()
                .map(|g| format!("<!subteam^{g}>")),
        );
        let text = format!(
            "You are not an approver of this question, so your click was not counted: it waits for {}.",
            who.join(", ")
        );
        let body = json!({"channel": click.channel, "user": click.user, "text": text});
        if let Err(err) = self.post(ctx, "chat.postEphemeral", &body).await {
            report::warning(
                ctx.output,
                &format!("cannot tell {} they may not answer: {err}", click.user),
            );
        }
    }

    /// The answer another ask recorded in the question, if one did.
    async fn settled(
        &mut self,
        ctx: &Context<'_>,
        question: &Question,
        posted: &Posted,
    ) -> Option<Answer> {
        let form = [
            ("channel", posted.channel.as_str()),
            ("ts", posted.ts.as_str()),
            ("latest", posted.ts.as_str()),
            ("oldest", posted.ts.as_str()),
            ("inclusive", "true"),
            ("limit", "1"),
            ("include_all_metadata", "true"),
        ];
        let body = match self.read(ctx, "conversations.replies", &form).await {
            Ok(body) => body,
            Err(CallError::Slack { code, needed }) if code == "missing_scope" => {
                let scope = needed.unwrap_or_else(|| "channels:history".into());
                report::warning(
                    ctx.output,
                    &format!(
                        "cannot read the channel's history (the app needs {scope}): a click Slack hands to another chime ask's connection will not reach this one"
                    ),
                );
                self.watching = false;
                return None;
            }
            Err(err) => {
                report::verbose(ctx.output, &format!("cannot read the question back: {err}"));
                return None;
            }
        };
        let messages = body["messages"].as_array()?;
        let message = messages.iter().find(|m| m["ts"] == posted.ts.as_str())?;
        recorded(&message["metadata"], &question.nonce)
    }

    /// Resolves `@handle`s to user IDs (users.list) and checks that user
    /// groups exist and can be read.
    async fn resolve(&mut self, ctx: &Context<'_>, named: &[String]) -> Result<Approvers, Failure> {
        let mut approvers = Approvers::default();
        let mut handles = Vec::new();
        for name in named {
            match kind_of(name) {
                Named::User => approvers.users.push(name.clone()),
                Named::Group => approvers.groups.push(name.clone()),
                Named::Handle(handle) => handles.push(handle),
            }
        }
        if !handles.is_empty() {
            let found = self.handles(ctx, &handles).await?;
            approvers.users.extend(found);
        }
        for group in &approvers.groups {
            let members = self
                .read(ctx, "usergroups.users.list", &[("usergroup", group)])
                .await
                .map_err(|err| {
                    approver_failure(&format!("user group {group}"), &err, "usergroups:read")
                })?;
            self.members
                .insert(group.clone(), strings(&members["users"]));
        }
        approvers.users.dedup();
        Ok(approvers)
    }

    async fn handles(&self, ctx: &Context<'_>, handles: &[String]) -> Result<Vec<String>, Failure> {
        let mut found: Vec<Option<String>> = vec![None; handles.len()];
        let mut cursor = String::new();
        for _ in 0..MAX_USER_PAGES {
            let form = [("limit", "200"), ("cursor", cursor.as_str())];
            let page = self
                .read(ctx, "users.list", &form)
                .await
                .map_err(|err| approver_failure("@handles", &err, "users:read"))?;
            for member in page["members"].as_array().into_iter().flatten() {
                let names = [&member["name"], &member["profile"]["display_name"]];
                for (i, handle) in handles.iter().enumerate() {
                    if names
                        .iter()
                        .any(|n| n.as_str().is_some_and(|n| n.eq_ignore_ascii_case(handle)))
                    {
                        found[i] = member["id"].as_str().map(str::to_owned);
                    }
                }
            }
            cursor = page["response_metadata"]["next_cursor"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if cursor.is_empty() || found.iter().all(Option::is_some) {
                break;
            }
        }
        handles
            .iter()
            .zip(found)
            .map(|(handle, id)| {
                id.ok_or_else(|| {
                    Failure::config(format!("approver @{handle}: no such user in the workspace"))
                        .with_hint("give the user's ID (U…, from their profile's ⋮ → Copy member ID) or their exact handle")
                })
            })
            .collect()
    }

    /// A reading method, form-encoded as Slack's read methods take it.
    async fn read(
        &self,
        ctx: &Context<'_>,
        method: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, CallError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().filter(|(_, v)| !v.is_empty()))
            .finish();
        self.call(ctx, method, body, "application/x-www-form-urlencoded")
            .await
    }

    /// A writing method, with a JSON body.
    async fn post(
        &self,
        ctx: &Context<'_>,
        method: &str,
        body: &Value,
    ) -> Result<Value, CallError> {
        self.call(ctx, method, body.to_string(), JSON_UTF8).await
    }

    /// One method call, waiting out a rate limit a few times.
    async fn call(
        &self,
        ctx: &Context<'_>,
        method: &str,
        body: String,
        content_type: &str,
    ) -> Result<Value, CallError> {
        let request = HttpRequest {
            method: reqwest::Method::POST,
            url: Secret::public(&format!("{}/{method}", self.api_url)),
            headers: vec![
                ("content-type".into(), Secret::public(content_type)),
                ("authorization".into(), Secret::bearer(&self.token)),
            ],
            body: Secret::public(&body),
            upload: None,
        };
        for _ in 0..4 {
            let answer = ctx.call(&request).await.map_err(CallError::Failed)?;
            if answer.status == 429 {
                let wait = answer.retry_after.unwrap_or(Duration::from_secs(1));
                tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
                continue;
            }
            let body: Value = serde_json::from_str(&answer.body).map_err(|_| {
                CallError::Failed(format!("{method} answered {} without JSON", answer.status))
            })?;
            if body["ok"] == true {
                return Ok(body);
            }
            return Err(CallError::Slack {
                code: body["error"].as_str().unwrap_or("unknown_error").to_owned(),
                needed: body["needed"].as_str().map(str::to_owned),
            });
        }
        Err(CallError::Failed(format!("{method} stayed rate limited")))
    }
}

/// A click on one of a question's buttons, as a block_actions payload has it.
struct Click {
    nonce: String,
    index: usize,
    label: String,
    approvers: Approvers,
    user: String,
    name: Option<String>,
    channel: String,
    ts: String,
    text: String,
    blocks: Value,
    /// Whether the message still has the question's buttons: a click on a
    /// question already settled (a stale client's) is ignored.
    open: bool,
}

impl Click {
    /// The click, if it is on a chime question's button.
    fn read(payload: &Value) -> Option<Click> {
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
            name: user["name"]
                .as_str()
                .or(user["username"].as_str())
                .map(str::to_owned),
            channel: payload["container"]["channel_id"]
                .as_str()
                .or(payload["channel"]["id"].as_str())?
                .to_owned(),
            ts: payload["container"]["message_ts"]
                .as_str()
                .or(message["ts"].as_str())?
                .to_owned(),
            text: message["text"].as_str().unwrap_or_default().to_owned(),
            blocks,
            open,
        })
    }

    fn answer(&self) -> Answer {
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

/// The answer a question's metadata records, if it is `nonce`'s.
fn recorded(metadata: &Value, nonce: &str) -> Option<Answer> {
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
fn decided(blocks: &Value, line: &str) -> Value {
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

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn strings(value: &Value) -> Vec<String> {
    let items = value.as_array().into_iter().flatten();
    items
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn epoch(at: SystemTime) -> u64 {
    crate::clock::epoch_secs(at)
}

/// What an approver's name is.
enum Named {
    /// A user ID: `U…` or, on Enterprise Grid, `W…`.
    User,
    /// A user group ID: `S…`.
    Group,
    /// A handle, `@name` or `name`, to look up.
    Handle(String),
}

fn kind_of(name: &str) -> Named {
    let id_like = |rest: &str| {
        rest.len() >= 6
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    };
    match name.split_at_checked(1) {
        Some(("U" | "W", rest)) if id_like(rest) => Named::User,
        Some(("S", rest)) if id_like(rest) => Named::Group,
        _ => Named::Handle(name.trim_start_matches('@').to_owned()),
    }
}

fn approver_failure(what: &str, err: &CallError, scope: &str) -> Failure {
    let failure = Failure::config(format!("cannot resolve the approvers' {what}: {err}"));
    match err {
        CallError::Slack { code, .. } if code == "missing_scope" => failure.with_hint(format!(
            "add the {scope} scope to the Slack app and reinstall it"
        )),
        CallError::Slack { code, .. } if code == "no_such_subteam" => {
            failure.with_hint("check the user group's ID (S…)")
        }
        CallError::Failed(_) => Failure::new(ExitCode::TempFail, failure.message),
        _ => failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvers_are_told_apart_by_their_shape() {
        assert!(matches!(kind_of("U0123ABCD"), Named::User));
        assert!(matches!(kind_of("W0123ABCD"), Named::User));
        assert!(matches!(kind_of("S0123ABCD"), Named::Group));
        assert!(matches!(kind_of("@alice"), Named::Handle(h) if h == "alice"));
        assert!(matches!(kind_of("Sam"), Named::Handle(h) if h == "Sam"));
    }

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
