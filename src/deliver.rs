//! Delivery: sending each destination's requests, concurrently, within its timeout.
//!
//! All destinations of a send share one HTTP client (keep-alive, rustls) and run
//! at once; the parts of one destination go in order, one after another. A
//! platform that throttles is waited on while its `Retry-After` fits in the
//! destination's timeout; a transient failure (connect error, timeout, 5xx) gets a
//! short jittered backoff and a retry or two. What the answers mean is the kind's
//! call ([`Platform::classify`]); this module only decides whether to try again.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::exit::{ExitCode, Failure};
use crate::kinds::{Answer, HttpRequest, Payload, Platform, Verdict};
use crate::threads::Threads;

/// Tries per request for transient failures (not counting waits on 429).
const MAX_TRANSIENT_TRIES: u32 = 3;
/// Tries per request when the platform keeps throttling.
const MAX_THROTTLED_TRIES: u32 = 6;
const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// A 429 without `Retry-After` still means "slow down": chime backs off on its
/// own, doubling from this (ntfy never says how long; a fixed second would
/// spend the destination's quota on retries that are refused anyway).
const THROTTLE_FIRST_WAIT: Duration = Duration::from_secs(1);
/// Platforms answer in bytes, not megabytes; a huge answer is not worth reading.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The work for one destination.
pub struct Job<'a> {
    pub name: &'a str,
    pub platform: &'a dyn Platform,
    pub payloads: Vec<Payload>,
    pub timeout: Duration,
    /// Where `--thread`/`--update` keys are remembered, for parts that carry one.
    pub threads: Option<&'a Threads>,
}

/// Ordered by how bad the news is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Delivered,
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
    /// The spool entry that now holds the message, when it was queued or dead-lettered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spool_id: Option<String>,
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
            Status::Delivered => ExitCode::Ok,
            Status::Queued | Status::Failed => ExitCode::TempFail,
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

    fn new(name: &str, kind: &'static str, parts: usize) -> Report {
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
            retry_after: None,
            warnings: Vec::new(),
        }
    }
}

/// The runtime every command delivers on: one thread, because a CLI that
/// sends a handful of requests starts faster without a thread pool.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::from(e).caused_by("cannot start the async runtime"))
}

/// Builds the one HTTP client a run uses.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("chime/", env!("CARGO_PKG_VERSION")))
        // A webhook that redirects is misconfigured, and following a POST
        // redirect would turn it into a GET that posts nothing.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the TLS backend is compiled in")
}

/// Sends one destination's payloads in order, stopping at the first that fails.
pub async fn deliver_one(client: &reqwest::Client, job: Job<'_>, verbose: bool) -> Report {
    let started = Instant::now();
    let deadline = started + job.timeout;
    let mut report = Report::new(job.name, job.platform.kind(), job.payloads.len());
    for payload in &job.payloads {
        let (verdict, status) = send_part(
            client,
            &job,
            payload,
            deadline,
            verbose,
            &mut report.warnings,
        )
        .await;
        report.http_status = status;
        match verdict {
            Verdict::Delivered { channel, ts } => {
                report.parts_delivered += 1;
                report.channel = report.channel.or(channel);
                report.ts = report.ts.or(ts);
            }
            Verdict::Rejected { error, hint } => {
                report.status = Status::Rejected;
                report.error = Some(error);
                report.hint = hint;
                break;
            }
            Verdict::Retry { error, after } => {
                report.status = Status::Failed;
                report.error = Some(error);
                report.retry_after = after;
                break;
            }
        }
    }
    report.elapsed_ms = started.elapsed().as_millis();
    report
}

/// Sends one part as its thread key says now, and remembers where it went so
/// the next part or send with that key finds it. An edit of a message that is
/// gone is posted as a new message instead, as if it were the first.
async fn send_part(
    client: &reqwest::Client,
    job: &Job<'_>,
    payload: &Payload,
    deadline: Instant,
    verbose: bool,
    warnings: &mut Vec<String>,
) -> (Verdict, Option<u16>) {
    let (Some(threads), Some(thread)) = (job.threads, &payload.thread) else {
        return send_with_retries(client, job, payload, deadline, verbose).await;
    };
    // Held until the first post under a new key is remembered.
    let _claim = match threads.get(job.name, &thread.key) {
        Some(_) => None,
        None => threads.claim(job.name, &thread.key, deadline).await,
    };
    let attached = threads.attach(job.name, job.platform, payload);
    let edit = thread.edit && attached != *payload;
    let (mut verdict, mut status) =
        send_with_retries(client, job, &attached, deadline, verbose).await;
    if edit && job.platform.edit_refused(&verdict) {
        (verdict, status) = send_with_retries(client, job, payload, deadline, verbose).await;
    }
    if let Verdict::Delivered {
        channel: Some(channel),
        ts: Some(ts),
    } = &verdict
        && let Err(err) = threads.settle(job.name, thread, channel, ts)
    {
        warnings.push(format!("cannot remember thread `{}`: {err}", thread.key));
    }
    (verdict, status)
}

async fn send_with_retries(
    client: &reqwest::Client,
    job: &Job<'_>,
    payload: &Payload,
    deadline: Instant,
    verbose: bool,
) -> (Verdict, Option<u16>) {
    let mut transient = 0;
    let mut throttled = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            let error = format!(
                "timed out after {}",
                humantime::format_duration(job.timeout)
            );
            return (Verdict::Retry { after: None, error }, None);
        }
        let sent = Instant::now();
        // Built anew for each try: a signature may carry the time it was made.
        let request = job.platform.request(payload);
        let (verdict, status) = match send(client, &request, remaining).await {
            Ok(answer) => (job.platform.classify(&answer), Some(answer.status)),
            Err(error) => (Verdict::Retry { after: None, error }, None),
        };
        if verbose {
            log(job, &request, status, &verdict, sent.elapsed());
        }
        let Verdict::Retry { after, .. } = &verdict else {
            return (verdict, status);
        };
        let wait = if status == Some(429) {
            throttled += 1;
            if throttled >= MAX_THROTTLED_TRIES {
                return (verdict, status);
            }
            after.unwrap_or(THROTTLE_FIRST_WAIT * 2u32.pow(throttled - 1))
        } else {
            transient += 1;
            if transient >= MAX_TRANSIENT_TRIES {
                return (verdict, status);
            }
            after.unwrap_or_else(|| backoff(transient))
        };
        if Instant::now() + wait >= deadline {
            return (verdict, status);
        }
        tokio::time::sleep(wait).await;
    }
}

async fn send(
    client: &reqwest::Client,
    request: &HttpRequest,
    timeout: Duration,
) -> Result<Answer, String> {
    let mut builder = client
        .request(request.method.clone(), request.url.expose())
        .timeout(timeout)
        .body(request.body.expose().to_owned());
    for (name, value) in &request.headers {
        builder = builder.header(name, value.expose());
    }
    let response = builder.send().await.map_err(describe)?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let bytes = response.bytes().await.map_err(describe)?;
    let body = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_ANSWER_BYTES)]).into_owned();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// Says what went wrong on the wire without the URL, which may be a secret.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut cause = std::error::Error::source(&err);
    let mut deepest = None;
    while let Some(c) = cause {
        deepest = Some(c.to_string());
        cause = c.source();
    }
    match deepest {
        Some(detail) => format!("{what}: {detail}"),
        None => what.to_owned(),
    }
}

/// `Retry-After` in seconds (Slack sends whole seconds; some send fractions).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// Exponential backoff with full jitter: a random wait up to base·2ⁿ.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE * 2u32.saturating_pow(attempt.saturating_sub(1));
    ceiling.mul_f64(0.5 + 0.5 * jitter())
}

/// A number in [0, 1) that differs between processes and calls; good enough to
/// keep fifty cron jobs from retrying in lockstep, no RNG crate needed.
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let hash = RandomState::new().hash_one(nanos);
    (hash >> 11) as f64 / (1u64 << 53) as f64
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
    eprintln!(
        "chime: {}: {} {} -> {status} {outcome} ({} ms)",
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
