//! What can go wrong with the spool's files, and what a script hears of it.

use std::path::{Path, PathBuf};

use crate::exit::{ExitCode, Failure};

/// Something went wrong with the spool's files.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no state directory: set CHIME_STATE_DIR, XDG_STATE_HOME or HOME")]
    NoStateDir,
    /// A folder or file chime must not use: someone else could have put it there.
    #[error("refusing to use {}: {why}", path.display())]
    Untrusted { path: PathBuf, why: String },
    #[error("no spool entry with id `{0}`")]
    NotFound(String),
    #[error("`{prefix}` is the start of {} spool entries: {}", matches.len(), list_some(matches))]
    Ambiguous {
        prefix: String,
        /// Each match as `ID (state, destination)`.
        matches: Vec<String>,
    },
}

/// The first few of a long list, so an error stays readable for a one-digit prefix.
fn list_some(items: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = items
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

impl SpoolError {
    pub fn untrusted(path: &Path, why: String) -> SpoolError {
        SpoolError::Untrusted {
            path: path.to_owned(),
            why,
        }
    }

    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> SpoolError {
        SpoolError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

impl From<SpoolError> for Failure {
    /// What a script hears: 78 for a state directory it must not trust, with
    /// the fix; 1 for the rest, each with what to check.
    fn from(err: SpoolError) -> Failure {
        let (code, hint) = match &err {
        SpoolError::Untrusted { path, .. } => (
            ExitCode::Config,
            format!(
                "chime delivers what it finds there with the profile's credentials, so it \
                 must be yours alone: make {} a directory of your own, writable only by you \
                 (chown, chmod 700), or point CHIME_STATE_DIR at one",
                path.display()
            ),
        ),
        SpoolError::Io { .. } => (
            ExitCode::Failure,
            "check free space and permissions under the state directory (CHIME_STATE_DIR)".into(),
        ),
        SpoolError::NoStateDir => (
            ExitCode::Failure,
            "set CHIME_STATE_DIR to a writable directory".into(),
        ),
        SpoolError::NotFound(_) => (
            ExitCode::Usage,
            "list entries with `chime spool list` (and `--dead`)".into(),
        ),
        SpoolError::Ambiguous { .. } => (
            ExitCode::Usage,
            "give more characters of the id; `chime spool list` (and `--dead`) shows them in full"
                .into(),
        ),
    };
        Failure::new(code, err.to_string()).with_hint(hint)
    }
}
