//! Heartbeats: the pings `chime run` sends a dead-man's switch (`--ping`, a
//! route's `ping`) in the healthchecks.io protocol, whatever `--on` says.
//!
//! `start` goes as the command starts and the outcome as it ends, both under
//! one run id, so a check that is pinged by overlapping runs pairs each end
//! with its start. A ping goes through the outbox like any message: one that
//! cannot go is kept in the spool, behind any older ping of the same check,
//! so a late start never lands after its own end. A ping never changes the
//! job's exit code; its trouble is a warning on stderr.

use std::time::Duration;

use crate::commands::outcome;
use crate::config::Destination;
use crate::config::Profile;
use crate::deliver::{self, Clients, Outbox, Status};
use crate::kinds::Payload;
use crate::kinds::healthchecks::{self, Signal};
use crate::report::{self, Output};
use crate::settings::{DEFAULT_TIMEOUT, Job, PingPlace, PingTo};
use crate::spool::Spool;
use crate::state::Threads;

/// The most a start ping holds the command back: the job matters more than
/// the ping, which the spool keeps when it cannot go at once.
const START_WAIT: Duration = Duration::from_secs(5);

/// Where one ping goes: the profile and spool of its destination, and
/// whether its URL was typed.
type To<'a> = (&'a Profile, &'a Spool, &'a Destination, bool);

pub struct Heartbeat {
    pings: Vec<PingTo>,
    rid: String,
    output: Output,
    dry_run: bool,
}

impl Heartbeat {
    /// The job's heartbeat, if it has any; a `--ping` that names nothing
    /// usable is said now, and the job runs without it.
    pub fn of(job: &mut Job) -> Option<Heartbeat> {
        let pings = match std::mem::replace(&mut job.pings, Ok(Vec::new())) {
            Ok(pings) if pings.is_empty() => return None,
            Ok(pings) => pings,
            Err(failure) => {
                report::failure(job.output, &failure);
                eprintln!("chime: {} runs without its heartbeat", job.name);
                return None;
            }
        };
        Some(Heartbeat {
            pings,
            rid: healthchecks::run_id(),
            output: job.output,
            dry_run: job.dry_run,
        })
    }

    /// `URL/start`, with nothing to say yet.
    pub fn started(&self, job: &Job) {
        let start = healthchecks::ping(Signal::Start, &self.rid, "");
        self.send(job, &start, Some(START_WAIT));
    }

    /// The outcome: `URL` on success, `URL/<code>` for an exit status,
    /// `URL/fail` otherwise, with the report's headline and the tail.
    pub fn ended(
        &self,
        job: &Job,
        (exit_code, ok): (Option<i32>, bool),
        headline: &str,
        tail: &str,
    ) {
        let body = format!("{headline}\n\n{tail}");
        let body = body.trim_end();
        let signal = match (ok, exit_code) {
            (true, _) => Signal::Success,
            (false, Some(code @ 1..=255)) => Signal::Exit(code as u8),
            (false, _) => Signal::Fail,
        };
        self.send(job, &healthchecks::ping(signal, &self.rid, body), None);
    }

    /// Sends `payload` to each check; `most` bounds a start's wait, and a
    /// start never waits behind older pings.
    fn send(&self, job: &Job, payload: &Payload, most: Option<Duration>) {
        for ping in &self.pings {
            let (profile, spool) = match (&ping.place, &job.report) {
                (PingPlace::Typed { profile, spool }, _) => (profile.as_ref(), spool),
                (PingPlace::Report, Ok(reporting)) => {
                    (&reporting.send.profile, &reporting.send.spool)
                }
                // A ping is of the report's profile only when it was read.
                (PingPlace::Report, Err(_)) => continue,
            };
            let destination = &profile.destinations[&ping.destination];
            if self.dry_run {
                let _ = outcome::dry_run(&[(destination, vec![payload.clone()])], false);
                continue;
            }
            let timeout = destination
                .timeout
                .or(profile.timeout)
                .unwrap_or(DEFAULT_TIMEOUT);
            let timeout = most.map_or(timeout, |most| timeout.min(most));
            let typed = matches!(ping.place, PingPlace::Typed { .. });
            let to = (profile, spool, destination, typed);
            if let Err(failure) = self.deliver(to, payload, (timeout, most)) {
                report::failure(self.output, &failure);
            }
        }
    }

    fn deliver(
        &self,
        (profile, spool, destination, typed): To,
        payload: &Payload,
        (timeout, most): (Duration, Option<Duration>),
    ) -> Result<(), crate::exit::Failure> {
        let runtime = deliver::runtime()?;
        let client = Clients::new();
        let threads = Threads::beside(spool, profile);
        let outbox = Outbox {
            client: &client,
            spool,
            threads: &threads,
            policy: &profile.spool,
            output: self.output,
            no_spool: false,
            in_flight: Default::default(),
        };
        let parts = vec![payload.clone()];
        // Older pings waiting would go first, each with its own time: the
        // start waits behind them, and the end takes them all along.
        let report = match most.is_some() && spool.has_pending(&destination.name, None) {
            true => outbox.queue(destination, parts),
            false => runtime.block_on(outbox.send(destination, parts, timeout, None)),
        };
        let why = report
            .error
            .as_deref()
            .unwrap_or("older pings of the check are waiting, and it goes after them");
        let text = match report.status {
            Status::Delivered | Status::Held => return Ok(()),
            Status::Queued if typed => format!(
                "the ping could not go ({why}): kept, and the next `chime run` with this --ping sends it first"
            ),
            Status::Queued => format!(
                "the ping to `{}` could not go ({why}): kept in the spool for `chime flush`",
                destination.name
            ),
            Status::Failed => format!("the ping could not go ({why}), and could not be kept"),
            Status::Rejected => {
                let hint = report.hint.as_deref().map(|h| format!("; {h}"));
                format!("the ping was refused ({why}){}", hint.unwrap_or_default())
            }
        };
        report::warning(self.output, &text);
        Ok(())
    }
}
