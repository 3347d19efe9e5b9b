//! `chime run`: run a command as cron would, and report how it went.
//!
//! The command's stdout and stderr pass through untouched (its own logs and
//! cron mail keep working) while the last lines of the combined output are
//! kept in a bounded ring, whatever the output size; stderr's last lines are
//! always among them (see [`Tail`]). Afterwards a message is sent when `--on`
//! says so, through `chime send`'s pipeline (templates, rules, the outbox and
//! its spool). chime exits with the command's own code (128+N
//! for signal N, 126/127 when it cannot start, as a shell would), never with
//! its own delivery trouble, which goes to stderr and the spool instead.
//!
//! The command always runs. A missing or broken profile, or a route,
//! destination or template it lacks, must not stop the nightly backup, so
//! `settings::job` resolves where the report goes to a `Result` and the
//! command runs either way. Such a report cannot be sent, and it is not
//! spooled either: a spool entry belongs to a destination, and there is none
//! to name. So the configuration error (with its hint) goes to stderr after
//! the command's own output, followed by the outcome that went unreported,
//! and the `--on change` record is left as it was, so that the first run after
//! the profile is fixed compares with the last outcome that was reported on.
//!
//! The command runs in a process group of its own, so that `--timeout` stops
//! all of it (SIGTERM, then SIGKILL after [`GRACE`], to the whole group) and
//! not only the shell that started it. Out of chime's group it no longer hears
//! the terminal, which signals only its foreground group (chime's): while the
//! command runs, chime relays SIGINT, SIGTERM, SIGHUP and SIGQUIT to its group
//! (see [`Relay`]), so Ctrl-C stops the job, and a stopped job too, since each
//! relayed signal is followed by SIGCONT.
//!
//! Run by hand at a terminal, in the foreground, the command stays in chime's
//! process group instead: it can read the terminal (a `sudo` prompt) and gets
//! Ctrl-C from it directly, as it would without chime; chime then only passes
//! on SIGTERM. No group id names the job there, so `--timeout` stops the
//! command and the descendants it finds under it in `/proc` (see [`Tree`]),
//! with the same SIGTERM, SIGCONT and, after [`GRACE`], SIGKILL.
//!
//! A SIGINT to chime is a Ctrl-C, the user's doing: the job is reported as
//! interrupted (a warning), and `--on change` leaves its record alone, so that
//! the next run is neither a failure's repeat nor a recovery.

mod capture;
mod group;
mod outcome;
mod ping;
mod tail;
mod tree;

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use crate::cli::On;
use crate::commands::send;
use crate::exit::{ExitCode, Failure};
use crate::message::Level;
use crate::report;
use crate::settings::Job;

use group::{Group, Relay, at_the_terminal};
use outcome::{Outcome, signal_name, title};
use tail::{Stream, Tail, copy};
use tree::Tree;

/// A line longer than this is kept cut, with an ellipsis: the tail stays small.
const MAX_TAIL_LINE: usize = 2048;
/// How long a command may take to stop after SIGTERM before it gets SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
/// What a terminal or a service manager sends to stop its foreground job.
const RELAYED: [libc::c_int; 4] = [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM];
pub fn run(mut job: Job) -> Result<ExitCode, Failure> {
    let heartbeat = ping::Heartbeat::of(&mut job);
    if let Some(heartbeat) = &heartbeat {
        heartbeat.started(&job);
    }
    let mut outcome = execute(&job);
    let capture = outcome.capture.take();
    let code = outcome.code();
    if let Some(heartbeat) = &heartbeat {
        let headline = title(&job.name, &outcome.describe(job.timeout));
        heartbeat.ended(
            &job,
            (outcome.exit_code, outcome.ok()),
            &headline,
            &outcome.tail,
        );
    }
    match &job.report {
        Ok(_) => send_report(job, &outcome, capture),
        Err(_) if job.ping_only => {}
        Err(failure) => unreported(&job, failure, &outcome),
    }
    Ok(ExitCode::Command(code))
}

/// Sends the report when `--on` wants it, with the output's file if captured.
fn send_report(job: Job, outcome: &Outcome, capture: Option<capture::Capture>) {
    let Ok(mut reporting) = job.report else {
        return;
    };
    let ok = outcome.ok();
    let due = match job.on {
        On::Failure => !ok,
        On::Success => ok,
        On::Always => true,
        // An interrupt is neither a failure nor a recovery: the record keeps
        // the last real outcome, for the next run to compare with.
        On::Change if outcome.interrupted => {
            eprintln!(
                "chime: {} was interrupted; not reported (--on change keeps the last outcome)",
                job.name
            );
            false
        }
        // A dry run keeps nothing: as when the record cannot be read, the
        // report counts as wanted.
        On::Change if reporting.send.dry_run => true,
        On::Change => reporting.runs.changed(&job.name, ok),
    };
    if !due {
        return;
    }
    let what = What {
        name: &job.name,
        command: &job.command,
        limit: job.timeout,
    };
    fill(&mut reporting.send, &what, outcome);
    let output =
        capture.and_then(|capture| attached(capture, &reporting.send, job.name.as_str(), outcome));
    if let Some(file) = &output {
        reporting.send.input.files.push(file.clone());
    }
    // Delivery trouble is reported on stderr and kept in the spool by send;
    // it never replaces the command's exit code.
    if let Err(failure) = send::run(reporting.send) {
        eprintln!("{failure}");
    }
    // The report's own copy is in the spool by now.
    if let Some(file) = output {
        let _ = std::fs::remove_file(file.path);
    }
}

/// The captured output as the report's file `NAME-START.log`; `None`, said
/// why, when it could not be kept.
fn attached(
    capture: capture::Capture,
    send: &crate::settings::Send,
    name: &str,
    outcome: &Outcome,
) -> Option<crate::kinds::FileRef> {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    let start = humantime::format_rfc3339_seconds(outcome.started)
        .to_string()
        .replace(':', "");
    match capture.finish(&send.spool, format!("{safe}-{start}.log")) {
        Ok(file) => Some(file),
        Err(why) => {
            let text =
                format!("the job's output could not be kept ({why}): the report goes without it");
            report::warning(send.output, &text);
            None
        }
    }
}

/// Tells why there is no report, and what it would have said.
fn unreported(job: &Job, failure: &Failure, outcome: &Outcome) {
    report::failure(job.output, failure);
    // Whether `--on change` saw a change is unknown without touching the
    // record, so it counts as wanted.
    let wanted = match job.on {
        On::Failure => !outcome.ok(),
        On::Success => outcome.ok(),
        On::Always | On::Change => true,
    };
    if wanted {
        eprintln!(
            "chime: not reported, nor spooled: {} {}",
            job.name,
            outcome.describe(job.timeout)
        );
    }
}

/// The job as its report names it.
struct What<'a> {
    name: &'a str,
    command: &'a [String],
    limit: Option<Duration>,
}

/// Puts the outcome into the send's input: title, level, fields, the tail as
/// a code block, and the template variables `name, cmd, exit_code, signal,
/// duration, started, tail, ok`.
fn fill(send: &mut crate::settings::Send, job: &What, outcome: &Outcome) {
    let ok = outcome.ok();
    send.alert.action = crate::kinds::AlertAction::after_run(ok);
    let input = &mut send.input;
    input.level = match (ok, outcome.interrupted) {
        (_, true) => Level::Warning,
        (true, false) => Level::Success,
        (false, false) => Level::Error,
    };
    input.title = Some(title(job.name, &outcome.describe(job.limit)));
    input.text = if outcome.tail.is_empty() {
        "(no output)".to_owned()
    } else {
        outcome.tail.clone()
    };
    input.code = !outcome.tail.is_empty();
    let started_text = humantime::format_rfc3339_seconds(outcome.started).to_string();
    let duration = if outcome.took < Duration::from_secs(1) {
        format!("{} ms", outcome.took.as_millis())
    } else {
        humantime::format_duration(Duration::from_secs(outcome.took.as_secs())).to_string()
    };
    match (outcome.exit_code, outcome.signal) {
        (Some(code), _) => input.fields.push(("exit code".into(), code.to_string())),
        (None, Some(signal)) => input.fields.push(("signal".into(), signal_name(signal))),
        _ => {}
    }
    input.fields.push(("duration".into(), duration.clone()));
    input.fields.push(("started".into(), started_text.clone()));
    let vars = json!({
        "name": job.name,
        "cmd": job.command.join(" "),
        "exit_code": outcome.exit_code,
        "signal": outcome.signal,
        "duration": duration,
        "started": started_text,
        "tail": outcome.tail,
        "ok": ok,
    });
    if let serde_json::Value::Object(map) = vars {
        input.json.extend(map);
    }
}

/// Runs the command to completion, passing its output through and keeping the tail.
fn execute(job: &Job) -> Outcome {
    // Listening before the command starts leaves no moment in which a Ctrl-C
    // would end chime and leave the command running unseen.
    let relay = Relay::start(job.output);
    let mut outcome = supervise(job, &relay.group);
    outcome.interrupted = relay.group.interrupted();
    relay.stop();
    outcome
}

/// Starts the command (in a group of its own, unless at the terminal) and waits for it.
fn supervise(job: &Job, group: &Group) -> Outcome {
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut kept = Tail::new(job.tail);
    kept.capture = start_capture(job);
    let tail = Arc::new(Mutex::new(kept));
    let mut command = Command::new(&job.command[0]);
    command
        .args(&job.command[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let own_group = !at_the_terminal();
    if own_group {
        command.process_group(0);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => return unstartable(job, &err, started),
    };
    group.started(child.id() as libc::pid_t, own_group);
    let copiers = copiers(&mut child, &tail);
    let (status, timed_out) = wait(&mut child, group, job.timeout);
    group.done();
    // A grandchild may keep the pipes open after the command exits; give the
    // copies a moment to drain, then report without waiting for it.
    let deadline = Instant::now() + Duration::from_secs(1);
    for copier in copiers.into_iter().flatten() {
        while !copier.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Outcome {
        exit_code: status.as_ref().and_then(|s| s.code()),
        signal: status.as_ref().and_then(|s| s.signal()),
        timed_out,
        interrupted: false,
        unstartable: None,
        tail: tail.lock().map(|mut t| t.text()).unwrap_or_default(),
        capture: tail.lock().ok().and_then(|mut t| t.capture.take()),
        started,
        took: clock.elapsed(),
    }
}

/// The files `--attach-output` keeps the output in, in the report's spool.
fn start_capture(job: &Job) -> Option<capture::Capture> {
    let (max, reporting) = (job.attach?, job.report.as_ref().ok()?);
    match capture::Capture::start(&reporting.send.spool, max) {
        Ok(capture) => Some(capture),
        Err(why) => {
            let text = format!("cannot keep the job's output ({why}): the report goes without it");
            report::warning(job.output, &text);
            None
        }
    }
}

/// The threads passing the command's stdout and stderr through to ours,
/// feeding the tail (and the capture).
fn copiers(child: &mut Child, tail: &Arc<Mutex<Tail>>) -> [Option<std::thread::JoinHandle<()>>; 2] {
    let boxed = |s: Box<dyn Read + Send>| s;
    [
        copy(
            child.stdout.take().map(|s| boxed(Box::new(s))),
            Box::new(std::io::stdout()),
            Stream::Out,
            tail,
        ),
        copy(
            child.stderr.take().map(|s| boxed(Box::new(s))),
            Box::new(std::io::stderr()),
            Stream::Err,
            tail,
        ),
    ]
}

/// The outcome of a command that could not be started, as a shell reports it.
fn unstartable(job: &Job, err: &std::io::Error, started: SystemTime) -> Outcome {
    let code = if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    let why = format!("`{}`: {err}", job.command[0]);
    eprintln!("chime: error: cannot run {why}");
    Outcome {
        exit_code: None,
        signal: None,
        timed_out: false,
        interrupted: false,
        unstartable: Some((why, code)),
        tail: String::new(),
        capture: None,
        started,
        took: Duration::ZERO,
    }
}

/// Waits for the command; past `limit`, stops it and all it started (see [`stop`]).
fn wait(child: &mut Child, group: &Group, limit: Option<Duration>) -> (Option<ExitStatus>, bool) {
    let Some(limit) = limit else {
        return (child.wait().ok(), false);
    };
    match wait_until(child, Instant::now() + limit) {
        Ok(Some(status)) => (Some(status), false),
        Ok(None) => (stop(child, group), true),
        Err(_) => (None, false),
    }
}

/// SIGTERM to the whole job; SIGKILL to what is left of it after [`GRACE`].
///
/// The job is the command's group or, at the terminal, where it shares
/// chime's, the command and the [`Tree`] of what it started, found while the
/// command is not yet reaped and found again before SIGKILL, for what it
/// started meanwhile.
///
/// The job outlives the command when a shell dies of the SIGTERM before the
/// children it waits for have finished cleaning up: they get the rest of the
/// grace period. Once reaped, the command no longer holds its pid, but each
/// live member of its group holds the group's id, and each member of the tree
/// is held by a pidfd, so neither can name strangers.
fn stop(child: &mut Child, group: &Group) -> Option<ExitStatus> {
    let command = child.id() as libc::pid_t;
    let mut tree = Tree::default();
    if !group.owns_group() {
        tree.grow(command);
    }
    // A stopped process would only take the SIGTERM when woken.
    for signal in [libc::SIGTERM, libc::SIGCONT] {
        group.signal(signal);
        tree.signal(signal);
    }
    let grace = Instant::now() + GRACE;
    let Some(status) = wait_until(child, grace).ok().flatten() else {
        if !group.owns_group() {
            tree.grow(command);
        }
        group.signal(libc::SIGKILL);
        tree.signal(libc::SIGKILL);
        return child.wait().ok();
    };
    // The command's pid, reaped, may already be someone else's: only the
    // group's id and the tree's pidfds still name the job.
    let group_left = || group.owns_group() && group.signal(0);
    while group_left() || tree.signal(0) {
        if Instant::now() >= grace {
            if group.owns_group() {
                group.signal(libc::SIGKILL);
            }
            tree.signal(libc::SIGKILL);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(status)
}

/// The child's status once it ends, or `None` if it still runs at `deadline`.
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    loop {
        match child.try_wait()? {
            Some(status) => return Ok(Some(status)),
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            None => return Ok(None),
        }
    }
}
