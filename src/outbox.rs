//! The outbox: sending one rendered message to one destination without losing it.
//!
//! The destination's backlog in the spool goes first, so messages keep their
//! order; then this message; and whatever cannot go now is kept in the spool
//! (pending for a transient failure, dead-letter for a refusal), or reported as
//! not kept with `--no-spool`. `chime send`, `chime pipe` and `chime run` all
//! deliver through here.
//!
//! Older messages are started only while the send's timeout lasts, and each
//! gets the whole timeout once started, as the new message does after them:
//! a send behind a backlog takes at most about three timeouts, and never cuts
//! a request short (a request cut short may still arrive, and be sent again).

use std::time::{Duration, Instant, SystemTime};

use crate::config::Destination;
use crate::deliver::{self, Job, Report, Status};
use crate::flush::{self, Context, Due};
use crate::kinds::Payload;
use crate::report;
use crate::settings::Output;
use crate::spool::{DestinationLock, Policy, Spool, State};
use crate::threads::Threads;

pub struct Outbox<'a> {
    pub client: &'a reqwest::Client,
    pub spool: &'a Spool,
    pub threads: &'a Threads,
    pub policy: &'a Policy,
    pub output: Output,
    /// Fail rather than keep an undelivered message.
    pub no_spool: bool,
}

impl Outbox<'_> {
    /// Writes the message to the spool without trying it (`--queue`).
    pub fn queue(&self, destination: &Destination, payloads: Vec<Payload>) -> Report {
        let report = Report::waiting(destination, payloads.len(), None);
        self.keep(State::Pending, destination, payloads, report, None)
    }

    /// Delivers the destination's backlog, then the message; keeps what cannot go.
    pub async fn send(
        &self,
        destination: &Destination,
        payloads: Vec<Payload>,
        timeout: Duration,
    ) -> Report {
        // Older messages are started only within the timeout a script set;
        // each message, older or this one, then has the whole timeout.
        let deadline = Instant::now() + timeout;
        // Held until this message is out, so no flush slips in between.
        let mut _lock = None;
        // Older messages go first, with or without --no-spool: order is kept.
        if self.spool.has_pending(&destination.name) {
            match self.backlog(destination, timeout, deadline).await {
                Ok(lock) => _lock = Some(lock),
                Err(why) if self.no_spool => {
                    let why = format!("not sent: older messages are waiting: {why}");
                    let mut report = Report::waiting(destination, payloads.len(), Some(why));
                    report.status = Status::Failed;
                    return report;
                }
                Err(why) => {
                    let why = format!("queued behind older messages: {why}");
                    let report = Report::waiting(destination, payloads.len(), Some(why));
                    return self.keep(State::Pending, destination, payloads, report, None);
                }
            }
        }
        let job = Job {
            name: &destination.name,
            platform: destination.platform.as_ref(),
            payloads: payloads.clone(),
            timeout,
            threads: Some(self.threads),
        };
        let mut report = deliver::deliver_one(self.client, job, self.output.verbose).await;
        for warning in report.warnings.drain(..) {
            report::warning(self.output, &warning);
        }
        let rest = payloads[report.parts_delivered..].to_vec();
        match report.status {
            Status::Delivered | Status::Queued => report,
            Status::Failed if self.no_spool => report,
            Status::Failed => {
                let retry_after = report.retry_after;
                self.keep(State::Pending, destination, rest, report, retry_after)
            }
            Status::Rejected => self.keep(State::Dead, destination, rest, report, None),
        }
    }

    /// Tries the destination's older messages first; gives back its lock when
    /// they all went, or says why the new one must wait behind them.
    async fn backlog(
        &self,
        destination: &Destination,
        timeout: Duration,
        deadline: Instant,
    ) -> Result<DestinationLock, String> {
        let Some(lock) = self
            .spool
            .try_lock(&destination.name)
            .map_err(|e| e.to_string())?
        else {
            return Err("another chime is sending them".into());
        };
        let ctx = Context {
            client: self.client,
            spool: self.spool,
            threads: self.threads,
            policy: self.policy,
            timeout,
            deadline: Some(deadline),
            verbose: self.output.verbose,
        };
        // A backlog waits for its time, which may be a platform's Retry-After:
        // a new message queues behind it rather than hammer a throttled
        // destination (and spend attempts that `max_attempts` counts).
        let drained = flush::drain(&ctx, destination, &lock, Due::Scheduled, || {})
            .await
            .map_err(|e| e.to_string())?;
        for warning in &drained.warnings {
            report::warning(self.output, warning);
        }
        if drained.dead > 0 {
            let text = format!(
                "{} older message(s) for {} were refused and kept as dead letters: see `chime spool list --dead`",
                drained.dead, destination.name
            );
            report::warning(self.output, &text);
        }
        match drained.remaining {
            0 => Ok(lock),
            n => Err(format!(
                "{n} still pending ({})",
                drained.blocked.unwrap_or_default()
            )),
        }
    }

    /// Writes `payloads` to the spool and says so in the report. A spool that
    /// cannot be written is reported loudly: the message is not kept.
    fn keep(
        &self,
        state: State,
        destination: &Destination,
        payloads: Vec<Payload>,
        mut report: Report,
        retry_after: Option<Duration>,
    ) -> Report {
        let now = SystemTime::now();
        let next = match state {
            State::Pending if report.error.is_some() => {
                self.policy.next_attempt(now, 1, retry_after)
            }
            _ => now,
        };
        let entry = crate::spool::Entry {
            // Only a message that was sent and failed has used an attempt; one
            // kept by --queue or behind a backlog (a waiting report) was not
            // tried, and `max_attempts` counts real tries.
            attempts: u32::from(report.status != Status::Queued),
            next_attempt: next,
            last_error: report.error.clone(),
            identity: Some(destination.identity()),
            ..crate::spool::Entry::new(&destination.name, payloads, report.parts)
        };
        let added = self.spool.add(state, entry);
        match added {
            Ok(entry) => {
                report.spool_id = Some(entry.id);
                if state == State::Pending {
                    report.status = Status::Queued;
                }
            }
            Err(err) => {
                report.status = report.status.max(Status::Failed);
                let error = report.error.take().unwrap_or_else(|| "not sent".into());
                report.error = Some(format!(
                    "{error}; and it could not be kept in the spool: {err}"
                ));
            }
        }
        report
    }
}
