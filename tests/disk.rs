//! A disk that fails: full, read-only, or not there at all. chime tells a
//! message it kept (75) from one it could not keep (74), delivers what can go
//! now, and never loses or doubles what it already had.
//!
//! Two ways to make the disk fail. A real one, a small tmpfs that is filled
//! or remounted read-only (root only; where it cannot be mounted, such a
//! test says "SKIPPED" on stderr and returns). And the fault seam of debug
//! builds, `CHIME_FAULT` (`src/spool/fs.rs`), which fails every write of one
//! kind as a full or read-only disk would, on any machine.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::bed::{Bed, Fault, delivered_lines};
use crate::support::{Run, Sandbox, run, run_with_stdin};

/// Nothing listens here: connections are refused at once.
const DOWN: &str = "http://127.0.0.1:1/services/T0TESTTEAM/BDOWN/fakesecretdownfakesecret";

/// What a full disk says, as chime quotes it.
const ENOSPC: &str = "No space left on device";

/// A tmpfs mounted for one test, unmounted when dropped, even when the test
/// fails: declare it after the [`Sandbox`] it lives in, so it goes first.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as mount(8) takes it: `64k`) at `dir`.
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let options = format!("size={size},mode=0700");
        mount(dir, 0, &options).map_err(|e| format!("{e} (mounting at {})", dir.display()))?;
        Ok(Tmpfs {
            dir: dir.to_owned(),
        })
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    /// Takes every byte left: each new file chime writes then fails with
    /// ENOSPC, as on a real full disk (empty files and folders still fit).
    fn fill(&self) {
        let mut filler = std::fs::File::create(self.dir.join("filler")).unwrap();
        let chunk = vec![0u8; 4096];
        loop {
            match filler.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) if err.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(err) => panic!("filling {}: {err}", self.dir.display()),
            }
        }
    }

    /// Gives back the room [`Tmpfs::fill`] took.
    fn free(&self) {
        std::fs::remove_file(self.dir.join("filler")).unwrap();
    }

    /// Remounts it read-only (`true`) or read-write.
    fn read_only(&self, ro: bool) {
        let flags = libc::MS_REMOUNT | if ro { libc::MS_RDONLY } else { 0 };
        mount(&self.dir, flags, "mode=0700").unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let path = CString::new(self.dir.as_os_str().as_bytes()).unwrap();
        // SAFETY: umount2(2) with a NUL-terminated path we own. Lazily when
        // busy (a chime a failed test left running), so it never stays.
        unsafe {
            if libc::umount2(path.as_ptr(), 0) != 0 {
                libc::umount2(path.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}

fn mount(dir: &Path, flags: libc::c_ulong, options: &str) -> std::io::Result<()> {
    let target = CString::new(dir.as_os_str().as_bytes()).unwrap();
    let options = CString::new(options).unwrap();
    // SAFETY: mount(2) with NUL-terminated strings that outlive the call.
    let done = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            flags,
            options.as_ptr().cast(),
        )
    };
    match done {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// A tmpfs of `$size` at `$dir`, or the test ends here, saying so loudly.
macro_rules! tmpfs_or_skip {
    ($dir:expr, $size:expr) => {
        match Tmpfs::mount(&$dir, $size) {
            Ok(tmpfs) => tmpfs,
            Err(why) => {
                eprintln!("SKIPPED: cannot mount tmpfs: {why}");
                return;
            }
        }
    };
}

fn setup() -> Sandbox {
    Sandbox::with_ops_hook("3s")
}

/// A sandbox whose state directory is `chime/` on a fresh tmpfs of `$size`.
macro_rules! on_tmpfs {
    ($size:expr) => {{
        let sandbox = setup();
        let disk = tmpfs_or_skip!(sandbox.path().join("disk"), $size);
        (sandbox, disk)
    }};
}

/// Where chime keeps its state in these tests.
fn state(disk: &Tmpfs) -> PathBuf {
    disk.path().join("chime")
}

/// chime with the webhook at `url` and its state in `state`.
fn chime(sandbox: &Sandbox, url: &str, state: &Path, args: &[&str]) -> Command {
    let mut cmd = sandbox.chime(args);
    cmd.env("OPS_WEBHOOK", url).env("CHIME_STATE_DIR", state);
    cmd
}

/// chime in the sandbox's own state directory, with writes failing as `fault`
/// says (`CHIME_FAULT`).
fn faulty(sandbox: &Sandbox, url: &str, fault: &str, args: &[&str]) -> Command {
    let mut cmd = sandbox.chime(args);
    cmd.env("OPS_WEBHOOK", url).env("CHIME_FAULT", fault);
    cmd
}

/// The sandbox's default state directory.
fn home_state(sandbox: &Sandbox) -> PathBuf {
    sandbox.path().join("state/chime")
}

/// The folder of `ops-hook`'s pending entries, wherever the layout puts it
/// under `state`.
fn pending_dir(state: &Path) -> Option<PathBuf> {
    let mut folders = vec![state.to_owned()];
    while let Some(folder) = folders.pop() {
        if folder.ends_with("pending/ops-hook") {
            return Some(folder);
        }
        let entries = std::fs::read_dir(&folder).into_iter().flatten().flatten();
        folders.extend(entries.map(|e| e.path()).filter(|p| p.is_dir()));
    }
    None
}

/// The pending entries' files, oldest first, with what each holds.
fn pending_files(state: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Some(dir) = pending_dir(state) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "msg"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    found.sort();
    found
}

/// Anything chime left in the pending folder besides entries and its lock:
/// a message in flight, a temp file.
fn strays(state: &Path) -> Vec<String> {
    let Some(dir) = pending_dir(state) else {
        return Vec::new();
    };
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        // `.lock` and the `.due` hint are the spool's own; anything else
        // (a temp file, a half-written entry) is left over.
        .filter(|n| !n.ends_with(".msg") && n != ".lock" && n != ".due")
        .collect()
}

/// `chime spool list --json`: every entry chime says it holds.
fn listed(sandbox: &Sandbox, state: &Path) -> Vec<serde_json::Value> {
    let out = run(chime(sandbox, DOWN, state, &["spool", "list", "--json"])).code(0);
    serde_json::from_str::<serde_json::Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"))
        .as_array()
        .unwrap()
        .clone()
}

fn texts(bed: &Bed) -> Vec<String> {
    bed.delivered()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect()
}

/// `run`'s stderr holds no "queued" claim: nothing says it was kept.
#[track_caller]
fn claims_nothing_queued(out: Run) -> Run {
    assert!(
        !out.stderr.contains("chime: queued") && !out.stderr.contains("will retry"),
        "a message not kept is reported as queued\n{out}"
    );
    out
}

// 1. A message that cannot be kept is 74, never 75.

#[test]
fn send_to_a_down_destination_on_a_full_disk_exits_74_and_75_once_there_is_room() {
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    // The state directory exists, as it does on a machine chime ran on before.
    run(chime(&sandbox, DOWN, &state, &["spool", "list"])).code(0);
    disk.fill();
    let out = run(chime(
        &sandbox,
        DOWN,
        &state,
        &["send", "--json", "disk full"],
    ))
    .code(74)
    .stderr_has("could not deliver to ops-hook (slack), and it was not queued")
    .stderr_has("could not be kept in the spool")
    .stderr_has(ENOSPC)
    .stderr_has("the message was not saved");
    let out = claims_nothing_queued(out);
    let report = &out.json_lines()[0];
    assert_eq!(report["status"], "failed", "{out}");
    assert!(report.get("spool_id").is_none(), "{out}");
    assert!(pending_files(&state).is_empty());
    assert!(strays(&state).is_empty(), "{:?}", strays(&state));
    // The same send with room: kept, and a script sees the difference.
    disk.free();
    let out = run(chime(&sandbox, DOWN, &state, &["send", "--json", "room"]))
        .code(75)
        .stderr_has("chime: queued for ops-hook");
    assert_eq!(out.json_lines()[0]["status"], "queued");
    assert_eq!(pending_files(&state).len(), 1);
}

#[test]
fn send_whose_spool_writes_fail_exits_74_for_every_kind_of_failing_disk() {
    for (errno, says) in [
        ("ENOSPC", ENOSPC),
        ("EDQUOT", "quota exceeded"),
        ("EROFS", "Read-only file system"),
        ("EIO", "Input/output error"),
        ("EACCES", "Permission denied"),
    ] {
        let sandbox = setup();
        let fault = format!("write:{errno}");
        let out = run(faulty(&sandbox, DOWN, &fault, &["send", "--json", "x"]))
            .code(74)
            .stderr_has("and it was not queued")
            .stderr_has(says);
        let out = claims_nothing_queued(out);
        assert_eq!(out.json_lines()[0]["status"], "failed", "{errno}\n{out}");
        assert!(pending_files(&home_state(&sandbox)).is_empty(), "{errno}");
        assert!(strays(&home_state(&sandbox)).is_empty(), "{errno}");
    }
}

#[test]
fn send_whose_spool_folder_cannot_be_made_exits_74() {
    let sandbox = setup();
    let out = run(faulty(
        &sandbox,
        DOWN,
        "mkdir:ENOSPC",
        &["send", "--json", "x"],
    ))
    .code(74)
    .stderr_has("and it was not queued")
    .stderr_has(ENOSPC);
    assert_eq!(out.json_lines()[0]["status"], "failed");
}

#[test]
fn send_to_a_down_destination_exits_75_when_the_disk_takes_it() {
    let sandbox = setup();
    let out = run(faulty(&sandbox, DOWN, "", &["send", "--json", "x"]))
        .code(75)
        .stderr_has("queued for ops-hook");
    assert_eq!(out.json_lines()[0]["status"], "queued");
    assert_eq!(pending_files(&home_state(&sandbox)).len(), 1);
}

// 2. A destination that is up gets the message, whatever the disk.

#[test]
fn send_to_a_healthy_destination_on_a_full_disk_delivers_and_exits_0() {
    let bed = Bed::start();
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    run(chime(&sandbox, DOWN, &state, &["spool", "list"])).code(0);
    disk.fill();
    run(chime(&sandbox, &bed.webhook("ops"), &state, &["send", "x"])).code(0);
    assert_eq!(texts(&bed), ["x"]);
    assert!(pending_files(&state).is_empty() && strays(&state).is_empty());
}

#[test]
fn send_to_a_healthy_destination_with_spool_writes_failing_delivers_and_exits_0() {
    let bed = Bed::start();
    for fault in ["write:ENOSPC", "write:EROFS,lock:EROFS,mkdir:EROFS"] {
        let sandbox = setup();
        run(faulty(
            &sandbox,
            &bed.webhook("ops"),
            fault,
            &["send", fault],
        ))
        .code(0);
    }
    assert_eq!(
        texts(&bed),
        ["write:ENOSPC", "write:EROFS,lock:EROFS,mkdir:EROFS"]
    );
}

/// Two messages queued while the destination was down.
fn backlog(sandbox: &Sandbox, url: &str, state: &Path) {
    for text in ["older 1", "older 2"] {
        run(chime(sandbox, url, state, &["send", "--queue", text])).code(0);
    }
    assert_eq!(pending_files(state).len(), 2);
}

#[test]
fn a_backlog_queued_before_the_disk_filled_goes_first_and_the_new_message_is_delivered() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    backlog(&sandbox, &bed.webhook("ops"), &state);
    disk.fill();
    bed.come_up();
    run(chime(
        &sandbox,
        &bed.webhook("ops"),
        &state,
        &["send", "new"],
    ))
    .code(0);
    // Removing a file needs no room: the backlog goes, in order, then the new one.
    assert_eq!(texts(&bed), ["older 1", "older 2", "new"]);
    assert!(pending_files(&state).is_empty() && strays(&state).is_empty());
}

#[test]
fn a_backlog_on_a_read_only_state_dir_stays_and_the_new_message_goes_ahead_with_a_warning() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    backlog(&sandbox, &bed.webhook("ops"), &state);
    let before = pending_files(&state);
    disk.read_only(true);
    bed.come_up();
    run(chime(
        &sandbox,
        &bed.webhook("ops"),
        &state,
        &["send", "new"],
    ))
    .code(0)
    .stderr_has("older messages for ops-hook wait in the spool, which cannot be used")
    .stderr_has("Read-only file system")
    .stderr_has("sending this one now, before them");
    assert_eq!(
        texts(&bed),
        ["new"],
        "the backlog could not be removed once sent"
    );
    assert_eq!(
        pending_files(&state),
        before,
        "the backlog is kept as it was"
    );
    assert_eq!(
        listed(&sandbox, &state).len(),
        2,
        "and listed on a read-only disk"
    );
    disk.read_only(false);
    run(chime(&sandbox, &bed.webhook("ops"), &state, &["flush"])).code(0);
    assert_eq!(texts(&bed), ["new", "older 1", "older 2"]);
    assert!(pending_files(&state).is_empty());
}

#[test]
fn a_backlog_whose_lock_cannot_be_taken_stays_and_the_new_message_goes_ahead_with_a_warning() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let sandbox = setup();
    let home = home_state(&sandbox);
    backlog(&sandbox, &bed.webhook("ops"), &home);
    bed.come_up();
    let url = bed.webhook("ops");
    run(faulty(
        &sandbox,
        &url,
        "write:EROFS,lock:EROFS",
        &["send", "new"],
    ))
    .code(0)
    .stderr_has("older messages for ops-hook wait in the spool, which cannot be used")
    .stderr_has("Read-only file system");
    assert_eq!(texts(&bed), ["new"]);
    assert_eq!(pending_files(&home).len(), 2, "the backlog is not lost");
    run(chime(&sandbox, &url, &home, &["flush"])).code(0);
    assert_eq!(texts(&bed), ["new", "older 1", "older 2"]);
}

#[test]
fn a_message_that_cannot_wait_behind_a_backlog_not_yet_due_is_sent_rather_than_dropped() {
    let bed = Bed::start();
    let sandbox = setup();
    let home = home_state(&sandbox);
    let url = bed.webhook("ops");
    // The platform asked for ten minutes' rest: the entry is not due before.
    bed.fault(Fault::RateLimit(600));
    run(chime(&sandbox, &url, &home, &["send", "older"])).code(75);
    assert_eq!(pending_files(&home).len(), 1);
    let out = run(faulty(
        &sandbox,
        &url,
        "write:ENOSPC",
        &["send", "--json", "new"],
    ));
    assert_eq!(
        out.code, 0,
        "the message could neither wait nor be kept: it should go now, with a warning\n{out}"
    );
    assert!(texts(&bed).contains(&"new".to_owned()), "{out}");
    assert_eq!(pending_files(&home).len(), 1, "the backlog is not lost");
}

// 3. `chime pipe` never says "piped" of lines it lost.

fn pipe(sandbox: &Sandbox, url: &str, state: &Path, args: &[&str]) -> Command {
    let mut all = vec!["pipe", "--interval", "100ms", "--timeout", "1s"];
    all.extend_from_slice(args);
    chime(sandbox, url, state, &all)
}

fn numbered(count: usize) -> String {
    (0..count).map(|i| format!("line {i:03}\n")).collect()
}

#[track_caller]
fn says_lines_were_lost(out: Run) -> Run {
    let out = out
        .code(74)
        .stderr_has("were neither delivered nor kept; their lines are lost");
    assert!(
        !out.stderr.contains("chime: piped"),
        "the summary speaks of lines piped as if they were kept\n{out}"
    );
    claims_nothing_queued(out)
}

#[test]
fn pipe_to_a_down_destination_on_a_full_disk_says_the_lines_are_lost_and_exits_74() {
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    run(chime(&sandbox, DOWN, &state, &["spool", "list"])).code(0);
    disk.fill();
    let out = run_with_stdin(pipe(&sandbox, DOWN, &state, &[]), numbered(20).as_bytes());
    let out = says_lines_were_lost(out).stderr_has(ENOSPC);
    assert!(pending_files(&state).is_empty(), "{out}");
}

#[test]
fn pipe_to_a_down_destination_with_spool_writes_failing_says_the_lines_are_lost() {
    let sandbox = setup();
    let mut cmd = pipe(&sandbox, DOWN, &home_state(&sandbox), &[]);
    cmd.env("CHIME_FAULT", "write:ENOSPC,journal:ENOSPC");
    let out = run_with_stdin(cmd, numbered(20).as_bytes());
    says_lines_were_lost(out)
        .stderr_has("cannot journal what is read")
        .stderr_has(ENOSPC);
}

#[test]
fn pipe_to_a_healthy_destination_on_a_full_disk_delivers_every_line_and_exits_0() {
    let bed = Bed::start();
    bed.no_rate_limit();
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    run(chime(&sandbox, DOWN, &state, &["spool", "list"])).code(0);
    disk.fill();
    let input = numbered(200);
    let out = run_with_stdin(
        pipe(&sandbox, &bed.webhook("ops"), &state, &[]),
        input.as_bytes(),
    )
    .code(0);
    let expected: Vec<String> = input.lines().map(str::to_owned).collect();
    assert_eq!(delivered_lines(&bed), expected, "{out}");
}

/// The segments of the journals pipes keep in `state`, with what they hold.
fn journal_segments(state: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let root = state.join("profiles/config/journal");
    let mut found = Vec::new();
    for journal in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for segment in std::fs::read_dir(journal.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = segment.path();
            if path.extension().is_some_and(|e| e == "seg") {
                let bytes = std::fs::read(&path).unwrap_or_default();
                found.push((path, bytes));
            }
        }
    }
    found
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_pipe_whose_journal_the_disk_refuses_midway_delivers_every_line_once_and_leaves_nothing_to_replay()
 {
    let bed = Bed::start();
    bed.no_rate_limit();
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    let url = bed.webhook("ops");
    let mut child = spawn(chime(&sandbox, &url, &state, &["pipe", "--interval", "1h"]));
    let mut stdin = child.stdin.take().unwrap();
    // Read and journaled while the disk has room…
    let early = numbered(5);
    stdin.write_all(early.as_bytes()).unwrap();
    let journaled = || {
        journal_segments(&state)
            .iter()
            .any(|(_, bytes)| bytes.windows(8).any(|w| w == b"line 004"))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !journaled() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first lines were never journaled"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // …then the disk fills, and what comes next is more than the journal's
    // last page can take.
    disk.fill();
    let late: String = (0..400)
        .map(|i| format!("late {i:03} {}\n", "y".repeat(40)))
        .collect();
    stdin.write_all(late.as_bytes()).unwrap();
    drop(stdin);
    let out = Run::from_output("chime pipe".into(), child.wait_with_output().unwrap()).code(0);
    let expected: Vec<String> = early
        .lines()
        .chain(late.lines())
        .map(str::to_owned)
        .collect();
    assert_eq!(delivered_lines(&bed), expected, "{out}");
    let sent = bed.delivered().len();
    // Every line went: there is nothing for a later flush or pipe to replay.
    disk.free();
    let flush = run(chime(&sandbox, &url, &state, &["flush", "--all"])).code(0);
    assert_eq!(
        bed.delivered().len(),
        sent,
        "a flush replayed what the pipe had delivered\n{out}\n{flush}\nnow delivered: {:?}",
        delivered_lines(&bed).len()
    );
    assert!(
        journal_segments(&state).is_empty(),
        "a journal is left behind\n{out}"
    );
}

// 4. `chime run` keeps its command's exit code whatever becomes of the report.

#[test]
fn run_whose_report_can_be_neither_delivered_nor_kept_exits_with_the_commands_code() {
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    run(chime(&sandbox, DOWN, &state, &["spool", "list"])).code(0);
    disk.fill();
    for (command, code) in [("exit 3", 3), ("exit 0", 0)] {
        let args = ["run", "--on", "always", "--", "sh", "-c", command];
        let out = run(chime(&sandbox, DOWN, &state, &args))
            .code(code)
            .stderr_has("and it was not queued")
            .stderr_has("could not be kept in the spool")
            .stderr_has(ENOSPC);
        claims_nothing_queued(out);
    }
    assert!(pending_files(&state).is_empty());
}

#[test]
fn run_whose_report_spool_writes_fail_exits_with_the_commands_code() {
    let sandbox = setup();
    let args = ["run", "--", "sh", "-c", "echo broke >&2; exit 7"];
    let out = run(faulty(&sandbox, DOWN, "write:EDQUOT", &args))
        .code(7)
        .stderr_has("broke")
        .stderr_has("and it was not queued")
        .stderr_has("quota exceeded");
    claims_nothing_queued(out);
}

// 5. `chime flush` on a full disk loses nothing.

#[test]
fn flush_on_a_full_disk_keeps_every_entry_as_it_was_then_delivers_them_once_in_order() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    let url = bed.webhook("ops");
    for text in ["one", "two", "three"] {
        run(chime(&sandbox, &url, &state, &["send", "--queue", text])).code(0);
    }
    let before = pending_files(&state);
    disk.fill();
    // Still down: a failed try cannot be recorded, so the entry stays as it was.
    run(chime(&sandbox, &url, &state, &["flush", "--all"]))
        .code(75)
        .stderr_has(ENOSPC)
        .stderr_has("its messages wait");
    assert_eq!(pending_files(&state), before, "every entry is as it was");
    assert!(strays(&state).is_empty(), "{:?}", strays(&state));
    // Up, on a disk still full: a delivered entry only needs removing.
    bed.come_up();
    run(chime(&sandbox, &url, &state, &["flush", "--all"])).code(0);
    assert_eq!(texts(&bed), ["one", "two", "three"]);
    assert!(pending_files(&state).is_empty());
    run(chime(&sandbox, &url, &state, &["flush", "--all"])).code(0);
    assert_eq!(bed.delivered().len(), 3, "nothing is sent twice");
}

#[test]
fn flush_whose_writes_fail_keeps_every_entry_as_it_was_and_exits_75() {
    let sandbox = setup();
    let home = home_state(&sandbox);
    for text in ["one", "two"] {
        run(chime(&sandbox, DOWN, &home, &["send", "--queue", text])).code(0);
    }
    let before = pending_files(&home);
    run(faulty(&sandbox, DOWN, "write:ENOSPC", &["flush", "--all"]))
        .code(75)
        .stderr_has(ENOSPC);
    assert_eq!(pending_files(&home), before);
    assert!(strays(&home).is_empty());
}

#[test]
fn flush_stopped_by_a_full_disk_counts_every_entry_still_pending() {
    let sandbox = setup();
    let home = home_state(&sandbox);
    for text in ["one", "two", "three"] {
        run(chime(&sandbox, DOWN, &home, &["send", "--queue", text])).code(0);
    }
    run(faulty(&sandbox, DOWN, "write:ENOSPC", &["flush", "--all"]))
        .code(75)
        .stderr_has("0 delivered, 0 dead-lettered, 3 still pending");
}

#[test]
fn flush_that_cannot_dead_letter_on_a_full_disk_leaves_the_entry_pending() {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    let url = bed.webhook("ops");
    run(chime(
        &sandbox,
        &url,
        &state,
        &["send", "--queue", "refused"],
    ))
    .code(0);
    let before = pending_files(&state);
    disk.fill();
    bed.come_up();
    bed.fault(Fault::Status(404, "no_service"));
    let out = run(chime(&sandbox, &url, &state, &["flush", "--all"])).stderr_has(ENOSPC);
    assert_eq!(out.code, 75, "not dead-lettered, still pending\n{out}");
    assert_eq!(
        pending_files(&state),
        before,
        "the refused entry is not lost"
    );
    assert!(listed(&sandbox, &state)[0]["state"] == "pending");
}

// 6. No state directory at all: what can go still goes.

#[test]
fn a_state_dir_under_a_file_still_delivers_and_a_down_destination_exits_74() {
    let bed = Bed::start();
    let sandbox = setup();
    std::fs::write(sandbox.path().join("a-file"), "not a folder").unwrap();
    let nowhere = sandbox.path().join("a-file/chime");
    run(chime(
        &sandbox,
        &bed.webhook("ops"),
        &nowhere,
        &["send", "up"],
    ))
    .code(0);
    let out = run(chime(&sandbox, DOWN, &nowhere, &["send", "--json", "down"]))
        .code(74)
        .stderr_has("and it was not queued")
        .stderr_has("Not a directory");
    assert_eq!(out.json_lines()[0]["status"], "failed");
    let piped = run_with_stdin(
        pipe(&sandbox, &bed.webhook("ops"), &nowhere, &[]),
        b"piped\n",
    );
    piped.code(0);
    assert_eq!(texts(&bed)[0], "up");
    assert_eq!(
        delivered_lines(&bed).last().map(String::as_str),
        Some("piped")
    );
}

#[test]
fn a_state_dir_that_cannot_be_made_on_a_read_only_mount_still_delivers_and_a_down_destination_exits_74()
 {
    let bed = Bed::start();
    let (sandbox, disk) = on_tmpfs!("1m");
    disk.read_only(true);
    let state = state(&disk);
    run(chime(
        &sandbox,
        &bed.webhook("ops"),
        &state,
        &["send", "up"],
    ))
    .code(0);
    assert_eq!(texts(&bed), ["up"]);
    let out = run(chime(&sandbox, DOWN, &state, &["send", "--json", "down"]))
        .code(74)
        .stderr_has("and it was not queued")
        .stderr_has("Read-only file system");
    assert_eq!(out.json_lines()[0]["status"], "failed");
    let args = ["run", "--on", "always", "--", "sh", "-c", "exit 4"];
    run(chime(&sandbox, DOWN, &state, &args))
        .code(4)
        .stderr_has("and it was not queued");
    assert!(!state.exists());
}

// 7. A disk that fills midway: every "queued" is on disk, once.

/// Sends `count` messages to a destination that is down, on a tmpfs with
/// room for only a few: each exits 75 or 74, and what the 75s said is kept
/// is exactly what the spool holds, and what a flush delivers.
fn fill_up_midway(concurrent: bool) {
    let mut bed = Bed::down();
    bed.no_rate_limit();
    let sandbox = Sandbox::new();
    // Backlogs never due, so no send rewrites another's entry: each send's
    // own message is all it writes.
    sandbox.profile(
        r#"
[defaults]
route = "ops"
timeout = "1s"

[destinations.ops-hook]
kind = "slack"
url = "${OPS_WEBHOOK}"
pace = "0s"

[routes.ops]
to = ["ops-hook"]

[spool]
backoff_base = "1h"
backoff_cap = "1h"
"#,
    );
    let disk = tmpfs_or_skip!(sandbox.path().join("disk"), "40k");
    let state = state(&disk);
    let url = bed.webhook("ops");
    let count = 24;
    let send = |i: usize| {
        let mut cmd = chime(
            &sandbox,
            &url,
            &state,
            &["send", &format!("message {i:02}")],
        );
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    };
    let outs: Vec<Run> = if concurrent {
        let children: Vec<Child> = (0..count).map(|i| send(i).spawn().unwrap()).collect();
        children
            .into_iter()
            .map(|c| Run::from_output("chime send".into(), c.wait_with_output().unwrap()))
            .collect()
    } else {
        (0..count).map(|i| run(send(i))).collect()
    };
    let mut kept = Vec::new();
    for (i, out) in outs.iter().enumerate() {
        match out.code {
            75 => kept.push(format!("message {i:02}")),
            74 => assert!(out.stderr.contains("not queued"), "{out}"),
            _ => panic!("neither kept nor said not kept\n{out}"),
        }
    }
    let lost = count - kept.len();
    assert!(
        !kept.is_empty() && lost > 0,
        "the disk should fill midway: {} kept, {lost} not",
        kept.len()
    );
    let entries = listed(&sandbox, &state);
    let ids: std::collections::HashSet<&str> =
        entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        entries.len(),
        kept.len(),
        "as many entries as sends that said queued: {entries:#?}"
    );
    assert_eq!(ids.len(), entries.len(), "no entry twice");
    assert!(strays(&state).is_empty(), "{:?}", strays(&state));
    bed.come_up();
    run(chime(&sandbox, &url, &state, &["flush", "--all"])).code(0);
    let mut got = texts(&bed);
    if concurrent {
        got.sort();
    }
    assert_eq!(
        got, kept,
        "a flush delivers exactly what was said to be queued"
    );
    drop(disk);
}

#[test]
fn sends_on_a_disk_filling_up_keep_exactly_what_they_say_they_queued() {
    fill_up_midway(false);
}

#[test]
fn concurrent_sends_on_a_disk_filling_up_keep_exactly_what_they_say_they_queued() {
    fill_up_midway(true);
}

#[test]
fn a_refusal_that_cannot_be_dead_lettered_says_it_was_not_kept() {
    let bed = Bed::start();
    bed.remove_hook("ops");
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    run(chime(&sandbox, DOWN, &state, &["spool", "list"])).code(0);
    disk.fill();
    let url = bed.webhook("ops");
    let out = run(chime(&sandbox, &url, &state, &["send", "--json", "x"]))
        .stderr_has("404 no_service")
        .stderr_has("could not be kept in the spool")
        .stderr_has(ENOSPC);
    assert!(![0, 75].contains(&out.code), "{out}");
    assert!(
        !out.stderr.contains("kept in the dead-letter spool"),
        "{out}"
    );
    assert!(out.json_lines()[0].get("spool_id").is_none(), "{out}");
    assert!(listed(&sandbox, &state).is_empty());
}

#[test]
fn a_pipe_whose_refused_batches_cannot_be_dead_lettered_says_the_lines_are_lost() {
    let bed = Bed::start();
    bed.remove_hook("ops");
    let (sandbox, disk) = on_tmpfs!("1m");
    let state = state(&disk);
    run(chime(&sandbox, DOWN, &state, &["spool", "list"])).code(0);
    disk.fill();
    let cmd = pipe(&sandbox, &bed.webhook("ops"), &state, &[]);
    let out = run_with_stdin(cmd, numbered(20).as_bytes())
        .stderr_has("404 no_service")
        .stderr_has("were neither delivered nor kept; their lines are lost");
    assert!(!out.stderr.contains("chime: piped"), "{out}");
}
