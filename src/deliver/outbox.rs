//! The outbox: sending one rendered message to one destination without losing it.
//!
//! The destination's backlog in the spool goes first, so messages keep their
//! order; then this message; and whatever cannot go now is kept in the spool
//! (pending for a transient failure, dead-letter for a refusal), or reported as
//! not kept with `--no-spool`. `chime send`, `chime pipe` and `chime run` all
//! deliver through here.
//!
//! The message is written to disk, in flight, before chime waits for
//! anything (`spool/inflight.rs`): a send killed at any moment leaves it for
//! the next flush.
//!
//! Older messages are started only while the send's timeout lasts, and each
//! gets the whole timeout once started, as the new message does after them:
//! a send behind a backlog takes at most about three timeouts, and never cuts
//! a request short (a request cut short may still arrive, and be sent again).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use super::{Context, Due, Job, Report, Status, deliver_returning};
use crate::config::Destination;
use crate::kinds::Payload;
use crate::report;
use crate::report::Output;
use crate::spool::{DestinationLock, Entry, InFlight, Policy, Spool, State, when};
use crate::state::{Guard, Threads};

mod place;

use place::Kept;
pub use place::Place;

pub struct Outbox<'a> {
    pub client: &'a super::Clients,
    pub spool: &'a Spool,
    pub threads: &'a Threads,
    pub policy: &'a Policy,
    pub output: Output,
    /// Fail rather than keep an undelivered message.
    pub no_spool: bool,
    /// The id each destination's message is on disk under while it is in
    /// flight, so a send stopped by a signal can say where it was kept.
    pub in_flight: RefCell<BTreeMap<String, String>>,
}

impl Outbox<'_> {
    /// Writes the message to the spool without trying it (`--queue`).
    pub fn queue(&self, destination: &Destination, payloads: Vec<Payload>) -> Report {
        self.queue_at(destination, payloads, Place::None, &mut || {})
    }

    /// [`Outbox::queue`] in a place taken earlier, calling `noted` the
    /// moment the entry is on disk (a stream notes it in its journal then).
    pub fn queue_at(
        &self,
        destination: &Destination,
        payloads: Vec<Payload>,
        place: Place,
        noted: &mut dyn FnMut(),
    ) -> Report {
        let report = Report::waiting(destination, payloads.len(), None);
        let kept = Kept {
            state: State::Pending,
            place,
            noted: Some(noted),
        };
        self.keep(destination, payloads, report, None, kept)
    }

    /// Delivers the destination's backlog, then the message; keeps what
    /// cannot go. The message is on disk, in flight (`spool/inflight.rs`),
    /// before anything is awaited, so a chime stopped at any moment loses
    /// nothing. `window` (a dedupe key's, which others wait on to count their
    /// repeats) is opened the moment the message is on disk, or once it is
    /// delivered when it cannot be put there; never for a message lost.
    pub async fn send(
        &self,
        destination: &Destination,
        payloads: Vec<Payload>,
        timeout: Duration,
        window: Option<Guard>,
    ) -> Report {
        let (journal, payloads) = self.begin_owned(destination, payloads, None);
        let mut window = window;
        if journal.is_some()
            && let Some(window) = window.take()
        {
            window.open();
        }
        let report = self
            .send_begun(destination, payloads, timeout, Place::from(journal))
            .await;
        if let Some(window) = window
            && report.status == Status::Delivered
        {
            window.open();
        }
        report
    }

    /// Puts the message on disk in flight, before anything is awaited, under
    /// an id taken earlier (see [`Place::Reserved`]): `None` with
    /// `--no-spool`, which asked for nothing to be kept, or when the disk
    /// would not take it (it is then sent all the same).
    pub fn begin_as(
        &self,
        destination: &Destination,
        payloads: &[Payload],
        id: Option<&str>,
    ) -> Option<InFlight> {
        if self.no_spool {
            return None;
        }
        self.begin_owned(destination, payloads.to_vec(), id).0
    }

    /// [`Outbox::begin_as`] under a new id when `id` is `None`, of payloads
    /// it gives back, so that putting them on disk costs no copy of them
    /// (issue 11).
    fn begin_owned(
        &self,
        destination: &Destination,
        payloads: Vec<Payload>,
        id: Option<&str>,
    ) -> (Option<InFlight>, Vec<Payload>) {
        if self.no_spool {
            return (None, payloads);
        }
        let mut entry = destination.entry(payloads);
        if let Some(id) = id {
            entry.id = id.to_owned();
        }
        // Sent from the spool's copies from now on; without them (a full
        // disk) it is sent from the user's files, and not put on disk.
        let journal = match self.spool.keep_files(&entry.id, &mut entry.payloads) {
            Ok(()) => self.spool.begin(&entry).ok(),
            Err(_) => None,
        };
        if let Some(journal) = &journal {
            self.in_flight
                .borrow_mut()
                .insert(destination.name.clone(), journal.id().to_owned());
        }
        (journal, entry.payloads)
    }

    /// [`Outbox::send`] of a message whose place in the order was taken
    /// already (see [`Place`]).
    pub async fn send_begun(
        &self,
        destination: &Destination,
        payloads: Vec<Payload>,
        timeout: Duration,
        place: Place,
    ) -> Report {
        let mut place = place;
        let own = place.id().map(str::to_owned);
        // Held until this message is out, so no flush slips in between.
        let _lock = match self.older_first(destination, timeout, own.as_deref()).await {
            Ok(lock) => lock,
            Err(why) => match self.wait_behind(destination, &payloads, &why, &mut place) {
                Some(report) => return report,
                None => None,
            },
        };
        let job = Job {
            name: &destination.name,
            platform: destination.platform.as_ref(),
            payloads,
            timeout,
            threads: Some(self.threads),
            ca_file: destination.ca_file.as_ref(),
            proxy: destination.proxy.as_ref(),
            progress: self.client.show_progress,
            pace: destination.pace,
        };
        let (mut report, mut rest) = deliver_returning(self.client, job, self.output.verbose).await;
        for warning in report.warnings.drain(..) {
            report::warning(self.output, &warning);
        }
        rest.drain(..report.parts_delivered);
        match report.status {
            Status::Delivered | Status::Held | Status::Queued => {
                if let Place::OnDisk(journal) = place {
                    self.spool.forget_files(journal.id());
                    journal.delivered();
                    self.in_flight.borrow_mut().remove(&destination.name);
                }
                report
            }
            Status::Failed if self.no_spool => report,
            Status::Failed => {
                let retry_after = report.retry_after;
                self.keep(
                    destination,
                    rest,
                    report,
                    retry_after,
                    Kept::new(State::Pending, place),
                )
            }
            Status::Rejected => self.keep(
                destination,
                rest,
                report,
                None,
                Kept::new(State::Dead, place),
            ),
        }
    }

    /// Older messages could not go (`why`): the message queues behind them,
    /// or fails with `--no-spool`; `None` when it can neither wait on disk
    /// nor be kept, and goes now, since out of order is better than lost.
    fn wait_behind(
        &self,
        destination: &Destination,
        payloads: &[Payload],
        why: &str,
        place: &mut Place,
    ) -> Option<Report> {
        if self.no_spool {
            let why = format!("not sent: older messages are waiting: {why}");
            let mut report = Report::waiting(destination, payloads.len(), Some(why));
            report.status = Status::Failed;
            return Some(report);
        }
        let text = format!("queued behind older messages: {why}");
        let report = Report::waiting(destination, payloads.len(), Some(text));
        let taken = std::mem::replace(place, Place::None);
        let kept = self.keep(
            destination,
            payloads.to_vec(),
            report,
            None,
            Kept::new(State::Pending, taken),
        );
        if kept.status != Status::Failed {
            return Some(kept);
        }
        let text = format!(
            "a message for {} cannot wait behind older ones ({why}) nor be kept: \
             sending it now, before them",
            destination.name
        );
        report::warning(self.output, &text);
        None
    }

    /// Sends the destination's older messages first, with or without
    /// `--no-spool`: order is kept. Gives back the destination's lock when
    /// there were some and they went, or says why this one waits behind them.
    async fn older_first(
        &self,
        destination: &Destination,
        timeout: Duration,
        own: Option<&str>,
    ) -> Result<Option<DestinationLock>, String> {
        if let Some(why) = self.not_due_within(destination, timeout) {
            return Err(why);
        }
        if !self.spool.has_pending(&destination.name, own) {
            return Ok(None);
        }
        // Older messages are started only within the timeout a script set;
        // each message, older or this one, then has the whole timeout.
        let deadline = Instant::now() + timeout;
        self.backlog(destination, timeout, deadline, own).await
    }

    /// Why a new message must queue behind older ones without trying them,
    /// when the last drain left word that the oldest is not due before this
    /// send's `timeout` is over: a backlog of any size then costs one read.
    fn not_due_within(&self, destination: &Destination, timeout: Duration) -> Option<String> {
        let due = self.spool.due(&destination.name, &destination.identity())?;
        let wait = due.duration_since(SystemTime::now()).ok()?;
        (wait > timeout).then(|| format!("next attempt {}", when(due)))
    }

    /// Tries the destination's messages older than this one (`own`, when it
    /// is on disk) first; gives back its lock when they all went (`None`
    /// when the spool's lock cannot even be taken, as on a read-only disk:
    /// the message then goes out unordered, with a warning), or says why the
    /// new one must wait behind them.
    async fn backlog(
        &self,
        destination: &Destination,
        timeout: Duration,
        deadline: Instant,
        own: Option<&str>,
    ) -> Result<Option<DestinationLock>, String> {
        let lock = match self.spool.try_lock(&destination.name) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                let holder = self.spool.lock_holder(&destination.name);
                return Err(format!("{holder} is sending them"));
            }
            Err(err) => {
                let text = format!(
                    "older messages for {} wait in the spool, which cannot be used ({err}): \
                     sending this one now, before them",
                    destination.name
                );
                report::warning(self.output, &text);
                return Ok(None);
            }
        };
        let ctx = Context {
            client: self.client,
            spool: self.spool,
            threads: self.threads,
            policy: self.policy,
            timeout,
            deadline: Some(deadline),
            older_than: own,
            verbose: self.output.verbose,
        };
        // A backlog waits for its time, which may be a platform's Retry-After:
        // a new message queues behind it rather than hammer a throttled
        // destination (and spend attempts that `max_attempts` counts).
        let drained = super::drain(&ctx, destination, &lock, Due::Scheduled, || {})
            .await
            .map_err(|e| e.to_string())?;
        if let Some(err) = &drained.error {
            return Err(err.clone());
        }
        self.tell_drained(destination, &drained);
        match drained.remaining {
            0 => Ok(Some(lock)),
            n => Err(format!(
                "{n} still pending ({})",
                drained.blocked.unwrap_or_default()
            )),
        }
    }

    /// What draining the backlog ahead of a send has to say on stderr.
    fn tell_drained(&self, destination: &Destination, drained: &super::Drained) {
        for warning in &drained.warnings {
            report::warning(self.output, warning);
        }
        for fate in &drained.fates {
            report::fate(self.output, fate);
        }
        if drained.dead > 0 {
            let text = format!(
                "{} older message(s) for {} were refused and kept as dead letters: see `chime spool list --dead`",
                drained.dead, destination.name
            );
            report::warning(self.output, &text);
        }
    }

    /// What to report for a send stopped by `signal` before it settled: kept
    /// in the spool under the id it was in flight with, or not kept.
    pub fn interrupted(&self, destination: &Destination, parts: usize, signal: &str) -> Report {
        let why = format!("interrupted by {signal}");
        let mut report = Report::waiting(destination, parts, Some(why));
        match self.in_flight.borrow().get(&destination.name) {
            Some(id) => report.spool_id = Some(id.clone()),
            None => {
                report.status = Status::Failed;
                report.error = Some(format!("interrupted by {signal}; not kept in the spool"));
            }
        }
        report
    }

    /// The entry `report`'s message is kept as: under the id it has on disk
    /// already, if any, due now or (a failed send) after a backoff.
    fn kept_entry(
        &self,
        destination: &Destination,
        payloads: Vec<Payload>,
        report: &Report,
        state: State,
        retry_after: Option<Duration>,
        place: &Place,
    ) -> Entry {
        let now = SystemTime::now();
        let next = match state {
            State::Pending if report.error.is_some() => {
                self.policy.next_attempt(now, 1, retry_after)
            }
            _ => now,
        };
        let mut entry = Entry {
            // Only a message that was sent and failed has used an attempt; one
            // kept by --queue or behind a backlog (a waiting report) was not
            // tried, and `max_attempts` counts real tries.
            attempts: u32::from(report.status != Status::Queued),
            next_attempt: next,
            last_error: report.error.clone(),
            ..destination.entry(payloads)
        };
        entry.parts = report.parts;
        if let Some(id) = place.id() {
            entry.id = id.to_owned();
        }
        entry
    }

    /// Writes `payloads` to the spool and says so in the report, under the
    /// id of the message in flight when there is one, so it keeps its place.
    /// A spool that cannot be written is reported loudly: the message is not
    /// kept — unless its copy in flight can still be renamed into place.
    fn keep(
        &self,
        destination: &Destination,
        payloads: Vec<Payload>,
        mut report: Report,
        retry_after: Option<Duration>,
        kept: Kept,
    ) -> Report {
        let Kept {
            state,
            place,
            noted,
        } = kept;
        let mut entry = self.kept_entry(destination, payloads, &report, state, retry_after, &place);
        let copied = self.spool.keep_files(&entry.id, &mut entry.payloads);
        let journal = match place {
            Place::OnDisk(journal) => {
                self.in_flight.borrow_mut().remove(&destination.name);
                Some(journal)
            }
            _ => None,
        };
        let kept = match copied.and_then(|()| {
            self.spool
                .add_noting(state, entry, noted.unwrap_or(&mut || {}))
        }) {
            Ok(entry) => {
                if let Some(journal) = journal {
                    journal.replaced();
                }
                Ok((entry.id, state))
            }
            Err(err) => match journal.map(InFlight::keep) {
                Some(Ok(id)) => Ok((id, State::Pending)),
                _ => Err(err),
            },
        };
        match kept {
            Ok((id, kept_as)) => {
                report.spool_id = Some(id);
                if kept_as == State::Pending && state == State::Pending {
                    report.status = Status::Queued;
                }
            }
            Err(err) => {
                // Refused or not, it is nowhere now: that is what a script must hear.
                report.status = Status::Failed;
                let error = report.error.take().unwrap_or_else(|| "not sent".into());
                report.error = Some(format!(
                    "{error}; and it could not be kept in the spool: {err}"
                ));
            }
        }
        report
    }
}
