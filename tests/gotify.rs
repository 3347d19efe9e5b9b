//! `kind = "gotify"` against the Gotify stand-in: what is stored, where the token goes,
//! and what the exit code says.

use std::sync::Arc;

use crate::support::bed::{Bed, Fault, Request, Surface};
use crate::support::gotify::{APP_TOKEN, CLIENT_TOKEN, Gotify, PREFIX, TEXT_MAX, error_body};
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// A bed with the stand-in mounted and a profile whose default route goes to `phone`,
/// its token from `$GOTIFY_TOKEN` (the application's, unless a test sets another).
fn setup() -> (Bed, Arc<Gotify>, Sandbox) {
    let bed = Bed::start();
    bed.no_rate_limit();
    let gotify = Gotify::new();
    bed.mount(PREFIX, gotify.clone());
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "home"
timeout = "5s"

[destinations.phone]
kind = "gotify"
url = "{}/gotify"
token = "${{GOTIFY_TOKEN}}"

[routes.home]
to = ["phone"]
"#,
        bed.url()
    ));
    (bed, gotify, sandbox)
}

fn chime(sandbox: &Sandbox, args: &[&str]) -> Run {
    chime_with(sandbox, APP_TOKEN, args)
}

fn chime_with(sandbox: &Sandbox, token: &str, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("GOTIFY_TOKEN", token);
    run(cmd)
}

#[test]
fn gotify_stores_the_title_markdown_text_priority_and_extras() {
    let (bed, gotify, sandbox) = setup();
    chime(
        &sandbox,
        &[
            "send",
            "-t",
            "Disk <almost> full",
            "-l",
            "warning",
            "-f",
            "free=3%",
            "--link",
            "Dashboard=https://grafana.example/d/1",
            "*root* is at 97%",
        ],
    )
    .code(0);
    let stored = gotify.stored();
    assert_eq!(stored.len(), 1);
    let got = &stored[0];
    assert_eq!(got.title, "Disk <almost> full", "the title is plain text");
    assert_eq!(got.priority, 5);
    assert!(
        got.message.starts_with(r"\*root\* is at 97%"),
        "{}",
        got.message
    );
    assert!(got.message.contains("- **free**: 3%"), "{}", got.message);
    assert!(
        got.message
            .contains("- [Dashboard](https://grafana.example/d/1)"),
        "{}",
        got.message
    );
    assert_eq!(
        got.extras["client::display"]["contentType"],
        "text/markdown"
    );
    assert_eq!(
        got.extras["client::notification"]["click"]["url"],
        "https://grafana.example/d/1"
    );
    assert_eq!(got.token_from, "header");
    assert_eq!(bed.delivered()[0].path, "/gotify/message");
}

#[test]
fn gotify_priority_follows_the_level() {
    let (_bed, gotify, sandbox) = setup();
    for level in ["info", "success", "warning", "error", "critical"] {
        chime(&sandbox, &["send", "-l", level, "x"]).code(0);
    }
    let priorities: Vec<i64> = gotify.stored().iter().map(|s| s.priority).collect();
    assert_eq!(priorities, [2, 2, 5, 8, 10]);
}

#[test]
fn gotify_token_goes_only_in_the_header_and_is_never_shown() {
    let (bed, _gotify, sandbox) = setup();
    chime(&sandbox, &["send", "-v", "x"])
        .code(0)
        .never_shows(APP_TOKEN);
    let sent = &bed.delivered()[0];
    assert_eq!(sent.header("x-gotify-key"), Some(APP_TOKEN));
    assert_eq!(sent.query, None, "never ?token= in the URL");
    assert!(!sent.text().contains(APP_TOKEN));
    chime(&sandbox, &["send", "--dry-run", "x"])
        .code(0)
        .stdout_has("x-gotify-key: ****")
        .never_shows(APP_TOKEN);
    chime(&sandbox, &["send", "--dry-run", "--json", "x"])
        .code(0)
        .never_shows(APP_TOKEN);
    chime(&sandbox, &["config", "show"])
        .code(0)
        .stdout_has("token = \"****\"")
        .never_shows(APP_TOKEN);
    chime_with(&sandbox, "AwrongSecretTok", &["send", "-v", "x"])
        .code(65)
        .never_shows("AwrongSecretTok");
}

#[test]
fn gotify_unknown_token_is_dead_lettered_with_exit_65_and_a_hint() {
    let (bed, gotify, sandbox) = setup();
    chime_with(&sandbox, "AnotAnAppToken1", &["send", "x"])
        .code(65)
        .stderr_has("401 Unauthorized: you need to provide a valid access token")
        .stderr_has("copy the token of an application");
    assert_eq!(bed.requests().len(), 1, "a refusal is not retried");
    assert!(gotify.stored().is_empty());
}

#[test]
fn gotify_client_token_is_refused_with_a_hint_to_use_the_applications() {
    let (_bed, _gotify, sandbox) = setup();
    chime_with(&sandbox, CLIENT_TOKEN, &["send", "x"])
        .code(65)
        .stderr_has("400 Bad Request: appid is required")
        .stderr_has("`token` is a client token");
}

#[test]
fn gotify_wrong_url_is_refused_with_a_hint_about_the_base_url() {
    let (bed, _gotify, sandbox) = setup();
    let profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    sandbox.profile(&profile.replace("/gotify\"", "/gotify/message\""));
    chime(&sandbox, &["send", "x"])
        .code(65)
        .stderr_has("404 Not Found: page not found")
        .stderr_has("without /message");
    assert_eq!(bed.requests()[0].path, "/gotify/message/message");
}

#[test]
fn gotify_server_error_is_queued_with_75_and_flush_delivers_it_once() {
    let (bed, gotify, sandbox) = setup();
    for _ in 0..3 {
        bed.fault(Fault::Json(
            500,
            r#"{"error":"Internal Server Error","errorCode":500,"errorDescription":"database is locked"}"#,
        ));
    }
    chime(&sandbox, &["send", "-t", "Backup", "-l", "error", "x"]).code(75);
    assert!(gotify.stored().is_empty());
    chime(&sandbox, &["flush", "--all"]).code(0);
    chime(&sandbox, &["flush", "--all"]).code(0);
    let stored = gotify.stored();
    assert_eq!((stored.len(), stored[0].id), (1, 1), "delivered once");
    assert_eq!(
        (stored[0].title.as_str(), stored[0].priority),
        ("Backup", 8)
    );
}

#[test]
fn gotify_message_over_its_text_column_is_split_into_marked_parts_in_order() {
    let (bed, gotify, sandbox) = setup();
    let text: String = (1..=4000)
        .map(|i| format!("line {i:05} of the nightly report, all *fine* here\n"))
        .collect();
    assert!(text.len() > 3 * 60_000);
    let mut cmd = sandbox.chime(&["send", "-t", "Report"]);
    cmd.env("GOTIFY_TOKEN", APP_TOKEN);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    assert_eq!(bed.delivered().len(), bed.requests().len(), "none refused");
    let stored = gotify.stored();
    let count = stored.len();
    assert!(count >= 4, "{count} parts");
    let mut joined = Vec::new();
    for (i, part) in stored.iter().enumerate() {
        assert!(
            part.message.len() <= 60_000,
            "part {i}: {}",
            part.message.len()
        );
        assert_eq!(part.title, format!("Report ({}/{count})", i + 1));
        joined.push(part.message.replace(r"\*", "*").replace("  \n", "\n"));
    }
    let joined = joined.join("\n");
    let lines: Vec<&str> = joined.lines().filter(|l| !l.is_empty()).collect();
    let wanted: Vec<&str> = text.lines().collect();
    let first = lines.iter().zip(&wanted).position(|(a, b)| a != b);
    let first = first.map(|i| (lines[i], wanted[i]));
    assert_eq!(
        (first, lines.len()),
        (None, wanted.len()),
        "every line, in order"
    );
}

#[test]
fn gotify_title_alone_is_sent_as_the_message_it_requires() {
    let (_bed, gotify, sandbox) = setup();
    let mut cmd = sandbox.chime(&["send", "-t", "Deployed *v2*"]);
    cmd.env("GOTIFY_TOKEN", APP_TOKEN);
    run_with_stdin(cmd, b"").code(0);
    let stored = gotify.stored();
    assert_eq!(stored[0].title, "Deployed *v2*");
    assert_eq!(stored[0].message, r"Deployed \*v2\*");
}

#[test]
fn chime_test_reaches_gotify_through_the_generic_path() {
    let (_bed, gotify, sandbox) = setup();
    chime(&sandbox, &["test", "phone"])
        .code(0)
        .stdout_has("phone");
    assert_eq!(gotify.stored().len(), 1);
}

#[test]
fn gotify_without_a_profile_is_a_usage_error_that_keeps_the_token_out_of_urls() {
    let sandbox = Sandbox::new();
    run(sandbox.chime(&[
        "send",
        "--to",
        "https://gotify.example.com",
        "--kind",
        "gotify",
        "x",
    ]))
    .code(2)
    .stderr_has("needs an application token");
}

fn post(path: &str, headers: &[(&str, &str)], body: &str) -> Request {
    Request {
        method: "POST".into(),
        path: path.into(),
        query: None,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
        status: 0,
        response: String::new(),
    }
}

#[test]
fn gotify_stand_in_answers_as_the_gotify_server_does() {
    let gotify = Gotify::new();
    let mut limit = |_: &str| Ok(());
    let json = ("content-type", "application/json");
    let key = ("x-gotify-key", APP_TOKEN);
    let answer = |r: &Request| {
        let a = gotify.answer(r, &mut |_| Ok(()));
        (
            a.status,
            serde_json::from_str::<serde_json::Value>(&a.body).unwrap(),
        )
    };
    let (status, body) = answer(&post("/gotify/message", &[json], r#"{"message":"x"}"#));
    let unauthorized =
        "you need to provide a valid access token or user credentials to access this api";
    assert_eq!((status, body), (401, error_body(401, unauthorized)));
    let (status, body) = answer(&post("/gotify/message", &[json, key], r#"{"title":"t"}"#));
    assert_eq!(
        (status, body),
        (400, error_body(400, "Field 'message' is required"))
    );
    let (status, body) = answer(&post(
        "/gotify/message",
        &[json, key],
        r#"{"message":"x","priority":"high"}"#,
    ));
    assert_eq!(status, 400);
    assert!(
        body["errorDescription"]
            .as_str()
            .unwrap()
            .contains("priority")
    );
    let (status, body) = answer(&post("/gotify/messages", &[json, key], "{}"));
    assert_eq!((status, body), (404, error_body(404, "page not found")));
    let big = serde_json::json!({"message": "x".repeat(TEXT_MAX + 1)}).to_string();
    let (status, _) = answer(&post("/gotify/message", &[json, key], &big));
    assert_eq!(status, 500, "MySQL's text column");
    let mut by_query = post("/gotify/message", &[json], r#"{"message":"x"}"#);
    by_query.query = Some(format!("token={APP_TOKEN}"));
    let ok = gotify.answer(&by_query, &mut limit);
    assert_eq!(ok.status, 200);
    let ok: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(
        (ok["id"].as_u64(), ok["title"].as_str()),
        (Some(1), Some("chime-tests"))
    );
    assert_eq!(ok["priority"], 0, "the application's default priority");
    assert_eq!(gotify.stored()[0].token_from, "query");
}
