//! `--at`/`--in` where the platform schedules itself (Slack's
//! chat.scheduleMessage, ntfy's `At:`): the message is handed to the
//! platform now, to post at its time, and no flush is needed.
//!
//! The spool stays the fallback. The message is held in the spool first,
//! as any scheduled message; only once the platform has taken it is the
//! held entry removed (and, for a platform that can cancel it, a record
//! kept in `state::Scheduled`). A crash in between leaves both: the message
//! may be posted twice, never lost. Anything the platform will not take — a
//! message of several parts, files, an edit, a reply whose parent is not
//! known yet, a time outside the platform's bounds, a refusal or a failure
//! — leaves the entry held, with a word why under `-v` (a warning when the
//! platform was asked and said no).

use std::time::SystemTime;

use crate::clock;
use crate::config::Destination;
use crate::deliver::{self, Job, Report, Status};
use crate::kinds::{Payload, Schedules};
use crate::report;
use crate::settings::Send;
use crate::spool::{Read, State};
use crate::state::{Record, Scheduled, Threads};

/// Hands the held message `report` stands for to the platform, if it
/// takes such a message; gives back the report of what became of it.
pub fn hand_over(
    send: &Send,
    destination: &Destination,
    report: Report,
    threads: &Threads,
) -> Report {
    let Some(until) = send.at else { return report };
    let platform = destination.platform.as_ref();
    let Some(bounds) = platform.schedules() else {
        return report;
    };
    let Some(held) = report.spool_id.clone() else {
        return report;
    };
    let payload = match scheduled_payload(send, destination, &held, (bounds, until), threads) {
        Ok(payload) => payload,
        Err(why) => {
            if send.output.verbose {
                let name = &destination.name;
                eprintln!(
                    "chime: {name}: kept in the spool, not scheduled on {}: {why}",
                    bounds.holder
                );
            }
            return report;
        }
    };
    let Ok(Some(_lock)) = send.spool.try_lock(&destination.name) else {
        // A flush is at it: the spool's hold is as good.
        return report;
    };
    match schedule(send, destination, payload) {
        Ok((channel, id)) => scheduled(send, destination, report, (channel, id), until, bounds),
        Err(error) => {
            let text = format!(
                "{}: {} did not take the scheduled message ({error}); it waits in the spool",
                destination.name, bounds.holder
            );
            report::warning(send.output, &text);
            report
        }
    }
}

/// The one request that schedules the message, or why there is none.
fn scheduled_payload(
    send: &Send,
    destination: &Destination,
    held: &str,
    (bounds, until): (Schedules, SystemTime),
    threads: &Threads,
) -> Result<Payload, String> {
    let ahead = until.duration_since(clock::now()).unwrap_or_default();
    if ahead < bounds.min || ahead > bounds.max {
        return Err(format!(
            "it takes messages from {} to {} ahead",
            clock::span(bounds.min),
            clock::span(bounds.max)
        ));
    }
    let held = match send.spool.read(State::Held, &destination.name, held) {
        Ok(Read::Entry(entry)) => entry.payloads,
        _ => return Err("its held entry cannot be read back".into()),
    };
    let [payload] = held.as_slice() else {
        return Err("the message is in several parts, which must go in order".into());
    };
    let platform = destination.platform.as_ref();
    let mut payload = payload.clone();
    if let Some(thread) = payload.thread.clone() {
        if thread.edit {
            return Err("an --update edits the message when it is sent".into());
        }
        let Some(parent) = threads.get(&destination.name, &thread.key) else {
            return Err(format!(
                "the thread `{}` has no first message yet",
                thread.key
            ));
        };
        payload = platform.attach(&payload, &parent);
        payload.thread = None;
    }
    platform.schedule(&payload, clock::epoch_secs(until))
}

/// Sends the scheduling request; the channel and the platform's id for the
/// message when it was taken.
fn schedule(
    send: &Send,
    destination: &Destination,
    payload: Payload,
) -> Result<(String, String), String> {
    let runtime = deliver::runtime().map_err(|f| f.message)?;
    let clients = deliver::Clients::showing(send.output);
    let job = Job::alone(destination, vec![payload], send.timeout_for(destination));
    let sent = runtime.block_on(deliver::deliver_one(&clients, job, send.output.verbose));
    match sent.status {
        Status::Delivered => Ok((
            sent.channel.unwrap_or_default(),
            sent.ts.unwrap_or_default(),
        )),
        _ => Err(sent.error.unwrap_or_else(|| "no answer".into())),
    }
}

/// The platform took it: the held entry goes, a record is kept where the
/// platform can cancel it, and the report says who holds it now.
fn scheduled(
    send: &Send,
    destination: &Destination,
    mut report: Report,
    (channel, id): (String, String),
    until: SystemTime,
    bounds: Schedules,
) -> Report {
    let name = &destination.name;
    if let Some(held) = report.spool_id.take() {
        let entry = match send.spool.read(State::Held, name, &held) {
            Ok(Read::Entry(entry)) => Some(entry),
            _ => None,
        };
        if let Some(entry) = entry
            && let Err(err) = send.spool.remove(State::Held, &entry)
        {
            // Posted twice rather than lost: the flush sends the held copy too.
            report
                .warnings
                .push(format!("{name}: {err}; a flush will post it again"));
        }
        send.spool.forget_files(&held);
    }
    let cancels = destination.platform.unschedule(&channel, &id).is_some();
    if cancels {
        let now = clock::epoch_secs(SystemTime::now());
        let record = Record {
            id: crate::spool::fs::new_id(SystemTime::now()),
            destination: name.clone(),
            channel: channel.clone(),
            scheduled_message_id: id.clone(),
            post_at: clock::epoch_secs(until),
            created: now,
            holder: bounds.holder.to_owned(),
            identity: destination.identity(),
        };
        match Scheduled::beside(&send.spool).add(&record) {
            Ok(()) => report.spool_id = Some(record.id),
            Err(err) => report.warnings.push(format!(
                "{name}: cannot remember the scheduled message ({err}); `chime spool drop` cannot cancel it"
            )),
        }
    }
    if let Some(held) = report.held.as_mut() {
        held.note = format!(
            "scheduled on {} for {} ({}); {} posts it then, no flush needed",
            bounds.holder,
            clock::stamp(until),
            crate::spool::when(until),
            bounds.holder
        );
        // The platform's own id, for a script, whether or not chime can cancel it.
        held.scheduled_message_id = Some(id).filter(|id| !id.is_empty());
    }
    report.channel = Some(channel).filter(|c| !c.is_empty());
    report
}
