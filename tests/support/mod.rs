//! Shared test helpers: an isolated home for each test and a way to run chime in it.
//!
//! Every run clears the environment and sets HOME and XDG_* to a fresh temporary
//! directory, so no test reads the developer's profile or leaks a CHIME_* value
//! into another.

pub mod bed;
pub mod discord;
pub mod google_chat;
pub mod gotify;
pub mod healthchecks;
pub mod hook;
pub mod matrix;
pub mod mattermost;
pub mod multipart;
pub mod ntfy;
pub mod opsgenie;
pub mod pagerduty;
pub mod proxy;
pub mod pushover;
pub mod redis;
pub mod slack_files;
pub mod smtp;
pub mod teams;
pub mod telegram;
pub mod tls;
pub mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use assert_cmd::cargo::CommandCargoExt;

/// The profile most spool tests share: one Slack webhook, `ops-hook`, whose
/// URL comes from `OPS_WEBHOOK` ([`Sandbox::ops`]), routed by default, with
/// no pace (the bed has no rate limit in these tests) and a `TIMEOUT`.
pub fn ops_profile(timeout: &str) -> String {
    format!(
        r#"
[defaults]
route = "ops"
timeout = "{timeout}"

[destinations.ops-hook]
kind = "slack"
url = "${{OPS_WEBHOOK}}"
pace = "0s"

[routes.ops]
to = ["ops-hook"]
"#
    )
}

/// A temporary home with its own config and state directories.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A sandbox with the shared `ops-hook` profile, `timeout` per send.
    pub fn with_ops_hook(timeout: &str) -> Sandbox {
        let sandbox = Sandbox::new();
        sandbox.profile(&ops_profile(timeout));
        sandbox
    }

    /// `chime ARGS…` with `ops-hook` pointing at `url`.
    pub fn ops(&self, url: &str, args: &[&str]) -> Command {
        let mut cmd = self.chime(args);
        cmd.env("OPS_WEBHOOK", url);
        cmd
    }

    /// Where chime looks for the default profile in this sandbox.
    pub fn profile_path(&self) -> PathBuf {
        self.path().join("config/chime/config.toml")
    }

    /// Writes the default profile.
    pub fn profile(&self, toml: &str) -> &Sandbox {
        let path = self.profile_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, toml).unwrap();
        self
    }

    /// `chime ARGS…` in this sandbox, with an empty stdin and a clean environment.
    pub fn chime(&self, args: &[&str]) -> Command {
        let cmd = Command::cargo_bin("chime").expect("the chime binary is built");
        self.isolated(cmd, args)
    }

    /// `PROGRAM ARGS…` (a shell) in this sandbox as [`Sandbox::chime`] runs
    /// chime, with the chime under test first on its PATH: for running the
    /// completion scripts, which call `chime`.
    pub fn with_chime_on_path(&self, program: &str, args: &[&str]) -> Command {
        let chime = Command::cargo_bin("chime").expect("the chime binary is built");
        let dir = Path::new(chime.get_program()).parent().unwrap().to_owned();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![dir];
        dirs.extend(std::env::split_paths(&path));
        let mut cmd = self.isolated(Command::new(program), args);
        cmd.env("PATH", std::env::join_paths(dirs).unwrap());
        cmd
    }

    fn isolated(&self, mut cmd: Command, args: &[&str]) -> Command {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("XDG_CACHE_HOME", self.path().join("cache"))
            .env("USER", "tester")
            .current_dir(self.path())
            .stdin(Stdio::null())
            .args(args);
        // Out of the terminal's foreground, as under cron or CI, even when the
        // tests run at a terminal: `chime run` behaves differently there.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        // With the signals a job may be stopped by at their defaults, however
        // the tests were started: a runner started in the background (`cmd &`
        // in a script) ignores SIGINT, and chime would rightly leave it so.
        // SAFETY: signal(2) is async-signal-safe, as a pre_exec hook must be.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                for signal in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP] {
                    libc::signal(signal, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        cmd
    }
}

/// What a finished run printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    command: String,
}

impl Run {
    /// Fails the test, showing the whole run, unless the exit code is `code`.
    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    /// Neither stream shows `secret`.
    #[track_caller]
    pub fn never_shows(self, secret: &str) -> Run {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "output shows the secret {secret:?}\n{self}"
        );
        self
    }

    /// stdout parsed as one JSON value per line.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{self}"))
            })
            .collect()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// A run from what a process printed and its exit code.
    pub fn from_parts(command: String, code: i32, stdout: String, stderr: String) -> Run {
        Run {
            code,
            stdout,
            stderr,
            command,
        }
    }

    /// A run from a finished process's output, for tests that spawn it themselves.
    pub fn from_output(command: String, output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            command,
        }
    }
}

/// Runs `cmd` to completion.
pub fn run(mut cmd: Command) -> Run {
    let command = format!("{cmd:?}");
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("chime runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        command,
    }
}

/// Runs `cmd` with `input` on stdin.
pub fn run_with_stdin(mut cmd: Command, input: &[u8]) -> Run {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let command = format!("{cmd:?}");
    let mut child = cmd.spawn().expect("chime runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        command,
    }
}

/// Runs `cmd` to completion and says how much memory it held at its peak, in bytes.
///
/// The peak is the kernel's high-water mark of the process's resident set
/// (`VmHWM` in `/proc/PID/status`), read until it exits. It is the child's own:
/// unlike `getrusage`'s `ru_maxrss`, it does not count the test process that the
/// child was forked from before its exec. Memory that only grows while chime
/// reads is always caught; a last spurt in the final moment before exit could
/// be missed, so this proves a bound on what chime holds while it works.
pub fn run_watched(mut cmd: Command) -> (Run, u64) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let command = format!("{cmd:?}");
    let mut child = cmd.spawn().expect("chime runs");
    let status_file = format!("/proc/{}/status", child.id());
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| high_water_kib(&s))
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("chime can be waited for") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        command,
    };
    (run, peak * 1024)
}

/// Reads `pipe` to its end on a thread of its own, so a chatty child never blocks.
pub fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// chime's peak memory from its `/proc/PID/status`. Until the fork has
/// exec'd chime, that file describes a copy of the test process, whose
/// memory (other tests' buffers) is not chime's: only a status that names
/// chime counts.
fn high_water_kib(status: &str) -> Option<u64> {
    let name = status.lines().find_map(|l| l.strip_prefix("Name:"))?;
    if name.trim() != "chime" {
        return None;
    }
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The user and group `nobody` is on Linux.
pub const NOBODY: u32 = 65534;

/// Makes `cmd` run as user `nobody`, without root's groups: the other user
/// of the tests on trust, who plants files in a state directory not theirs
/// or owns one whose folder they cannot read.
///
/// Only root can become another user. CI runs the tests as root; anywhere
/// else such a test fails here, saying why, rather than passing untried.
#[track_caller]
pub fn as_nobody(cmd: &mut Command) -> &mut Command {
    // SAFETY: geteuid(2) cannot fail and touches no memory of ours.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test runs chime as user nobody (uid {NOBODY}), which only root can do: \
         run the tests as root, as CI does"
    );
    // SAFETY: setgroups(2), setgid(2) and setuid(2) are async-signal-safe and
    // touch no memory of ours but the empty group list.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, || {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// [`run`], but a run still going after `limit` is killed (with its process
/// group: [`Sandbox::chime`] gives it one of its own) and fails the test.
/// A generous limit: it catches a hang, it never measures speed. A run that
/// grows past [`MEMORY_GUARD`] is killed too, so that a test of a bound on
/// memory fails rather than takes the machine down.
#[track_caller]
pub fn run_within(cmd: Command, limit: std::time::Duration) -> Run {
    run_watched_within(cmd, limit).0
}

/// Far more than chime ever needs; a child holding more is killed.
pub const MEMORY_GUARD: u64 = 2 << 30;

/// [`run_watched`] with [`run_within`]'s deadline and memory guard.
#[track_caller]
pub fn run_watched_within(cmd: Command, limit: std::time::Duration) -> (Run, u64) {
    let (run, peak, stopped) = watch(cmd, limit);
    if let Some(why) = stopped {
        panic!("{why}: killed\n{run}");
    }
    (run, peak)
}

/// Runs `cmd` until it ends, or kills its process group past `limit` or
/// [`MEMORY_GUARD`]: the run, its peak memory in bytes, and why it was
/// killed, if it was.
fn watch(mut cmd: Command, limit: std::time::Duration) -> (Run, u64, Option<String>) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let command = format!("{cmd:?}");
    let deadline = std::time::Instant::now() + limit;
    let mut child = cmd.spawn().expect("chime runs");
    let status_file = format!("/proc/{}/status", child.id());
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let mut peak = 0;
    let mut stopped = None;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| high_water_kib(&s))
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("chime can be waited for") {
            break status;
        }
        let why = if std::time::Instant::now() > deadline {
            Some(format!("still running after {limit:?}"))
        } else if peak * 1024 > MEMORY_GUARD {
            Some(format!("holding {} MiB", peak >> 10))
        } else {
            None
        };
        if why.is_some() {
            stopped = why;
            let group = child.id() as libc::pid_t;
            // SAFETY: kill(2) with the child's own process group.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = child.kill();
            break child.wait().expect("chime can be waited for");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        command,
    };
    (run, peak * 1024, stopped)
}

/// Like [`run_within`], but a run killed at `limit` is returned as its
/// command line, for callers that report failures themselves.
pub fn run_or_kill(cmd: Command, limit: std::time::Duration) -> Result<Run, String> {
    match watch(cmd, limit) {
        (run, _, None) => Ok(run),
        (run, _, Some(why)) => Err(format!("{why}: {}", run.command)),
    }
}

/// An entry's id as chime shows it, from the id its file is named by: the
/// first 12 hex digits of the name's SHA-256.
pub fn shown_id(file_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(file_id.as_bytes());
    hash[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// `script` with chime's command line, giving chime a terminal with chime in
/// its foreground, as a person running it by hand would; `timeout` ends a job
/// stopped for reading a terminal it does not own.
pub fn at_a_terminal(chime: &std::process::Command, sandbox: &Sandbox) -> std::process::Command {
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
    let line: Vec<String> = std::iter::once(chime.get_program())
        .chain(chime.get_args())
        .map(quote)
        .collect();
    let mut cmd = std::process::Command::new("timeout");
    let line = line.join(" ") + " </dev/null";
    cmd.args(["20", "script", "-qec", &line, "/dev/null"])
        .env_clear()
        .current_dir(sandbox.path());
    for (key, value) in chime.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    cmd
}
