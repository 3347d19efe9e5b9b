//! `kind = "ntfy"` against the ntfy stand-in: what arrives, and what the exit code says.

use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::bed::{Bed, Fault, Request, Surface};
use crate::support::ntfy::{Ntfy, PREFIX, decode_header, error_body, unmarkdown};
use crate::support::{Run, Sandbox, run, run_with_stdin};

const TOKEN: &str = "tk_faketokenfortestsonlynotreal";
const PASSWORD: &str = "fake-password-notreal";

/// A bed with the stand-in mounted and a profile whose default route goes to `alerts`.
fn setup(extra: &str) -> (Bed, Arc<Ntfy>, Sandbox) {
    let bed = Bed::start();
    let ntfy = Ntfy::new();
    bed.mount(PREFIX, ntfy.clone());
    let sandbox = Sandbox::new();
    sandbox.profile(&profile(&bed, extra));
    (bed, ntfy, sandbox)
}

fn profile(bed: &Bed, extra: &str) -> String {
    format!(
        r#"
[defaults]
route = "phone"
timeout = "5s"

[destinations.alerts]
kind = "ntfy"
url = "{}/ntfy/ops-alerts"
{extra}

[routes.phone]
to = ["alerts"]
"#,
        bed.url()
    )
}

fn chime(sandbox: &Sandbox, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("NTFY_TOKEN", TOKEN);
    run(cmd)
}

#[test]
fn ntfy_publishes_plain_text_with_title_priority_tags_and_click() {
    let (bed, ntfy, sandbox) = setup("tags = \"ops, db\"");
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
        "disk at 95%",
    ];
    let out = chime(&sandbox, &[&args[..], &["--json"]].concat()).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/ntfy/ops-alerts");
    assert_eq!(got[0].header("x-title"), Some("Disk full"));
    assert_eq!(got[0].header("x-priority"), Some("4"));
    assert_eq!(got[0].header("x-tags"), Some("x,ops,db"));
    assert_eq!(
        got[0].header("x-click"),
        Some("https://grafana.example/d/1")
    );
    assert_eq!(
        got[0].header("x-markdown"),
        None,
        "phones show Markdown raw"
    );
    assert_eq!(got[0].header("authorization"), None);
    assert_eq!(
        got[0].text(),
        "disk at 95%\n\nhost: db1\n\nGraph: https://grafana.example/d/1"
    );
    let published = &ntfy.published()[0];
    assert_eq!(published.topic, "ops-alerts");
    assert!(!published.markdown);
    assert_eq!(published.tags, vec!["x", "ops", "db"]);
    let line = &out.json_lines()[0];
    assert_eq!(line["status"], "delivered");
    assert_eq!(line["channel"], "ops-alerts");
    assert_eq!(line["ts"], "msg000000001");
}

#[test]
fn ntfy_with_markdown_true_publishes_markdown() {
    let (bed, ntfy, sandbox) = setup("markdown = true");
    let args = ["send", "-t", "Disk full", "-f", "host=db1"];
    let link = ["--link", "Graph=https://grafana.example/d/1", "disk at 95%"];
    chime(&sandbox, &[&args[..], &link].concat()).code(0);
    let got = bed.delivered();
    assert_eq!(got[0].header("x-markdown"), Some("yes"));
    assert_eq!(
        got[0].text(),
        "disk at 95%\n\n- **host**: db1\n\n- [Graph](https://grafana.example/d/1)"
    );
    assert!(ntfy.published()[0].markdown);
}

#[test]
fn ntfy_plain_text_arrives_exactly_as_written() {
    let (bed, ntfy, sandbox) = setup("");
    let text = "<b>x</b> & *bold* backup_db.sh C:\\dir\n# not a heading\n- a line";
    chime(&sandbox, &["send", "-f", "*k*=<v>", text]).code(0);
    assert_eq!(bed.delivered()[0].text(), format!("{text}\n\n*k*: <v>"));
    assert!(!ntfy.published()[0].markdown);
}

#[test]
fn ntfy_a_title_alone_is_the_body_not_an_empty_message() {
    let (bed, ntfy, sandbox) = setup("");
    chime(&sandbox, &["send", "-t", "Backup done"]).code(0);
    assert_eq!(bed.delivered()[0].text(), "Backup done");
    assert_eq!(ntfy.published()[0].message, "Backup done");
    assert_eq!(
        bed.delivered()[0].header("x-title"),
        None,
        "not shown twice"
    );
}

#[test]
fn ntfy_markdown_that_is_not_a_boolean_is_a_profile_error() {
    let (bed, _ntfy, sandbox) = setup("markdown = \"yes\"");
    chime(&sandbox, &["send", "x"])
        .code(78)
        .stderr_has("`markdown` of destination `alerts` must be true or false");
    assert!(bed.requests().is_empty());
}

#[test]
fn ntfy_non_ascii_title_arrives_intact_as_rfc_2047_encoded_words() {
    let (bed, ntfy, sandbox) = setup("");
    let title = "Sauvegarde réussie ✅ — 日本語のタイトルもそのまま届きます、長くても";
    chime(&sandbox, &["send", "-t", title, "ok"]).code(0);
    let header = bed.delivered()[0].header("x-title").unwrap().to_owned();
    assert!(header.starts_with("=?UTF-8?B?"), "{header}");
    assert!(header.is_ascii());
    assert_eq!(ntfy.published()[0].title.as_deref(), Some(title));
    assert_eq!(decode_header(&header), title);
}

#[test]
fn ntfy_levels_set_the_priority_unless_the_profile_fixes_it() {
    let (bed, ntfy, sandbox) = setup("");
    chime(&sandbox, &["send", "-l", "critical", "x"]).code(0);
    chime(&sandbox, &["send", "-l", "info", "x"]).code(0);
    sandbox.profile(&profile(&bed, "priority = \"low\""));
    chime(&sandbox, &["send", "-l", "critical", "x"]).code(0);
    sandbox.profile(&profile(&bed, "priority = 5"));
    chime(&sandbox, &["send", "-l", "info", "x"]).code(0);
    let priorities: Vec<u8> = ntfy.published().iter().map(|p| p.priority).collect();
    assert_eq!(priorities, vec![5, 3, 2, 5]);
}

#[test]
fn ntfy_invalid_priority_in_the_profile_exits_78() {
    let (bed, _ntfy, sandbox) = setup("priority = \"loud\"");
    chime(&sandbox, &["send", "x"])
        .code(78)
        .stderr_has("`priority` of destination `alerts`");
    assert!(bed.requests().is_empty());
}

#[test]
fn ntfy_markdown_user_text_is_escaped_so_it_never_becomes_markdown() {
    let (bed, ntfy, sandbox) = setup("markdown = true");
    let text = "<b>x</b> & *bold* _it_ [link](http://evil.example) `code`\n# not a heading\n- not a list\n1. nor this";
    chime(&sandbox, &["send", "-f", "*k*=<v>", text]).code(0);
    let body = bed.delivered()[0].text();
    assert_eq!(
        body,
        "\\<b\\>x\\</b\\> \\& \\*bold\\* \\_it\\_ \\[link\\](http://evil.example) \\`code\\`  \n\
         \\# not a heading  \n\\- not a list  \n1\\. nor this\n\n- **\\*k\\***: \\<v\\>"
    );
    let message = ntfy.published()[0].message.clone();
    let (text_part, _) = message.rsplit_once("\n\n").unwrap();
    assert_eq!(unmarkdown(text_part), text);
}

#[test]
fn ntfy_markdown_code_is_sent_verbatim_in_a_fence_it_cannot_close() {
    let (bed, _ntfy, sandbox) = setup("markdown = true");
    let text = "a*b <c> & C:\\dir\n```\nnot the end\n```";
    chime(&sandbox, &["send", "--code", text]).code(0);
    assert_eq!(bed.delivered()[0].text(), format!("````\n{text}\n````"));
}

/// Sends 600 lines of awkward text as one message, titled "Journal"; gives the text back.
fn send_journal(bed: &Bed, sandbox: &Sandbox) -> String {
    bed.no_rate_limit();
    let text: String = (0..600)
        .map(|i| format!("{i:04} café crème 😀 <tag> & *stars* naïve résumé\n"))
        .collect();
    let mut cmd = sandbox.chime(&["send", "-t", "Journal"]);
    cmd.env("NTFY_TOKEN", TOKEN);
    run_with_stdin(cmd, text.as_bytes()).code(0);
    text
}

#[test]
fn ntfy_long_text_is_split_into_4096_byte_messages_that_arrive_in_order() {
    let (bed, ntfy, sandbox) = setup("");
    let text = send_journal(&bed, &sandbox);
    let published = ntfy.published();
    assert!(published.len() >= 8, "{} messages", published.len());
    assert_eq!(bed.requests().len(), published.len(), "none refused");
    assert!(published.iter().all(|m| m.message.len() <= 4096));
    let rebuilt: Vec<&str> = published.iter().map(|m| m.message.as_str()).collect();
    assert_eq!(
        rebuilt.join("\n") + "\n",
        text,
        "every line, in order, once"
    );
}

#[test]
fn ntfy_long_markdown_is_split_into_4096_byte_messages_that_arrive_in_order() {
    let (bed, ntfy, sandbox) = setup("markdown = true");
    let text = send_journal(&bed, &sandbox);
    let published = ntfy.published();
    let count = published.len();
    assert!(count >= 8, "{count} messages");
    assert_eq!(bed.requests().len(), count, "none refused by the stand-in");
    let mut rebuilt = Vec::new();
    for (i, message) in published.iter().enumerate() {
        assert!(message.message.len() <= 4096);
        let title = format!("Journal ({}/{count})", i + 1);
        assert_eq!(message.title.as_deref(), Some(title.as_str()));
        rebuilt.push(unmarkdown(message.message.trim_end_matches(' ')));
    }
    assert_eq!(
        rebuilt.join("\n") + "\n",
        text,
        "every line arrived, in order, once"
    );
}

#[test]
fn ntfy_429_without_retry_after_backs_off_then_delivers() {
    let (bed, ntfy, sandbox) = setup("");
    bed.fault(Fault::RateLimit(1));
    let started = Instant::now();
    chime(&sandbox, &["send", "x"]).code(0);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "backed off before retrying"
    );
    let requests = bed.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].status, 429);
    assert_eq!(ntfy.published().len(), 1);
}

#[test]
fn ntfy_daily_quota_is_queued_for_later_without_waiting() {
    let (bed, ntfy, sandbox) = setup("");
    let body = error_body(429, 42908, "limit reached: daily message quota reached");
    bed.fault(Fault::Json(429, Box::leak(body.into_boxed_str())));
    let started = Instant::now();
    chime(&sandbox, &["send", "x"])
        .code(75)
        .stderr_has("daily message quota reached");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "did not wait in-process"
    );
    assert_eq!(bed.requests().len(), 1);
    assert!(ntfy.published().is_empty());
}

#[test]
fn ntfy_protected_topic_without_access_is_rejected_with_65_and_a_hint() {
    let (bed, ntfy, sandbox) = setup("");
    ntfy.protect("ops-alerts", &[&format!("Bearer {TOKEN}")]);
    chime(&sandbox, &["send", "x"])
        .code(65)
        .stderr_has("403 forbidden")
        .stderr_has("set `token`");
    assert_eq!(bed.requests().len(), 1, "a permanent error is not retried");
}

#[test]
fn ntfy_token_reaches_the_server_but_never_the_output() {
    let (bed, ntfy, sandbox) = setup("token = \"${NTFY_TOKEN}\"");
    ntfy.protect("ops-alerts", &[&format!("Bearer {TOKEN}")]);
    chime(&sandbox, &["send", "-v", "x"])
        .code(0)
        .never_shows(TOKEN);
    assert_eq!(
        bed.delivered()[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    chime(&sandbox, &["send", "--dry-run", "x"])
        .code(0)
        .stdout_has("authorization: Bearer ****")
        .stdout_has("/ntfy/****")
        .never_shows(TOKEN)
        .never_shows("ops-alerts");
    let mut cmd = sandbox.chime(&["send", "x"]);
    cmd.env("NTFY_TOKEN", "tk_wrongtokensecretvalue");
    run(cmd)
        .code(65)
        .stderr_has("401 unauthorized")
        .never_shows("wrongtokensecretvalue");
}

#[test]
fn ntfy_password_from_a_file_is_sent_as_basic_auth_and_never_shown() {
    let file_dir = tempfile::tempdir().unwrap();
    let file = file_dir.path().join("ntfy_password");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    let extra = format!(
        "user = \"phil\"\npassword = {{ file = \"{}\" }}",
        file.display()
    );
    let (bed, ntfy, sandbox) = setup(&extra);
    // base64("phil:fake-password-notreal")
    let basic = "Basic cGhpbDpmYWtlLXBhc3N3b3JkLW5vdHJlYWw=";
    ntfy.protect("ops-alerts", &[basic]);
    chime(&sandbox, &["send", "-v", "x"])
        .code(0)
        .never_shows(PASSWORD);
    assert_eq!(bed.delivered()[0].header("authorization"), Some(basic));
    chime(&sandbox, &["send", "--dry-run", "--json", "x"])
        .code(0)
        .never_shows(PASSWORD)
        .never_shows(&basic[6..]);
}

#[test]
fn ntfy_user_without_password_is_a_profile_error() {
    let (_bed, _ntfy, sandbox) = setup("user = \"phil\"");
    chime(&sandbox, &["send", "x"])
        .code(78)
        .stderr_has("`user` needs a `password`");
}

/// A publish as chime would send it, for checking the stand-in directly.
fn publish(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
    Request {
        method: "POST".into(),
        path: path.into(),
        query: None,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.to_vec(),
        status: 0,
        response: String::new(),
    }
}

#[test]
fn ntfy_stand_in_refuses_what_ntfy_refuses() {
    let ntfy = Ntfy::new();
    ntfy.protect("private", &["Bearer tk_ok"]);
    let ask = |request: Request| {
        let answer = ntfy.answer(&request, &mut |_| Ok(()));
        (answer.status, answer.body)
    };
    let error = |status, code, text| (status, error_body(status, code, text));
    assert_eq!(ask(publish("/ntfy/alerts", &[], &[b'x'; 4096])).0, 200);
    assert_eq!(
        ask(publish("/ntfy/alerts", &[], &[b'x'; 4097])),
        error(400, 40014, "invalid request: attachments not allowed")
    );
    assert_eq!(
        ask(publish("/ntfy/alerts", &[], b"\xff\xfe")),
        error(400, 40014, "invalid request: attachments not allowed")
    );
    assert_eq!(
        ask(publish("/ntfy/bad%20topic", &[], b"x")),
        error(400, 40009, "invalid request: topic invalid")
    );
    assert_eq!(
        ask(publish("/ntfy/alerts", &[("x-priority", "7")], b"x")),
        error(400, 40007, "invalid priority parameter")
    );
    assert_eq!(
        ask(publish("/ntfy/private", &[], b"x")),
        error(403, 40301, "forbidden")
    );
    assert_eq!(
        ask(publish(
            "/ntfy/private",
            &[("authorization", "Bearer tk_no")],
            b"x"
        )),
        error(401, 40101, "unauthorized")
    );
    let throttled = ntfy.answer(&publish("/ntfy/alerts", &[], b"x"), &mut |_| Err(5));
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.retry_after, None, "ntfy sends no Retry-After");
    assert_eq!(
        throttled.body,
        error_body(429, 42901, "limit reached: too many requests")
    );
    assert_eq!(
        decode_header("=?UTF-8?Q?caf=C3=A9_cr=C3=A8me?="),
        "café crème"
    );
}

#[test]
fn ntfy_queued_message_keeps_its_title_and_priority_through_the_spool() {
    let (bed, ntfy, sandbox) = setup("");
    for _ in 0..3 {
        bed.fault(Fault::Status(503, "down"));
    }
    chime(
        &sandbox,
        &["send", "-t", "Nuit blanche ✅", "-l", "critical", "x"],
    )
    .code(75);
    assert!(ntfy.published().is_empty());
    chime(&sandbox, &["flush", "--all"]).code(0);
    let published = ntfy.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].title.as_deref(), Some("Nuit blanche ✅"));
    assert_eq!(published[0].priority, 5);
    assert_eq!(published[0].tags, vec!["rotating_light"]);
}

#[test]
fn ntfy_long_title_is_cut_in_the_header_so_phones_get_the_push_and_kept_whole_in_the_body() {
    let (bed, ntfy, sandbox) = setup("");
    let title = "Nightly backup of the primary database cluster 🚨 ".repeat(100);
    let title = title.trim();
    let url = format!("https://ci.example/{}", "run/".repeat(700));
    let link = format!("Run={url}");
    chime(
        &sandbox,
        &["send", "-t", title, "--link", &link, "all good"],
    )
    .code(0);
    assert_eq!(
        bed.delivered().len(),
        bed.requests().len(),
        "every push reaches phones"
    );
    let published = ntfy.published();
    let header = published[0].title.as_deref().unwrap();
    let header = header
        .rsplit_once(" (")
        .map_or(header, |(title, _marker)| title);
    assert!(header.len() <= 250 && header.ends_with('…'), "{header}");
    assert!(title.starts_with(header.trim_end_matches('…')));
    let bodies: String = published.iter().map(|p| p.message.as_str()).collect();
    assert!(bodies.starts_with(title), "the whole title opens the body");
    assert!(bodies.contains(&url), "the long link is in the body");
    assert_eq!(published[0].click, None, "too long for a push");
}

#[test]
fn ntfy_daily_quota_keeps_the_message_until_the_quota_resets_at_midnight_utc() {
    let (bed, _ntfy, sandbox) = setup("");
    let body = error_body(429, 42908, "limit reached: daily message quota reached");
    bed.fault(Fault::Json(429, Box::leak(body.into_boxed_str())));
    let out = chime(&sandbox, &["send", "x"]).code(75);
    assert_eq!(
        out.stderr
            .matches("resets daily quotas at 00:00 UTC")
            .count(),
        1,
        "{out}"
    );
    let listed = chime(&sandbox, &["spool", "list", "--json"]).code(0);
    let entries: Value = serde_json::from_str(&listed.stdout).unwrap();
    let next = entries[0]["next_attempt"].as_str().unwrap_or_default();
    let next = humantime::parse_rfc3339(next).expect("an RFC 3339 time");
    let secs = next
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let midnight = (now / 86_400 + 1) * 86_400;
    assert!(
        (midnight..=midnight + 120).contains(&secs),
        "not-before {next:?} is not just past the next midnight UTC"
    );
}

#[test]
fn ntfy_click_url_is_sent_percent_encoded_as_plain_ascii() {
    let (_bed, ntfy, sandbox) = setup("");
    let link = "Graph=https://grafana.example/d/ü b";
    chime(&sandbox, &["send", "--link", link, "disk at 95%"]).code(0);
    let published = ntfy.published();
    assert_eq!(
        published[0].click.as_deref(),
        Some("https://grafana.example/d/%C3%BC%20b")
    );
}

#[test]
fn ntfy_priority_error_points_at_its_line_and_column() {
    let sandbox = crate::support::Sandbox::new();
    sandbox.profile(
        "[destinations.n]\nkind = \"ntfy\"\nurl = \"https://ntfy.example/ops\"\npriority = \"loudest\"\n",
    );
    crate::support::run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("config.toml:4:12")
        .stderr_has("`priority` of destination `n` must be 1–5");
}
