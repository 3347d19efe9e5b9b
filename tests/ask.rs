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

/// `chime ask --to DEST ARGS…`, started.
fn ask_to(sandbox: &Sandbox, dest: &str, args: &[&str]) -> Waiting {
    let mut all = vec!["ask", "--to", dest];
    all.extend_from_slice(args);
    Waiting::start(sandbox.chime(&all))
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
fn a_question_to_a_kind_with_an_api_that_hears_nothing_back_names_that_api_not_a_webhook() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[destinations.pager]
kind = "pushover"
token = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
user = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
api_url = "{url}/pushover"

[destinations.phone]
kind = "gotify"
url = "{url}/gotify"
token = "AbCdEfGhIjKlMnO"

[destinations.oncall]
kind = "pagerduty"
routing_key = "R0fakeEventsV2IntegrationKey0001"
api_url = "{url}/pagerduty"

[destinations.alerts]
kind = "opsgenie"
api_key = "eb243592-faa2-4ba2-a551-00000000fake"
api_url = "{url}/opsgenie"

[destinations.check]
kind = "healthchecks"
url = "{url}/hc/5f0ee3a4-8f1c-4a3b-9c1e-000000000fake"

[destinations.mail]
kind = "email"
host = "127.0.0.1"
tls = "none"
from = "chime@example.com"
to = ["ops@example.com"]

[destinations.room]
kind = "matrix"
homeserver = "{url}/matrix"
access_token = "syt_fake_token"
room = "!ops:example.org"
"#,
        url = bed.url()
    ));
    let kinds = [
        ("pager", "Pushover's Message API"),
        ("phone", "Gotify's message API"),
        ("oncall", "PagerDuty's Events API"),
        ("alerts", "Opsgenie's Alert API"),
        ("check", "a ping URL"),
        ("mail", "SMTP"),
        ("room", "the client-server API"),
    ];
    for (dest, api) in kinds {
        let said = run(sandbox.chime(&["ask", "--to", dest, "Deploy?"]))
            .code(78)
            .stderr_has(api)
            .stderr_has("cannot hear a click")
            .stderr_has("slack-api with an app_token");
        assert!(!said.stderr.contains("webhook"), "{said}");
    }
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

mod slack {
    use serde_json::Value;

    use super::*;
    use crate::support::bed::{Fault, Via};

    const TOKEN: &str = "xoxb-000-ask-test-notreal";
    const APP_TOKEN: &str = "xapp-1-A0TESTAPP-000-ask-notreal";
    const ALICE: &str = "U0ALICE01";
    const BOB: &str = "U0BOBBY01";

    /// A bed that answers as Slack does for an app with Socket Mode on,
    /// and a profile whose `bot` asks in #deploys; `extra` adds to it.
    fn setup(extra: &str) -> (Bed, Sandbox) {
        let bed = Bed::start();
        bed.add_token(TOKEN);
        bed.add_app_token(APP_TOKEN);
        bed.add_channel("#deploys", true);
        bed.no_rate_limit();
        bed.add_user(ALICE, "alice", "Alice Liddell");
        bed.add_user(BOB, "bob", "Bob Dylan");
        let sandbox = Sandbox::new();
        sandbox.profile(&format!(
            r##"
[destinations.bot]
kind = "slack-api"
token = "{TOKEN}"
app_token = "{APP_TOKEN}"
channel = "#deploys"
api_url = "{api}"
timeout = "5s"
{extra}
"##,
            api = bed.api_url(),
        ));
        (bed, sandbox)
    }

    fn ask(sandbox: &Sandbox, args: &[&str]) -> Waiting {
        ask_to(sandbox, "bot", args)
    }

    /// The `n`th question posted (from 1), once it is: its channel and ts.
    fn question(bed: &Bed, n: usize) -> (String, String) {
        eventually(&format!("question {n} is posted"), || {
            bed.questions().get(n - 1).cloned()
        })
    }

    fn buttons(message: &Value) -> usize {
        let blocks = message["blocks"].as_array().cloned().unwrap_or_default();
        let actions = blocks.iter().filter(|b| b["type"] == "actions");
        actions
            .map(|b| b["elements"].as_array().map_or(0, Vec::len))
            .sum()
    }

    /// The message's text and blocks as one string, to look for a decision in.
    fn shown(message: &Value) -> String {
        format!("{} {}", message["text"], message["blocks"])
    }

    #[test]
    fn approve_exits_0_with_the_label_on_stdout_and_the_question_shows_who_decided() {
        let (bed, sandbox) = setup("");
        let waiting = ask(
            &sandbox,
            &[
                "-t",
                "Deploy 1.4 to prod?",
                "-f",
                "commit=abc123",
                "the release",
            ],
        );
        let (channel, ts) = question(&bed, 1);
        let asked = bed.message(&channel, &ts).unwrap();
        assert_eq!(buttons(&asked), 2, "Approve and Reject: {asked}");
        assert!(
            shown(&asked).contains("abc123"),
            "the question is a chime message: {asked}"
        );
        let envelope = bed.click(&channel, &ts, "Approve", ALICE, Via::Any);
        let run = waiting.finish().code(0);
        assert_eq!(run.stdout.trim(), "Approve");
        assert!(bed.acked(&envelope));
        let decided = bed.message(&channel, &ts).unwrap();
        assert_eq!(buttons(&decided), 0, "the buttons are gone: {decided}");
        assert!(shown(&decided).contains("Approve"), "{decided}");
        assert!(shown(&decided).contains("alice"), "by whom: {decided}");
        assert!(
            shown(&decided).contains("abc123"),
            "the question is still there: {decided}"
        );
        assert_eq!(decided["metadata"]["event_type"], "chime_ask_answered");
        assert!(bed.late_acks().is_empty(), "{:?}", bed.late_acks());
    }

    #[test]
    fn reject_exits_1_and_json_says_who_chose_what_where() {
        let (bed, sandbox) = setup("");
        let waiting = ask(&sandbox, &["--json", "Deploy?"]);
        let (channel, ts) = question(&bed, 1);
        bed.click(&channel, &ts, "Reject", BOB, Via::Any);
        let run = waiting.finish().code(1);
        let shown: Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert_eq!(shown["status"], "answered");
        assert_eq!(shown["option"], "Reject");
        assert_eq!(shown["index"], 1);
        assert_eq!(shown["by"]["id"], BOB);
        assert_eq!(shown["by"]["name"], "bob");
        assert_eq!(shown["channel"], channel.as_str());
        assert_eq!(shown["ts"], ts.as_str());
        assert!(
            shown["at"].as_str().is_some_and(|at| at.contains('T')),
            "{shown}"
        );
    }

    #[test]
    fn no_answer_in_time_exits_124_and_the_question_says_so_without_buttons() {
        let (bed, sandbox) = setup("");
        let run = ask(&sandbox, &["--timeout", "2s", "Deploy?"])
            .finish()
            .code(124);
        assert!(run.stdout.is_empty(), "{run}");
        let (channel, ts) = question(&bed, 1);
        let closed = bed.message(&channel, &ts).unwrap();
        assert_eq!(buttons(&closed), 0, "{closed}");
        assert!(shown(&closed).contains("No answer after 2 s"), "{closed}");
    }

    #[test]
    fn sigterm_exits_143_and_the_question_says_it_was_cancelled() {
        let (bed, sandbox) = setup("");
        let waiting = ask(&sandbox, &["Deploy?"]);
        let (channel, ts) = question(&bed, 1);
        waiting.signal(libc::SIGTERM);
        waiting.finish().code(143);
        let closed = bed.message(&channel, &ts).unwrap();
        assert_eq!(buttons(&closed), 0, "{closed}");
        assert!(shown(&closed).contains("Cancelled"), "{closed}");
    }

    #[test]
    fn a_click_by_someone_not_an_approver_is_refused_to_them_and_the_approvers_counts() {
        let (bed, sandbox) = setup("");
        let waiting = ask(&sandbox, &["--approver", "@bob", "Deploy?"]);
        let (channel, ts) = question(&bed, 1);
        let envelope = bed.click(&channel, &ts, "Approve", ALICE, Via::Any);
        eventually("alice is told she may not answer", || {
            bed.ephemerals()
                .into_iter()
                .find(|(_, user, _)| user == ALICE)
        });
        assert!(bed.acked(&envelope));
        let still = bed.message(&channel, &ts).unwrap();
        assert_eq!(buttons(&still), 2, "alice's click changed nothing: {still}");
        bed.click(&channel, &ts, "Reject", BOB, Via::Any);
        let run = waiting.finish().code(1);
        assert_eq!(run.stdout.trim(), "Reject");
        let (_, _, text) = &bed.ephemerals()[0];
        assert!(text.contains("not an approver"), "{text}");
        assert!(text.contains(BOB), "it says who may: {text}");
    }

    #[test]
    fn a_user_group_approves_through_its_members_read_from_slack() {
        let (bed, sandbox) = setup(r#"approvers = ["S0RELEASE"]"#);
        bed.add_usergroup("S0RELEASE", &[BOB]);
        let waiting = ask(&sandbox, &["Deploy?"]);
        let (channel, ts) = question(&bed, 1);
        bed.click(&channel, &ts, "Approve", ALICE, Via::Any);
        eventually("alice is refused", || bed.ephemerals().pop());
        bed.click(&channel, &ts, "Approve", BOB, Via::Any);
        waiting.finish().code(0);
    }

    #[test]
    fn a_handle_no_one_has_is_a_profile_error_before_anything_is_posted() {
        let (bed, sandbox) = setup("");
        ask(&sandbox, &["--approver", "@nobody-here", "Deploy?"])
            .finish()
            .code(78)
            .stderr_has("@nobody-here");
        assert!(bed.questions().is_empty());
    }

    #[test]
    fn two_asks_on_one_app_whose_clicks_go_to_the_wrong_connection_each_get_their_own_answer() {
        let (bed, sandbox) = setup("");
        let first = ask(
            &sandbox,
            &["--option", "Blue", "--option", "Green", "Pool for A?"],
        );
        let (channel_a, ts_a) = question(&bed, 1);
        bed.wait_connections(1, Duration::from_secs(10));
        let second = ask(
            &sandbox,
            &["--option", "Blue", "--option", "Green", "Pool for B?"],
        );
        let (channel_b, ts_b) = question(&bed, 2);
        assert_eq!(bed.wait_connections(2, Duration::from_secs(10)).len(), 2);
        // Slack hands each click to the other ask's connection.
        bed.click(&channel_a, &ts_a, "Green", ALICE, Via::Connection(1));
        bed.click(&channel_b, &ts_b, "Blue", BOB, Via::Connection(0));
        let (a, b) = (first.finish(), second.finish());
        assert!(bed.late_acks().is_empty(), "{:?}", bed.late_acks());
        let a = a.code(1);
        let b = b.code(0);
        assert_eq!(a.stdout.trim(), "Green", "{a}");
        assert_eq!(b.stdout.trim(), "Blue", "{b}");
        for (channel, ts) in [(&channel_a, &ts_a), (&channel_b, &ts_b)] {
            assert_eq!(buttons(&bed.message(channel, ts).unwrap()), 0);
        }
    }

    #[test]
    fn a_reconnect_slack_asks_for_in_the_middle_of_the_wait_loses_no_click() {
        let (bed, sandbox) = setup("");
        let waiting = ask(&sandbox, &["Deploy?"]);
        let (channel, ts) = question(&bed, 1);
        bed.wait_connections(1, Duration::from_secs(10));
        bed.disconnect(0, "refresh_requested");
        // In flight while chime reconnects: Slack holds it for the next connection.
        let envelope = bed.click(&channel, &ts, "Approve", ALICE, Via::Any);
        waiting.finish().code(0);
        assert!(bed.acked(&envelope));
        let opened = bed
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("apps.connections.open"));
        assert_eq!(
            opened.count(),
            2,
            "one connection, then the one Slack asked for"
        );
        assert!(bed.late_acks().is_empty(), "{:?}", bed.late_acks());
    }

    #[test]
    fn without_history_a_decision_another_ask_settled_is_left_as_it_is_at_the_timeout() {
        let (bed, sandbox) = setup("");
        bed.deny_scope("channels:history");
        let first = ask(&sandbox, &["--timeout", "8s", "Pool for A?"]);
        let (channel_a, ts_a) = question(&bed, 1);
        bed.wait_connections(1, Duration::from_secs(10));
        let second = ask(&sandbox, &["--timeout", "8s", "Pool for B?"]);
        question(&bed, 2);
        bed.wait_connections(2, Duration::from_secs(10));
        // Slack hands the click on A's question to B's connection.
        bed.click(&channel_a, &ts_a, "Approve", ALICE, Via::Connection(1));
        eventually("B settles A's question", || {
            let m = bed.message(&channel_a, &ts_a).unwrap();
            (m["metadata"]["event_type"] == "chime_ask_answered").then_some(())
        });
        // A cannot read the decision back, so it cannot know it: it times out,
        // and says why it leaves its question as it is.
        let a = first.finish().code(124).stderr_has("left as it is");
        assert!(a.stderr.contains("channels:history"), "{a}");
        let _ = second.finish();
        let now = bed.message(&channel_a, &ts_a).unwrap();
        assert_eq!(now["metadata"]["event_type"], "chime_ask_answered", "{now}");
        assert!(shown(&now).contains("Approve"), "{}", shown(&now));
        assert!(!shown(&now).contains("No answer"), "{}", shown(&now));
    }

    #[test]
    fn other_envelopes_are_acknowledged_at_once_and_change_nothing() {
        let (bed, sandbox) = setup("");
        let waiting = ask(&sandbox, &["Deploy?"]);
        question(&bed, 1);
        bed.wait_connections(1, Duration::from_secs(10));
        let event = serde_json::json!({"type": "events_api", "accepts_response_payload": false,
            "retry_attempt": 0, "retry_reason": "",
            "payload": {"type": "event_callback", "event": {"type": "app_mention", "text": "hi"}}});
        let envelope = bed.send_envelope(Via::Any, event);
        assert!(bed.wait_acked(&envelope, Duration::from_secs(3)));
        waiting.signal(libc::SIGINT);
        waiting.finish().code(130);
        assert!(bed.late_acks().is_empty());
    }

    #[test]
    fn without_history_scope_it_says_once_that_answers_to_other_connections_are_not_seen() {
        let (bed, sandbox) = setup("");
        bed.deny_scope("channels:history");
        let waiting = ask(&sandbox, &["Deploy?"]);
        let (channel, ts) = question(&bed, 1);
        eventually("chime reads the question back", || {
            let mut reads = bed.requests().into_iter();
            reads.find(|r| r.path.contains("conversations."))
        });
        bed.click(&channel, &ts, "Approve", ALICE, Via::Any);
        let run = waiting.finish().code(0).stderr_has("channels:history");
        let said = run
            .stderr
            .matches("cannot read the channel's history")
            .count();
        assert_eq!(said, 1, "said once: {run}");
    }

    #[test]
    fn socket_mode_turned_off_or_a_bot_token_in_app_token_is_a_profile_error_before_posting() {
        let (bed, sandbox) = setup("");
        bed.disable_socket_mode();
        ask(&sandbox, &["Deploy?"])
            .finish()
            .code(78)
            .stderr_has("Socket Mode");
        let (bed2, sandbox2) = setup("");
        sandbox2.profile(
            &std::fs::read_to_string(sandbox2.profile_path())
                .unwrap()
                .replace(APP_TOKEN, TOKEN),
        );
        ask(&sandbox2, &["Deploy?"])
            .finish()
            .code(78)
            .stderr_has("app-level token");
        assert!(bed.questions().is_empty() && bed2.questions().is_empty());
    }

    #[test]
    fn a_question_with_a_thread_key_is_asked_in_that_thread_and_answered_there() {
        let (bed, sandbox) = setup("");
        run(sandbox.chime(&[
            "send",
            "--to",
            "bot",
            "--thread",
            "deploy-7",
            "deploying 1.4",
        ]))
        .code(0);
        let waiting = ask(&sandbox, &["--thread", "deploy-7", "Go on to prod?"]);
        let (channel, ts) = question(&bed, 1);
        let asked = bed.message(&channel, &ts).unwrap();
        let parent = asked["thread_ts"].as_str().expect("a reply");
        assert_ne!(parent, ts, "{asked}");
        bed.click(&channel, &ts, "Approve", ALICE, Via::Any);
        waiting.finish().code(0);
    }

    #[test]
    fn two_asks_in_one_thread_whose_clicks_go_to_the_wrong_connection_each_get_their_own_answer() {
        let (bed, sandbox) = setup("");
        run(sandbox.chime(&[
            "send",
            "--to",
            "bot",
            "--thread",
            "deploy-7",
            "deploying 1.4",
        ]))
        .code(0);
        let in_thread = ["--thread", "deploy-7", "--timeout", "15s"];
        let first = ask(&sandbox, &[&in_thread[..], &["Pool for A?"]].concat());
        let (channel_a, ts_a) = question(&bed, 1);
        bed.wait_connections(1, Duration::from_secs(10));
        let second = ask(&sandbox, &[&in_thread[..], &["Pool for B?"]].concat());
        let (channel_b, ts_b) = question(&bed, 2);
        assert_eq!(bed.wait_connections(2, Duration::from_secs(10)).len(), 2);
        let reply = bed.message(&channel_b, &ts_b).unwrap();
        assert_ne!(reply["thread_ts"].as_str(), Some(ts_b.as_str()), "{reply}");
        // Slack hands each click to the other ask's connection.
        bed.click(&channel_a, &ts_a, "Approve", ALICE, Via::Connection(1));
        bed.click(&channel_b, &ts_b, "Reject", BOB, Via::Connection(0));
        let (a, b) = (first.finish(), second.finish());
        assert_eq!(a.code(0).stdout.trim(), "Approve");
        assert_eq!(b.code(1).stdout.trim(), "Reject");
    }

    #[test]
    fn the_routes_approvers_count_and_config_show_never_shows_the_app_token() {
        let (bed, sandbox) = setup("");
        let profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
        sandbox.profile(&format!(
            "{profile}\n[routes.deploys]\nto = [\"bot\"]\napprovers = [\"{BOB}\"]\n"
        ));
        run(sandbox.chime(&["config", "show"]))
            .code(0)
            .never_shows(APP_TOKEN)
            .stdout_has("app_token");
        let waiting = Waiting::start(sandbox.chime(&["ask", "-r", "deploys", "Deploy?"]));
        let (channel, ts) = question(&bed, 1);
        bed.click(&channel, &ts, "Approve", ALICE, Via::Any);
        eventually("alice is refused", || bed.ephemerals().pop());
        bed.click(&channel, &ts, "Approve", BOB, Via::Any);
        waiting.finish().code(0);
    }

    #[test]
    fn a_question_slack_cannot_take_now_exits_75_and_is_not_queued() {
        let (bed, sandbox) = setup("");
        for _ in 0..10 {
            bed.fault_on(
                &format!("{}/chat.postMessage", bed.api_url()),
                Fault::Status(503, "down"),
            );
        }
        ask(&sandbox, &["Deploy?"])
            .finish()
            .code(75)
            .stderr_has("not queued");
        let listed = run(sandbox.chime(&["spool", "list", "--json"])).code(0);
        assert_eq!(listed.stdout.trim(), "[]", "{listed}");
    }

    #[test]
    fn chime_test_checks_the_socket_mode_connection_too() {
        let (bed, sandbox) = setup("");
        run(sandbox.chime(&["test", "bot"])).code(0);
        assert!(
            bed.requests()
                .iter()
                .any(|r| r.path.ends_with("apps.connections.open"))
        );
        bed.disable_socket_mode();
        run(sandbox.chime(&["test", "bot"]))
            .code(65)
            .stdout_has("Socket Mode");
    }
}

/// POSTs `body` to `url` on the bed, as another program would (a second
/// poller, a forger): the status it answered, once it answers.
fn post(url: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("a bed URL");
    let (host, path) = rest.split_once('/').expect("a path");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

mod telegram {
    use std::sync::Arc;

    use super::*;
    use crate::support::telegram::{PREFIX, Posted, Telegram};

    const TOKEN: &str = "123456789:AAFakeTelegramTokenForAskTests-notreal";
    const CHAT: i64 = -1_001_234_567_890;
    const ADA: i64 = 111_111;
    const BOB: i64 = 222_222;

    fn setup(extra: &str) -> (Bed, Arc<Telegram>, Sandbox) {
        let bed = Bed::start();
        let telegram = Telegram::new();
        bed.mount(PREFIX, telegram.clone());
        telegram.add_token(TOKEN);
        telegram.add_chat(CHAT, None);
        let sandbox = Sandbox::new();
        sandbox.profile(&format!(
            r#"
[destinations.tg]
kind = "telegram"
token = "{TOKEN}"
chat_id = {CHAT}
api_url = "{}/telegram"
timeout = "5s"
{extra}
"#,
            bed.url()
        ));
        (bed, telegram, sandbox)
    }

    fn ask(sandbox: &Sandbox, args: &[&str]) -> Waiting {
        ask_to(sandbox, "tg", args)
    }

    /// The `n`th question posted (from 1), as it is now.
    fn question(telegram: &Telegram, n: usize) -> Posted {
        eventually(&format!("question {n} is posted"), || {
            telegram.posted().into_iter().nth(n - 1)
        })
    }

    fn now(telegram: &Telegram, id: i64) -> Posted {
        telegram.posted().into_iter().find(|p| p.id == id).unwrap()
    }

    #[test]
    fn approve_is_answered_at_once_and_the_question_is_edited_without_its_keyboard() {
        let (_bed, telegram, sandbox) = setup("");
        let waiting = ask(&sandbox, &["-t", "Deploy 1.4?", "the release"]);
        let asked = question(&telegram, 1);
        assert_eq!(asked.keyboard[0].len(), 2, "{:?}", asked.keyboard);
        let query = telegram.click(CHAT, asked.id, "Approve", ADA, Some("ada"));
        let run = waiting.finish().code(0);
        assert_eq!(run.stdout.trim(), "Approve");
        let answers = telegram.callback_answers();
        let (_, text, _) = answers
            .iter()
            .find(|(id, ..)| *id == query)
            .expect("the click was answered");
        assert!(
            text.as_deref().unwrap_or("").contains("Approve"),
            "{answers:?}"
        );
        let decided = now(&telegram, asked.id);
        assert!(decided.keyboard.is_empty(), "{:?}", decided.keyboard);
        // `@ada` is kept from notifying her (a word joiner after the `@`).
        assert!(
            decided.text.contains("Approve") && decided.text.contains("ada"),
            "{}",
            decided.text
        );
        assert!(decided.text.contains("the release"), "{}", decided.text);
    }

    #[test]
    fn a_click_by_someone_not_an_approver_gets_a_notice_and_is_not_counted() {
        let (_bed, telegram, sandbox) = setup("approvers = [\"@bob\"]");
        let waiting = ask(&sandbox, &["Deploy?"]);
        let asked = question(&telegram, 1);
        let refused = telegram.click(CHAT, asked.id, "Approve", ADA, Some("ada"));
        eventually("ada is told", || {
            telegram
                .callback_answers()
                .into_iter()
                .find(|(id, ..)| *id == refused)
        });
        let (_, text, alert) = telegram
            .callback_answers()
            .into_iter()
            .find(|(id, ..)| *id == refused)
            .unwrap();
        assert!(text.unwrap().contains("not an approver") && alert);
        assert!(!now(&telegram, asked.id).keyboard.is_empty(), "still open");
        telegram.click(CHAT, asked.id, "Reject", BOB, Some("bob"));
        assert_eq!(waiting.finish().code(1).stdout.trim(), "Reject");
    }

    #[test]
    fn no_answer_in_time_exits_124_and_the_keyboard_goes() {
        let (_bed, telegram, sandbox) = setup("");
        ask(&sandbox, &["--timeout", "2s", "Deploy?"])
            .finish()
            .code(124);
        let asked = question(&telegram, 1);
        assert!(
            asked.keyboard.is_empty() && asked.text.contains("No answer after 2 s"),
            "{}",
            asked.text
        );
    }

    #[test]
    fn two_asks_on_one_bot_share_its_updates_and_each_gets_its_own_answer() {
        let (_bed, telegram, sandbox) = setup("");
        let first = ask(&sandbox, &["Deploy A?"]);
        let a = question(&telegram, 1);
        let second = ask(&sandbox, &["Deploy B?"]);
        let b = question(&telegram, 2);
        telegram.click(CHAT, b.id, "Reject", BOB, Some("bob"));
        telegram.click(CHAT, a.id, "Approve", ADA, Some("ada"));
        let (first, second) = (first.finish(), second.finish());
        assert_eq!(first.code(0).stdout.trim(), "Approve");
        assert_eq!(second.code(1).stdout.trim(), "Reject");
    }

    #[test]
    fn a_bot_with_a_webhook_is_refused_with_the_fix_before_anything_is_posted() {
        let (_bed, telegram, sandbox) = setup("");
        telegram.set_webhook(Some("https://example.invalid/hook"));
        ask(&sandbox, &["Deploy?"])
            .finish()
            .code(78)
            .stderr_has("webhook")
            .stderr_has("deleteWebhook");
        assert!(telegram.posted().is_empty());
    }

    #[test]
    fn another_poller_is_said_once_and_taken_turns_with_and_the_click_still_counts() {
        let (bed, telegram, sandbox) = setup("");
        let waiting = ask(&sandbox, &["Deploy?"]);
        let asked = question(&telegram, 1);
        assert!(telegram.wait_for_poll(Duration::from_secs(10)));
        let url = format!("{}/telegram/bot{TOKEN}/getUpdates", bed.url());
        // A poll of another program's, which ends chime's waiting one.
        let other = std::thread::spawn(move || post(&url, r#"{"timeout": 1}"#));
        let _ = other.join();
        telegram.click(CHAT, asked.id, "Approve", ADA, Some("ada"));
        let run = waiting.finish().code(0);
        assert_eq!(run.stderr.matches("409").count(), 1, "said once: {run}");
        assert!(run.stderr.contains("one poll at a time"), "{run}");
    }

    #[test]
    fn the_turn_to_poll_passes_on_when_the_ask_that_had_it_is_answered() {
        let (_bed, telegram, sandbox) = setup("");
        let first = ask(&sandbox, &["Deploy A?"]);
        let a = question(&telegram, 1);
        assert!(telegram.wait_for_poll(Duration::from_secs(10)));
        let second = ask(&sandbox, &["Deploy B?"]);
        let b = question(&telegram, 2);
        telegram.click(CHAT, a.id, "Approve", ADA, Some("ada"));
        assert_eq!(first.finish().code(0).stdout.trim(), "Approve");
        telegram.click(CHAT, b.id, "Reject", BOB, Some("bob"));
        assert_eq!(second.finish().code(1).stdout.trim(), "Reject");
    }

    #[test]
    fn asks_on_two_machines_sharing_one_bot_each_get_their_own_click() {
        let (_bed, telegram, one) = setup("");
        let two = Sandbox::new();
        two.profile(&std::fs::read_to_string(one.profile_path()).unwrap());
        let first = ask(&one, &["Deploy A?"]);
        let a = question(&telegram, 1);
        let second = ask(&two, &["Deploy B?"]);
        let b = question(&telegram, 2);
        // The click on B comes first: machine one may read it, and must
        // leave it for machine two.
        telegram.click(CHAT, b.id, "Reject", BOB, Some("bob"));
        std::thread::sleep(Duration::from_millis(500));
        telegram.click(CHAT, a.id, "Approve", ADA, Some("ada"));
        let (first, second) = (first.finish(), second.finish());
        assert_eq!(first.code(0).stdout.trim(), "Approve");
        assert_eq!(second.code(1).stdout.trim(), "Reject");
    }

    #[test]
    fn a_second_tap_on_a_closed_question_is_told_so_and_does_not_stall_later_asks() {
        let (_bed, telegram, sandbox) = setup("");
        let first = ask(&sandbox, &["Deploy A?"]);
        let a = question(&telegram, 1);
        let (_, data) = a.button("Approve").unwrap();
        telegram.click(CHAT, a.id, "Approve", ADA, Some("ada"));
        first.finish().code(0);
        // A second tap from a phone that still showed the buttons.
        let stale = telegram.click_shown(CHAT, a.id, &data, ADA, Some("ada"));
        let second = ask(&sandbox, &["--approver", "@bob", "Deploy B?"]);
        let b = question(&telegram, 2);
        // A page of updates behind the stale one, and bob's after it.
        for _ in 0..19 {
            telegram.click(CHAT, b.id, "Approve", ADA, Some("ada"));
        }
        telegram.click(CHAT, b.id, "Approve", BOB, Some("bob"));
        assert_eq!(second.finish().code(0).stdout.trim(), "Approve");
        let answers = telegram.callback_answers();
        let (_, text, _) = answers
            .iter()
            .find(|(id, ..)| *id == stale)
            .expect("the stale tap was answered");
        assert!(
            text.as_deref().unwrap_or("").contains("no longer waiting"),
            "{answers:?}"
        );
    }

    #[test]
    fn a_click_on_a_killed_asks_question_is_told_no_one_waits_and_its_buttons_go() {
        let (_bed, telegram, sandbox) = setup("");
        let first = ask(&sandbox, &["Deploy A?"]);
        let a = question(&telegram, 1);
        assert!(telegram.wait_for_poll(Duration::from_secs(10)));
        first.signal(libc::SIGKILL);
        first.finish();
        let second = ask(&sandbox, &["Deploy B?"]);
        let b = question(&telegram, 2);
        let late = telegram.click(CHAT, a.id, "Approve", ADA, Some("ada"));
        telegram.click(CHAT, b.id, "Reject", BOB, Some("bob"));
        assert_eq!(second.finish().code(1).stdout.trim(), "Reject");
        // The killed ask left its buttons; the click that found it so takes them.
        assert!(now(&telegram, a.id).keyboard.is_empty());
        let answers = telegram.callback_answers();
        let (_, text, _) = answers
            .iter()
            .find(|(id, ..)| *id == late)
            .expect("the click was answered");
        assert!(
            text.as_deref().unwrap_or("").contains("no longer waiting"),
            "{answers:?}"
        );
    }

    #[test]
    fn sigterm_exits_143_and_the_keyboard_goes() {
        let (_bed, telegram, sandbox) = setup("");
        let waiting = ask(&sandbox, &["Deploy?"]);
        let asked = question(&telegram, 1);
        assert!(telegram.wait_for_poll(Duration::from_secs(10)));
        waiting.signal(libc::SIGTERM);
        waiting.finish().code(143);
        let closed = now(&telegram, asked.id);
        assert!(
            closed.keyboard.is_empty() && closed.text.contains("Cancelled"),
            "{}",
            closed.text
        );
    }
}

mod ntfy {
    use std::sync::Arc;

    use super::*;
    use crate::support::ntfy::{Ntfy, PREFIX};

    fn setup() -> (Bed, Arc<Ntfy>, Sandbox) {
        let bed = Bed::start();
        let ntfy = Ntfy::new();
        bed.mount(PREFIX, ntfy.clone());
        let sandbox = Sandbox::new();
        sandbox.profile(&format!(
            r#"
[destinations.phone]
kind = "ntfy"
url = "{}/ntfy/ops-alerts"
timeout = "5s"
"#,
            bed.url()
        ));
        (bed, ntfy, sandbox)
    }

    fn ask(sandbox: &Sandbox, args: &[&str]) -> Waiting {
        ask_to(sandbox, "phone", args)
    }

    #[test]
    fn a_press_publishes_the_answer_chime_hears_and_the_decision_follows_up() {
        let (_bed, ntfy, sandbox) = setup();
        let waiting = ask(&sandbox, &["-t", "Deploy 1.4?", "the release"]);
        let asked = eventually("the question is published", || {
            ntfy.published().into_iter().next()
        });
        assert_eq!(asked.actions.len(), 2);
        assert!(asked.actions.iter().all(|a| a.action == "http" && a.clear));
        ntfy.press("ops-alerts", 0, "Approve");
        assert_eq!(waiting.finish().code(0).stdout.trim(), "Approve");
        let follow_up = eventually("the decision follows", || {
            ntfy.published()
                .into_iter()
                .filter(|p| p.topic == "ops-alerts")
                .nth(1)
        });
        assert!(
            follow_up.message.contains("Approve"),
            "{}",
            follow_up.message
        );
        assert!(follow_up.actions.is_empty());
    }

    #[test]
    fn a_press_while_the_subscription_is_down_is_read_when_chime_subscribes_again() {
        let (_bed, ntfy, sandbox) = setup();
        let waiting = ask(&sandbox, &["Deploy?"]);
        let asked = eventually("the question is published", || {
            ntfy.published().into_iter().next()
        });
        let reply_topic = asked.actions[0]
            .url
            .clone()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        assert!(ntfy.wait_for_subscribers(&reply_topic, 1, Duration::from_secs(10)));
        ntfy.end_subscriptions(&reply_topic);
        ntfy.press("ops-alerts", 0, "Approve");
        assert_eq!(waiting.finish().code(0).stdout.trim(), "Approve");
    }

    #[test]
    fn an_answer_without_the_questions_secret_is_ignored() {
        let (bed, ntfy, sandbox) = setup();
        let waiting = ask(&sandbox, &["Deploy?"]);
        let asked = eventually("the question is published", || {
            ntfy.published().into_iter().next()
        });
        let approve = &asked.actions[0];
        let url = approve.url.clone().unwrap();
        let body = approve.body.clone().unwrap();
        let (nonce, _) = body.split_once(' ').unwrap();
        let forged = format!("{nonce} 0 0123456789abcdef");
        let topic = url.rsplit('/').next().unwrap();
        let path = format!("{}/ntfy/{topic}", bed.url());
        assert_eq!(post(&path, &forged), 200);
        ntfy.press("ops-alerts", 0, "Reject");
        let run = waiting.finish().code(1);
        assert_eq!(run.stdout.trim(), "Reject");
        assert!(
            run.stderr.contains("without the question's secret"),
            "{run}"
        );
    }

    #[test]
    fn approvers_and_more_than_three_options_cannot_be_asked_on_ntfy() {
        let (_bed, ntfy, sandbox) = setup();
        ask(&sandbox, &["--approver", "@ada", "Deploy?"])
            .finish()
            .code(78)
            .stderr_has("does not say who pressed");
        let args = [
            "--option", "a", "--option", "b", "--option", "c", "--option", "d", "Which?",
        ];
        ask(&sandbox, &args)
            .finish()
            .code(2)
            .stderr_has("at most 3");
        assert!(ntfy.published().is_empty());
    }
}
