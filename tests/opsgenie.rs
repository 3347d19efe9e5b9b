//! `kind = "opsgenie"` against the Alert API v2 stand-in: what an alert carries, alerts
//! created, acknowledged and closed by alias (by hand and by `chime run --on change`),
//! what does not fit, refusals, throttling and the spool, and the key kept secret.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::bed::Bed;
use crate::support::opsgenie::{DESCRIPTION_MAX, MESSAGE_MAX, NOTE_MAX, Opsgenie, PREFIX, State};
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// Obviously fake keys of Opsgenie's shape: a UUID.
const KEY: &str = "eb243592-faa2-4ba2-a551-00000000fake";
const OTHER_KEY: &str = "eb243592-faa2-4ba2-a551-0000000wrong";

fn setup(extra: &str) -> (Bed, Arc<Opsgenie>, Sandbox) {
    let bed = Bed::start();
    bed.no_rate_limit();
    let opsgenie = Opsgenie::new();
    bed.mount(PREFIX, opsgenie.clone());
    opsgenie.add_key(KEY);
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "oncall"
timeout = "3s"

[destinations.genie]
kind = "opsgenie"
api_key = "${{OPSGENIE_API_KEY}}"
api_url = "{}/opsgenie"
pace = "0s"
{extra}

[routes.oncall]
to = ["genie"]
"#,
        bed.url(),
    ));
    (bed, opsgenie, sandbox)
}

fn chime_as(sandbox: &Sandbox, key: &str, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("OPSGENIE_API_KEY", key);
    run(cmd)
}

fn chime(sandbox: &Sandbox, args: &[&str]) -> Run {
    chime_as(sandbox, KEY, args)
}

#[test]
fn opsgenie_alert_carries_message_priority_description_details_and_the_genie_key() {
    let (bed, opsgenie, sandbox) = setup("entity = \"db1\"");
    let args = [
        "send",
        "-t",
        "Disk full on db1",
        "-l",
        "critical",
        "-f",
        "mount=/var",
        "--link",
        "Graph=https://grafana.example/d/1",
        "only 2 GB left",
    ];
    chime(&sandbox, &args).code(0);
    let alerts = opsgenie.alerts();
    assert_eq!(alerts.len(), 1);
    let created = &alerts[0].created;
    assert_eq!(created["message"], "Disk full on db1");
    assert_eq!(created["priority"], "P1");
    assert_eq!(created["entity"], "db1");
    assert_eq!(created["details"], json!({"mount": "/var"}));
    assert_eq!(
        created["description"],
        "only 2 GB left\n\nGraph: https://grafana.example/d/1"
    );
    assert!(
        created.get("alias").is_none(),
        "no key: Opsgenie assigns one"
    );
    let request = &bed.delivered()[0];
    assert_eq!(request.path, "/opsgenie/v2/alerts");
    assert_eq!(
        request.header("authorization"),
        Some(&*format!("GenieKey {KEY}"))
    );
    assert_eq!(request.status, 202);
}

#[test]
fn opsgenie_priority_follows_the_level() {
    let (_bed, opsgenie, sandbox) = setup("");
    for level in ["critical", "error", "warning", "info", "success"] {
        chime(&sandbox, &["send", "-l", level, "x"]).code(0);
    }
    let priorities: Vec<Value> = opsgenie
        .alerts()
        .iter()
        .map(|a| a.created["priority"].clone())
        .collect();
    assert_eq!(priorities, ["P1", "P2", "P3", "P4", "P5"].map(Value::from));
}

#[test]
fn opsgenie_acknowledge_and_resolve_apply_to_the_alert_their_alias_names() {
    let (bed, opsgenie, sandbox) = setup("");
    chime(
        &sandbox,
        &["send", "--dedupe", "db1/down", "-l", "critical", "db1 down"],
    )
    .code(0);
    chime(
        &sandbox,
        &[
            "send",
            "--dedupe",
            "db1/down",
            "-l",
            "critical",
            "still down",
        ],
    )
    .code(0);
    chime(
        &sandbox,
        &["send", "--dedupe", "db1/down", "--acknowledge", "on it"],
    )
    .code(0);
    assert_eq!(opsgenie.alerts()[0].state, State::Acknowledged);
    chime(
        &sandbox,
        &["send", "--dedupe", "db1/down", "--resolve", "db1 is back"],
    )
    .code(0);
    let alerts = opsgenie.alerts();
    assert_eq!(alerts.len(), 1, "the repeat counted, not a second alert");
    assert_eq!((alerts[0].count, alerts[0].state), (2, State::Closed));
    assert_eq!(alerts[0].notes, ["on it", "db1 is back"]);
    let close = bed.delivered().pop().unwrap();
    assert_eq!(close.path, "/opsgenie/v2/alerts/db1%2Fdown/close");
    assert_eq!(close.query.as_deref(), Some("identifierType=alias"));
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
fn opsgenie_run_on_change_opens_an_alert_on_failure_and_closes_it_on_recovery() {
    let (_bed, opsgenie, sandbox) = setup("");
    let (command, broken) = job(&sandbox);
    std::fs::write(&broken, "").unwrap();
    run_job(&sandbox, &command).code(1);
    run_job(&sandbox, &command).code(1);
    let alerts = opsgenie.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].actions,
        ["create"],
        "a failure while open sends nothing"
    );
    assert_eq!(
        alerts[0].alias,
        command.join(" "),
        "keyed by the job's name"
    );
    assert_eq!(alerts[0].created["priority"], "P2");
    std::fs::remove_file(&broken).unwrap();
    run_job(&sandbox, &command).code(0);
    let alerts = opsgenie.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].actions, ["create", "close"]);
    assert_eq!(alerts[0].state, State::Closed, "closed by the recovery");
}

#[test]
fn opsgenie_message_is_cut_at_130_and_what_the_alert_cannot_hold_follows_in_notes() {
    let (_bed, opsgenie, sandbox) = setup("");
    let title = "Nightly backup of the primary cluster ü ".repeat(10);
    let title = title.trim();
    let text: String = (1..=2000)
        .map(|i| format!("line {i:04} of the log\n"))
        .collect();
    let mut cmd = sandbox.chime(&["send", "-t", title]);
    cmd.env("OPSGENIE_API_KEY", KEY);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let alerts = opsgenie.alerts();
    assert_eq!(alerts.len(), 1);
    let created = &alerts[0].created;
    let message = created["message"].as_str().unwrap();
    assert_eq!(message.chars().count(), MESSAGE_MAX);
    assert!(message.ends_with('…'));
    let description = created["description"].as_str().unwrap();
    assert!(description.chars().count() <= DESCRIPTION_MAX);
    assert!(description.starts_with(&format!("{title}\n\nline 0001")));
    assert!(!alerts[0].notes.is_empty());
    assert!(
        alerts[0]
            .notes
            .iter()
            .all(|n| n.chars().count() <= NOTE_MAX)
    );
    let whole = format!("{description}\n{}", alerts[0].notes.join("\n"));
    assert_eq!(
        whole,
        format!("{title}\n\n{}", text.trim_end()),
        "every line, in order"
    );
    assert!(alerts[0].alias.starts_with("chime-"), "notes need an alias");
}

#[test]
fn opsgenie_refusals_are_exit_65_with_their_errors_and_a_hint() {
    let (_bed, _opsgenie, sandbox) = setup(&format!("entity = \"{}\"", "e".repeat(600)));
    chime(&sandbox, &["send", "x"])
        .code(65)
        .stderr_has("422 Unprocessable Entity: Request body is not processable")
        .stderr_has("entity: entity can not be longer than 512 characters");
    let (_bed, _opsgenie, sandbox) = setup("");
    chime_as(&sandbox, OTHER_KEY, &["send", "x"])
        .code(65)
        .stderr_has("401 Unauthorized: Could not authenticate")
        .stderr_has("check `api_key`");
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
fn opsgenie_throttled_alert_is_queued_with_exit_75_and_flush_delivers_it_once() {
    let (bed, opsgenie, sandbox) = setup("");
    opsgenie.throttle(100);
    chime(
        &sandbox,
        &["send", "--dedupe", "db1", "-l", "error", "db1 down"],
    )
    .code(75)
    .stderr_has("429")
    .stderr_has("throttling");
    assert_eq!(bed.requests().len(), 1);
    let mut files = Vec::new();
    contents(sandbox.path(), &mut files);
    assert!(
        files
            .iter()
            .any(|(_, b)| String::from_utf8_lossy(b).contains("db1 down"))
    );
    for (path, bytes) in &files {
        assert!(
            !String::from_utf8_lossy(bytes).contains(KEY),
            "{path} holds the key"
        );
    }
    opsgenie.throttle(0);
    chime(&sandbox, &["flush", "--all"]).code(0);
    chime(&sandbox, &["flush", "--all"]).code(0);
    let alerts = opsgenie.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].alias.as_str(), alerts[0].count),
        ("db1", 1),
        "delivered once"
    );
}

#[test]
fn opsgenie_key_never_shows_in_dry_run_verbose_config_show_or_errors() {
    let (_bed, _opsgenie, sandbox) = setup("");
    chime(
        &sandbox,
        &["send", "--dry-run", "--dedupe", "k", "--resolve", "x"],
    )
    .code(0)
    .stdout_has("/opsgenie/v2/alerts/k/close?identifierType=alias")
    .stdout_has("GenieKey")
    .never_shows(KEY);
    chime(&sandbox, &["send", "-v", "x"])
        .code(0)
        .never_shows(KEY);
    chime(&sandbox, &["config", "show"])
        .code(0)
        .stdout_has("kind = \"opsgenie\"")
        .never_shows(KEY);
    chime_as(&sandbox, OTHER_KEY, &["send", "-v", "x"])
        .code(65)
        .never_shows(OTHER_KEY);
}

#[test]
fn opsgenie_chime_test_closes_an_alias_no_alert_has_and_notifies_no_one() {
    let (_bed, opsgenie, sandbox) = setup("");
    chime(&sandbox, &["test", "genie"]).code(0);
    assert!(opsgenie.alerts().is_empty(), "no alert was opened");
    assert_eq!(
        opsgenie.statuses(),
        [("close".to_owned(), "Alert does not exist".to_owned())]
    );
    chime_as(&sandbox, OTHER_KEY, &["test", "genie"])
        .code(65)
        .stdout_has("Could not authenticate");
}

/// POSTs `body` to `path` of the stand-in with `key`, and returns the status and the answer.
fn raw_post(bed: &Bed, path: &str, key: &str, body: &Value) -> (u16, Value) {
    use std::io::{Read, Write};
    let url = bed.url();
    let host = url.strip_prefix("http://").unwrap();
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: GenieKey {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
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
fn opsgenie_stand_in_refuses_what_the_alert_api_refuses() {
    let (bed, opsgenie, _sandbox) = setup("");
    let create = "/opsgenie/v2/alerts";
    let refused = |(status, answer): (u16, Value)| {
        assert_eq!(status, 422, "{answer}");
        let errors = answer["errors"].as_object().unwrap();
        errors.keys().cloned().collect::<Vec<_>>()
    };
    let long = "m".repeat(MESSAGE_MAX + 1);
    assert_eq!(
        refused(raw_post(&bed, create, KEY, &json!({"message": long}))),
        ["message"]
    );
    assert_eq!(
        refused(raw_post(&bed, create, KEY, &json!({"message": " "}))),
        ["message"]
    );
    let body = json!({"message": "m", "priority": "P6", "alias": "a".repeat(513)});
    assert_eq!(
        refused(raw_post(&bed, create, KEY, &body)),
        ["alias", "priority"]
    );
    let body = json!({"message": "m", "details": {"k": "v".repeat(8000)}});
    assert_eq!(refused(raw_post(&bed, create, KEY, &body)), ["details"]);
    let note = "/opsgenie/v2/alerts/a/notes?identifierType=alias";
    assert_eq!(refused(raw_post(&bed, note, KEY, &json!({}))), ["note"]);
    let (status, answer) = raw_post(&bed, create, OTHER_KEY, &json!({"message": "m"}));
    assert_eq!(
        (status, answer["message"].as_str()),
        (401, Some("Could not authenticate"))
    );
    let (status, answer) = raw_post(&bed, create, KEY, &json!({"message": "m"}));
    assert_eq!(status, 202);
    assert_eq!(answer["result"], "Request will be processed");
    assert!(answer["requestId"].as_str().is_some());
    assert_eq!(opsgenie.alerts().len(), 1, "only the last was taken");
}
