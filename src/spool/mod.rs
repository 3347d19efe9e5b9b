//! The spool: messages chime accepted but could not deliver yet, kept on disk
//! until they go through. Its promise is sendmail's: a message chime accepted
//! is delivered or still here, visibly — never silently lost, and never posted
//! twice in normal operation.
//!
//! # Layout
//!
//! ```text
//! $CHIME_STATE_DIR (else <XDG state dir>/chime)      0700
//! └── spool/
//!     ├── pending/<destination>/                       0700, one per destination
//!     │   ├── .lock                                    flock'd by whoever sends to it
//!     │   └── <id>.msg                                 0600, one message for that destination
//!     ├── dead/<destination>/<id>.msg                  refused for good, or too old
//!     └── corrupt/<destination>.<id>.msg               failed its checksum; kept for a human
//! ```
//!
//! A destination's directory name is its profile name with anything outside
//! `[A-Za-z0-9._-]` percent-encoded. An id is 24 hex digits: milliseconds since
//! the epoch, the process id and a per-process counter, so ids sort in arrival
//! order and the parts a process writes keep their order.
//!
//! # Entry format (version 1)
//!
//! ```text
//! chime-spool 1 <crc32 of the rest, 8 hex digits> <length of the rest>\n
//! <one JSON object: id, destination, created, attempts, next_attempt,
//!  last_error, parts, payloads>
//! ```
//!
//! The JSON holds the destination's *name* and the rendered payloads — never a
//! URL or a token: secrets stay in the profile and are read from it at flush
//! time. `payloads` are the parts still to send, in order; a partly delivered
//! message is rewritten with only what is left.
//!
//! # Invariants
//!
//! 1. Every write is atomic and durable: write `.<name>.tmp` in the target's
//!    own directory, fsync it, rename it over the target, fsync the directory.
//!    Readers skip dot-files, so a temp file left by a crash is never read
//!    (and is swept by the next flush once it is an hour old).
//! 2. Only the holder of a destination's `.lock` (an exclusive `flock`) sends
//!    that destination's entries, rewrites or removes them. The kernel drops the
//!    lock when its holder dies, so a killed flush's claim is free for the very
//!    next one — no lease to wait out. Two flushers never send the same entry.
//! 3. An entry is removed only after its platform confirmed delivery, and the
//!    removal is fsync'd before the next entry is sent; so a crash can repeat at
//!    most the one entry that was in flight.
//! 4. Within a destination, entries go out in id order, and a later entry
//!    never overtakes an earlier one that is still pending.
//! 5. A file that fails its checksum or does not parse is moved to `corrupt/`
//!    with a warning — never deleted, never a panic — and the rest go on.
//!
//! # What a crash leaves, step by step
//!
//! - While writing the temp file, or before the rename: a stray dot-file; the
//!   entry does not exist yet, and the sender has not reported "queued".
//! - After the rename, before the directory fsync: the entry may or may not
//!   survive a power loss; a process kill keeps it.
//! - While sending: the lock is released; the entry is still pending; the next
//!   flush sends it again (the one duplicate allowed).
//! - After delivery, before the removal: as above, one duplicate at most.
//! - While rewriting after a failure: the old version or the new one stays.

mod commands;
mod entry;
pub(crate) mod fs;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use commands::run as command;
pub use entry::Entry;
pub use fs::DestinationLock;

use crate::config::EnvVars;

/// How long and how often the spool keeps trying (`[spool]` in the profile).
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// An entry older than this goes to dead-letter.
    pub max_age: Duration,
    /// An entry tried this many times goes to dead-letter.
    pub max_attempts: Option<u32>,
    /// The first retry waits up to this long; each later one up to twice as long…
    pub backoff_base: Duration,
    /// …but never more than this.
    pub backoff_cap: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            max_age: Duration::from_secs(3 * 24 * 3600),
            max_attempts: None,
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(15 * 60),
        }
    }
}

impl Policy {
    /// When to try again after `attempts` failures: exponential backoff with
    /// full jitter (so fifty cron jobs do not retry in lockstep), but never
    /// sooner than the platform asked.
    pub fn next_attempt(
        &self,
        now: SystemTime,
        attempts: u32,
        retry_after: Option<Duration>,
    ) -> SystemTime {
        let exp = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        let ceiling = self.backoff_base.saturating_mul(exp).min(self.backoff_cap);
        let wait = ceiling
            .mul_f64(crate::deliver::jitter())
            .max(retry_after.unwrap_or_default());
        now + wait
    }

    /// Why an entry should stop being retried, if it should.
    pub fn expired(&self, entry: &Entry, now: SystemTime) -> Option<String> {
        if entry.age(now) > self.max_age {
            return Some(format!(
                "gave up after {}",
                humantime::format_duration(self.max_age)
            ));
        }
        match self.max_attempts {
            Some(max) if entry.attempts >= max => Some(format!("gave up after {max} attempts")),
            _ => None,
        }
    }
}

/// chime's state directory: `$CHIME_STATE_DIR`, else `<XDG state dir>/chime`
/// (falling back to the local data directory where there is no state dir).
pub fn state_dir(env: &EnvVars) -> Result<PathBuf, SpoolError> {
    match env.get("CHIME_STATE_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(dirs::state_dir()
            .or_else(dirs::data_local_dir)
            .ok_or(SpoolError::NoStateDir)?
            .join("chime")),
    }
}

/// Where an entry sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Pending,
    Dead,
}

impl State {
    fn dir(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Dead => "dead",
        }
    }
}

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
    #[error("no spool entry with id `{0}`")]
    NotFound(String),
}

impl SpoolError {
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> SpoolError {
        SpoolError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// A spool file read back, or why it could not be.
pub enum Read {
    Entry(Entry),
    /// Moved to `corrupt/`; the string says why.
    Quarantined(String),
}

/// The spool under one state directory.
pub struct Spool {
    root: PathBuf,
}

impl Spool {
    /// The spool under the state directory.
    pub fn locate(env: &EnvVars) -> Result<Spool, SpoolError> {
        Ok(Spool {
            root: state_dir(env)?.join("spool"),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, state: State, destination: &str) -> PathBuf {
        self.root
            .join(state.dir())
            .join(fs::encode_name(destination))
    }

    /// Writes a new entry (see [`Entry::new`]) and gives it back.
    pub fn add(&self, state: State, entry: Entry) -> Result<Entry, SpoolError> {
        self.write(state, &entry)?;
        Ok(entry)
    }

    /// Writes (or rewrites) `entry` atomically and durably.
    pub fn write(&self, state: State, entry: &Entry) -> Result<(), SpoolError> {
        let dir = self.dir(state, &entry.destination);
        fs::create_private_dir(&dir)?;
        fs::write_atomic(&dir, &entry.file_name(), &entry.encode())
    }

    /// Removes a delivered entry, durably, before anything else is sent.
    pub fn remove(&self, state: State, entry: &Entry) -> Result<(), SpoolError> {
        let dir = self.dir(state, &entry.destination);
        fs::remove_durably(&dir, &entry.file_name())
    }

    /// Moves `entry` from pending to dead, recording why.
    pub fn bury(&self, mut entry: Entry, reason: String) -> Result<Entry, SpoolError> {
        entry.last_error = Some(reason);
        self.write(State::Dead, &entry)?;
        self.remove(State::Pending, &entry)?;
        Ok(entry)
    }

    /// Moves a dead entry back to pending, due now.
    pub fn revive(&self, mut entry: Entry) -> Result<Entry, SpoolError> {
        self.remove(State::Dead, &entry)?;
        entry.next_attempt = SystemTime::now();
        entry.attempts = 0;
        self.write(State::Pending, &entry)?;
        Ok(entry)
    }

    /// Destinations with at least one entry in `state`, by profile name.
    pub fn destinations(&self, state: State) -> Result<Vec<String>, SpoolError> {
        let dir = self.root.join(state.dir());
        let mut names: Vec<String> = fs::list(&dir)?
            .into_iter()
            .filter_map(|name| fs::decode_name(&name))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The file names of `destination`'s entries, oldest first.
    pub fn ids(&self, state: State, destination: &str) -> Result<Vec<String>, SpoolError> {
        let mut names: Vec<String> = fs::list(&self.dir(state, destination))?
            .into_iter()
            .filter_map(|name| name.strip_suffix(".msg").map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    /// True when `destination` has pending entries; one directory read.
    pub fn has_pending(&self, destination: &str) -> bool {
        self.ids(State::Pending, destination)
            .is_ok_and(|ids| !ids.is_empty())
    }

    /// Reads one entry, quarantining it when it is damaged.
    pub fn read(&self, state: State, destination: &str, id: &str) -> Result<Read, SpoolError> {
        let dir = self.dir(state, destination);
        let path = dir.join(format!("{id}.msg"));
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(SpoolError::NotFound(id.to_owned()));
            }
            Err(err) => return Err(SpoolError::io("read", &path, err)),
        };
        match Entry::decode(&bytes) {
            Ok(entry) if entry.id == id && entry.destination == destination => {
                Ok(Read::Entry(entry))
            }
            Ok(_) => self.quarantine(
                &path,
                destination,
                id,
                "its contents do not match its name".into(),
            ),
            Err(why) => self.quarantine(&path, destination, id, why),
        }
    }

    fn quarantine(
        &self,
        path: &Path,
        destination: &str,
        id: &str,
        why: String,
    ) -> Result<Read, SpoolError> {
        let corrupt = self.root.join("corrupt");
        fs::create_private_dir(&corrupt)?;
        let target = corrupt.join(format!("{}.{id}.msg", fs::encode_name(destination)));
        std::fs::rename(path, &target).map_err(|e| SpoolError::io("quarantine", path, e))?;
        fs::sync_dir(path.parent().unwrap_or(&self.root))?;
        Ok(Read::Quarantined(format!(
            "{why}; moved to {}",
            target.display()
        )))
    }

    /// Finds an entry by id (or a unique prefix of one) in `state`, across destinations.
    pub fn find(&self, state: State, id: &str) -> Result<Option<(String, String)>, SpoolError> {
        let mut found = None;
        for destination in self.destinations(state)? {
            for candidate in self.ids(state, &destination)? {
                if candidate.starts_with(id) {
                    if found.is_some() {
                        return Ok(None);
                    }
                    found = Some((destination.clone(), candidate));
                }
            }
        }
        Ok(found)
    }

    /// Takes `destination`'s lock if no one else holds it.
    pub fn try_lock(&self, destination: &str) -> Result<Option<DestinationLock>, SpoolError> {
        let dir = self.dir(State::Pending, destination);
        fs::create_private_dir(&dir)?;
        fs::DestinationLock::try_acquire(&dir)
    }

    /// Removes temp files a crash left behind, once they are old enough that no
    /// live writer can still own them.
    pub fn sweep(&self, destination: &str) {
        fs::sweep_temp_files(
            &self.dir(State::Pending, destination),
            Duration::from_secs(3600),
        );
    }
}
