//! Threads and edits: where a keyed message went, remembered across processes.
//!
//! `chime send --thread KEY` posts the first message under KEY normally and
//! remembers its channel and `ts`; later sends with that KEY reply in its
//! thread. `--update KEY` edits the message posted under KEY instead. The
//! memory is one small JSON file per destination and key under
//! `<state dir>/threads/`, written atomically like spool entries, and forgotten
//! once older than `[defaults] thread_ttl` (7 days unless set).

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::EnvVars;
use crate::spool::{SpoolError, fs, state_dir};

/// How long a key is remembered unless the profile says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// A message a platform accepted, as it identifies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
    /// Seconds since the epoch when it was first posted.
    pub at: u64,
}

/// The remembered keys under one state directory.
pub struct Threads {
    root: PathBuf,
    ttl: Duration,
}

impl Threads {
    pub fn locate(env: &EnvVars, ttl: Duration) -> Result<Threads, SpoolError> {
        Ok(Threads {
            root: state_dir(env)?.join("threads"),
            ttl,
        })
    }

    fn dir(&self, destination: &str) -> PathBuf {
        self.root.join(fs::encode_name(destination))
    }

    fn file(key: &str) -> String {
        format!("{}.json", fs::encode_name(key))
    }

    /// What `key` points at on `destination`, unless unknown or expired.
    pub fn get(&self, destination: &str, key: &str) -> Option<Posted> {
        let path = self.dir(destination).join(Threads::file(key));
        let posted: Posted = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        let age = now_secs().saturating_sub(posted.at);
        (age <= self.ttl.as_secs()).then_some(posted)
    }

    /// Remembers where `key`'s message went on `destination`.
    pub fn remember(
        &self,
        destination: &str,
        key: &str,
        channel: &str,
        ts: &str,
    ) -> Result<(), SpoolError> {
        let dir = self.dir(destination);
        fs::create_private_dir(&dir)?;
        let posted = Posted {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
            at: now_secs(),
        };
        let json = serde_json::to_vec(&posted).expect("a thread record always serialises");
        fs::write_atomic(&dir, &Threads::file(key), &json)
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
