//! The spool: a message chime accepted is delivered or still on disk, visibly.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::bed::{Bed, Fault};
use crate::support::{Run, Sandbox, run, shown_id};

/// Nothing listens here: connections are refused at once.
const DOWN: &str = "http://127.0.0.1:1/services/T0TESTTEAM/BDOWN/fakesecretdownfakesecret";

fn setup() -> Sandbox {
    Sandbox::with_ops_hook("3s")
}

/// chime with the webhook pointing at `url`.
fn chime(sandbox: &Sandbox, url: &str, args: &[&str]) -> Command {
    sandbox.ops(url, args)
}

fn spool_dir(sandbox: &Sandbox) -> PathBuf {
    sandbox.path().join("state/chime/profiles/config/spool")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files(&path));
            } else if path.extension().is_some_and(|e| e == "msg") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn pending(sandbox: &Sandbox) -> Vec<PathBuf> {
    files(&spool_dir(sandbox).join("pending"))
}

fn dead(sandbox: &Sandbox) -> Vec<PathBuf> {
    files(&spool_dir(sandbox).join("dead"))
}

fn texts(bed: &Bed) -> Vec<String> {
    bed.delivered()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect()
}

fn list_json(sandbox: &Sandbox, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["spool", "list", "--json"];
    args.extend_from_slice(extra);
    let out: Run = run(sandbox.chime(&args)).code(0);
    serde_json::from_str::<serde_json::Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn down_destination_queues_and_flush_delivers_exactly_once() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    let sandbox = setup();
    run(chime(&sandbox, &url, &["send", "backup done"]))
        .code(75)
        .stderr_has("chime: queued for ops-hook (cannot connect")
        .stderr_has("will retry — id ");
    assert_eq!(pending(&sandbox).len(), 1);
    bed.come_up();
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])).code(0);
    assert_eq!(texts(&bed), vec!["backup done"]);
    assert!(pending(&sandbox).is_empty());
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])).code(0);
    assert_eq!(
        bed.delivered().len(),
        1,
        "a second flush sends nothing again"
    );
}

#[test]
fn flush_without_all_waits_for_the_backoff() {
    let bed = Bed::start();
    let sandbox = setup();
    bed.fault(Fault::RateLimit(30));
    run(chime(&sandbox, &bed.webhook("ops"), &["send", "x"]))
        .code(75)
        .stderr_has("429");
    run(chime(&sandbox, &bed.webhook("ops"), &["flush"]))
        .code(75)
        .stderr_has("wait out a backoff")
        .stderr_has("next tried in")
        .stderr_has("`chime flush --all` sends them now");
    assert_eq!(bed.requests().len(), 1, "not due yet: nothing was sent");
    let listed = list_json(&sandbox, &[]);
    assert_eq!(listed[0]["attempts"], 1);
    assert!(listed[0]["last_error"].as_str().unwrap().contains("429"));
}

#[test]
fn retry_after_is_honoured_by_flush_wait() {
    let bed = Bed::start();
    let sandbox = setup();
    bed.fault(Fault::RateLimit(3));
    let started = Instant::now();
    run(chime(
        &sandbox,
        &bed.webhook("ops"),
        &["send", "--timeout", "1s", "x"],
    ))
    .code(75);
    run(chime(
        &sandbox,
        &bed.webhook("ops"),
        &["flush", "--wait", "20s"],
    ))
    .code(0);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "waited the 3 s Slack asked for"
    );
    assert_eq!(bed.delivered().len(), 1);
}

#[test]
fn permanent_rejection_is_dead_lettered_not_retried_and_can_be_revived() {
    let bed = Bed::start();
    let sandbox = setup();
    bed.fault(Fault::Status(404, "no_service"));
    run(chime(&sandbox, &bed.webhook("ops"), &["send", "x"]))
        .code(65)
        .stderr_has("404 no_service")
        .stderr_has("chime spool retry");
    assert_eq!(dead(&sandbox).len(), 1);
    assert!(pending(&sandbox).is_empty());
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])).code(0);
    assert_eq!(bed.requests().len(), 1, "flush leaves dead letters alone");
    let listed = list_json(&sandbox, &["--dead"]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "dead");
    run(sandbox.chime(&["spool", "retry", "--all"])).code(0);
    run(chime(&sandbox, &bed.webhook("ops"), &["flush"])).code(0);
    assert_eq!(texts(&bed), vec!["x"]);
    assert!(dead(&sandbox).is_empty() && pending(&sandbox).is_empty());
}

#[test]
fn order_is_kept_per_destination_across_an_outage() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    bed.no_rate_limit();
    let sandbox = setup();
    for i in 1..=5 {
        run(chime(&sandbox, &url, &["send", &format!("message {i}")])).code(75);
    }
    assert_eq!(pending(&sandbox).len(), 5);
    bed.come_up();
    // The backlog goes first when it is due within this send's timeout;
    // otherwise the new message queues behind it. Either way, in order.
    let sixth = run(chime(&sandbox, &url, &["send", "message 6"]));
    assert!([0, 75].contains(&sixth.code), "{sixth}");
    run(chime(&sandbox, &url, &["flush", "--all"])).code(0);
    run(chime(&sandbox, &url, &["send", "message 7"])).code(0);
    let expected: Vec<String> = (1..=7).map(|i| format!("message {i}")).collect();
    assert_eq!(texts(&bed), expected, "the backlog went first, in order");
    assert!(pending(&sandbox).is_empty());
}

#[test]
fn a_send_behind_a_throttled_backlog_waits_its_turn_without_a_request() {
    let bed = Bed::start();
    let sandbox = setup();
    let profile = crate::support::ops_profile("3s") + "\n[spool]\nmax_attempts = 3\n";
    sandbox.profile(&profile);
    bed.fault(Fault::RateLimit(3600));
    run(chime(&sandbox, &bed.webhook("ops"), &["send", "first"])).code(75);
    for i in 0..5 {
        run(chime(
            &sandbox,
            &bed.webhook("ops"),
            &["send", &format!("then {i}")],
        ))
        .code(75)
        .stderr_has("queued behind older messages");
    }
    assert_eq!(
        bed.requests().len(),
        1,
        "the platform asked for an hour's rest"
    );
    let listed = list_json(&sandbox, &[]);
    assert_eq!(listed.len(), 6);
    assert!(
        dead(&sandbox).is_empty(),
        "no attempt was spent on a message"
    );
    let attempts: Vec<u64> = listed
        .iter()
        .map(|e| e["attempts"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 0, 0, 0, 0, 0]);
}

#[test]
fn fifty_concurrent_sends_then_two_flushes_deliver_each_exactly_once() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    bed.no_rate_limit();
    let sandbox = setup();
    let children: Vec<_> = (0..50)
        .map(|i| {
            chime(&sandbox, &url, &["send", &format!("job {i}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert_eq!(child.wait().unwrap().code(), Some(75));
    }
    assert_eq!(
        pending(&sandbox).len(),
        50,
        "every send left its message on disk"
    );
    bed.come_up();
    let flushes: Vec<_> = (0..2)
        .map(|_| {
            chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut flush in flushes {
        flush.wait().unwrap();
    }
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])).code(0);
    let got = texts(&bed);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(got.len(), 50, "no duplicates");
    assert_eq!(unique.len(), 50, "none lost");
    assert!(pending(&sandbox).is_empty());
}

#[test]
fn a_flush_killed_midway_loses_nothing() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    bed.no_rate_limit();
    let sandbox = setup();
    for i in 0..60 {
        run(chime(
            &sandbox,
            &url,
            &["send", "--queue", &format!("entry {i}")],
        ))
        .code(0);
    }
    for _ in 0..60 {
        bed.fault(Fault::Slow(Duration::from_millis(40)));
    }
    bed.come_up();
    let mut flush = chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    bed.wait_for(15, Duration::from_secs(20));
    flush.kill().unwrap();
    flush.wait().unwrap();
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])).code(0);
    let got = texts(&bed);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), 60, "every message delivered");
    assert!(
        got.len() <= 61,
        "at most the one in flight twice: {} deliveries",
        got.len()
    );
    assert!(pending(&sandbox).is_empty());
}

#[test]
fn damaged_files_are_quarantined_and_the_rest_delivered() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    bed.no_rate_limit();
    let sandbox = setup();
    for i in 0..4 {
        run(chime(
            &sandbox,
            &url,
            &["send", "--queue", &format!("m{i}")],
        ))
        .code(0);
    }
    run(chime(&sandbox, &url, &["send", "--queue", "intact"])).code(0);
    let entries = pending(&sandbox);
    let mut flipped = std::fs::read(&entries[0]).unwrap();
    let at = flipped.len() - 10;
    flipped[at] ^= 0x01;
    std::fs::write(&entries[0], flipped).unwrap();
    let truncated = std::fs::read(&entries[1]).unwrap();
    std::fs::write(&entries[1], &truncated[..truncated.len() / 2]).unwrap();
    std::fs::File::create(&entries[2]).unwrap();
    assert_eq!(std::fs::metadata(&entries[2]).unwrap().len(), 0, "emptied");
    let mut grown = std::fs::read(&entries[3]).unwrap();
    grown.extend_from_slice(b"garbage");
    std::fs::write(&entries[3], grown).unwrap();
    bed.come_up();
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"]))
        .code(0)
        .stderr_has("checksum mismatch")
        .stderr_has("truncated")
        .stderr_has("no header line")
        .stderr_has("chime spool list --quarantined");
    assert_eq!(texts(&bed), vec!["intact"]);
    let listed = run(sandbox.chime(&["spool", "list", "--quarantined"]))
        .code(0)
        .stderr_has("4 damaged file(s), never sent");
    assert_eq!(listed.stdout.lines().count(), 4, "{}", listed.stdout);
    assert!(listed.stdout.contains("/corrupt/ops-hook."));
    assert_eq!(
        files(&spool_dir(&sandbox).join("corrupt")).len(),
        4,
        "kept for a human, not deleted"
    );
    assert!(pending(&sandbox).is_empty());
}

/// A directory where an entry belongs: unreadable as a file, even for root.
fn unreadable_entry(sandbox: &Sandbox, id: &str) -> PathBuf {
    let path = spool_dir(sandbox).join(format!("pending/ops-hook/{id}.msg"));
    std::fs::create_dir_all(&path).unwrap();
    path
}

#[test]
fn an_unreadable_entry_is_quarantined_and_the_others_still_flush() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    bed.no_rate_limit();
    let sandbox = setup();
    for text in ["m0", "m1"] {
        run(chime(&sandbox, &url, &["send", "--queue", text])).code(0);
    }
    // Ids sort in arrival order: these come first and would block the rest.
    let listed_one = unreadable_entry(&sandbox, "000000000000000000000001");
    run(sandbox.chime(&["spool", "list"]))
        .code(0)
        .stderr_has("it is not a regular file")
        .stdout_has("ops-hook");
    let flushed_one = unreadable_entry(&sandbox, "000000000000000000000002");
    bed.come_up();
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"]))
        .code(0)
        .stderr_has(&format!(
            "{} for ops-hook is damaged: it is not a regular file",
            shown_id("000000000000000000000002")
        ));
    assert_eq!(texts(&bed), vec!["m0", "m1"]);
    assert!(!listed_one.exists() && !flushed_one.exists());
    let corrupt = spool_dir(&sandbox).join("corrupt");
    for id in ["000000000000000000000001", "000000000000000000000002"] {
        assert!(
            corrupt.join(format!("ops-hook.{id}.msg")).is_dir(),
            "{id} kept for a human"
        );
    }
}

#[test]
fn an_unreadable_entry_that_cannot_be_moved_aside_is_skipped_not_blocking() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    let sandbox = setup();
    run(chime(&sandbox, &url, &["send", "--queue", "m0"])).code(0);
    let stuck = unreadable_entry(&sandbox, "000000000000000000000001");
    std::fs::write(spool_dir(&sandbox).join("corrupt"), "in the way").unwrap();
    bed.come_up();
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"]))
        .code(0)
        .stderr_has("it is not a regular file")
        .stderr_has("skipped, as it cannot be moved aside");
    assert_eq!(texts(&bed), vec!["m0"]);
    assert!(stuck.is_dir(), "left where it was, for a human");
}

/// Dead-letters one message per text through a destination that refuses it.
fn dead_letters(sandbox: &Sandbox, bed: &Bed, texts: &[&str]) -> Vec<String> {
    for text in texts {
        bed.fault(Fault::Status(404, "no_service"));
        run(chime(sandbox, &bed.webhook("ops"), &["send", text])).code(65);
    }
    let ids: Vec<String> = list_json(sandbox, &["--dead"])
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), texts.len());
    ids
}

/// The file among `files` of the entry chime shows as `id`.
fn file_of(files: &[PathBuf], id: &str) -> PathBuf {
    let named = |path: &&PathBuf| shown_id(path.file_stem().unwrap().to_str().unwrap()) == id;
    files.iter().find(named).expect("a file for the id").clone()
}

fn ids_of(listed: &[serde_json::Value]) -> Vec<&str> {
    listed.iter().map(|e| e["id"].as_str().unwrap()).collect()
}

#[test]
fn spool_retry_id_moves_that_dead_entry_back_and_finishes_an_interrupted_retry() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup();
    let ids = dead_letters(&sandbox, &bed, &["first", "second"]);
    run(sandbox.chime(&["spool", "retry", &ids[0]]))
        .code(0)
        .stderr_has("is pending again");
    let listed = list_json(&sandbox, &[]);
    assert_eq!(ids_of(&listed), vec![ids[0].as_str()]);
    assert_eq!(listed[0]["attempts"], 1, "a retry keeps the count of tries");
    assert_eq!(
        ids_of(&list_json(&sandbox, &["--dead"])),
        vec![ids[1].as_str()]
    );
    // A crash in the middle of a retry leaves the entry pending and dead at
    // once; retrying it again finishes the move instead of refusing.
    let file = file_of(&dead(&sandbox), &ids[1]);
    let name = format!("ops-hook/{}", file.file_name().unwrap().to_str().unwrap());
    std::fs::copy(&file, spool_dir(&sandbox).join("pending").join(&name)).unwrap();
    run(sandbox.chime(&["spool", "retry", &ids[1]])).code(0);
    assert!(dead(&sandbox).is_empty());
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])).code(0);
    assert_eq!(texts(&bed), vec!["first", "second"], "each once, in order");
}

#[test]
fn spool_retry_that_cannot_write_leaves_the_dead_entry_in_place() {
    let bed = Bed::start();
    let sandbox = setup();
    let ids = dead_letters(&sandbox, &bed, &["precious"]);
    let pending_dir = spool_dir(&sandbox).join("pending/ops-hook");
    let _ = std::fs::remove_dir_all(&pending_dir);
    std::fs::create_dir_all(pending_dir.parent().unwrap()).unwrap();
    std::fs::write(&pending_dir, "not a directory").unwrap();
    for how in [vec![ids[0].as_str()], vec!["--all"]] {
        let mut args = vec!["spool", "retry"];
        args.extend(how);
        run(sandbox.chime(&args))
            .code(1)
            .stderr_has("could not be moved back to pending; it is still dead-lettered")
            .stderr_has("Not a directory");
        assert_eq!(
            ids_of(&list_json(&sandbox, &["--dead"])),
            vec![ids[0].as_str()],
            "still dead-lettered after `spool retry {}`",
            args[2]
        );
    }
}

#[test]
fn an_ambiguous_id_prefix_is_refused_and_nothing_is_deleted() {
    let bed = Bed::start();
    let sandbox = setup();
    let dead_id = dead_letters(&sandbox, &bed, &["dead one"]).remove(0);
    // Seventeen ids: two share their first hex digit, whatever their hashes.
    for n in 0..16 {
        let text = format!("pending {n}");
        run(chime(&sandbox, DOWN, &["send", "--queue", &text])).code(0);
    }
    let listed = list_json(&sandbox, &[]);
    let mut all: Vec<&str> = ids_of(&listed);
    all.push(&dead_id);
    let first = |id: &str| id[..1].to_owned();
    let prefix = all
        .iter()
        .map(|id| first(id))
        .find(|digit| all.iter().filter(|id| first(id) == *digit).count() > 1)
        .expect("seventeen ids over sixteen digits");
    let sharing: Vec<&str> = all
        .iter()
        .copied()
        .filter(|id| first(id) == prefix)
        .collect();
    for command in ["drop", "retry", "show"] {
        let out = run(sandbox.chime(&["spool", command, &prefix]))
            .code(2)
            .stderr_has(&format!(
                "`{prefix}` is the start of {} spool entries",
                sharing.len()
            ))
            .stderr_has("give more characters");
        for id in &sharing {
            assert!(out.stderr.contains(id), "{id} is listed\n{out}");
        }
    }
    assert_eq!(pending(&sandbox).len(), 16, "nothing deleted");
    assert_eq!(dead(&sandbox).len(), 1, "nothing deleted");
}

#[test]
fn a_message_queued_behind_a_backlog_has_not_used_an_attempt() {
    let sandbox = setup();
    run(chime(&sandbox, DOWN, &["send", "tried"])).code(75);
    run(chime(&sandbox, DOWN, &["send", "waiting"]))
        .code(75)
        .stderr_has("queued behind older messages");
    let listed = list_json(&sandbox, &[]);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["attempts"], 2, "tried by each send");
    assert_eq!(listed[1]["attempts"], 0, "never tried");
}

#[test]
fn no_spool_file_holds_a_secret_and_all_are_private() {
    let bed = Bed::start();
    let sandbox = setup();
    bed.fault(Fault::Status(404, "no_service"));
    run(chime(
        &sandbox,
        &bed.webhook("ops"),
        &["send", "to the dead letters"],
    ))
    .code(65);
    run(chime(&sandbox, DOWN, &["send", "to pending"])).code(75);
    let all: Vec<PathBuf> = [pending(&sandbox), dead(&sandbox)].concat();
    assert_eq!(all.len(), 2);
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            !text.contains("fakesecret") && !text.contains("/services/"),
            "{path:?} holds a secret"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            let dir = path.parent().unwrap();
            assert_eq!(
                std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
    }
}

#[test]
fn queue_writes_without_trying_and_no_spool_fails_without_writing() {
    let bed = Bed::down();
    let url = bed.webhook("ops");
    let sandbox = setup();
    run(chime(&sandbox, &url, &["send", "--queue", "later"]))
        .code(0)
        .stderr_has("queued for ops-hook — id ");
    assert_eq!(pending(&sandbox).len(), 1);
    run(chime(
        &sandbox,
        &url,
        &["send", "--no-spool", "now or never"],
    ))
    .code(74)
    .stderr_has("not queued");
    assert_eq!(pending(&sandbox).len(), 1);
}

#[test]
fn a_spool_that_cannot_be_written_is_reported_loudly() {
    let sandbox = setup();
    let mut cmd = chime(&sandbox, DOWN, &["send", "--json", "x"]);
    cmd.env("CHIME_STATE_DIR", "/dev/null/chime");
    let out = run(cmd)
        .code(74)
        .stderr_has("could not be kept in the spool")
        .stderr_has("not queued");
    assert_eq!(out.json_lines()[0]["status"], "failed");
}

#[test]
fn entries_past_max_age_go_to_dead_letter() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    let sandbox = setup();
    let profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    sandbox.profile(&format!("{profile}\n[spool]\nmax_age = \"1ms\"\n"));
    run(chime(&sandbox, &url, &["send", "--queue", "stale"])).code(0);
    std::thread::sleep(Duration::from_millis(20));
    bed.come_up();
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])).code(65);
    assert!(bed.requests().is_empty());
    let listed = list_json(&sandbox, &["--dead"]);
    assert!(
        listed[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("gave up after")
    );
}

#[test]
fn spool_list_show_drop_and_purge() {
    let sandbox = setup();
    assert!(
        list_json(&sandbox, &[]).is_empty(),
        "an empty spool lists as []"
    );
    for text in ["one", "two", "three"] {
        run(chime(&sandbox, DOWN, &["send", "--queue", text])).code(0);
    }
    let listed = list_json(&sandbox, &[]);
    assert_eq!(listed.len(), 3);
    let first = listed[0]["id"].as_str().unwrap();
    run(sandbox.chime(&["spool", "list"]))
        .code(0)
        .stdout_has(first)
        .stdout_has("ops-hook");
    run(sandbox.chime(&["spool", "show", &first[..5]]))
        .code(0)
        .stdout_has("\"destination\": \"ops-hook\"")
        .stdout_has("\"text\": \"one\"");
    run(sandbox.chime(&["spool", "drop", first])).code(0);
    assert_eq!(list_json(&sandbox, &[]).len(), 2);
    run(sandbox.chime(&["spool", "show", "ffffffff"]))
        .code(2)
        .stderr_has("no spool entry");
    run(sandbox.chime(&["spool", "purge"]))
        .code(2)
        .stderr_has("--yes");
    assert_eq!(list_json(&sandbox, &[]).len(), 2);
    run(sandbox.chime(&["spool", "purge", "--yes"])).code(0);
    assert!(list_json(&sandbox, &[]).is_empty());
}

#[test]
fn flush_of_an_empty_spool_exits_0_quietly() {
    let sandbox = setup();
    let out = run(chime(&sandbox, DOWN, &["flush"])).code(0);
    assert!(out.stderr.is_empty(), "{out}");
}

// A send behind a backlog that is not due reads a hint the last drain left
// (`.due`) instead of listing the backlog: these say the hint never keeps a
// message waiting that could go, nor sends one to a destination that changed.

/// A backlog throttled for an hour: every send after it queues, the second
/// having looked at the backlog, the third going by the hint it left.
fn throttled_backlog(bed: &Bed, sandbox: &Sandbox) {
    bed.fault(Fault::RateLimit(3600));
    run(chime(sandbox, &bed.webhook("ops"), &["send", "first"])).code(75);
    run(chime(sandbox, &bed.webhook("ops"), &["send", "second"]))
        .code(75)
        .stderr_has("queued behind older messages: 1 still pending (next attempt in");
    run(chime(sandbox, &bed.webhook("ops"), &["send", "third"]))
        .code(75)
        .stderr_has("queued behind older messages: next attempt in");
    assert_eq!(bed.requests().len(), 1, "only the first tried");
}

#[test]
fn a_send_goes_at_once_once_the_throttled_backlog_it_would_queue_behind_is_dropped() {
    let bed = Bed::start();
    let sandbox = setup();
    throttled_backlog(&bed, &sandbox);
    for entry in list_json(&sandbox, &[]) {
        run(sandbox.chime(&["spool", "drop", entry["id"].as_str().unwrap()])).code(0);
    }
    run(chime(&sandbox, &bed.webhook("ops"), &["send", "fourth"])).code(0);
    assert_eq!(texts(&bed), ["fourth"]);
    assert!(pending(&sandbox).is_empty());
}

#[test]
fn a_send_goes_at_once_once_a_flush_delivered_the_throttled_backlog() {
    let bed = Bed::start();
    let sandbox = setup();
    throttled_backlog(&bed, &sandbox);
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])).code(0);
    run(chime(&sandbox, &bed.webhook("ops"), &["send", "fourth"])).code(0);
    assert_eq!(texts(&bed), ["first", "second", "third", "fourth"]);
}

#[test]
fn a_send_behind_a_throttled_backlog_of_a_destination_that_changed_dead_letters_it_and_goes() {
    let bed = Bed::start();
    let sandbox = setup();
    throttled_backlog(&bed, &sandbox);
    // The profile now points `ops-hook` elsewhere: the backlog was accepted
    // by another destination, and must not hold this one back.
    run(chime(
        &sandbox,
        &bed.webhook("elsewhere"),
        &["send", "fourth"],
    ))
    .code(0)
    .stderr_has("no longer the destination that accepted it");
    assert_eq!(texts(&bed), ["fourth"]);
    assert_eq!(dead(&sandbox).len(), 3);
}

#[test]
fn a_flush_of_a_long_backlog_delivers_each_once_in_order_and_leaves_nothing_behind() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    bed.no_rate_limit();
    let sandbox = setup();
    // Longer than one group commit (64 removals share an fsync).
    let count = 300;
    for i in 0..count {
        let text = format!("message {i:03}");
        run(chime(&sandbox, &url, &["send", "--queue", "-q", &text])).code(0);
    }
    bed.come_up();
    run(chime(&sandbox, &url, &["flush", "--all", "-q"])).code(0);
    let expected: Vec<String> = (0..count).map(|i| format!("message {i:03}")).collect();
    assert_eq!(texts(&bed), expected);
    let left: Vec<String> = std::fs::read_dir(spool_dir(&sandbox).join("pending/ops-hook"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n != ".lock")
        .collect();
    assert!(
        left.is_empty(),
        "nothing delivered is left behind: {left:?}"
    );
}

// `spool list`: what it shows of a spool, read one entry at a time.

/// `ops-hook` and `side-hook`, both down, and `idle-hook`, never sent to.
fn three_hooks() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "{}\n[destinations.side-hook]\nkind = \"slack\"\nurl = \"{DOWN}\"\n\n\
         [destinations.idle-hook]\nkind = \"slack\"\nurl = \"{DOWN}\"\n",
        crate::support::ops_profile("3s")
    ));
    sandbox
}

/// Queues one message for each destination of `to`, in turn.
fn queue(sandbox: &Sandbox, to: &[&str]) {
    for (n, dest) in to.iter().enumerate() {
        let text = format!("{dest} {n}");
        run(chime(
            sandbox,
            DOWN,
            &["send", "--queue", "--to", dest, &text],
        ))
        .code(0);
    }
}

fn destinations_of(listed: &[serde_json::Value]) -> Vec<&str> {
    listed
        .iter()
        .map(|e| e["destination"].as_str().unwrap())
        .collect()
}

#[test]
fn spool_list_is_in_arrival_order_across_destinations_and_dest_keeps_to_one() {
    let sandbox = three_hooks();
    queue(
        &sandbox,
        &["ops-hook", "side-hook", "ops-hook", "side-hook"],
    );
    let all = list_json(&sandbox, &[]);
    assert_eq!(
        destinations_of(&all),
        ["ops-hook", "side-hook", "ops-hook", "side-hook"],
        "one list, oldest first, not one destination after the other"
    );
    // Arrival order is the order of the files' names, whatever the ids shown.
    let mut names: Vec<String> = pending(&sandbox)
        .iter()
        .map(|path| path.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect();
    names.sort();
    let arrived: Vec<String> = names.iter().map(|name| shown_id(name)).collect();
    assert_eq!(ids_of(&all), arrived);
    let side = list_json(&sandbox, &["--dest", "side-hook"]);
    assert_eq!(ids_of(&side), [ids_of(&all)[1], ids_of(&all)[3]]);
    let out = run(sandbox.chime(&["spool", "list", "--dest", "side-hook"])).code(0);
    for (n, id) in ids_of(&all).into_iter().enumerate() {
        assert_eq!(out.stdout.contains(id), n % 2 == 1, "{id}\n{out}");
    }
    let both = list_json(&sandbox, &["--dest", "side-hook", "--dest", "ops-hook"]);
    assert_eq!(both, all);
}

#[test]
fn spool_list_dest_with_nothing_queued_says_so_and_a_name_nobody_knows_is_a_usage_error() {
    let sandbox = three_hooks();
    queue(&sandbox, &["ops-hook"]);
    let out = run(sandbox.chime(&["spool", "list", "--dest", "idle-hook"]))
        .code(0)
        .stderr_has("no pending messages for idle-hook");
    assert!(out.stdout.is_empty(), "{out}");
    assert!(list_json(&sandbox, &["--dest", "idle-hook"]).is_empty());
    run(sandbox.chime(&["spool", "list", "--dead", "--dest", "ops-hook"]))
        .code(0)
        .stderr_has("no dead-letter messages for ops-hook");
    run(sandbox.chime(&["spool", "list", "--dest", "side-hok"]))
        .code(2)
        .stderr_has("no destination `side-hok` in the profile or the spool (from --dest)")
        .stderr_has("did you mean `side-hook`?");
    // A spool knows its destinations when the profile no longer does.
    sandbox.profile(&crate::support::ops_profile("3s").replace("ops-hook", "new-hook"));
    assert_eq!(list_json(&sandbox, &["--dest", "ops-hook"]).len(), 1);
}

#[test]
fn spool_list_limit_shows_the_oldest_and_says_how_many_more_there_are() {
    let sandbox = three_hooks();
    queue(
        &sandbox,
        &["ops-hook", "side-hook", "ops-hook", "ops-hook", "side-hook"],
    );
    let all = list_json(&sandbox, &[]);
    let out = run(sandbox.chime(&["spool", "list", "--json", "--limit", "2"]))
        .code(0)
        .stderr_has("… and 3 more, left out by --limit 2");
    let two: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(two, all[..2]);
    let out = run(sandbox.chime(&["spool", "list", "--limit", "2", "--dest", "ops-hook"]))
        .code(0)
        .stderr_has("… and 1 more");
    assert_eq!(
        out.stdout.lines().count(),
        1 + 2,
        "a header and two rows\n{out}"
    );
    let out = run(sandbox.chime(&["spool", "list", "--limit", "5"])).code(0);
    assert!(!out.stderr.contains("more"), "nothing was left out\n{out}");
}

/// Moves `from`'s entry `n` (oldest first) to `state/<destination>/` under
/// the name `<id><suffix>`, making the folders as chime makes them.
fn move_entry(sandbox: &Sandbox, from: &str, n: usize, to: &str, suffix: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let dir = spool_dir(sandbox).join("pending").join(from);
    let path = &files(&dir)[n];
    let id = path.file_stem().unwrap().to_str().unwrap().to_owned();
    let target = spool_dir(sandbox).join(to);
    std::fs::create_dir_all(&target).unwrap();
    for folder in [target.parent().unwrap(), &target] {
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::fs::rename(path, target.join(format!("{id}{suffix}"))).unwrap();
    id
}

#[test]
fn spool_list_summary_counts_pending_in_flight_and_dead_per_destination() {
    let sandbox = three_hooks();
    queue(
        &sandbox,
        &["ops-hook", "ops-hook", "ops-hook", "ops-hook", "side-hook"],
    );
    let buried = move_entry(&sandbox, "ops-hook", 0, "dead/ops-hook", ".msg");
    // A message whose sender died mid-send: in flight, and now the oldest.
    let orphan = move_entry(&sandbox, "ops-hook", 0, "pending/ops-hook", ".sending");
    let out = run(sandbox.chime(&["spool", "list", "--summary", "--json"])).code(0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(destinations_of(&rows), ["ops-hook", "side-hook"], "{out}");
    let counts = |row: &serde_json::Value| {
        (
            row["pending"].clone(),
            row["in_flight"].clone(),
            row["dead"].clone(),
        )
    };
    assert_eq!(counts(&rows[0]), (2.into(), 1.into(), 1.into()));
    assert_eq!(counts(&rows[1]), (1.into(), 0.into(), 0.into()));
    assert_eq!(rows[0]["oldest_id"], shown_id(&orphan).as_str());
    assert_eq!(rows[0]["state"], "pending");
    assert!(rows[0]["next_attempt"].is_string(), "{out}");
    assert!(rows[0]["oldest_age_secs"].as_u64().unwrap() < 600, "{out}");
    let dead = run(sandbox.chime(&["spool", "list", "--summary", "--dead", "--json"])).code(0);
    let dead: Vec<serde_json::Value> = serde_json::from_str(&dead.stdout).unwrap();
    assert_eq!(destinations_of(&dead), ["ops-hook"]);
    assert_eq!(dead[0]["oldest_id"], shown_id(&buried).as_str());
    assert!(dead[0]["next_attempt"].is_null());
    run(sandbox.chime(&["spool", "list", "--summary", "--dest", "side-hook"]))
        .code(0)
        .stdout_has("PENDING  IN FLIGHT    DEAD    HELD  OLDEST")
        .stdout_has("side-hook");
    let out = run(sandbox.chime(&["spool", "list", "--summary"])).code(0);
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("ops-hook"))
        .unwrap();
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(columns[1..4], ["2", "1", "1"], "{out}");
}

#[test]
fn spool_list_json_is_one_array_with_the_fields_it_always_had() {
    let sandbox = three_hooks();
    queue(&sandbox, &["ops-hook", "side-hook"]);
    let out = run(sandbox.chime(&["spool", "list", "--json"])).code(0);
    assert!(
        out.stdout.starts_with("[{") && out.stdout.ends_with("}]\n"),
        "{out}"
    );
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let fields = [
        "attempts",
        "created",
        "destination",
        "id",
        "last_error",
        "next_attempt",
        "parts",
        "parts_left",
        "profile",
        "state",
    ];
    for entry in &listed {
        let keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, fields, "{entry}");
        assert_eq!(
            (entry["parts"].clone(), entry["parts_left"].clone()),
            (1.into(), 1.into())
        );
        assert_eq!(
            (entry["profile"].clone(), entry["state"].clone()),
            ("config".into(), "pending".into())
        );
    }
}

/// Rewrites `path`'s JSON with `change`, under a checksum that holds: a file
/// only a bug or another program would write.
fn rewrite_entry(path: &Path, change: impl Fn(&mut serde_json::Value)) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut json: serde_json::Value =
        serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
    change(&mut json);
    let json = json.to_string();
    let crc = crc32fast::hash(json.as_bytes());
    std::fs::write(
        path,
        format!("chime-spool 1 {crc:08x} {}\n{json}", json.len()),
    )
    .unwrap();
}

#[test]
fn spool_list_quarantines_what_a_flush_would_and_still_lists_and_counts_the_rest() {
    let sandbox = three_hooks();
    queue(&sandbox, &["ops-hook", "ops-hook", "ops-hook", "ops-hook"]);
    let entries = pending(&sandbox);
    let mut flipped = std::fs::read(&entries[0]).unwrap();
    let at = flipped.len() - 10;
    flipped[at] ^= 0x01;
    std::fs::write(&entries[0], flipped).unwrap();
    // A payload without its body: its checksum holds, a flush could not send it.
    rewrite_entry(&entries[1], |json| {
        json["payloads"][0] = serde_json::json!({"bodie": "{}"});
    });
    let out = run(sandbox.chime(&["spool", "list", "--json", "--limit", "1"]))
        .code(0)
        .stderr_has("checksum mismatch")
        .stderr_has("undecodable")
        .stderr_has("… and 1 more");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let third = shown_id(entries[2].file_stem().unwrap().to_str().unwrap());
    assert_eq!(
        ids_of(&listed),
        [third.as_str()],
        "the oldest that can be sent\n{out}"
    );
    assert_eq!(
        files(&spool_dir(&sandbox).join("corrupt")).len(),
        2,
        "kept for a human"
    );
    // The oldest is damaged too: the summary neither counts nor reads it.
    std::fs::write(&entries[2], "garbage").unwrap();
    let out = run(sandbox.chime(&["spool", "list", "--summary", "--json"]))
        .code(0)
        .stderr_has("no header line");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let fourth = shown_id(entries[3].file_stem().unwrap().to_str().unwrap());
    assert_eq!(
        (rows[0]["pending"].clone(), rows[0]["oldest_id"].clone()),
        (1.into(), fourth.into())
    );
}

#[test]
fn flush_quiet_still_tells_each_message_it_dead_letters_or_quarantines() {
    // Cron mails output, not exit codes: `-q` silences progress, never a fate.
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    bed.no_rate_limit();
    let sandbox = setup();
    for text in ["damaged", "refused"] {
        run(chime(&sandbox, &url, &["send", "--queue", text])).code(0);
    }
    let entries = pending(&sandbox);
    let whole = std::fs::read(&entries[0]).unwrap();
    std::fs::write(&entries[0], &whole[..whole.len() / 2]).unwrap();
    bed.come_up();
    bed.fault(Fault::Status(404, "no_service"));
    let mut cmd = chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"]);
    cmd.arg("-q");
    run(cmd)
        .code(65)
        .stderr_has("damaged")
        .stderr_has("dead-lettered")
        .stderr_has("404 no_service")
        .stderr_has("chime spool list --dead");
}

#[test]
fn an_unknown_spool_id_is_a_usage_error_that_says_how_to_list_ids() {
    let sandbox = setup();
    for args in [
        &["spool", "show", "nosuchid"][..],
        &["spool", "drop", "nosuchid"],
        &["spool", "retry", "nosuchid"],
    ] {
        run(sandbox.chime(args))
            .code(2)
            .stderr_has("nosuchid")
            .stderr_has("chime spool list");
    }
}

#[test]
fn purging_an_empty_spool_says_there_was_nothing_to_delete() {
    let sandbox = setup();
    run(sandbox.chime(&["spool", "purge", "--dead", "--yes"]))
        .code(0)
        .stderr_has("no dead-letter message(s) to delete");
    run(sandbox.chime(&["spool", "purge", "--yes"]))
        .code(0)
        .stderr_has("no pending message(s) to delete");
}

#[test]
fn spool_drop_and_retry_explain_their_ids_in_help() {
    let sandbox = setup();
    for command in ["drop", "retry"] {
        run(sandbox.chime(&["spool", command, "--help"]))
            .code(0)
            .stdout_has("unique prefix")
            .stdout_has("chime spool list");
    }
}

#[test]
fn every_try_counts_as_an_attempt_including_a_flush_refused_after_a_retry() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup();
    let ids = dead_letters(&sandbox, &bed, &["refused twice"]);
    run(sandbox.chime(&["spool", "retry", &ids[0]])).code(0);
    bed.fault(Fault::Status(404, "no_service"));
    run(chime(&sandbox, &bed.webhook("ops"), &["flush"])).code(65);
    let listed = list_json(&sandbox, &["--dead"]);
    assert_eq!(listed[0]["attempts"], 2, "the send's try and the flush's");
}

#[test]
fn a_spool_command_refused_while_a_flush_sends_names_that_flushs_pid() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    let sandbox = setup();
    for i in 0..3 {
        run(chime(
            &sandbox,
            &url,
            &["send", "--queue", &format!("entry {i}")],
        ))
        .code(0);
    }
    let listed = list_json(&sandbox, &[]);
    let last = listed[2]["id"].as_str().unwrap().to_owned();
    bed.fault(Fault::Slow(Duration::from_millis(1500)));
    bed.come_up();
    let mut flush = chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = spool_dir(&sandbox).join("pending/ops-hook/.lock");
    let pid = flush.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&lock).unwrap_or_default() != pid {
        assert!(Instant::now() < deadline, "the flush never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    run(chime(&sandbox, &url, &["spool", "drop", &last]))
        .code(75)
        .stderr_has(&format!(
            "another chime (pid {pid}) is sending to ops-hook right now"
        ));
    flush.wait().unwrap();
    assert_eq!(texts(&bed), ["entry 0", "entry 1", "entry 2"]);
}

#[test]
fn ids_of_entries_made_together_differ_from_their_first_digit_and_a_few_digits_name_one() {
    let sandbox = setup();
    for n in 0..8 {
        run(chime(
            &sandbox,
            DOWN,
            &["send", "--queue", &format!("m{n}")],
        ))
        .code(0);
    }
    let listed = list_json(&sandbox, &[]);
    let ids = ids_of(&listed);
    assert!(ids.iter().all(|id| id.len() == 12), "{ids:?}");
    // Made within a second by eight processes, their file names share most
    // of their digits; the ids shown share none at the start (a chance of
    // 16⁻⁷ that all eight do).
    let firsts: HashSet<&str> = ids.iter().map(|id| &id[..1]).collect();
    assert!(firsts.len() > 1, "{ids:?}");
    // The shortest start of the first id that no other id shares names it.
    let unique = (1..=12)
        .map(|n| &ids[0][..n])
        .find(|start| ids.iter().filter(|id| id.starts_with(start)).count() == 1)
        .unwrap();
    run(sandbox.chime(&["spool", "show", unique]))
        .code(0)
        .stdout_has("\"text\": \"m0\"");
    // A script that kept a whole file id from an older chime still names it.
    let name = pending(&sandbox)[1]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    run(sandbox.chime(&["spool", "drop", &name]))
        .code(0)
        .stderr_has(&format!("dropped {}", shown_id(&name)));
    assert_eq!(pending(&sandbox).len(), 7);
}

#[test]
fn a_send_killed_mid_request_with_nothing_else_queued_is_sent_by_the_next_flush() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup();
    bed.fault(Fault::Slow(Duration::from_secs(2)));
    let mut send = chime(&sandbox, &bed.webhook("ops"), &["send", "only one"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while bed.requests().is_empty() && !on_the_wire(&bed) {
        assert!(Instant::now() < deadline, "the send never reached the bed");
        std::thread::sleep(Duration::from_millis(10));
    }
    send.kill().unwrap();
    send.wait().unwrap();
    // Its message is on disk in flight, and nothing else is queued.
    run(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])).code(0);
    let got = texts(&bed);
    assert!(
        !got.is_empty() && got.iter().all(|t| t == "only one"),
        "{got:?}"
    );
    assert!(pending(&sandbox).is_empty());
}

/// Whether a request has arrived and is being answered (slowly).
fn on_the_wire(bed: &Bed) -> bool {
    bed.arrivals() > 0
}
