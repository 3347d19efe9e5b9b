//! `kind = "mattermost"` against the Mattermost stand-in: what arrives, and what the exit code says.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::bed::{Bed, Fault};
use crate::support::discord::post_json;
use crate::support::mattermost::{Mattermost, POST_MAX};
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// A bed with Mattermost mounted, and a sandbox whose default route is the webhook `ops`,
/// given through `${MM_URL}`, posting to `#deploys`.
fn setup() -> (Bed, Arc<Mattermost>, Sandbox) {
    let bed = Bed::start();
    let mattermost = Mattermost::mount(&bed);
    mattermost.add_channel("deploys");
    let sandbox = Sandbox::new();
    sandbox.profile(
        r##"
[defaults]
route = "chat"
timeout = "5s"

[destinations.mm]
kind = "mattermost"
url = "${MM_URL}"
channel = "#deploys"
username = "chime"
icon_url = "https://example.com/chime.png"

[routes.chat]
to = ["mm"]
"##,
    );
    (bed, mattermost, sandbox)
}

fn command(sandbox: &Sandbox, bed: &Bed, mm: &Mattermost, args: &[&str]) -> std::process::Command {
    let mut cmd = sandbox.chime(args);
    cmd.env("MM_URL", mm.hook(bed, "ops"));
    cmd
}

fn chime(sandbox: &Sandbox, bed: &Bed, mm: &Mattermost, args: &[&str]) -> Run {
    run(command(sandbox, bed, mm, args))
}

#[test]
fn mattermost_send_posts_text_and_an_attachment_with_colour_fields_and_footer() {
    let (bed, mm, sandbox) = setup();
    let args = [
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
    ];
    chime(&sandbox, &bed, &mm, &args).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].response, "ok");
    let body = got[0].json();
    assert_eq!(
        body["text"],
        "✅ **Nightly backup**\nall good\n[Logs](https://ci.example/42)"
    );
    assert_eq!(body["channel"], "#deploys");
    assert_eq!(body["username"], "chime");
    assert_eq!(body["icon_url"], "https://example.com/chime.png");
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["color"], "#2EB67D");
    assert_eq!(
        attachment["fields"],
        json!([{"title": "size", "value": "12G", "short": true}])
    );
    assert!(attachment["footer"].is_string());
    let posts = mm.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].channel, "deploys");
}

#[test]
fn mattermost_stand_in_refuses_as_the_server_does() {
    let (bed, mm, _) = setup();
    let url = mm.hook(&bed, "ops");
    let (status, body) = post_json(&url, "{}");
    assert_eq!(status, 400);
    assert!(
        body.contains(r#""id":"web.incoming_webhook.text.app_error""#),
        "{body}"
    );
    let (status, body) = post_json(&url, "{not json");
    assert_eq!(status, 400);
    assert!(
        body.contains("model.incoming_hook.parse_data.app_error"),
        "{body}"
    );
    let (status, body) = post_json(&url, r##"{"text": "x", "channel": "#nope"}"##);
    assert_eq!(status, 404);
    assert!(
        body.contains("web.incoming_webhook.channel.app_error"),
        "{body}"
    );
    let locked = mm.hook_in(&bed, "locked", "town-square", true);
    let (status, body) = post_json(&locked, r#"{"text": "x", "channel": "deploys"}"#);
    assert_eq!(status, 403);
    assert!(body.contains("channel_locked"), "{body}");
    mm.add_user("alice");
    assert_eq!(
        post_json(&url, r#"{"text": "x", "channel": "@alice"}"#),
        (200, "ok".into())
    );
    let (status, body) = post_json(&url, r#"{"text": "x", "channel": "@bob"}"#);
    assert_eq!(status, 400);
    assert!(
        body.contains("web.incoming_webhook.user.app_error"),
        "{body}"
    );
    mm.delete("ops");
    let (status, body) = post_json(&url, r#"{"text": "x"}"#);
    assert_eq!(status, 400);
    assert!(
        body.contains("web.incoming_webhook.invalid.app_error"),
        "{body}"
    );
    let long = json!({"text": "y".repeat(POST_MAX + 10)}).to_string();
    assert_eq!(post_json(&locked, &long), (200, "ok".into()));
    assert_eq!(
        mm.posts().len(),
        3,
        "the server splits what chime must not send"
    );
}

#[test]
fn mattermost_429_waits_for_retry_after_then_delivers() {
    let (bed, mm, sandbox) = setup();
    bed.fault(Fault::RateLimit(1));
    let started = Instant::now();
    chime(&sandbox, &bed, &mm, &["send", "x"]).code(0);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for Retry-After"
    );
    let requests = bed.requests();
    assert_eq!(
        (requests[0].status, requests[0].response.as_str()),
        (429, "limit exceeded\n")
    );
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn mattermost_rate_limit_paces_a_multi_part_message() {
    let (bed, mm, sandbox) = setup();
    mm.enable_rate_limit();
    bed.set_rate(1, 2.0);
    let text = format!("{}\n", "z".repeat(999)).repeat(40);
    let cmd = command(&sandbox, &bed, &mm, &["send", "--timeout", "20s"]);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    assert_eq!(bed.delivered().len(), 3);
    assert!(
        bed.requests().iter().any(|r| r.status == 429),
        "throttled at least once"
    );
}

#[test]
fn mattermost_deleted_webhook_exits_65_with_the_error_id_and_a_hint() {
    let (bed, mm, sandbox) = setup();
    let cmd = command(&sandbox, &bed, &mm, &["send", "--json", "x"]);
    mm.delete("ops");
    let out = run(cmd)
        .code(65)
        .stderr_has("400 Invalid webhook. (web.incoming_webhook.invalid.app_error)")
        .stderr_has("create a new one");
    assert_eq!(out.json_lines()[0]["status"], "rejected");
    assert_eq!(
        bed.requests().len(),
        1,
        "a permanent refusal is not retried"
    );
}

#[test]
fn mattermost_unknown_channel_and_disabled_webhooks_are_rejected_with_hints() {
    let (bed, mm, sandbox) = setup();
    chime(&sandbox, &bed, &mm, &["send", "--channel", "#nope", "x"])
        .code(65)
        .stderr_has("web.incoming_webhook.channel.app_error")
        .stderr_has("channel's name");
    mm.disable();
    chime(&sandbox, &bed, &mm, &["send", "x"])
        .code(65)
        .stderr_has("501 Incoming webhooks have been disabled")
        .stderr_has("System Console");
    assert_eq!(
        bed.requests().len(),
        2,
        "501 here is not server trouble: no retry"
    );
}

#[test]
fn mattermost_200_that_is_not_ok_is_not_a_delivery() {
    let (bed, mm, sandbox) = setup();
    bed.fault(Fault::Status(
        200,
        "<!doctype html><title>Mattermost</title>",
    ));
    chime(&sandbox, &bed, &mm, &["send", "x"])
        .code(65)
        .stderr_has("not a Mattermost webhook answer")
        .stderr_has("/hooks/");
}

#[test]
fn mattermost_long_text_is_split_before_the_server_would_and_arrives_in_order() {
    let (bed, mm, sandbox) = setup();
    bed.no_rate_limit();
    let line = "0123456789 ".repeat(9);
    let text: String = (0..450).map(|i| format!("{i:05} {line}\n")).collect();
    let cmd = command(&sandbox, &bed, &mm, &["send", "-t", "big log"]);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 3);
    assert_eq!(mm.posts().len(), got.len(), "the server split nothing");
    let mut rebuilt = String::new();
    for (i, request) in got.iter().enumerate() {
        let body = request.json();
        let post = body["text"].as_str().unwrap();
        assert!(post.chars().count() <= POST_MAX);
        let (headline, rest) = post.split_once('\n').unwrap();
        assert_eq!(headline, format!("**big log** ({}/3)", i + 1));
        rebuilt.push_str(rest);
        rebuilt.push('\n');
        assert!(
            body["attachments"][0]["footer"]
                .as_str()
                .unwrap()
                .ends_with(&format!("part {}/3", i + 1))
        );
    }
    assert_eq!(rebuilt, text, "every line arrived, in order, once");
}

#[test]
fn mattermost_split_code_block_is_fenced_and_verbatim() {
    let (bed, mm, sandbox) = setup();
    bed.no_rate_limit();
    let text: String = (0..400)
        .map(|i| {
            format!(
                "{i:04} if a < b && c > d {{ x @y *z* }} {}\n",
                "-".repeat(30)
            )
        })
        .collect();
    let cmd = command(&sandbox, &bed, &mm, &["send", "--code"]);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let mut rebuilt = String::new();
    for request in bed.delivered() {
        let post = request.json()["text"].as_str().unwrap().to_owned();
        let (_, rest) = post.split_once('\n').unwrap();
        let inner = rest
            .strip_prefix("```\n")
            .and_then(|r| r.strip_suffix("\n```"))
            .expect("fenced");
        rebuilt.push_str(inner);
        rebuilt.push('\n');
    }
    assert_eq!(rebuilt, text);
}

#[test]
fn mattermost_user_text_cannot_mention_link_or_become_markdown() {
    let (bed, mm, sandbox) = setup();
    let text =
        "<!channel> @all <https://evil.example|click> a & b **bold** #tag ~town-square\n- item";
    chime(&sandbox, &bed, &mm, &["send", "-f", "who=@here", text]).code(0);
    let body = bed.delivered()[0].json();
    assert_eq!(
        body["text"],
        "&lt;!channel&gt; &#64;all &lt;https://evil.example\\|click&gt; a &amp; b \\*\\*bold\\*\\* \\#tag \\~town-square\n\\- item"
    );
    let post = &mm.posts()[0];
    assert!(post.mentions().is_empty(), "{:?}", post.mentions());
    assert!(!post.message.contains("](https://evil"), "no link was made");
}

#[test]
fn mattermost_webhook_url_never_shows_in_dry_run_verbose_or_errors() {
    let (bed, mm, sandbox) = setup();
    let secret = "fakemmhookops";
    let out = chime(&sandbox, &bed, &mm, &["send", "--dry-run", "hello"])
        .code(0)
        .stdout_has("/mattermost/hooks/****");
    out.never_shows(secret);
    assert!(bed.requests().is_empty());
    chime(&sandbox, &bed, &mm, &["send", "-v", "hello"])
        .code(0)
        .never_shows(secret);
    let cmd = command(&sandbox, &bed, &mm, &["send", "-v", "hello"]);
    mm.delete("ops");
    run(cmd).code(65).never_shows(secret);
}

#[test]
fn mattermost_url_may_come_from_a_file() {
    let bed = Bed::start();
    let mm = Mattermost::mount(&bed);
    let url = mm.hook(&bed, "filed");
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("mm_url");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    sandbox.profile(&format!(
        "[destinations.mm]\nkind = \"mattermost\"\nurl = {{ file = \"{}\" }}\n",
        file.display()
    ));
    run(sandbox.chime(&["send", "--to", "mm", "x"])).code(0);
    assert_eq!(mm.posts()[0].channel, "town-square");
}

#[test]
fn mattermost_fields_beyond_one_posts_properties_go_on_further_posts_whole() {
    let (bed, mm, sandbox) = setup();
    // `@` and `<` escape to entities, which Mattermost counts again as JSON
    // escapes: thirty of these are far over a post's 760,000 runes of properties.
    let values: Vec<String> = (1..=30)
        .map(|i| {
            let words: String = (0..)
                .map(|w| format!("v{i}w{w} @ops <b> "))
                .take(800)
                .collect();
            words.chars().take(10_000).collect()
        })
        .collect();
    let mut args = vec!["send".to_owned(), "-t".to_owned(), "Report".to_owned()];
    for (i, value) in values.iter().enumerate() {
        args.extend(["-f".to_owned(), format!("k{i}={value}")]);
    }
    args.push("thirty large fields".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chime(&sandbox, &bed, &mm, &args).code(0);

    assert_eq!(
        bed.delivered().len(),
        bed.requests().len(),
        "nothing cut or refused"
    );
    let mut got: Vec<(String, String)> = Vec::new();
    for post in mm.posts() {
        let attachments = post.props["attachments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for field in attachments
            .iter()
            .flat_map(|a| a["fields"].as_array().cloned().unwrap_or_default())
        {
            let title = field["title"].as_str().unwrap().to_owned();
            let value = field["value"].as_str().unwrap();
            let plain = value
                .replace("&#64;", "@")
                .replace("&lt;", "<")
                .replace("&gt;", ">");
            match got.last_mut() {
                Some((last, text)) if *last == title => text.push_str(&plain),
                _ => got.push((title, plain)),
            }
        }
    }
    let wanted: Vec<(String, String)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("k{i}"), v.clone()))
        .collect();
    assert_eq!(got.len(), wanted.len());
    assert!(got == wanted, "every field whole, in order");
    assert!(mm.posts().len() > 1, "spread over several posts");
}

#[test]
fn mattermost_link_target_cannot_smuggle_a_slack_style_link() {
    let (bed, mm, sandbox) = setup();
    let link = "Logs=https://ci.example/42?next=<https://evil.example|click>";
    chime(&sandbox, &bed, &mm, &["send", "--link", link, "all good"]).code(0);
    let body = bed.delivered()[0].json();
    assert_eq!(
        body["text"],
        "all good\n[Logs](https://ci.example/42?next=%3Chttps://evil.example%7Cclick%3E)"
    );
}
