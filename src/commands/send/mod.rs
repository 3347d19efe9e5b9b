//! `chime send`: resolve where a message goes (`route.rs`), compose it for
//! each destination (`compose.rs`), decide when it goes (`timed.rs`), render
//! and deliver it, and report.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use minijinja::value::{Serde, Value};

use super::files;
use super::outcome;
use crate::config::Destination;
use crate::deliver::Outbox;
use crate::deliver::{self, Report, Status};
use crate::exit::{ExitCode, Failure};
use crate::kinds::{Payload, Target, ThreadRef};
use crate::message::Message;
use crate::report;
use crate::settings::Send;
use crate::state::Threads;
use crate::template;
use crate::timing::Timing;

mod compose;
mod route;
mod timed;

use compose::compose;
use route::{Resolved, alerts, keys, resolve};
use timed::{Timed, decide};

/// One destination of this send, with what its route adds.
struct Delivery<'p> {
    destination: &'p Destination,
    target: Target,
    template: Option<&'p str>,
    /// The key its parts carry, for kinds that thread or edit by message.
    thread: Option<ThreadRef>,
    /// The route it came by, and its timing.
    route: Option<(&'p str, &'p Timing)>,
    /// Its rule's dedupe, else its route's.
    dedupe: Option<&'p crate::timing::Dedupe>,
}

pub fn run(mut send: Send) -> Result<ExitCode, Failure> {
    let stash = send.input.stash.take();
    let result = send_all(send);
    // What `--file -` read is the spool's copy's source only until the send ends.
    if let Some(stash) = stash {
        let _ = std::fs::remove_file(stash);
    }
    result
}

fn send_all(mut send: Send) -> Result<ExitCode, Failure> {
    // The text is held once, by the template variables and the composing
    // alike, and let go of once every destination's message is composed,
    // before any is rendered (issue 11: a long send held it seven times).
    let text: Arc<str> = Arc::from(std::mem::take(&mut send.input.text));
    let vars = variables(&send, &text);
    let mut deliveries = match resolve(&send, &vars)? {
        Resolved::To(deliveries) => deliveries,
        Resolved::Dropped(dropped) => {
            outcome::dropped(&dropped, send.json, send.output)?;
            return Ok(ExitCode::Ok);
        }
    };
    let files = &send.input.files;
    let destinations: Vec<&Destination> = deliveries.iter().map(|d| d.destination).collect();
    files::someone_carries(files, &destinations)?;
    for destination in &destinations {
        files::within_limit(files, destination)?;
        if let Some(warning) = files::not_attached(destination, files) {
            report::warning(send.output, &warning);
        }
    }
    let threads = Threads::beside(&send.spool, &send.profile).searching(send.ci.is_some());
    keys(&send, &mut deliveries);
    alerts(&send, &mut deliveries)?;
    let mut messages = Vec::with_capacity(deliveries.len());
    for delivery in &deliveries {
        messages.push(checked(&send, delivery, &vars, &text)?);
    }
    let mut timed = Timed::default();
    if !send.dry_run {
        timed = decide(&send, &mut deliveries, &messages, &vars, &text)?;
    }
    drop((vars, text));
    let rendered: Vec<_> = deliveries
        .iter()
        .zip(messages)
        .map(|(delivery, message)| (delivery.destination, render(delivery, message)))
        .collect();
    if send.dry_run {
        return dry_run(&send, &rendered, &threads);
    }
    let reports = timed.deliver(&send, rendered, &threads)?;
    outcome::deliveries(&reports, send.json, send.output)?;
    let code = deliver::exit_code(reports.iter().map(|r| r.status));
    // `--queue` asked for the spool: a message kept there is what was asked
    // for, and 75 would tell a script to try again (and queue it twice).
    Ok(if send.queue && code == ExitCode::TempFail {
        ExitCode::Ok
    } else {
        code
    })
}

/// One destination a question (`chime ask`) may go to: its message composed
/// as a send would compose it, and who its route lets answer.
pub struct Composed<'p> {
    pub destination: &'p Destination,
    pub target: Target,
    pub thread: Option<ThreadRef>,
    pub message: Message,
    pub route_approvers: &'p [String],
}

/// The destinations `send` would go to, each with its message composed:
/// what `chime ask` posts, with buttons, to the one that can ask.
pub fn composed(send: &Send) -> Result<Vec<Composed<'_>>, Failure> {
    let text: Arc<str> = Arc::from(send.input.text.as_str());
    let vars = variables(send, &text);
    let mut deliveries = match resolve(send, &vars)? {
        Resolved::To(deliveries) => deliveries,
        Resolved::Dropped(dropped) => {
            return Err(Failure::usage(format!(
                "rule {} (`{}`) drops this question, so there is no one to ask",
                dropped.rule, dropped.when
            ))
            .with_hint("name a route with -r or a destination with --to"));
        }
    };
    keys(send, &mut deliveries);
    let mut out = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        let message = checked(send, &delivery, &vars, &text)?;
        let route_approvers = match delivery.route {
            Some((name, _)) => send.profile.routes[name].approvers.as_slice(),
            None => &[],
        };
        out.push(Composed {
            destination: delivery.destination,
            target: delivery.target,
            thread: delivery.thread,
            message,
            route_approvers,
        });
    }
    Ok(out)
}

/// `--dry-run`: the requests as they would go, threads attached. It
/// decides nothing about timing: no window, no hold.
fn dry_run(
    send: &Send,
    rendered: &[(&Destination, Vec<Payload>)],
    threads: &Threads,
) -> Result<ExitCode, Failure> {
    let shown = rendered.iter().map(|(destination, parts)| {
        let attach = |p| threads.attach(&destination.name, destination.platform.as_ref(), p);
        (*destination, parts.iter().map(attach).collect())
    });
    outcome::dry_run(&shown.collect::<Vec<_>>(), send.json)?;
    if let Some(until) = send.at {
        let text = format!(
            "--dry-run: sent for real, this would wait until {}; shown as it would go then",
            crate::clock::stamp(until)
        );
        report::warning(send.output, &text);
    }
    Ok(ExitCode::Ok)
}

/// The message for one destination, composed and checked by its kind: a
/// send stops here, before anything goes out, when any destination cannot
/// render its message.
fn checked(
    send: &Send,
    delivery: &Delivery,
    vars: &Value,
    typed: &str,
) -> Result<Message, Failure> {
    let message = compose(send, delivery, vars, typed)?;
    delivery
        .destination
        .platform
        .check(&message)
        .map_err(|why| {
            Failure::config(format!(
                "destination `{}`: {why}",
                delivery.destination.name
            ))
            .with_hint("fix the destination's template in the profile")
        })?;
    Ok(message)
}

/// The destination's payloads for `message`, each carrying the send's thread
/// key. The message goes once it is rendered.
fn render(delivery: &Delivery, message: Message) -> Vec<Payload> {
    let mut parts = delivery
        .destination
        .platform
        .render(&message, &delivery.target);
    for (i, part) in parts.iter_mut().enumerate() {
        // Only the first part can replace the earlier message; the rest
        // of a long edit go into its thread. A dedupe window's key marks
        // only the first part, the one its count edits: the rest post as
        // they would without it.
        let thread = delivery.thread.clone();
        let dedupe_only = thread
            .as_ref()
            .is_some_and(|t| t.key.starts_with(super::timing::THREAD_PREFIX));
        part.thread = thread
            .filter(|_| i == 0 || !dedupe_only)
            .map(|thread| ThreadRef {
                edit: thread.edit && i == 0,
                ..thread
            });
    }
    parts
}

/// The variables templates and rules see; `text` is the message's text.
fn variables(send: &Send, text: &Arc<str>) -> Value {
    let input = &send.input;
    let mut vars = template::surroundings(&send.env, send.ci.as_ref());
    vars.insert("text".into(), Value::from(Arc::clone(text)));
    let event_title = input.event.as_ref().and_then(|e| e.title.clone());
    vars.insert(
        "title".into(),
        Value::from(input.title.clone().or(event_title).unwrap_or_default()),
    );
    vars.insert("level".into(), Value::from(input.level.as_str()));
    let fields: BTreeMap<&str, &str> = input
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vars.insert("fields".into(), Value::from(Serde(&fields)));
    for (key, value) in &input.json {
        if !matches!(key.as_str(), "text" | "title" | "level") {
            vars.insert(key.clone(), Value::from(Serde(value)));
        }
    }
    // `--event NAME` is the `event` a rule tests, as a JSON object's key is;
    // a `-f event=…` or `--var event=…` typed with it says otherwise.
    if let Some(name) = &input.event_name {
        vars.insert("event".into(), Value::from(name.clone()));
    }
    for (key, value) in input.fields.iter().chain(&input.vars) {
        vars.insert(key.clone(), Value::from(value.clone()));
    }
    Value::from(vars)
}

/// One destination's message to deliver, with the dedupe key's lock it
/// holds until the message is on disk, if it opened a window.
type Going<'p> = (&'p Destination, Vec<Payload>, Option<crate::state::Guard>);

fn deliver_all(
    send: &Send,
    rendered: Vec<Going>,
    threads: &Threads,
) -> Result<Vec<Report>, Failure> {
    let runtime = deliver::runtime()?;
    let client = deliver::Clients::showing(send.output);
    let outbox = Outbox {
        client: &client,
        spool: &send.spool,
        threads,
        policy: &send.profile.spool,
        output: send.output,
        no_spool: send.no_spool,
        in_flight: Default::default(),
    };
    let targets: Vec<(&Destination, usize)> =
        rendered.iter().map(|(d, p, _)| (*d, p.len())).collect();
    let sends: FuturesUnordered<_> = rendered
        .into_iter()
        .enumerate()
        .map(|(index, (destination, payloads, guard))| {
            let timeout = send.timeout_for(destination);
            let outbox = &outbox;
            async move {
                let report = if send.queue {
                    let report = outbox.queue(destination, payloads);
                    if report.status == Status::Queued
                        && let Some(window) = guard
                    {
                        window.open();
                    }
                    report
                } else {
                    outbox.send(destination, payloads, timeout, guard).await
                };
                (index, report)
            }
        })
        .collect();
    runtime.block_on(async {
        let mut reports = until_stopped(sends, targets.len()).await?;
        // Stopped: what was in flight is kept as it was begun (the futures
        // are dropped by now), and each unsettled destination says so.
        if let Some(signal) = reports.stopped_by {
            for (index, (destination, parts)) in targets.iter().enumerate() {
                reports.done[index]
                    .get_or_insert_with(|| outbox.interrupted(destination, *parts, signal));
            }
        }
        Ok(reports.done.into_iter().flatten().collect())
    })
}

/// The reports gathered before every send ended, or a stop signal came.
struct Gathered {
    done: Vec<Option<Report>>,
    stopped_by: Option<&'static str>,
}

/// Runs `sends` to the end, unless SIGTERM, SIGINT or SIGHUP comes first:
/// a script's `timeout`, a Ctrl-C or a closed terminal then stops them, and
/// what they had is kept rather than lost with the process.
async fn until_stopped(
    mut sends: FuturesUnordered<impl Future<Output = (usize, Report)>>,
    count: usize,
) -> Result<Gathered, Failure> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen =
        |kind| signal(kind).map_err(|e| Failure::from(e).caused_by("cannot listen for signals"));
    let mut term = listen(SignalKind::terminate())?;
    let mut int = listen(SignalKind::interrupt())?;
    let mut hup = listen(SignalKind::hangup())?;
    let mut gathered = Gathered {
        done: (0..count).map(|_| None).collect(),
        stopped_by: None,
    };
    loop {
        tokio::select! {
            next = sends.next() => match next {
                Some((index, report)) => gathered.done[index] = Some(report),
                None => return Ok(gathered),
            },
            _ = term.recv() => gathered.stopped_by = Some("SIGTERM"),
            _ = int.recv() => gathered.stopped_by = Some("SIGINT"),
            _ = hup.recv() => gathered.stopped_by = Some("SIGHUP"),
        }
        if gathered.stopped_by.is_some() {
            return Ok(gathered);
        }
    }
}
