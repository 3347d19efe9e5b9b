//! The state directory can be trusted: chime delivers what it finds there
//! with the profile's credentials, so it refuses a directory someone else
//! could write into, never follows a link or blocks on a file planted where
//! it keeps things, keeps each profile's spool apart, and takes over what
//! chime 0.1 left behind.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::bed::Bed;
use crate::support::{
    NOBODY, Run, Sandbox, as_nobody, ops_profile, run_watched_within, run_within, shown_id,
};

/// Nothing listens here: connections are refused at once.
const DOWN: &str = "http://127.0.0.1:1/services/T0TESTTEAM/BDOWN/fakesecretdownfakesecret";
/// Catches a hang; never a measure of speed.
const LIMIT: Duration = Duration::from_secs(60);
/// What chime holds while it works, far below the gigabyte a file may claim.
const MEMORY_BOUND: u64 = 64 << 20;
/// Sorts before any id chime makes now, so a file planted under it is the
/// first of its destination and would block the rest.
const PLANTED: &str = "000000000001000000010001";

fn setup() -> Sandbox {
    Sandbox::with_ops_hook("3s")
}

/// chime with `ops-hook` pointing at `url`.
fn chime(sandbox: &Sandbox, url: &str, args: &[&str]) -> Command {
    sandbox.ops(url, args)
}

fn go(cmd: Command) -> Run {
    run_within(cmd, LIMIT)
}

/// The state directory a sandbox uses unless told otherwise.
fn state_dir(sandbox: &Sandbox) -> PathBuf {
    sandbox.path().join("state/chime")
}

/// Where `profile` keeps its state in the state directory `state`.
fn profile_state(state: &Path, profile: &str) -> PathBuf {
    state.join("profiles").join(profile)
}

/// The default profile's spool in the sandbox's state directory.
fn spool_dir(sandbox: &Sandbox) -> PathBuf {
    profile_state(&state_dir(sandbox), "config").join("spool")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A spool entry as chime writes it (format 1, see `src/spool/entry.rs`):
/// due now, never tried, and, like an entry of chime 0.1, without the
/// identity of the destination that accepted it.
fn entry(id: &str, destination: &str, created_ms: u64, text: &str) -> Vec<u8> {
    let body = serde_json::json!({ "text": text }).to_string();
    let json = serde_json::json!({
        "id": id,
        "destination": destination,
        "created": created_ms,
        "attempts": 0,
        "next_attempt": now_ms(),
        "last_error": null,
        "parts": 1,
        "payloads": [{ "body": body }],
    })
    .to_string();
    let crc = crc32fast::hash(json.as_bytes());
    format!("chime-spool 1 {crc:08x} {}\n{json}", json.len()).into_bytes()
}

/// Writes `bytes` at `path`, making the folders it lacks, 0700 and 0600 as
/// chime makes them; each made folder and the file belong to `owner`.
fn plant(path: &Path, bytes: &[u8], owner: u32) {
    let mut missing = Vec::new();
    let mut dir = path.parent().unwrap();
    while !dir.exists() {
        missing.push(dir.to_owned());
        dir = dir.parent().unwrap();
    }
    for dir in missing.iter().rev() {
        std::fs::create_dir(dir).unwrap();
        chmod(dir, 0o700);
        chown(dir, owner);
    }
    std::fs::write(path, bytes).unwrap();
    chmod(path, 0o600);
    chown(path, owner);
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, owner: u32) {
    std::os::unix::fs::lchown(path, Some(owner), Some(owner)).unwrap_or_else(|e| {
        panic!(
            "cannot give {path:?} to user {owner} ({e}): only root can, \
             so run the tests as root, as CI does"
        )
    });
}

/// Gives `dir` and everything in it to `owner`.
fn chown_tree(dir: &Path, owner: u32) {
    chown(dir, owner);
    if dir.is_dir() && !dir.is_symlink() {
        for entry in std::fs::read_dir(dir).unwrap() {
            chown_tree(&entry.unwrap().path(), owner);
        }
    }
}

/// The `text` of each message the bed posted, in order.
fn texts(bed: &Bed) -> Vec<String> {
    bed.delivered()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `chime spool list --json`, parsed.
fn list_json(cmd: Command) -> Vec<serde_json::Value> {
    let out = go(cmd).code(0);
    let list: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"));
    list.as_array().unwrap().clone()
}

// 1. Whose state directory it is.

#[test]
fn a_state_directory_another_user_made_is_refused_and_what_they_planted_is_not_sent() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup();
    let state = state_dir(&sandbox);
    // `nobody` made the state directory before root's first chime, and left
    // an entry for root's `ops-hook` in it, where chime 0.1 and this chime
    // keep the default profile's spool.
    for spool in [state.join("spool"), spool_dir(&sandbox)] {
        let path = spool.join(format!("pending/ops-hook/{PLANTED}.msg"));
        plant(
            &path,
            &entry(PLANTED, "ops-hook", now_ms(), "planted"),
            NOBODY,
        );
    }
    chown_tree(&state, NOBODY);
    let refusal = format!(
        "refusing to use {}: it belongs to user {NOBODY}",
        state.display()
    );
    let url = bed.webhook("ops");
    for args in [
        &["flush", "--all"][..],
        &["send", "root's own message"],
        &["spool", "list"],
    ] {
        go(chime(&sandbox, &url, args))
            .code(78)
            .stderr_has(&refusal)
            .stderr_has("CHIME_STATE_DIR");
        assert!(
            bed.requests().is_empty(),
            "`chime {}` sent something: {:?}",
            args.join(" "),
            texts(&bed)
        );
    }
}

#[test]
fn a_state_directory_others_may_write_to_is_refused_and_keeps_what_was_queued() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let sandbox = setup();
    go(chime(
        &sandbox,
        &url,
        &["send", "--queue", "queued by root"],
    ))
    .code(0);
    bed.come_up();
    let state = state_dir(&sandbox);
    // Anyone may now make folders in it: `nobody` leaves an entry where
    // chime 0.1 kept the spool, for chime to take over.
    let planted = state.join(format!("spool/pending/ops-hook/{PLANTED}.msg"));
    plant(
        &planted,
        &entry(PLANTED, "ops-hook", now_ms(), "planted"),
        NOBODY,
    );
    for mode in [0o777, 0o770, 0o733] {
        chmod(&state, mode);
        let refusal = format!(
            "refusing to use {}: others may write to it (mode {mode:04o})",
            state.display()
        );
        go(chime(&sandbox, &url, &["flush", "--all"]))
            .code(78)
            .stderr_has(&refusal)
            .stderr_has("chmod 700");
        // An empty list would hide root's message as surely as a lost file.
        go(sandbox.chime(&["spool", "list"]))
            .code(78)
            .stderr_has(&refusal);
        assert!(
            bed.requests().is_empty(),
            "mode {mode:04o}: {:?}",
            texts(&bed)
        );
    }
    chmod(&state, 0o700);
    go(chime(&sandbox, &url, &["flush", "--all"])).code(0);
    assert_eq!(
        texts(&bed),
        ["queued by root"],
        "root's, once; not the planted one"
    );
}

#[test]
fn a_sticky_state_directory_of_ours_is_trusted() {
    let bed = Bed::start();
    let sandbox = setup();
    go(chime(&sandbox, &bed.webhook("ops"), &["send", "first"])).code(0);
    // Others may add files to a sticky directory, but not touch ours in it.
    std::fs::create_dir_all(state_dir(&sandbox)).unwrap();
    chmod(&state_dir(&sandbox), 0o1777);
    go(chime(&sandbox, &bed.webhook("ops"), &["send", "second"])).code(0);
    go(chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"])).code(0);
    assert_eq!(texts(&bed), ["first", "second"]);
}

#[test]
fn a_state_directory_that_is_a_symbolic_link_is_refused() {
    let bed = Bed::start();
    let sandbox = setup();
    let real = sandbox.path().join("real");
    for spool in [
        real.join("spool"),
        profile_state(&real, "config").join("spool"),
    ] {
        let path = spool.join(format!("pending/ops-hook/{PLANTED}.msg"));
        plant(&path, &entry(PLANTED, "ops-hook", now_ms(), "planted"), 0);
    }
    chmod(&real, 0o700);
    // Whoever may replace the link decides what chime delivers.
    let link = sandbox.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut cmd = chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"]);
    cmd.env("CHIME_STATE_DIR", &link);
    go(cmd)
        .code(78)
        .stderr_has(&format!(
            "refusing to use {}: it is a symbolic link",
            link.display()
        ))
        .stderr_has("CHIME_STATE_DIR");
    assert!(bed.requests().is_empty(), "{:?}", texts(&bed));
}

#[test]
fn a_parent_another_user_could_swap_the_state_directory_in_is_refused() {
    let bed = Bed::start();
    let sandbox = setup();
    let parent = sandbox.path().join("above");
    let state = parent.join("chime");
    for spool in [
        state.join("spool"),
        profile_state(&state, "config").join("spool"),
    ] {
        let path = spool.join(format!("pending/ops-hook/{PLANTED}.msg"));
        plant(&path, &entry(PLANTED, "ops-hook", now_ms(), "planted"), 0);
    }
    let flush = || {
        let mut cmd = chime(&sandbox, &bed.webhook("ops"), &["flush", "--all"]);
        cmd.env("CHIME_STATE_DIR", &state);
        go(cmd)
    };
    let refused = |why: &str| format!("refusing to use {}: {why}", parent.display());
    chmod(&parent, 0o755);
    chown(&parent, NOBODY);
    flush().code(78).stderr_has(&refused(&format!(
        "it belongs to user {NOBODY}, who could replace the state directory inside"
    )));
    chown(&parent, 0);
    for mode in [0o777, 0o775] {
        chmod(&parent, mode);
        flush().code(78).stderr_has(&refused(&format!(
            "others may write to it (mode {mode:04o}) and replace the state directory inside"
        )));
    }
    assert!(bed.requests().is_empty(), "{:?}", texts(&bed));
    // As in /tmp, others cannot move what is ours out of a sticky folder.
    chmod(&parent, 0o1777);
    flush().code(0);
    assert_eq!(texts(&bed), ["planted"], "ours after all, so delivered");
}

#[test]
fn a_profiles_folder_of_another_user_is_refused() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    let sandbox = setup();
    go(chime(
        &sandbox,
        &url,
        &["send", "--queue", "queued by root"],
    ))
    .code(0);
    bed.come_up();
    // `nobody` may rename what is in it: swap one profile's folder for another's.
    let profiles = state_dir(&sandbox).join("profiles");
    chown(&profiles, NOBODY);
    let refusal = format!("refusing to use {}", profiles.display());
    for args in [
        &["flush", "--all"][..],
        &["send", "--queue", "another"],
        &["spool", "list"],
    ] {
        go(chime(&sandbox, &url, args))
            .code(78)
            .stderr_has(&refusal)
            .stderr_has(&format!("belongs to user {NOBODY}"));
    }
    assert!(bed.requests().is_empty(), "{:?}", texts(&bed));
}

#[test]
fn a_profile_folder_that_is_a_link_is_refused() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    let sandbox = setup();
    go(chime(
        &sandbox,
        &url,
        &["send", "--queue", "queued elsewhere"],
    ))
    .code(0);
    bed.come_up();
    let folder = profile_state(&state_dir(&sandbox), "config");
    let elsewhere = sandbox.path().join("elsewhere");
    std::fs::rename(&folder, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &folder).unwrap();
    let refusal = format!(
        "refusing to use {}: it is a symbolic link",
        folder.display()
    );
    // `chime send` refuses it; the cron line's flush and `spool list` must too.
    for args in [
        &["send", "--queue", "x"][..],
        &["flush", "--all"],
        &["spool", "list"],
    ] {
        go(chime(&sandbox, &url, args))
            .code(78)
            .stderr_has(&refusal);
    }
    assert!(bed.requests().is_empty(), "{:?}", texts(&bed));
}

#[test]
fn a_destination_folder_that_is_a_link_is_not_sent_from() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    let sandbox = setup();
    go(chime(
        &sandbox,
        &url,
        &["send", "--queue", "queued elsewhere"],
    ))
    .code(0);
    bed.come_up();
    let folder = spool_dir(&sandbox).join("pending/ops-hook");
    let elsewhere = sandbox.path().join("elsewhere");
    std::fs::rename(&folder, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &folder).unwrap();
    go(chime(&sandbox, &url, &["flush", "--all"]))
        .code(75)
        .stderr_has(&format!(
            "refusing to use {}: it is a symbolic link; its messages wait",
            folder.display()
        ));
    assert!(bed.requests().is_empty(), "{:?}", texts(&bed));
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        1,
        "left alone"
    );
}

#[test]
fn spool_commands_never_touch_files_through_a_linked_destination_folder() {
    let sandbox = setup();
    go(chime(&sandbox, DOWN, &["send", "--queue", "waiting"])).code(0);
    let outside = tempfile::tempdir().unwrap();
    let theirs = [
        (outside.path().join("notes.msg"), b"not chime's".to_vec()),
        (
            outside.path().join(format!("{PLANTED}.msg")),
            entry(PLANTED, "ops-hook", now_ms(), "planted"),
        ),
    ];
    for (path, bytes) in &theirs {
        std::fs::write(path, bytes).unwrap();
    }
    let dead = spool_dir(&sandbox).join("dead");
    std::fs::create_dir(&dead).unwrap();
    chmod(&dead, 0o700);
    let link = dead.join("ops-hook");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    for args in [
        &["spool", "list", "--dead"][..],
        &["spool", "list", "--dead", "--json"],
        &["spool", "purge", "--dead", "--yes"],
    ] {
        let out = go(sandbox.chime(args));
        assert!(
            !out.stdout.contains(PLANTED),
            "listed through the link\n{out}"
        );
        for (path, bytes) in &theirs {
            let now = std::fs::read(path).unwrap_or_default();
            assert_eq!(
                &now,
                bytes,
                "{path:?} after `chime {}`\n{out}",
                args.join(" ")
            );
        }
    }
}

#[test]
fn a_destination_folder_others_may_write_to_is_refused_and_one_they_may_read_is_made_private() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    let sandbox = setup();
    go(chime(&sandbox, &url, &["send", "--queue", "waiting"])).code(0);
    bed.come_up();
    let folder = spool_dir(&sandbox).join("pending/ops-hook");
    chmod(&folder, 0o777);
    go(chime(&sandbox, &url, &["flush", "--all"]))
        .code(75)
        .stderr_has(&format!(
            "refusing to use {}: others may write to it (mode 0777); its messages wait",
            folder.display()
        ));
    assert!(bed.requests().is_empty(), "{:?}", texts(&bed));
    chmod(&folder, 0o755);
    go(chime(&sandbox, &url, &["flush", "--all"])).code(0);
    assert_eq!(texts(&bed), ["waiting"]);
    let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
}

// 2. Nothing planted at a name chime uses is followed, waited on or read whole.

/// A planted file's id for round `n`: sorts first, and differs per round so
/// each one quarantined keeps its own name in `corrupt/`.
fn planted(n: u32) -> String {
    format!("{:0>24}", format!("1{n:04}"))
}

/// Plants `hazard` as the first entry of `ops-hook` before each of a
/// `spool list`, a `send` that drains the backlog first and a
/// `flush --all`, and checks that each got past it — in time, in bounded
/// memory, with a warning naming it — while the messages around it went
/// out in order.
fn each_command_gets_past(hazard: impl Fn(&Path)) -> (Sandbox, Vec<Run>) {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let url = bed.webhook("ops");
    let sandbox = setup();
    go(chime(&sandbox, &url, &["send", "--queue", "first"])).code(0);
    bed.come_up();
    let mut runs = Vec::new();
    let commands: [&[&str]; 3] = [&["spool", "list"], &["send", "second"], &["flush", "--all"]];
    for (n, args) in commands.into_iter().enumerate() {
        if n == 2 {
            go(chime(&sandbox, &url, &["send", "--queue", "third"])).code(0);
        }
        let id = planted(n as u32);
        hazard(&spool_dir(&sandbox).join(format!("pending/ops-hook/{id}.msg")));
        let (out, peak) = run_watched_within(chime(&sandbox, &url, args), LIMIT);
        eprintln!("chime {args:?}: exit {}, peak {} KiB", out.code, peak >> 10);
        let out = out
            .code(0)
            .stderr_has(&format!("spool entry {}", shown_id(&id)));
        // A run too quick to be sampled (peak 0) read nothing big either.
        assert!(peak < MEMORY_BOUND, "held {} MiB\n{out}", peak >> 20);
        runs.push(out);
    }
    assert!(
        runs[0].stdout.contains("ops-hook"),
        "the rest listed\n{}",
        runs[0]
    );
    assert_eq!(texts(&bed), ["first", "second", "third"]);
    (sandbox, runs)
}

/// What a planted file became: each was moved to `corrupt/`, or left where
/// it was, but none is pending any more.
fn quarantined(sandbox: &Sandbox) -> Vec<PathBuf> {
    let corrupt = spool_dir(sandbox).join("corrupt");
    let mut found: Vec<PathBuf> = std::fs::read_dir(corrupt)
        .map(|dir| dir.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn an_entry_that_is_a_link_to_a_secret_is_quarantined_without_showing_it() {
    let secret = "xoxb-planted-secret-0123456789";
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("token");
    let content = format!("{secret}\nchime-spool 1 00000000 2\n{{}}\n");
    std::fs::write(&target, &content).unwrap();
    let (sandbox, runs) = each_command_gets_past(|path| {
        std::os::unix::fs::symlink(&target, path).unwrap();
    });
    for out in runs {
        out.stderr_has("it is a symbolic link").never_shows(secret);
    }
    let links = quarantined(&sandbox);
    assert_eq!(links.len(), 3, "{links:?}");
    assert!(
        links.iter().all(|l| l.is_symlink()),
        "the links, not copies"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), content);
}

#[test]
fn an_entry_that_is_a_link_to_dev_zero_is_not_read() {
    let (sandbox, runs) = each_command_gets_past(|path| {
        std::os::unix::fs::symlink("/dev/zero", path).unwrap();
    });
    for out in runs {
        out.stderr_has("it is a symbolic link");
    }
    assert_eq!(quarantined(&sandbox).len(), 3);
}

#[test]
fn an_entry_that_is_a_fifo_is_not_waited_on() {
    let (sandbox, runs) = each_command_gets_past(|path| {
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo(3) with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    });
    for out in runs {
        out.stderr_has("it is not a regular file");
    }
    assert_eq!(quarantined(&sandbox).len(), 3);
}

#[test]
fn an_entry_of_a_gigabyte_is_not_read() {
    let (sandbox, runs) = each_command_gets_past(|path| {
        // Sparse: a gigabyte to read, none of it on the disk.
        let file = std::fs::File::create(path).unwrap();
        file.set_len(1 << 30).unwrap();
    });
    for out in runs {
        out.stderr_has("1073741824 bytes");
    }
    assert_eq!(quarantined(&sandbox).len(), 3);
}

#[test]
fn a_lock_that_is_a_link_never_creates_its_target() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    let sandbox = setup();
    go(chime(&sandbox, &url, &["send", "--queue", "waiting"])).code(0);
    bed.come_up();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("made-by-chime");
    let lock = spool_dir(&sandbox).join("pending/ops-hook/.lock");
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    go(chime(&sandbox, &url, &["flush", "--all"]))
        .code(75)
        .stderr_has(&format!(
            "refusing to use {}: it is a symbolic link",
            lock.display()
        ));
    go(chime(&sandbox, &url, &["send", "now"]));
    assert!(!target.exists(), "chime created a file through the link");
    assert!(lock.is_symlink(), "left for a human to see");
    assert!(
        !texts(&bed).contains(&"waiting".to_owned()),
        "no entry sent without its lock: {:?}",
        texts(&bed)
    );
}

/// The pids the next processes will get, as far as the kernel says.
fn upcoming_pids(count: u32) -> Vec<u32> {
    let read = |file: &str| -> u32 {
        let text = std::fs::read_to_string(format!("/proc/sys/kernel/{file}")).unwrap();
        text.trim().parse().unwrap()
    };
    let (last, max) = (read("ns_last_pid"), read("pid_max"));
    // Past the top, the kernel starts again above the 300 pids it reserves.
    (1..=count)
        .map(|n| last + n)
        .map(|pid| if pid < max { pid } else { 300 + pid - max })
        .collect()
}

#[test]
fn run_on_change_never_writes_through_a_link_at_a_temp_name() {
    let bed = Bed::start();
    let sandbox = setup();
    let outside = tempfile::tempdir().unwrap();
    let precious = outside.path().join("precious");
    std::fs::write(&precious, "root's own\n").unwrap();
    chmod(&precious, 0o600);
    let runs = profile_state(&state_dir(&sandbox), "config").join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    chmod(&runs, 0o700);
    // chime 0.1 wrote `.NAME.json.PID.tmp`: anyone who could write to the
    // folder knew the name ahead, for whichever pid chime would get.
    for pid in upcoming_pids(3000) {
        std::os::unix::fs::symlink(&precious, runs.join(format!(".nightly.json.{pid}.tmp")))
            .unwrap();
    }
    let url = bed.webhook("ops");
    for (job, code) in [("false", 1), ("true", 0)] {
        go(chime(
            &sandbox,
            &url,
            &["run", "--on", "change", "--name", "nightly", "--", job],
        ))
        .code(code)
        .never_shows("cannot remember");
    }
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "root's own\n");
    assert_eq!(bed.delivered().len(), 2, "a failure, then a recovery");
    let record = runs.join("nightly.json");
    assert!(record.is_file() && !record.is_symlink(), "{record:?}");
}

#[test]
fn a_thread_record_that_is_a_link_is_not_followed() {
    const TOKEN: &str = "xoxb-000-trust-test-notreal";
    let bed = Bed::start();
    bed.no_rate_limit();
    bed.add_token(TOKEN);
    bed.add_channel("#deploys", true);
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
    // Someone else's record: reply into a thread of their choosing.
    let outside = tempfile::tempdir().unwrap();
    let theirs = outside.path().join("record.json");
    let record = serde_json::json!({
        "channel": bed.channel_id("#deploys"),
        "ts": "1700000000.000100",
        "at": now_ms() / 1000,
    })
    .to_string();
    std::fs::write(&theirs, &record).unwrap();
    let threads = profile_state(&state_dir(&sandbox), "config").join("threads/bot");
    std::fs::create_dir_all(&threads).unwrap();
    chmod(&threads, 0o700);
    chmod(threads.parent().unwrap(), 0o700);
    std::os::unix::fs::symlink(&theirs, threads.join("deploy-42.json")).unwrap();
    go(sandbox.chime(&["send", "--to", "bot", "--thread", "deploy-42", "x"])).code(0);
    let posts = bed.delivered();
    assert_eq!(posts.len(), 1);
    assert!(
        posts[0].json().get("thread_ts").is_none(),
        "posted into the planted thread: {}",
        posts[0].text()
    );
    assert_eq!(
        std::fs::read_to_string(&theirs).unwrap(),
        record,
        "untouched"
    );
}

// 3. Dates no calendar writes.

#[test]
fn an_entry_from_after_the_year_9999_is_damaged_not_a_panic() {
    let sandbox = setup();
    let ops = spool_dir(&sandbox).join("pending/ops-hook");
    // The first millisecond of the year 10000, and the last one a u64 holds.
    for created in [253_402_300_800_000, u64::MAX] {
        let commands: [&[&str]; 3] = [
            &["spool", "list"],
            &["spool", "list", "--json"],
            &["spool", "show"],
        ];
        for (n, args) in commands.into_iter().enumerate() {
            let id = planted(n as u32);
            plant(
                &ops.join(format!("{id}.msg")),
                &entry(&id, "ops-hook", created, "far"),
                0,
            );
            let mut args = args.to_vec();
            if args[1] == "show" {
                args.push(&id);
            }
            // `show` refuses it; a list leaves it out.
            let code = if args[1] == "show" { 1 } else { 0 };
            let out = go(sandbox.chime(&args)).code(code);
            let shown = shown_id(&id);
            let out = out.stderr_has(&format!("{shown} is damaged"));
            assert!(!out.stdout.contains(&shown), "listed as an entry\n{out}");
        }
    }
}

// 4. A folder chime cannot read.

/// chime as `nobody`, with a state directory of nobody's own.
fn nobody(sandbox: &Sandbox, bed: &Bed, args: &[&str]) -> Command {
    let (url, side) = (bed.webhook("ops"), bed.webhook("side"));
    let mut cmd = chime(sandbox, &url, args);
    cmd.env("CHIME_STATE_DIR", sandbox.path().join("nobody/chime"));
    cmd.env("SIDE_WEBHOOK", side);
    as_nobody(&mut cmd);
    cmd
}

#[test]
fn a_destination_folder_that_cannot_be_read_is_reported_and_the_others_still_flush() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "{}\n[destinations.side-hook]\nkind = \"slack\"\nurl = \"${{SIDE_WEBHOOK}}\"\npace = \"0s\"\n",
        ops_profile("3s")
    ));
    // Root ignores permissions; `nobody`, in a state directory of its own, cannot.
    chmod(sandbox.path(), 0o755);
    let home = sandbox.path().join("nobody");
    std::fs::create_dir(&home).unwrap();
    chown(&home, NOBODY);
    for to in ["ops-hook", "side-hook"] {
        go(nobody(&sandbox, &bed, &["send", "--queue", "--to", to, to])).code(0);
    }
    let unreadable = profile_state(&home.join("chime"), "config").join("spool/pending/ops-hook");
    chmod(&unreadable, 0o000);
    let warning = format!("cannot list {}: Permission denied", unreadable.display());
    go(nobody(&sandbox, &bed, &["spool", "list"]))
        .code(0)
        .stderr_has(&warning)
        .stdout_has("side-hook");
    bed.come_up();
    go(nobody(&sandbox, &bed, &["flush", "--all"]))
        .code(75)
        .stderr_has(&warning);
    assert_eq!(texts(&bed), ["side-hook"]);
}

// 5. A name longer than a file name may be.

#[test]
fn a_destination_named_too_long_for_a_file_name_is_queued_listed_and_flushed() {
    let mut bed = Bed::down();
    let url = bed.webhook("ops");
    // 96 letters, 192 bytes of UTF-8, 576 once encoded for a file name.
    let name = "п".repeat(96);
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[defaults]\nroute = \"ops\"\ntimeout = \"3s\"\n\n\
         [destinations.\"{name}\"]\nkind = \"slack\"\nurl = \"${{OPS_WEBHOOK}}\"\npace = \"0s\"\n\n\
         [routes.ops]\nto = [\"{name}\"]\n"
    ));
    go(chime(&sandbox, &url, &["send", "the long way"]))
        .code(75)
        .stderr_has(&format!("queued for {name}"));
    go(sandbox.chime(&["spool", "list"]))
        .code(0)
        .stdout_has(&name);
    let listed = list_json(sandbox.chime(&["spool", "list", "--json"]));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["destination"], name.as_str());
    bed.come_up();
    go(chime(&sandbox, &url, &["flush", "--all"])).code(0);
    assert_eq!(texts(&bed), ["the long way"]);
    assert!(list_json(sandbox.chime(&["spool", "list", "--json"])).is_empty());
}

// 6. Each profile its own spool.

/// The path part of a bed URL, as the bed records requests.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

/// A profile whose `ops-hook` is the bed's webhook `hook`.
fn hook_profile(bed: &Bed, hook: &str) -> String {
    ops_profile("3s").replace("${OPS_WEBHOOK}", &bed.webhook(hook))
}

/// Where each text the bed posted went.
fn posted_to(bed: &Bed) -> Vec<(String, String)> {
    bed.delivered()
        .iter()
        .map(|r| {
            (
                r.json()["text"].as_str().unwrap().to_owned(),
                r.path.clone(),
            )
        })
        .collect()
}

#[test]
fn a_message_queued_under_one_profile_is_never_flushed_to_another_profiles_destination() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("config/chime");
    std::fs::create_dir_all(&dir).unwrap();
    for profile in ["lab", "other"] {
        std::fs::write(
            dir.join(format!("{profile}.toml")),
            hook_profile(&bed, profile),
        )
        .unwrap();
    }
    bed.break_hook("lab");
    go(sandbox.chime(&["--profile", "lab", "send", "for lab"])).code(75);
    go(sandbox.chime(&["--profile", "other", "flush", "--all"])).code(0);
    assert!(bed.delivered().is_empty(), "{:?}", posted_to(&bed));
    go(sandbox.chime(&["--profile", "other", "send", "--queue", "for other"])).code(0);
    let listed = list_json(sandbox.chime(&["spool", "list", "--json"]));
    let profiles: Vec<&str> = listed
        .iter()
        .map(|e| e["profile"].as_str().unwrap())
        .collect();
    assert_eq!(profiles, ["lab", "other"], "{listed:?}");
    go(sandbox.chime(&["spool", "list"]))
        .code(0)
        .stdout_has("PROFILE")
        .stdout_has("lab")
        .stdout_has("other");
    bed.restore_hook("lab");
    // The cron line names no profile: each spool goes with its own.
    go(sandbox.chime(&["flush", "--all"])).code(0);
    let mut posted = posted_to(&bed);
    posted.sort();
    assert_eq!(
        posted,
        [
            ("for lab".to_owned(), path_of(&bed.webhook("lab"))),
            ("for other".to_owned(), path_of(&bed.webhook("other"))),
        ]
    );
}

#[test]
fn profiles_chosen_by_path_keep_their_own_spools() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = Sandbox::new();
    // The same file name in two places: two profiles.
    let files: Vec<PathBuf> = ["a", "b"]
        .iter()
        .map(|hook| {
            let path = sandbox.path().join(hook).join("chime.toml");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, hook_profile(&bed, hook)).unwrap();
            path
        })
        .collect();
    let config = |n: usize| files[n].to_str().unwrap();
    for (n, text) in ["for a", "for b"].into_iter().enumerate() {
        go(sandbox.chime(&["--config", config(n), "send", "--queue", text])).code(0);
    }
    let listed = list_json(sandbox.chime(&["spool", "list", "--json"]));
    let mut profiles: Vec<&str> = listed
        .iter()
        .map(|e| e["profile"].as_str().unwrap())
        .collect();
    profiles.sort();
    assert_eq!(profiles, [config(0), config(1)], "{listed:?}");
    go(sandbox.chime(&["--config", config(1), "flush", "--all"])).code(0);
    assert_eq!(
        posted_to(&bed),
        [("for b".to_owned(), path_of(&bed.webhook("b")))]
    );
    go(sandbox.chime(&["flush", "--all"])).code(0);
    assert_eq!(
        posted_to(&bed)[1..],
        [("for a".to_owned(), path_of(&bed.webhook("a")))]
    );
}

// 7. A destination that changed since.

#[test]
fn a_message_is_not_sent_to_a_destination_whose_url_changed_since_it_was_queued() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup();
    let (old, new) = (bed.webhook("old"), bed.webhook("new"));
    bed.break_hook("old");
    go(chime(&sandbox, &old, &["send", "meant for old"])).code(75);
    let listed = list_json(sandbox.chime(&["spool", "list", "--json"]));
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let retry = format!("chime spool retry {id}");
    go(chime(&sandbox, &new, &["flush", "--all"]))
        .code(65)
        .stderr_has("is no longer the destination that accepted it")
        .stderr_has(&retry)
        .never_shows(&path_of(&new));
    assert!(bed.delivered().is_empty(), "{:?}", posted_to(&bed));
    let dead = list_json(sandbox.chime(&["spool", "list", "--dead", "--json"]));
    assert!(
        dead[0]["last_error"].as_str().unwrap().contains(&retry),
        "{dead:?}"
    );
    // Asked for by name, it goes where `ops-hook` points now.
    go(sandbox.chime(&["spool", "retry", &id])).code(0);
    go(chime(&sandbox, &new, &["flush"])).code(0);
    assert_eq!(
        posted_to(&bed),
        [("meant for old".to_owned(), path_of(&new))]
    );
}

// 8. What chime 0.1 left.

#[test]
fn the_layout_of_chime_0_1_is_taken_over_by_the_default_profile() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let sandbox = setup();
    let state = state_dir(&sandbox);
    // As chime 0.1 left them: the spool and the jobs' outcomes at the top.
    let id = "01a2356ae89600000ca70000";
    plant(
        &state.join(format!("spool/pending/ops-hook/{id}.msg")),
        &entry(id, "ops-hook", now_ms(), "queued by 0.1"),
        0,
    );
    plant(&state.join("runs/nightly.json"), br#"{"ok":false}"#, 0);
    let listed = list_json(sandbox.chime(&["spool", "list", "--json"]));
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["profile"], "config");
    let config = state.join("profiles/config");
    assert!(
        config
            .join(format!("spool/pending/ops-hook/{id}.msg"))
            .is_file()
    );
    assert!(!state.join("spool").exists() && !state.join("runs").exists());
    let url = bed.webhook("ops");
    go(chime(&sandbox, &url, &["flush"])).code(0);
    assert_eq!(texts(&bed), ["queued by 0.1"]);
    // It failed last under 0.1: succeeding now is a change worth a message.
    go(chime(
        &sandbox,
        &url,
        &["run", "--on", "change", "--name", "nightly", "--", "true"],
    ))
    .code(0);
    assert_eq!(bed.delivered().len(), 2);
    assert!(bed.delivered()[1].text().contains("nightly succeeded"));
}
