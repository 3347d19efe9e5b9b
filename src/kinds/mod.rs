//! Destination kinds: one module per platform behind one small interface.
//!
//! A kind knows four things about its platform: how to read its table in the
//! profile ([`build`]), how to turn a neutral [`Message`] into payloads the
//! platform accepts within its limits ([`Platform::render`]), how to address a
//! payload ([`Platform::request`]: URL, credentials, signatures), and what the
//! platform's answer means ([`Platform::classify`]). Payloads carry no secret,
//! so they can wait in the spool while the secrets stay in the profile.
//! Sending, timeouts and retries belong to `deliver`; nothing here touches the
//! network. Every kind is HTTP but `email`, whose request carries a [`Mail`]
//! (the SMTP exchange `deliver` makes for it) in place of an HTTP one.

mod alert;
mod discord;
mod email;
mod exchange;
pub mod files;
mod google_chat;
mod gotify;
pub mod healthchecks;
mod markdown;
mod matrix;
mod mattermost;
mod ntfy;
mod opsgenie;
mod pagerduty;
mod pushover;
mod slack;
mod teams;
mod telegram;
pub mod text;
mod thread;
mod unique;
mod webhook;

use std::time::Duration;

use crate::fields::Fields;
use crate::message::Message;
use crate::secret::Secret;
use crate::template::Escape;
pub use alert::{Alert, AlertAction};
pub use email::{Mail, Tls as MailTls};
pub use exchange::{
    Answer, HttpRequest, JSON_UTF8, Payload, SecretRef, Verdict, classify_http, reason,
};
pub use files::{FileRef, Upload};
pub use thread::{Posted, Search, ThreadRef, Threading};

/// Every kind a profile may name.
pub const KNOWN: &[&str] = &[
    "slack",
    "slack-api",
    "discord",
    "teams",
    "telegram",
    "mattermost",
    "google-chat",
    "ntfy",
    "gotify",
    "pushover",
    "healthchecks",
    "pagerduty",
    "opsgenie",
    "matrix",
    "email",
    "webhook",
];

/// Builds the platform for `kind` from its table, or `None` for an unknown kind.
/// Problems with the table are reported through `fields`.
pub fn build(kind: &str, fields: &mut Fields) -> Option<Box<dyn Platform>> {
    match kind {
        "slack" => Some(Box::new(slack::Webhook::from_fields(fields))),
        "slack-api" => Some(Box::new(slack::Api::from_fields(fields))),
        "teams" => Some(Box::new(teams::Teams::from_fields(fields))),
        "google-chat" => Some(Box::new(google_chat::GoogleChat::from_fields(fields))),
        "webhook" => Some(Box::new(webhook::Webhook::from_fields(fields))),
        "telegram" => Some(Box::new(telegram::Telegram::from_fields(fields))),
        "ntfy" => Some(Box::new(ntfy::Ntfy::from_fields(fields))),
        "gotify" => Some(Box::new(gotify::Gotify::from_fields(fields))),
        "pushover" => Some(Box::new(pushover::Pushover::from_fields(fields))),
        "healthchecks" => Some(Box::new(healthchecks::Healthchecks::from_fields(fields))),
        "pagerduty" => Some(Box::new(pagerduty::PagerDuty::from_fields(fields))),
        "opsgenie" => Some(Box::new(opsgenie::Opsgenie::from_fields(fields))),
        "email" => Some(Box::new(email::Email::from_fields(fields))),
        "discord" => Some(Box::new(discord::Discord::from_fields(fields))),
        "mattermost" => Some(Box::new(mattermost::Mattermost::from_fields(fields))),
        "matrix" => Some(Box::new(matrix::Matrix::from_fields(fields))),
        _ => None,
    }
}

/// What `chime ask` needs of a kind that can ask a person and hear the
/// answer (`ask/`): the credentials and addresses beyond posting. Nothing
/// here touches the network either.
pub enum Asking {
    /// Slack's Web API, with the app-level token that opens Socket Mode.
    Slack {
        api_url: String,
        token: Secret,
        app_token: Secret,
    },
    /// Telegram's Bot API: every method goes through [`Platform::request`]
    /// with the method as the payload's `op`.
    Telegram,
    /// An ntfy topic: `url` publishes to it, `auth` (read access too) lets
    /// chime subscribe to the topic the answers come back on.
    Ntfy {
        url: Secret,
        auth: Option<Secret>,
        reply_topic: Option<String>,
    },
}

/// What one send adds to a destination's own settings.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// Channel override, from `--channel` or the route.
    pub channel: Option<String>,
    /// `--thread KEY` or `--update KEY`, for kinds that thread by key.
    pub thread_key: Option<String>,
    /// The alert the event is about, for kinds that [`Platform::alerts`].
    pub alert: Alert,
}

/// How far ahead a platform holds a message to post it later itself
/// (`--at`, `--in`): a message due within these bounds is handed to the
/// platform at once, rather than kept in the spool for a flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedules {
    /// The least time ahead the platform takes (ntfy refuses under 10 s).
    pub min: Duration,
    /// The most: Slack's 120 days, ntfy's default `message-delay-limit`.
    pub max: Duration,
    /// Who holds it, for the note: "Slack".
    pub holder: &'static str,
}

/// The interface every kind implements.
pub trait Platform: Send + Sync {
    /// The kind's name as written in profiles.
    fn kind(&self) -> &'static str;
    /// Escapes a plain string into this platform's text markup.
    fn escape(&self, text: &str) -> String {
        (self.markup())(text)
    }
    /// The escaping function for this platform's markup, for templates.
    fn markup(&self) -> Escape;
    /// The payloads that deliver `message`, in order, each within the platform's limits.
    fn render(&self, message: &Message, target: &Target) -> Vec<Payload>;
    /// The request that sends `payload`, with the destination's URL and credentials.
    fn request(&self, payload: &Payload) -> HttpRequest;
    /// Reads the platform's answer to one of those requests.
    fn classify(&self, answer: &Answer) -> Verdict;
    /// Reads the answer to `payload`, when the answer alone says too little
    /// (Matrix names neither the room nor, for an edit, the message edited).
    fn classify_sent(&self, _payload: &Payload, answer: &Answer) -> Verdict {
        self.classify(answer)
    }
    /// For a part whose channel is a name to look up (a Matrix room alias):
    /// the name, and the request whose verdict's `channel` is its ID.
    fn lookup(&self, _payload: &Payload) -> Option<(String, Payload)> {
        None
    }
    /// `payload` sent to the channel `id` its [`Platform::lookup`] found.
    fn found(&self, payload: &Payload, _id: &str) -> Payload {
        payload.clone()
    }
    /// What `chime test` sends: the test message as any other, unless the
    /// kind has a way to be tested that posts nothing (a heartbeat's log, who
    /// a Matrix token is, an SMTP login without a message), or a test of its
    /// own (an alert resolved before it opened).
    fn probe(&self, message: &Message, target: &Target) -> Vec<Payload> {
        self.render(message, target)
    }
    /// Whether `status` alone says the message was posted, so that an answer
    /// whose body broke off counts as delivered rather than sent again. Not
    /// for a platform that refuses inside a 2xx (Slack's Web API, `ok: false`).
    fn posted_by_status(&self, status: u16) -> bool {
        (200..300).contains(&status)
    }
    /// Whether the platform posts a message later on its own, and within
    /// which bounds; `None` keeps every `--at` message in the spool.
    fn schedules(&self) -> Option<Schedules> {
        None
    }
    /// `payload` as the request that has the platform post it at `post_at`
    /// (seconds since the epoch), or why this part cannot be scheduled so
    /// (files, an edit): it then waits in the spool.
    fn schedule(&self, _payload: &Payload, _post_at: u64) -> Result<Payload, String> {
        Err("the platform does not schedule messages".into())
    }
    /// The request that cancels a message the platform holds, by the
    /// channel and id it gave when it took it; `None` when it cannot be
    /// cancelled (chime then does not remember it).
    fn unschedule(&self, _channel: &str, _id: &str) -> Option<Payload> {
        None
    }
    /// How this kind asks a person (`chime ask`), or why it cannot, and
    /// what it would take.
    fn asking(&self) -> Result<Asking, String> {
        Err(cannot_ask(self.kind(), "a webhook", ""))
    }
    /// Whether this kind opens and closes alerts by key (pagerduty, opsgenie): it
    /// takes `--resolve` and `--acknowledge`, its events carry the send's
    /// [`Alert`], and chime's own dedupe window leaves it alone, since the
    /// platform deduplicates by the key itself and a window would hold back
    /// the resolve.
    fn alerts(&self) -> bool {
        false
    }
    /// How this kind honours `--thread`.
    fn threading(&self) -> Threading {
        Threading::Unsupported
    }
    /// Whether this kind honours `--update` (editing a message it posted).
    fn edits(&self) -> bool {
        false
    }
    /// For kinds that thread by message: `payload` as a reply in `parent`'s
    /// thread, or, when its [`ThreadRef`] says edit, as a replacement of it.
    fn attach(&self, payload: &Payload, _parent: &Posted) -> Payload {
        payload.clone()
    }
    /// `payload`, the first message under its thread key, marked so that a
    /// host that does not remember the key can find it
    /// ([`Platform::thread_search`]).
    fn mark_first(&self, payload: &Payload) -> Payload {
        payload.clone()
    }
    /// For a thread key neither this host nor the state server remembers:
    /// the request that looks, in the channel `payload` goes to, for the
    /// message posted first under its key since `oldest` (seconds since
    /// the epoch); `channel_id` is that channel's ID when an earlier look
    /// found it. `None`: the kind keeps no mark to look for.
    fn thread_search(
        &self,
        _payload: &Payload,
        _oldest: u64,
        _channel_id: Option<&str>,
    ) -> Option<Payload> {
        None
    }
    /// What the `answer` to `search`, a step of the look for `payload`'s
    /// thread, found: its first message, nothing, or the next step to take;
    /// `Err` says why it could not look.
    fn thread_found(
        &self,
        _payload: &Payload,
        _search: &Payload,
        _answer: &Answer,
        _oldest: u64,
    ) -> Result<Search, String> {
        Ok(Search::Missing)
    }
    /// Whether `message` can be rendered at all, for kinds whose rendering can
    /// fail (a profile's body template): a send stops before anything goes out.
    fn check(&self, _message: &Message) -> Result<(), String> {
        Ok(())
    }
    /// The request that comes after `sent`, which `answer` delivered, when
    /// one part takes several (Slack's file upload, `slack/upload.rs`): sent
    /// at once, as part of the same part.
    fn follow(&self, _sent: &Payload, _answer: &Answer) -> Option<Payload> {
        None
    }
    /// What a part whose follow-up `step` failed keeps, so that a retry
    /// does not repeat what went (Slack's text, before its files); `None`
    /// keeps the part as it was.
    fn restart(&self, _step: &Payload) -> Option<Payload> {
        None
    }
    /// Whether this kind attaches a file already online by its URL (ntfy's
    /// `Attach`); the others show such a file as a link.
    fn attaches_urls(&self) -> bool {
        false
    }
    /// The largest file this kind carries, or `None` when it carries none:
    /// a message's files are then named in its text instead. A profile's
    /// `max_file_size` overrides it, for a server set up otherwise.
    fn file_limit(&self) -> Option<u64> {
        None
    }
    /// Why the platform would refuse `payload`, for `config check`, which
    /// renders every template through every kind it may be sent with. Only
    /// kinds whose text a template can make invalid say anything.
    fn refusal(&self, _payload: &Payload) -> Option<String> {
        None
    }
    /// Whether a refused edit means the message to edit is gone (deleted, too
    /// old), so the part should be posted as a new message instead.
    fn edit_refused(&self, _verdict: &Verdict) -> bool {
        false
    }
    /// How much text (escaped, counted in [`Platform::measure`]) one message
    /// carries, so `chime pipe` can fill each message without it splitting.
    fn batch_limit(&self) -> usize {
        2000
    }
    /// How the platform counts text length.
    fn measure(&self) -> text::Measure {
        text::Measure::Chars
    }
    /// The pause between two messages the platform sustains; `chime pipe` and
    /// `chime flush` keep to it (a profile may override it with `pace`).
    fn pace(&self) -> Duration {
        Duration::from_secs(1)
    }
    /// The destination's settings for `chime config show`, under their profile
    /// keys, secrets in their redacted form (print a [`Secret`], never `expose`
    /// it). Values are TOML so a flag shows as `false` and headers as a table,
    /// as the profile has them. `kind` is shown already; a kind that adds
    /// nothing here shows only that.
    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        Vec::new()
    }
}

/// Why `kind`, posting through `through`, cannot ask (`why`: more, if any).
pub fn cannot_ask(kind: &str, through: &str, why: &str) -> String {
    format!(
        "{kind} posts through {through}, which cannot hear a click{why}; `chime ask` needs a kind that can: slack-api with an app_token (Socket Mode), telegram or ntfy"
    )
}

/// The identity overrides (`username`, icons) a kind keeps among its JSON
/// fields, under their profile `keys`, for [`Platform::describe`].
pub fn describe_identity(
    identity: &serde_json::Map<String, serde_json::Value>,
    keys: &[&'static str],
    out: &mut Vec<(&'static str, toml::Value)>,
) {
    for &key in keys {
        if let Some(value) = identity.get(key).and_then(serde_json::Value::as_str) {
            out.push((key, value.into()));
        }
    }
}

/// Packs items, in order, into as few parts as `fits` allows. An item that does
/// not fit even alone still gets a part of its own: the platform's refusal is
/// then the honest answer, not a silent drop.
pub fn pack<T>(items: Vec<T>, fits: impl Fn(&[T]) -> bool) -> Vec<Vec<T>> {
    let mut parts: Vec<Vec<T>> = vec![Vec::new()];
    for item in items {
        let current = parts.last_mut().expect("parts is never empty");
        current.push(item);
        if current.len() > 1 && !fits(current) {
            let item = current.pop().expect("just pushed");
            parts.push(vec![item]);
        }
    }
    parts
}

/// The widest [`marker`] a split can need, for kinds that reserve its room
/// while packing.
pub const WIDEST_MARKER: &str = "(9999/9999)";

/// The mark on part `index` (from 0) of a message split into `count` parts,
/// "(1/3)"; none when the message was not split.
pub fn marker(index: usize, count: usize) -> Option<String> {
    (count > 1).then(|| format!("({}/{count})", index + 1))
}
