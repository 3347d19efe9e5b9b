//! `kind = "discord"` against the Discord stand-in: what arrives, and what the exit code says.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::bed::{Bed, Fault};
use crate::support::discord::{Discord, check, post_json};
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// A bed with Discord mounted, and a sandbox whose default route is the webhook `ops`,
/// given through `${DISCORD_URL}`.
fn setup() -> (Bed, Arc<Discord>, Sandbox) {
    let bed = Bed::start();
    bed.no_rate_limit();
    let discord = Discord::mount(&bed);
    discord.hook(&bed, "ops");
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[defaults]
route = "chat"
timeout = "5s"

[destinations.dc]
kind = "discord"
url = "${DISCORD_URL}"
username = "chime"

[routes.chat]
to = ["dc"]
"#,
    );
    (bed, discord, sandbox)
}

fn chime(sandbox: &Sandbox, bed: &Bed, discord: &Discord, args: &[&str]) -> Run {
    run(command(sandbox, bed, discord, args))
}

fn command(
    sandbox: &Sandbox,
    bed: &Bed,
    discord: &Discord,
    args: &[&str],
) -> std::process::Command {
    let mut cmd = sandbox.chime(args);
    cmd.env("DISCORD_URL", discord.hook(bed, "ops"));
    cmd
}

fn descriptions(payload: &Value) -> Vec<String> {
    let embeds = payload["embeds"].as_array().unwrap();
    let texts = embeds.iter().filter_map(|e| e["description"].as_str());
    texts.map(str::to_owned).collect()
}

#[test]
fn discord_send_posts_one_embed_with_title_text_fields_links_colour_and_footer() {
    let (bed, discord, sandbox) = setup();
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
        "--json",
        "all good",
    ];
    let out = chime(&sandbox, &bed, &discord, &args).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].query.as_deref(),
        Some("wait=true"),
        "waits for the save"
    );
    assert!(
        got[0]
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = got[0].json();
    assert!(body.get("content").is_none(), "one part needs no marker");
    assert_eq!(body["username"], "chime");
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    let embed = &body["embeds"][0];
    assert_eq!(embed["title"], "✅ Nightly backup");
    assert_eq!(embed["description"], "all good");
    assert_eq!(
        body["embeds"][1]["description"],
        "[Logs](https://ci.example/42)"
    );
    assert_eq!(
        embed["fields"],
        json!([{"name": "size", "value": "12G", "inline": false}])
    );
    assert_eq!(embed["color"], 0x2EB67D);
    let last = &body["embeds"][1];
    assert!(last["footer"]["text"].is_string());
    assert!(last["timestamp"].as_str().unwrap().ends_with('Z'));
    let line = &out.json_lines()[0];
    assert_eq!(line["status"], "delivered");
    assert!(
        line["ts"].as_str().is_some_and(|id| id.starts_with("12")),
        "the message id: {line}"
    );
}

#[test]
fn discord_stand_in_refuses_what_discord_refuses_with_its_status_and_body() {
    let (bed, discord, _) = setup();
    let url = discord.hook(&bed, "ops");
    let legacy = post_json(&url, &json!({"content": "x".repeat(2001)}).to_string());
    assert_eq!(
        legacy,
        (
            400,
            r#"{"content":["Must be 2000 or fewer in length."]}"#.into()
        )
    );
    let v10 = post_json(
        &Discord::versioned(&url),
        &json!({"content": "x".repeat(2001)}).to_string(),
    );
    assert_eq!(v10.0, 400);
    let body: Value = serde_json::from_str(&v10.1).unwrap();
    assert_eq!(body["code"], 50035);
    assert_eq!(
        body["errors"]["content"]["_errors"][0]["message"],
        "Must be 2000 or fewer in length."
    );
    let empty = post_json(&url, r#"{"content": "  "}"#);
    assert_eq!(
        empty,
        (
            400,
            r#"{"code":50006,"message":"Cannot send an empty message"}"#.into()
        )
    );
    let big =
        json!({"embeds": [{"description": "d".repeat(4000)}, {"description": "d".repeat(2001)}]});
    assert_eq!(
        check(&big).last().unwrap().2,
        "Embed size exceeds maximum size of 6000"
    );
    let many = json!({"embeds": [{"fields": vec![json!({"name": "n", "value": "v"}); 26]}]});
    assert_eq!(check(&many)[0].0, "embeds.0.fields");
    let blank = json!({"embeds": [{"fields": [{"name": "n", "value": ""}]}]});
    assert_eq!(check(&blank)[0].2, "This field is required");
    let deleted = discord.hook(&bed, "gone");
    discord.delete("gone");
    assert_eq!(
        post_json(&deleted, "{}"),
        (404, r#"{"code":10015,"message":"Unknown Webhook"}"#.into())
    );
    let wrong = url.replace("fakediscordtoken-ops", "fakediscordtoken-bad");
    assert_eq!(post_json(&wrong, "{}").0, 401);
    assert!(bed.delivered().is_empty());
}

#[test]
fn discord_429_waits_for_retry_after_then_delivers() {
    let (bed, discord, sandbox) = setup();
    bed.fault(Fault::RateLimit(1));
    let started = Instant::now();
    chime(&sandbox, &bed, &discord, &["send", "x"]).code(0);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for retry_after"
    );
    let requests = bed.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].status, 429);
    assert!(requests[0].response.contains("\"retry_after\":1.0"));
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn discord_webhook_limit_paces_a_multi_part_message() {
    let (bed, discord, sandbox) = setup();
    bed.set_rate(2, 4.0);
    let text = format!("{}\n", "z".repeat(999)).repeat(30);
    let cmd = command(&sandbox, &bed, &discord, &["send", "--timeout", "20s"]);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let delivered = bed.delivered();
    assert!(delivered.len() >= 5, "{} parts", delivered.len());
    assert!(
        bed.requests().iter().any(|r| r.status == 429),
        "throttled at least once"
    );
}

#[test]
fn discord_deleted_webhook_exits_65_with_unknown_webhook_and_a_hint() {
    let (bed, discord, sandbox) = setup();
    let cmd = command(&sandbox, &bed, &discord, &["send", "--json", "x"]);
    discord.delete("ops");
    let out = run(cmd)
        .code(65)
        .stderr_has("404 Unknown Webhook (code 10015)")
        .stderr_has("create a new one");
    assert_eq!(out.json_lines()[0]["status"], "rejected");
    assert_eq!(bed.requests().len(), 1, "a dead webhook is not tried again");
}

#[test]
fn discord_form_errors_are_shown_field_by_field_in_both_formats() {
    let (bed, discord, sandbox) = setup();
    bed.fault(Fault::Json(
        400,
        r#"{"code": 50035, "errors": {"embeds": {"0": {"description": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 4096 or fewer in length."}]}}}}, "message": "Invalid Form Body"}"#,
    ));
    chime(&sandbox, &bed, &discord, &["send", "x"])
        .code(65)
        .stderr_has("400 Invalid Form Body (code 50035): embeds.0.description: Must be 4096 or fewer in length.")
        .stderr_has("please report this");
    bed.fault(Fault::Json(
        400,
        r#"{"content": ["Must be 2000 or fewer in length."]}"#,
    ));
    chime(&sandbox, &bed, &discord, &["send", "x"])
        .code(65)
        .stderr_has("content: Must be 2000 or fewer in length.");
}

#[test]
fn discord_long_text_is_split_into_valid_messages_that_arrive_in_order() {
    let (bed, discord, sandbox) = setup();
    let line = "0123456789 ".repeat(9);
    let text: String = (0..400).map(|i| format!("{i:05} {line}\n")).collect();
    let cmd = command(
        &sandbox,
        &bed,
        &discord,
        &["send", "-t", "big log", "-l", "error"],
    );
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let got = bed.delivered();
    assert!(got.len() >= 6, "{} messages", got.len());
    assert_eq!(
        bed.requests().len(),
        got.len(),
        "none refused by the stand-in"
    );
    let mut rebuilt = String::new();
    for (i, request) in got.iter().enumerate() {
        let body = request.json();
        assert!(check(&body).is_empty());
        assert_eq!(body["content"], format!("({}/{})", i + 1, got.len()));
        assert_eq!(body["embeds"][0]["title"], "❌ big log");
        let embeds = body["embeds"].as_array().unwrap();
        let footer = embeds.last().unwrap()["footer"]["text"].as_str().unwrap();
        assert!(
            footer.ends_with(&format!("part {}/{}", i + 1, got.len())),
            "{footer}"
        );
        for description in descriptions(&body) {
            rebuilt.push_str(&description);
            rebuilt.push('\n');
        }
    }
    assert_eq!(rebuilt, text, "every line arrived, in order, once");
}

#[test]
fn discord_split_code_block_is_fenced_in_every_part_and_shown_verbatim() {
    let (bed, discord, sandbox) = setup();
    let text: String = (0..300)
        .map(|i| format!("{i:04} a*b_c <x> & ~y~ {}\n", "=".repeat(60)))
        .collect();
    let cmd = command(&sandbox, &bed, &discord, &["send", "--code"]);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let got = bed.delivered();
    assert!(got.len() >= 2);
    let mut rebuilt = String::new();
    for request in &got {
        for description in descriptions(&request.json()) {
            let inner = description
                .strip_prefix("```\n")
                .and_then(|d| d.strip_suffix("\n```"))
                .expect("fenced");
            rebuilt.push_str(inner);
            rebuilt.push('\n');
        }
    }
    assert_eq!(rebuilt, text, "no backslash shows inside the code block");
}

#[test]
fn discord_many_fields_fill_embeds_of_25_within_the_limits() {
    let (bed, discord, sandbox) = setup();
    let mut args = vec!["send".to_owned(), "x".to_owned()];
    for i in 0..60 {
        args.extend(["-f".to_owned(), format!("key{i}={}", "v".repeat(90))]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chime(&sandbox, &bed, &discord, &args).code(0);
    let got = bed.delivered();
    assert_eq!(bed.requests().len(), got.len());
    let fields: usize = got
        .iter()
        .flat_map(|r| r.json()["embeds"].as_array().unwrap().clone())
        .map(|e| e["fields"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(fields, 60, "every field arrived");
}

#[test]
fn discord_user_text_cannot_ping_or_become_markdown() {
    let (bed, discord, sandbox) = setup();
    let text = "<@123> @everyone <t:1> **bold** a & b _x_ ~~s~~ `c` ||spoiler|| [l](https://e.x)\n# big\n- item";
    chime(
        &sandbox,
        &bed,
        &discord,
        &["send", "-t", "**T** <@&9>", text],
    )
    .code(0);
    let body = bed.delivered()[0].json();
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    assert_eq!(body["embeds"][0]["title"], r"\*\*T\*\* \<\@\&9\>");
    assert_eq!(
        body["embeds"][0]["description"],
        r"\<\@123\> \@everyone \<t:1\> \*\*bold\*\* a \& b \_x\_ \~\~s\~\~ \`c\` \|\|spoiler\|\| \[l\](https://e.x)"
            .to_owned()
            + "\n\\# big\n\\- item"
    );
}

#[test]
fn discord_webhook_token_never_shows_in_dry_run_verbose_or_errors() {
    let (bed, discord, sandbox) = setup();
    let secret = "fakediscordtoken-ops";
    let out = chime(&sandbox, &bed, &discord, &["send", "--dry-run", "hello"])
        .code(0)
        .stdout_has("/discord/api/webhooks/1…/****?****")
        .stdout_has("\"allowed_mentions\"");
    out.never_shows(secret);
    assert!(bed.requests().is_empty());
    chime(&sandbox, &bed, &discord, &["send", "-v", "hello"])
        .code(0)
        .never_shows(secret);
    let cmd = command(&sandbox, &bed, &discord, &["send", "-v", "hello"]);
    discord.delete("ops");
    run(cmd).code(65).never_shows(secret);
}

#[test]
fn discord_url_may_come_from_a_file_and_thread_id_goes_in_the_query() {
    let bed = Bed::start();
    let discord = Discord::mount(&bed);
    let url = discord.hook(&bed, "forum");
    discord.add_thread("forum", "1234567890");
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("discord_url");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    sandbox.profile(&format!(
        "[destinations.dc]\nkind = \"discord\"\nurl = {{ file = \"{}\" }}\nthread_id = \"1234567890\"\n",
        file.display()
    ));
    run(sandbox.chime(&["send", "--to", "dc", "x"])).code(0);
    assert_eq!(
        bed.delivered()[0].query.as_deref(),
        Some("wait=true&thread_id=1234567890")
    );
    sandbox.profile(&format!(
        "[destinations.dc]\nkind = \"discord\"\nurl = {{ file = \"{}\" }}\nthread_id = \"999\"\n",
        file.display()
    ));
    run(sandbox.chime(&["send", "--to", "dc", "x"]))
        .code(65)
        .stderr_has("404 Unknown Channel (code 10003)")
        .stderr_has("thread_id");
}

#[test]
fn discord_bad_thread_id_or_username_is_a_profile_error() {
    let sandbox = Sandbox::new();
    sandbox.profile(
        "[destinations.dc]\nkind = \"discord\"\nurl = \"https://discord.com/api/webhooks/1/t\"\nthread_id = \"general\"\nusername = \"Discord Bot\"\n",
    );
    run(sandbox.chime(&["send", "--to", "dc", "x"]))
        .code(78)
        .stderr_has("must be a thread's numeric ID")
        .stderr_has("\"clyde\" or \"discord\"");
}

#[test]
fn discord_update_edits_the_message_the_webhook_posted() {
    let (bed, discord, sandbox) = setup();
    let send = |text: &str| {
        let args = ["send", "--update", "deploy-3", "--json", text];
        chime(&sandbox, &bed, &discord, &args).code(0).json_lines()[0]["ts"].clone()
    };
    let first = send("deploying…");
    let second = send("✅ deployed");
    assert_eq!(first, second, "the same message");
    let got = bed.delivered();
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[1].method, "PATCH");
    assert_eq!(
        got[1].path,
        format!("{}/messages/{}", got[0].path, first.as_str().unwrap())
    );
    let edit = got[1].json();
    assert!(edit.get("username").is_none(), "the author stays");
    assert!(
        edit.get("content").is_some(),
        "an old part marker is cleared"
    );
    assert!(edit.to_string().contains("✅ deployed"));
    let args = ["send", "-v", "--update", "deploy-3", "--dry-run", "again"];
    chime(&sandbox, &bed, &discord, &args)
        .code(0)
        .stdout_has("PATCH ")
        .never_shows("fakediscordtoken");
}

#[test]
fn discord_update_of_a_deleted_message_posts_it_anew() {
    let (bed, discord, sandbox) = setup();
    let args = |text: &'static str| ["send", "--update", "deploy-4", text];
    chime(&sandbox, &bed, &discord, &args("one")).code(0);
    discord.delete_messages();
    chime(&sandbox, &bed, &discord, &args("two")).code(0);
    chime(&sandbox, &bed, &discord, &args("three")).code(0);
    let methods: Vec<String> = bed.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["POST", "PATCH", "POST", "PATCH"]);
    assert_eq!(bed.requests()[1].status, 404);
    assert_eq!(bed.delivered().len(), 3);
}

#[test]
fn discord_long_link_arrives_whole_in_one_embed_or_is_refused_before_sending() {
    let (bed, discord, sandbox) = setup();
    // Parentheses grow threefold once encoded for the markdown link: as typed
    // this fits 3,000 characters, as sent it would not.
    let too_long = format!("Run=https://ci.example/{}", "(a)".repeat(990));
    chime(
        &sandbox,
        &bed,
        &discord,
        &["send", "--link", &too_long, "x"],
    )
    .code(2)
    .stderr_has("at most 3000 characters");
    assert!(bed.requests().is_empty());

    let url = format!("https://ci.example/{}", "(a)".repeat(400));
    let link = format!("Run={url}");
    chime(
        &sandbox,
        &bed,
        &discord,
        &["send", "--link", &link, "deployed"],
    )
    .code(0);
    let sent = url.replace('(', "%28").replace(')', "%29");
    let payloads: Vec<Value> = bed.delivered().iter().map(|r| r.json()).collect();
    let whole = payloads
        .iter()
        .flat_map(descriptions)
        .filter(|d| d.contains(&sent))
        .count();
    assert_eq!(whole, 1, "{payloads:#?}");
}

#[test]
fn discord_dedupe_edits_the_first_message_with_its_count_when_the_window_closes() {
    let (bed, discord, sandbox) = setup();
    let at = |now: u64, args: &[&str]| {
        let mut cmd = command(&sandbox, &bed, &discord, args);
        cmd.env("CHIME_NOW", now.to_string()).env("TZ", "UTC");
        run(cmd)
    };
    let ten = 1_796_292_000;
    for i in 0..5 {
        at(ten + i * 60, &["send", "--dedupe", "disk", "disk full"]).code(0);
    }
    assert_eq!(bed.delivered().len(), 1);
    at(ten + 3601, &["flush"]).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].method, "PATCH", "the first message is edited");
    assert!(got[1].path.starts_with(&got[0].path));
    let edit = got[1].json().to_string();
    assert!(
        edit.contains("disk full") && edit.contains("×5, last 10:04"),
        "{edit}"
    );
}
