//! `chime send`: resolve where a message goes, render it for each destination,
//! deliver it, and report — four phases, one function each.

use std::collections::BTreeMap;

use minijinja::value::{Serde, Value};

use crate::config::{Destination, Profile};
use std::time::{Duration, SystemTime};

use futures_util::future::join_all;

use crate::deliver::{self, Job, Report, Status};
use crate::exit::{ExitCode, Failure};
use crate::flush::{self, Context, Due};
use crate::kinds::{Payload, Target, Threading};
use crate::message::Message;
use crate::report;
use crate::settings::{Input, Selection, Send};
use crate::spool::{DestinationLock, State};
use crate::template::{self, Renderer};
use crate::threads::Threads;

/// One destination of this send, with what its route adds.
struct Delivery<'p> {
    destination: &'p Destination,
    target: Target,
    template: Option<&'p str>,
}

pub fn run(send: Send) -> Result<ExitCode, Failure> {
    let vars = variables(&send);
    let mut deliveries = resolve(&send, &vars)?;
    let store =
        Threads::locate(&send.env, send.profile.thread_ttl).map_err(flush::spool_failure)?;
    threads(&send, &mut deliveries, &store);
    let mut rendered = Vec::with_capacity(deliveries.len());
    for delivery in &deliveries {
        let message = compose(&send, delivery, &vars)?;
        let requests = delivery
            .destination
            .platform
            .render(&message, &delivery.target);
        rendered.push((delivery.destination, requests));
    }
    if send.dry_run {
        report::dry_run(&rendered, send.json)?;
        return Ok(ExitCode::Ok);
    }
    let reports = deliver_all(&send, rendered)?;
    remember(&send, &reports, &store);
    report::deliveries(&reports, send.json, send.output)?;
    Ok(exit_code(&reports))
}

/// The worst outcome wins: a script must never read success while a message
/// was refused or is still undelivered somewhere.
fn exit_code(reports: &[Report]) -> ExitCode {
    reports.iter().fold(ExitCode::Ok, |code, report| {
        code.worst(match report.status {
            Status::Delivered => ExitCode::Ok,
            Status::Rejected => ExitCode::Rejected,
            Status::Queued | Status::Failed => ExitCode::TempFail,
        })
    })
}

/// The variables templates and rules see.
fn variables(send: &Send) -> Value {
    let input = &send.input;
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let env = &send.env;
    let mut vars: BTreeMap<String, Value> = BTreeMap::new();
    vars.insert("text".into(), Value::from(input.text.clone()));
    vars.insert(
        "title".into(),
        Value::from(input.title.clone().unwrap_or_default()),
    );
    vars.insert("level".into(), Value::from(input.level.as_str()));
    vars.insert("host".into(), Value::from(host));
    let user = env
        .get("USER")
        .or_else(|| env.get("LOGNAME"))
        .cloned()
        .unwrap_or_default();
    vars.insert("user".into(), Value::from(user));
    vars.insert(
        "cwd".into(),
        Value::from(env.get("PWD").cloned().unwrap_or_default()),
    );
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    vars.insert("now".into(), Value::from(now));
    vars.insert("env".into(), Value::from(Serde(env)));
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
            out.push(delivery(
                send,
                destination,
                route.channel.as_deref(),
                route.template.as_deref(),
            ));
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
    }
}

/// Fills in what `--thread`/`--update` mean for each destination, from the
/// remembered keys; a kind that cannot thread or edit posts normally, and says so.
fn threads(send: &Send, deliveries: &mut [Delivery], store: &Threads) {
    let Some(mode) = &send.thread else { return };
    for delivery in deliveries {
        let platform = &delivery.destination.platform;
        let name = &delivery.destination.name;
        let target = &mut delivery.target;
        let warn = |what: &str| {
            let text = format!(
                "{name} ({}) cannot {what}; posting normally",
                platform.kind()
            );
            report::warning(send.output, &text);
        };
        if mode.update {
            match platform.edits() {
                true => target.edit = store.get(name, &mode.key),
                false => warn("edit messages"),
            }
            continue;
        }
        match platform.threading() {
            Threading::ByMessage => target.reply_to = store.get(name, &mode.key),
            Threading::ByKey => target.thread_key = Some(mode.key.clone()),
            Threading::Unsupported => warn("thread messages"),
        }
        target.broadcast = mode.broadcast;
    }
}

/// Remembers where the first message under a key went, so later sends can
/// reply to it or edit it.
fn remember(send: &Send, reports: &[Report], store: &Threads) {
    let Some(mode) = &send.thread else { return };
    for report in reports.iter().filter(|r| r.status == Status::Delivered) {
        let (Some(channel), Some(ts)) = (&report.channel, &report.ts) else {
            continue;
        };
        if store.get(&report.destination, &mode.key).is_some() {
            continue;
        }
        if let Err(err) = store.remember(&report.destination, &mode.key, channel, ts) {
            let text = format!("cannot remember thread `{}`: {err}", mode.key);
            report::warning(send.output, &text);
        }
    }
}

fn auto_route<'p>(profile: &'p Profile, vars: &Value) -> Result<&'p str, Failure> {
    for rule in &profile.rules {
        let matched = template::matches(&rule.when, vars).map_err(|e| {
            Failure::config(format!("rule `{}` failed: {e}", rule.when))
                .with_hint("fix the rule's `when` expression")
        })?;
        if matched {
            return Ok(&rule.route);
        }
    }
    profile.default_route.as_deref().ok_or_else(|| {
        Failure::config(format!(
            "no route for this message: no rule matched and {} has no [defaults] route",
            profile.path.display()
        ))
        .with_hint("pass --route NAME or --to DEST, or set `route` under [defaults]")
    })
}

/// Renders the message for one destination's markup.
fn compose(send: &Send, delivery: &Delivery, vars: &Value) -> Result<Message, Failure> {
    let input: &Input = &send.input;
    let platform = &delivery.destination.platform;
    let template = delivery.template.map(|name| &send.profile.templates[name]);
    let renderer = Renderer::new(platform.markup());
    let render_error = |part: &str, err: String| {
        let name = delivery.template.unwrap_or_default();
        Failure::config(format!(
            "template `{name}`: the {part} failed to render: {err}"
        ))
        .with_hint("fix the template in the profile, or check the variables it uses")
    };
    // User text is never interpreted as a template: `{{` in a log line stays as it is.
    let text = match template.and_then(|t| t.text.as_deref()) {
        Some(source) => renderer
            .text(source, vars)
            .map_err(|e| render_error("text", e))?,
        None => platform.escape(&input.text),
    };
    let title = match template.and_then(|t| t.title.as_deref()) {
        Some(source) => Some(
            renderer
                .title(source, vars)
                .map_err(|e| render_error("title", e))?,
        ),
        None => input.title.clone(),
    };
    let message = Message {
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
    };
    if message.is_empty() {
        return Err(
            Failure::usage("nothing to send: the message has no text and no title")
                .with_hint("give TEXT, pipe text on stdin, or set --title"),
        );
    }
    Ok(message)
}

fn deliver_all(
    send: &Send,
    rendered: Vec<(&Destination, Vec<Payload>)>,
) -> Result<Vec<Report>, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::from(e).caused_by("cannot start the async runtime"))?;
    let client = deliver::client();
    let sends = rendered
        .into_iter()
        .map(|(destination, payloads)| send_to(send, &client, destination, payloads));
    Ok(runtime.block_on(join_all(sends)))
}

/// One destination: its backlog first, then this message; whatever cannot go
/// now is kept in the spool (or reported as not kept, with `--no-spool`).
async fn send_to(
    send: &Send,
    client: &reqwest::Client,
    destination: &Destination,
    payloads: Vec<Payload>,
) -> Report {
    let name = destination.name.as_str();
    let timeout = send.timeout_for(destination);
    let job = Job {
        name,
        platform: destination.platform.as_ref(),
        payloads,
        timeout,
    };
    if send.queue {
        let report = Report::waiting(destination, job.payloads.len(), None);
        return keep(send, State::Pending, job, report, None);
    }
    // Held until this message is out, so no flush slips in between.
    let mut _lock = None;
    if !send.no_spool && send.spool.has_pending(name) {
        let ctx = Context {
            client,
            spool: &send.spool,
            policy: &send.profile.spool,
            timeout,
            verbose: send.output.verbose,
        };
        match backlog(&ctx, destination).await {
            Ok(lock) => _lock = Some(lock),
            Err(why) => {
                let why = format!("queued behind older messages: {why}");
                let report = Report::waiting(destination, job.payloads.len(), Some(why));
                return keep(send, State::Pending, job, report, None);
            }
        }
    }
    let payloads = job.payloads.clone();
    let report = deliver::deliver_one(client, job, send.output.verbose).await;
    let rest = Job {
        name,
        platform: destination.platform.as_ref(),
        payloads: payloads[report.parts_delivered..].to_vec(),
        timeout,
    };
    match report.status {
        Status::Delivered | Status::Queued => report,
        Status::Failed if send.no_spool => report,
        Status::Failed => {
            let retry_after = report.retry_after;
            keep(send, State::Pending, rest, report, retry_after)
        }
        Status::Rejected => keep(send, State::Dead, rest, report, None),
    }
}

/// Tries the destination's older messages first; gives back its lock when
/// they all went, or says why the new one must wait behind them.
async fn backlog(ctx: &Context<'_>, destination: &Destination) -> Result<DestinationLock, String> {
    let Some(lock) = ctx
        .spool
        .try_lock(&destination.name)
        .map_err(|e| e.to_string())?
    else {
        return Err("another chime is sending them".into());
    };
    let drained = flush::drain(ctx, destination, &lock, Due::Now, || {})
        .await
        .map_err(|e| e.to_string())?;
    for warning in &drained.warnings {
        eprintln!("chime: warning: {warning}");
    }
    match drained.remaining {
        0 => Ok(lock),
        n => Err(format!(
            "{n} still pending ({})",
            drained.blocked.unwrap_or_default()
        )),
    }
}

/// Writes what is left of `job` to the spool and says so in the report. A
/// spool that cannot be written is reported loudly: the message is not kept.
fn keep(
    send: &Send,
    state: State,
    job: Job<'_>,
    mut report: Report,
    retry_after: Option<Duration>,
) -> Report {
    let now = SystemTime::now();
    let next = match state {
        State::Pending if report.error.is_some() => {
            send.profile.spool.next_attempt(now, 1, retry_after)
        }
        _ => now,
    };
    let added = send.spool.add(
        state,
        job.name,
        job.payloads,
        report.parts,
        report.error.clone(),
        next,
    );
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
