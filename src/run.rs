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

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use crate::exit::{ExitCode, Failure};
use crate::message::Level;
use crate::send;
use crate::settings::Send as SendSettings;
use crate::spool::fs;

/// A line longer than this is kept cut, with an ellipsis: the tail stays small.
const MAX_TAIL_LINE: usize = 2048;
/// How long a command may take to stop after SIGTERM before it gets SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// When `chime run` sends a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum On {
    /// Non-zero exit, killed by a signal, timed out, or could not start.
    Failure,
    Success,
    Always,
    /// Only when the outcome differs from the previous run of the same --name.
    Change,
}

/// `chime run` as resolved from the command line.
pub struct Job {
    /// The send settings the report goes out with; its text and title are filled in here.
    pub send: SendSettings,
    pub command: Vec<String>,
    pub on: On,
    pub tail: usize,
    pub name: String,
    pub timeout: Option<Duration>,
    /// Where `--on change` keeps each job's last outcome.
    pub state: PathBuf,
}

/// How the command ended.
struct Outcome {
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    /// Why it could not start, with the shell's code for it.
    unstartable: Option<(String, u8)>,
    tail: String,
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

pub fn run(mut job: Job) -> Result<ExitCode, Failure> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let outcome = execute(&job);
    let took = clock.elapsed();
    let ok = outcome.ok();
    let report = match job.on {
        On::Failure => !ok,
        On::Success => ok,
        On::Always => true,
        On::Change => changed(&job, ok),
    };
    if report {
        fill(&mut job, &outcome, started, took);
        // Delivery trouble is reported on stderr and kept in the spool by send;
        // it never replaces the command's exit code.
        if let Err(failure) = send::run(job.send) {
            eprintln!("{failure}");
        }
    }
    Ok(ExitCode::Command(outcome.code()))
}

/// Puts the outcome into the send's input: title, level, fields, the tail as
/// a code block, and the template variables `name, cmd, exit_code, signal,
/// duration, started, tail, ok`.
fn fill(job: &mut Job, outcome: &Outcome, started: SystemTime, took: Duration) {
    let input = &mut job.send.input;
    let ok = outcome.ok();
    input.level = if ok { Level::Success } else { Level::Error };
    input.title = Some(format!("{} {}", job.name, outcome.describe(job.timeout)));
    input.text = if outcome.tail.is_empty() {
        "(no output)".to_owned()
    } else {
        outcome.tail.clone()
    };
    input.code = !outcome.tail.is_empty();
    let started_text = humantime::format_rfc3339_seconds(started).to_string();
    let duration = if took < Duration::from_secs(1) {
        format!("{} ms", took.as_millis())
    } else {
        humantime::format_duration(Duration::from_secs(took.as_secs())).to_string()
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

/// Whether `ok` differs from the last recorded outcome of this job (a job
/// seen for the first time counts as changed only when it fails), recording
/// the new one.
fn changed(job: &Job, ok: bool) -> bool {
    let dir = job.state.join("runs");
    let file = format!("{}.json", fs::encode_name(&job.name));
    let previous = std::fs::read(dir.join(&file))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["ok"].as_bool());
    let record = serde_json::to_vec(&json!({ "ok": ok })).expect("a bool serialises");
    if let Err(err) =
        fs::create_private_dir(&dir).and_then(|()| fs::write_atomic(&dir, &file, &record))
    {
        eprintln!(
            "chime: warning: cannot remember how `{}` ended: {err}",
            job.name
        );
    }
    previous.map_or(!ok, |was| was != ok)
}

/// Runs the command to completion, passing its output through and keeping the tail.
fn execute(job: &Job) -> Outcome {
    let tail = Arc::new(Mutex::new(Tail::new(job.tail)));
    let mut child = match Command::new(&job.command[0])
        .args(&job.command[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            let code = if err.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            let why = format!("`{}`: {err}", job.command[0]);
            eprintln!("chime: error: cannot run {why}");
            return Outcome {
                exit_code: None,
                signal: None,
                timed_out: false,
                unstartable: Some((why, code)),
                tail: String::new(),
            };
        }
    };
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
    let (status, timed_out) = wait(&mut child, job.timeout);
    // A grandchild may keep the pipes open after the command exits; give the
    // copies a moment to drain, then report without waiting for it.
    let deadline = Instant::now() + Duration::from_secs(1);
    for copier in copiers.into_iter().flatten() {
        while !copier.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let tail = tail.lock().map(|mut t| t.text()).unwrap_or_default();
    use std::os::unix::process::ExitStatusExt;
    Outcome {
        exit_code: status.as_ref().and_then(|s| s.code()),
        signal: status.as_ref().and_then(|s| s.signal()),
        timed_out,
        unstartable: None,
        tail,
    }
}

/// Waits for the child; past `limit`, SIGTERM, then SIGKILL after a grace period.
fn wait(child: &mut Child, limit: Option<Duration>) -> (Option<std::process::ExitStatus>, bool) {
    let Some(limit) = limit else {
        return (child.wait().ok(), false);
    };
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (Some(status), false),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => break,
            Err(_) => return (None, false),
        }
    }
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) with a pid we own and a valid signal number has no memory effects.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let grace = Instant::now() + GRACE;
    while Instant::now() < grace {
        if let Ok(Some(status)) = child.try_wait() {
            return (Some(status), true);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    (child.wait().ok(), true)
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
