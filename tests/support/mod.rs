//! Shared test helpers: an isolated home for each test and a way to run chime in it.
//!
//! Every run clears the environment and sets HOME and XDG_* to a fresh temporary
//! directory, so no test reads the developer's profile or leaks a CHIME_* value
//! into another.

pub mod bed;
pub mod discord;
pub mod google_chat;
pub mod hook;
pub mod mattermost;
pub mod ntfy;
pub mod teams;
pub mod telegram;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use assert_cmd::cargo::CommandCargoExt;

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
        let mut cmd = Command::cargo_bin("chime").expect("the chime binary is built");
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

/// Runs `cmd` to completion, or kills it after `limit` and fails the test: for
/// inputs that could make chime hang, so a regression fails instead of
/// stalling the suite. The limit is a guard far above any normal run.
#[track_caller]
pub fn run_within(cmd: Command, limit: std::time::Duration) -> Run {
    match run_or_kill(cmd, limit) {
        Ok(run) => run,
        Err(command) => panic!("still running after {limit:?}, killed: {command}"),
    }
}

/// Like [`run_within`], but a run killed at `limit` is returned as its
/// command line, for callers that report failures themselves.
pub fn run_or_kill(mut cmd: Command, limit: std::time::Duration) -> Result<Run, String> {
    use std::io::Read;
    let command = format!("{cmd:?}");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("chime runs");
    // Read both pipes on threads, so a chatty child never blocks on a full pipe.
    let mut pipes = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ];
    let readers = pipes.each_mut().map(|pipe| {
        let mut pipe = pipe.take().expect("piped");
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    });
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chime") {
            break Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let [stdout, stderr] = readers.map(|r| r.join().unwrap_or_default());
    let Some(status) = status else {
        return Err(command);
    };
    let output = Output {
        status,
        stdout,
        stderr,
    };
    Ok(Run::from_output(command, output))
}
