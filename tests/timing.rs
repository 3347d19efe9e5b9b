//! When messages go: `--at`/`--in` held in the spool until a flush finds
//! them due, `--dedupe` and a route's `dedupe` counting repeats, a route's
//! `limit`, `digest` and `quiet` hours holding messages for one digest.
//! Time is stood still or moved on with the test clock (`CHIME_NOW`, debug
//! builds only), so nothing here sleeps through a window.

use std::process::Command;

use crate::support::bed::Bed;
use crate::support::{Sandbox, run};

/// 2026-12-03T10:00:00Z, a Thursday.
const TEN: u64 = 1_796_292_000;

/// `chime ARGS` at `at` (seconds since the epoch), in UTC.
fn at(sandbox: &Sandbox, at: u64, args: &[&str]) -> Command {
    let mut cmd = sandbox.chime(args);
    cmd.env("CHIME_NOW", at.to_string()).env("TZ", "UTC");
    cmd
}

fn hook_profile(bed: &Bed, route: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    write_hook_profile(&sandbox, &bed.webhook("ops"), route);
    sandbox
}

/// The profile of one Slack webhook `hook` at `url`, and a route `ops` to
/// it with the keys `route`; written again, it points `hook` elsewhere.
fn write_hook_profile(sandbox: &Sandbox, url: &str, route: &str) {
    sandbox.profile(&format!(
        r#"
[destinations.hook]
kind = "slack"
url = "{url}"

[routes.ops]
to = ["hook"]
{route}
"#
    ));
}

/// A Slack Web API destination `bot` (a kind that edits) behind a route
/// `ops` that deduplicates for 10 minutes.
fn deduping_bot() -> (Bed, Sandbox) {
    const TOKEN: &str = "xoxb-000-dedupe-test-notreal";
    let bed = Bed::start();
    bed.add_token(TOKEN);
    bed.add_channel("#alerts", true);
    bed.no_rate_limit();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r##"
[destinations.bot]
kind = "slack-api"
token = "{TOKEN}"
channel = "#alerts"
api_url = "{api}"

[routes.ops]
to = ["bot"]
dedupe = "10m"
"##,
        api = bed.api_url(),
    ));
    (bed, sandbox)
}

fn posted(bed: &Bed) -> Vec<String> {
    bed.delivered().iter().map(|r| r.text()).collect()
}

#[test]
fn a_message_sent_in_an_hour_is_not_delivered_by_a_flush_before_then_and_is_after() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "");
    let sent = run(at(
        &sandbox,
        TEN,
        &["send", "-r", "ops", "--in", "1h", "--json", "report"],
    ));
    let sent = sent.code(0).stderr_has("chime flush");
    let line = &sent.json_lines()[0];
    assert_eq!(line["status"], "held");
    assert_eq!(line["held"]["reason"], "scheduled");
    assert!(line["spool_id"].is_string(), "{line}");
    assert!(bed.delivered().is_empty());
    run(at(&sandbox, TEN + 1800, &["flush"])).code(0);
    assert!(
        bed.delivered().is_empty(),
        "a flush before its time sends nothing"
    );
    run(at(&sandbox, TEN + 3600, &["flush"])).code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 1);
    assert!(texts[0].contains("report"));
}

#[test]
fn a_scheduled_message_is_listed_with_when_it_goes_and_can_be_dropped() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "");
    run(at(
        &sandbox,
        TEN,
        &["send", "-r", "ops", "--at", "11:30", "stand-up"],
    ))
    .code(0);
    let list = run(at(&sandbox, TEN, &["spool", "list", "--json"])).code(0);
    let entries: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let entry = &entries[0];
    assert_eq!(entry["state"], "held");
    assert!(
        entry["held"]["until"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-03T11:30:00"),
        "{entry}"
    );
    let summary = run(at(&sandbox, TEN, &["spool", "list", "--summary", "--json"])).code(0);
    let summary: serde_json::Value = serde_json::from_str(&summary.stdout).unwrap();
    assert_eq!(summary[0]["held"], 1, "{summary}");
    let id = entry["id"].as_str().unwrap();
    run(at(&sandbox, TEN, &["spool", "drop", id])).code(0);
    run(at(&sandbox, TEN + 7200, &["flush"])).code(0);
    assert!(bed.delivered().is_empty(), "a dropped message never goes");
}

#[test]
fn a_time_already_past_is_a_usage_error() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "");
    run(at(
        &sandbox,
        TEN,
        &["send", "-r", "ops", "--at", "2026-12-03T09:00:00Z", "x"],
    ))
    .code(2)
    .stderr_has("in the past");
}

#[test]
fn a_hundred_identical_sends_in_a_window_make_one_message_and_one_count() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "dedupe = \"10m\"");
    for i in 0..100 {
        let now = TEN + i * 3;
        run(at(
            &sandbox,
            now,
            &["send", "-r", "ops", "-l", "warning", "disk full"],
        ))
        .code(0);
    }
    assert_eq!(bed.delivered().len(), 1, "only the first is posted");
    // The window closes: the next flush reports the count, once.
    run(at(&sandbox, TEN + 601, &["flush"])).code(0);
    run(at(&sandbox, TEN + 700, &["flush"])).code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].contains("repeated 99 times in the last 10 min"),
        "{}",
        texts[1]
    );
}

#[test]
fn a_different_level_is_news_and_posts_at_once() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "");
    let send = |now, level| {
        run(at(
            &sandbox,
            now,
            &[
                "send", "-r", "ops", "--dedupe", "db", "-l", level, "db slow",
            ],
        ))
        .code(0)
    };
    send(TEN, "warning");
    send(TEN + 10, "warning");
    send(TEN + 20, "error");
    let texts = posted(&bed);
    // The warning, then the count of its window that the error ended, then the error.
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[1].contains("repeated once"), "{}", texts[1]);
}

#[test]
fn fifty_concurrent_identical_sends_make_one_message_and_a_count_of_49() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "dedupe = \"10m\"");
    let children: Vec<_> = (0..50)
        .map(|_| {
            at(
                &sandbox,
                TEN,
                &["send", "-r", "ops", "-l", "error", "outage"],
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(bed.delivered().len(), 1, "never two messages");
    run(at(&sandbox, TEN + 601, &["flush"])).code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("repeated 49 times"), "{}", texts[1]);
}

#[test]
fn a_limit_of_ten_turns_forty_messages_into_ten_and_one_digest_of_the_other_thirty() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "limit = \"10/5m\"");
    for i in 0..40 {
        let text = format!("check {i} failed");
        run(at(
            &sandbox,
            TEN + i,
            &["send", "-r", "ops", "-l", "warning", &text],
        ))
        .code(0);
    }
    assert_eq!(bed.delivered().len(), 10);
    run(at(&sandbox, TEN + 100, &["flush"])).code(0);
    assert_eq!(
        bed.delivered().len(),
        10,
        "the digest waits for the window's end"
    );
    run(at(&sandbox, TEN + 300, &["flush"])).code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 11, "{texts:?}");
    let digest = &texts[10];
    assert!(digest.contains("30 more in the last 5 min"), "{digest}");
    for i in 10..40 {
        assert!(digest.contains(&format!("check {i} failed")), "{digest}");
    }
}

#[test]
fn critical_passes_a_limit() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "limit = \"1/5m\"");
    for i in 0..3 {
        run(at(
            &sandbox,
            TEN + i,
            &["send", "-r", "ops", "-l", "critical", "down"],
        ))
        .code(0);
    }
    assert_eq!(bed.delivered().len(), 3);
}

#[test]
fn quiet_hours_hold_info_until_they_end_and_pass_errors() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "quiet = \"22:00-07:00\"\ntimezone = \"UTC\"");
    let night = TEN + 13 * 3600; // 23:00 UTC
    run(at(
        &sandbox,
        night,
        &["send", "-r", "ops", "nightly backup done"],
    ))
    .code(0);
    run(at(
        &sandbox,
        night + 60,
        &["send", "-r", "ops", "-l", "success", "report sent"],
    ))
    .code(0);
    run(at(
        &sandbox,
        night + 120,
        &["send", "-r", "ops", "-l", "error", "disk failed"],
    ))
    .code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 1, "only the error goes at night: {texts:?}");
    assert!(texts[0].contains("disk failed"));
    run(at(&sandbox, night + 3600, &["flush"])).code(0);
    assert_eq!(bed.delivered().len(), 1, "still quiet at midnight");
    run(at(&sandbox, TEN + 21 * 3600, &["flush"])).code(0); // 07:00
    let texts = posted(&bed);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].contains("2 messages during quiet hours (22:00-07:00)"),
        "{}",
        texts[1]
    );
    assert!(texts[1].contains("nightly backup done") && texts[1].contains("report sent"));
}

#[test]
fn an_hourly_digest_collects_everything_into_one_message() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "digest = \"1h\"");
    for i in 0..5 {
        run(at(
            &sandbox,
            TEN + i * 60,
            &["send", "-r", "ops", &format!("signup {i}")],
        ))
        .code(0);
    }
    assert!(bed.delivered().is_empty());
    run(at(&sandbox, TEN + 3600, &["flush"])).code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("5 messages in the last 1 h"),
        "{}",
        texts[0]
    );
}

#[test]
fn a_job_failing_every_minute_with_dedupe_makes_one_message_and_a_count() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "");
    for i in 0..5 {
        let now = TEN + i * 60;
        let args = [
            "run", "-r", "ops", "--dedupe", "--name", "backup", "--", "false",
        ];
        run(at(&sandbox, now, &args)).code(1);
    }
    assert_eq!(bed.delivered().len(), 1);
    run(at(&sandbox, TEN + 3601, &["flush"])).code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("repeated 4 times"), "{}", texts[1]);
}

#[test]
fn a_broken_timing_key_is_a_profile_error_where_it_is_written() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "limit = \"ten per minute\"\nquiet = \"22:00\"");
    run(at(&sandbox, TEN, &["send", "-r", "ops", "x"]))
        .code(78)
        .stderr_has("10/5m")
        .stderr_has("22:00-07:00");
}

#[test]
fn on_a_kind_that_edits_the_count_is_shown_in_the_first_message_itself() {
    let (bed, sandbox) = deduping_bot();
    let first = run(at(
        &sandbox,
        TEN,
        &["send", "-r", "ops", "--json", "queue stuck"],
    ))
    .code(0);
    let ts = first.json_lines()[0]["ts"].as_str().unwrap().to_owned();
    for i in 1..37 {
        run(at(
            &sandbox,
            TEN + i * 10,
            &["send", "-r", "ops", "queue stuck"],
        ))
        .code(0);
    }
    run(at(&sandbox, TEN + 601, &["flush"])).code(0);
    let requests = bed.delivered();
    assert_eq!(requests.len(), 2, "one post and one edit");
    assert_eq!(requests[0].path, "/api/chat.postMessage");
    assert_eq!(requests[1].path, "/api/chat.update");
    let edit = requests[1].json();
    assert_eq!(edit["ts"], ts.as_str(), "the first message is edited");
    let text = edit["text"].as_str().unwrap();
    assert!(
        text.contains("queue stuck") && text.contains("×37, last 10:06"),
        "{text}"
    );
}

#[test]
fn flush_wait_delivers_a_message_that_falls_due_while_it_waits() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "");
    run(sandbox.chime(&["send", "-r", "ops", "--in", "2s", "soon"])).code(0);
    run(sandbox.chime(&["flush"])).code(0);
    assert!(bed.delivered().is_empty());
    run(sandbox.chime(&["flush", "--wait", "20s"])).code(0);
    assert_eq!(posted(&bed).len(), 1);
}

#[test]
fn a_digest_whose_destination_is_down_waits_in_the_spool_and_goes_later() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "digest = \"1h\"");
    for i in 0..3 {
        run(at(
            &sandbox,
            TEN + i,
            &["send", "-r", "ops", &format!("event {i}")],
        ))
        .code(0);
    }
    bed.break_hook("ops");
    run(at(&sandbox, TEN + 3600, &["flush"])).code(75);
    let list = run(at(&sandbox, TEN + 3600, &["spool", "list", "--json"])).code(0);
    let entries: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(
        entries.as_array().unwrap().len(),
        1,
        "one digest, pending: {entries}"
    );
    assert_eq!(entries[0]["state"], "pending");
    bed.restore_hook("ops");
    run(sandbox.chime(&["flush", "--all"])).code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("3 messages in the last 1 h"));
}

#[test]
fn a_rule_with_dedupe_folds_the_repeats_of_what_it_routes() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[destinations.hook]
kind = "slack"
url = "{hook}"

[routes.ops]
to = ["hook"]

[[rules]]
when = "level == 'error'"
route = "ops"
dedupe = "5m"
dedupe_key = "{{{{ fields.check }}}}"
"#,
        hook = bed.webhook("ops"),
    ));
    for i in 0..4 {
        let text = format!("failed at try {i}");
        let args = ["send", "-l", "error", "-f", "check=api", &text];
        run(at(&sandbox, TEN + i * 10, &args)).code(0);
    }
    let other = ["send", "-l", "error", "-f", "check=db", "failed"];
    run(at(&sandbox, TEN + 50, &other)).code(0);
    assert_eq!(
        bed.delivered().len(),
        2,
        "one per check: the key is the template's"
    );
    run(at(&sandbox, TEN + 301, &["flush"])).code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[2].contains("repeated 3 times"), "{}", texts[2]);
}

#[test]
fn a_long_first_message_keeps_its_parts_out_of_threads_and_gets_its_count_as_a_follow_up() {
    let (bed, sandbox) = deduping_bot();
    let long: String = (0..3000)
        .map(|i| format!("line {i:05} of the log\n"))
        .collect();
    for i in 0..3 {
        let cmd = at(&sandbox, TEN + i, &["send", "-r", "ops", "-"]);
        crate::support::run_with_stdin(cmd, long.as_bytes()).code(0);
    }
    let parts = bed.delivered();
    assert!(parts.len() > 1, "the log is split");
    for part in &parts {
        assert!(part.json().get("thread_ts").is_none(), "no part is a reply");
    }
    run(at(&sandbox, TEN + 601, &["flush"])).code(0);
    let all = bed.delivered();
    assert_eq!(all.len(), parts.len() + 1);
    let last = all.last().unwrap();
    assert_eq!(last.path, "/api/chat.postMessage");
    assert!(
        last.text().contains("repeated twice in the last 10 min"),
        "{}",
        last.text()
    );
}

#[test]
fn a_scheduled_send_to_a_url_that_keeps_nothing_is_refused() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    let url = bed.webhook("ops");
    run(at(
        &sandbox,
        TEN,
        &["send", "--to", &url, "--kind", "slack", "--in", "1h", "x"],
    ))
    .code(2)
    .stderr_has("--no-spool");
    assert!(bed.delivered().is_empty());
}

#[test]
fn config_show_tells_a_routes_timing_with_its_defaults() {
    let bed = Bed::start();
    let sandbox = hook_profile(
        &bed,
        "dedupe = \"10m\"\nlimit = \"10/5m\"\nquiet = \"22:00-07:00\"\ntimezone = \"Europe/Berlin\"",
    );
    run(sandbox.chime(&["config", "show"]))
        .code(0)
        .stdout_has("dedupe = \"10m\"")
        .stdout_has("limit = \"10/5m\"")
        .stdout_has("limit_levels = [\"info\", \"success\", \"warning\", \"error\"]")
        .stdout_has("timezone = \"Europe/Berlin\"")
        .stdout_has("quiet_levels = [\"info\", \"success\"]");
}

#[test]
fn repeats_do_not_wait_for_a_slow_first_message_and_still_count() {
    let bed = Bed::start();
    // Slower than a repeat would ever wait for the key's lock.
    bed.answer_after(std::time::Duration::from_secs(12));
    let sandbox = hook_profile(&bed, "dedupe = \"10m\"");
    let first = at(
        &sandbox,
        TEN,
        &["send", "-r", "ops", "--timeout", "30s", "slow"],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let repeats: Vec<_> = (0..20)
        .map(|_| {
            at(
                &sandbox,
                TEN + 1,
                &["send", "-r", "ops", "--timeout", "30s", "slow"],
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    for mut child in repeats.into_iter().chain([first]) {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(bed.arrivals(), 1, "the repeats were counted, not posted");
    bed.answer_after(std::time::Duration::ZERO);
    run(at(&sandbox, TEN + 601, &["flush"])).code(0);
    let texts = posted(&bed);
    assert!(
        texts.last().unwrap().contains("repeated 20 times"),
        "{texts:?}"
    );
}

#[test]
fn held_messages_whose_destination_changed_since_are_dead_lettered_not_sent_elsewhere() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "digest = \"1h\"");
    for i in 0..3 {
        run(at(
            &sandbox,
            TEN + i,
            &["send", "-r", "ops", &format!("event {i}")],
        ))
        .code(0);
    }
    // `hook` now names another webhook.
    write_hook_profile(&sandbox, &bed.webhook("elsewhere"), "");
    run(at(&sandbox, TEN + 3600, &["flush"])).code(65);
    assert_eq!(bed.arrivals(), 0, "nothing reaches the new webhook");
    let dead = run(sandbox.chime(&["spool", "list", "--dead", "--json"])).code(0);
    let dead: serde_json::Value = serde_json::from_str(&dead.stdout).unwrap();
    assert_eq!(dead.as_array().unwrap().len(), 3, "{dead}");
    assert!(
        dead[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("no longer the destination")
    );
}

#[test]
fn a_purge_of_pending_messages_takes_held_ones_too() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "");
    run(at(
        &sandbox,
        TEN,
        &["send", "-r", "ops", "--in", "1h", "later"],
    ))
    .code(0);
    run(sandbox.chime(&["spool", "purge", "--yes"])).code(0);
    let list = run(sandbox.chime(&["spool", "list", "--json"])).code(0);
    assert_eq!(list.stdout.trim(), "[]");
}

#[test]
fn a_route_deduplicates_run_reports_by_the_jobs_name() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "dedupe = \"1h\"\ndedupe_key = \"{{ name }}\"");
    for i in 0..3 {
        let args = [
            "run",
            "-r",
            "ops",
            "--name",
            "sync",
            "--",
            "sh",
            "-c",
            "echo try; exit 3",
        ];
        run(at(&sandbox, TEN + i * 60, &args)).code(3);
    }
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn on_a_full_disk_a_scheduled_message_is_said_not_kept_and_a_held_one_goes_at_once() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "digest = \"1h\"");
    let mut scheduled = at(&sandbox, TEN, &["send", "-r", "ops", "--in", "1h", "later"]);
    scheduled.env("CHIME_FAULT", "write:ENOSPC");
    run(scheduled)
        .code(74)
        .stderr_has("cannot keep it until its time");
    assert_eq!(bed.arrivals(), 0, "a scheduled message never goes early");
    let mut digest = at(&sandbox, TEN, &["send", "-r", "ops", "signup"]);
    digest.env("CHIME_FAULT", "write:ENOSPC");
    run(digest).code(0).stderr_has("sending it now");
    assert_eq!(posted(&bed).len(), 1, "better early than lost");
}

#[test]
fn a_misspelt_time_zone_is_a_profile_error_at_its_own_line() {
    let bed = Bed::start();
    let sandbox = hook_profile(
        &bed,
        "quiet = \"22:00-07:00\"\ntimezone = \"Europe/Berlim\"",
    );
    run(at(&sandbox, TEN, &["config", "check"]))
        .code(78)
        .stderr_has("`Europe/Berlim` is not a time zone")
        .stderr_has("timezone = \"Europe/Berlim\"");
}

#[test]
fn the_next_send_after_a_limits_window_delivers_its_digest_first() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "limit = \"2/5m\"");
    for i in 0..5 {
        let text = format!("check {i} failed");
        run(at(
            &sandbox,
            TEN + i,
            &["send", "-r", "ops", "-l", "warning", &text],
        ))
        .code(0);
    }
    assert_eq!(bed.delivered().len(), 2);
    run(at(
        &sandbox,
        TEN + 400,
        &["send", "-r", "ops", "-l", "warning", "all clear"],
    ))
    .code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(
        texts[2].contains("3 more in the last 5 min"),
        "{}",
        texts[2]
    );
    assert!(texts[3].contains("all clear"));
}

#[test]
fn a_first_message_neither_sent_nor_kept_opens_no_window() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "");
    bed.break_hook("ops");
    let args = [
        "send",
        "-r",
        "ops",
        "--no-spool",
        "--dedupe",
        "disk",
        "disk full",
    ];
    run(at(&sandbox, TEN, &args)).code(74);
    bed.restore_hook("ops");
    run(at(&sandbox, TEN + 10, &args)).code(0);
    assert_eq!(
        posted(&bed).len(),
        1,
        "the retry is a first message, posted"
    );
}

#[test]
fn a_scheduled_first_message_the_disk_would_not_keep_opens_no_window() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "");
    let args = [
        "send", "-r", "ops", "--in", "1h", "--dedupe", "k", "--json", "later",
    ];
    let mut full = at(&sandbox, TEN, &args);
    full.env("CHIME_FAULT", "write:ENOSPC");
    run(full).code(74);
    let again = run(at(&sandbox, TEN + 10, &args)).code(0);
    assert_eq!(
        again.json_lines()[0]["held"]["reason"],
        "scheduled",
        "not a repeat"
    );
}

#[test]
fn the_same_text_for_two_channels_is_two_messages_and_their_digests_stay_apart() {
    let bed = Bed::start();
    let sandbox = hook_profile(
        &bed,
        "dedupe = \"10m\"\nquiet = \"22:00-07:00\"\ntimezone = \"UTC\"",
    );
    let night = TEN + 13 * 3600;
    for (i, channel) in ["#team-a", "#team-b"].iter().enumerate() {
        let args = [
            "send",
            "-r",
            "ops",
            "--channel",
            channel,
            "-l",
            "error",
            "build broke",
        ];
        run(at(&sandbox, TEN + i as u64, &args)).code(0);
        let args = [
            "send",
            "-r",
            "ops",
            "--channel",
            channel,
            &format!("for {channel}"),
        ];
        run(at(&sandbox, night + i as u64, &args)).code(0);
    }
    assert_eq!(
        bed.delivered().len(),
        2,
        "one error per channel, none counted"
    );
    run(at(&sandbox, TEN + 21 * 3600, &["flush"])).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 4, "one digest per channel");
    for digest in &got[2..] {
        let body = digest.json();
        let channel = body["channel"].as_str().unwrap().to_owned();
        assert!(
            digest.text().contains(&format!("for {channel}")),
            "{}",
            digest.text()
        );
        let other = if channel == "#team-a" {
            "#team-b"
        } else {
            "#team-a"
        };
        assert!(!digest.text().contains(&format!("for {other}")));
    }
}

#[test]
fn events_with_other_fields_are_not_repeats_of_each_other() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "dedupe = \"10m\"");
    for email in ["ada@acme.com", "bob@acme.com", "ada@acme.com"] {
        let field = format!("email={email}");
        run(at(
            &sandbox,
            TEN,
            &[
                "send",
                "-r",
                "ops",
                "--event",
                "user.signed_up",
                "-f",
                &field,
            ],
        ))
        .code(0);
    }
    assert_eq!(bed.delivered().len(), 2, "Ada once, Bob once");
}

#[test]
fn a_dedupe_key_named_like_a_limit_is_a_window_like_any_other() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "limit = \"5/5m\"");
    for i in 0..3 {
        let args = [
            "send",
            "-r",
            "ops",
            "--dedupe",
            "limit-route:ops",
            "--dedupe-window",
            "5m",
            "x",
        ];
        run(at(&sandbox, TEN + i, &args)).code(0);
    }
    run(at(&sandbox, TEN + 301, &["flush"])).code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("repeated twice"), "{}", texts[1]);
}

#[test]
fn a_count_is_not_told_to_a_destination_that_changed_since_its_window_opened() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "dedupe = \"10m\"");
    for i in 0..3 {
        run(at(&sandbox, TEN + i, &["send", "-r", "ops", "disk full"])).code(0);
    }
    write_hook_profile(&sandbox, &bed.webhook("elsewhere"), "");
    run(at(&sandbox, TEN + 601, &["flush"])).code(0);
    assert_eq!(
        bed.delivered().len(),
        1,
        "only the first message, to the old webhook"
    );
}

#[test]
fn a_dedupe_key_without_a_window_is_a_profile_error() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "dedupe_key = \"{{ fields.check }}\"");
    run(at(&sandbox, TEN, &["config", "check"]))
        .code(78)
        .stderr_has("`dedupe_key` without `dedupe`");
}

#[test]
fn a_message_scheduled_further_ahead_than_the_spools_max_age_still_goes() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "\n[spool]\nmax_age = \"1s\"");
    run(sandbox.chime(&["send", "-r", "ops", "--in", "3s", "quarterly"])).code(0);
    run(sandbox.chime(&["flush", "--wait", "20s"])).code(0);
    let texts = posted(&bed);
    assert_eq!(texts.len(), 1, "not dead-lettered as too old: {texts:?}");
}

#[test]
fn a_repeat_for_a_destination_that_changed_inside_the_window_is_posted_there() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "dedupe = \"10m\"");
    run(at(&sandbox, TEN, &["send", "-r", "ops", "disk full"])).code(0);
    write_hook_profile(&sandbox, &bed.webhook("elsewhere"), "dedupe = \"10m\"");
    run(at(&sandbox, TEN + 5, &["send", "-r", "ops", "disk full"])).code(0);
    let paths: Vec<String> = bed.delivered().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 2, "the new webhook saw it too: {paths:?}");
    assert_ne!(paths[0], paths[1]);
}

#[test]
fn flush_v_tells_of_messages_held_to_go_later() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "");
    run(sandbox.chime(&["send", "-r", "ops", "--in", "2h", "later"])).code(0);
    run(sandbox.chime(&["-v", "flush"]))
        .code(0)
        .stderr_has("1 message(s) held to go later, the first in 1h");
}

#[test]
fn a_dry_run_of_a_scheduled_send_says_when_it_would_go_and_keeps_nothing() {
    let bed = Bed::start();
    let sandbox = hook_profile(&bed, "dedupe = \"10m\"");
    run(at(
        &sandbox,
        TEN,
        &["send", "-r", "ops", "--in", "1h", "--dry-run", "later"],
    ))
    .code(0)
    .stdout_has("POST ")
    .stderr_has("would wait until 2026-12-03T11:00:00");
    let list = run(sandbox.chime(&["spool", "list", "--json"])).code(0);
    assert_eq!(list.stdout.trim(), "[]");
    run(at(&sandbox, TEN + 1, &["send", "-r", "ops", "later"])).code(0);
    assert_eq!(posted(&bed).len(), 1, "the dry run opened no window");
}
