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

/// What timing decided for each destination of a send, in their order.
#[derive(Default)]
pub(super) struct Timed {
    fates: Vec<Fate>,
}

/// What timing decided for one destination.
#[derive(Default)]
struct Fate {
    /// The report of a message not sent now: counted, held, or not kept.
    report: Option<Report>,
    /// Until when, and why, it is to wait.
    hold: Option<Hold>,
    /// The dedupe key's lock a message that opened its window holds until
    /// it is kept or delivered.
    window: Option<Guard>,
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
        timed
            .fates
            .push(decide_one(send, delivery, message, vars, typed)?);
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
) -> Result<Fate, Failure> {
    if send.at.is_some() && send.no_spool {
        return Err(Failure::usage(
            "--at and --in keep the message in the spool until it is due, and this send keeps nothing",
        )
        .with_hint("drop --no-spool, or send to a destination of the profile rather than a URL"));
    }
    let mut fate = Fate::default();
    fate.report = deduplicate(send, delivery, message, vars, &mut fate.window);
    if fate.report.is_some() {
        return Ok(fate);
    }
    if let Some(until) = send.at {
        let why = Why::Scheduled;
        fate.hold = Some(Hold { until, why });
        return Ok(fate);
    }
    // An alert goes as it is: held, it would go later in a digest, a new
    // alert with no key, and a held resolve would leave the incident open.
    // Who is woken when is the platform's schedules' to decide.
    if delivery.destination.platform.alerts() {
        return Ok(fate);
    }
    // `--no-spool` keeps nothing, so nothing is held back either.
    let Some(route) = delivery.route.filter(|_| !send.no_spool) else {
        return Ok(fate);
    };
    let (spool, target) = (&send.spool, &delivery.target);
    let hold = timing::hold_for(spool, delivery.destination, route, message, typed, target);
    fate.hold = hold.map_err(Failure::from)?;
    Ok(fate)
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
    // The platform deduplicates alerts by their key itself; a window here
    // would count a resolve as a repeat of its trigger.
    if delivery.destination.platform.alerts() {
        return None;
    }
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
        self.fates.resize_with(rendered.len(), Fate::default);
        let mut going = Vec::new();
        let mut order = Vec::new();
        for (index, (destination, payloads)) in rendered.into_iter().enumerate() {
            let fate = &mut self.fates[index];
            if fate.report.is_some() {
                continue;
            }
            let payloads = match fate.hold.take() {
                Some(hold) => fate.keep(send, destination, payloads, hold, threads),
                None => Some(payloads),
            };
            if let Some(payloads) = payloads {
                order.push(index);
                going.push((destination, payloads, fate.window.take()));
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
            self.fates[index].report = Some(report);
        }
        Ok(self.fates.into_iter().filter_map(|f| f.report).collect())
    }
}

impl Fate {
    /// Keeps the message held (handed to its platform where it schedules);
    /// gives the payloads back when it is to go now after all.
    fn keep(
        &mut self,
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
                if let Some(window) = self.window.take() {
                    window.open();
                }
                let mut report = native::hand_over(send, destination, report, threads);
                for warning in report.warnings.drain(..) {
                    report::warning(send.output, &warning);
                }
                self.report = Some(report);
                None
            }
            // Not kept until its time: nothing went, and the script is told.
            Err(err) if scheduled => {
                let why = format!("cannot keep it until its time: {err}");
                self.report = Some(Report::not_kept(destination, payloads.len(), why));
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
