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
    /// Not delivered for now; trying again later may work (EX_TEMPFAIL).
    TempFail,
    /// The profile is missing or wrong, or names something that does not exist (EX_CONFIG).
    Config,
    /// Stopped by a second Ctrl-C, as shells report SIGINT (128 + 2).
    Interrupted,
    /// `chime run`: the wrapped command's own code, so chime stays transparent.
    Command(u8),
}

impl ExitCode {
    /// Severity when several destinations disagree: the worst one wins, so a
    /// script never reads success while a message was dropped somewhere.
    fn severity(self) -> u8 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::TempFail => 1,
            ExitCode::Rejected => 2,
            ExitCode::Failure => 3,
            ExitCode::Usage => 4,
            ExitCode::Config => 5,
            ExitCode::Interrupted | ExitCode::Command(_) => 6,
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
            ExitCode::TempFail => 75,
            ExitCode::Config => 78,
            ExitCode::Interrupted => 130,
            ExitCode::Command(code) => code,
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
}
