//! `kind = "teams"` against the Workflows stand-in: Adaptive Cards that arrive, splits
//! that beat the silent 28 KB drop, throttling, refusals and secrets.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::bed::{Bed, Fault};
use crate::support::teams::{MAX_REQUEST, MAX_STORED, TOO_LARGE, Teams, stored_size};
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// A sandbox whose default route goes to one Teams workflow, its URL from `$TEAMS_URL`.
fn setup() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[defaults]
route = "teams"
timeout = "10s"

[destinations.channel]
kind = "teams"
url = "${TEAMS_URL}"

[routes.teams]
to = ["channel"]
"#,
    );
    sandbox
}

fn chime(sandbox: &Sandbox, url: &str, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("TEAMS_URL", url);
    run(cmd)
}

fn card(request: &crate::support::bed::Request) -> Value {
    let body = request.json();
    assert_eq!(body["type"], "message");
    let attachment = &body["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    attachment["content"].clone()
}

/// The card's text blocks that carry the message's text (not its title or context line).
fn text_blocks(card: &Value) -> Vec<String> {
    card["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "TextBlock" && e["weight"].is_null() && e["isSubtle"].is_null())
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn teams_gets_an_adaptive_card_with_title_text_facts_and_link_buttons() {
    let bed = Bed::start();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    let sandbox = setup();
    chime(
        &sandbox,
        &url,
        &[
            "send",
            "-t",
            "Nightly backup",
            "-l",
            "success",
            "-f",
            "size=12G",
            "--link",
            "Logs=https://ci.example/42",
            "all good",
        ],
    )
    .code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1, "202 Accepted and posted");
    assert_eq!(got[0].status, 202);
    let card = card(&got[0]);
    assert_eq!(card["type"], "AdaptiveCard");
    let body = card["body"].as_array().unwrap();
    assert_eq!(body[0]["text"], "✅ Nightly backup");
    assert_eq!(body[0]["color"], "Good");
    assert_eq!(body[1]["text"], "all good");
    assert_eq!(body[2]["type"], "FactSet");
    assert_eq!(body[2]["facts"][0]["title"], "size");
    assert_eq!(body[2]["facts"][0]["value"], "12G");
    assert_eq!(body[3]["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(body[3]["actions"][0]["url"], "https://ci.example/42");
    assert!(teams.failed_runs().is_empty());
}

#[test]
fn teams_stand_in_accepts_an_oversized_card_with_202_and_drops_it() {
    let bed = Bed::start();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    let text = "x".repeat(MAX_REQUEST);
    let body = serde_json::json!({"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "version": "1.2",
                    "body": [{"type": "TextBlock", "text": text}]}}]});
    assert_eq!(raw_post(&url, &body.to_string()), 202);
    assert!(
        bed.delivered().is_empty(),
        "the card never reached the channel"
    );
    assert_eq!(teams.failed_runs(), vec![TOO_LARGE.to_owned()]);
}

#[test]
fn teams_stand_in_drops_a_card_that_is_over_28_kib_as_teams_stores_it() {
    let bed = Bed::start();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    // Quotes cost two bytes as sent and four once the flow stores the card as a string.
    let text = "\"".repeat(13_000);
    let body = serde_json::json!({"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "version": "1.2",
                    "body": [{"type": "TextBlock", "text": text}]}}]})
    .to_string();
    assert!(body.len() <= MAX_REQUEST && stored_size(&body) > MAX_STORED);
    assert_eq!(raw_post(&url, &body), 202);
    assert!(bed.delivered().is_empty(), "accepted, then dropped");
    let runs = teams.failed_runs();
    assert!(runs[0].starts_with("MessageSizeExceeded"), "{runs:?}");
}

#[test]
fn teams_message_over_28_kb_is_split_into_marked_cards_that_all_arrive_in_order() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    let sandbox = setup();
    let text: String = (1..=2000)
        .map(|i| format!("line {i:05} of the nightly report, nothing to see here\n"))
        .collect();
    let mut cmd = sandbox.chime(&["send", "-t", "Report"]);
    cmd.env("TEAMS_URL", &url);
    run_with_stdin(cmd, text.as_bytes()).code(0);

    assert!(teams.failed_runs().is_empty(), "{:?}", teams.failed_runs());
    let got = bed.delivered();
    assert_eq!(got.len(), bed.requests().len(), "every card was posted");
    assert!(got.len() >= 4, "{} parts", got.len());
    let count = got.len();
    let mut pieces = Vec::new();
    for (i, request) in got.iter().enumerate() {
        assert!(
            request.body.len() <= MAX_REQUEST,
            "part {i} is {} bytes",
            request.body.len()
        );
        let card = card(request);
        let title = card["body"][0]["text"].as_str().unwrap();
        assert_eq!(title, format!("Report ({}/{count})", i + 1));
        pieces.extend(text_blocks(&card));
    }
    assert_eq!(pieces.join("\n"), text.trim_end());
}

#[test]
fn teams_throttled_send_waits_for_retry_after_then_delivers() {
    let bed = Bed::start();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    let sandbox = setup();
    bed.fault(Fault::RateLimit(1));
    let started = Instant::now();
    chime(&sandbox, &url, &["send", "x"]).code(0);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for Retry-After"
    );
    let requests = bed.requests();
    assert_eq!(requests[0].status, 429);
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn teams_url_without_its_signature_is_dead_lettered_with_exit_65_and_a_hint() {
    let bed = Bed::start();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    let unsigned = url.split("&sig=").next().unwrap();
    let sandbox = setup();
    chime(&sandbox, unsigned, &["send", "x"])
        .code(65)
        .stderr_has("401 DirectApiAuthorizationRequired")
        .stderr_has("copy the whole URL again");
    assert_eq!(bed.requests().len(), 1, "a refusal is not retried");
}

#[test]
fn teams_deleted_workflow_is_rejected_with_a_hint_to_create_one() {
    let bed = Bed::start();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    teams.delete("ops");
    chime(&setup(), &url, &["send", "x"])
        .code(65)
        .stderr_has("404 WorkflowNotFound")
        .stderr_has("Send webhook alerts to a channel");
}

#[test]
fn teams_escapes_markdown_and_angle_brackets_in_user_text() {
    let bed = Bed::start();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    chime(
        &setup(),
        &url,
        &[
            "send",
            "-t",
            "a_b <c>",
            "-f",
            "k*=v_",
            "a < b && *c* _d_ [e](f) `g`\n- h",
        ],
    )
    .code(0);
    let card = card(&bed.delivered()[0]);
    assert_eq!(card["body"][0]["text"], "a\\_b &lt;c&gt;");
    assert_eq!(
        card["body"][1]["text"],
        "a &lt; b &amp;&amp; \\*c\\* \\_d\\_ \\[e\\](f) \\`g\\`\n\\- h"
    );
    assert_eq!(card["body"][2]["facts"][0]["title"], "k\\*");
    assert_eq!(card["body"][2]["facts"][0]["value"], "v\\_");
}

#[test]
fn teams_signature_never_shows_in_dry_run_verbose_or_errors() {
    let bed = Bed::start();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    let sig = url.split("sig=").nth(1).unwrap().to_owned();
    let sandbox = setup();
    chime(&sandbox, &url, &["send", "--dry-run", "x"])
        .code(0)
        .stdout_has("/teams/workflows/")
        .never_shows(&sig);
    chime(&sandbox, &url, &["send", "-v", "x"])
        .code(0)
        .stderr_has("POST http://127.0.0.1:")
        .never_shows(&sig);
    teams.delete("ops");
    chime(&sandbox, &url, &["send", "-v", "x"])
        .code(65)
        .never_shows(&sig);
}

/// POSTs `body` with a bare HTTP/1.1 client and returns the status.
fn raw_post(url: &str, body: &str) -> u16 {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, target) = rest.split_at(rest.find('/').unwrap());
    let mut stream = TcpStream::connect(host).unwrap();
    let request = format!(
        "POST {target} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn teams_ten_fields_of_3000_characters_are_split_into_cards_that_all_arrive_in_order() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    let values: Vec<String> = (1..=10)
        .map(|i| {
            let words: String = (0..600).map(|w| format!("v{i:02}w{w:03}")).collect();
            words.chars().take(3000).collect()
        })
        .collect();
    let mut args = vec!["send".to_owned(), "-t".to_owned(), "Inventory".to_owned()];
    for (i, value) in values.iter().enumerate() {
        args.extend(["-f".to_owned(), format!("k{}={value}", i + 1)]);
    }
    args.push("ten long fields".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chime(&setup(), &url, &args).code(0);

    assert!(teams.failed_runs().is_empty(), "{:?}", teams.failed_runs());
    let got = bed.delivered();
    assert_eq!(got.len(), bed.requests().len(), "every card was posted");
    assert!(got.len() >= 2, "{} parts", got.len());
    let mut facts = Vec::new();
    for request in &got {
        let size = stored_size(&request.text());
        assert!(size <= MAX_STORED, "a card of {size} bytes as stored");
        let card = card(request);
        for element in card["body"].as_array().unwrap() {
            for fact in element["facts"].as_array().into_iter().flatten() {
                let (title, value) = (&fact["title"], &fact["value"]);
                facts.push((
                    title.as_str().unwrap().to_owned(),
                    value.as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    let wanted: Vec<(String, String)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("k{}", i + 1), v.clone()))
        .collect();
    assert_eq!(facts, wanted, "every fact whole, in order, each once");
}

#[test]
fn teams_escapes_numbered_list_markers_in_user_text() {
    let bed = Bed::start();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    chime(&setup(), &url, &["send", "1. one\n 22. two\nv1.2"]).code(0);
    let card = card(&bed.delivered()[0]);
    assert_eq!(text_blocks(&card), ["1\\. one\n 22\\. two\nv1.2"]);
}

#[test]
fn teams_link_with_spaces_and_markup_arrives_as_a_valid_open_url() {
    let bed = Bed::start();
    let teams = Teams::mount(&bed);
    let url = teams.workflow(&bed, "ops");
    let link = "Run=https://ci.example/a b|c<d>\"e`f?q=ü";
    chime(&setup(), &url, &["send", "--link", link, "deployed"]).code(0);
    assert_eq!(teams.failed_runs(), Vec::<String>::new());
    let card = card(&bed.delivered()[0]);
    let card = card.to_string();
    assert!(
        card.contains(r#""url":"https://ci.example/a%20b%7Cc%3Cd%3E%22e%60f?q=%C3%BC""#),
        "{card}"
    );
}
