//! Servers that misbehave: chime reads a bounded answer however much is sent, and
//! a message is not posted again and again because an answer went missing.

use crate::support::bed::{Bed, Fault};
use crate::support::telegram::{self, Telegram};
use crate::support::{Run, Sandbox, run, run_watched};

const TOKEN: &str = "xoxb-000-hostile-notreal";
const TG_TOKEN: &str = "123456789:AAFakeTelegramTokenForTests-notreal";
const TG_CHAT: i64 = -1_001_234_567_890;
/// chime keeps 64 KiB of an answer; everything else it holds is a few MiB.
const MEMORY_BOUND: u64 = 64 << 20;
const GIB: u64 = 1 << 30;

/// A Slack webhook (`ops-hook`, the default route), a Slack bot (`bot`) and a
/// Telegram bot (`tg`), all on the bed, which has no rate limit here.
fn setup(bed: &Bed) -> Sandbox {
    bed.no_rate_limit();
    bed.add_token(TOKEN);
    bed.add_channel("#deploys", true);
    let tg = Telegram::new();
    bed.mount(telegram::PREFIX, tg.clone());
    tg.add_token(TG_TOKEN);
    tg.add_chat(TG_CHAT, None);
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r##"
[defaults]
route = "ops"
timeout = "5s"

[destinations.ops-hook]
kind = "slack"
url = "{hook}"

[destinations.bot]
kind = "slack-api"
token = "{TOKEN}"
channel = "#deploys"
api_url = "{base}/api"

[destinations.tg]
kind = "telegram"
token = "{TG_TOKEN}"
chat_id = {TG_CHAT}
api_url = "{base}/telegram"

[routes.ops]
to = ["ops-hook"]
"##,
        hook = bed.webhook("ops"),
        base = bed.url(),
    ));
    sandbox
}

/// `chime ARGS…`, with how much memory it held at its peak (shown with
/// `--nocapture`, for the figures).
fn watched(sandbox: &Sandbox, args: &[&str]) -> (Run, u64) {
    let (run, peak) = run_watched(sandbox.chime(args));
    eprintln!("chime {args:?}: exit {}, peak {} KiB", run.code, peak >> 10);
    (run, peak)
}

#[track_caller]
fn assert_small(peak: u64, run: &Run) {
    assert!(
        peak > 0 && peak < MEMORY_BOUND,
        "chime held {} MiB\n{run}",
        peak >> 20
    );
}

/// Messages waiting in the spool.
fn queued(sandbox: &Sandbox) -> usize {
    let out = run(sandbox.chime(&["spool", "list", "--json"])).code(0);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    list.as_array().unwrap().len()
}

#[test]
fn an_endless_answer_after_200_is_read_to_its_cap_and_classified() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.fault(Fault::Endless(200, "ok"));
    let (out, peak) = watched(&sandbox, &["send", "--timeout", "3s", "x"]);
    let out = out.code(0);
    assert_small(peak, &out);
    assert_eq!(bed.requests().len(), 1, "{out}");
}

#[test]
fn an_endless_answer_after_500_is_read_to_its_cap_and_queued() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for _ in 0..3 {
        bed.fault(Fault::Endless(500, "rollup_error"));
    }
    let (out, peak) = watched(&sandbox, &["send", "--timeout", "3s", "x"]);
    let out = out.code(75).stderr_has("500 Internal Server Error");
    assert_small(peak, &out);
    assert_eq!(bed.requests().len(), 3, "a 500 is retried as usual\n{out}");
    assert_eq!(queued(&sandbox), 1);
}

#[test]
fn a_gigabyte_answer_is_not_read_past_its_cap() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.fault(Fault::Huge(200, "ok", GIB));
    let (out, peak) = watched(&sandbox, &["send", "x"]);
    let out = out.code(0);
    assert_small(peak, &out);
    assert_eq!(bed.requests().len(), 1);
}

#[test]
fn a_gigabyte_web_api_answer_is_classified_from_its_first_bytes() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.fault(Fault::Huge(
        200,
        r#"{"ok":true,"channel":"C0DEPLOYS","ts":"1700000000.000100"}"#,
        GIB,
    ));
    let (out, peak) = watched(&sandbox, &["send", "--to", "bot", "--json", "x"]);
    let out = out.code(0);
    assert_small(peak, &out);
    assert_eq!(out.json_lines()[0]["ts"], "1700000000.000100");
}

#[test]
fn a_request_answered_by_a_reset_is_sent_at_most_twice_then_queued() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for _ in 0..5 {
        bed.fault(Fault::Reset);
    }
    let out = run(sandbox.chime(&["send", "x"])).code(75);
    assert_eq!(bed.requests().len(), 2, "one retry, no more\n{out}");
    assert_eq!(queued(&sandbox), 1, "kept for `chime flush`");
}

#[test]
fn a_reset_then_an_answer_delivers_on_the_one_retry() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.fault(Fault::Reset);
    run(sandbox.chime(&["send", "x"])).code(0);
    assert_eq!(bed.requests().len(), 2);
    assert_eq!(queued(&sandbox), 0);
}

#[test]
fn a_503_after_a_reset_is_not_retried_again() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.fault(Fault::Reset);
    bed.fault(Fault::Status(503, "service unavailable"));
    let out = run(sandbox.chime(&["send", "x"])).code(75);
    assert_eq!(bed.requests().len(), 2, "{out}");
}

#[test]
fn a_refused_connection_is_still_tried_three_times() {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[destinations.down]
kind = "slack"
url = "http://127.0.0.1:1/services/T0TESTTEAM/BDOWN/fakesecretdownfakesecret"
"#,
    );
    // Nothing reached a server, so nothing can have been posted: `-v` logs each try.
    let out = run(sandbox.chime(&["send", "--to", "down", "-v", "x"])).code(75);
    let tries = out.stderr.matches("not delivered: cannot connect").count();
    assert_eq!(tries, 3, "{out}");
}

#[test]
fn a_200_cut_off_mid_body_is_delivered_once() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for _ in 0..5 {
        bed.fault(Fault::ResetMidBody);
    }
    let out = run(sandbox.chime(&["send", "x"])).code(0);
    assert_eq!(bed.requests().len(), 1, "{out}");
    assert_eq!(bed.delivered().len(), 1);
    assert_eq!(queued(&sandbox), 0);
}

#[test]
fn a_telegram_200_cut_off_mid_body_is_delivered_once() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for _ in 0..5 {
        bed.fault(Fault::ResetMidBody);
    }
    run(sandbox.chime(&["send", "--to", "tg", "x"])).code(0);
    assert_eq!(bed.requests().len(), 1);
}

#[test]
fn a_web_api_200_cut_off_mid_body_is_retried_once_then_queued() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for _ in 0..5 {
        bed.fault(Fault::ResetMidBody);
    }
    // Slack's Web API refuses inside a 200 (`ok: false`): without the body
    // nobody knows whether it was posted.
    let out = run(sandbox.chime(&["send", "--to", "bot", "x"])).code(75);
    assert_eq!(bed.requests().len(), 2, "{out}");
    assert_eq!(queued(&sandbox), 1);
}

#[test]
fn a_retry_after_beyond_any_clock_is_capped_not_a_crash() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.fault(Fault::Json(
        429,
        r#"{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":18446744073709551615}}"#,
    ));
    run(sandbox.chime(&["send", "--to", "tg", "x"]))
        .code(75)
        .stderr_has("Too Many Requests");
    assert_eq!(bed.requests().len(), 1);
    assert_eq!(queued(&sandbox), 1);
}

#[test]
fn a_first_threaded_post_whose_answer_broke_off_warns_that_its_thread_is_lost() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.fault(Fault::ResetMidBody);
    let args = ["send", "--to", "tg", "--thread", "deploy-42", "x"];
    run(sandbox.chime(&args))
        .code(0)
        .stderr_has("cannot remember thread `deploy-42`");
    assert_eq!(bed.requests().len(), 1);
}

#[test]
fn a_platforms_error_reaches_the_terminal_without_its_escapes() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.fault(Fault::Status(
        400,
        "\u{1b}]0;pwned\u{7}\u{1b}[2Jinvalid_payload",
    ));
    let out = run(sandbox.chime(&["send", "x"]))
        .code(65)
        .stderr_has("invalid_payload");
    assert!(
        !out.stderr.contains('\u{1b}') && !out.stderr.contains('\u{7}'),
        "{out}"
    );
}

#[test]
fn a_platforms_error_of_60_kb_is_reported_in_a_paragraph() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let body = format!(r#"{{"ok":false,"error":"{}"}}"#, "x".repeat(60_000));
    bed.fault(Fault::Json(200, Box::leak(body.into_boxed_str())));
    let out = run(sandbox.chime(&["send", "--to", "bot", "y"])).code(65);
    assert!(
        out.stderr.len() < 4096,
        "{} bytes on stderr",
        out.stderr.len()
    );
}
