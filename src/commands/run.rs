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
//! on SIGTERM, and `--timeout` stops the command itself, not its children.

use std::collections::VecDeque;
use std::io::{Read, Write};
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
use crate::settings::{Job, Output};

/// A line longer than this is kept cut, with an ellipsis: the tail stays small.
const MAX_TAIL_LINE: usize = 2048;
/// How long a command may take to stop after SIGTERM before it gets SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
/// What a terminal or a service manager sends to stop its foreground job.
const RELAYED: [libc::c_int; 4] = [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM];
/// How the command ended.
struct Outcome {
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    /// Why it could not start, with the shell's code for it.
    unstartable: Option<(String, u8)>,
    tail: String,
    started: SystemTime,
    took: Duration,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// The code chime exits with: the command's own, as a shell reports it.
    fn code(&self) -> u8 {
        match (&self.unstartable, self.exit_code, self.signal) {
            (Some((_, code)), _, _) => *code,
            (None, Some(code), _) => code.clamp(0, 255) as u8,
            (None, None, Some(signal)) => (128 + signal).clamp(0, 255) as u8,
            _ => 1,
        }
    }

    fn describe(&self, limit: Option<Duration>) -> String {
        if let Some((why, _)) = &self.unstartable {
            return format!("could not start: {why}");
        }
        if self.timed_out {
            let limit = limit
                .map(humantime::format_duration)
                .map(|d| d.to_string())
                .unwrap_or_default();
            return format!("timed out after {limit}");
        }
        match (self.exit_code, self.signal) {
            (Some(0), _) => "succeeded".to_owned(),
            (Some(code), _) => format!("failed (exit {code})"),
            (None, Some(signal)) => format!("was killed by signal {signal}"),
            _ => "ended".to_owned(),
        }
    }
}

pub fn run(job: Job) -> Result<ExitCode, Failure> {
    let outcome = execute(&job);
    match &job.report {
        Ok(_) => send_report(job, &outcome),
        Err(failure) => unreported(&job, failure, &outcome),
    }
    Ok(ExitCode::Command(outcome.code()))
}

/// Sends the report when `--on` wants it.
fn send_report(job: Job, outcome: &Outcome) {
    let Ok(mut reporting) = job.report else {
        return;
    };
    let ok = outcome.ok();
    let due = match job.on {
        On::Failure => !ok,
        On::Success => ok,
        On::Always => true,
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
    // Delivery trouble is reported on stderr and kept in the spool by send;
    // it never replaces the command's exit code.
    if let Err(failure) = send::run(reporting.send) {
        eprintln!("{failure}");
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
    let input = &mut send.input;
    let ok = outcome.ok();
    input.level = if ok { Level::Success } else { Level::Error };
    input.title = Some(format!("{} {}", job.name, outcome.describe(job.limit)));
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
        (None, Some(signal)) => input.fields.push(("signal".into(), signal.to_string())),
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
    let outcome = supervise(job, &relay.group);
    relay.stop();
    outcome
}

/// Starts the command (in a group of its own, unless at the terminal) and waits for it.
fn supervise(job: &Job, group: &Group) -> Outcome {
    let started = SystemTime::now();
    let clock = Instant::now();
    let tail = Arc::new(Mutex::new(Tail::new(job.tail)));
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
    let copiers = [
        copy(
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            Box::new(std::io::stdout()),
            Stream::Out,
            &tail,
        ),
        copy(
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            Box::new(std::io::stderr()),
            Stream::Err,
            &tail,
        ),
    ];
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
    let tail = tail.lock().map(|mut t| t.text()).unwrap_or_default();
    Outcome {
        exit_code: status.as_ref().and_then(|s| s.code()),
        signal: status.as_ref().and_then(|s| s.signal()),
        timed_out,
        unstartable: None,
        tail,
        started,
        took: clock.elapsed(),
    }
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
        unstartable: Some((why, code)),
        tail: String::new(),
        started,
        took: Duration::ZERO,
    }
}

/// Waits for the command; past `limit`, stops its whole group (see [`stop`]).
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

/// SIGTERM to the whole group; SIGKILL to what is left of it after [`GRACE`].
///
/// The group outlives its leader when a shell dies of the SIGTERM before the
/// children it waits for have finished cleaning up: they get the rest of the
/// grace period. Once reaped, the leader no longer holds the group's id, but
/// each live member does, so the id cannot name strangers until the group is
/// empty, which is when chime stops signalling it.
fn stop(child: &mut Child, group: &Group) -> Option<ExitStatus> {
    group.signal(libc::SIGTERM);
    // A stopped process would only take the SIGTERM when woken.
    group.signal(libc::SIGCONT);
    let grace = Instant::now() + GRACE;
    let Some(status) = wait_until(child, grace).ok().flatten() else {
        group.signal(libc::SIGKILL);
        return child.wait().ok();
    };
    // Alone in chime's group, the command took nothing with it to wait for,
    // and its pid, reaped, may already be someone else's.
    while group.owns_group() && group.signal(0) {
        if Instant::now() >= grace {
            group.signal(libc::SIGKILL);
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

/// The command's process group, as far as chime may signal it: from its
/// start until chime has done waiting for it. Before the start, a relayed
/// signal is kept, to be passed on as soon as there is a group.
#[derive(Clone, Default)]
struct Group(Arc<Mutex<Target>>);

#[derive(Default)]
enum Target {
    #[default]
    Starting,
    /// Not started yet, and this was relayed meanwhile.
    Missed(libc::c_int),
    /// The command's group of its own (its leader's pid).
    Group(libc::pid_t),
    /// The command alone, in chime's group at the terminal.
    Alone(libc::pid_t),
    /// Waited for: its id may belong to someone else some day.
    Done,
}

impl Group {
    fn started(&self, pid: libc::pid_t, own_group: bool) {
        let running = match own_group {
            true => Target::Group(pid),
            false => Target::Alone(pid),
        };
        let missed = match self.0.lock() {
            Ok(mut target) => std::mem::replace(&mut *target, running),
            Err(_) => return,
        };
        if let Target::Missed(signal) = missed {
            self.relay(signal);
        }
    }

    /// Sends `signal` to every process of the group; whether any was there.
    fn signal(&self, signal: libc::c_int) -> bool {
        match self.0.lock().as_deref() {
            Ok(Target::Group(pgid)) => kill(-pgid, signal),
            Ok(Target::Alone(pid)) => kill(*pid, signal),
            _ => false,
        }
    }

    /// Passes on a signal chime received, and SIGCONT after it, as a shell's
    /// `kill %1` does, so that a job stopped for reading the terminal ends too.
    fn relay(&self, signal: libc::c_int) {
        let Ok(mut target) = self.0.lock() else {
            return;
        };
        match *target {
            Target::Starting | Target::Missed(_) => *target = Target::Missed(signal),
            Target::Group(pgid) => {
                kill(-pgid, signal);
                kill(-pgid, libc::SIGCONT);
            }
            // The terminal's own signals reached the command with chime's.
            Target::Alone(pid) if signal == libc::SIGTERM => {
                kill(pid, signal);
            }
            Target::Alone(_) => {}
            Target::Done => {}
        }
    }

    fn owns_group(&self) -> bool {
        matches!(self.0.lock().as_deref(), Ok(Target::Group(_)))
    }

    fn done(&self) {
        if let Ok(mut target) = self.0.lock() {
            *target = Target::Done;
        }
    }
}

/// Whether chime runs by hand in the terminal's foreground, where the command
/// must stay in the foreground too, to read the terminal and hear Ctrl-C.
/// That is the controlling terminal, whatever stdin is: a job run with
/// `</dev/null` may still ask for a password on `/dev/tty`.
fn at_the_terminal() -> bool {
    use std::os::fd::AsRawFd;
    let Ok(tty) = std::fs::File::open("/dev/tty") else {
        return false;
    };
    // SAFETY: tcgetpgrp(3) and getpgrp(2) only read process state.
    unsafe { libc::tcgetpgrp(tty.as_raw_fd()) == libc::getpgrp() }
}

/// kill(2): whether `signal` reached any process.
fn kill(pid: libc::pid_t, signal: libc::c_int) -> bool {
    // SAFETY: kill(2) with a valid signal number has no memory effects.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Passes the signals meant for the job on to its process group while it runs.
///
/// A terminal sends Ctrl-C (SIGINT), Ctrl-\ (SIGQUIT) and its hangup (SIGHUP)
/// to its foreground process group only, and a service manager or `timeout`
/// stops chime with SIGTERM: the command, in a group of its own, would hear
/// none of them. A signal chime was started with ignored (`nohup`, `cmd &` in a script) is
/// left alone: the command inherits that, as it did before chime listened.
struct Relay {
    group: Group,
    listening: Vec<libc::c_int>,
}

impl Relay {
    fn start(output: Output) -> Relay {
        let group = Group::default();
        let wanted: Vec<libc::c_int> = RELAYED.into_iter().filter(|s| !ignored(*s)).collect();
        let listening = match listen(&wanted, &group) {
            Ok(()) => wanted,
            Err(err) => {
                report::warning(
                    output,
                    &format!("cannot pass signals on to the command: {err}"),
                );
                Vec::new()
            }
        };
        Relay { group, listening }
    }

    /// Stops relaying; the signals have their usual effect on chime again, so
    /// a Ctrl-C while the report goes out ends chime as it always did.
    fn stop(self) {
        self.group.done();
        for signal in self.listening {
            // SAFETY: restoring the default disposition of a valid signal number.
            unsafe {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
    }
}

/// Whether `signal` was ignored when chime started.
fn ignored(signal: libc::c_int) -> bool {
    // SAFETY: sigaction(2) only reads the current disposition into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Listens for `signals` on a thread of its own (the same tokio signal
/// handling `chime pipe` uses) and relays each to `group`.
fn listen(signals: &[libc::c_int], group: &Group) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for &number in signals {
        let mut stream = {
            let _inside = runtime.enter();
            signal(SignalKind::from_raw(number))?
        };
        let group = group.clone();
        runtime.spawn(async move {
            while stream.recv().await.is_some() {
                group.relay(number);
            }
        });
    }
    std::thread::spawn(move || runtime.block_on(std::future::pending::<()>()));
    Ok(())
}

/// Copies a child's stream to ours, feeding the tail, on a thread of its own.
fn copy(
    from: Option<Box<dyn Read + Send>>,
    mut to: Box<dyn Write + Send>,
    stream: Stream,
    tail: &Arc<Mutex<Tail>>,
) -> Option<std::thread::JoinHandle<()>> {
    let mut from = from?;
    let tail = Arc::clone(tail);
    Some(std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let mut passing = true;
        loop {
            let n = match from.read(&mut buf) {
                // Relayed signals restart reads (SA_RESTART), but should one
                // interrupt a read anyway, the copy must go on.
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // A closed stdout stops the copy, not the job.
            if passing && to.write_all(&buf[..n]).and_then(|()| to.flush()).is_err() {
                passing = false;
            }
            if let Ok(mut tail) = tail.lock() {
                tail.feed(stream, &buf[..n]);
            }
        }
    }))
}

/// Which of the command's streams a piece of output came from.
#[derive(Clone, Copy)]
enum Stream {
    Out = 0,
    Err = 1,
}

/// The last lines of output, bounded in count and in length.
///
/// stdout and stderr come through two pipes read by two threads, so when a
/// command writes to both faster than they are read, the order between them is
/// unknowable: a last "error: disk full" on stderr can be read before the
/// screenful of stdout printed ahead of it, and be pushed out of the tail by
/// it. Since stderr is where a failing job says why, its last lines are kept
/// apart (up to half the tail) and always shown; the rest of the tail is the
/// newest output of either stream. Each stream has its own unfinished line, so
/// the two never splice into one.
struct Tail {
    keep: usize,
    arrived: u64,
    lines: VecDeque<(u64, String)>,
    errors: VecDeque<(u64, String)>,
    partial: [Partial; 2],
}

/// A line still being read: its bytes so far, and whether some were cut.
#[derive(Default)]
struct Partial {
    bytes: Vec<u8>,
    cut: bool,
}

impl Tail {
    fn new(keep: usize) -> Tail {
        Tail {
            keep,
            arrived: 0,
            lines: VecDeque::with_capacity(keep + 1),
            errors: VecDeque::with_capacity(keep / 2 + 1),
            partial: Default::default(),
        }
    }

    fn feed(&mut self, stream: Stream, bytes: &[u8]) {
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let (body, ended) = match piece.strip_suffix(b"\n") {
                Some(body) => (body, true),
                None => (piece, false),
            };
            let partial = &mut self.partial[stream as usize];
            let room = MAX_TAIL_LINE.saturating_sub(partial.bytes.len());
            partial
                .bytes
                .extend_from_slice(&body[..body.len().min(room)]);
            partial.cut |= body.len() > room;
            if ended {
                self.end_line(stream);
            }
        }
    }

    fn end_line(&mut self, stream: Stream) {
        let partial = std::mem::take(&mut self.partial[stream as usize]);
        let mut line = String::from_utf8_lossy(&partial.bytes)
            .trim_end_matches('\r')
            .to_owned();
        if partial.cut {
            line.push('…');
        }
        self.arrived += 1;
        let entry = (self.arrived, line);
        if matches!(stream, Stream::Err) {
            push_bounded(&mut self.errors, entry.clone(), self.keep / 2);
        }
        push_bounded(&mut self.lines, entry, self.keep);
    }

    fn text(&mut self) -> String {
        for stream in [Stream::Out, Stream::Err] {
            if !self.partial[stream as usize].bytes.is_empty() {
                self.end_line(stream);
            }
        }
        let mut chosen: Vec<&(u64, String)> = self.errors.iter().collect();
        let room = self.keep.saturating_sub(chosen.len());
        let kept_errors: Vec<u64> = chosen.iter().map(|(at, _)| *at).collect();
        chosen.extend(
            self.lines
                .iter()
                .rev()
                .filter(|(at, _)| !kept_errors.contains(at))
                .take(room),
        );
        chosen.sort_by_key(|(at, _)| *at);
        chosen
            .iter()
            .map(|(_, line)| line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn push_bounded<T>(ring: &mut VecDeque<T>, item: T, keep: usize) {
    if keep == 0 {
        return;
    }
    if ring.len() == keep {
        ring.pop_front();
    }
    ring.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines_and_cuts_long_ones() {
        let mut tail = Tail::new(2);
        tail.feed(Stream::Out, b"one\ntwo\nthr");
        tail.feed(Stream::Out, b"ee\n");
        tail.feed(Stream::Out, &vec![b'x'; 5000]);
        let text = tail.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "three");
        assert_eq!(lines[1].chars().count(), MAX_TAIL_LINE + 1);
        assert!(lines[1].ends_with('…'));
    }

    #[test]
    fn stderr_read_before_a_flood_of_stdout_stays_in_the_tail() {
        let mut tail = Tail::new(4);
        tail.feed(Stream::Err, b"error: disk full\n");
        for i in 1..=10 {
            tail.feed(Stream::Out, format!("line {i}\n").as_bytes());
        }
        assert_eq!(tail.text(), "error: disk full\nline 8\nline 9\nline 10");
    }

    #[test]
    fn stderr_keeps_at_most_half_the_tail() {
        let mut tail = Tail::new(4);
        for i in 1..=5 {
            tail.feed(Stream::Err, format!("warn {i}\n").as_bytes());
        }
        tail.feed(Stream::Out, b"a\nb\nc\n");
        assert_eq!(tail.text(), "warn 4\nwarn 5\nb\nc");
    }

    #[test]
    fn unfinished_lines_of_the_two_streams_never_splice() {
        let mut tail = Tail::new(4);
        tail.feed(Stream::Out, b"progress ");
        tail.feed(Stream::Err, b"oops\n");
        tail.feed(Stream::Out, b"done\n");
        assert_eq!(tail.text(), "oops\nprogress done");
    }
}
