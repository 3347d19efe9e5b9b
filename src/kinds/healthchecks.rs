//! `kind = "healthchecks"`: a dead-man's switch that expects a ping each
//! time a job runs (PLATFORMS.md, "Healthchecks.io pinging API").
//!
//! Owns the ping's URL suffix and body and the reading of the answers. The
//! protocol is the URL itself: `URL/start` when a job starts, `URL` when it
//! succeeds, `URL/fail` or `URL/<exit status>` when it fails, each with
//! `?rid=<uuid>` so that overlapping runs of one check are told apart, and the
//! request body (the job's output) shown in the check's log. The ping URL is
//! a secret: whoever has it can ping the check, and so silence its alert.
//!
//! A payload's `op` is that suffix, as sent (`/start?rid=…`): it is decided
//! when the ping is made (`chime run` knows the outcome, a send its level)
//! and kept with it in the spool, so a late ping says what the job did.

use crate::fields::{Fields, Problem};
use crate::kinds::{
    Answer, HttpRequest, Payload, Platform, Target, Verdict, classify_http, reason,
};
use crate::message::{Level, Message};
use crate::secret::Secret;
use crate::template::{Escape, plain};

/// Healthchecks.io keeps the first 100 kB of a ping's body, a self-hosted
/// server the first `PING_BODY_LIMIT` bytes, 10,000 by default. Either would
/// keep the start of a longer body, and a job's output says how it ended at
/// its end: so chime sends the last 10,000 bytes, which both keep whole.
pub const BODY_MAX: usize = 10_000;
const PLAIN_UTF8: &str = "text/plain; charset=utf-8";

pub struct Healthchecks {
    url: Secret,
}

impl Healthchecks {
    pub fn from_fields(fields: &mut Fields) -> Healthchecks {
        let help =
            "set `url` to the check's ping URL, e.g. url = \"https://hc-ping.com/${CHECK_UUID}\"";
        let span = fields.span_of("url");
        let url = fields
            .secret_url("url", "healthchecks", help)
            .unwrap_or_else(|| Secret::url(String::new()));
        if let Some(other) = other_protocol(url.expose()) {
            let message = format!(
                "`url` is {other}, which takes the outcome in its query, not in the URL's path as healthchecks.io does: its start and failure pings would be refused"
            );
            let help = "ping it from a `webhook` destination, or with curl after the job";
            fields.problem(Problem::new(span, message).help(help));
        }
        Healthchecks { url }
    }
}

/// The dead-man's switches whose push URLs look alike but speak another
/// protocol: Cronitor's telemetry (`?state=run`) and Uptime Kuma's push
/// monitors (`?status=down`).
fn other_protocol(url: &str) -> Option<&'static str> {
    let parsed = url::Url::parse(url).ok()?;
    if parsed.host_str() == Some("cronitor.link") {
        Some("a Cronitor telemetry URL")
    } else if parsed.path().starts_with("/api/push/") {
        Some("an Uptime Kuma push URL")
    } else {
        None
    }
}

/// What a ping says of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Start,
    Success,
    /// The job's own exit status, 1 to 255: the check's log shows it.
    Exit(u8),
    /// Ended with no status of its own: killed, timed out, interrupted.
    Fail,
}

impl Signal {
    fn path(self) -> String {
        match self {
            Signal::Start => "/start".to_owned(),
            Signal::Success => String::new(),
            Signal::Exit(code) => format!("/{code}"),
            Signal::Fail => "/fail".to_owned(),
        }
    }
}

/// The ping of `signal` for the run `rid`, carrying `body` (its end, within
/// [`BODY_MAX`]).
pub fn ping(signal: Signal, rid: &str, body: &str) -> Payload {
    Payload {
        body: tail_within(body, BODY_MAX).to_owned(),
        op: format!("{}?rid={rid}", signal.path()),
        ..Payload::json(&serde_json::Value::Null)
    }
}

/// The last `max` bytes of `text` or fewer, cut at a character's start.
fn tail_within(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The ping URL with `op` (a path suffix and a query) added: the suffix goes
/// after the check's path, the query beside any the URL has (`?create=1`).
fn with_suffix(url: &str, op: &str) -> String {
    let (path, query) = op.split_once('?').unwrap_or((op, ""));
    let (base, fragment) = url.split_once('#').unwrap_or((url, ""));
    let (base, existing) = base.split_once('?').unwrap_or((base, ""));
    let mut out = format!("{}{path}", base.trim_end_matches('/'));
    let queries: Vec<&str> = [existing, query]
        .into_iter()
        .filter(|q| !q.is_empty())
        .collect();
    if !queries.is_empty() {
        out = format!("{out}?{}", queries.join("&"));
    }
    if !fragment.is_empty() {
        out = format!("{out}#{fragment}");
    }
    out
}

impl Platform for Healthchecks {
    fn kind(&self) -> &'static str {
        "healthchecks"
    }

    fn asking(&self) -> Result<crate::kinds::Asking, String> {
        let why = ": a check only counts pings";
        Err(crate::kinds::cannot_ask("healthchecks", "a ping URL", why))
    }

    fn markup(&self) -> Escape {
        plain
    }

    /// A message sent here is a ping of its own: success unless its level
    /// is an error, with the message as the body.
    fn render(&self, message: &Message, _target: &Target) -> Vec<Payload> {
        let signal = match message.level {
            Level::Error | Level::Critical => Signal::Fail,
            _ => Signal::Success,
        };
        let mut lines: Vec<String> = [message.title.as_deref(), Some(message.text.as_str())]
            .into_iter()
            .flatten()
            .filter(|line| !line.trim().is_empty())
            .map(str::to_owned)
            .collect();
        lines.extend(message.fields.iter().map(|(k, v)| format!("{k}: {v}")));
        lines.extend(
            message
                .links
                .iter()
                .map(|l| format!("{}: {}", l.label, l.url)),
        );
        // A message is one event, not a run: without a run id the check
        // reads it as a plain ping.
        let payload = Payload {
            op: signal.path(),
            ..ping(signal, "", &lines.join("\n"))
        };
        vec![payload]
    }

    /// `URL/log`: an event in the check's log that leaves its state alone,
    /// so a test neither starts a run nor counts as one.
    fn probe(&self, message: &Message, target: &Target) -> Vec<Payload> {
        let mut payloads = self.render(message, target);
        for payload in &mut payloads {
            payload.op = "/log".to_owned();
        }
        payloads
    }

    fn request(&self, payload: &Payload) -> HttpRequest {
        let url = with_suffix(self.url.expose(), &payload.op);
        HttpRequest::post(Secret::url(url), payload, PLAIN_UTF8)
    }

    fn describe(&self) -> Vec<(&'static str, toml::Value)> {
        vec![("url", self.url.to_string().into())]
    }

    fn batch_limit(&self) -> usize {
        BODY_MAX / 2
    }

    fn classify(&self, answer: &Answer) -> Verdict {
        if (200..300).contains(&answer.status) {
            return Verdict::Delivered {
                channel: None,
                ts: None,
            };
        }
        if let Some(verdict) = classify_http(answer) {
            return verdict;
        }
        let said = answer.body.trim();
        let hint = match answer.status {
            404 => {
                "no check has this ping URL: copy it again from the check's page (a slug URL needs `?create=1` to create its check)"
            }
            409 => "the slug names more than one check in the project: use the check's UUID URL",
            400 => {
                "the server did not take the ping's URL: please report this with the output of --dry-run"
            }
            _ => "see the check's settings on the server",
        };
        Verdict::Rejected {
            error: format!("{} {}: {said}", answer.status, reason(answer.status)),
            hint: Some(hint.to_owned()),
        }
    }
}

/// A new run id, a random (version 4) UUID as Healthchecks requires.
pub fn run_id() -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&crate::kinds::unique::random_u64().to_be_bytes());
    bytes[8..].copy_from_slice(&crate::kinds::unique::random_u64().to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suffix_goes_after_the_path_and_its_query_beside_the_urls() {
        let op = "/start?rid=r1";
        assert_eq!(
            with_suffix("https://hc-ping.com/abc", op),
            "https://hc-ping.com/abc/start?rid=r1"
        );
        assert_eq!(
            with_suffix("https://hc-ping.com/key/backup/?create=1", op),
            "https://hc-ping.com/key/backup/start?create=1&rid=r1"
        );
        assert_eq!(with_suffix("https://hc/abc", ""), "https://hc/abc");
    }

    #[test]
    fn a_long_body_keeps_its_end_whole_characters_only() {
        let text = format!("{}é{}", "a".repeat(10), "b".repeat(BODY_MAX - 1));
        let kept = tail_within(&text, BODY_MAX);
        assert!(kept.len() <= BODY_MAX);
        assert!(kept.ends_with('b') && !kept.contains('a'));
    }

    #[test]
    fn cronitor_and_uptime_kuma_urls_are_told_apart() {
        let kuma = "https://kuma.example.com/api/push/AbC123?status=up";
        assert_eq!(other_protocol(kuma), Some("an Uptime Kuma push URL"));
        let cronitor = "https://cronitor.link/p/key/nightly";
        assert_eq!(other_protocol(cronitor), Some("a Cronitor telemetry URL"));
        assert_eq!(other_protocol("https://hc-ping.com/abc"), None);
    }

    #[test]
    fn a_run_id_is_a_version_4_uuid() {
        let rid = run_id();
        let parts: Vec<&str> = rid.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!("89ab".contains(&parts[3][..1]));
        assert_ne!(rid, run_id());
    }

    #[test]
    fn an_exit_status_and_a_failure_have_their_own_suffix() {
        assert_eq!(ping(Signal::Exit(3), "r", "").op, "/3?rid=r");
        assert_eq!(ping(Signal::Fail, "r", "").op, "/fail?rid=r");
        assert_eq!(ping(Signal::Success, "r", "").op, "?rid=r");
    }
}
