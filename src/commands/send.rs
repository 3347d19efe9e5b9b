//! `chime send`: resolve where a message goes, render it for each destination,
//! deliver it, and report — four phases, one function each.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use minijinja::value::{Serde, Value};

use super::{files, outcome};
use crate::config::{Destination, Profile};
use crate::deliver::Outbox;
use crate::deliver::{self, Report};
use crate::exit::{ExitCode, Failure};
use crate::kinds::{Payload, Target, ThreadRef, Threading};
use crate::message::Message;
use crate::report;
use crate::settings::{Input, Selection, Send};
use crate::state::Threads;
use crate::template::{self, Renderer};
use crate::timing::Timing;

use super::timing::{Asked, Deduped};

/// One destination of this send, with what its route adds.
struct Delivery<'p> {
    destination: &'p Destination,
    target: Target,
    template: Option<&'p str>,
    /// The key its parts carry, for kinds that thread or edit by message.
    thread: Option<ThreadRef>,
    /// The route it came by, and its timing.
    route: Option<(&'p str, &'p Timing)>,
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
    let mut deliveries = resolve(&send, &vars)?;
    let files = &send.input.files;
    let destinations: Vec<&Destination> = deliveries.iter().map(|d| d.destination).collect();
    files::someone_carries(files, &destinations)?;
    for destination in &destinations {
        files::within_limit(files, destination)?;
        if let Some(warning) = files::not_attached(destination, files) {
            report::warning(send.output, &warning);
        }
    }
    let threads = Threads::beside(&send.spool, send.profile.thread_ttl);
    keys(&send, &mut deliveries);
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
        let shown = rendered.iter().map(|(destination, parts)| {
            let attach = |p| threads.attach(&destination.name, destination.platform.as_ref(), p);
            (*destination, parts.iter().map(attach).collect())
        });
        outcome::dry_run(&shown.collect::<Vec<_>>(), send.json)?;
        return Ok(ExitCode::Ok);
    }
    let (reports, _guards) = timed.deliver(&send, rendered, &threads)?;
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
        // of a long edit go into its thread.
        part.thread = delivery.thread.clone().map(|thread| ThreadRef {
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
    vars.insert(
        "title".into(),
        Value::from(input.title.clone().unwrap_or_default()),
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
    for (key, value) in input.fields.iter().chain(&input.vars) {
        vars.insert(key.clone(), Value::from(value.clone()));
    }
    Value::from(vars)
}

/// Picks the destinations: `--to`, else the routes named, else the first rule
/// that matches, else the profile's default route. A destination reached by
/// several routes gets the message once, with the first route's settings.
fn resolve<'p>(send: &'p Send, vars: &Value) -> Result<Vec<Delivery<'p>>, Failure> {
    let profile = &send.profile;
    let routes: Vec<&str> = match &send.selection {
        Selection::Destinations(names) => {
            return Ok(names
                .iter()
                .map(|name| delivery(send, &profile.destinations[name], None, None))
                .collect());
        }
        Selection::Routes(names, _) => names.iter().map(String::as_str).collect(),
        Selection::Auto => vec![auto_route(profile, vars)?],
    };
    let mut out: Vec<Delivery> = Vec::new();
    for name in routes {
        let route = &profile.routes[name];
        for dest in &route.to {
            if out.iter().any(|d| &d.destination.name == dest) {
                continue;
            }
            let destination = &profile.destinations[dest];
            let mut chosen = delivery(
                send,
                destination,
                route.channel.as_deref(),
                route.template.as_deref(),
            );
            chosen.route = Some((name, &route.timing));
            out.push(chosen);
        }
    }
    Ok(out)
}

fn delivery<'p>(
    send: &'p Send,
    destination: &'p Destination,
    route_channel: Option<&'p str>,
    route_template: Option<&'p str>,
) -> Delivery<'p> {
    let channel = send.channel.as_deref().or(route_channel).map(str::to_owned);
    Delivery {
        destination,
        target: Target {
            channel,
            ..Target::default()
        },
        template: send.template.as_deref().or(route_template),
        thread: None,
        route: None,
    }
}

/// Gives each destination what `--thread`/`--update` mean for its kind: a
/// key its parts carry (resolved when they are sent), or a key the platform
/// threads by itself; a kind that cannot thread or edit posts normally, and
/// says so.
fn keys(send: &Send, deliveries: &mut [Delivery]) {
    let Some(mode) = &send.thread else { return };
    let thread = ThreadRef {
        key: mode.key.clone(),
        edit: mode.update,
        broadcast: mode.broadcast,
    };
    for delivery in deliveries {
        let platform = &delivery.destination.platform;
        let warn = |what: &str| {
            let name = &delivery.destination.name;
            let text = format!(
                "{name} ({}) cannot {what}; posting normally",
                platform.kind()
            );
            report::warning(send.output, &text);
        };
        if mode.update {
            match platform.edits() {
                true => delivery.thread = Some(thread.clone()),
                false => warn("edit messages"),
            }
            continue;
        }
        match platform.threading() {
            Threading::ByMessage => delivery.thread = Some(thread.clone()),
            Threading::ByKey => delivery.target.thread_key = Some(mode.key.clone()),
            Threading::Fixed => {}
            Threading::Unsupported => warn("thread messages"),
        }
    }
}

fn auto_route<'p>(profile: &'p Profile, vars: &Value) -> Result<&'p str, Failure> {
    if let Some(route) = profile.rule_route(vars)? {
        return Ok(route);
    }
    profile.default_route.as_deref().ok_or_else(|| {
        Failure::config(format!(
            "no route for this message: no rule matched and {} has no [defaults] route",
            profile.path.display()
        ))
        .with_hint("pass --route NAME or --to DEST, or set `route` under [defaults]")
    })
}

/// Renders the message for one destination's markup; `typed` is its text as
/// the user gave it. A report that must not be lost (`chime run`'s) whose
/// template fails goes as it would without the template, with a warning.
fn compose(
    send: &Send,
    delivery: &Delivery,
    vars: &Value,
    typed: &str,
) -> Result<Message, Failure> {
    let template = delivery.template.map(|name| &send.profile.templates[name]);
    match compose_with(send, delivery, template, vars, typed) {
        Err(failure) if send.template_fallback && template.is_some() => {
            let text = format!("{}; the default report was sent instead", failure.message);
            crate::report::fate(send.output, &text);
            compose_with(send, delivery, None, vars, typed)
        }
        composed => composed,
    }
}

fn compose_with(
    send: &Send,
    delivery: &Delivery,
    template: Option<&crate::config::Template>,
    vars: &Value,
    typed: &str,
) -> Result<Message, Failure> {
    let input: &Input = &send.input;
    let platform = &delivery.destination.platform;
    let renderer = Renderer::new(platform.markup());
    let render_error = |part: &str, err: String| {
        let name = delivery.template.unwrap_or_default();
        Failure::config(format!(
            "template `{name}`: the {part} failed to render: {err}"
        ))
        .with_hint("fix the template in the profile, or check the variables it uses")
    };
    // User text is never interpreted as a template: a log line's template
    // braces stay as they are.
    let text = match template.and_then(|t| t.text.as_deref()) {
        Some(source) => renderer
            .text(source, vars)
            .map_err(|e| render_error("text", e))?,
        None => platform.escape(typed),
    };
    let title = match template.and_then(|t| t.title.as_deref()) {
        Some(source) => Some(
            renderer
                .title(source, vars)
                .map_err(|e| render_error("title", e))?,
        ),
        None => input.title.clone(),
    };
    let mut message = Message {
        title: title.filter(|t| !t.trim().is_empty()),
        text,
        level: input.level,
        fields: input.fields.clone(),
        links: input.links.clone(),
        code: input.code,
        host: vars
            .get_attr("host")
            .ok()
            .map(|h| h.to_string())
            .unwrap_or_default(),
        time: std::time::SystemTime::now(),
        context: Vec::new(),
        files: input.files.clone(),
        file_urls: input.file_urls.clone(),
    };
    super::files::name_in_text(&mut message, delivery.destination);
    super::files::urls_as_links(&mut message, delivery.destination);
    if let Some(ci) = &send.ci {
        ci.annotate(&mut message);
    }
    if message.is_empty() {
        return Err(
            Failure::usage("nothing to send: the message has no text and no title")
                .with_hint("give TEXT, pipe text on stdin, or set --title"),
        );
    }
    Ok(message)
}

/// What timing decided for each destination: `done` holds the report of a
/// message held or counted (which is not sent now); `guards` the dedupe keys
/// held until the messages that opened their windows are on disk.
#[derive(Default)]
struct Timed {
    done: Vec<Option<Report>>,
    guards: Vec<crate::state::Guard>,
    holds: Vec<Option<crate::spool::Hold>>,
}

/// Deduplication first, then `--at` and the route's quiet hours, digest and
/// limit: see `timing/`.
fn decide(
    send: &Send,
    deliveries: &mut [Delivery],
    messages: &[Message],
    vars: &Value,
    typed: &str,
) -> Result<Timed, Failure> {
    let mut timed = Timed::default();
    for (delivery, message) in deliveries.iter_mut().zip(messages) {
        let (done, hold) = decide_one(send, delivery, message, vars, typed, &mut timed.guards)?;
        timed.done.push(done);
        timed.holds.push(hold);
    }
    Ok(timed)
}

fn decide_one(
    send: &Send,
    delivery: &mut Delivery,
    message: &Message,
    vars: &Value,
    typed: &str,
    guards: &mut Vec<crate::state::Guard>,
) -> Result<(Option<Report>, Option<crate::spool::Hold>), Failure> {
    let destination = delivery.destination;
    let route = delivery.route;
    let dedupe = route.and_then(|(_, t)| t.dedupe.as_ref());
    let key = match (&send.dedupe, dedupe.and_then(|d| d.key.as_deref())) {
        (Some(asked), _) => Some(asked.key.clone()),
        (None, Some(template)) => Some(super::timing::key_from(template, vars).map_err(|e| {
            Failure::config(format!("the route's `dedupe_key` failed to render: {e}"))
        })?),
        (None, None) => None,
    };
    if send.dedupe.is_some() || dedupe.is_some() {
        let window = send.dedupe.as_ref().and_then(|d| d.window);
        let asked = Asked {
            key: key.as_deref(),
            window: window.or(dedupe.map(|d| d.window)),
        };
        let spool = &send.spool;
        match super::timing::dedupe(spool, destination, &delivery.target, message, asked) {
            Ok(Deduped::Counted(report)) => return Ok((Some(*report), None)),
            Ok(Deduped::Go(guard, thread)) => {
                guards.extend(guard);
                if delivery.thread.is_none() {
                    delivery.thread = thread.map(|key| ThreadRef {
                        key,
                        edit: false,
                        broadcast: false,
                    });
                }
            }
            Err(err) => {
                let text = format!(
                    "{}: cannot deduplicate ({err}); posting it",
                    destination.name
                );
                report::warning(send.output, &text);
            }
        }
    }
    if let Some(until) = send.at {
        let hold = crate::spool::Hold {
            until,
            why: crate::spool::Why::Scheduled,
        };
        return Ok((None, Some(hold)));
    }
    let Some(route) = route else {
        return Ok((None, None));
    };
    let hold = super::timing::hold_for(
        &send.spool,
        destination,
        route,
        message,
        typed,
        &delivery.target,
    )
    .map_err(Failure::from)?;
    Ok((None, hold))
}

impl Timed {
    /// Keeps what is held, and delivers the rest; the reports in the
    /// destinations' order.
    fn deliver(
        mut self,
        send: &Send,
        rendered: Vec<(&Destination, Vec<Payload>)>,
        threads: &Threads,
    ) -> Result<(Vec<Report>, Vec<crate::state::Guard>), Failure> {
        self.done.resize_with(rendered.len(), || None);
        self.holds.resize_with(rendered.len(), || None);
        let mut going = Vec::new();
        let mut order = Vec::new();
        for (index, (destination, payloads)) in rendered.into_iter().enumerate() {
            if self.done[index].is_some() {
                continue;
            }
            match self.holds[index].take() {
                Some(hold) => {
                    let report = super::timing::keep_held(&send.spool, destination, payloads, hold)
                        .map_err(Failure::from)?;
                    let report = super::native::hand_over(send, destination, report, threads);
                    self.done[index] = Some(report);
                }
                None => {
                    order.push(index);
                    going.push((destination, payloads));
                }
            }
        }
        let sent = match going.is_empty() {
            true => Vec::new(),
            false => deliver_all(send, going, threads)?,
        };
        for (index, report) in order.into_iter().zip(sent) {
            self.done[index] = Some(report);
        }
        Ok((self.done.into_iter().flatten().collect(), self.guards))
    }
}

fn deliver_all(
    send: &Send,
    rendered: Vec<(&Destination, Vec<Payload>)>,
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
    let targets: Vec<(&Destination, usize)> = rendered.iter().map(|(d, p)| (*d, p.len())).collect();
    let sends: FuturesUnordered<_> = rendered
        .into_iter()
        .enumerate()
        .map(|(index, (destination, payloads))| {
            let timeout = send.timeout_for(destination);
            let outbox = &outbox;
            async move {
                let report = if send.queue {
                    outbox.queue(destination, payloads)
                } else {
                    outbox.send(destination, payloads, timeout).await
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
