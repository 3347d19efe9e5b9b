//! `--at`/`--in` handed to platforms that schedule themselves: Slack's
//! chat.scheduleMessage and ntfy's `At:`, with the spool as the fallback.
//! These run on the real clock (no `CHIME_NOW`): the stand-ins check `post_at`
//! against theirs, as the platforms do.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::bed::Bed;
use crate::support::ntfy::{Ntfy, PREFIX};
use crate::support::{Sandbox, run};

const TOKEN: &str = "xoxb-000-schedule-test-notreal";

fn slack(bed: &Bed) -> Sandbox {
    bed.add_token(TOKEN);
    bed.add_channel("#deploys", true);
    bed.no_rate_limit();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r##"
[destinations.bot]
kind = "slack-api"
token = "{TOKEN}"
channel = "#deploys"
api_url = "{api}"
"##,
        api = bed.api_url(),
    ));
    sandbox
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn listed(sandbox: &Sandbox) -> Vec<Value> {
    let list = run(sandbox.chime(&["spool", "list", "--json"])).code(0);
    serde_json::from_str::<Vec<Value>>(&list.stdout).unwrap()
}

#[test]
fn slack_schedules_a_message_in_two_hours_without_metadata_and_no_flush_is_needed() {
    let bed = Bed::start();
    let sandbox = slack(&bed);
    let before = now();
    let out = run(sandbox.chime(&["send", "--to", "bot", "--in", "2h", "--json", "stand-up"]));
    let report = &out.code(0).json_lines()[0];
    assert_eq!(report["status"], "held", "{report}");
    assert_eq!(report["held"]["reason"], "scheduled");
    assert!(
        report["held"]["note"]
            .as_str()
            .unwrap()
            .contains("on Slack")
    );
    let held = bed.scheduled();
    assert_eq!(held.len(), 1);
    assert!(
        held[0].post_at.abs_diff(before + 7200) <= 5,
        "{}",
        held[0].post_at
    );
    assert!(
        held[0].message.get("metadata").is_none(),
        "Slack never posts those"
    );
    assert_eq!(report["held"]["scheduled_message_id"], held[0].id.as_str());
    assert_eq!(report["channel"], bed.channel_id("#deploys"));
    assert!(
        bed.delivered()
            .iter()
            .all(|r| r.path.ends_with("chat.scheduleMessage"))
    );
    let entries = listed(&sandbox);
    assert_eq!(entries.len(), 1, "no spool entry beside it: {entries:?}");
    assert_eq!(entries[0]["state"], "scheduled");
    assert_eq!(entries[0]["id"], report["spool_id"]);
    run(sandbox.chime(&["flush"])).code(0);
    assert_eq!(bed.scheduled().len(), 1, "a flush leaves it to Slack");
}

#[test]
fn dropping_a_message_scheduled_on_slack_cancels_it_there() {
    let bed = Bed::start();
    let sandbox = slack(&bed);
    run(sandbox.chime(&["send", "--to", "bot", "--in", "3h", "retro"])).code(0);
    let id = listed(&sandbox)[0]["id"].as_str().unwrap().to_owned();
    run(sandbox.chime(&["spool", "drop", &id]))
        .code(0)
        .stderr_has("cancelled on Slack");
    assert!(bed.scheduled().is_empty());
    let last = bed.requests().pop().unwrap();
    assert!(last.path.ends_with("chat.deleteScheduledMessage"));
    assert!(listed(&sandbox).is_empty());
}

#[test]
fn more_than_120_days_ahead_waits_in_the_spool() {
    let bed = Bed::start();
    let sandbox = slack(&bed);
    run(sandbox.chime(&["send", "--to", "bot", "--in", "121d", "-v", "far"]))
        .code(0)
        .stderr_has("kept in the spool");
    assert!(bed.requests().is_empty(), "Slack is not asked");
    let entries = listed(&sandbox);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["state"], "held");
}

#[test]
fn a_message_in_several_parts_waits_in_the_spool() {
    let bed = Bed::start();
    let sandbox = slack(&bed);
    let long = "word ".repeat(4000);
    run(sandbox.chime(&["send", "--to", "bot", "--in", "2h", &long])).code(0);
    assert!(bed.scheduled().is_empty());
    assert_eq!(listed(&sandbox)[0]["state"], "held");
}

#[test]
fn a_reply_to_a_known_thread_is_scheduled_in_it() {
    let bed = Bed::start();
    let sandbox = slack(&bed);
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "k", "first"])).code(0);
    let parent: Value = serde_json::from_str(&bed.delivered()[0].response).unwrap();
    run(sandbox.chime(&[
        "send", "--to", "bot", "--thread", "k", "--in", "1h", "later",
    ]))
    .code(0);
    let held = bed.scheduled();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].message["thread_ts"], parent["ts"]);
    run(sandbox.chime(&["send", "--to", "bot", "--thread", "new", "--in", "1h", "x"])).code(0);
    assert_eq!(
        bed.scheduled().len(),
        1,
        "an unknown thread waits in the spool"
    );
}

#[test]
fn slack_refusing_to_schedule_leaves_the_message_in_the_spool() {
    let bed = Bed::start();
    let sandbox = slack(&bed);
    for i in 0..30 {
        run(sandbox.chime(&["send", "--to", "bot", "--in", "2h", &format!("m{i}")])).code(0);
    }
    run(sandbox.chime(&["send", "--to", "bot", "--in", "2h", "one more"]))
        .code(0)
        .stderr_has("restricted_too_many");
    assert_eq!(bed.scheduled().len(), 30);
    let entries = listed(&sandbox);
    assert_eq!(entries.iter().filter(|e| e["state"] == "held").count(), 1);
}

#[test]
fn ntfy_gets_the_time_in_an_at_header_and_beyond_its_limit_the_spool_keeps_it() {
    let bed = Bed::start();
    let ntfy = Ntfy::new();
    bed.mount(PREFIX, ntfy.clone());
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[destinations.phone]\nkind = \"ntfy\"\nurl = \"{}/ntfy/ops-alerts\"\n",
        bed.url()
    ));
    let before = now();
    let out = run(sandbox.chime(&["send", "--to", "phone", "--in", "1h", "--json", "hi"]));
    let report = &out.code(0).json_lines()[0];
    assert_eq!(report["status"], "held");
    assert!(
        report["held"]["note"]
            .as_str()
            .unwrap()
            .contains("ntfy server")
    );
    let published = ntfy.published();
    assert_eq!(published.len(), 1);
    assert!(published[0].at.unwrap().abs_diff(before + 3600) <= 5);
    let id = report["held"]["scheduled_message_id"].as_str();
    assert!(
        id.is_some_and(|id| !id.is_empty()),
        "ntfy's id for a script: {report}"
    );
    assert!(
        listed(&sandbox).is_empty(),
        "ntfy holds it, the spool does not"
    );
    run(sandbox.chime(&["send", "--to", "phone", "--in", "4d", "later"])).code(0);
    assert_eq!(ntfy.published().len(), 1, "past ntfy's 3 days");
    assert_eq!(listed(&sandbox)[0]["state"], "held");
}

#[test]
fn a_message_scheduled_with_another_token_is_not_cancelled_with_this_one() {
    let bed = Bed::start();
    let sandbox = slack(&bed);
    run(sandbox.chime(&["send", "--to", "bot", "--in", "3h", "retro"])).code(0);
    let id = listed(&sandbox)[0]["id"].as_str().unwrap().to_owned();
    let other = "xoxb-000-another-workspace-notreal";
    bed.add_token(other);
    sandbox.profile(&format!(
        "[destinations.bot]\nkind = \"slack-api\"\ntoken = \"{other}\"\nchannel = \"#deploys\"\n\
         api_url = \"{}\"\n",
        bed.api_url()
    ));
    run(sandbox.chime(&["spool", "drop", &id]))
        .code(78)
        .stderr_has("no longer the destination that scheduled it");
    assert_eq!(
        bed.scheduled().len(),
        1,
        "still scheduled, and still listed"
    );
    assert_eq!(listed(&sandbox).len(), 1);
}
