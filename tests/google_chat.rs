//! `kind = "google-chat"` against the Chat webhook stand-in: cards, threads, splits within
//! 32,000 bytes, throttling, Google's refusals and the key and token in the URL.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::bed::{Bed, Fault, Request};
use crate::support::discord::post_json;
use crate::support::google_chat::{GoogleChat, MAX_MESSAGE, MAX_WIDGETS};
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// A sandbox with a plain space (`space`) and a threaded one (`threaded`, key "deploys"),
/// both at `$CHAT_URL`; the default route goes to `space`.
fn setup() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[defaults]
route = "chat"
timeout = "10s"

[destinations.space]
kind = "google-chat"
url = "${CHAT_URL}"

[destinations.threaded]
kind = "google-chat"
url = "${CHAT_URL}"
thread_key = "deploys"

[routes.chat]
to = ["space"]
"#,
    );
    sandbox
}

fn chime(sandbox: &Sandbox, url: &str, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("CHAT_URL", url);
    run(cmd)
}

fn widgets(request: &Request) -> Vec<Value> {
    let body = request.json();
    body["cardsV2"][0]["card"]["sections"][0]["widgets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn paragraphs(request: &Request) -> Vec<String> {
    widgets(request)
        .iter()
        .filter_map(|w| w["textParagraph"]["text"].as_str().map(str::to_owned))
        .collect()
}

fn answer(request: &Request) -> Value {
    serde_json::from_str(&request.response).unwrap()
}

#[test]
fn google_chat_gets_a_card_with_header_paragraphs_and_buttons() {
    let bed = Bed::start();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops");
    chime(
        &setup(),
        &url,
        &[
            "send",
            "-t",
            "Disk full",
            "-l",
            "warning",
            "-f",
            "free=2%",
            "--link",
            "Graph=https://grafana.example/d/1",
            "on /var",
        ],
    )
    .code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert!(
        got[0]
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = got[0].json();
    let card = &body["cardsV2"][0]["card"];
    assert_eq!(card["header"]["title"], "⚠️ Disk full");
    assert_eq!(body["fallbackText"], "⚠️ Disk full");
    assert_eq!(paragraphs(&got[0]), vec!["on /var", "<b>free</b><br>2%"]);
    let button = &widgets(&got[0])[2]["buttonList"]["buttons"][0];
    assert_eq!(button["text"], "Graph");
    assert_eq!(
        button["onClick"]["openLink"]["url"],
        "https://grafana.example/d/1"
    );
    assert!(
        answer(&got[0])["name"]
            .as_str()
            .unwrap()
            .starts_with("spaces/AAAAOPS/messages/")
    );
}

#[test]
fn google_chat_thread_key_replies_in_one_thread() {
    let bed = Bed::start();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops");
    let sandbox = setup();
    chime(&sandbox, &url, &["send", "--to", "threaded", "first"]).code(0);
    chime(&sandbox, &url, &["send", "--to", "threaded", "second"]).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 2);
    for request in &got {
        assert_eq!(request.json()["thread"]["threadKey"], "deploys");
        let query = request.query.as_deref().unwrap();
        assert!(
            query.contains("messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"),
            "{query}"
        );
    }
    let thread = |r: &Request| answer(r)["thread"]["name"].as_str().unwrap().to_owned();
    assert_eq!(thread(&got[0]), thread(&got[1]));
}

#[test]
fn google_chat_thread_flag_threads_by_its_key_and_unthreaded_sends_do_not() {
    let bed = Bed::start();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops");
    let sandbox = setup();
    chime(
        &sandbox,
        &url,
        &["send", "--to", "space", "--thread", "run-9", "first"],
    )
    .code(0);
    chime(&sandbox, &url, &["send", "--to", "space", "plain"]).code(0);
    let got = bed.delivered();
    assert_eq!(got[0].json()["thread"]["threadKey"], "run-9");
    assert!(
        got[0]
            .query
            .as_deref()
            .unwrap()
            .contains("messageReplyOption=")
    );
    assert!(got[1].json().get("thread").is_none());
    assert!(
        !got[1]
            .query
            .as_deref()
            .unwrap_or("")
            .contains("messageReplyOption=")
    );
}

#[test]
fn google_chat_message_over_32000_bytes_is_split_into_marked_cards_that_all_arrive() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops");
    let text: String = (1..=3000)
        .map(|i| format!("line {i:05}: rows copied, checksums match\n"))
        .collect();
    let sandbox = setup();
    let mut cmd = sandbox.chime(&["send", "--to", "threaded", "-t", "Sync log"]);
    cmd.env("CHAT_URL", &url);
    run_with_stdin(cmd, text.as_bytes()).code(0);

    let got = bed.delivered();
    assert_eq!(got.len(), bed.requests().len(), "no part was refused");
    assert!(got.len() >= 4, "{} parts", got.len());
    let count = got.len();
    let mut pieces = Vec::new();
    for (i, request) in got.iter().enumerate() {
        assert!(
            request.body.len() <= MAX_MESSAGE,
            "part {i}: {} bytes",
            request.body.len()
        );
        let title = request.json()["cardsV2"][0]["card"]["header"]["title"].clone();
        assert_eq!(title, format!("Sync log ({}/{count})", i + 1));
        pieces.extend(paragraphs(request));
    }
    assert_eq!(pieces.join("<br>").replace("<br>", "\n"), text.trim_end());
    let threads: Vec<String> = got
        .iter()
        .map(|r| answer(r)["thread"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        threads.iter().all(|t| *t == threads[0]),
        "all parts in one thread"
    );
}

#[test]
fn google_chat_throttled_send_waits_then_delivers() {
    let bed = Bed::start();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops");
    bed.fault(Fault::RateLimit(1));
    let started = Instant::now();
    chime(&setup(), &url, &["send", "x"]).code(0);
    assert!(started.elapsed() >= Duration::from_millis(900), "waited");
    assert_eq!(bed.requests()[0].status, 429);
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn google_chat_wrong_token_is_dead_lettered_with_googles_message() {
    let bed = Bed::start();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops").replace("token=fake", "token=wrong");
    chime(&setup(), &url, &["send", "x"])
        .code(65)
        .stderr_has("403 PERMISSION_DENIED: The API is called without a valid token")
        .stderr_has("copy the webhook URL again");
    assert_eq!(bed.requests().len(), 1);
}

#[test]
fn google_chat_wrong_key_is_rejected_as_an_invalid_key() {
    let bed = Bed::start();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops").replace("key=fake", "key=wrong");
    chime(&setup(), &url, &["send", "x"])
        .code(65)
        .stderr_has("400 INVALID_ARGUMENT: API key not valid")
        .stderr_has("the `key` in the webhook URL");
}

#[test]
fn google_chat_escapes_html_so_user_text_cannot_mention_or_format() {
    let bed = Bed::start();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops");
    chime(
        &setup(),
        &url,
        &[
            "send",
            "-t",
            "<b>t</b>",
            "-f",
            "<k>=a&b",
            "<users/all> a < b && *c* _d_ ~e~",
        ],
    )
    .code(0);
    let got = &bed.delivered()[0];
    assert_eq!(
        paragraphs(got),
        vec![
            "&lt;users/all&gt; a &lt; b &amp;&amp; *c* _d_ ~e~",
            "<b>&lt;k&gt;</b><br>a&amp;b",
        ]
    );
    let header = &got.json()["cardsV2"][0]["card"]["header"]["title"];
    assert_eq!(
        header, "<b>t</b>",
        "the header is plain text, shown as written"
    );
}

#[test]
fn google_chat_key_and_token_never_show_in_dry_run_verbose_or_errors() {
    let bed = Bed::start();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops");
    let sandbox = setup();
    chime(&sandbox, &url, &["send", "--dry-run", "x"])
        .code(0)
        .stdout_has("/spaces/A…/****?****")
        .never_shows("fakekeyops")
        .never_shows("faketokenops");
    chime(&sandbox, &url, &["send", "-v", "x"])
        .code(0)
        .never_shows("fakekeyops")
        .never_shows("faketokenops");
    let wrong = url.replace("token=fake", "token=wrong");
    chime(&sandbox, &wrong, &["send", "-v", "x"])
        .code(65)
        .never_shows("fakekeyops")
        .never_shows("wrongtokenops");
}

#[test]
fn google_chat_stand_in_posts_a_card_of_more_than_100_widgets_without_the_rest() {
    let bed = Bed::start();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops");
    let widgets: Vec<Value> = (0..=MAX_WIDGETS)
        .map(|i| serde_json::json!({"textParagraph": {"text": format!("w{i}")}}))
        .collect();
    let card = serde_json::json!({"cardsV2": [{"cardId": "c", "card": {"sections": [{"widgets": widgets}]}}]});
    let (status, _) = post_json(&url, &card.to_string());
    assert_eq!(status, 200, "Google answers as if all were well");
    assert!(bed.delivered().is_empty(), "but widget 101 is not shown");
}

#[test]
fn google_chat_link_labels_too_long_for_a_button_arrive_whole_as_links() {
    let bed = Bed::start();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops");
    let label = "a label far longer than a button shows, ".repeat(4);
    let link = format!("{}=https://ci.example/runs/42?a=1&b=2", label.trim());
    chime(
        &setup(),
        &url,
        &[
            "send",
            "--link",
            &link,
            "--link",
            "Logs=https://ci.example/l",
            "x",
        ],
    )
    .code(0);
    let got = bed.delivered();
    let texts = paragraphs(&got[0]);
    let wanted = format!(
        "<a href=\"https://ci.example/runs/42?a=1&amp;b=2\">{}</a>",
        label.trim()
    );
    assert!(texts.contains(&wanted), "{texts:?}");
    let widgets = widgets(&got[0]);
    assert_eq!(
        widgets.last().unwrap()["buttonList"]["buttons"][0]["text"],
        "Logs"
    );
}

#[test]
fn google_chat_code_keeps_monospace_and_indentation_in_a_pre_block() {
    let bed = Bed::start();
    let chat = GoogleChat::mount(&bed);
    let url = chat.space(&bed, "ops");
    let text = "fn main() {\n    if a < b {}\n}";
    chime(&setup(), &url, &["send", "--code", text]).code(0);
    assert_eq!(
        paragraphs(&bed.delivered()[0]),
        ["<pre>fn main() {<br>    if a &lt; b {}<br>}</pre>"]
    );
}
