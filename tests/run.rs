//! `chime run`: report a job, and stay transparent to cron and `set -e`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::bed::Bed;
use crate::support::{Run, Sandbox, at_a_terminal, run};

fn setup(bed: &Bed) -> Sandbox {
    bed.no_rate_limit();
    let sandbox = Sandbox::new();
    sandbox.profile(&format!(
        r#"
[defaults]
route = "cron"

[destinations.cron-hook]
kind = "slack"
url = "{}"

[routes.cron]
to = ["cron-hook"]

[templates.short]
text = "{{{{ name }}}}: ok={{{{ ok }}}} exit={{{{ exit_code }}}} in {{{{ duration }}}}"
"#,
        bed.webhook("cron")
    ));
    sandbox
}

fn chime_run(sandbox: &Sandbox, args: &[&str]) -> Run {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    run(sandbox.chime(&all))
}

fn texts(payload: &serde_json::Value) -> Vec<String> {
    payload["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| {
            let mut t: Vec<String> = b["text"]["text"]
                .as_str()
                .map(str::to_owned)
                .into_iter()
                .collect();
            if let Some(fields) = b["fields"].as_array() {
                t.extend(
                    fields
                        .iter()
                        .map(|f| f["text"].as_str().unwrap().to_owned()),
                );
            }
            t
        })
        .collect()
}

#[test]
fn a_failing_command_is_reported_with_its_code_and_tail_and_its_code_passes_through() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let script = "for i in $(seq 1 30); do echo line $i; done; echo oops >&2; exit 3";
    let out = chime_run(&sandbox, &["--name", "backup", "--", "sh", "-c", script]).code(3);
    assert!(out.stdout.contains("line 30"), "stdout passes through");
    assert!(out.stderr.contains("oops"), "stderr passes through");
    let got = bed.delivered();
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    let texts = texts(&body);
    assert_eq!(texts[0], ":x: backup failed (exit 3)");
    let tail = texts.iter().find(|t| t.starts_with("```")).unwrap();
    assert!(
        tail.contains("line 30") && tail.contains("oops") && !tail.contains("line 10\n"),
        "{tail}"
    );
    assert_eq!(
        tail.lines().count(),
        22,
        "20 lines of tail between the fences"
    );
    assert!(texts.contains(&"*exit code*\n3".to_owned()), "{texts:?}");
}

#[test]
fn a_succeeding_command_with_on_failure_sends_nothing() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime_run(&sandbox, &["--", "true"]).code(0);
    assert!(bed.requests().is_empty());
}

#[test]
fn on_change_reports_when_a_job_breaks_and_when_it_recovers() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    for (cmd, code) in [("false", 1), ("false", 1), ("true", 0), ("true", 0)] {
        chime_run(
            &sandbox,
            &["--on", "change", "--name", "disk-check", "--", cmd],
        )
        .code(code);
    }
    let titles: Vec<String> = bed
        .delivered()
        .iter()
        .map(|r| texts(&r.json())[0].clone())
        .collect();
    assert_eq!(
        titles,
        vec![
            ":x: disk-check failed (exit 1)",
            ":white_check_mark: disk-check succeeded"
        ]
    );
}

#[test]
fn timeout_kills_the_command_and_reports_it() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let started = Instant::now();
    chime_run(
        &sandbox,
        &["--timeout", "300ms", "--name", "stuck", "--", "sleep", "30"],
    )
    .code(143);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        texts(&bed.delivered()[0].json())[0],
        ":x: stuck timed out after 300ms"
    );
}

#[test]
fn a_command_that_is_not_found_exits_127_and_is_reported() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime_run(&sandbox, &["--", "no-such-command-anywhere"])
        .code(127)
        .stderr_has("cannot run");
    assert!(texts(&bed.delivered()[0].json())[0].contains("could not start"));
}

#[test]
fn a_command_killed_by_a_signal_exits_128_plus_the_signal_and_is_reported_by_the_signals_name() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime_run(
        &sandbox,
        &["--name", "victim", "--", "sh", "-c", "kill -9 $$"],
    )
    .code(137);
    assert_eq!(
        texts(&bed.delivered()[0].json())[0],
        ":x: victim was killed by SIGKILL (9)"
    );
}

#[test]
fn delivery_trouble_never_changes_the_commands_exit_code() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    bed.remove_hook("cron");
    chime_run(&sandbox, &["--", "sh", "-c", "exit 4"])
        .code(4)
        .stderr_has("no_service");
}

#[test]
fn templates_see_the_job_variables() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime_run(
        &sandbox,
        &[
            "--on",
            "always",
            "--template",
            "short",
            "--name",
            "j",
            "--",
            "true",
        ],
    )
    .code(0);
    let body = bed.delivered()[0].json();
    let text = texts(&body)
        .into_iter()
        .find(|t| t.starts_with("j:"))
        .unwrap();
    assert!(text.starts_with("j: ok=True exit=0 in "), "{text}");
}

#[test]
fn a_gigabyte_of_output_keeps_memory_flat() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let mut cmd = sandbox.chime(&[
        "run",
        "--",
        "sh",
        "-c",
        "yes 'a fairly ordinary log line' | head -c 1000000000; exit 1",
    ]);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            let hwm = status.lines().find(|l| l.starts_with("VmHWM:"));
            let kib = hwm
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok());
            peak_kib = peak_kib.max(kib.unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(peak_kib > 0, "measured");
    assert!(peak_kib < 40 * 1024, "peak RSS {peak_kib} KiB");
    let tail = texts(&bed.delivered()[0].json())
        .into_iter()
        .find(|t| t.starts_with("```"))
        .unwrap();
    assert!(tail.contains("a fairly ordinary log line"));
}

#[test]
fn in_github_actions_the_report_links_to_the_run() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let mut cmd = sandbox.chime(&["send", "deployed"]);
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
    run(cmd).code(0);
    let body = bed.delivered()[0].json();
    let actions = body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap();
    assert_eq!(
        actions["elements"][0]["url"],
        "https://github.com/acme/app/actions/runs/4242"
    );
    assert_eq!(actions["elements"][0]["text"]["text"], "View run");
    let context = body["attachments"][0]["blocks"][0]["elements"][0]["text"]
        .as_str()
        .unwrap();
    assert!(context.contains("acme/app@main · 0123456"), "{context}");
}

#[test]
fn a_missing_profile_never_stops_the_job_and_its_code_passes_through() {
    let sandbox = Sandbox::new();
    let missing = sandbox.path().join("nonexistent.toml");
    let script = "echo JOB RAN; echo job-err >&2; exit 3";
    let out = run(sandbox.chime(&[
        "--config",
        missing.to_str().unwrap(),
        "run",
        "--name",
        "backup",
        "--",
        "sh",
        "-c",
        script,
    ]))
    .code(3)
    .stdout_has("JOB RAN")
    .stderr_has("chime: error: no profile at")
    .stderr_has("hint:")
    .stderr_has("not reported, nor spooled: backup failed (exit 3)");
    let job = out.stderr.find("job-err").unwrap();
    let error = out.stderr.find("chime: error").unwrap();
    assert!(
        job < error,
        "the problem is told after the job's output\n{out}"
    );
}

#[test]
fn an_unknown_route_never_stops_the_job_and_nothing_is_sent_or_spooled() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime_run(
        &sandbox,
        &["-r", "nosuch", "--", "sh", "-c", "echo JOB RAN; exit 5"],
    )
    .code(5)
    .stdout_has("JOB RAN")
    .stderr_has("unknown route `nosuch` (from --route)")
    .stderr_has("known routes: cron");
    assert!(bed.requests().is_empty());
    let spool = sandbox.path().join("state/chime/profiles/config/spool");
    let entries = walk(&spool);
    assert!(entries.is_empty(), "nothing spooled: {entries:?}");
}

/// Every file under `dir`, if it exists.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// Whether `pid` is a live process: not gone, and not a zombie waiting for
/// an init that reaps lazily.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        !state.starts_with('Z') && !state.starts_with('X')
    })
}

/// Waits up to 20 s for `pid` to end; kills it if it does not, so that a
/// failing test leaves nothing behind.
fn ends(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    false
}

/// `chime run ARGS…` with its output going to files, so that waiting for
/// chime does not wait for a grandchild that still holds its pipes.
fn chime_run_to_files(sandbox: &Sandbox, args: &[&str]) -> Run {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    let cmd = sandbox.chime(&all);
    wait_to_files(cmd, sandbox, |cmd| cmd.spawn().expect("chime runs"))
}

/// Starts `cmd` through `spawn` with stdout and stderr going to files, and
/// waits for it alone.
fn wait_to_files(
    mut cmd: std::process::Command,
    sandbox: &Sandbox,
    spawn: impl FnOnce(&mut std::process::Command) -> std::process::Child,
) -> Run {
    let (out, err) = (
        sandbox.path().join("chime.out"),
        sandbox.path().join("chime.err"),
    );
    cmd.stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let command = format!("{cmd:?}");
    let status = spawn(&mut cmd).wait().unwrap();
    let output = std::process::Output {
        status,
        stdout: std::fs::read(out).unwrap(),
        stderr: std::fs::read(err).unwrap(),
    };
    Run::from_output(command, output)
}

fn pid_in(file: &Path) -> u32 {
    let text = std::fs::read_to_string(file).expect("the job wrote its grandchild's pid");
    text.trim().parse().expect("a pid")
}

#[test]
fn timeout_leaves_no_grandchild_behind() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let script = "sleep 37 & echo $! > grandchild.pid; wait; echo after";
    let out = chime_run_to_files(
        &sandbox,
        &[
            "--timeout",
            "1s",
            "--name",
            "tree",
            "--",
            "sh",
            "-c",
            script,
        ],
    )
    .code(143);
    assert!(!out.stdout.contains("after"), "{out}");
    let grandchild = pid_in(&sandbox.path().join("grandchild.pid"));
    assert!(ends(grandchild), "sleep {grandchild} outlived chime\n{out}");
    assert_eq!(
        texts(&bed.delivered()[0].json())[0],
        ":x: tree timed out after 1s"
    );
}

#[test]
fn timeout_kills_a_grandchild_that_ignores_sigterm_after_the_grace_period() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let script = "(trap '' TERM; exec sleep 37) & echo $! > grandchild.pid; wait";
    let out =
        chime_run_to_files(&sandbox, &["--timeout", "1s", "--", "sh", "-c", script]).code(143);
    let grandchild = pid_in(&sandbox.path().join("grandchild.pid"));
    assert!(ends(grandchild), "sleep {grandchild} outlived chime\n{out}");
}

#[test]
fn ctrl_c_to_chime_reaches_the_job_in_its_own_process_group() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let cmd = sandbox.chime(&[
        "run",
        "--name",
        "interrupted",
        "--",
        "sh",
        "-c",
        // The inner shell becomes `sleep`, in the foreground, where SIGINT
        // is not ignored as it is for `sleep 37 &`.
        "sh -c 'echo $$ > grandchild.pid; touch started; exec sleep 37'; echo after",
    ]);
    let clock = Instant::now();
    let out = ctrl_c_once_started(cmd, &sandbox).code(130);
    // A shell waits for its foreground child before it dies of SIGINT: chime
    // ends long before `sleep 37` would only if the signal reached it.
    assert!(clock.elapsed() < Duration::from_secs(25), "{out}");
    assert!(!out.stdout.contains("after"), "{out}");
    let grandchild = pid_in(&sandbox.path().join("grandchild.pid"));
    assert!(ends(grandchild), "sleep {grandchild} outlived chime\n{out}");
    assert_eq!(
        texts(&bed.delivered()[0].json())[0],
        ":warning: interrupted was interrupted (SIGINT)"
    );
}

#[test]
fn on_change_remembers_a_job_named_by_a_long_command_line() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let script: String = "exit 1; : /srv/data/nightly"
        .chars()
        .chain(" /srv/data/nightly".chars().cycle())
        .take(200 - "sh -c ".len())
        .collect();
    assert_eq!(format!("sh -c {script}").len(), 200);
    for _ in 0..2 {
        chime_run(&sandbox, &["--on", "change", "--", "sh", "-c", &script])
            .code(1)
            .never_shows("cannot remember");
    }
    assert_eq!(bed.delivered().len(), 1, "the second failure is no change");
}

#[test]
fn run_by_hand_at_a_terminal_the_command_can_read_it() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    // The password-prompt way: from the terminal itself, whatever stdin is.
    let job = "read answer </dev/tty; echo got:$answer";
    let chime = sandbox.chime(&[
        "run", "--on", "always", "--name", "prompt", "--", "sh", "-c", job,
    ]);
    let cmd = at_a_terminal(&chime, &sandbox);
    let out = crate::support::run_with_stdin(cmd, b"hello\n").code(0);
    assert!(out.stdout.contains("got:hello"), "{out}");
    assert_eq!(bed.delivered().len(), 1, "reported");
}

#[test]
fn a_timeout_at_a_terminal_stops_the_commands_children_too() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    // The grandchild ignores the hangup the terminal sends its foreground
    // group when chime leaves it: only chime's timeout may stop it here.
    let job = "(trap '' HUP; exec sleep 300) & echo $! > grandchild.pid; wait; echo after";
    let chime = sandbox.chime(&[
        "run",
        "--timeout",
        "1s",
        "--name",
        "tree",
        "--",
        "sh",
        "-c",
        job,
    ]);
    let cmd = at_a_terminal(&chime, &sandbox);
    let out = crate::support::run_within(cmd, Duration::from_secs(30)).code(143);
    assert!(!out.stdout.contains("after"), "{out}");
    let grandchild = pid_in(&sandbox.path().join("grandchild.pid"));
    assert!(ends(grandchild), "sleep {grandchild} outlived chime\n{out}");
    assert_eq!(
        texts(&bed.delivered()[0].json())[0],
        ":x: tree timed out after 1s"
    );
}

#[test]
fn a_timeout_at_a_terminal_kills_a_grandchild_that_ignores_sigterm_after_the_grace_period() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    // Two levels down, under a subshell that outlives the command: the walk
    // must go all the way, and SIGKILL must still find them once the
    // command itself is gone.
    let job = "(trap '' TERM HUP; sleep 300 & echo $! > grandchild.pid; wait) & wait";
    let chime = sandbox.chime(&["run", "--timeout", "1s", "--", "sh", "-c", job]);
    let cmd = at_a_terminal(&chime, &sandbox);
    let out = crate::support::run_within(cmd, Duration::from_secs(30)).code(143);
    let grandchild = pid_in(&sandbox.path().join("grandchild.pid"));
    assert!(ends(grandchild), "sleep {grandchild} outlived chime\n{out}");
}

#[test]
fn a_report_whose_template_fails_is_still_sent_as_the_default_report_with_a_warning() {
    // Outside CI `ci` has no `branch`: the report must not be lost to it.
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let profile = std::fs::read_to_string(sandbox.profile_path()).unwrap();
    sandbox.profile(&format!(
        "{profile}\n[templates.ci]\ntext = \"{{{{ name }}}} on {{{{ ci.branch }}}}\"\n"
    ));
    chime_run(
        &sandbox,
        &[
            "--template",
            "ci",
            "--name",
            "nightly",
            "--",
            "sh",
            "-c",
            "exit 3",
        ],
    )
    .code(3)
    .stderr_has("template `ci`")
    .stderr_has("`ci.branch` is undefined")
    .stderr_has("the default report was sent instead");
    let delivered = bed.delivered();
    assert_eq!(delivered.len(), 1, "the report went");
    assert!(
        delivered[0].text().contains("nightly"),
        "{}",
        delivered[0].text()
    );
}

#[test]
fn a_long_command_is_cut_in_the_title_and_the_outcome_kept_whole() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let long = "x".repeat(300);
    chime_run(&sandbox, &["--", "sh", "-c", "exit 2", &long]).code(2);
    let title = texts(&bed.delivered()[0].json())[0].clone();
    assert!(title.ends_with("… failed (exit 2)"), "{title}");
    assert!(title.starts_with(":x: sh -c exit 2 xxx"), "{title}");
}

#[test]
fn the_tail_in_the_report_has_no_colour_codes() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    chime_run(
        &sandbox,
        &[
            "--on",
            "always",
            "--",
            "printf",
            "\\033[31;1mred\\033[0m plain\\n",
        ],
    )
    .code(0);
    let body = bed.delivered()[0].json().to_string();
    assert!(body.contains("red plain"), "{body}");
    assert!(!body.contains("\\u001b"), "{body}");
}

/// Runs chime and, once its job has touched `started`, sends SIGINT to
/// chime's group, as the terminal does on Ctrl-C: to the foreground group,
/// chime's, which the job is not in.
fn ctrl_c_once_started(mut cmd: std::process::Command, sandbox: &Sandbox) -> Run {
    let started = sandbox.path().join("started");
    let _ = std::fs::remove_file(&started);
    // A group of its own, as a shell starts a job in a terminal.
    cmd.process_group(0);
    wait_to_files(cmd, sandbox, |cmd| {
        let child = cmd.spawn().expect("chime runs");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !started.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: kill(2) has no memory effects.
        unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGINT) };
        child
    })
}

#[test]
fn a_ctrl_c_is_not_the_jobs_outcome_for_on_change() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let ok = || chime_run(&sandbox, &["--on", "change", "--name", "job", "--", "true"]).code(0);
    ok();
    let before = bed.delivered().len();
    let job = sandbox.chime(&[
        "run",
        "--on",
        "change",
        "--name",
        "job",
        "--",
        "sh",
        "-c",
        "touch started; exec sleep 37",
    ]);
    ctrl_c_once_started(job, &sandbox)
        .code(130)
        .stderr_has("chime: job was interrupted");
    ok();
    assert_eq!(bed.delivered().len(), before, "no failure, no recovery");
}

#[test]
fn run_dry_run_prints_the_report_sends_nothing_and_keeps_nothing() {
    let bed = Bed::start();
    let sandbox = setup(&bed);
    let dry = [
        "--dry-run",
        "--on",
        "change",
        "--name",
        "dry",
        "--",
        "false",
    ];
    chime_run(&sandbox, &dry)
        .code(1)
        .stdout_has("POST http://127.0.0.1:")
        .stdout_has("dry failed (exit 1)");
    chime_run(&sandbox, &dry).stdout_has("dry failed (exit 1)");
    assert!(bed.requests().is_empty());
    // The record was left alone: a real failing run is still news.
    chime_run(
        &sandbox,
        &["--on", "change", "--name", "dry", "--", "false"],
    )
    .code(1);
    assert_eq!(bed.delivered().len(), 1);
}
