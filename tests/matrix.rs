//! `kind = "matrix"` against the homeserver stand-in: what the room gets, where the
//! token goes, an alias looked up once, threads and edits as relations, transaction
//! IDs that make a retried send post once, and what the exit code says.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use crate::support::bed::{Bed, Fault, Request};
use crate::support::matrix::{
    ALIAS, BOT, Event, Matrix, OTHER_ROOM, PDU_MAX, PREFIX, ROOM, SECOND_ROOM, TOKEN,
};
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// A bed with the stand-in mounted, and a profile whose default route goes to
/// `room` in the room `room`, its token from `$MATRIX_TOKEN`.
fn setup(room: &str) -> (Bed, Arc<Matrix>, Sandbox) {
    let bed = Bed::start();
    bed.no_rate_limit();
    let matrix = Matrix::new();
    bed.mount(PREFIX, matrix.clone());
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "ops"
timeout = "10s"

[destinations.room]
kind = "matrix"
homeserver = "{}/matrix"
access_token = "${{MATRIX_TOKEN}}"
room = "{room}"
pace = "0s"

[routes.ops]
to = ["room"]
"#,
        bed.url()
    ));
    (bed, matrix, sandbox)
}

fn chime(sandbox: &Sandbox, args: &[&str]) -> Run {
    chime_as(sandbox, TOKEN, args)
}

fn chime_as(sandbox: &Sandbox, token: &str, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("MATRIX_TOKEN", token);
    run(cmd)
}

/// The sends the homeserver got, answered or not.
fn sends(bed: &Bed) -> Vec<Request> {
    let requests = bed.requests();
    requests.into_iter().filter(|r| r.method == "PUT").collect()
}

fn relation(event: &Event) -> &Value {
    &event.content["m.relates_to"]
}

#[test]
fn matrix_gets_an_escaped_html_body_and_a_plain_fallback_as_m_text() {
    let (_bed, matrix, sandbox) = setup(ROOM);
    let args = [
        "send",
        "-t",
        "<script>alert(1)</script>",
        "-l",
        "warning",
        "-f",
        "<b>k</b>=<img src=x onerror=alert(2)>",
        "--link",
        "<i>Logs</i>=https://ci.example/?a=1&b=\"2\"",
        "disk <90% & \"rising\"",
    ];
    chime(&sandbox, &args).code(0);
    let events = matrix.events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.room, ROOM);
    let content = &event.content;
    assert_eq!(content["msgtype"], "m.text");
    assert_eq!(content["format"], "org.matrix.custom.html");
    assert_eq!(
        content["m.mentions"],
        serde_json::json!({}),
        "nobody is pinged"
    );
    let html = event.html();
    assert!(
        html.starts_with("⚠️ <b>&lt;script&gt;alert(1)&lt;/script&gt;</b>"),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{html}"
    );
    assert!(
        html.contains("disk &lt;90% &amp; &quot;rising&quot;"),
        "{html}"
    );
    assert!(
        html.contains("<b>&lt;b&gt;k&lt;/b&gt;</b>: &lt;img src=x onerror=alert(2)&gt;"),
        "{html}"
    );
    assert!(
        html.contains(
            "<a href=\"https://ci.example/?a=1&amp;b=%222%22\">&lt;i&gt;Logs&lt;/i&gt;</a>"
        ),
        "{html}"
    );
    let body = event.body();
    assert!(body.starts_with("⚠️ <script>alert(1)</script>"), "{body}");
    assert!(body.contains("disk <90% & \"rising\""), "{body}");
    assert!(
        body.contains("<i>Logs</i>: https://ci.example/?a=1&b=%222%22"),
        "{body}"
    );
}

#[test]
fn matrix_msgtype_notice_sends_m_notice_and_config_show_hides_the_token() {
    let (_bed, matrix, sandbox) = setup(ROOM);
    let profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    sandbox.profile(&profile.replace("pace = \"0s\"", "pace = \"0s\"\nmsgtype = \"notice\""));
    chime(&sandbox, &["send", "x"]).code(0);
    assert_eq!(matrix.events()[0].content["msgtype"], "m.notice");
    chime(&sandbox, &["config", "show"])
        .code(0)
        .stdout_has("access_token = \"****\"")
        .stdout_has("msgtype = \"notice\"")
        .never_shows(TOKEN);
}

#[test]
fn matrix_token_goes_only_in_the_authorization_header_and_is_never_shown() {
    let (bed, _matrix, sandbox) = setup(ALIAS);
    chime(&sandbox, &["send", "-v", "x"])
        .code(0)
        .never_shows(TOKEN);
    let requests = bed.requests();
    assert_eq!(requests.len(), 2, "the alias, then the send");
    for request in &requests {
        let bearer = format!("Bearer {TOKEN}");
        assert_eq!(request.header("authorization"), Some(bearer.as_str()));
        assert_eq!(request.query, None, "never ?access_token= in a URL");
        assert!(!request.path.contains(TOKEN) && !request.text().contains(TOKEN));
    }
    chime(&sandbox, &["send", "--dry-run", "x"])
        .code(0)
        .stdout_has("authorization: Bearer ****")
        .never_shows(TOKEN);
    chime(&sandbox, &["send", "--dry-run", "--json", "x"])
        .code(0)
        .never_shows(TOKEN);
}

#[test]
fn matrix_alias_is_looked_up_once_and_its_room_remembered_across_sends() {
    let (bed, matrix, sandbox) = setup(ALIAS);
    chime(&sandbox, &["send", "one"]).code(0);
    chime(&sandbox, &["send", "two"]).code(0);
    assert_eq!(matrix.directory_calls(), 1, "the second send knew the room");
    let rooms: Vec<String> = matrix.events().iter().map(|e| e.room.clone()).collect();
    assert_eq!(rooms, [ROOM, ROOM]);
    let paths: Vec<String> = sends(&bed).iter().map(|r| r.path.clone()).collect();
    let room_path = format!("/rooms/{}/send/m.room.message/", "%21ops1234%3Aexample.org");
    assert!(paths.iter().all(|p| p.contains(&room_path)), "{paths:?}");
}

#[test]
fn matrix_channel_overrides_the_room_for_one_send() {
    let (_bed, matrix, sandbox) = setup(ROOM);
    chime(&sandbox, &["send", "--channel", SECOND_ROOM, "x"]).code(0);
    assert_eq!(matrix.events()[0].room, SECOND_ROOM);
}

#[test]
fn matrix_long_message_is_split_into_parts_each_with_its_own_transaction_id() {
    let (bed, matrix, sandbox) = setup(ROOM);
    let text: String = (1..=12_000).map(|i| format!("w{i:05} <&> ")).collect();
    let mut cmd = sandbox.chime(&["send", "-t", "Long"]);
    cmd.env("MATRIX_TOKEN", TOKEN);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let events = matrix.events();
    assert!(events.len() >= 4, "{} parts", events.len());
    let txns: HashSet<&str> = events.iter().map(|e| e.txn_id.as_str()).collect();
    assert_eq!(txns.len(), events.len(), "one transaction per part");
    for (i, event) in events.iter().enumerate() {
        let marker = format!("({}/{})", i + 1, events.len());
        assert!(event.body().ends_with(&marker), "part {i}");
        let content = event.content.to_string().len();
        assert!(
            content < PDU_MAX / 2,
            "part {i}: {content} bytes of content"
        );
    }
    let words: String = events.iter().map(Event::body).collect();
    assert!(words.contains("w00001 <&>") && words.contains("w12000 <&>"));
    assert!(bed.requests().iter().all(|r| r.status == 200));
}

#[test]
fn matrix_thread_replies_carry_m_thread_to_the_first_message() {
    let (_bed, matrix, sandbox) = setup(ALIAS);
    chime(&sandbox, &["send", "--thread", "deploy-42", "started"]).code(0);
    chime(&sandbox, &["send", "--thread", "deploy-42", "step 1"]).code(0);
    chime(&sandbox, &["send", "--thread", "deploy-42", "done"]).code(0);
    let events = matrix.events();
    assert_eq!(events.len(), 3);
    assert!(
        relation(&events[0]).is_null(),
        "the root is a plain message"
    );
    let root = events[0].event_id.as_str();
    for reply in &events[1..] {
        let relation = relation(reply);
        assert_eq!(relation["rel_type"], "m.thread");
        assert_eq!(relation["event_id"], root);
        assert_eq!(relation["is_falling_back"], true);
        assert_eq!(relation["m.in_reply_to"]["event_id"], root);
        assert_eq!(reply.room, ROOM);
    }
}

#[test]
fn matrix_update_edits_the_first_message_with_m_replace() {
    let (_bed, matrix, sandbox) = setup(ROOM);
    chime(
        &sandbox,
        &["send", "--update", "build-7", "-t", "Build", "running"],
    )
    .code(0);
    chime(
        &sandbox,
        &["send", "--update", "build-7", "-t", "Build", "passed <ok>"],
    )
    .code(0);
    chime(
        &sandbox,
        &["send", "--update", "build-7", "-t", "Build", "deployed"],
    )
    .code(0);
    let events = matrix.events();
    assert_eq!(events.len(), 3);
    let original = events[0].event_id.as_str();
    for (edit, said) in events[1..].iter().zip(["passed <ok>", "deployed"]) {
        let relation = relation(edit);
        assert_eq!(relation["rel_type"], "m.replace");
        assert_eq!(
            relation["event_id"], original,
            "an edit never edits an edit"
        );
        let new = &edit.content["m.new_content"];
        assert!(new["body"].as_str().unwrap().contains(said));
        assert!(new["m.relates_to"].is_null());
        assert!(edit.body().starts_with("* Build"), "{}", edit.body());
        assert!(edit.html().starts_with("* <b>Build</b>"), "{}", edit.html());
    }
    assert!(
        events[1].content["m.new_content"]["formatted_body"]
            .as_str()
            .unwrap()
            .contains("passed &lt;ok&gt;")
    );
}

#[test]
fn matrix_a_send_refused_500_is_queued_and_flushed_with_the_same_transaction_id() {
    let (bed, matrix, sandbox) = setup(ROOM);
    for _ in 0..3 {
        bed.fault(Fault::Json(
            500,
            r#"{"errcode":"M_UNKNOWN","error":"Internal server error"}"#,
        ));
    }
    chime(&sandbox, &["send", "x"])
        .code(75)
        .stderr_has("500 M_UNKNOWN: Internal server error");
    assert!(matrix.events().is_empty());
    chime(&sandbox, &["flush", "--all"]).code(0);
    chime(&sandbox, &["flush", "--all"]).code(0);
    let paths: HashSet<String> = sends(&bed).iter().map(|r| r.path.clone()).collect();
    assert_eq!(sends(&bed).len(), 4, "three tries, then the flush");
    assert_eq!(
        paths.len(),
        1,
        "every try PUT the same transaction: {paths:?}"
    );
    let events = matrix.events();
    assert_eq!(events.len(), 1);
    assert!(paths.iter().next().unwrap().ends_with(&events[0].txn_id));
}

#[test]
fn matrix_a_send_made_but_answered_502_is_flushed_into_the_same_single_event() {
    let (bed, matrix, sandbox) = setup(ALIAS);
    matrix.gateway_errors(3);
    chime(&sandbox, &["send", "x"]).code(75);
    assert_eq!(
        matrix.events().len(),
        1,
        "the homeserver made it before the proxy gave up"
    );
    chime(&sandbox, &["flush", "--all"]).code(0);
    let events = matrix.events();
    assert_eq!(
        events.len(),
        1,
        "the retries were answered from the transaction"
    );
    let last = sends(&bed).pop().unwrap();
    assert_eq!(last.status, 200);
    assert!(
        last.response.contains(&events[0].event_id),
        "{}",
        last.response
    );
    assert_eq!(matrix.directory_calls(), 1, "the spool kept the room's ID");
}

#[test]
fn matrix_a_reset_after_the_event_was_made_is_retried_into_the_same_event() {
    let (bed, matrix, sandbox) = setup(ROOM);
    bed.fault(Fault::Reset);
    chime(&sandbox, &["send", "--thread", "k", "x"]).code(0);
    let tries = sends(&bed);
    assert_eq!(tries.len(), 2);
    assert_eq!(tries[0].path, tries[1].path);
    assert_eq!(matrix.events().len(), 1);
    chime(&sandbox, &["send", "--thread", "k", "y"]).code(0);
    let events = matrix.events();
    assert_eq!(
        relation(&events[1])["event_id"],
        events[0].event_id.as_str(),
        "the retry's answer named the event, which the thread remembers"
    );
}

#[test]
fn matrix_rate_limit_waits_retry_after_ms_before_trying_again() {
    let (bed, matrix, sandbox) = setup(ROOM);
    // Longer than chime's own first backoffs (1 s, then 2 s), which a retry that
    // ignored the body would come back after, and be refused again.
    matrix.throttle_next(2_500, false);
    chime(&sandbox, &["send", "x"]).code(0);
    let statuses: Vec<u16> = sends(&bed).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
    assert_eq!(
        matrix.early_retries(),
        0,
        "no try came back within the wait"
    );
    assert_eq!(matrix.events().len(), 1);
}

#[test]
fn matrix_unknown_token_is_refused_65_with_a_hint_and_never_shown() {
    let (bed, matrix, sandbox) = setup(ROOM);
    let wrong = "syt_d3Jvbmc_notTheBotsToken_0000";
    chime_as(&sandbox, wrong, &["send", "-v", "x"])
        .code(65)
        .stderr_has("401 M_UNKNOWN_TOKEN: Unrecognised access token")
        .stderr_has("log in as the bot")
        .never_shows(wrong);
    assert_eq!(bed.requests().len(), 1, "a refusal is not retried");
    assert!(matrix.events().is_empty());
    chime_as(&sandbox, "", &["send", "x"]).code(78);
}

#[test]
fn matrix_room_the_bot_has_not_joined_is_refused_65_with_a_hint_to_invite_it() {
    let (_bed, matrix, sandbox) = setup(OTHER_ROOM);
    chime(&sandbox, &["send", "x"])
        .code(65)
        .stderr_has(&format!(
            "403 M_FORBIDDEN: User {BOT} not in room {OTHER_ROOM}"
        ))
        .stderr_has("invite it");
    assert!(matrix.events().is_empty());
}

#[test]
fn matrix_unknown_alias_is_refused_65_without_a_send() {
    let (bed, _matrix, sandbox) = setup("#nowhere:example.org");
    chime(&sandbox, &["send", "x"])
        .code(65)
        .stderr_has("404 M_NOT_FOUND: Room alias #nowhere:example.org not found")
        .stderr_has("check `room`");
    assert!(sends(&bed).is_empty());
}

#[test]
fn matrix_chime_test_checks_the_token_and_the_room_without_posting() {
    let (bed, matrix, sandbox) = setup(ALIAS);
    chime(&sandbox, &["test"]).code(0);
    let paths: Vec<String> = bed.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/matrix/_matrix/client/v3/account/whoami",
            "/matrix/_matrix/client/v3/directory/room/%23ops%3Aexample.org",
            "/matrix/_matrix/client/v3/rooms/%21ops1234%3Aexample.org/joined_members",
        ]
    );
    assert!(matrix.events().is_empty(), "a test posts nothing");
    chime_as(&sandbox, "syt_bm9wZQ_wrong_1111", &["test"])
        .code(65)
        .stdout_has("M_UNKNOWN_TOKEN")
        .never_shows("syt_bm9wZQ_wrong_1111");
}

#[test]
fn matrix_chime_test_refuses_a_room_the_bot_is_not_in() {
    let (_bed, _matrix, sandbox) = setup(OTHER_ROOM);
    chime(&sandbox, &["test"])
        .code(65)
        .stdout_has("M_FORBIDDEN")
        .stdout_has("invite it");
}

#[test]
fn matrix_profile_with_a_bad_room_or_homeserver_is_refused_78() {
    let (_bed, _matrix, sandbox) = setup("ops");
    chime(&sandbox, &["send", "x"])
        .code(78)
        .stderr_has("must be a room ID (!…) or an alias (#name:server)");
    let profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    let profile = profile.replace("room = \"ops\"", &format!("room = \"{ROOM}\""));
    let at = profile.find("homeserver = ").unwrap();
    let end = at + profile[at..].find('\n').unwrap();
    sandbox.profile(&format!(
        "{}homeserver = \"matrix.example.org\"{}",
        &profile[..at],
        &profile[end..]
    ));
    chime(&sandbox, &["send", "x"])
        .code(78)
        .stderr_has("`homeserver` of destination `room` must be an http(s) URL");
}

#[test]
fn matrix_an_edit_of_a_full_part_still_fits_the_event_size_limit() {
    let (bed, matrix, sandbox) = setup(ROOM);
    chime(&sandbox, &["send", "--update", "report", "pending"]).code(0);
    let text: String = (1..=9_000).map(|i| format!("r{i:05} \"<q>\" ")).collect();
    let mut cmd = sandbox.chime(&["send", "--update", "report"]);
    cmd.env("MATRIX_TOKEN", TOKEN);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    assert!(bed.requests().iter().all(|r| r.status == 200), "no 413");
    let events = matrix.events();
    assert!(events.len() >= 4, "{} events", events.len());
    let edit = &events[1];
    assert_eq!(relation(edit)["rel_type"], "m.replace");
    let size = edit.content.to_string().len();
    assert!(size > PDU_MAX * 2 / 3, "a full part, edited: {size} bytes");
    for reply in &events[2..] {
        assert_eq!(relation(reply)["rel_type"], "m.thread");
        assert_eq!(relation(reply)["event_id"], events[0].event_id.as_str());
    }
}
