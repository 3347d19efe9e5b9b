//! `chime ask`: the question composed as a send would compose it, posted
//! with buttons to the one destination that can ask, the wait for an answer
//! (or the timeout, or a signal), the question closed, and the answer told
//! to the script: its label on stdout, its meaning in the exit code.

use serde_json::json;

use super::send::{Composed, composed};
use crate::ask::{Asker, Context, Ending, Posted, Question};
use crate::deliver::{self, Clients, Job, Status};
use crate::exit::{ExitCode, Failure};
use crate::kinds::{Asking, Payload, ThreadRef};
use crate::report;
use crate::settings::Ask;
use crate::state::{Asks, Threads};

pub fn run(ask: Ask) -> Result<ExitCode, Failure> {
    let destinations = composed(&ask.send)?;
    let (chosen, asking) = one_that_asks(destinations)?;
    let mut approvers: Vec<String> = Vec::new();
    let named = chosen.destination.approvers.iter();
    for name in named.chain(chosen.route_approvers).chain(&ask.approvers) {
        if !approvers.contains(name) {
            approvers.push(name.clone());
        }
    }
    let question = Question {
        nonce: crate::ask::nonce()?,
        options: Question::choices(&ask.options),
        approvers,
        wait: ask.wait,
    };
    let payload = one_part(&chosen)?;
    deliver::runtime()?.block_on(asking_on(&ask, &chosen, asking, &question, payload))
}

/// The destination the question goes to: the one of the route that can
/// ask. A question goes to one place, so that one answer settles it.
fn one_that_asks(destinations: Vec<Composed<'_>>) -> Result<(Composed<'_>, Asking), Failure> {
    let mut able = Vec::new();
    let mut unable = Vec::new();
    for composed in destinations {
        match composed.destination.platform.asking() {
            Ok(asking) => able.push((composed, asking)),
            Err(why) => unable.push(format!("`{}`: {why}", composed.destination.name)),
        }
    }
    if able.len() > 1 {
        let names: Vec<String> = able
            .iter()
            .map(|(c, _)| format!("`{}`", c.destination.name))
            .collect();
        return Err(Failure::usage(format!(
            "a question goes to one place, and this one would go to {}",
            names.join(", ")
        ))
        .with_hint("pick one with --to DEST, or a route with one destination that can ask"));
    }
    able.pop().ok_or_else(|| {
        Failure::config(format!(
            "no destination here can ask: {}",
            unable.join("; ")
        ))
    })
}

/// The question as the destination renders it: one message, since its
/// buttons and its edit are one message's.
fn one_part(chosen: &Composed<'_>) -> Result<Payload, Failure> {
    let mut parts = chosen
        .destination
        .platform
        .render(&chosen.message, &chosen.target);
    if parts.len() != 1 {
        return Err(Failure::new(
            ExitCode::Rejected,
            format!("the question is too long for one message of `{}`", chosen.destination.name),
        )
        .with_hint("shorten it: put the details behind a --link, or send them first with `chime send --thread KEY`"));
    }
    let mut part = parts.remove(0);
    part.thread = chosen.thread.clone().map(|thread| ThreadRef {
        edit: false,
        ..thread
    });
    Ok(part)
}

async fn asking_on(
    ask: &Ask,
    chosen: &Composed<'_>,
    asking: Asking,
    question: &Question,
    payload: Payload,
) -> Result<ExitCode, Failure> {
    let send = &ask.send;
    let destination = chosen.destination;
    let clients = Clients::new();
    let ctx = Context {
        clients: &clients,
        destination,
        timeout: send.timeout_for(destination),
        output: send.output,
    };
    let mut stop = Stop::listen()?;
    let asks = Asks::beside(&send.spool, &destination.identity());
    let mut asker = tokio::select! {
        asker = Asker::prepare(&ctx, asking, asks, question) => asker?,
        signal = stop.signal() => return Ok(Ending::Stopped(signal).exit_code()),
    };
    let asked = asker.question(&payload, question)?;
    let posted = post(&ctx, send, &asked).await?;
    if let Err(failure) = asker.asked(question) {
        close(
            &mut asker,
            &ctx,
            question,
            &posted,
            &asked,
            &Ending::Abandoned,
        )
        .await;
        return Err(failure);
    }
    let (ending, failure) = outcome(&mut asker, &ctx, question, &posted, &mut stop).await;
    close(&mut asker, &ctx, question, &posted, &asked, &ending).await;
    if let Some(failure) = failure {
        return Err(failure);
    }
    tell(ask, destination, &posted, &ending)?;
    Ok(ending.exit_code())
}

/// How the wait ends: an answer, the timeout, a signal, or a failure to go
/// on waiting. An answer recorded at the last moment still counts.
async fn outcome(
    asker: &mut Asker,
    ctx: &Context<'_>,
    question: &Question,
    posted: &Posted,
    stop: &mut Stop,
) -> (Ending, Option<Failure>) {
    let ending = tokio::select! {
        answer = asker.wait(ctx, question, posted) => match answer {
            Ok(answer) => Ending::Answered(answer),
            Err(failure) => return (Ending::Abandoned, Some(failure)),
        },
        _ = tokio::time::sleep(question.wait) => Ending::TimedOut(question.wait),
        signal = stop.signal() => Ending::Stopped(signal),
    };
    match ending {
        Ending::TimedOut(_) | Ending::Stopped(_) => {
            match asker.last_look(ctx, question, posted).await {
                Some(answer) => (Ending::Answered(answer), None),
                None => (ending, None),
            }
        }
        _ => (ending, None),
    }
}

/// Leaves the question saying how it ended, within the destination's
/// time: a stopped CI job is killed soon after its SIGTERM, and a
/// throttled platform must not hold the exit.
async fn close(
    asker: &mut Asker,
    ctx: &Context<'_>,
    question: &Question,
    posted: &Posted,
    asked: &Payload,
    ending: &Ending,
) {
    let closing = asker.close(ctx, question, posted, asked, ending);
    let closed = tokio::time::timeout(ctx.timeout, closing)
        .await
        .unwrap_or_else(|_| Err("it took longer than the destination's timeout".into()));
    if let Err(why) = closed {
        report::warning(
            ctx.output,
            &format!("the question could not be closed: {why}"),
        );
    }
}

/// Posts the question, into its thread if it has one; a question is not
/// queued, so one that does not go now is a failure.
async fn post(
    ctx: &Context<'_>,
    send: &crate::settings::Send,
    asked: &Payload,
) -> Result<Posted, Failure> {
    let threads = Threads::beside(&send.spool, &send.profile).searching(send.ci.is_some());
    let job = Job {
        threads: Some(&threads),
        ..Job::alone(ctx.destination, vec![asked.clone()], ctx.timeout)
    };
    let report = deliver::deliver_one(ctx.clients, job, ctx.output.verbose).await;
    if report.status != Status::Delivered {
        return Err(crate::ask::not_posted(&report));
    }
    Ok(Posted {
        channel: report.channel.unwrap_or_default(),
        ts: report.ts.unwrap_or_default(),
    })
}

/// The answer on stdout (its label, or `--json`), and a word on stderr
/// when there was none.
fn tell(
    ask: &Ask,
    destination: &crate::config::Destination,
    posted: &Posted,
    ending: &Ending,
) -> Result<(), Failure> {
    let output = ask.send.output;
    if ask.send.json {
        let mut shown = json!({
            "destination": destination.name,
            "channel": posted.channel,
            "ts": posted.ts,
        });
        match ending {
            Ending::Answered(answer) => {
                shown["status"] = "answered".into();
                shown["option"] = answer.label.clone().into();
                shown["index"] = answer.index.into();
                shown["by"] = serde_json::to_value(&answer.by).unwrap_or_default();
                shown["at"] = crate::clock::stamp(answer.at).into();
            }
            Ending::TimedOut(_) => shown["status"] = "timeout".into(),
            Ending::Stopped(signal) => {
                shown["status"] = "cancelled".into();
                shown["signal"] = (*signal).into();
            }
            Ending::Abandoned => shown["status"] = "abandoned".into(),
        }
        return report::line(&shown.to_string());
    }
    match ending {
        Ending::Answered(answer) => {
            report::verbose(output, &ending.line());
            report::line(&answer.label)
        }
        _ => {
            report::fate(output, &ending.line());
            Ok(())
        }
    }
}

/// The signals that stop a wait: a script's `timeout` or a cancelled CI
/// job (SIGTERM), Ctrl-C (SIGINT), a closed terminal (SIGHUP).
struct Stop {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Stop {
    fn listen() -> Result<Stop, Failure> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| {
            signal(kind).map_err(|e| Failure::from(e).caused_by("cannot listen for signals"))
        };
        Ok(Stop {
            term: listen(SignalKind::terminate())?,
            int: listen(SignalKind::interrupt())?,
            hup: listen(SignalKind::hangup())?,
        })
    }

    async fn signal(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}
