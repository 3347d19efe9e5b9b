//! `kind = "telegram"` against the Bot API stand-in: what arrives, and what the exit code says.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::bed::{Bed, Fault, Request};
use crate::support::telegram::{PREFIX, Standing, Telegram, parse_html};
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// Obviously fake, in BotFather's `<bot id>:<secret>` shape.
const TOKEN: &str = "123456789:AAFakeTelegramTokenForTests-notreal";
const SECRET_PART: &str = "AAFakeTelegramToken";
const CHAT: i64 = -1_001_234_567_890;

/// A bed with the stand-in mounted, the bot's token valid and a member of `CHAT`.
fn setup() -> (Bed, Arc<Telegram>, Sandbox) {
    let bed = Bed::start();
    let telegram = Telegram::new();
    bed.mount(PREFIX, telegram.clone());
    telegram.add_token(TOKEN);
    telegram.add_chat(CHAT, None);
    let sandbox = Sandbox::new();
    sandbox.profile(&profile(&bed, &format!("chat_id = {CHAT}")));
    (bed, telegram, sandbox)
}

/// A profile whose default route goes to one Telegram destination, `tg`, with `extra` keys.
fn profile(bed: &Bed, extra: &str) -> String {
    format!(
        r#"
[defaults]
route = "tg"
timeout = "5s"

[destinations.tg]
kind = "telegram"
token = "${{TG_TOKEN}}"
api_url = "{}/telegram"
{extra}

[routes.tg]
to = ["tg"]
"#,
        bed.url()
    )
}

fn chime(sandbox: &Sandbox, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("TG_TOKEN", TOKEN);
    run(cmd)
}

fn chime_with_stdin(sandbox: &Sandbox, args: &[&str], input: &str) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("TG_TOKEN", TOKEN);
    run_with_stdin(cmd, input.as_bytes())
}

/// What a reader sees of each posted message, without the footer (host and part marker).
fn bodies(telegram: &Telegram) -> Vec<String> {
    telegram
        .posted()
        .iter()
        .map(|p| p.text.rsplit_once("\n\n").expect("a footer").0.to_owned())
        .collect()
}

#[test]
fn telegram_posts_html_with_a_bold_title_fields_and_links_and_exits_0() {
    let (bed, telegram, sandbox) = setup();
    let args = [
        "send",
        "-t",
        "Nightly backup",
        "-l",
        "success",
        "-f",
        "size=12G",
        "--link",
        "Logs=https://ci.example/42?a=1&b=2",
        "all good",
    ];
    chime(&sandbox, &args).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, format!("/telegram/bot{TOKEN}/sendMessage"));
    assert!(
        got[0]
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = got[0].json();
    assert_eq!(body["chat_id"], CHAT, "a numeric chat ID goes as a number");
    assert_eq!(body["parse_mode"], "HTML");
    assert_eq!(body["link_preview_options"]["is_disabled"], true);
    let html = body["text"].as_str().unwrap();
    assert!(
        html.starts_with(
            "✅ <b>Nightly backup</b>\n\nall good\n\n<b>size</b>: 12G\n\n\
             <a href=\"https://ci.example/42?a=1&amp;b=2\">Logs</a>\n\n<i>"
        ),
        "{html}"
    );
    assert!(html.ends_with("</i>"), "{html}");
    assert_eq!(telegram.posted()[0].chat_id, CHAT);
}

#[test]
fn telegram_channel_username_goes_as_a_string_with_the_forum_topic() {
    let (bed, telegram, sandbox) = setup();
    telegram.add_chat(-100_555, Some("ops_channel"));
    telegram.add_topic(-100_555, 7);
    sandbox.profile(&profile(
        &bed,
        "chat_id = \"@ops_channel\"\nmessage_thread_id = 7",
    ));
    let out = chime(&sandbox, &["send", "--json", "deployed"]).code(0);
    let body = bed.delivered()[0].json();
    assert_eq!(body["chat_id"], "@ops_channel");
    assert_eq!(body["message_thread_id"], 7);
    assert_eq!(telegram.posted()[0].thread, Some(7));
    let line = &out.json_lines()[0];
    assert_eq!(line["channel"], "-100555", "the chat Telegram posted to");
    assert_eq!(line["ts"], "1", "the message ID");
}

#[test]
fn telegram_route_channel_picks_another_chat() {
    let (bed, telegram, sandbox) = setup();
    telegram.add_chat(42, None);
    chime(&sandbox, &["send", "--channel", "42", "hello"]).code(0);
    assert_eq!(bed.delivered()[0].json()["chat_id"], 42);
}

#[test]
fn telegram_user_text_cannot_become_html_or_a_mention() {
    let (bed, telegram, sandbox) = setup();
    let text = "<b>not bold</b> & <a href=\"https://evil.example\">x</a> &amp; 1 < 2 @admin_team";
    chime(&sandbox, &["send", "-t", "<i>title</i> & co", text]).code(0);
    let html = bed.delivered()[0].json()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        html.contains(
            "&lt;b&gt;not bold&lt;/b&gt; &amp; &lt;a href=\"https://evil.example\"&gt;x&lt;/a&gt; \
             &amp;amp; 1 &lt; 2 @\u{2060}admin_team"
        ),
        "{html}"
    );
    assert!(
        html.starts_with("<b>&lt;i&gt;title&lt;/i&gt; &amp; co</b>"),
        "{html}"
    );
    let seen: Vec<String> = bodies(&telegram)
        .iter()
        .map(|b| b.replace('\u{2060}', ""))
        .collect();
    assert_eq!(seen, vec![format!("<i>title</i> & co\n\n{text}")]);
}

#[test]
fn telegram_escaped_characters_count_once_against_the_4096_limit() {
    let (_bed, telegram, sandbox) = setup();
    let text = "<".repeat(4000);
    chime(&sandbox, &["send", &text]).code(0);
    assert_eq!(bodies(&telegram), vec![text], "one message, not five");
}

#[test]
fn telegram_long_text_is_split_into_accepted_parts_that_arrive_in_order() {
    let (bed, telegram, sandbox) = setup();
    bed.no_rate_limit();
    let text: String = (0..900)
        .map(|i| format!("{i:04} lorem ipsum <dolor> & sit amet, 😀 consectetur\n"))
        .collect();
    chime_with_stdin(&sandbox, &["send", "-t", "big log", "-l", "warning"], &text).code(0);
    let posted = telegram.posted();
    let count = posted.len();
    assert!(count >= 10, "{count} messages");
    assert_eq!(bed.requests().len(), count, "none refused by the stand-in");
    let mut rebuilt = Vec::new();
    for (i, post) in posted.iter().enumerate() {
        assert!(post.text.chars().count() <= 4096);
        assert!(
            post.text.ends_with(&format!("({}/{count})", i + 1)),
            "{}",
            post.text
        );
        let body = post
            .text
            .strip_prefix("⚠️ big log\n\n")
            .expect("the heading on each part");
        rebuilt.push(body.rsplit_once("\n\n").unwrap().0.to_owned());
    }
    assert_eq!(
        rebuilt.join("\n") + "\n",
        text,
        "every line arrived, in order, once"
    );
}

#[test]
fn telegram_split_code_keeps_a_whole_pre_block_in_every_part() {
    let (bed, telegram, sandbox) = setup();
    bed.no_rate_limit();
    let text: String = (0..400)
        .map(|i| format!("{i:03} if a < b && c > d {{ x(); }}\n"))
        .collect();
    chime_with_stdin(&sandbox, &["send", "--code"], &text).code(0);
    let posted = telegram.posted();
    assert!(posted.len() > 1);
    let mut rebuilt = Vec::new();
    for post in &posted {
        assert!(post.html.starts_with("<pre>"), "{}", post.html);
        assert!(parse_html(&post.html).is_ok());
        rebuilt.push(post.text.rsplit_once("\n\n").unwrap().0.to_owned());
    }
    assert_eq!(rebuilt.join("\n") + "\n", text);
}

#[test]
fn telegram_flood_control_waits_retry_after_then_delivers() {
    let (bed, telegram, sandbox) = setup();
    bed.fault(Fault::RateLimit(1));
    let started = Instant::now();
    chime(&sandbox, &["send", "x"]).code(0);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for Retry-After"
    );
    assert_eq!(bed.requests().len(), 2);
    assert_eq!(telegram.posted().len(), 1);
}

#[test]
fn telegram_retry_after_in_the_body_is_honoured_without_the_header() {
    let (bed, telegram, sandbox) = setup();
    bed.fault(Fault::Json(
        429,
        r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 2","parameters":{"retry_after":2}}"#,
    ));
    let started = Instant::now();
    chime(&sandbox, &["send", "x"]).code(0);
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "waited retry_after"
    );
    assert_eq!(telegram.posted().len(), 1);
}

#[test]
fn telegram_flood_control_longer_than_the_timeout_is_queued_with_75() {
    let (bed, _telegram, sandbox) = setup();
    bed.fault(Fault::RateLimit(30));
    let started = Instant::now();
    chime(&sandbox, &["send", "--timeout", "2s", "x"])
        .code(75)
        .stderr_has("Too Many Requests: retry after 30");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn telegram_unknown_chat_is_rejected_with_65_and_telegrams_own_words() {
    let (bed, _telegram, sandbox) = setup();
    sandbox.profile(&profile(&bed, "chat_id = -100404"));
    chime(&sandbox, &["send", "x"])
        .code(65)
        .stderr_has("400 Bad Request: chat not found")
        .stderr_has("check `chat_id`")
        .never_shows(SECRET_PART);
    assert_eq!(bed.requests().len(), 1, "a permanent error is not retried");
}

#[test]
fn telegram_blocked_or_removed_bot_is_rejected_with_a_hint() {
    let (_bed, telegram, sandbox) = setup();
    telegram.set_standing(CHAT, Standing::Blocked);
    chime(&sandbox, &["send", "x"])
        .code(65)
        .stderr_has("403 Forbidden: bot was blocked by the user")
        .stderr_has("press Start");
    telegram.set_standing(CHAT, Standing::Kicked);
    chime(&sandbox, &["send", "x"])
        .code(65)
        .stderr_has("403 Forbidden: bot was kicked from the group chat")
        .stderr_has("add the bot to the chat again");
}

#[test]
fn telegram_migrated_group_says_which_chat_id_to_use() {
    let (_bed, telegram, sandbox) = setup();
    telegram.set_standing(CHAT, Standing::Migrated(-100_999));
    chime(&sandbox, &["send", "x"])
        .code(65)
        .stderr_has("upgraded to a supergroup")
        .stderr_has("chat_id = -100999");
}

#[test]
fn telegram_wrong_token_is_rejected_with_a_botfather_hint_and_never_shown() {
    let (_bed, _telegram, sandbox) = setup();
    let wrong = "987654321:AAWrongTokenSecretValue";
    let mut cmd = sandbox.chime(&["send", "-v", "x"]);
    cmd.env("TG_TOKEN", wrong);
    run(cmd)
        .code(65)
        .stderr_has("401 Unauthorized")
        .stderr_has("@BotFather")
        .never_shows("AAWrongTokenSecretValue")
        .never_shows("987654321");
}

#[test]
fn telegram_token_never_appears_in_dry_run_or_verbose_output() {
    let (bed, _telegram, sandbox) = setup();
    chime(&sandbox, &["send", "--dry-run", "hello"])
        .code(0)
        .stdout_has("POST http://127.0.0.1:")
        .stdout_has("/telegram/****/****")
        .never_shows(SECRET_PART)
        .never_shows("123456789:");
    chime(&sandbox, &["send", "--dry-run", "--json", "hello"])
        .code(0)
        .never_shows(SECRET_PART);
    assert!(bed.requests().is_empty());
    chime(&sandbox, &["send", "-v", "hello"])
        .code(0)
        .stderr_has("/telegram/****/****")
        .never_shows(SECRET_PART);
}

#[test]
fn telegram_token_can_be_read_from_a_file() {
    let (bed, telegram, sandbox) = setup();
    let file = sandbox.path().join("tg_token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let toml = profile(&bed, &format!("chat_id = {CHAT}")).replace(
        "token = \"${TG_TOKEN}\"",
        &format!("token = {{ file = \"{}\" }}", file.display()),
    );
    sandbox.profile(&toml);
    run(sandbox.chime(&["send", "x"])).code(0);
    assert_eq!(telegram.posted().len(), 1);
}

#[test]
fn telegram_chat_id_that_is_neither_an_id_nor_a_channel_is_a_profile_error() {
    let (bed, _telegram, sandbox) = setup();
    sandbox.profile(&profile(&bed, "chat_id = \"ops\""));
    chime(&sandbox, &["send", "x"])
        .code(78)
        .stderr_has("numeric chat ID or \"@channelusername\"");
    assert!(bed.requests().is_empty());
}

/// A request as chime would send it, for checking the stand-in directly.
fn request(token: &str, body: &Value) -> Request {
    Request {
        method: "POST".into(),
        path: format!("/telegram/bot{token}/sendMessage"),
        query: None,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
        status: 0,
        response: String::new(),
    }
}

#[test]
fn telegram_stand_in_refuses_what_telegram_refuses() {
    use crate::support::bed::Surface;
    let telegram = Telegram::new();
    telegram.add_token(TOKEN);
    telegram.add_chat(CHAT, None);
    let ask = |token: &str, body: Value| {
        let answer = telegram.answer(&request(token, &body), &mut |_| Ok(()));
        let json: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(
            json["error_code"].as_u64().unwrap_or(200),
            u64::from(answer.status)
        );
        (
            answer.status,
            json["description"].as_str().unwrap_or("ok").to_owned(),
        )
    };
    let html =
        |text: &str| serde_json::json!({"chat_id": CHAT, "text": text, "parse_mode": "HTML"});
    let said = |s: u16, d: &str| (s, d.to_owned());
    assert_eq!(
        ask("nonsense", html("x")),
        said(401, "Unauthorized: invalid token specified")
    );
    assert_eq!(ask("1:unknown", html("x")), said(401, "Unauthorized"));
    assert_eq!(ask(TOKEN, html(&"y".repeat(4096))), said(200, "ok"));
    assert_eq!(
        ask(TOKEN, html(&"y".repeat(4097))),
        said(400, "Bad Request: message is too long")
    );
    assert_eq!(
        ask(TOKEN, html("a <br> b")),
        said(
            400,
            "Bad Request: can't parse entities: Unsupported start tag \"br\" at byte offset 2"
        )
    );
    assert_eq!(
        ask(TOKEN, html("<b>open")),
        said(
            400,
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
        )
    );
    assert_eq!(
        ask(TOKEN, html("<b> </b>")),
        said(400, "Bad Request: message text is empty")
    );
    let body = serde_json::json!({"chat_id": 1, "text": "x"});
    assert_eq!(ask(TOKEN, body), said(400, "Bad Request: chat not found"));
    let throttled = telegram.answer(&request(TOKEN, &html("x")), &mut |_| Err(3));
    assert_eq!((throttled.status, throttled.retry_after), (429, Some(3)));
    assert!(
        throttled.body.contains(r#""parameters":{"retry_after":3}"#),
        "{}",
        throttled.body
    );
}

#[test]
fn telegram_thread_replies_to_the_first_message_under_the_key() {
    let (_bed, telegram, sandbox) = setup();
    for step in ["build", "test", "deploy"] {
        chime(&sandbox, &["send", "--thread", "ci-5", step]).code(0);
    }
    chime(&sandbox, &["send", "--thread", "other", "elsewhere"]).code(0);
    let replies: Vec<Option<i64>> = telegram.posted().iter().map(|p| p.reply_to).collect();
    assert_eq!(replies, [None, Some(1), Some(1), None]);
}

#[test]
fn telegram_update_edits_in_place_and_an_unchanged_edit_is_no_failure() {
    let (bed, telegram, sandbox) = setup();
    let update = |text: &str| chime(&sandbox, &["send", "--update", "deploy-9", text]);
    update("deploying…").code(0);
    update("✅ deployed").code(0);
    update("✅ deployed").code(0);
    let posted = telegram.posted();
    assert_eq!(posted.len(), 1, "one message, edited");
    assert!(
        posted[0].text.starts_with("✅ deployed"),
        "{}",
        posted[0].text
    );
    assert_eq!(posted[0].edits, 1);
    let paths: Vec<String> = bed.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths[0].ends_with("/sendMessage") && paths[1].ends_with("/editMessageText"));
    assert_eq!(bed.requests()[2].status, 400, "Telegram: not modified");
}

#[test]
fn telegram_update_of_a_deleted_message_posts_it_anew() {
    let (_bed, telegram, sandbox) = setup();
    let update = |text: &str| chime(&sandbox, &["send", "--update", "deploy-10", text]);
    update("one").code(0);
    telegram.delete_messages();
    update("two").code(0);
    update("three").code(0);
    let posted = telegram.posted();
    assert_eq!(posted.len(), 2);
    assert!(posted[1].text.starts_with("three") && posted[1].edits == 1);
}

#[test]
fn telegram_shows_slack_style_markup_from_a_template_as_text_instead_of_being_refused() {
    let (bed, telegram, sandbox) = setup();
    sandbox.profile(&format!(
        "{}\n[templates.slacky]\ntext = \"<!here> {{{{ text }}}} <b>now</b>\"\n",
        profile(&bed, &format!("chat_id = {CHAT}"))
    ));
    chime(&sandbox, &["send", "--template", "slacky", "disk full"]).code(0);
    let bodies = bodies(&telegram);
    assert_eq!(bodies.len(), 1);
    // As Telegram shows it: the Slack markup as text, Telegram's own tag applied.
    assert_eq!(bodies[0], "<!here> disk full now");
    assert!(!bodies[0].contains("</!here>"));
}

#[test]
fn config_check_renders_a_template_for_telegram_and_names_what_telegram_would_refuse() {
    let (bed, telegram, sandbox) = setup();
    let base = profile(&bed, &format!("chat_id = {CHAT}"));
    // Slack markup shows as text on Telegram: a note, and the check passes.
    sandbox.profile(&format!(
        "{base}\n[templates.slacky]\ntext = \"<!here> {{{{ text }}}}\"\n"
    ));
    chime(&sandbox, &["config", "check"]).code(0).stderr_has(
        "template `slacky` writes Slack markup `<!here>`, which `tg` (telegram) shows as text",
    );
    // A stray end tag is refused by Telegram: check says so before a send finds out.
    sandbox.profile(&format!(
        "{base}\n[templates.broken]\ntext = \"{{{{ text }}}}</b>\"\n"
    ));
    chime(&sandbox, &["config", "check"])
        .code(78)
        .stderr_has("template `broken`: what it renders cannot go to `tg` (telegram)")
        .stderr_has("`</b>` has no start tag");
    chime(&sandbox, &["send", "--template", "broken", "disk full"]).code(65);
    assert!(bodies(&telegram).is_empty());
}

#[test]
fn telegram_dedupe_edits_the_first_message_with_its_count_when_the_window_closes() {
    let (_bed, telegram, sandbox) = setup();
    let at = |now: u64, args: &[&str]| {
        let mut cmd = sandbox.chime(args);
        cmd.env("TG_TOKEN", TOKEN)
            .env("CHIME_NOW", now.to_string())
            .env("TZ", "UTC");
        run(cmd)
    };
    let ten = 1_796_292_000;
    for i in 0..4 {
        at(
            ten + i * 60,
            &["send", "--dedupe", "backup", "backup failed"],
        )
        .code(0);
    }
    assert_eq!(telegram.posted().len(), 1);
    at(ten + 3601, &["flush"]).code(0);
    let posted = telegram.posted();
    assert_eq!(posted.len(), 1, "still one message, edited");
    assert_eq!(posted[0].edits, 1);
    assert!(
        posted[0].text.contains("×4, last 10:03"),
        "{}",
        posted[0].text
    );
}
