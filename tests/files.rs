//! `--file`: each kind that takes files receives the exact bytes and names,
//! through the spool and back; a kind that takes none names them; a file
//! over the limit is refused before anything is sent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::support::bed::{Bed, Fault, Request};
use crate::support::discord::Discord;
use crate::support::multipart::{self, Part};
use crate::support::ntfy::{Ntfy, PREFIX as NTFY_PREFIX};
use crate::support::slack_files::SlackFiles;
use crate::support::telegram::{PREFIX as TG_PREFIX, Telegram};
use crate::support::{Run, Sandbox, at_a_terminal, run};

/// Bytes no text encoding would leave alone: every byte value, then a
/// pattern long enough to cross every read slice.
fn awkward_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The form parts of a request chime sent.
fn parts(request: &Request) -> Vec<Part> {
    let content_type = request.header("content-type").unwrap();
    multipart::parse(content_type, &request.body).expect("a well-formed form")
}

/// A bed with Discord, and a sandbox whose route `chat` goes to it (`dc`)
/// and, with `extra`, to more destinations.
fn discord(extra: &str) -> (Bed, Arc<Discord>, Sandbox) {
    let bed = Bed::start();
    bed.no_rate_limit();
    let discord = Discord::mount(&bed);
    let url = discord.hook(&bed, "ops");
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[defaults]\nroute = \"chat\"\ntimeout = \"5s\"\n\n[destinations.dc]\nkind = \"discord\"\n\
         url = \"{url}\"\n{extra}\n[routes.chat]\nto = [\"dc\"]\n"
    ));
    (bed, discord, sandbox)
}

/// What the spool's file store holds (`spool/files/`).
fn spool_files(sandbox: &Sandbox) -> Vec<std::ffi::OsString> {
    let files = sandbox
        .path()
        .join("state/chime/profiles/config/spool/files");
    std::fs::read_dir(files)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

fn chime(sandbox: &Sandbox, args: &[&str]) -> Run {
    run(sandbox.chime(args))
}

#[test]
fn discord_gets_the_text_and_the_exact_bytes_and_name_of_each_file_in_one_message() {
    let (bed, _discord, sandbox) = discord("");
    let dir = tempfile::tempdir().unwrap();
    let log = awkward_bytes(300_000);
    let csv = b"day,errors\nmon,3\n".to_vec();
    let log_path = write(dir.path(), "build.log", &log);
    let csv_path = write(dir.path(), "r.csv", &csv);
    chime(
        &sandbox,
        &[
            "send",
            "-t",
            "Nightly",
            "build finished",
            "--file",
            log_path.to_str().unwrap(),
            "--file",
            csv_path.to_str().unwrap(),
            "--file-name",
            "nightly.log",
            "--file-title",
            "the whole log",
        ],
    )
    .code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1, "text and files in one message");
    let parts = parts(&got[0]);
    let json: Value = serde_json::from_slice(&parts[0].data).unwrap();
    assert_eq!(parts[0].name, "payload_json");
    assert!(parts[0].text().contains("build finished"), "{json}");
    assert_eq!(parts[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(json["attachments"][0]["filename"], "nightly.log");
    assert_eq!(json["attachments"][0]["description"], "the whole log");
    assert_eq!(json["attachments"][1]["filename"], "r.csv");
    assert_eq!(parts[1].name, "files[0]");
    assert_eq!(parts[1].filename.as_deref(), Some("nightly.log"));
    assert!(parts[1].data == log, "the log arrives byte for byte");
    assert_eq!(parts[2].filename.as_deref(), Some("r.csv"));
    assert_eq!(parts[2].content_type.as_deref(), Some("text/csv"));
    assert_eq!(parts[2].data, csv);
}

#[test]
fn a_file_queued_while_discord_is_down_is_delivered_by_flush_after_the_original_is_gone() {
    let (bed, _discord, sandbox) = discord("");
    let dir = tempfile::tempdir().unwrap();
    let bytes = awkward_bytes(70_000);
    let path = write(dir.path(), "report.bin", &bytes);
    for _ in 0..4 {
        bed.fault(Fault::Status(503, "upstream down"));
    }
    chime(
        &sandbox,
        &["send", "report attached", "--file", path.to_str().unwrap()],
    )
    .code(75);
    // The CI workspace is gone by the time cron flushes.
    std::fs::remove_file(&path).unwrap();
    chime(&sandbox, &["flush", "--all"]).code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    let parts = parts(&got[0]);
    assert_eq!(parts[1].filename.as_deref(), Some("report.bin"));
    assert!(parts[1].data == bytes);
    // Delivered, the spool's copy goes too.
    let left = spool_files(&sandbox);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_file_over_discords_limit_is_refused_before_any_request() {
    let (bed, _discord, sandbox) = discord("");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(11 << 20).unwrap();
    chime(
        &sandbox,
        &["send", "too big", "--file", path.to_str().unwrap()],
    )
    .code(65)
    .stderr_has("big.bin is 11.0 MiB, over the 10.0 MiB that is what discord takes")
    .stderr_has("nothing was sent");
    assert!(bed.requests().is_empty(), "{:?}", bed.requests());
    chime(&sandbox, &["spool", "list", "--json"]).stdout_has("[]");
}

#[test]
fn max_file_size_lowers_the_limit_for_a_server_set_up_so() {
    let (bed, _discord, sandbox) = discord("max_file_size = \"1KiB\"\n");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "two.kib", &[b'x'; 2048]);
    chime(&sandbox, &["send", "x", "--file", path.to_str().unwrap()])
        .code(65)
        .stderr_has("the max_file_size of `dc`");
    assert!(bed.requests().is_empty());
}

#[test]
fn a_kind_without_files_names_them_and_a_send_only_to_such_kinds_is_a_usage_error() {
    let bed = Bed::start();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[defaults]\nroute = \"ops\"\n\n[destinations.hook]\nkind = \"slack\"\n\
         url = \"{}\"\n\n[routes.ops]\nto = [\"hook\"]\n",
        bed.webhook("ops")
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "build.log", b"twelve bytes");
    chime(
        &sandbox,
        &["send", "done", "--file", path.to_str().unwrap()],
    )
    .code(2)
    .stderr_has("hook (slack) cannot carry files")
    .stderr_has("nothing was sent");
    assert!(bed.requests().is_empty());
    // Beside a kind that takes it, the webhook's message names the file.
    let discord = Discord::mount(&bed);
    let url = discord.hook(&bed, "ops");
    sandbox.profile(&format!(
        "[defaults]\nroute = \"ops\"\n\n[destinations.hook]\nkind = \"slack\"\n\
         url = \"{}\"\n\n[destinations.dc]\nkind = \"discord\"\nurl = \"{url}\"\n\n\
         [routes.ops]\nto = [\"hook\", \"dc\"]\n",
        bed.webhook("ops")
    ));
    chime(
        &sandbox,
        &["send", "done", "--file", path.to_str().unwrap()],
    )
    .code(0)
    .stderr_has("hook (slack) cannot carry files: its message names the file");
    let slack = bed
        .delivered()
        .into_iter()
        .find(|r| r.path.starts_with("/services/"))
        .unwrap();
    assert!(
        slack
            .json()
            .to_string()
            .contains("build.log (12 B) (not attached)"),
        "{}",
        slack.json()
    );
}

#[test]
fn dry_run_shows_each_files_name_size_and_type_never_its_bytes() {
    let (bed, _discord, sandbox) = discord("");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "secret-looking.txt", b"NEVERSHOWNBYTES");
    chime(
        &sandbox,
        &["send", "--dry-run", "x", "--file", path.to_str().unwrap()],
    )
    .code(0)
    .stdout_has("files[0]: secret-looking.txt (15 B, text/plain; charset=utf-8)")
    .never_shows("NEVERSHOWNBYTES");
    assert!(bed.requests().is_empty());
}

#[test]
fn a_file_from_stdin_goes_with_text_from_the_arguments() {
    let (bed, _discord, sandbox) = discord("");
    let bytes = awkward_bytes(5000);
    let out = crate::support::run_with_stdin(
        sandbox.chime(&[
            "send",
            "from a pipe",
            "--file",
            "-",
            "--file-name",
            "dump.bin",
        ]),
        &bytes,
    );
    out.code(0);
    let got = bed.delivered();
    let parts = parts(&got[0]);
    assert!(String::from_utf8_lossy(&parts[0].data).contains("from a pipe"));
    assert_eq!(parts[1].filename.as_deref(), Some("dump.bin"));
    assert!(parts[1].data == bytes);
    let left = spool_files(&sandbox);
    assert!(left.is_empty(), "the stash and the copy are gone: {left:?}");
}

/// A bed with an ntfy server that takes attachments up to `limit`, and a
/// sandbox whose default route publishes to its topic `ops-alerts`.
fn ntfy(limit: usize, extra: &str) -> (Bed, Arc<Ntfy>, Sandbox) {
    let bed = Bed::start();
    let ntfy = Ntfy::new();
    ntfy.take_attachments(limit);
    bed.mount(NTFY_PREFIX, ntfy.clone());
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[defaults]\nroute = \"phone\"\ntimeout = \"5s\"\n\n[destinations.alerts]\nkind = \"ntfy\"\n\
         url = \"{}/ntfy/ops-alerts\"\n{extra}\n[routes.phone]\nto = [\"alerts\"]\n",
        bed.url()
    ));
    (bed, ntfy, sandbox)
}

#[test]
fn ntfy_gets_the_text_then_each_file_as_an_attachment_with_its_name() {
    let (_bed, ntfy, sandbox) = ntfy(15 << 20, "");
    let dir = tempfile::tempdir().unwrap();
    let bytes = awkward_bytes(9000);
    let path = write(dir.path(), "trace.bin", &bytes);
    chime(
        &sandbox,
        &[
            "send",
            "-t",
            "Crash",
            "core dumped",
            "--file",
            path.to_str().unwrap(),
            "--file-name",
            "trace-ü.bin",
        ],
    )
    .code(0);
    let published = ntfy.published();
    assert_eq!(published.len(), 2, "{published:?}");
    assert_eq!(published[0].message, "core dumped");
    let (name, got) = published[1].attachment.clone().expect("an attachment");
    assert_eq!(name, "trace-ü.bin");
    assert!(got == bytes);
    assert_eq!(published[1].message, "trace-ü.bin (8.8 KiB)");
    assert_eq!(published[1].title.as_deref(), Some("Crash"));
}

#[test]
fn ntfy_refusing_a_file_over_its_servers_limit_is_a_dead_letter_and_max_file_size_catches_it_first()
{
    let (_bed, ntfy, sandbox) = ntfy(4096, "");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "big.log", &awkward_bytes(8000));
    chime(&sandbox, &["send", "log", "--file", path.to_str().unwrap()])
        .code(65)
        .stderr_has("413");
    assert_eq!(
        ntfy.published().len(),
        1,
        "the text went, the file was refused"
    );
    sandbox.profile(
        &std::fs::read_to_string(sandbox.profile_path())
            .unwrap()
            .replace(
                "/ntfy/ops-alerts\"\n",
                "/ntfy/ops-alerts\"\nmax_file_size = \"4KiB\"\n",
            ),
    );
    chime(&sandbox, &["send", "log", "--file", path.to_str().unwrap()])
        .code(65)
        .stderr_has("the max_file_size of `alerts`");
}

const TG_TOKEN: &str = "123456789:AAFakeTelegramTokenForTests-notreal";
const TG_CHAT: i64 = -1_001_234_567_890;

fn telegram() -> (Bed, Arc<Telegram>, Sandbox) {
    let bed = Bed::start();
    let telegram = Telegram::new();
    bed.mount(TG_PREFIX, telegram.clone());
    telegram.add_token(TG_TOKEN);
    telegram.add_chat(TG_CHAT, None);
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[defaults]\nroute = \"tg\"\ntimeout = \"5s\"\n\n[destinations.tg]\nkind = \"telegram\"\n\
         token = \"{TG_TOKEN}\"\nchat_id = {TG_CHAT}\napi_url = \"{}/telegram\"\n\n\
         [routes.tg]\nto = [\"tg\"]\n",
        bed.url()
    ));
    std::fs::set_permissions(
        sandbox.profile_path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    (bed, telegram, sandbox)
}

#[test]
fn telegram_sends_each_file_as_a_document_with_its_title_as_caption_in_the_thread() {
    let (_bed, telegram, sandbox) = telegram();
    let dir = tempfile::tempdir().unwrap();
    let bytes = awkward_bytes(20_000);
    let path = write(dir.path(), "dump.bin", &bytes);
    chime(
        &sandbox,
        &["send", "--thread", "deploy-7", "deploy started"],
    )
    .code(0);
    chime(
        &sandbox,
        &[
            "send",
            "--thread",
            "deploy-7",
            "deploy log",
            "--file",
            path.to_str().unwrap(),
            "--file-title",
            "<the> log",
        ],
    )
    .code(0);
    let posted = telegram.posted();
    assert_eq!(posted.len(), 3, "{posted:?}");
    let document = &posted[2];
    let (name, got) = document.document.clone().expect("a document");
    assert_eq!(name, "dump.bin");
    assert!(got == bytes);
    assert_eq!(
        document.text, "<the> log",
        "the caption, escaped and shown as typed"
    );
    assert_eq!(
        document.reply_to,
        Some(1),
        "in the thread of the first message"
    );
    assert_eq!(posted[1].reply_to, Some(1));
}

const SLACK_TOKEN: &str = "xoxb-1-files-notreal";

/// A bed with the Web API and its file upload, and a sandbox whose route
/// goes to the bot `bot` in `#deploys`.
fn slack_api() -> (Bed, Arc<SlackFiles>, Sandbox) {
    let bed = Bed::start();
    bed.add_token(SLACK_TOKEN);
    bed.add_channel("#deploys", true);
    bed.no_rate_limit();
    let files = SlackFiles::mount(&bed, SLACK_TOKEN, &[&bed.channel_id("#deploys")]);
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        "[defaults]\nroute = \"ci\"\ntimeout = \"5s\"\n\n[destinations.bot]\nkind = \"slack-api\"\n\
         token = \"{SLACK_TOKEN}\"\nchannel = \"#deploys\"\napi_url = \"{}\"\n\n\
         [routes.ci]\nto = [\"bot\"]\n",
        bed.api_url()
    ));
    std::fs::set_permissions(
        sandbox.profile_path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    (bed, files, sandbox)
}

fn posts(bed: &Bed) -> usize {
    bed.delivered()
        .iter()
        .filter(|r| r.path.ends_with("chat.postMessage"))
        .count()
}

#[test]
fn slack_api_posts_the_text_then_uploads_each_file_in_three_calls_into_the_channel_by_id() {
    let (bed, files, sandbox) = slack_api();
    let dir = tempfile::tempdir().unwrap();
    let report = awkward_bytes(120_000);
    let path = write(dir.path(), "junit.xml", &report);
    let small = write(dir.path(), "summary.txt", b"all green\n");
    chime(
        &sandbox,
        &[
            "send",
            "tests passed",
            "--file",
            path.to_str().unwrap(),
            "--file-title",
            "JUnit report",
            "--file",
            small.to_str().unwrap(),
        ],
    )
    .code(0);
    assert_eq!(posts(&bed), 1);
    let shared = files.shared();
    assert_eq!(shared.len(), 2, "{:?}", files.calls());
    assert_eq!(shared[0].name, "junit.xml");
    assert_eq!(shared[0].title.as_deref(), Some("JUnit report"));
    assert!(shared[0].bytes == report);
    assert_eq!(shared[1].bytes, b"all green\n");
    assert_eq!(
        shared[0].channel,
        bed.channel_id("#deploys"),
        "by ID, not #name"
    );
    assert_eq!(shared[0].thread_ts, None);
    let calls = files.calls();
    assert_eq!(
        calls.len(),
        5,
        "two URLs, two uploads, one completion: {calls:?}"
    );
    assert!(
        calls[4].ends_with("files.completeUploadExternal"),
        "{calls:?}"
    );
}

#[test]
fn slack_api_files_go_into_the_thread_of_the_key() {
    let (bed, files, sandbox) = slack_api();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "deploy.log", b"deployed\n");
    chime(&sandbox, &["send", "--thread", "rel-9", "release 9"]).code(0);
    chime(
        &sandbox,
        &[
            "send",
            "--thread",
            "rel-9",
            "log",
            "--file",
            path.to_str().unwrap(),
        ],
    )
    .code(0);
    let first = bed.delivered()[0].json();
    let answered: Value = serde_json::from_str(&bed.delivered()[0].response).unwrap();
    assert_eq!(first["text"], "release 9");
    let shared = files.shared();
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].thread_ts.as_deref(), answered["ts"].as_str());
}

#[test]
fn slack_api_files_that_fail_after_the_text_went_are_uploaded_by_flush_without_posting_the_text_again()
 {
    let (bed, files, sandbox) = slack_api();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "nightly.csv", b"a,b\n1,2\n");
    let complete = format!("{}/files.completeUploadExternal", bed.api_url());
    for _ in 0..4 {
        bed.fault_on(&complete, Fault::Status(503, "down for a moment"));
    }
    chime(
        &sandbox,
        &["send", "nightly report", "--file", path.to_str().unwrap()],
    )
    .code(75);
    assert_eq!(posts(&bed), 1);
    assert!(files.shared().is_empty());
    std::fs::remove_file(&path).unwrap();
    chime(&sandbox, &["flush", "--all"]).code(0);
    assert_eq!(posts(&bed), 1, "the text is not posted again");
    let shared = files.shared();
    assert_eq!(shared.len(), 1, "the file is in the channel once");
    assert_eq!(shared[0].bytes, b"a,b\n1,2\n");
    assert_eq!(shared[0].channel, bed.channel_id("#deploys"));
}

#[test]
fn run_attach_output_sends_the_first_and_last_halves_of_a_long_output_in_flat_memory() {
    let (bed, _discord, sandbox) = discord("");
    let job = "echo FIRST-LINE; yes 'a line of the nightly job' | head -c 52428800; echo; echo LAST-LINE; exit 3";
    let cmd = sandbox.chime(&[
        "run",
        "--name",
        "nightly",
        "--attach-output",
        "--attach-max",
        "1MiB",
        "--",
        "sh",
        "-c",
        job,
    ]);
    let (out, peak) = crate::support::run_watched(cmd);
    let out = out.code(3);
    assert!(peak < 40 << 20, "held {} MiB\n{out}", peak >> 20);
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    let parts = parts(&got[0]);
    let log = &parts[1];
    let name = log.filename.clone().unwrap();
    assert!(
        name.starts_with("nightly-") && name.ends_with(".log"),
        "{name}"
    );
    let text = log.text();
    assert!(text.starts_with("FIRST-LINE\n"), "{}", &text[..40]);
    assert!(
        text.ends_with("LAST-LINE\n"),
        "{}",
        &text[text.len() - 40..]
    );
    assert!(text.contains("cut here: --attach-max keeps the first and last halves"));
    assert!(log.data.len() < (1 << 20) + 200, "{} bytes", log.data.len());
    // The report itself is as ever: the failure, with its tail.
    assert!(
        parts[0].text().contains("nightly failed (exit 3)"),
        "{}",
        parts[0].text()
    );
    let left = spool_files(&sandbox);
    assert!(
        left.is_empty(),
        "the captured output is gone once sent: {left:?}"
    );
}

#[test]
fn a_large_upload_shows_progress_at_a_terminal_and_nothing_in_cron_or_with_q() {
    let (bed, _discord, sandbox) = discord("");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "big.bin", &awkward_bytes(5 << 20));
    let path = path.to_str().unwrap();
    // A terminal as people have one: TERM says what it is.
    let at_terminal = |args: &[&str]| {
        let mut cmd = sandbox.chime(args);
        cmd.env("TERM", "xterm-256color");
        run(at_a_terminal(&cmd, &sandbox))
    };
    let shown = at_terminal(&["send", "x", "--file", path]).code(0);
    assert!(shown.stdout.contains("uploading big.bin ["), "{shown}");
    let quiet = at_terminal(&["-q", "send", "x", "--file", path]).code(0);
    assert!(!quiet.stdout.contains("uploading"), "{quiet}");
    chime(&sandbox, &["send", "x", "--file", path])
        .code(0)
        .never_shows("uploading");
    assert_eq!(bed.delivered().len(), 3);
}

#[test]
fn flush_sweeps_file_copies_no_entry_names_once_an_hour_old_and_keeps_the_rest() {
    let (bed, _discord, sandbox) = discord("");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "kept.bin", b"still queued");
    bed.fault(Fault::Status(503, "down"));
    bed.fault(Fault::Status(503, "down"));
    bed.fault(Fault::Status(503, "down"));
    chime(
        &sandbox,
        &[
            "send",
            "--timeout",
            "1s",
            "x",
            "--file",
            path.to_str().unwrap(),
        ],
    );
    let files = sandbox
        .path()
        .join("state/chime/profiles/config/spool/files");
    let queued: Vec<_> = std::fs::read_dir(&files)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(queued.len(), 1, "{queued:?}");
    // A crash's leftovers: a copy no entry names, a stash of stdin.
    let orphan = files.join("0000000000000000000000aa");
    std::fs::create_dir(&orphan).unwrap();
    std::fs::write(orphan.join("0"), b"gone").unwrap();
    let stash = files.join(".stdin.00000000.tmp");
    std::fs::write(&stash, b"half read").unwrap();
    let fresh = files.join("0000000000000000000000bb");
    std::fs::create_dir(&fresh).unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for old in [&orphan, &stash, &queued[0]] {
        std::fs::File::open(old)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
    }
    bed.fault(Fault::Status(503, "down"));
    bed.fault(Fault::Status(503, "down"));
    bed.fault(Fault::Status(503, "down"));
    run(sandbox.chime(&["flush", "--all", "--timeout", "1s"]));
    assert!(!orphan.exists() && !stash.exists(), "leftovers swept");
    assert!(fresh.exists(), "too young to tell");
    assert!(
        queued[0].exists(),
        "a queued message's copy stays, however old"
    );
}

#[test]
fn a_send_killed_in_the_middle_of_slacks_three_calls_leaves_the_file_for_flush_to_share_once() {
    use std::os::unix::process::ExitStatusExt;
    let (bed, files, sandbox) = slack_api();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "dump.bin", &awkward_bytes(40_000));
    files.slow_uploads(std::time::Duration::from_secs(3));
    let mut child = sandbox
        .chime(&["send", "crash dump", "--file", path.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !files.calls().iter().any(|c| c.contains("/slack-upload/")) {
        assert!(std::time::Instant::now() < deadline, "{:?}", files.calls());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    files.slow_uploads(std::time::Duration::ZERO);
    std::fs::remove_file(&path).unwrap();
    chime(&sandbox, &["flush", "--all"]).code(0);
    let shared = files.shared();
    assert_eq!(
        shared.len(),
        1,
        "the file is in the channel once: {:?}",
        files.calls()
    );
    assert!(shared[0].bytes == awkward_bytes(40_000));
    // What was in flight goes again whole: its text at most twice, as any
    // message in flight when chime was killed.
    assert!(posts(&bed) <= 2, "{}", posts(&bed));
}

#[test]
fn pipe_file_over_sends_a_burst_as_one_file_of_its_lines_and_a_small_batch_as_text() {
    let (bed, _discord, sandbox) = discord("");
    let input: String = (1..=20_000)
        .map(|i| format!("log line {i:05} <a&b>\n"))
        .collect();
    let out = crate::support::run_with_stdin(
        sandbox.chime(&["pipe", "--file-over", "50KiB"]),
        input.as_bytes(),
    );
    out.code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 1, "one message for the burst");
    let parts = parts(&got[0]);
    assert!(
        parts[0].text().contains("lines 1–20000"),
        "{}",
        parts[0].text()
    );
    assert_eq!(parts[1].filename.as_deref(), Some("lines-1-20000.log"));
    assert_eq!(parts[1].text(), input, "the lines as read, unescaped");
    let small = crate::support::run_with_stdin(
        sandbox.chime(&["pipe", "--file-over", "50KiB"]),
        b"just one line\n",
    );
    small.code(0);
    let got = bed.delivered();
    assert_eq!(got.len(), 2);
    assert!(
        got[1]
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(got[1].json().to_string().contains("just one line"));
}

#[test]
fn a_file_url_is_ntfys_attach_and_a_link_elsewhere() {
    let (_bed, ntfy, sandbox) = ntfy(15 << 20, "");
    let url = "https://files.example/builds/42/report.pdf?sig=abc";
    chime(&sandbox, &["send", "report ready", "--file-url", url]).code(0);
    let published = ntfy.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].message, "report ready");
    assert_eq!(
        published[0].attach,
        Some(("report.pdf".to_owned(), url.to_owned()))
    );
    let (bed, _discord, sandbox) = discord("");
    chime(&sandbox, &["send", "report ready", "--file-url", url]).code(0);
    let body = bed.delivered()[0].json().to_string();
    assert!(
        body.contains("📎 report.pdf") && body.contains("files.example/builds/42"),
        "{body}"
    );
    chime(
        &sandbox,
        &["send", "x", "--file-url", "ftp://files.example/a"],
    )
    .code(2)
    .stderr_has("ftp://files.example/a");
}

#[test]
fn telegram_sends_a_picture_as_a_photo_when_asked_and_other_files_as_documents() {
    let (_bed, telegram, sandbox) = telegram();
    let dir = tempfile::tempdir().unwrap();
    let png = write(
        dir.path(),
        "graph.png",
        b"\x89PNG\r\n\x1a\nnot really a picture",
    );
    let log = write(dir.path(), "run.log", b"a log\n");
    let (png, log) = (png.to_str().unwrap(), log.to_str().unwrap());
    chime(
        &sandbox,
        &["send", "nightly", "--photo", "--file", png, "--file", log],
    )
    .code(0);
    chime(&sandbox, &["send", "again", "--file", png]).code(0);
    let posted = telegram.posted();
    let files: Vec<(String, bool)> = posted
        .iter()
        .filter_map(|p| Some((p.document.clone()?.0, p.photo)))
        .collect();
    assert_eq!(
        files,
        [
            ("graph.png".to_owned(), true),
            ("run.log".to_owned(), false),
            ("graph.png".to_owned(), false),
        ]
    );
}

#[test]
fn a_spool_copy_damaged_since_it_was_made_is_refused_not_sent() {
    let (bed, _discord, sandbox) = discord("");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "data.bin", &awkward_bytes(10_000));
    for _ in 0..4 {
        bed.fault(Fault::Status(503, "down"));
    }
    chime(&sandbox, &["send", "x", "--file", path.to_str().unwrap()]).code(75);
    let files = sandbox
        .path()
        .join("state/chime/profiles/config/spool/files");
    let copy_dir = std::fs::read_dir(&files)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let copy = copy_dir.join("0");
    let mut bytes = std::fs::read(&copy).unwrap();
    bytes[5000] ^= 0xff;
    std::fs::write(&copy, bytes).unwrap();
    let before = bed.requests().len();
    chime(&sandbox, &["flush", "--all"])
        .code(65)
        .stderr_has("the spool's copy of data.bin is damaged");
    assert_eq!(bed.requests().len(), before, "nothing was sent");
}
