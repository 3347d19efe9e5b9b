//! `kind = "pagerduty"` against the Events API v2 stand-in: what an event carries,
//! alerts triggered, acknowledged and resolved by key (by hand and by `chime run --on
//! change`), refusals, throttling and the spool, and the routing key kept secret.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::bed::Bed;
use crate::support::pagerduty::{PREFIX, PagerDuty, SUMMARY_MAX, State};
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// Obviously fake keys of PagerDuty's shape: 32 letters and digits.
const KEY: &str = "R0fakeEventsV2IntegrationKey0001";
const OTHER_KEY: &str = "R0fakeEventsV2IntegrationKey0002";

/// A bed with the stand-in mounted, and a profile whose default route goes to `pager`;
/// route `mixed` adds a Slack webhook.
fn setup() -> (Bed, Arc<PagerDuty>, Sandbox) {
    let bed = Bed::start();
    bed.no_rate_limit();
    let pagerduty = PagerDuty::new();
    bed.mount(PREFIX, pagerduty.clone());
    pagerduty.add_key(KEY);
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "oncall"
timeout = "3s"

[destinations.pager]
kind = "pagerduty"
routing_key = "${{PAGERDUTY_ROUTING_KEY}}"
api_url = "{base}/pagerduty"
component = "backup"
pace = "0s"

[destinations.chat]
kind = "slack"
url = "{slack}"
pace = "0s"

[routes.oncall]
to = ["pager"]

[routes.mixed]
to = ["pager", "chat"]

[routes.chat-only]
to = ["chat"]
"#,
        base = bed.url(),
        slack = bed.webhook("ops"),
    ));
    (bed, pagerduty, sandbox)
}

fn chime_as(sandbox: &Sandbox, key: &str, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("PAGERDUTY_ROUTING_KEY", key);
    run(cmd)
}

fn chime(sandbox: &Sandbox, args: &[&str]) -> Run {
    chime_as(sandbox, KEY, args)
}

fn actions(pagerduty: &PagerDuty) -> Vec<String> {
    let events = pagerduty.events();
    let action = |e: &Value| e["event_action"].as_str().unwrap_or_default().to_owned();
    events.iter().map(action).collect()
}

#[test]
fn pagerduty_trigger_carries_severity_summary_details_and_links() {
    let (bed, pagerduty, sandbox) = setup();
    let args = [
        "send",
        "-t",
        "Disk full on db1",
        "-l",
        "critical",
        "-f",
        "mount=/var",
        "-f",
        "used=97%",
        "--link",
        "Graph=https://grafana.example/d/1",
        "only 2 GB left",
    ];
    chime(&sandbox, &args).code(0);
    let events = pagerduty.events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["routing_key"], KEY);
    assert_eq!(event["event_action"], "trigger");
    assert!(
        event.get("dedup_key").is_none(),
        "no key: PagerDuty assigns one"
    );
    let payload = &event["payload"];
    assert_eq!(payload["summary"], "Disk full on db1");
    assert_eq!(payload["severity"], "critical");
    assert_eq!(payload["component"], "backup");
    assert!(!payload["source"].as_str().unwrap().is_empty());
    assert!(payload["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        payload["custom_details"],
        json!({"mount": "/var", "used": "97%", "text": "only 2 GB left"})
    );
    assert_eq!(
        event["links"],
        json!([{"href": "https://grafana.example/d/1", "text": "Graph"}])
    );
    let request = &bed.delivered()[0];
    assert_eq!(
        (request.path.as_str(), request.status),
        ("/pagerduty/v2/enqueue", 202)
    );
    assert_eq!(pagerduty.incidents().len(), 1, "one alert, paged");
}

#[test]
fn pagerduty_severity_follows_the_level() {
    let (_bed, pagerduty, sandbox) = setup();
    for level in ["info", "success", "warning", "error", "critical"] {
        chime(&sandbox, &["send", "-l", level, "x"]).code(0);
    }
    let severities: Vec<Value> = pagerduty
        .events()
        .iter()
        .map(|e| e["payload"]["severity"].clone())
        .collect();
    assert_eq!(
        severities,
        ["info", "info", "warning", "error", "critical"].map(Value::from)
    );
}

#[test]
fn pagerduty_the_dedupe_key_is_the_alert_and_every_repeat_reaches_pagerduty() {
    let (_bed, pagerduty, sandbox) = setup();
    let out = chime(
        &sandbox,
        &["send", "--json", "--dedupe", "disk-db1", "-l", "error", "x"],
    );
    assert_eq!(out.code(0).json_lines()[0]["ts"], "disk-db1");
    // chime's own window would count this as a repeat; PagerDuty deduplicates it instead.
    chime(
        &sandbox,
        &["send", "--dedupe", "disk-db1", "-l", "error", "again"],
    )
    .code(0);
    let events = pagerduty.events();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["dedup_key"] == "disk-db1"));
    let incidents = pagerduty.incidents();
    assert_eq!(
        incidents.len(),
        1,
        "the repeat is added to the open alert, not paged"
    );
    assert_eq!(incidents[0].actions, ["trigger", "trigger"]);
}

#[test]
fn pagerduty_acknowledge_and_resolve_apply_to_the_alert_their_key_names() {
    let (_bed, pagerduty, sandbox) = setup();
    chime(
        &sandbox,
        &["send", "--dedupe", "db1-down", "-l", "critical", "db1 down"],
    )
    .code(0);
    chime(
        &sandbox,
        &["send", "--dedupe", "db1-down", "--acknowledge", "on it"],
    )
    .code(0);
    assert_eq!(pagerduty.incidents()[0].state, State::Acknowledged);
    chime(
        &sandbox,
        &["send", "--update", "db1-down", "--resolve", "db1 is back"],
    )
    .code(0);
    let events = pagerduty.events();
    assert_eq!(
        events[2],
        json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "db1-down"}),
        "a resolve carries its key and nothing else"
    );
    let incidents = pagerduty.incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].state, State::Resolved);
    assert_eq!(incidents[0].actions, ["trigger", "acknowledge", "resolve"]);
}

#[test]
fn pagerduty_resolve_needs_a_key_and_an_alerting_destination() {
    let (bed, _pagerduty, sandbox) = setup();
    chime(&sandbox, &["send", "--resolve", "fixed"])
        .code(2)
        .stderr_has("--resolve needs the key of the alert")
        .stderr_has("--dedupe KEY");
    chime(
        &sandbox,
        &[
            "send",
            "-r",
            "chat-only",
            "--dedupe",
            "k",
            "--acknowledge",
            "x",
        ],
    )
    .code(2)
    .stderr_has("--acknowledge is for alerting kinds");
    assert!(bed.requests().is_empty(), "nothing went anywhere");
    // Beside an alerting destination, a chat destination posts the message.
    chime(
        &sandbox,
        &["send", "-r", "mixed", "--dedupe", "k", "--resolve", "fixed"],
    )
    .code(0);
    let paths: Vec<String> = bed.delivered().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
}

/// A job whose outcome the test sets: it fails while `broken` exists.
fn job(sandbox: &Sandbox) -> (Vec<String>, std::path::PathBuf) {
    let broken = sandbox.path().join("broken");
    let command = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        format!("echo checking; test ! -e {}", broken.display()),
    ];
    (command, broken)
}

fn run_job(sandbox: &Sandbox, command: &[String]) -> Run {
    let mut args = vec!["run", "--on", "change", "-r", "oncall", "--"];
    args.extend(command.iter().map(String::as_str));
    chime(sandbox, &args)
}

#[test]
fn pagerduty_run_on_change_triggers_on_failure_and_resolves_the_same_alert_on_recovery() {
    let (_bed, pagerduty, sandbox) = setup();
    let (command, broken) = job(&sandbox);
    let name = command.join(" ");
    std::fs::write(&broken, "").unwrap();
    run_job(&sandbox, &command).code(1);
    assert_eq!(actions(&pagerduty), ["trigger"]);
    let trigger = &pagerduty.events()[0];
    assert_eq!(
        trigger["dedup_key"],
        name.as_str(),
        "keyed by the job's name"
    );
    assert_eq!(trigger["payload"]["severity"], "error");
    let summary = trigger["payload"]["summary"].as_str().unwrap();
    assert!(summary.ends_with("failed (exit 1)"), "{summary}");
    assert_eq!(trigger["payload"]["custom_details"]["exit code"], "1");

    // Failing again while the alert is open: no change, nothing sent, no second page.
    run_job(&sandbox, &command).code(1);
    assert_eq!(actions(&pagerduty), ["trigger"]);

    std::fs::remove_file(&broken).unwrap();
    run_job(&sandbox, &command).code(0);
    assert_eq!(actions(&pagerduty), ["trigger", "resolve"]);
    assert_eq!(pagerduty.events()[1]["dedup_key"], name.as_str());
    let incidents = pagerduty.incidents();
    assert_eq!(incidents.len(), 1, "one incident, paged once");
    assert_eq!(
        incidents[0].state,
        State::Resolved,
        "closed by the recovery"
    );
    assert!(
        incidents[0].summary.ends_with("failed (exit 1)"),
        "opened by the failure"
    );

    // A later failure is a new incident under the same key.
    std::fs::write(&broken, "").unwrap();
    run_job(&sandbox, &command).code(1);
    let incidents = pagerduty.incidents();
    assert_eq!(incidents.len(), 2);
    assert_eq!(incidents[1].state, State::Triggered);
}

#[test]
fn pagerduty_summary_is_cut_at_1024_characters_and_kept_whole_in_the_details() {
    let (_bed, pagerduty, sandbox) = setup();
    let title = "Nightly backup of the primary cluster ü ".repeat(40);
    let title = title.trim();
    let text = "x ".repeat(20_000);
    let mut cmd = sandbox.chime(&["send", "-t", title]);
    cmd.env("PAGERDUTY_ROUTING_KEY", KEY);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let payload = &pagerduty.events()[0]["payload"];
    let summary = payload["summary"].as_str().unwrap();
    assert_eq!(summary.chars().count(), SUMMARY_MAX, "{summary}");
    assert!(summary.ends_with('…'));
    assert!(title.starts_with(summary.trim_end_matches('…')));
    assert_eq!(payload["custom_details"]["title"], title);
    assert_eq!(payload["custom_details"]["text"], text.trim_end());

    // Without a title, the text is the summary, on one line.
    chime(&sandbox, &["send", "first line\nsecond line"]).code(0);
    let payload = &pagerduty.events()[1]["payload"];
    assert_eq!(payload["summary"], "first line second line");
    assert_eq!(payload["custom_details"]["text"], "first line\nsecond line");
}

#[test]
fn pagerduty_refusal_is_exit_65_with_its_errors_and_a_hint() {
    let (bed, pagerduty, sandbox) = setup();
    chime_as(&sandbox, OTHER_KEY, &["send", "-l", "error", "x"])
        .code(65)
        .stderr_has("400 Bad Request: Event object is invalid; Invalid routing key")
        .stderr_has("check `routing_key`");
    assert_eq!(bed.requests().len(), 1, "a refusal is not retried");
    assert!(pagerduty.events().is_empty());
}

#[test]
fn pagerduty_a_routing_key_of_the_wrong_shape_is_a_profile_error() {
    let (bed, _pagerduty, sandbox) = setup();
    chime_as(&sandbox, "u+abcdefghijKLMNOPQRST", &["send", "x"])
        .code(78)
        .stderr_has("must be the 32-character Integration Key")
        .never_shows("u+abcdefghijKLMNOPQRST");
    assert!(bed.requests().is_empty());
}

/// Every file under `dir`, read whole.
fn contents(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            contents(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
}

#[test]
fn pagerduty_throttled_event_is_queued_with_exit_75_and_flush_delivers_it_once() {
    let (bed, pagerduty, sandbox) = setup();
    pagerduty.throttle(100);
    chime(
        &sandbox,
        &["send", "--dedupe", "db1", "-l", "critical", "db1 down"],
    )
    .code(75)
    .stderr_has("429")
    .stderr_has("throttling");
    assert_eq!(
        bed.requests().len(),
        1,
        "no Retry-After: PagerDuty asks for 30 s"
    );
    assert!(pagerduty.events().is_empty());
    let mut files = Vec::new();
    contents(sandbox.path(), &mut files);
    let spooled: Vec<&String> = files
        .iter()
        .filter(|(_, bytes)| String::from_utf8_lossy(bytes).contains("db1 down"))
        .map(|(path, _)| path)
        .collect();
    assert!(!spooled.is_empty(), "the event waits in the spool");
    for (path, bytes) in &files {
        assert!(
            !String::from_utf8_lossy(bytes).contains(KEY),
            "{path} holds the routing key"
        );
    }
    pagerduty.throttle(0);
    chime(&sandbox, &["flush", "--all"]).code(0);
    chime(&sandbox, &["flush", "--all"]).code(0);
    let events = pagerduty.events();
    assert_eq!(events.len(), 1, "delivered once");
    assert_eq!(events[0]["dedup_key"], "db1");
    assert_eq!(
        events[0]["routing_key"], KEY,
        "the key is added as it is sent"
    );
}

#[test]
fn pagerduty_routing_key_never_shows_in_dry_run_verbose_config_show_or_errors() {
    let (_bed, _pagerduty, sandbox) = setup();
    chime(&sandbox, &["send", "--dry-run", "x"])
        .code(0)
        .stdout_has("/pagerduty/v2/enqueue")
        .stdout_has("routing_key")
        .never_shows(KEY);
    chime(&sandbox, &["send", "-v", "x"])
        .code(0)
        .stderr_has("POST http://127.0.0.1:")
        .never_shows(KEY);
    chime(&sandbox, &["config", "show"])
        .code(0)
        .stdout_has("kind = \"pagerduty\"")
        .stdout_has("routing_key")
        .never_shows(KEY);
    chime_as(&sandbox, OTHER_KEY, &["send", "-v", "x"])
        .code(65)
        .never_shows(OTHER_KEY);
}

#[test]
fn pagerduty_chime_test_resolves_an_alert_no_one_opened_and_pages_no_one() {
    let (_bed, pagerduty, sandbox) = setup();
    chime(&sandbox, &["test", "pager"])
        .code(0)
        .stdout_has("pager");
    let events = pagerduty.events();
    assert_eq!(events.len(), 1, "the key was checked by PagerDuty");
    assert_eq!(events[0]["event_action"], "resolve");
    assert!(
        events[0]["dedup_key"]
            .as_str()
            .unwrap()
            .starts_with("chime-test-")
    );
    assert!(pagerduty.incidents().is_empty(), "no alert was opened");
    chime_as(&sandbox, OTHER_KEY, &["test", "pager"])
        .code(65)
        .stdout_has("Invalid routing key");
}

/// POSTs `body` as JSON to the stand-in and returns the status and the answer.
fn raw_post(bed: &Bed, body: &Value) -> (u16, Value) {
    let url = bed.url();
    let host = url.strip_prefix("http://").unwrap();
    let body = body.to_string();
    let mut stream = TcpStream::connect(host).unwrap();
    let request = format!(
        "POST /pagerduty/v2/enqueue HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    let json = answer.split("\r\n\r\n").nth(1).unwrap_or("null");
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

#[test]
fn pagerduty_stand_in_refuses_what_the_events_api_refuses() {
    let (bed, pagerduty, _sandbox) = setup();
    let trigger = json!({"routing_key": KEY, "event_action": "trigger",
        "payload": {"summary": "s", "source": "db1", "severity": "error"}});
    let with = |path: &[&str], value: Value| {
        let mut body = trigger.clone();
        let mut at = &mut body;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        raw_post(&bed, &body)
    };
    let invalid = |(status, answer): (u16, Value)| {
        assert_eq!(
            (status, answer["status"].as_str()),
            (400, Some("invalid event"))
        );
        assert_eq!(answer["message"], "Event object is invalid");
        answer["errors"].as_array().unwrap().len()
    };
    assert_eq!(invalid(with(&["routing_key"], "short+key".into())), 2);
    assert!(
        invalid(with(
            &["payload", "summary"],
            "s".repeat(SUMMARY_MAX + 1).into()
        )) == 1
    );
    assert!(invalid(with(&["payload", "severity"], "fatal".into())) == 1);
    assert!(invalid(with(&["event_action"], "page".into())) == 1);
    assert!(invalid(with(&["dedup_key"], "k".repeat(256).into())) == 1);
    assert!(invalid(with(&["payload"], Value::Null)) == 1);
    let resolve = json!({"routing_key": KEY, "event_action": "resolve"});
    assert_eq!(
        invalid(raw_post(&bed, &resolve)),
        1,
        "a resolve needs its key"
    );
    let (status, answer) = with(&["payload", "summary"], "s".repeat(SUMMARY_MAX).into());
    assert_eq!((status, answer["status"].as_str()), (202, Some("success")));
    assert_eq!(answer["message"], "Event processed");
    assert!(
        !answer["dedup_key"].as_str().unwrap().is_empty(),
        "a key is assigned"
    );
    assert_eq!(pagerduty.events().len(), 1, "only the last was taken");
}

#[test]
fn a_routes_quiet_hours_digest_and_limit_never_hold_an_alert_so_a_recovery_resolves_at_once() {
    let (_bed, pagerduty, sandbox) = setup();
    let text = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    let timed = "[routes.oncall]\nto = [\"pager\"]\nquiet = \"00:00-23:59\"\ntimezone = \"UTC\"\nlimit = \"1/1h\"\n";
    sandbox.profile(&text.replace("[routes.oncall]\nto = [\"pager\"]\n", timed));
    let (command, broken) = job(&sandbox);
    std::fs::write(&broken, "").unwrap();
    run_job(&sandbox, &command).code(1);
    std::fs::remove_file(&broken).unwrap();
    // A success is what quiet hours hold, and a second event is past the limit:
    // held, it would go later as a digest, a new alert with no key.
    run_job(&sandbox, &command).code(0);
    assert_eq!(actions(&pagerduty), ["trigger", "resolve"]);
    let keys: Vec<Value> = pagerduty
        .events()
        .iter()
        .map(|e| e["dedup_key"].clone())
        .collect();
    assert_eq!(keys[0], keys[1], "one alert, triggered then resolved");
}
