//! `chime pipe`: every line arrives once, in order, in as few messages as allowed.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::bed::{Bed, Fault, delivered_lines, lines_of};
use crate::support::{Sandbox, run};

/// Nothing listens here: connections are refused at once.
const DOWN: &str = "http://127.0.0.1:1/services/T0TESTTEAM/BDOWN/fakesecretdownfakesecret";

fn setup(pace: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "logs"
timeout = "5s"

[destinations.log-hook]
kind = "slack"
url = "${{LOG_WEBHOOK}}"
pace = "{pace}"

[routes.logs]
to = ["log-hook"]
"#
    ));
    sandbox
}

fn pipe(sandbox: &Sandbox, url: &str, args: &[&str]) -> Command {
    let mut all = vec!["pipe"];
    all.extend_from_slice(args);
    let mut cmd = sandbox.chime(&all);
    cmd.env("LOG_WEBHOOK", url);
    cmd
}

/// As a service manager or a terminal would.
fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory effects.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0, "chime {} is running", child.id());
}

/// Runs chime with `input` on stdin, written from a thread of its own so a
/// large input cannot deadlock against chime's output.
fn feed(cmd: Command, input: &[u8]) -> std::process::Output {
    let mut child = spawn(cmd);
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn ten_thousand_lines_arrive_once_in_order_in_few_messages_without_429s() {
    let bed = Bed::start();
    let sandbox = setup("1s");
    let input: String = (0..10_000)
        .map(|i| format!("line {i:05} of the build log\n"))
        .collect();
    let out = feed(pipe(&sandbox, &bed.webhook("logs"), &[]), input.as_bytes());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: Vec<String> = input.lines().map(str::to_owned).collect();
    assert_eq!(delivered_lines(&bed), expected);
    let messages = bed.delivered().len();
    let minimum = input.len().div_ceil(40_000);
    assert!(
        messages <= minimum + 2,
        "{messages} messages for {} bytes",
        input.len()
    );
    assert!(
        bed.requests().iter().all(|r| r.status != 429),
        "paced below Slack's rate"
    );
}

#[test]
fn a_slow_trickle_arrives_about_one_interval_after_each_line() {
    let bed = Bed::start();
    let sandbox = setup("1s");
    let mut child = spawn(pipe(&sandbox, &bed.webhook("logs"), &["--interval", "1s"]));
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..4 {
        let line = format!("tick {i}");
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        let written = Instant::now();
        let deadline = written + Duration::from_millis(2500);
        while !delivered_lines(&bed).contains(&line) {
            assert!(
                Instant::now() < deadline,
                "`{line}` did not arrive within interval + 1 s (and slack)"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(500).saturating_sub(written.elapsed()));
    }
    drop(stdin);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn a_line_longer_than_a_message_is_split_and_reassembles_exactly() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup("0s");
    let long: String = (0..100_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let mut child = spawn(pipe(&sandbox, &bed.webhook("logs"), &[]));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{long}\n").as_bytes())
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(bed.delivered().len() >= 3);
    assert_eq!(delivered_lines(&bed).concat(), long);
}

#[test]
fn sigterm_mid_stream_delivers_or_spools_what_was_read() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup("0s");
    let mut child = spawn(pipe(&sandbox, &bed.webhook("logs"), &["--interval", "1h"]));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\nsecond\nthird\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(bed.requests().is_empty(), "still batching");
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(delivered_lines(&bed), vec!["first", "second", "third"]);
}

#[test]
fn sigterm_while_lines_wait_in_memory_delivers_every_line_read_once() {
    let bed = Bed::start();
    bed.no_rate_limit();
    // Slow answers first, so batches back up and the reader is held back with
    // chunks of lines waiting between it and the lanes.
    for _ in 0..3 {
        bed.fault(Fault::Slow(Duration::from_millis(800)));
    }
    let sandbox = setup("0s");
    let mut child = spawn(pipe(
        &sandbox,
        &bed.webhook("logs"),
        &["--tee", "--timeout", "60s"],
    ));
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let lines: Vec<String> = (0..400_000)
            .map(|i| format!("line {i:06} {}\n", "y".repeat(30)))
            .collect();
        // Large writes, as a busy producer makes: chime reads 64 KiB at a time.
        for block in lines.chunks(2_000) {
            // Fails once chime stops reading and exits: that is the end.
            if stdin.write_all(block.concat().as_bytes()).is_err() {
                return;
            }
        }
    });
    // The copy is read as it comes, as the next command in a pipeline would.
    let mut stdout = child.stdout.take().unwrap();
    let teed_bytes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&teed_bytes);
    let tee = std::thread::spawn(move || {
        let mut teed = Vec::new();
        let mut chunk = [0; 64 * 1024];
        while let Ok(n @ 1..) = std::io::Read::read(&mut stdout, &mut chunk) {
            teed.extend_from_slice(&chunk[..n]);
            counter.store(teed.len(), std::sync::atomic::Ordering::SeqCst);
        }
        String::from_utf8(teed).unwrap()
    });
    // Stopped once a good part of the stream was read, however busy the
    // machine is (a fixed pause raced the writer building its lines).
    let started = Instant::now();
    while teed_bytes.load(std::sync::atomic::Ordering::SeqCst) < 400_000
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let teed = tee.join().unwrap();
    let read: Vec<&str> = teed.lines().collect();
    assert!(read.len() > 5_000, "only {} lines read", read.len());
    let delivered = delivered_lines(&bed);
    let first_difference = delivered.iter().zip(&read).position(|(d, r)| d != r);
    assert!(
        delivered.len() == read.len() && first_difference.is_none(),
        "every line chime read (and copied) arrives, in order, once: read {}, delivered {}, first difference at {first_difference:?}",
        read.len(),
        delivered.len()
    );
}

#[test]
fn a_line_over_a_mebibyte_arrives_whole_with_no_character_broken() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup("0s");
    // 3 bytes a character, so the 1 MiB cut falls inside one.
    let long = "€".repeat(349_600);
    let input = format!("{long}\nafter\n");
    let out = feed(pipe(&sandbox, &bed.webhook("logs"), &[]), input.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let sections: Vec<String> = bed
        .delivered()
        .iter()
        .flat_map(|r| lines_of(&r.json()))
        .collect();
    let (last, pieces) = sections.split_last().unwrap();
    assert_eq!(last, "after");
    assert!(!pieces.concat().contains('\u{fffd}'), "no character broken");
    assert_eq!(pieces.concat(), long, "the pieces rebuild the line exactly");
    // Where the reader cut the line, no line break may appear: the only one
    // any message holds is the one before "after".
    for request in bed.delivered() {
        for block in request.json()["blocks"].as_array().unwrap() {
            let text = block["text"]["text"].as_str().unwrap_or("");
            let inner = text.trim_start_matches("```\n").trim_end_matches("\n```");
            for (at, _) in inner.match_indices('\n') {
                assert!(
                    inner[at + 1..].starts_with("after"),
                    "a break inside the line"
                );
            }
        }
    }
}

#[test]
fn sigterm_while_the_producer_is_quiet_still_sends_its_unfinished_last_line() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup("0s");
    let mut child = spawn(pipe(&sandbox, &bed.webhook("logs"), &["--interval", "1h"]));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first line\nprogress 50%").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, libc::SIGTERM);
    assert_eq!(child.wait().unwrap().code(), Some(0));
    drop(stdin);
    assert_eq!(delivered_lines(&bed), ["first line", "progress 50%"]);
}

#[test]
fn a_runaway_line_is_kept_or_left_out_whole_and_never_glued_to_another() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup("0s");
    // The runaway line is judged by its first mebibyte, which has no ERROR.
    let input = format!(
        "ERROR short line A\n{} ERROR in its tail\nERROR after\n",
        "x".repeat(1_200_000)
    );
    let out = feed(
        pipe(&sandbox, &bed.webhook("logs"), &["--grep", "ERROR"]),
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(delivered_lines(&bed), ["ERROR short line A", "ERROR after"]);
}

#[test]
fn a_second_interrupt_spools_what_is_left_and_exits_130() {
    let sandbox = setup("0s");
    let mut child = spawn(pipe(
        &sandbox,
        DOWN,
        &["--interval", "1h", "--timeout", "30s"],
    ));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"kept\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, libc::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let listed = run(sandbox.chime(&["spool", "list", "--json"])).code(0);
    assert!(listed.stdout.contains("log-hook"), "{listed}");
}

#[test]
fn destination_down_mid_stream_spools_the_rest_which_flushes_later_in_order() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup("0s");
    let mut child = spawn(pipe(
        &sandbox,
        &bed.webhook("logs"),
        &["--interval", "200ms", "--timeout", "1s"],
    ));
    let mut stdin = child.stdin.take().unwrap();
    let before: Vec<String> = (0..100).map(|i| format!("before {i:03}")).collect();
    let during: Vec<String> = (0..100).map(|i| format!("during {i:03}")).collect();
    stdin
        .write_all((before.join("\n") + "\n").as_bytes())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !delivered_lines(&bed).contains(&"before 099".to_owned()) {
        assert!(Instant::now() < deadline, "the first lines never arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    bed.break_hook("logs");
    stdin
        .write_all((during.join("\n") + "\n").as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        bed.requests().iter().any(|r| r.status == 503),
        "the outage was met"
    );
    bed.restore_hook("logs");
    let mut flush = sandbox.chime(&["flush", "--all"]);
    flush.env("LOG_WEBHOOK", bed.webhook("logs"));
    run(flush).code(0);
    let expected: Vec<String> = before.into_iter().chain(during).collect();
    assert_eq!(delivered_lines(&bed), expected);
}

#[test]
fn destination_down_from_the_start_spools_batches_that_flush_later_in_order() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let sandbox = setup("0s");
    let input: String = (0..3000)
        .map(|i| format!("entry {i:04} {}\n", "x".repeat(40)))
        .collect();
    let url = bed.webhook("logs");
    let out = feed(pipe(&sandbox, &url, &["--timeout", "1s"]), input.as_bytes());
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bed.come_up();
    let mut flush = sandbox.chime(&["flush", "--all"]);
    flush.env("LOG_WEBHOOK", bed.webhook("logs"));
    run(flush).code(0);
    let expected: Vec<String> = input.lines().map(str::to_owned).collect();
    assert_eq!(delivered_lines(&bed), expected);
}

#[test]
fn tee_copies_stdin_unchanged_while_grep_and_ansi_stripping_shape_what_is_sent() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup("0s");
    let input = b"\x1b[31mERROR\x1b[0m disk full\nall fine\nbad byte \xff here error\n";
    let mut child = spawn(pipe(
        &sandbox,
        &bed.webhook("logs"),
        &["--tee", "--grep", "(?i)error", "--level-from-line"],
    ));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, input, "--tee is byte for byte");
    assert_eq!(
        delivered_lines(&bed),
        vec!["ERROR disk full", "bad byte \u{fffd} here error"]
    );
    assert_eq!(
        bed.delivered()[0].json()["attachments"][0]["color"],
        "#E01E5A",
        "raised to error"
    );
}

#[test]
fn throttling_mid_stream_is_waited_out_without_losing_lines() {
    let bed = Bed::start();
    let sandbox = setup("0s");
    bed.fault(Fault::RateLimit(1));
    let input: String = (0..200).map(|i| format!("row {i}\n")).collect();
    let mut child = spawn(pipe(&sandbox, &bed.webhook("logs"), &[]));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let expected: Vec<String> = input.lines().map(str::to_owned).collect();
    assert_eq!(delivered_lines(&bed), expected);
}

#[test]
fn a_batch_queued_mid_stream_goes_out_first_once_the_destination_recovers() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup("0s");
    for _ in 0..3 {
        bed.fault(Fault::Status(503, "down"));
    }
    let mut child = spawn(pipe(
        &sandbox,
        &bed.webhook("logs"),
        &["--interval", "200ms"],
    ));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"one\n").unwrap();
    stdin.flush().unwrap();
    bed.wait_for(3, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    stdin.write_all(b"two\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(delivered_lines(&bed), vec!["one", "two"]);
}

#[test]
fn in_github_actions_every_batch_names_the_run_and_links_to_it() {
    let bed = Bed::start();
    let sandbox = setup("0s");
    let mut cmd = pipe(&sandbox, &bed.webhook("logs"), &[]);
    for (k, v) in [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/app"),
        ("GITHUB_REF_NAME", "main"),
        ("GITHUB_SHA", "0123456789abcdef"),
        ("GITHUB_RUN_ID", "4242"),
    ] {
        cmd.env(k, v);
    }
    let mut child = spawn(cmd);
    child.stdin.take().unwrap().write_all(b"built\n").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let body = bed.delivered()[0].json();
    let text = body.to_string();
    assert!(
        text.contains("https://github.com/acme/app/actions/runs/4242"),
        "{text}"
    );
    assert!(text.contains("acme/app@main · 0123456"), "{text}");
}

#[test]
fn sigterm_keeps_to_its_deadline_even_while_a_long_send_is_in_flight() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[defaults]
route = "logs"

[destinations.log-hook]
kind = "slack"
url = "${LOG_WEBHOOK}"
timeout = "40s"

[routes.logs]
to = ["log-hook"]
"#,
    );
    bed.fault(Fault::Slow(Duration::from_secs(45)));
    let mut child = spawn(pipe(
        &sandbox,
        &bed.webhook("logs"),
        &["--interval", "100ms"],
    ));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"stuck\n").unwrap();
    stdin.flush().unwrap();
    // The batch goes out 100 ms after its line, and the answer takes 45 s.
    std::thread::sleep(Duration::from_millis(1500));
    let stopped = Instant::now();
    signal(&child, libc::SIGTERM);
    assert_eq!(child.wait().unwrap().code(), Some(75));
    drop(stdin);
    // The stopping deadline is the default 10 s timeout, not the send's 40 s.
    assert!(
        stopped.elapsed() < Duration::from_secs(25),
        "took {:?}",
        stopped.elapsed()
    );
    let listed = run(sandbox.chime(&["spool", "list", "--json"])).code(0);
    assert!(listed.stdout.contains("log-hook"), "kept: {listed}");
}

/// A profile whose one rule sends errors to `log-hook`, with no default route.
fn errors_only() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.profile(
        r#"
[destinations.log-hook]
kind = "slack"
url = "${LOG_WEBHOOK}"
pace = "0s"

[routes.alerts]
to = ["log-hook"]

[[rules]]
when = "level in ['error', 'critical']"
route = "alerts"
"#,
    );
    sandbox
}

#[test]
fn levels_no_rule_routes_are_named_at_the_start_and_the_rest_still_flows() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = errors_only();
    let mut child = spawn(pipe(&sandbox, &bed.webhook("logs"), &["--level-from-line"]));
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"ERROR disk full\nall fine\nERROR again\n")
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("lines at level info, warning match no rule"),
        "{stderr}"
    );
    assert_eq!(delivered_lines(&bed), ["ERROR disk full", "ERROR again"]);
}

#[test]
fn a_stream_no_rule_routes_at_all_stops_before_reading_anything() {
    let bed = Bed::start();
    let sandbox = errors_only();
    let mut child = spawn(pipe(&sandbox, &bed.webhook("logs"), &["--tee"]));
    // chime may have exited already: a broken pipe here is the point.
    let _ = child.stdin.take().unwrap().write_all(b"all fine\n");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no route for this stream"));
    assert!(
        out.stdout.is_empty(),
        "nothing was read, so nothing was copied"
    );
    assert!(bed.requests().is_empty());
}

/// A profile whose rules send errors to `bot`'s `#incidents` and the rest
/// to its `#general`: one destination, two lanes.
fn two_channels(bed: &Bed) -> Sandbox {
    bed.add_token("xoxb-1-pipe-test-notreal");
    bed.add_channel("#general", true);
    bed.add_channel("#incidents", true);
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r##"
[defaults]
route = "chat"

[destinations.bot]
kind = "slack-api"
token = "xoxb-1-pipe-test-notreal"
channel = "#general"
api_url = "{}"
pace = "0s"

[routes.chat]
to = ["bot"]
channel = "#general"

[routes.pager]
to = ["bot"]
channel = "#incidents"

[[rules]]
when = "level in ['error', 'critical']"
route = "pager"
"##,
        bed.api_url()
    ));
    sandbox
}

#[test]
fn rules_send_each_level_to_its_routes_channel() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = two_channels(&bed);
    let mut child = spawn(pipe(&sandbox, "", &["--level-from-line"]));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"all ok\nERROR disk full\n")
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let mut by_channel: Vec<(String, Vec<String>)> = bed
        .delivered()
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["channel"].as_str().unwrap().to_owned(),
                lines_of(&body),
            )
        })
        .collect();
    by_channel.sort();
    assert_eq!(
        by_channel,
        [
            ("#general".to_owned(), vec!["all ok".to_owned()]),
            ("#incidents".to_owned(), vec!["ERROR disk full".to_owned()]),
        ]
    );
}

#[test]
fn rules_in_a_stream_see_the_environment_as_send_does() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "quiet"

[destinations.a]
kind = "slack"
url = "{a}"
pace = "0s"

[destinations.b]
kind = "slack"
url = "{b}"
pace = "0s"

[routes.quiet]
to = ["a"]

[routes.loud]
to = ["b"]

[[rules]]
when = "env.DEPLOY == '1' and ci is undefined"
route = "loud"
"#,
        a = bed.webhook("a"),
        b = bed.webhook("b"),
    ));
    let mut cmd = pipe(&sandbox, "", &[]);
    cmd.env("DEPLOY", "1");
    let mut child = spawn(cmd);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"shipping\n")
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    assert!(bed.webhook("b").ends_with(&got[0].path), "went to b");
}

/// `count` numbered log lines of about 50 bytes: a Slack batch holds some 750.
fn numbered_log(count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "request {i:06} handled by worker-{} in {} ms\n",
                i % 16,
                i % 997
            )
        })
        .collect()
}

/// The entries `chime spool list --json` shows.
fn spooled(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    let listed = run(sandbox.chime(&["spool", "list", "--json"])).code(0);
    serde_json::from_str::<serde_json::Value>(&listed.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e})\n{listed}"))
        .as_array()
        .unwrap()
        .clone()
}

/// `chime flush --all` of what the pipe left, to `url`.
fn flush(sandbox: &Sandbox, url: &str) {
    let mut flush = sandbox.chime(&["flush", "--all"]);
    flush.env("LOG_WEBHOOK", url);
    run(flush).code(0);
}

/// The lines of `stderr` that speak of the spool or of a batch.
fn about_the_spool(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("spool") || l.contains("batch") || l.contains("queued"))
        .collect()
}

/// `count` numbered log lines through `chime pipe ARGS` to `url`: the
/// input, the exit code, and stderr.
fn pipe_log(sandbox: &Sandbox, url: &str, count: usize, args: &[&str]) -> (String, i32, String) {
    let input = numbered_log(count);
    let out = feed(pipe(sandbox, url, args), input.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (input, out.status.code().unwrap_or(-1), stderr)
}

/// Every line of `input` reached the bed once, in order.
#[track_caller]
fn arrived_once_in_order(bed: &Bed, input: &str, stderr: &str) {
    let expected: Vec<String> = input.lines().map(str::to_owned).collect();
    let delivered = delivered_lines(bed);
    let first_difference = delivered.iter().zip(&expected).position(|(d, e)| d != e);
    assert!(
        delivered.len() == expected.len() && first_difference.is_none(),
        "every line once, in order: {} of {} delivered, first difference at {first_difference:?}\n{stderr}",
        delivered.len(),
        expected.len()
    );
    assert_eq!(
        bed.requests().len(),
        bed.delivered().len(),
        "each sent once"
    );
}

#[test]
fn pipe_delivers_every_line_in_order_through_a_slow_destination() {
    let bed = Bed::start();
    bed.no_rate_limit();
    bed.answer_after(Duration::from_millis(300));
    let sandbox = setup("0s");
    // About 30 batches, nearly all beyond a --max-pending of 1 KiB: they go
    // to the spool as they close, and the pipe sends them from there.
    let url = bed.webhook("logs");
    let (input, code, stderr) = pipe_log(&sandbox, &url, 22_000, &["--max-pending", "1KiB"]);
    // A destination that takes every batch, however slowly, gets them all
    // from the pipe itself: nothing is left for a flush.
    assert_eq!(code, 0, "{stderr}");
    assert!(spooled(&sandbox).is_empty(), "{stderr}");
    flush(&sandbox, &url);
    arrived_once_in_order(&bed, &input, &stderr);
    assert!(bed.delivered().len() > 20, "a stream of many batches");
    assert!(about_the_spool(&stderr).is_empty(), "{stderr}");
}

#[test]
fn a_slow_destination_is_said_once_and_the_stream_goes_on_at_its_pace() {
    let bed = Bed::start();
    bed.no_rate_limit();
    // Slower than a prompt destination (2 s) twice, then prompt.
    bed.fault(Fault::Slow(Duration::from_millis(2300)));
    bed.fault(Fault::Slow(Duration::from_millis(2300)));
    let sandbox = setup("0s");
    let url = bed.webhook("logs");
    let (input, code, stderr) = pipe_log(&sandbox, &url, 9_000, &["--max-pending", "1KiB"]);
    assert_eq!(code, 0, "{stderr}");
    let said = about_the_spool(&stderr);
    assert_eq!(said.len(), 1, "one line, not one per batch:\n{stderr}");
    assert!(
        said[0].starts_with("chime: pipe: log-hook is slow (a send took 2."),
        "{stderr}"
    );
    arrived_once_in_order(&bed, &input, &stderr);
}

#[test]
fn a_down_destination_says_why_once_and_what_it_queued_at_the_end() {
    let sandbox = setup("0s");
    let args = ["--max-pending", "1KiB", "--timeout", "1s"];
    let (_, code, stderr) = pipe_log(&sandbox, DOWN, 22_000, &args);
    assert_eq!(code, 75, "{stderr}");
    let batches = spooled(&sandbox).len();
    assert!(batches > 20, "{batches} batches\n{stderr}");
    let said = about_the_spool(&stderr);
    assert_eq!(
        said.len(),
        2,
        "one line per cause, not one per batch:\n{stderr}"
    );
    assert!(
        said[0].starts_with("chime: pipe: log-hook is not taking batches (cannot connect"),
        "{stderr}"
    );
    let summary = format!(
        "{batches} batch(es) (22000 line(s)) queued for log-hook; `chime flush` sends them"
    );
    assert!(said[1].ends_with(&summary), "{stderr}");
    assert!(
        !stderr.contains("another chime") && !stderr.contains("this chime is sending"),
        "no other chime ran, and this one waits for nobody:\n{stderr}"
    );
}

#[test]
fn a_down_destination_with_a_bounded_max_pending_spools_every_batch_in_order() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let sandbox = setup("0s");
    let url = bed.webhook("logs");
    // About 4 MB: sixty times --max-pending.
    let args = ["--max-pending", "64KiB", "--timeout", "1s"];
    let (input, code, stderr) = pipe_log(&sandbox, &url, 80_000, &args);
    assert_eq!(code, 75, "{stderr}");
    assert!(spooled(&sandbox).len() > 60, "{stderr}");
    bed.come_up();
    flush(&sandbox, &url);
    arrived_once_in_order(&bed, &input, &stderr);
    assert!(spooled(&sandbox).is_empty());
}

#[test]
fn two_channels_of_one_slow_destination_take_turns_and_never_blame_another_chime() {
    let bed = Bed::start();
    bed.no_rate_limit();
    bed.answer_after(Duration::from_millis(200));
    let sandbox = two_channels(&bed);
    let input: String = (0..8_000)
        .map(|i| match i % 2 {
            0 => format!("all fine {i:05} {}\n", "x".repeat(30)),
            _ => format!("ERROR {i:05} {}\n", "y".repeat(30)),
        })
        .collect();
    // Spilling almost every batch, so that both lanes of `bot` are behind
    // its spool and one drains it while the other waits.
    let cmd = pipe(
        &sandbox,
        "",
        &["--level-from-line", "--max-pending", "1KiB"],
    );
    let out = feed(cmd, input.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("another chime"), "{stderr}");
    assert!(!stderr.contains("this chime is sending"), "{stderr}");
    let mut general = Vec::new();
    let mut incidents = Vec::new();
    for request in bed.delivered() {
        let body = request.json();
        match body["channel"].as_str().unwrap() {
            "#general" => general.extend(lines_of(&body)),
            _ => incidents.extend(lines_of(&body)),
        }
    }
    let expected = |error: bool| -> Vec<String> {
        input
            .lines()
            .filter(|l| l.starts_with("ERROR") == error)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(general, expected(false), "{stderr}");
    assert_eq!(incidents, expected(true), "{stderr}");
    assert_eq!(
        bed.requests().len(),
        bed.delivered().len(),
        "each sent once"
    );
}

/// Runs `cmd` with a pseudo-terminal for stdin, types `typed` and then Ctrl-D.
fn at_a_terminal(mut cmd: Command, typed: &[u8]) -> std::process::Output {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty(3) writes two descriptors it opened into the two ints.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(opened, 0, "openpty");
    // SAFETY: both descriptors were just opened and belong to nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    cmd.stdin(Stdio::from(slave))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    drop(cmd);
    let mut terminal = std::fs::File::from(master);
    terminal.write_all(typed).unwrap();
    terminal.write_all(b"\x04").unwrap();
    let out = child.wait_with_output().unwrap();
    drop(terminal);
    out
}

#[test]
fn pipe_and_send_dash_at_a_terminal_say_they_read_stdin() {
    let bed = Bed::start();
    let sandbox = setup("0s");
    for args in [&["pipe"][..], &["send", "-"]] {
        let mut cmd = sandbox.chime(args);
        cmd.env("LOG_WEBHOOK", bed.webhook("logs"));
        let out = at_a_terminal(cmd, b"typed by hand\n");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("chime: reading from stdin; Ctrl-D to end"),
            "{args:?}: {stderr}"
        );
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
    assert_eq!(bed.delivered().len(), 2);
}

#[test]
fn a_dry_run_prints_every_batch_it_would_send_and_sends_spools_and_journals_nothing() {
    let bed = Bed::start();
    let sandbox = setup("0s");
    let input: String = (0..6000)
        .map(|i| format!("dry line {i:04} of the build log\n"))
        .collect();
    let out = feed(
        pipe(&sandbox, &bed.webhook("logs"), &["--dry-run"]),
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let batches = stdout
        .matches("# log-hook (slack), part 1 of 1\nPOST ")
        .count();
    let mut at = 0;
    for i in 0..6000 {
        let line = format!("dry line {i:04}");
        at += stdout[at..]
            .find(&line)
            .unwrap_or_else(|| panic!("{line} missing or out of order"));
    }
    assert!(bed.requests().is_empty(), "nothing is sent");
    // Nothing was kept either: no spool entry, and no journal for a flush to replay.
    let mut flush = sandbox.chime(&["flush"]);
    flush.env("LOG_WEBHOOK", bed.webhook("logs"));
    run(flush).code(0);
    assert!(bed.requests().is_empty(), "a flush finds nothing to send");
    let mut list = sandbox.chime(&["spool", "list", "--json"]);
    list.env("LOG_WEBHOOK", bed.webhook("logs"));
    run(list).code(0).stdout_has("[]");
    // The batches printed are the ones a real pipe sends.
    let real = feed(pipe(&sandbox, &bed.webhook("logs"), &[]), input.as_bytes());
    assert_eq!(real.status.code(), Some(0), "{real:?}");
    assert!(batches > 1, "{batches} batches");
    assert_eq!(bed.delivered().len(), batches);
}
