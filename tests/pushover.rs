//! `kind = "pushover"` against the Message API stand-in: what arrives, the split
//! at 1,024 characters, emergencies, refusals, the spool and secrets.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::bed::{Bed, Fault};
use crate::support::pushover::{MESSAGE_MAX, PREFIX, Pushover, TITLE_MAX};
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// Obviously fake keys of Pushover's shape: 30 characters of `[A-Za-z0-9]`.
const TOKEN: &str = "azGDORePK8gMaC0QOYAMyEEuzJnyUi";
const USER: &str = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG";

/// A bed with the stand-in mounted, and a profile whose default route goes to `pager`.
fn setup(extra: &str) -> (Bed, Arc<Pushover>, Sandbox) {
    let bed = Bed::start();
    let pushover = Pushover::new();
    bed.mount(PREFIX, pushover.clone());
    pushover.add_token(TOKEN);
    pushover.add_user(USER);
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "phone"
timeout = "3s"

[destinations.pager]
kind = "pushover"
token = "${{PUSHOVER_TOKEN}}"
user = "${{PUSHOVER_USER}}"
api_url = "{}/pushover"
{extra}

[routes.phone]
to = ["pager"]
"#,
        bed.url()
    ));
    (bed, pushover, sandbox)
}

fn chime_as(sandbox: &Sandbox, token: &str, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("PUSHOVER_TOKEN", token).env("PUSHOVER_USER", USER);
    run(cmd)
}

fn chime(sandbox: &Sandbox, args: &[&str]) -> Run {
    chime_as(sandbox, TOKEN, args)
}

#[test]
fn pushover_gets_title_text_fields_priority_and_the_first_link_as_its_url() {
    let (bed, pushover, sandbox) = setup("");
    let args = [
        "send",
        "-t",
        "Disk full",
        "-l",
        "error",
        "-f",
        "host=db1",
        "--link",
        "Graph=https://grafana.example/d/1",
        "--link",
        "Runbook=https://wiki.example/disk",
        "disk at 95% <b>",
    ];
    chime(&sandbox, &args).code(0);
    let got = pushover.messages();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(
        (m["token"].as_str(), m["user"].as_str()),
        (Some(TOKEN), Some(USER))
    );
    assert_eq!(m["title"], "Disk full");
    assert_eq!(
        m["message"],
        "disk at 95% <b>\n\nhost: db1\nRunbook: https://wiki.example/disk"
    );
    assert_eq!(m["priority"], 1, "an error bypasses quiet hours");
    assert_eq!(m["url"], "https://grafana.example/d/1");
    assert_eq!(m["url_title"], "Graph");
    assert!(m.get("html").is_none(), "plain text, shown as written");
    assert!(m.get("retry").is_none() && m.get("expire").is_none());
    let request = &bed.delivered()[0];
    assert_eq!(request.path, "/pushover/1/messages.json");
    assert_eq!(request.status, 200);
}

#[test]
fn pushover_priority_follows_the_level() {
    let (_bed, pushover, sandbox) = setup("");
    for level in ["info", "success", "warning", "error"] {
        chime(&sandbox, &["send", "-l", level, "x"]).code(0);
    }
    let priorities: Vec<i64> = pushover
        .messages()
        .iter()
        .map(|m| m["priority"].as_i64().unwrap())
        .collect();
    assert_eq!(priorities, [0, -1, 0, 1]);
}

#[test]
fn pushover_critical_is_an_emergency_that_carries_retry_and_expire() {
    let (bed, pushover, sandbox) = setup("");
    chime(&sandbox, &["send", "-l", "critical", "db down"]).code(0);
    let m = &pushover.messages()[0];
    assert_eq!(m["priority"], 2);
    assert_eq!(
        (m["retry"].as_u64(), m["expire"].as_u64()),
        (Some(60), Some(3600))
    );
    assert!(bed.delivered()[0].response.contains("\"receipt\""));

    let (_bed, pushover, sandbox) = setup("retry = 120\nexpire = 10800");
    chime(&sandbox, &["send", "-l", "critical", "db down"]).code(0);
    let m = &pushover.messages()[0];
    assert_eq!(
        (m["retry"].as_u64(), m["expire"].as_u64()),
        (Some(120), Some(10800))
    );
}

#[test]
fn pushover_retry_and_expire_out_of_bounds_are_profile_errors() {
    let (bed, _pushover, sandbox) = setup("retry = 10\nexpire = 86400");
    let out = chime(&sandbox, &["send", "-l", "critical", "x"]).code(78);
    out.stderr_has("`retry` of destination `pager` must be at least 30 seconds")
        .stderr_has("`expire` of destination `pager` must be between 1 and 10800");
    assert!(bed.requests().is_empty());
}

#[test]
fn pushover_message_over_1024_characters_arrives_whole_in_marked_parts() {
    let (bed, pushover, sandbox) = setup("");
    bed.no_rate_limit();
    let text: String = (1..=120)
        .map(|i| format!("line {i:03} of the nightly report, all quiet ✅\n"))
        .collect();
    let mut cmd = sandbox.chime(&["send", "-t", "Report"]);
    cmd.env("PUSHOVER_TOKEN", TOKEN).env("PUSHOVER_USER", USER);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let got = pushover.messages();
    assert_eq!(got.len(), bed.requests().len(), "every part was taken");
    assert!(got.len() >= 5, "{} parts", got.len());
    let count = got.len();
    let mut pieces = Vec::new();
    for (i, m) in got.iter().enumerate() {
        let message = m["message"].as_str().unwrap();
        assert!(message.chars().count() <= MESSAGE_MAX, "part {i}");
        assert_eq!(m["title"], format!("Report ({}/{count})", i + 1));
        pieces.push(message.to_owned());
    }
    assert_eq!(pieces.join("\n"), text.trim_end());
}

#[test]
fn pushover_long_title_is_cut_and_kept_whole_in_the_message() {
    let (_bed, pushover, sandbox) = setup("");
    let title = "Backup of the primary cluster ".repeat(20);
    let title = title.trim();
    chime(&sandbox, &["send", "-t", title, "done"]).code(0);
    let m = &pushover.messages()[0];
    let shown = m["title"].as_str().unwrap();
    assert!(
        shown.chars().count() <= TITLE_MAX && shown.ends_with('…'),
        "{shown}"
    );
    assert_eq!(m["message"], format!("{title}\n\ndone"));
}

#[test]
fn pushover_secrets_never_show_in_dry_run_verbose_or_errors() {
    let (_bed, _pushover, sandbox) = setup("");
    chime(&sandbox, &["send", "--dry-run", "x"])
        .code(0)
        .stdout_has("/pushover/1/messages.json")
        .never_shows(TOKEN)
        .never_shows(USER);
    chime(&sandbox, &["send", "-v", "x"])
        .code(0)
        .stderr_has("POST http://127.0.0.1:")
        .never_shows(TOKEN)
        .never_shows(USER);
    chime(&sandbox, &["config", "show"])
        .code(0)
        .stdout_has("kind = \"pushover\"")
        .never_shows(TOKEN)
        .never_shows(USER);
    let wrong = "bzGDORePK8gMaC0QOYAMyEEuzJnyUi";
    chime_as(&sandbox, wrong, &["send", "-v", "x"])
        .code(65)
        .never_shows(wrong)
        .never_shows(USER);
}

#[test]
fn pushover_bad_token_is_rejected_with_exit_65_the_errors_and_a_hint() {
    let (bed, _pushover, sandbox) = setup("");
    chime_as(&sandbox, "bzGDORePK8gMaC0QOYAMyEEuzJnyUi", &["send", "x"])
        .code(65)
        .stderr_has("400 Bad Request: application token is invalid")
        .stderr_has("check `token`");
    assert_eq!(bed.requests().len(), 1, "a refusal is not retried");
}

#[test]
fn pushover_server_trouble_is_queued_with_exit_75_and_flush_delivers_once() {
    let (bed, pushover, sandbox) = setup("");
    for _ in 0..3 {
        bed.fault(Fault::Status(503, "Service Unavailable"));
    }
    chime(&sandbox, &["send", "-t", "Nightly", "-l", "critical", "x"]).code(75);
    assert!(pushover.messages().is_empty());
    bed.clear_faults();
    chime(&sandbox, &["flush", "--all"]).code(0);
    chime(&sandbox, &["flush", "--all"]).code(0);
    let got = pushover.messages();
    assert_eq!(got.len(), 1, "delivered once");
    assert_eq!(
        (got[0]["title"].as_str(), got[0]["priority"].as_i64()),
        (Some("Nightly"), Some(2))
    );
}

#[test]
fn pushover_over_the_monthly_limit_is_queued_with_exit_75_and_not_asked_again_meanwhile() {
    let (bed, pushover, sandbox) = setup("");
    pushover.monthly_limit(0);
    chime(&sandbox, &["send", "x"])
        .code(75)
        .stderr_has("monthly message limit");
    // Pushover: retrying before the limit resets cannot help, and repeated 4xx
    // answers get the address blocked.
    let statuses: Vec<u16> = bed.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429], "asked once");
    chime(&sandbox, &["flush"]).code(75);
    assert_eq!(bed.requests().len(), 1, "a flush waits for the next hour");
    pushover.monthly_limit(10_000);
    chime(&sandbox, &["flush", "--all"]).code(0);
    assert_eq!(pushover.messages().len(), 1);
}

#[test]
fn pushover_chime_test_goes_through_the_api() {
    let (_bed, pushover, sandbox) = setup("");
    chime(&sandbox, &["test", "pager"]).code(0);
    assert_eq!(pushover.messages().len(), 1);
}

/// POSTs `body` as JSON to the stand-in and returns the status and the answer.
fn raw_post(bed: &Bed, body: &Value) -> (u16, Value) {
    let url = bed.url();
    let host = url.strip_prefix("http://").unwrap();
    let body = body.to_string();
    let mut stream = TcpStream::connect(host).unwrap();
    let request = format!(
        "POST /pushover/1/messages.json HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
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
fn pushover_stand_in_refuses_what_the_api_refuses() {
    let (bed, pushover, _sandbox) = setup("");
    let base = json!({"token": TOKEN, "user": USER, "message": "x"});
    let with = |extra: Value| {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        raw_post(&bed, &body)
    };
    let (status, answer) = with(json!({"message": "m".repeat(MESSAGE_MAX + 1)}));
    assert_eq!((status, answer["status"].as_i64()), (400, Some(0)));
    assert_eq!(answer["message"], "invalid");
    let (status, answer) = with(json!({"priority": 2}));
    assert_eq!(status, 400);
    assert_eq!(
        answer["errors"][0],
        "retry must be supplied with priority=2"
    );
    let (status, _) = with(json!({"priority": 2, "retry": 30, "expire": 10_801}));
    assert_eq!(status, 400);
    let (status, _) = with(json!({"url": format!("https://x.example/{}", "a".repeat(512))}));
    assert_eq!(status, 400);
    let (status, answer) = with(json!({"user": "uQiRzpo4DXghDmr9QzzfQu27cmVRsX"}));
    assert_eq!((status, answer["user"].as_str()), (400, Some("invalid")));
    let (status, answer) = with(json!({"title": "t".repeat(TITLE_MAX)}));
    assert_eq!((status, answer["status"].as_i64()), (200, Some(1)));
    assert_eq!(pushover.messages().len(), 1, "only the last was taken");
}
