//! Exit codes, and the one place where a failure becomes one.
//!
//! Scripts act on these numbers, so they follow sysexits(3) where a meaning
//! exists there. The table is repeated in `chime --help` and the README, and each
//! row has an integration test.

use std::fmt;

/// What the process tells its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// Delivered everywhere (or nothing needed delivering, as with `--dry-run`).
    Ok,
    /// Anything not covered below: a bug, an I/O error on our own side.
    Failure,
    /// The command line was wrong: a bad flag, nothing to send.
    Usage,
    /// A destination rejected the message for good (EX_DATAERR).
    Rejected,
    /// Not delivered for now, and kept in the spool to retry (EX_TEMPFAIL).
    TempFail,
    /// Not delivered, and not kept either (EX_IOERR): `--no-spool`, or a spool
    /// that could not be written (a full or read-only disk). The script must
    /// act, or the message is gone.
    NotKept,
    /// The profile is missing or wrong, or names something that does not exist (EX_CONFIG).
    Config,
    /// Stopped by a second Ctrl-C, as shells report SIGINT (128 + 2).
    Interrupted,
    /// `chime run`: the wrapped command's own code, so chime stays transparent.
    Command(u8),
    /// `chime ask`: an answer other than the first option (1, as `test` says false).
    Declined,
    /// `chime ask`: nobody answered in time (124, as `timeout(1)` exits).
    TimedOut,
    /// `chime ask`: stopped by this signal before an answer came (128 + its number).
    Signalled(u8),
}

impl ExitCode {
    /// Severity when several destinations disagree: the worst one wins, so a
    /// script never reads success while a message was dropped somewhere. A
    /// message not kept is worse than one refused: the refusal is kept as a
    /// dead letter, the other is nowhere.
    fn severity(self) -> u8 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::TempFail => 1,
            ExitCode::Rejected => 2,
            ExitCode::NotKept => 3,
            ExitCode::Failure => 4,
            ExitCode::Usage => 5,
            ExitCode::Config => 6,
            ExitCode::Interrupted
            | ExitCode::Command(_)
            | ExitCode::Declined
            | ExitCode::TimedOut
            | ExitCode::Signalled(_) => 7,
        }
    }

    pub fn worst(self, other: ExitCode) -> ExitCode {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    pub fn code(self) -> u8 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::Failure => 1,
            ExitCode::Usage => 2,
            ExitCode::Rejected => 65,
            ExitCode::NotKept => 74,
            ExitCode::TempFail => 75,
            ExitCode::Config => 78,
            ExitCode::Interrupted => 130,
            ExitCode::Command(code) => code,
            ExitCode::Declined => 1,
            ExitCode::TimedOut => 124,
            ExitCode::Signalled(signal) => 128 + signal,
        }
    }
}

/// A failure on its way to the user: what went wrong, why, and what to do next.
///
/// Modules return their own typed errors; `From` impls next to those errors turn
/// them into a `Failure` with the right exit code, so the mapping stays in one
/// place per error type and `main` only prints and exits.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            causes: Vec::new(),
            hint: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(ExitCode::Usage, message)
    }

    pub fn config(message: impl Into<String>) -> Failure {
        Failure::new(ExitCode::Config, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    pub fn caused_by(mut self, cause: impl fmt::Display) -> Failure {
        self.causes.push(cause.to_string());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chime: error: {}", self.message)?;
        if !self.causes.is_empty() {
            write!(f, "\n\nCaused by:")?;
            for cause in &self.causes {
                write!(f, "\n    {cause}")?;
            }
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl From<std::io::Error> for Failure {
    fn from(err: std::io::Error) -> Failure {
        Failure::new(ExitCode::Failure, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_beats_temporary_failure_beats_success() {
        assert_eq!(ExitCode::Ok.worst(ExitCode::TempFail), ExitCode::TempFail);
        assert_eq!(
            ExitCode::Rejected.worst(ExitCode::TempFail),
            ExitCode::Rejected
        );
        assert_eq!(ExitCode::TempFail.worst(ExitCode::Ok), ExitCode::TempFail);
    }

    #[test]
    fn a_message_not_kept_beats_a_rejection() {
        assert_eq!(
            ExitCode::Rejected.worst(ExitCode::NotKept),
            ExitCode::NotKept
        );
        assert_eq!(
            ExitCode::NotKept.worst(ExitCode::TempFail),
            ExitCode::NotKept
        );
        assert_eq!(ExitCode::NotKept.code(), 74);
    }
}
