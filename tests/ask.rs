//! `chime ask`: a question with buttons, the wait for an authorised answer,
//! and the exit code that tells a script what it was. Slack's Socket Mode,
//! Telegram's updates and ntfy's reply topic are stood in for by the bed;
//! clicks are made as the platforms deliver them.

use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::bed::Bed;
use crate::support::{Run, Sandbox, drain, run};

/// Long enough for any wait a test sets, so a hang fails rather than blocks.
const LIMIT: Duration = Duration::from_secs(60);

/// A `chime ask` running in the background while the test clicks.
pub struct Waiting {
    child: Child,
    command: String,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Waiting {
    pub fn start(mut cmd: Command) -> Waiting {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let command = format!("{cmd:?}");
        let mut child = cmd.spawn().expect("chime runs");
        let stdout = Some(drain(child.stdout.take().unwrap()));
        let stderr = Some(drain(child.stderr.take().unwrap()));
        Waiting {
            child,
            command,
            stdout,
            stderr,
        }
    }

    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
    }

    /// Waits for the ask to end (killing it past [`LIMIT`]) and what it said.
    #[track_caller]
    pub fn finish(mut self) -> Run {
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let run = self.output(-1);
                panic!("chime ask still waiting after {LIMIT:?}\n{run}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.output(status.code().unwrap_or(-1))
    }

    fn output(&mut self, code: i32) -> Run {
        let stdout = self.stdout.take().unwrap().join().unwrap();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        Run::from_parts(self.command.clone(), code, stdout, stderr)
    }
}

/// Waits until `ready` says so, or fails the test with `what`.
#[track_caller]
pub fn eventually<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn hooked(bed: &Bed) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r##"
[destinations.ops-hook]
kind = "slack"
url = "{hook}"

[destinations.bot]
kind = "slack-api"
token = "xoxb-000-ask-test-notreal"
channel = "#deploys"
api_url = "{api}"

[routes.ops]
to = ["ops-hook"]
"##,
        hook = bed.webhook("ops"),
        api = bed.api_url(),
    ));
    sandbox
}

#[test]
fn a_question_to_a_webhook_is_a_profile_error_that_says_what_asking_needs() {
    let bed = Bed::start();
    let sandbox = hooked(&bed);
    run(sandbox.chime(&["ask", "-r", "ops", "Deploy?"]))
        .code(78)
        .stderr_has("cannot hear a click")
        .stderr_has("slack-api with an app_token");
    assert_eq!(bed.arrivals(), 0, "nothing is posted");
}

#[test]
fn a_slack_api_destination_without_an_app_token_cannot_ask_and_says_how_to_get_one() {
    let bed = Bed::start();
    let sandbox = hooked(&bed);
    run(sandbox.chime(&["ask", "--to", "bot", "Deploy?"]))
        .code(78)
        .stderr_has("set `app_token`")
        .stderr_has("Socket Mode");
    assert_eq!(bed.arrivals(), 0);
}

#[test]
fn options_are_checked_before_anything_is_asked() {
    let bed = Bed::start();
    let sandbox = hooked(&bed);
    let six: Vec<String> = (1..=6).map(|i| format!("--option=o{i}")).collect();
    let mut args = vec!["ask", "--to", "bot"];
    args.extend(six.iter().map(String::as_str));
    args.push("Which?");
    run(sandbox.chime(&args)).code(2).stderr_has("at most 5");
    run(sandbox.chime(&[
        "ask", "--to", "bot", "--option", "A", "--option", "A", "Which?",
    ]))
    .code(2)
    .stderr_has("given twice");
    run(sandbox.chime(&["ask", "--to", "bot", "--timeout", "0s", "Which?"])).code(2);
    assert_eq!(bed.arrivals(), 0);
}
