//! Delivery: sending each destination's requests, concurrently, within its timeout.
//!
//! All destinations of a send share one HTTP client per `ca_file` setting
//! (keep-alive, rustls; `net.rs`) and run at once; the parts of one destination go in order, one after another. A
//! platform that throttles is waited on while its `Retry-After` fits in the
//! destination's timeout; a transient failure (connect error, timeout, 5xx) gets a
//! short jittered backoff and a retry or two. What the answers mean is the kind's
//! call ([`Platform::classify`]); this module only decides whether to try again.
//!
//! # What a server can make chime do
//!
//! Everything read from a server is bounded. Headers are hyper's to bound
//! (100 of them, some hundred KiB in all). A body is read as it streams in and
//! only its first [`MAX_ANSWER_BYTES`] are kept: past them chime stops reading
//! and drops the connection, so an endless or gigabyte answer costs no more
//! memory than a short one, and is classified from the bytes kept. A wait the
//! platform asks for is capped at [`MAX_WAIT`], and the whole exchange, body
//! included, at the destination's timeout.
//!
//! # Ambiguous failures
//!
//! A message must not be posted several times because a server misbehaved.
//! What chime can tell from a failed try (reqwest says no more than this):
//!
//! - *No connection* (`is_connect`: refused, unreachable, TLS handshake): nothing
//!   was sent, so the try is retried like any transient failure.
//! - *Connected, and no status came back* (a reset or close while the request
//!   was being written or after, a timeout): the platform may have taken the
//!   request, as reqwest cannot say whether the body was written in full. After
//!   such a try chime tries at most once more before the message goes to the
//!   spool: a server that posts and then hangs up gets two copies, not four.
//! - *A status came and the body broke off*: a 2xx is delivered, as the kind's
//!   [`Platform::posted_by_status`] says for all but Slack's Web API, which
//!   refuses inside a 200 and so needs its body; there the try is ambiguous as
//!   above. A first message under a thread key whose id was in the lost body
//!   is not remembered, with a warning. Any other status is classified from the
//!   part of the body that came.
//!
//! A timeout of a try is the destination's whole remaining time, so a try that
//! timed out is never followed by another in-process.
mod call;
mod drain;
mod net;
mod outbox;
mod smtp;
mod upload;
mod wire;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::exit::{ExitCode, Failure};
use crate::kinds::{HttpRequest, Payload, Platform, Posted, Search, Verdict, reason};
use crate::state::Threads;

pub use call::{call, client};
pub use drain::{Context, Drained, Due, drain};
pub use net::Clients;
pub use outbox::{Outbox, Place};
#[cfg(test)]
use wire::parse_retry_after;
use wire::{Reply, send};

/// Tries per request for transient failures (not counting waits on 429).
const MAX_TRANSIENT_TRIES: u32 = 3;
/// Tries per request when the platform keeps throttling.
const MAX_THROTTLED_TRIES: u32 = 6;
const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// A 429 without `Retry-After` still means "slow down": chime backs off on its
/// own, doubling from this (ntfy never says how long; a fixed second would
/// spend the destination's quota on retries that are refused anyway).
const THROTTLE_FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait a platform may ask for: longer asks (a Telegram
/// `retry_after` of 2⁶⁴ seconds) are taken as "not today", not as a date past
/// the end of the clock.
const MAX_WAIT: Duration = Duration::from_secs(86_400);
/// The most of a platform's error text a report carries.
const MAX_ERROR_CHARS: usize = 500;

/// The work for one destination.
pub struct Job<'a> {
    pub name: &'a str,
    pub platform: &'a dyn Platform,
    pub payloads: Vec<Payload>,
    pub timeout: Duration,
    /// Where `--thread`/`--update` keys are remembered, for parts that carry one.
    pub threads: Option<&'a Threads>,
    /// The destination's `ca_file`, which picks its client.
    pub ca_file: Option<&'a crate::config::CaFile>,
    /// The destination's `proxy`, which picks its client too.
    pub proxy: Option<&'a crate::config::ProxyChoice>,
    /// Whether a large upload shows a progress bar (`Clients::showing`).
    pub progress: bool,
    /// The destination's `pace`: with a state server, every request waits
    /// for the fleet's turn under it (`Threads::fleet_turn`).
    pub pace: Duration,
}

impl<'a> Job<'a> {
    /// A job of `payloads` for `destination`, with its client settings, no
    /// thread keys and no progress bar: a request of its own (a test, a
    /// schedule or its cancel), not a message of the outbox.
    pub fn alone(
        destination: &'a crate::config::Destination,
        payloads: Vec<Payload>,
        timeout: Duration,
    ) -> Job<'a> {
        Job {
            name: &destination.name,
            platform: destination.platform.as_ref(),
            payloads,
            timeout,
            threads: None,
            ca_file: destination.ca_file.as_ref(),
            proxy: destination.proxy.as_ref(),
            progress: false,
            pace: destination.pace,
        }
    }
}

/// Ordered by how bad the news is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Delivered,
    /// Accepted to go later, or counted as a repeat: kept as asked (see
    /// `Report::held`), nothing for a script to do.
    Held,
    /// Not delivered for now, and kept in the spool to retry.
    Queued,
    /// Not delivered for now, and not kept (`--no-spool`, or the spool failed).
    Failed,
    /// Refused for good: sending it again will not help.
    Rejected,
}

/// How one destination fared.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub destination: String,
    pub kind: &'static str,
    pub status: Status,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    pub parts: usize,
    pub parts_delivered: usize,
    pub elapsed_ms: u128,
    /// The spool entry that now holds the message, when it was queued or
    /// dead-lettered; shown as people see it ([`crate::spool::short_id`]).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "shown_spool_id"
    )]
    pub spool_id: Option<String>,
    /// Why a held message waits, and until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
    /// How long the platform asked us to wait, when it did.
    #[serde(skip)]
    pub retry_after: Option<Duration>,
    /// Trouble beside the delivery itself, worth a line on stderr.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Status {
    /// What this outcome means to a script.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Status::Delivered | Status::Held => ExitCode::Ok,
            Status::Queued => ExitCode::TempFail,
            Status::Failed => ExitCode::NotKept,
            Status::Rejected => ExitCode::Rejected,
        }
    }
}

/// The worst outcome wins: a script must never read success while a message
/// was refused or is still undelivered somewhere.
pub fn exit_code(statuses: impl IntoIterator<Item = Status>) -> ExitCode {
    statuses
        .into_iter()
        .fold(ExitCode::Ok, |code, status| code.worst(status.exit_code()))
}

fn shown_spool_id<S: serde::Serializer>(id: &Option<String>, out: S) -> Result<S::Ok, S::Error> {
    let shown = id.as_deref().map(crate::spool::short_id);
    serde::Serialize::serialize(&shown, out)
}

impl Report {
    /// A report for a message that was not tried: queued, or behind a backlog.
    pub fn waiting(
        destination: &crate::config::Destination,
        parts: usize,
        why: Option<String>,
    ) -> Report {
        let mut report = Report::new(&destination.name, destination.platform.kind(), parts);
        report.status = Status::Queued;
        report.error = why;
        report
    }

    /// A report of `parts` for `name`, delivered until said otherwise.
    pub fn new(name: &str, kind: &'static str, parts: usize) -> Report {
        Report {
            destination: name.to_owned(),
            kind,
            status: Status::Delivered,
            http_status: None,
            error: None,
            hint: None,
            channel: None,
            ts: None,
            parts,
            parts_delivered: 0,
            elapsed_ms: 0,
            spool_id: None,
            held: None,
            retry_after: None,
            warnings: Vec::new(),
        }
    }

    /// A message neither sent nor kept, for `why`.
    pub fn not_kept(destination: &crate::config::Destination, parts: usize, why: String) -> Report {
        let mut report = Report::new(&destination.name, destination.platform.kind(), parts);
        report.status = Status::Failed;
        report.error = Some(why);
        report
    }

    /// A message kept to go later, or counted: `held` says which.
    pub fn held(destination: &crate::config::Destination, parts: usize, held: Held) -> Report {
        let mut report = Report::new(&destination.name, destination.platform.kind(), parts);
        report.status = Status::Held;
        report.held = Some(held);
        report
    }
}

/// What became of a message that did not go now, for `--json` and stderr.
#[derive(Clone, Debug, Serialize)]
pub struct Held {
    /// `scheduled`, `repeat`, `quiet`, `digest` or `limit`.
    pub reason: &'static str,
    /// When it goes (RFC 3339), when it waits in the spool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// For a repeat: how many repeats its window has counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeats: Option<u64>,
    /// For a message the platform holds itself (Slack's
    /// chat.scheduleMessage): the id it gave, which with the report's
    /// `channel` cancels it there; the report's `spool_id` is what
    /// `chime spool drop` takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_message_id: Option<String>,
    /// One line for people.
    pub note: String,
}

/// The runtime every command delivers on: one thread, because a CLI that
/// sends a handful of requests starts faster without a thread pool.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::from(e).caused_by("cannot start the async runtime"))
}

/// Sends one destination's payloads in order, stopping at the first that fails.
pub async fn deliver_one(clients: &Clients, job: Job<'_>, verbose: bool) -> Report {
    deliver_returning(clients, job, verbose).await.0
}

/// [`deliver_one`], giving the payloads back: a caller that keeps what was
/// not delivered needs no copy of them (issue 11).
pub async fn deliver_returning(
    clients: &Clients,
    job: Job<'_>,
    verbose: bool,
) -> (Report, Vec<Payload>) {
    let started = Instant::now();
    let deadline = started + job.timeout;
    let mut report = Report::new(job.name, job.platform.kind(), job.payloads.len());
    let client = match client_for(clients, &job) {
        Ok(client) => client,
        Err(error) => {
            report.status = Status::Failed;
            report.error = Some(error);
            return (report, job.payloads);
        }
    };
    let mut payloads = job.payloads;
    let job = Job {
        payloads: Vec::new(),
        ..job
    };
    for payload in payloads.iter_mut() {
        let sent = send_part(
            &client,
            &job,
            payload,
            deadline,
            verbose,
            &mut report.warnings,
        )
        .await;
        let (verdict, status, keep) = sent;
        // What went of the part is not sent again (Slack's text before its files).
        if let Some(keep) = keep {
            *payload = keep;
        }
        report.http_status = status;
        match verdict {
            Verdict::Delivered { channel, ts } => {
                report.parts_delivered += 1;
                report.channel = report.channel.or(channel);
                report.ts = report.ts.or(ts);
            }
            Verdict::Rejected { error, hint } => {
                report.status = Status::Rejected;
                report.error = Some(tame(error));
                report.hint = hint;
                break;
            }
            Verdict::Retry { error, after } => {
                report.status = Status::Failed;
                report.hint = net::certificate_hint(&error, job.name, job.ca_file);
                report.error = Some(tame(error));
                report.retry_after = after;
                break;
            }
        }
    }
    report.elapsed_ms = started.elapsed().as_millis();
    (report, payloads)
}

/// The client for `job`'s destination. A plain-http destination needs no
/// roots, unless a proxy reached over TLS stands between.
fn client_for(clients: &Clients, job: &Job<'_>) -> Result<reqwest::Client, String> {
    let plain = job.payloads.first().is_some_and(|p| {
        let url = job.platform.request(p).url;
        // Not `https://`: plain HTTP, or an email's SMTP, which has no use for it.
        !url.expose().starts_with("https://")
            && !job.proxy.is_some_and(|p| p.key().starts_with("https:"))
    });
    clients.get(job.ca_file, job.proxy, plain)
}

/// What a part's send came to: its verdict and status, and, when a later
/// request of the part failed after an earlier one went, what the part is
/// to be kept as instead.
type Sent = (Verdict, Option<u16>, Option<Payload>);

/// Sends one part, then the requests that follow it (`Platform::follow`).
async fn send_part(
    client: &reqwest::Client,
    job: &Job<'_>,
    payload: &Payload,
    deadline: Instant,
    verbose: bool,
    warnings: &mut Vec<String>,
) -> Sent {
    let try_ = Try {
        client,
        job,
        deadline,
        verbose,
        paced: &paced_channel(job, payload),
    };
    let resolved = match resolve(&try_, payload, warnings).await {
        Ok(resolved) => resolved,
        Err(refused) => return refused,
    };
    let payload = resolved.as_ref().unwrap_or(payload);
    let (verdict, status, mut next) = send_first(&try_, payload, warnings).await;
    while let Some(step) = next.take() {
        let (after, status, follows) = send_with_retries(&try_, &step, warnings).await;
        if !matches!(after, Verdict::Delivered { .. }) {
            return (after, status, job.platform.restart(&step));
        }
        next = follows;
    }
    // Kept with its channel's ID: a retry goes to the same place by the
    // same path, which is what a platform dedupes retries by (Matrix's
    // transaction IDs), even if the name has moved meanwhile.
    (verdict, status, resolved)
}

/// `payload` with the channel it names looked up ([`Platform::lookup`]):
/// from memory, else asked of the platform and remembered; `None` when it
/// needs no look-up. `Err` is the look-up's failure, which is the part's.
async fn resolve(
    try_: &Try<'_, '_>,
    payload: &Payload,
    warnings: &mut Vec<String>,
) -> Result<Option<Payload>, Sent> {
    let job = try_.job;
    let Some((name, lookup)) = job.platform.lookup(payload) else {
        return Ok(None);
    };
    if let Some(id) = job.threads.and_then(|t| t.channel_id(job.name, &name)) {
        return Ok(Some(job.platform.found(payload, &id)));
    }
    let (verdict, status, _) = send_with_retries(try_, &lookup, warnings).await;
    match verdict {
        Verdict::Delivered {
            channel: Some(id), ..
        } => {
            if let Some(threads) = job.threads {
                threads.remember_channel(job.name, &name, &id);
            }
            Ok(Some(job.platform.found(payload, &id)))
        }
        Verdict::Delivered { .. } => {
            let error = format!("{} did not say which channel `{name}` is", job.name);
            Err((Verdict::Retry { after: None, error }, status, None))
        }
        refused => Err((refused, status, None)),
    }
}

/// What every request of one part is sent with.
struct Try<'a, 'j> {
    client: &'a reqwest::Client,
    job: &'a Job<'j>,
    deadline: Instant,
    verbose: bool,
    /// The channel whose pace the fleet shares (`fleet_turn`): the one the
    /// part was rendered for, the same for a thread's first message and its
    /// replies, which name the channel by the ID Slack answered with.
    paced: &'a str,
}

/// The channel the part's requests take the fleet's turns under; none
/// without a state server, which is the only reader.
fn paced_channel(job: &Job<'_>, payload: &Payload) -> String {
    match job.threads.is_some_and(Threads::is_shared) {
        true => channel_of(&payload.body),
        false => String::new(),
    }
}

/// Sends a part's first request as its thread key says now, and remembers
/// where it went so the next part or send with that key finds it. An edit of
/// a message that is gone is posted as a new message instead, as if it were
/// the first.
async fn send_first(try_: &Try<'_, '_>, payload: &Payload, warnings: &mut Vec<String>) -> Sent {
    let job = try_.job;
    let (Some(threads), Some(thread)) = (job.threads, &payload.thread) else {
        return send_with_retries(try_, payload, warnings).await;
    };
    let mut parent = threads.get(job.name, &thread.key);
    let first = parent.is_none();
    // Held until the first post under a new key is remembered.
    let _claim = match first {
        false => None,
        true => threads.claim(job.name, &thread.key, try_.deadline).await,
    };
    if first {
        // Another chime may have started it while this one waited.
        parent = threads.get(job.name, &thread.key);
    }
    if parent.is_none() && threads.searches() {
        parent = search_thread(try_, payload, warnings).await;
    }
    let attached = match &parent {
        Some(parent) => job.platform.attach(payload, parent),
        None => job.platform.mark_first(payload),
    };
    let edit = thread.edit && parent.is_some();
    let (mut verdict, mut status, mut next) = send_with_retries(try_, &attached, warnings).await;
    if edit && job.platform.edit_refused(&verdict) {
        // Posted afresh, it is the key's first message now.
        let fresh = job.platform.mark_first(payload);
        (verdict, status, next) = send_with_retries(try_, &fresh, warnings).await;
    }
    match &verdict {
        Verdict::Delivered {
            channel: Some(channel),
            ts: Some(ts),
        } => {
            if let Err(err) = threads.settle(job.name, thread, parent.as_ref(), channel, ts) {
                warnings.push(format!("cannot remember thread `{}`: {err}", thread.key));
            }
        }
        Verdict::Delivered { .. } if first => warnings.push(format!(
            "cannot remember thread `{}`: {} did not say where the message went",
            thread.key, job.name
        )),
        _ => {}
    }
    (verdict, status, next)
}

/// What a request keeps of its time for itself when it waits for the
/// fleet's turn.
const MIN_REQUEST_TIME: Duration = Duration::from_secs(2);

/// The requests one look for a thread makes at most: pages of a channel
/// list, then the channel's history.
const MAX_SEARCH_STEPS: usize = 6;

/// Looks on the platform for the first message under `payload`'s key, for
/// a key neither this host nor the state server remembers (a runner with an
/// empty disk), and remembers what it finds. A look that fails is said once
/// in a process, and the message starts a thread of its own.
async fn search_thread(
    try_: &Try<'_, '_>,
    payload: &Payload,
    warnings: &mut Vec<String>,
) -> Option<Posted> {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let (job, deadline) = (try_.job, try_.deadline);
    let (threads, thread) = (job.threads?, payload.thread.as_ref()?);
    let oldest = threads.oldest();
    let channel = channel_of(&payload.body);
    let known = threads.channel_id(job.name, &channel);
    let mut next = job
        .platform
        .thread_search(payload, oldest, known.as_deref());
    let mut found = Ok(None);
    for _ in 0..MAX_SEARCH_STEPS {
        let Some(search) = next.take() else {
            break;
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let request = job.platform.request(&search);
        let step = match send(try_.client, &request, remaining, false).await {
            Reply::Answered(answer) => job.platform.thread_found(payload, &search, &answer, oldest),
            Reply::NotSent(why) | Reply::Unanswered(why) | Reply::Cut(_, why) => Err(why),
        };
        found = match step {
            Ok(Search::Found(parent)) => Ok(Some(parent)),
            Ok(Search::Missing) => Ok(None),
            Ok(Search::Next(step)) => {
                next = Some(step);
                Ok(None)
            }
            Ok(Search::ChannelId(id, step)) => {
                threads.remember_channel(job.name, &channel, &id);
                next = Some(step);
                Ok(None)
            }
            Err(why) => Err(why),
        };
        if !matches!(found, Ok(None)) {
            break;
        }
    }
    match found {
        Ok(Some(parent)) => {
            if let Err(err) = threads.settle(job.name, thread, None, &parent.channel, &parent.ts) {
                warnings.push(format!("cannot remember thread `{}`: {err}", thread.key));
            }
            return Some(parent);
        }
        Ok(None) => {}
        Err(why) if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) => {
            warnings.push(format!(
                "{}: cannot look for thread `{}` in the channel ({why}): it starts a new thread",
                job.name, thread.key
            ));
        }
        Err(_) => {}
    }
    None
}

/// Sends one request, retrying within the deadline; delivered, it gives
/// the request that follows it, if any.
async fn send_with_retries(
    try_: &Try<'_, '_>,
    payload: &Payload,
    warnings: &mut Vec<String>,
) -> Sent {
    let Try {
        client,
        job,
        deadline,
        verbose,
        paced,
    } = *try_;
    let mut transient = 0;
    let mut throttled = 0;
    // Set once a try may have been posted unseen: the next failure is the last.
    let mut unsure = false;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            let error = format!(
                "timed out after {}",
                humantime::format_duration(job.timeout)
            );
            return (Verdict::Retry { after: None, error }, None, None);
        }
        // A turn that leaves the request no time would send it to time out
        // unseen, and a retry would post it twice.
        let within = remaining.saturating_sub((remaining / 2).min(MIN_REQUEST_TIME));
        if let Err(verdict) = fleet_turn(job, paced, within).await {
            return (verdict, None, None);
        }
        let sent = Instant::now();
        // Built anew for each try: a signature may carry the time it was made.
        let request = job.platform.request(payload);
        if let Some(Err(error)) = request.upload.as_ref().map(upload::check) {
            return (Verdict::Rejected { error, hint: None }, None, None);
        }
        // Email is the one kind that is not HTTP: its request names an SMTP
        // exchange, tried here like any other so that retries, the spool and
        // pacing treat it alike (`smtp/`).
        let reply = match &request.mail {
            Some(mail) => {
                let body = request.body.expose();
                smtp::send(mail, body, job.ca_file, remaining, warnings).await
            }
            None => send(client, &request, remaining, job.progress).await,
        };
        let follows = match &reply {
            Reply::Answered(answer) => job.platform.follow(payload, answer),
            _ => None,
        };
        let (verdict, status, doubtful) = judge(job, payload, reply, warnings);
        if verbose {
            log(job, &request, status, &verdict, sent.elapsed());
        }
        let Verdict::Retry { after, .. } = &verdict else {
            let follows = follows.filter(|_| matches!(verdict, Verdict::Delivered { .. }));
            return (verdict, status, follows);
        };
        if unsure {
            return (verdict, status, None);
        }
        unsure = doubtful;
        let wait = if status == Some(429) {
            throttled += 1;
            if throttled >= MAX_THROTTLED_TRIES {
                return (verdict, status, None);
            }
            after.unwrap_or(THROTTLE_FIRST_WAIT * 2u32.pow(throttled - 1))
        } else {
            transient += 1;
            if transient >= MAX_TRANSIENT_TRIES {
                return (verdict, status, None);
            }
            after.unwrap_or_else(|| backoff(transient))
        };
        if Instant::now() + wait >= deadline {
            return (verdict, status, None);
        }
        tokio::time::sleep(wait).await;
    }
}

/// Waits for the fleet's turn to send on `channel`, when the destination's
/// pace is shared through a state server: one bucket per destination and
/// channel. A turn further off than `remaining` is not taken, and the
/// message waits in the spool for it instead.
async fn fleet_turn(job: &Job<'_>, channel: &str, remaining: Duration) -> Result<(), Verdict> {
    let Some(threads) = job.threads.filter(|t| t.is_shared()) else {
        return Ok(());
    };
    match threads.fleet_turn(job.name, channel, job.pace, remaining) {
        None | Some(Ok(Duration::ZERO)) => Ok(()),
        Some(Ok(wait)) => {
            tokio::time::sleep(wait).await;
            Ok(())
        }
        Some(Err(wait)) => Err(Verdict::Retry {
            after: Some(wait),
            error: format!(
                "the destination's pace, shared by every host, has no turn for {} within the timeout",
                humantime::format_duration(Duration::from_secs(wait.as_secs().max(1)))
            ),
        }),
    }
}

/// The channel a request names (`channel`, `chat_id`), which has a pace of
/// its own on platforms that pace by channel; none for a webhook, whose URL
/// is its channel.
fn channel_of(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return String::new();
    };
    ["channel", "chat_id"]
        .iter()
        .find_map(|k| match &value[k] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_default()
}

/// What a try's reply means for the message, its status, and whether the
/// platform may have posted it without saying so.
fn judge(
    job: &Job<'_>,
    payload: &Payload,
    reply: Reply,
    warnings: &mut Vec<String>,
) -> (Verdict, Option<u16>, bool) {
    let retry = |error| Verdict::Retry { after: None, error };
    let classify = |answer: &crate::kinds::Answer| job.platform.classify_sent(payload, answer);
    let (answer, why) = match reply {
        Reply::Answered(answer) => {
            let status = Some(answer.status);
            return (capped(classify(&answer)), status, false);
        }
        Reply::NotSent(error) => return (retry(error), None, false),
        Reply::Unanswered(error) => return (retry(error), None, true),
        Reply::Cut(answer, why) => (answer, why),
    };
    let status = answer.status;
    if !(200..300).contains(&status) {
        return (capped(classify(&answer)), Some(status), false);
    }
    let error = format!(
        "{status} {}, then the answer broke off: {why}",
        reason(status)
    );
    if !job.platform.posted_by_status(status) {
        return (retry(error), Some(status), true);
    }
    warnings.push(format!(
        "{}: {error}; delivered, as its status says",
        job.name
    ));
    let delivered = Verdict::Delivered {
        channel: None,
        ts: None,
    };
    (delivered, Some(status), false)
}

/// A platform's wait, within [`MAX_WAIT`].
fn capped(verdict: Verdict) -> Verdict {
    match verdict {
        Verdict::Retry { after, error } => Verdict::Retry {
            after: after.map(|wait| wait.min(MAX_WAIT)),
            error,
        },
        verdict => verdict,
    }
}

/// A platform's words as a report may carry them: control characters (a
/// terminal escape in an error page) shown escaped, and no longer than a
/// paragraph.
fn tame(error: String) -> String {
    if error.chars().count() <= MAX_ERROR_CHARS && !error.chars().any(char::is_control) {
        return error;
    }
    let mut tamed = String::new();
    for (i, c) in error.chars().enumerate() {
        if i == MAX_ERROR_CHARS {
            tamed.push('…');
            break;
        }
        match c {
            c if c.is_control() => tamed.extend(c.escape_default()),
            c => tamed.push(c),
        }
    }
    tamed
}

/// Exponential backoff with full jitter: a random wait up to base·2ⁿ.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE * 2u32.saturating_pow(attempt.saturating_sub(1));
    ceiling.mul_f64(0.5 + 0.5 * crate::spool::jitter())
}

fn log(
    job: &Job<'_>,
    request: &HttpRequest,
    status: Option<u16>,
    verdict: &Verdict,
    took: Duration,
) {
    let outcome = match verdict {
        Verdict::Delivered { .. } => "delivered".to_owned(),
        Verdict::Rejected { error, .. } => format!("rejected: {error}"),
        Verdict::Retry { error, .. } => format!("not delivered: {error}"),
    };
    let status = status.map_or_else(|| "-".to_owned(), |s| s.to_string());
    // SMTP goes direct, whatever proxy is set (`smtp/`).
    let via = match job.proxy {
        _ if request.mail.is_some() => String::new(),
        Some(crate::config::ProxyChoice::Via(url)) => format!(" via proxy {url}"),
        Some(crate::config::ProxyChoice::Direct) => String::new(),
        None => net::env_proxy(request.url.expose())
            .map_or_else(String::new, |proxy| format!(" via proxy {proxy}")),
    };
    eprintln!(
        "chime: {}: {} {}{via} -> {status} {outcome} ({} ms)",
        job.name,
        request.method,
        request.url,
        took.as_millis()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_fractions() {
        assert_eq!(parse_retry_after("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn a_wait_past_the_end_of_the_clock_is_capped_at_a_day() {
        let asked = Verdict::Retry {
            after: Some(Duration::from_secs(u64::MAX)),
            error: "429".into(),
        };
        let Verdict::Retry { after, .. } = capped(asked) else {
            panic!("still a retry");
        };
        assert_eq!(after, Some(MAX_WAIT));
    }

    #[test]
    fn a_platforms_words_lose_their_escapes_and_their_length() {
        assert_eq!(tame("404 no_service".into()), "404 no_service");
        assert_eq!(tame("400 \u{1b}[2Jx\n".into()), "400 \\u{1b}[2Jx\\n");
        let long = tame("é".repeat(10_000));
        assert_eq!(long.chars().count(), MAX_ERROR_CHARS + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn backoff_grows_and_stays_jittered_below_its_ceiling() {
        for attempt in 1..5 {
            let wait = backoff(attempt);
            let ceiling = BACKOFF_BASE * 2u32.pow(attempt - 1);
            assert!(
                wait <= ceiling && wait >= ceiling / 2,
                "{wait:?} vs {ceiling:?}"
            );
        }
    }
}
