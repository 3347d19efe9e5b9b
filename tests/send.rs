//! `chime send` against the Slack test bed: what arrives, and what the exit code says.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::bed::{Bed, Fault};
use crate::support::{Run, Sandbox, run, run_with_stdin};

const TOKEN: &str = "xoxb-000-test-token-notreal";

/// A sandbox whose profile has two webhooks (`ops-hook`, `dev-hook`), a bot on
/// the bed's Web API, routes for each and a rule sending errors to `critical`.
fn setup(bed: &Bed) -> Sandbox {
    bed.add_token(TOKEN);
    bed.add_channel("#deploys", true);
    bed.add_channel("#incidents", true);
    bed.add_channel("#private", false);
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r##"
[defaults]
route = "ops"
timeout = "5s"

[destinations.ops-hook]
kind = "slack"
url = "${{OPS_WEBHOOK}}"

[destinations.dev-hook]
kind = "slack"
url = "{dev}"

[destinations.bot]
kind = "slack-api"
token = "{TOKEN}"
channel = "#deploys"
api_url = "{api}"

[routes.ops]
to = ["ops-hook"]

[routes.both]
to = ["ops-hook", "dev-hook"]

[routes.critical]
to = ["bot", "ops-hook"]
channel = "#incidents"
template = "alert"

[routes.private]
to = ["bot"]
channel = "#private"

[[rules]]
when = "level in ['error', 'critical']"
route = "critical"

[templates.alert]
title = "{{{{ level | upper }}}} on {{{{ host }}}}"
text = "<!here> {{{{ text }}}}"
"##,
        dev = bed.webhook("dev"),
        api = bed.api_url(),
    ));
    sandbox
}

fn chime(sandbox: &Sandbox, bed: &Bed, args: &[&str]) -> Run {
    let mut cmd = sandbox.chime(args);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    run(cmd)
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

/// All mrkdwn and plain text of a payload's top-level blocks, in order.
fn block_texts(payload: &Value) -> Vec<String> {
    payload["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn send_delivers_to_the_default_route_and_exits_0() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(&sandbox, &bed, &["send", "backup done"]).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, path_of(&bed.webhook("ops")));
    assert!(
        got[0]
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = got[0].json();
    assert_eq!(body["text"], "backup done");
    assert_eq!(block_texts(&body), vec!["backup done"]);
}

#[test]
fn title_fields_and_links_become_header_fields_and_buttons() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(
        &sandbox,
        &bed,
        &[
            "send",
            "-t",
            "Nightly backup",
            "-l",
            "success",
            "-f",
            "size=12G",
            "-f",
            "took=4m",
            "--link",
            "Logs=https://ci.example/42",
            "all good",
        ],
    )
    .code(0);
    let body = bed.delivered()[0].json();
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(
        blocks[0]["text"]["text"],
        ":white_check_mark: Nightly backup"
    );
    assert_eq!(blocks[1]["text"]["text"], "all good");
    assert_eq!(blocks[2]["fields"][0]["text"], "*size*\n12G");
    assert_eq!(blocks[2]["fields"][1]["text"], "*took*\n4m");
    assert_eq!(blocks[3]["elements"][0]["url"], "https://ci.example/42");
    assert_eq!(body["attachments"][0]["color"], "#2EB67D");
    assert!(body["text"].as_str().unwrap().contains("Nightly backup"));
}

#[test]
fn user_text_is_escaped_but_template_control_sequences_survive() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(&sandbox, &bed, &["send", "-l", "error", "a < b && c > d"]).code(0);
    let api = bed
        .delivered()
        .into_iter()
        .find(|r| r.path.ends_with("chat.postMessage"))
        .unwrap();
    let texts = block_texts(&api.json());
    assert_eq!(texts[1], "<!here> a &lt; b &amp;&amp; c &gt; d");
}

#[test]
fn text_that_looks_like_a_template_is_sent_as_written() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(&sandbox, &bed, &["send", "{{ not a template }}"]).code(0);
    assert_eq!(
        block_texts(&bed.delivered()[0].json()),
        vec!["{{ not a template }}"]
    );
}

#[test]
fn rules_route_errors_to_the_bot_with_the_route_channel_and_template() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let out = chime(
        &sandbox,
        &bed,
        &["send", "-l", "critical", "--json", "db down"],
    )
    .code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 2, "bot and ops-hook");
    let api = got
        .iter()
        .find(|r| r.path == "/api/chat.postMessage")
        .expect("the bot posted");
    assert_eq!(
        api.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let body = api.json();
    assert_eq!(body["channel"], "#incidents");
    assert!(
        body["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with(":rotating_light: CRITICAL on ")
    );
    let lines = out.json_lines();
    let bot = lines.iter().find(|l| l["destination"] == "bot").unwrap();
    assert_eq!(bot["status"], "delivered");
    assert!(
        bot["ts"].as_str().is_some_and(|ts| ts.contains('.')),
        "{bot}"
    );
    assert!(bot["channel"].is_string());
}

#[test]
fn to_bypasses_routes_and_rules() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(
        &sandbox,
        &bed,
        &["send", "--to", "dev-hook", "-l", "error", "x"],
    )
    .code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, path_of(&bed.webhook("dev")));
}

#[test]
fn a_destination_reached_by_two_routes_gets_the_message_once() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(&sandbox, &bed, &["send", "-r", "ops", "-r", "both", "x"]).code(0);
    assert_eq!(bed.delivered().len(), 2);
}

#[test]
fn stdin_is_read_when_no_text_is_given() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let mut cmd = sandbox.chime(&["send", "-t", "log"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    run_with_stdin(cmd, b"line one\nline two\n").code(0);
    assert_eq!(
        block_texts(&bed.delivered()[0].json())[1],
        "line one\nline two"
    );
}

#[test]
fn invalid_utf8_on_stdin_is_replaced_not_fatal() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let mut cmd = sandbox.chime(&["send", "-"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    run_with_stdin(cmd, b"ok \xff\xfe bytes").code(0);
    assert_eq!(
        block_texts(&bed.delivered()[0].json()),
        vec!["ok \u{fffd}\u{fffd} bytes"]
    );
}

#[test]
fn json_on_stdin_feeds_a_template() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let mut cmd = sandbox.chime(&["send", "--to", "ops-hook", "--template", "alert"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    run_with_stdin(cmd, br#"{"text": "from json", "level": "warning"}"#).code(0);
    let body = bed.delivered()[0].json();
    assert!(
        body["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with(":warning: WARNING on ")
    );
    assert_eq!(block_texts(&body)[1], "<!here> from json");
}

#[test]
fn json_input_that_is_not_json_is_a_usage_error() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let mut cmd = sandbox.chime(&["send", "--json-input"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    run_with_stdin(cmd, b"not json")
        .code(2)
        .stderr_has("stdin is not JSON");
    assert!(bed.requests().is_empty());
}

#[test]
fn nothing_to_send_exits_2_and_posts_nothing() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(&sandbox, &bed, &["send"])
        .code(2)
        .stderr_has("nothing to send");
    let mut cmd = sandbox.chime(&["send"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    run_with_stdin(cmd, b"\n").code(2);
    assert!(bed.requests().is_empty());
}

#[test]
fn bad_flag_exits_2() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(&sandbox, &bed, &["send", "--level", "loud", "x"]).code(2);
    chime(&sandbox, &bed, &["send", "--link", "nourl", "x"]).code(2);
    assert!(bed.requests().is_empty());
}

#[test]
fn route_and_to_together_is_a_usage_error_not_a_silent_choice() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(
        &sandbox,
        &bed,
        &["send", "-r", "ops", "--to", "ops-hook", "x"],
    )
    .code(2)
    .stderr_has("cannot be used with");
    assert!(bed.requests().is_empty());
}

#[test]
fn dry_run_prints_the_request_with_secrets_redacted_and_sends_nothing() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let out = chime(
        &sandbox,
        &bed,
        &["send", "-l", "error", "--dry-run", "hello"],
    )
    .code(0)
    .stdout_has("POST http://127.0.0.1:")
    .stdout_has("/services/T…/B…/****")
    .stdout_has("authorization: Bearer xoxb-****")
    .stdout_has("\"channel\": \"#incidents\"");
    out.never_shows("fakesecret").never_shows("test-token");
    assert!(bed.requests().is_empty());
}

#[test]
fn verbose_logs_requests_without_secrets() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(&sandbox, &bed, &["send", "-v", "-l", "error", "hello"])
        .code(0)
        .stderr_has("POST http://127.0.0.1:")
        .never_shows(&path_of(&bed.webhook("ops")))
        .never_shows(bed.webhook("ops").rsplit('/').next().unwrap())
        .never_shows("test-token");
}

#[test]
fn removed_webhook_exits_65_with_the_platform_error_and_a_hint() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.remove_hook("ops");
    let out = chime(&sandbox, &bed, &["send", "--json", "x"])
        .code(65)
        .stderr_has("404 no_service")
        .stderr_has("create a new one");
    let line = &out.json_lines()[0];
    assert_eq!(line["status"], "rejected");
    assert_eq!(line["http_status"], 404);
    assert_eq!(line["error"], "404 no_service");
    assert_eq!(
        bed.requests().len(),
        1,
        "a permanent rejection is not retried"
    );
}

#[test]
fn web_api_error_in_a_200_is_read_and_explained() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(&sandbox, &bed, &["send", "-r", "private", "x"])
        .code(65)
        .stderr_has("not_in_channel")
        .stderr_has("/invite");
}

#[test]
fn unavailable_destination_is_retried_then_exits_75() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for _ in 0..5 {
        bed.fault(Fault::Status(503, "service unavailable"));
    }
    chime(&sandbox, &bed, &["send", "x"])
        .code(75)
        .stderr_has("503 Service Unavailable");
    let tries = bed.requests().len();
    assert!(
        (2..=3).contains(&tries),
        "retried a little, not forever: {tries} tries"
    );
}

#[test]
fn transient_failure_then_success_delivers_once() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.fault(Fault::Status(500, "rollup_error"));
    bed.fault(Fault::Drop);
    chime(&sandbox, &bed, &["send", "x"]).code(0);
    assert_eq!(bed.requests().len(), 3);
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn throttled_send_waits_for_retry_after_then_delivers() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.fault(Fault::RateLimit(1));
    let started = Instant::now();
    chime(&sandbox, &bed, &["send", "x"]).code(0);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for Retry-After"
    );
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn retry_after_longer_than_the_timeout_exits_75_without_waiting() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.fault(Fault::RateLimit(30));
    let started = Instant::now();
    chime(&sandbox, &bed, &["send", "--timeout", "3s", "x"])
        .code(75)
        .stderr_has("429");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "did not sit out the 30 s"
    );
}

#[test]
fn slow_destination_times_out_and_exits_75() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for _ in 0..3 {
        bed.fault(Fault::Slow(Duration::from_secs(5)));
    }
    chime(&sandbox, &bed, &["send", "--timeout", "1s", "x"])
        .code(75)
        .stderr_has("timed out");
}

#[test]
fn chime_timeout_sets_the_timeout_when_no_flag_does() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for _ in 0..3 {
        bed.fault(Fault::Slow(Duration::from_secs(5)));
    }
    let mut cmd = sandbox.chime(&["send", "x"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"))
        .env("CHIME_TIMEOUT", "1s");
    let started = Instant::now();
    run(cmd).code(75);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the profile's 5 s was overridden"
    );
}

#[test]
fn rejected_beats_unavailable_beats_delivered() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for _ in 0..3 {
        bed.fault_on(&bed.webhook("dev"), Fault::Status(503, "down"));
    }
    chime(&sandbox, &bed, &["send", "-r", "both", "x"]).code(75);
    assert_eq!(bed.delivered().len(), 1, "ops-hook still got it");
    bed.remove_hook("ops");
    for _ in 0..3 {
        bed.fault_on(&bed.webhook("dev"), Fault::Status(503, "down"));
    }
    chime(&sandbox, &bed, &["send", "-r", "both", "x"]).code(65);
}

#[test]
fn long_text_is_split_into_messages_slack_accepts_in_order() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup(&bed);
    let line = "0123456789 ".repeat(9);
    let text: String = (0..1200).map(|i| format!("{i:05} {line}\n")).collect();
    let mut cmd = sandbox.chime(&["send", "--code", "-t", "big log"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let got = bed.delivered();
    assert!(got.len() >= 3, "{} messages", got.len());
    assert_eq!(bed.requests().len(), got.len(), "none rejected by the bed");
    let mut rebuilt = String::new();
    for (i, request) in got.iter().enumerate() {
        let body = request.json();
        let marker = format!("({}/{})", i + 1, got.len());
        assert!(
            body["text"].as_str().unwrap().ends_with(&marker),
            "{}",
            body["text"]
        );
        for text in block_texts(&body).iter().skip(1) {
            let inner = text
                .strip_prefix("```\n")
                .and_then(|t| t.strip_suffix("\n```"))
                .expect("fenced");
            rebuilt.push_str(inner);
            rebuilt.push('\n');
        }
    }
    assert_eq!(rebuilt, text, "every line arrived, in order, once");
}

#[test]
fn many_fields_are_grouped_ten_to_a_section() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let mut args = vec!["send".to_owned(), "x".to_owned()];
    for i in 0..23 {
        args.push("-f".into());
        args.push(format!("k{i}=v{i}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chime(&sandbox, &bed, &args).code(0);
    let body = bed.delivered()[0].json();
    let sizes: Vec<usize> = body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["fields"].as_array().map(Vec::len))
        .collect();
    assert_eq!(sizes, vec![10, 10, 3]);
}

#[test]
fn json_output_has_one_object_per_destination() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let out = chime(&sandbox, &bed, &["send", "-r", "both", "--json", "x"]).code(0);
    let lines = out.json_lines();
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l["destination"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["ops-hook", "dev-hook"]);
    assert!(
        lines
            .iter()
            .all(|l| l["status"] == "delivered" && l["http_status"] == 200)
    );
}

#[test]
fn variables_and_fields_reach_templates() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    sandbox.profile(&format!(
        "{profile}\n[templates.deploy]\ntitle = \"Deployed {{{{ service }}}} {{{{ version }}}}\"\ntext = \"by {{{{ user }}}} ({{{{ env.DEPLOYER }}}})\"\n"
    ));
    let mut cmd = sandbox.chime(&[
        "send",
        "--to",
        "ops-hook",
        "--template",
        "deploy",
        "--var",
        "service=api",
        "-f",
        "version=1.4",
    ]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"))
        .env("DEPLOYER", "ci");
    run(cmd).code(0);
    let texts = block_texts(&bed.delivered()[0].json());
    assert_eq!(texts[0], "Deployed api 1.4");
    assert_eq!(texts[1], "by tester (ci)");
}

#[test]
fn unwritable_stdout_exits_1() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let mut cmd = sandbox.chime(&["send", "--dry-run", "x"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    cmd.stdout(std::fs::File::create("/dev/full").unwrap());
    run(cmd).code(1).stderr_has("No space left");
}

#[test]
fn a_multi_part_message_paces_itself_through_the_rate_limit() {
    let bed = Bed::start();
    bed.set_rate(1, 2.0);
    let sandbox = setup(&bed);
    let text = format!("{}\n", "z".repeat(2999)).repeat(36);
    let mut cmd = sandbox.chime(&["send", "--timeout", "20s"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    run_with_stdin(cmd, text.as_bytes()).code(0);
    let delivered = bed.delivered();
    assert_eq!(delivered.len(), 3, "three parts, each delivered once");
    assert!(
        bed.requests().iter().any(|r| r.status == 429),
        "the bed throttled at least once"
    );
    for (i, request) in delivered.iter().enumerate() {
        assert!(
            request.json()["text"]
                .as_str()
                .unwrap()
                .ends_with(&format!("({}/3)", i + 1))
        );
    }
}

#[test]
fn a_backlog_is_drained_only_as_far_as_the_timeout_allows() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup(&bed);
    for i in 0..10 {
        chime(&sandbox, &bed, &["send", "--queue", &format!("old {i}")]).code(0);
    }
    // Slack's pace is one a second: ten old messages would take ten.
    let started = Instant::now();
    chime(&sandbox, &bed, &["send", "--timeout", "2s", "new"])
        .code(75)
        .stderr_has("queued behind older messages");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "kept to its 2 s, took {:?}",
        started.elapsed()
    );
    let sent = bed.delivered().len();
    assert!((1..10).contains(&sent), "{sent} old messages went first");
    run({
        let mut cmd = sandbox.chime(&["flush", "--all"]);
        cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
        cmd
    })
    .code(0);
    let texts: Vec<String> = bed
        .delivered()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..10)
        .map(|i| format!("old {i}"))
        .chain(["new".to_owned()])
        .collect();
    assert_eq!(texts, expected, "all in order, once");
}

#[test]
fn an_older_message_refused_while_draining_the_backlog_is_reported() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(&sandbox, &bed, &["send", "--queue", "old"]).code(0);
    bed.fault(Fault::Status(404, "no_service"));
    chime(&sandbox, &bed, &["send", "new"])
        .code(0)
        .stderr_has("1 older message(s) for ops-hook were refused")
        .stderr_has("chime spool list --dead");
}

#[test]
fn no_spool_still_sends_older_messages_first() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup(&bed);
    chime(&sandbox, &bed, &["send", "--queue", "older"]).code(0);
    chime(&sandbox, &bed, &["send", "--no-spool", "newer"]).code(0);
    let texts: Vec<String> = bed
        .delivered()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["older", "newer"]);
}

#[test]
fn send_refuses_stdin_over_16_mib_and_sends_nothing() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let mut cmd = sandbox.chime(&["send"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    let endless = vec![b'y'; (16 << 20) + 1];
    run_with_stdin(cmd, &endless)
        .code(2)
        .stderr_has("more than 16 MiB")
        .stderr_has("chime pipe");
    assert!(bed.requests().is_empty());
}

#[test]
fn a_duration_too_long_to_count_is_a_usage_error_not_a_panic() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime(&sandbox, &bed, &["send", "--timeout", "500000000000y", "x"])
        .code(2)
        .stderr_has("at most 100 years");
    let mut cmd = sandbox.chime(&["send", "x"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"))
        .env("CHIME_TIMEOUT", "500000000000y");
    run(cmd).code(2).stderr_has("at most 100 years");
    assert!(bed.requests().is_empty());
}

#[test]
fn a_delivered_message_whose_json_report_cannot_be_written_says_delivered_and_exits_0() {
    // A script that retries on failure must not post it twice.
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let mut cmd = sandbox.chime(&["send", "--json", "once only"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    cmd.stdout(std::fs::File::create("/dev/full").unwrap());
    run(cmd)
        .code(0)
        .stderr_has("could not write the --json report")
        .stderr_has("delivered to ops-hook");
    assert_eq!(bed.delivered().len(), 1);
}

/// The `text` of each section in `payload`, as Slack renders it.
fn section_spans(payload: &Value) -> Vec<Vec<(bool, String)>> {
    let blocks = payload["blocks"].as_array().unwrap();
    let sections = blocks.iter().filter(|b| b["type"] == "section");
    let texts = sections.filter_map(|b| b["text"]["text"].as_str());
    texts.map(crate::support::bed::mrkdwn_spans).collect()
}

#[test]
fn slack_code_block_stays_one_code_span_when_the_text_holds_a_fence() {
    let bed = Bed::start();
    let sandbox = Sandbox::with_ops_hook("5s");
    let url = bed.webhook("ops");
    run(sandbox.ops(&url, &["send", "--code", "a ``` *b*"])).code(0);
    let spans = section_spans(&bed.delivered()[0].json());
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0].len(), 1, "the code block closed early: {spans:?}");
    let (code, text) = &spans[0][0];
    assert!(code);
    assert_eq!(text.replace('\u{200B}', ""), "\na ``` *b*\n");
}

#[test]
fn slack_notification_text_has_no_stray_colon_without_a_title() {
    let bed = Bed::start();
    let sandbox = Sandbox::with_ops_hook("5s");
    let url = bed.webhook("ops");
    run(sandbox.ops(&url, &["send", "-l", "error", "plain error"])).code(0);
    assert_eq!(bed.delivered()[0].json()["text"], ":x: plain error");
}

#[test]
fn slack_split_message_shows_its_part_in_every_header() {
    let bed = Bed::start();
    let sandbox = Sandbox::with_ops_hook("5s");
    let url = bed.webhook("ops");
    let text = format!("{}\n", "y".repeat(2999)).repeat(60);
    run_with_stdin(
        sandbox.ops(&url, &["send", "-t", "Nightly", "-"]),
        text.as_bytes(),
    )
    .code(0);
    let headers: Vec<String> = bed
        .delivered()
        .iter()
        .map(|r| {
            r.json()["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let count = headers.len();
    assert!(count > 1);
    let expected: Vec<String> = (1..=count)
        .map(|i| format!("Nightly ({i}/{count})"))
        .collect();
    assert_eq!(headers, expected);
}

#[test]
fn send_refuses_a_link_that_is_not_an_absolute_http_url_with_exit_2_naming_it() {
    let bed = Bed::start();
    let sandbox = Sandbox::with_ops_hook("5s");
    let url = bed.webhook("ops");
    for link in ["/runs/42", "ftp://ci.example/42", "https://ci.example/4\n2"] {
        let out = run(sandbox.ops(&url, &["send", "--link", &format!("Run={link}"), "x"])).code(2);
        let shown = link.escape_debug().to_string();
        assert!(out.stderr.contains(&shown), "{link}: {}", out.stderr);
    }
    assert!(bed.requests().is_empty());
}

#[test]
fn slack_code_block_typed_in_plain_text_stays_code_in_every_section_a_split_makes() {
    let bed = Bed::start();
    let sandbox = Sandbox::with_ops_hook("5s");
    let url = bed.webhook("ops");
    let text = format!("intro\n```\n{}```\nafter *bold*", "line\n".repeat(1000));
    run_with_stdin(sandbox.ops(&url, &["send", "-"]), text.as_bytes()).code(0);
    let spans: Vec<(bool, String)> = bed
        .delivered()
        .iter()
        .flat_map(|r| section_spans(&r.json()))
        .flatten()
        .collect();
    let lines = |code: bool| -> usize {
        let spans = spans.iter().filter(|(c, _)| *c == code);
        spans.map(|(_, t)| t.matches("line").count()).sum()
    };
    assert!(spans.len() > 3, "the code block was not split: {spans:?}");
    assert_eq!(lines(true), 1000);
    assert_eq!(lines(false), 0, "code rendered as text");
    let text_spans: Vec<&String> = spans.iter().filter(|(c, _)| !c).map(|(_, t)| t).collect();
    assert_eq!(text_spans.len(), 2, "{text_spans:?}");
    assert!(text_spans[0].contains("intro") && text_spans[1].contains("after *bold*"));
}

#[test]
fn a_misspelt_template_variable_is_an_error_naming_it_and_the_template() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    sandbox.profile(&format!(
        "{profile}\n[templates.typo]\ntext = \"deployed {{{{ verison }}}}\"\n"
    ));
    chime(
        &sandbox,
        &bed,
        &["send", "--template", "typo", "-f", "version=1.4", "x"],
    )
    .code(78)
    .stderr_has("template `typo`")
    .stderr_has("`verison` is undefined");
    assert!(bed.requests().is_empty(), "nothing half-rendered was sent");
}

#[test]
fn send_code_strips_colour_codes_as_pipe_does() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let mut cmd = sandbox.chime(&["send", "--code", "-t", "coloured"]);
    cmd.env("OPS_WEBHOOK", bed.webhook("ops"));
    run_with_stdin(cmd, b"\x1b[31;1mred\x1b[0m plain\n").code(0);
    let body = bed.delivered()[0].json().to_string();
    assert!(body.contains("red plain"), "{body}");
    assert!(!body.contains("\\u001b"), "{body}");
}
