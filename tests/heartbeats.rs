//! `chime run --ping` and a route's `ping`: a dead-man's switch pinged in the
//! healthchecks.io protocol, against the Healthchecks stand-in.

use std::sync::Arc;

use crate::support::bed::{Bed, Fault};
use crate::support::healthchecks::{BODY_LIMIT, CHECK, Healthchecks, Ping, is_uuid};
use crate::support::{Run, Sandbox, run};

/// A profile whose `cron` route reports to a Slack webhook and pings `hc`.
fn setup(bed: &Bed) -> (Arc<Healthchecks>, Sandbox) {
    bed.no_rate_limit();
    let hc = Healthchecks::mount(bed);
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "cron"
timeout = "2s"

[destinations.cron-hook]
kind = "slack"
url = "{hook}"

[destinations.hc]
kind = "healthchecks"
url = "{base}/hc/{CHECK}"

[routes.cron]
to = ["cron-hook"]
ping = "hc"
"#,
        hook = bed.webhook("cron"),
        base = bed.url(),
    ));
    (hc, sandbox)
}

fn chime_run(sandbox: &Sandbox, args: &[&str]) -> Run {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    run(sandbox.chime(&all))
}

/// The actions logged, in order: "start", "success", "fail".
fn actions(pings: &[Ping]) -> Vec<&str> {
    pings.iter().map(|p| p.action.as_str()).collect()
}

/// Asserts that `pings` are one run's start and end under one UUID run id.
fn one_run(pings: &[Ping]) -> String {
    assert_eq!(pings.len(), 2, "{pings:?}");
    let rid = pings[0].rid.clone().expect("the start carries a run id");
    assert!(is_uuid(&rid), "{rid}");
    assert_eq!(pings[1].rid.as_deref(), Some(rid.as_str()), "{pings:?}");
    rid
}

#[test]
fn a_route_pings_start_then_success_under_one_run_id_with_the_tail() {
    let bed = Bed::start();
    let (hc, sandbox) = setup(&bed);
    chime_run(
        &sandbox,
        &["-r", "cron", "--", "sh", "-c", "echo backed up 42 files"],
    )
    .code(0);
    let pings = hc.pings();
    assert_eq!(actions(&pings), ["start", "success"]);
    one_run(&pings);
    assert_eq!(pings[0].body, "");
    assert!(pings[1].body.contains("backed up 42 files"), "{pings:?}");
    assert!(pings[1].body.contains("succeeded"), "{pings:?}");
    // --on failure: the success pings the switch and posts nothing.
    assert!(bed.delivered().iter().all(|r| !r.path.contains("services")));
}

#[test]
fn a_failing_job_pings_its_exit_status_and_chime_keeps_the_jobs_code() {
    let bed = Bed::start();
    let (hc, sandbox) = setup(&bed);
    chime_run(&sandbox, &["--", "sh", "-c", "echo disk full >&2; exit 3"]).code(3);
    let pings = hc.pings();
    assert_eq!(actions(&pings), ["start", "fail"]);
    assert_eq!(pings[1].exit_status, Some(3));
    assert!(pings[1].body.contains("disk full"), "{pings:?}");
    one_run(&pings);
    // The report went too: the ping is beside it, not instead of it.
    assert_eq!(
        bed.delivered()
            .iter()
            .filter(|r| r.path.contains("services"))
            .count(),
        1
    );
}

#[test]
fn a_job_killed_by_a_signal_pings_fail_without_a_status() {
    let bed = Bed::start();
    let (hc, sandbox) = setup(&bed);
    chime_run(&sandbox, &["--", "sh", "-c", "kill -9 $$"]).code(137);
    let pings = hc.pings();
    assert_eq!(actions(&pings), ["start", "fail"]);
    assert_eq!(pings[1].exit_status, None);
    assert!(pings[1].body.contains("SIGKILL"), "{pings:?}");
}

#[test]
fn a_typed_ping_url_needs_no_profile_and_no_report_is_missed() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let hc = Healthchecks::mount(&bed);
    let sandbox = Sandbox::new();
    let url = format!("{}/hc/{CHECK}", bed.url());
    chime_run(&sandbox, &["--ping", &url, "--", "sh", "-c", "exit 4"])
        .code(4)
        .never_shows(CHECK);
    let pings = hc.pings();
    assert_eq!(actions(&pings), ["start", "fail"]);
    assert_eq!(pings[1].exit_status, Some(4));
    let out = chime_run(&sandbox, &["--ping", &url, "--", "true"]).code(0);
    assert!(
        out.stderr.is_empty(),
        "a heartbeat alone says nothing: {}",
        out.stderr
    );
    assert_eq!(actions(&hc.pings()[2..]), ["start", "success"]);
}

#[test]
fn overlapping_runs_are_told_apart_by_their_run_ids() {
    let bed = Bed::start();
    let (hc, sandbox) = setup(&bed);
    let slow = sandbox.chime(&["run", "--", "sh", "-c", "sleep 1; echo slow"]);
    let slow = std::thread::spawn(move || run(slow));
    std::thread::sleep(std::time::Duration::from_millis(300));
    chime_run(&sandbox, &["--", "sh", "-c", "echo quick"]).code(0);
    slow.join().unwrap().code(0);
    let pings = hc.pings();
    assert_eq!(pings.len(), 4, "{pings:?}");
    let mut rids: Vec<&str> = pings.iter().filter_map(|p| p.rid.as_deref()).collect();
    rids.sort();
    rids.dedup();
    assert_eq!(rids.len(), 2, "two runs, two run ids: {pings:?}");
    for rid in rids {
        let run: Vec<&Ping> = pings
            .iter()
            .filter(|p| p.rid.as_deref() == Some(rid))
            .collect();
        assert_eq!(run[0].action, "start");
        assert_eq!(run[1].action, "success");
        let said = if run[1].body.contains("slow") {
            "slow"
        } else {
            "quick"
        };
        assert!(run[1].body.contains(said));
    }
}

#[test]
fn pings_that_cannot_go_are_kept_and_a_flush_sends_them_in_order() {
    let mut bed = Bed::down();
    let (hc, sandbox) = setup(&bed);
    chime_run(&sandbox, &["--", "sh", "-c", "exit 2"])
        .code(2)
        .stderr_has("kept in the spool for `chime flush`")
        .never_shows(CHECK);
    assert!(hc.pings().is_empty());
    bed.come_up();
    run(sandbox.chime(&["flush", "--all"])).code(0);
    let pings = hc.pings();
    assert_eq!(actions(&pings), ["start", "fail"], "{pings:?}");
    assert_eq!(pings[1].exit_status, Some(2));
    one_run(&pings);
    run(sandbox.chime(&["flush", "--all"])).code(0);
    assert_eq!(hc.pings().len(), 2, "each ping goes once");
}

#[test]
fn a_typed_ping_kept_while_the_switch_is_down_goes_first_with_the_next_run() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let hc = Healthchecks::mount(&bed);
    let sandbox = Sandbox::new();
    let url = format!("{}/hc/{CHECK}", bed.url());
    chime_run(&sandbox, &["--ping", &url, "--timeout", "5s", "--", "true"])
        .code(0)
        .stderr_has("the next `chime run` with this --ping sends it first");
    bed.come_up();
    // The start does not wait for the older pings (each would take its own
    // time, while the job waits): it is kept behind them, and the end takes
    // them all along.
    chime_run(&sandbox, &["--ping", &url, "--", "sh", "-c", "exit 1"])
        .code(1)
        .stderr_has("older pings of the check are waiting");
    let pings = hc.pings();
    assert_eq!(
        actions(&pings),
        ["start", "success", "start", "fail"],
        "{pings:?}"
    );
    one_run(&pings[..2]);
    one_run(&pings[2..]);
}

#[test]
fn a_throttled_ping_is_retried_and_arrives_once() {
    let bed = Bed::start();
    let (hc, sandbox) = setup(&bed);
    bed.fault(Fault::RateLimit(1));
    chime_run(&sandbox, &["--", "true"]).code(0);
    assert_eq!(actions(&hc.pings()), ["start", "success"]);
}

#[test]
fn a_refused_ping_says_why_and_never_shows_the_url() {
    let bed = Bed::start();
    bed.no_rate_limit();
    Healthchecks::mount(&bed);
    let sandbox = Sandbox::new();
    let unknown = "00000000-1111-4222-8333-444444444444";
    let url = format!("{}/hc/{unknown}", bed.url());
    chime_run(&sandbox, &["--ping", &url, "--", "sh", "-c", "exit 5"])
        .code(5)
        .stderr_has("no check has this ping URL")
        .never_shows(unknown);
}

#[test]
fn a_long_tail_is_cut_to_the_ping_body_limit_keeping_its_end() {
    let bed = Bed::start();
    let (hc, sandbox) = setup(&bed);
    let script =
        "i=0; while [ $i -lt 80 ]; do printf 'line %04d %02000d\\n' $i 0; i=$((i+1)); done";
    chime_run(&sandbox, &["--tail", "80", "--", "sh", "-c", script]).code(0);
    let end = &hc.pings()[1];
    assert!(end.body.len() <= BODY_LIMIT, "{}", end.body.len());
    assert!(end.body.contains("line 0079"), "the end is kept");
    assert!(!end.body.contains("line 0000"), "the start is what goes");
}

#[test]
fn a_ping_naming_a_message_destination_is_refused_and_the_job_runs_anyway() {
    let bed = Bed::start();
    let (hc, sandbox) = setup(&bed);
    chime_run(
        &sandbox,
        &["--ping", "cron-hook", "--", "sh", "-c", "echo ran; exit 6"],
    )
    .code(6)
    .stdout_has("ran")
    .stderr_has("takes messages, not heartbeats");
    assert!(hc.pings().is_empty());
}

#[test]
fn a_route_pinging_a_message_destination_is_a_profile_error() {
    let bed = Bed::start();
    let (_hc, sandbox) = setup(&bed);
    let text = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    sandbox.profile(&text.replace("ping = \"hc\"", "ping = \"cron-hook\""));
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("`ping` names a healthchecks destination");
}

#[test]
fn a_dry_run_shows_the_pings_and_sends_none() {
    let bed = Bed::start();
    let (hc, sandbox) = setup(&bed);
    let out = chime_run(&sandbox, &["--dry-run", "--", "true"])
        .code(0)
        .stdout_has("true succeeded")
        .never_shows(CHECK);
    assert_eq!(
        out.stdout.matches("# hc (healthchecks)").count(),
        2,
        "{}",
        out.stdout
    );
    assert!(hc.pings().is_empty());
}

#[test]
fn chime_test_logs_an_event_and_leaves_the_checks_state_alone() {
    let bed = Bed::start();
    let (hc, sandbox) = setup(&bed);
    run(sandbox.chime(&["test", "hc"])).code(0);
    assert_eq!(actions(&hc.pings()), ["log"]);
}

#[test]
fn a_send_to_a_check_pings_it_by_the_messages_level() {
    let bed = Bed::start();
    let (hc, sandbox) = setup(&bed);
    run(sandbox.chime(&[
        "send",
        "--to",
        "hc",
        "-l",
        "error",
        "-t",
        "Backup",
        "tape jammed",
    ]))
    .code(0);
    run(sandbox.chime(&["send", "--to", "hc", "all good"])).code(0);
    let pings = hc.pings();
    assert_eq!(actions(&pings), ["fail", "success"]);
    assert_eq!(pings[0].body, "Backup\ntape jammed");
    assert_eq!(pings[0].rid, None, "a message is not a run");
}

#[test]
fn an_uptime_kuma_push_url_is_refused_with_what_would_work() {
    let sandbox = Sandbox::new();
    let url = "http://127.0.0.1:9/api/push/AbC123secret";
    chime_run(&sandbox, &["--ping", url, "--", "sh", "-c", "echo ran"])
        .code(0)
        .stdout_has("ran")
        .stderr_has("an Uptime Kuma push URL")
        .never_shows("AbC123secret");
}

/// The issue's crontab line: one `chime run` pages on failure, resolves on
/// recovery and pings a dead-man's switch, through one route.
#[test]
fn one_crontab_line_pages_on_failure_resolves_on_recovery_and_pings_its_switch() {
    use crate::support::pagerduty::{self, PagerDuty};
    const KEY: &str = "R0fakeEventsV2IntegrationKey0001";
    let bed = Bed::start();
    bed.no_rate_limit();
    let hc = Healthchecks::mount(&bed);
    let pd = PagerDuty::new();
    bed.mount(pagerduty::PREFIX, pd.clone());
    pd.add_key(KEY);
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[destinations.pager]
kind = "pagerduty"
routing_key = "{KEY}"
api_url = "{base}/pagerduty"

[destinations.switch]
kind = "healthchecks"
url = "{base}/hc/{CHECK}"

[routes.oncall]
to = ["pager"]
ping = "switch"
"#,
        base = bed.url(),
    ));
    let flag = sandbox.path().join("broken");
    let job = format!("test ! -e {}", flag.display());
    let cron = |code| {
        chime_run(
            &sandbox,
            &[
                "--on", "change", "-r", "oncall", "--name", "backup", "--", "sh", "-c", &job,
            ],
        )
        .code(code)
        .never_shows(KEY)
        .never_shows(CHECK);
    };
    cron(0);
    std::fs::write(&flag, "").unwrap();
    cron(1);
    cron(1);
    std::fs::remove_file(&flag).unwrap();
    cron(0);
    let events: Vec<(String, String)> = pd
        .events()
        .iter()
        .map(|e| {
            (
                e["event_action"].as_str().unwrap().to_owned(),
                e["dedup_key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let key = "backup".to_owned();
    assert_eq!(
        events,
        [
            ("trigger".to_owned(), key.clone()),
            ("resolve".to_owned(), key)
        ]
    );
    let pings = hc.pings();
    let ends: Vec<&str> = pings
        .iter()
        .map(|p| p.action.as_str())
        .filter(|a| *a != "start")
        .collect();
    assert_eq!(
        ends,
        ["success", "fail", "fail", "success"],
        "every run pings, changed or not"
    );
    assert_eq!(pings.len(), 8);
}

#[test]
fn a_route_that_pings_a_check_it_also_sends_to_is_a_profile_error() {
    let bed = Bed::start();
    let (_hc, sandbox) = setup(&bed);
    let text = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    sandbox.profile(&text.replace("to = [\"cron-hook\"]", "to = [\"cron-hook\", \"hc\"]"));
    run(sandbox.chime(&["config", "check"]))
        .code(78)
        .stderr_has("would ping it twice");
}
