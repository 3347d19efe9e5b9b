//! How the command ended, as chime tells it: the outcome's words, the
//! report's title, the exit code chime passes on, and a signal's name.

use std::time::{Duration, SystemTime};

use super::capture;

/// The longest title a report gets: Slack's header holds 150 characters, the
/// level's emoji (`:white_check_mark: `, 19) included; past it the platform
/// would cut the end, where the outcome is.
const MAX_TITLE: usize = 130;

/// How the command ended.
pub struct Outcome {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// chime was sent SIGINT (Ctrl-C at the terminal) while the command ran:
    /// the user stopped it, which says nothing of how the job fares.
    pub interrupted: bool,
    /// Why it could not start, with the shell's code for it.
    pub unstartable: Option<(String, u8)>,
    pub tail: String,
    /// The whole output, with `--attach-output`.
    pub capture: Option<capture::Capture>,
    pub started: SystemTime,
    pub took: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// The code chime exits with: the command's own, as a shell reports it.
    pub fn code(&self) -> u8 {
        match (&self.unstartable, self.exit_code, self.signal) {
            (Some((_, code)), _, _) => *code,
            (None, Some(code), _) => code.clamp(0, 255) as u8,
            (None, None, Some(signal)) => (128 + signal).clamp(0, 255) as u8,
            _ => 1,
        }
    }

    pub fn describe(&self, limit: Option<Duration>) -> String {
        if let Some((why, _)) = &self.unstartable {
            return format!("could not start: {why}");
        }
        if self.interrupted {
            return "was interrupted (SIGINT)".to_owned();
        }
        if self.timed_out {
            let limit = limit
                .map(humantime::format_duration)
                .map(|d| d.to_string())
                .unwrap_or_default();
            return format!("timed out after {limit}");
        }
        match (self.exit_code, self.signal) {
            (Some(0), _) => "succeeded".to_owned(),
            (Some(code), _) => format!("failed (exit {code})"),
            (None, Some(signal)) => format!("was killed by {}", signal_name(signal)),
            _ => "ended".to_owned(),
        }
    }
}

/// The report's title, `NAME OUTCOME`, within [`MAX_TITLE`]: a long name (the
/// command line, by default) is cut, never the outcome, which is the news.
pub fn title(name: &str, outcome: &str) -> String {
    let room = MAX_TITLE.saturating_sub(outcome.chars().count() + 1);
    if name.chars().count() <= room {
        return format!("{name} {outcome}");
    }
    let kept: String = name.chars().take(room.saturating_sub(1)).collect();
    format!("{}… {outcome}", kept.trim_end())
}

/// A signal as people know it: `SIGKILL (9)`; the number alone when unknown.
pub fn signal_name(signal: i32) -> String {
    const NAMES: [(libc::c_int, &str); 15] = [
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGTERM, "SIGTERM"),
    ];
    match NAMES.iter().find(|(number, _)| *number == signal) {
        Some((_, name)) => format!("{name} ({signal})"),
        None => format!("signal {signal}"),
    }
}
