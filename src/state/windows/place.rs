//! Where a window's or a count's record is kept — a file in the profile's
//! state directory, or a key on the state server — and its lock, so that
//! the window logic above reads, decides and writes the same way in both.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::{LOCK_WAIT, SHARED_KEEP, Window, lock, read, write};
use crate::spool::lock::FileLock;
use crate::spool::{SpoolError, fs};
use crate::state::shared::{self, Shared};

/// How long a record's lock on the state server lasts unless let go of: the
/// first message of a window holds it until it is kept or, without a spool,
/// delivered, which a destination's timeout bounds.
const SHARED_LEASE: Duration = Duration::from_secs(120);

/// Where one record is kept.
pub(super) enum Place {
    File {
        dir: PathBuf,
        file: String,
    },
    Server {
        shared: Arc<Shared>,
        key: String,
        /// The destination's index of open windows by when they end.
        due: String,
    },
}

/// A record's lock, held while it is read, decided on and written, and let
/// go of when dropped.
pub(super) struct Held {
    _file: Option<FileLock>,
    _server: Option<shared::Lock>,
}

impl Place {
    pub(super) fn read<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        match self {
            Place::File { dir, file } => read(&dir.join(file)),
            Place::Server { shared, key, .. } => shared.get(key).flatten(),
        }
    }

    /// Writes `record`; on the server, kept until `until` and a week more.
    pub(super) fn write<T: Serialize>(
        &self,
        record: &T,
        until: SystemTime,
    ) -> Result<(), SpoolError> {
        match self {
            Place::File { dir, file } => write(dir, file, record),
            Place::Server { shared, key, .. } => {
                let left = until.duration_since(SystemTime::now()).unwrap_or_default();
                shared
                    .put(key, record, Some(left + SHARED_KEEP))
                    .ok_or_else(|| server_failed(key))
            }
        }
    }

    /// Opens `window` here: on the server, its record and its place in the
    /// destination's index of windows by when they end.
    pub(super) fn open(&self, window: &Window) -> Result<(), SpoolError> {
        self.write(window, window.until)?;
        if let Place::Server { shared, key, due } = self {
            shared
                .index(due, key, window.until)
                .ok_or_else(|| server_failed(key))?;
        }
        Ok(())
    }

    pub(super) fn remove(&self) -> Result<(), SpoolError> {
        match self {
            Place::File { dir, file } => fs::remove_durably(dir, file),
            Place::Server { shared, key, due } => {
                shared.remove(key).ok_or_else(|| server_failed(key))?;
                let _ = shared.unindex(due, key);
                Ok(())
            }
        }
    }

    /// Takes the record's lock, waited for up to [`LOCK_WAIT`].
    pub(super) fn lock(&self) -> Result<Held, SpoolError> {
        match self {
            Place::File { dir, file } => lock(dir, file).map(|lock| Held {
                _file: Some(lock),
                _server: None,
            }),
            Place::Server { shared, key, .. } => {
                let lock_key = format!("{key}:lock");
                match shared.lock(&lock_key, Instant::now() + LOCK_WAIT, SHARED_LEASE) {
                    Some(Some(lock)) => Ok(Held {
                        _file: None,
                        _server: Some(lock),
                    }),
                    Some(None) => Err(SpoolError::io(
                        "lock",
                        Path::new(&lock_key),
                        std::io::Error::new(std::io::ErrorKind::TimedOut, "held by another chime"),
                    )),
                    // Gone since: the caller goes on without the window.
                    None => Err(server_failed(&lock_key)),
                }
            }
        }
    }
}

pub(super) fn server_failed(key: &str) -> SpoolError {
    SpoolError::io(
        "keep",
        Path::new(key),
        std::io::Error::other("the state server failed"),
    )
}
