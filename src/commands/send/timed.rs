//! What timing decides for each destination of a send (see `timing/` and
//! `commands/timing.rs`), and the send of what it lets through.

use minijinja::value::Value;

use super::super::native;
use super::super::timing::{self, Asked, Deduped};
use super::{Delivery, deliver_all};
use crate::config::Destination;
use crate::deliver::Report;
use crate::exit::Failure;
use crate::kinds::{Payload, ThreadRef};
use crate::message::Message;
use crate::report;
use crate::settings::Send;
use crate::spool::{Hold, Why};
use crate::state::{Guard, Threads};

/// What timing decided for each destination: `done` holds the report of a
/// message held or counted (which is not sent now); `guards` the dedupe key's
/// lock a message that opened its window holds until it is on disk.
#[derive(Default)]
pub(super) struct Timed {
    done: Vec<Option<Report>>,
    guards: Vec<Option<Guard>>,
    holds: Vec<Option<Hold>>,
}

/// Deduplication first, then `--at` and the route's quiet hours, digest and
/// limit: see `timing/`.
pub(super) fn decide(
    send: &Send,
    deliveries: &mut [Delivery],
    messages: &[Message],
    vars: &Value,
    typed: &str,
) -> Result<Timed, Failure> {
    let mut timed = Timed::default();
    for (delivery, message) in deliveries.iter_mut().zip(messages) {
        let mut guard = None;
        let (done, hold) = decide_one(send, delivery, message, vars, typed, &mut guard)?;
        timed.guards.push(guard);
        timed.done.push(done);
        timed.holds.push(hold);
    }
    Ok(timed)
}

/// What becomes of one destination's message: a report when it is counted
/// as a repeat, a hold when it is to wait, neither when it goes now.
fn decide_one(
    send: &Send,
    delivery: &mut Delivery,
    message: &Message,
    vars: &Value,
    typed: &str,
    guard: &mut Option<Guard>,
) -> Result<(Option<Report>, Option<Hold>), Failure> {
    if send.at.is_some() && send.no_spool {
        return Err(Failure::usage(
            "--at and --in keep the message in the spool until it is due, and this send keeps nothing",
        )
        .with_hint("drop --no-spool, or send to a destination of the profile rather than a URL"));
    }
    if let Some(counted) = deduplicate(send, delivery, message, vars, guard) {
        return Ok((Some(counted), None));
    }
    if let Some(until) = send.at {
        let why = Why::Scheduled;
        return Ok((None, Some(Hold { until, why })));
    }
    // `--no-spool` keeps nothing, so nothing is held back either.
    let Some(route) = delivery.route.filter(|_| !send.no_spool) else {
        return Ok((None, None));
    };
    let (spool, target) = (&send.spool, &delivery.target);
    let hold = timing::hold_for(spool, delivery.destination, route, message, typed, target);
    Ok((None, hold.map_err(Failure::from)?))
}

/// The report of a repeat, counted; `None` when the message goes, having
/// opened its window (its lock kept in `guard`) or not being deduplicated.
/// A window that cannot be had is said, and the message goes.
fn deduplicate(
    send: &Send,
    delivery: &mut Delivery,
    message: &Message,
    vars: &Value,
    guard: &mut Option<Guard>,
) -> Option<Report> {
    let dedupe = delivery.dedupe;
    if send.dedupe.is_none() && dedupe.is_none() {
        return None;
    }
    let destination = delivery.destination;
    // A key template that fails is said, and the message is keyed as if
    // the route gave none: a report must not be lost to a typo.
    let key = match (&send.dedupe, dedupe.and_then(|d| d.key.as_deref())) {
        (Some(asked), _) => Some(asked.key.clone()),
        (None, Some(template)) => timing::key_from(template, vars)
            .map_err(|e| {
                let text = format!(
                    "{}: the `dedupe_key` failed to render ({e}); deduplicating by the message",
                    destination.name
                );
                report::warning(send.output, &text);
            })
            .ok(),
        (None, None) => None,
    };
    let window = send.dedupe.as_ref().and_then(|d| d.window);
    let asked = Asked {
        key: key.as_deref(),
        window: window.or(dedupe.map(|d| d.window)),
        may_edit: delivery.thread.is_none() && send.at.is_none(),
    };
    match timing::dedupe(&send.spool, destination, &delivery.target, message, asked) {
        Ok(Deduped::Counted(report)) => return Some(*report),
        Ok(Deduped::Go(lock, thread)) => {
            *guard = lock;
            delivery.thread = delivery.thread.take().or(thread.map(|key| ThreadRef {
                key,
                edit: false,
                broadcast: false,
            }));
        }
        Err(err) => {
            let text = format!(
                "{}: cannot deduplicate ({err}); posting it",
                destination.name
            );
            report::warning(send.output, &text);
        }
    }
    None
}

impl Timed {
    /// Keeps what is held, and delivers the rest; the reports in the
    /// destinations' order.
    pub(super) fn deliver(
        mut self,
        send: &Send,
        rendered: Vec<(&Destination, Vec<Payload>)>,
        threads: &Threads,
    ) -> Result<Vec<Report>, Failure> {
        self.done.resize_with(rendered.len(), || None);
        self.holds.resize_with(rendered.len(), || None);
        self.guards.resize_with(rendered.len(), || None);
        let mut going = Vec::new();
        let mut order = Vec::new();
        for (index, (destination, payloads)) in rendered.into_iter().enumerate() {
            if self.done[index].is_some() {
                continue;
            }
            let payloads = match self.holds[index].take() {
                Some(hold) => self.keep(index, send, destination, payloads, hold, threads),
                None => Some(payloads),
            };
            if let Some(payloads) = payloads {
                order.push(index);
                going.push((destination, payloads, self.guards[index].take()));
            }
        }
        for (destination, _, _) in &going {
            let settled = timing::release_for_send(&send.spool, destination);
            for warning in &settled.warnings {
                report::warning(send.output, warning);
            }
        }
        let sent = match going.is_empty() {
            true => Vec::new(),
            false => deliver_all(send, going, threads)?,
        };
        for (index, report) in order.into_iter().zip(sent) {
            self.done[index] = Some(report);
        }
        Ok(self.done.into_iter().flatten().collect())
    }

    /// Keeps destination `index`'s message held (handed to its platform
    /// where it schedules); gives the payloads back when it is to go now
    /// after all.
    fn keep(
        &mut self,
        index: usize,
        send: &Send,
        destination: &Destination,
        payloads: Vec<Payload>,
        hold: Hold,
        threads: &Threads,
    ) -> Option<Vec<Payload>> {
        let scheduled = hold.why == Why::Scheduled;
        match timing::keep_held(&send.spool, destination, payloads.clone(), hold) {
            Ok(report) => {
                // Kept: its dedupe window opens before the hand-over's round trip.
                if let Some(window) = self.guards[index].take() {
                    window.open();
                }
                let mut report = native::hand_over(send, destination, report, threads);
                for warning in report.warnings.drain(..) {
                    report::warning(send.output, &warning);
                }
                self.done[index] = Some(report);
                None
            }
            // Not kept until its time: nothing went, and the script is told.
            Err(err) if scheduled => {
                let why = format!("cannot keep it until its time: {err}");
                self.done[index] = Some(Report::not_kept(destination, payloads.len(), why));
                None
            }
            // A limit or quiet hours are a courtesy: better early than lost.
            Err(err) => {
                let text = format!(
                    "{}: cannot hold it ({err}); sending it now",
                    destination.name
                );
                report::warning(send.output, &text);
                Some(payloads)
            }
        }
    }
}
