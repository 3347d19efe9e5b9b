//! Threads and edits: where a keyed message went, remembered across processes.
//!
//! `chime send --thread KEY` posts the first message under KEY normally and
//! remembers its channel and `ts`; later sends with that KEY reply in its
//! thread. `--update KEY` edits the message posted under KEY instead. The
//! memory is one small JSON file per destination and key under
//! `<state dir>/threads/`, written atomically like spool entries, and forgotten
//! once older than `[defaults] thread_ttl` (7 days unless set).
//!
//! A part carries its key ([`ThreadRef`]), not its parent: the key is looked up
//! only when the part is sent ([`Threads::attach`]), and remembered as soon as
//! one is delivered ([`Threads::settle`]). So a first message that waited in
//! the spool still starts the thread when a flush delivers it, replies queued
//! behind it land in it, and the later parts of a long first message follow it
//! into its thread. The first post under a key holds a lock on the key
//! ([`Threads::claim`]) until it is remembered, so sends racing to start the
//! same thread (the jobs of one CI run) make one thread.
//!
//! On a state server (`shared.rs`) the records and the locks are the
//! fleet's, and so is one more thing a delivery asks of the keyed state:
//! the turn of each request under a destination's `pace`
//! ([`Threads::fleet_turn`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::shared::{self, Shared};
use crate::config::Profile;
use crate::kinds::{Payload, Platform, Posted, ThreadRef};
use crate::spool::lock::FileLock;
use crate::spool::{Spool, SpoolError, fs};

/// How often a send waiting to start a thread looks whether it may.
const CLAIM_POLL: Duration = Duration::from_millis(20);
/// How much longer than its holder's deadline a claim on the state server
/// lasts: the holder remembers the key just after its post.
const CLAIM_MARGIN: Duration = Duration::from_secs(5);

/// A record is a channel and a `ts`: a file bigger than this is not one.
const MAX_RECORD_BYTES: u64 = 64 << 10;

/// The remembered keys of one profile: on its state server when it shares
/// one (and it answers), else in its state directory.
pub struct Threads {
    root: PathBuf,
    ttl: Duration,
    shared: Option<Arc<Shared>>,
    /// Each destination's identity, which names its keys on the server.
    identities: HashMap<String, String>,
    /// Whether a key nobody remembers is looked for on the platform.
    searching: bool,
}

/// The right to start a key's thread, held until it is remembered: a lock
/// of the host's or of the state server's, let go of when dropped.
pub struct Claim {
    _local: Option<FileLock>,
    _shared: Option<shared::Lock>,
}

impl Threads {
    /// The keys of `profile`, whose state directory holds `spool`.
    pub fn beside(spool: &Spool, profile: &Profile) -> Threads {
        let state_dir = spool.root().parent().unwrap_or(spool.root());
        let shared = shared::of(state_dir);
        // Only a server's keys need them, and each costs a hash.
        let identities = match shared {
            Some(_) => profile
                .destinations
                .iter()
                .map(|(name, d)| (name.clone(), d.state_key()))
                .collect(),
            None => HashMap::new(),
        };
        Threads {
            root: state_dir.join("threads"),
            ttl: profile.thread_ttl,
            shared,
            identities,
            searching: false,
        }
    }

    /// Looks for a key nobody remembers on the platform too (where the kind
    /// marks a key's first message), when `in_ci`: the jobs of a CI run go
    /// to runners that start with empty disks, and each would start a
    /// thread of its own. Elsewhere the host, or the state server, knows
    /// every key that was posted from it, and a look would cost each new
    /// key a request or two for nothing.
    pub fn searching(self, in_ci: bool) -> Threads {
        Threads {
            searching: in_ci,
            ..self
        }
    }

    /// Whether [`Threads::searching`] said to look on the platform.
    pub fn searches(&self) -> bool {
        self.searching
    }

    /// Whether the keys are the fleet's, on a state server that answers.
    pub fn is_shared(&self) -> bool {
        self.shared.as_ref().is_some_and(|s| s.is_up())
    }

    /// The ID a look for a thread found for the channel `name` of
    /// `destination`, so that the next look goes straight to its history.
    pub fn channel_id(&self, destination: &str, name: &str) -> Option<String> {
        self.get(destination, &channel_key(name)).map(|p| p.channel)
    }

    /// Remembers, as long as a key, the ID of the channel `name`; a record
    /// that cannot be kept costs the next look a channel list.
    pub fn remember_channel(&self, destination: &str, name: &str, id: &str) {
        let _ = self.remember(destination, &channel_key(name), id, "");
    }

    /// The oldest a remembered key's first message can be, in seconds since
    /// the epoch: a look for one on the platform goes back no further.
    pub fn oldest(&self) -> u64 {
        now_secs().saturating_sub(self.ttl.as_secs())
    }

    /// The state server and the name of `key`'s record on it, while it answers.
    fn on_server(&self, what: &str, destination: &str, key: &str) -> Option<(&Shared, String)> {
        let shared = self.shared.as_deref().filter(|s| s.is_up())?;
        let identity = self.identities.get(destination)?;
        Some((shared, shared.key(what, identity, key)))
    }

    /// The fleet's turn for one request to `destination`'s `channel`, one
    /// per `pace` for every host that shares the state server: `Ok(wait)`
    /// until it is this request's, `Err(wait)` when the next turn is beyond
    /// `within`; `None` without a state server (or once it failed), when
    /// each host keeps its own pace.
    pub fn fleet_turn(
        &self,
        destination: &str,
        channel: &str,
        pace: Duration,
        within: Duration,
    ) -> Option<Result<Duration, Duration>> {
        if pace.is_zero() {
            return None;
        }
        let (shared, name) = self.on_server("pace", destination, channel)?;
        shared.take_turn(&name, pace, within)
    }

    /// `payload` as it is sent now: into the thread of, or in place of, the
    /// message remembered under its key, if there is one.
    pub fn attach(&self, destination: &str, platform: &dyn Platform, payload: &Payload) -> Payload {
        let parent = payload
            .thread
            .as_ref()
            .and_then(|thread| self.get(destination, &thread.key));
        match parent {
            Some(parent) => platform.attach(payload, &parent),
            None => payload.clone(),
        }
    }

    /// Waits, until `deadline` at most, for the right to start the thread of a
    /// key nobody has posted under yet, so that two chimes starting it at
    /// once (the jobs of one CI run) make one thread, not two. `None` when
    /// it cannot be had in time: the post then goes ahead unguarded.
    pub async fn claim(&self, destination: &str, key: &str, deadline: Instant) -> Option<Claim> {
        if let Some(claim) = self.claim_shared(destination, key, deadline).await {
            return claim.map(|lock| Claim {
                _local: None,
                _shared: Some(lock),
            });
        }
        let lock = self.claim_local(destination, key, deadline).await?;
        Some(Claim {
            _local: Some(lock),
            _shared: None,
        })
    }

    /// [`Threads::claim`] on the state server: `None` when it has failed.
    /// The claim lasts as long as its holder may still be sending (its
    /// deadline, and a margin); a holder killed meanwhile leaves a claim that
    /// lasts as long, so a waiter waits half its own time at most and then
    /// posts unguarded, with the rest of its time to post in.
    async fn claim_shared(
        &self,
        destination: &str,
        key: &str,
        deadline: Instant,
    ) -> Option<Option<shared::Lock>> {
        let (_, name) = self.on_server("thread-claim", destination, key)?;
        let shared = self.shared.as_ref()?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let lease = remaining + CLAIM_MARGIN;
        let give_up = Instant::now() + remaining / 2;
        loop {
            match shared.lock(&name, Instant::now(), lease)? {
                Some(lock) => return Some(Some(lock)),
                None if Instant::now() + CLAIM_POLL < give_up => {
                    tokio::time::sleep(CLAIM_POLL).await;
                }
                None => return Some(None),
            }
        }
    }

    async fn claim_local(
        &self,
        destination: &str,
        key: &str,
        deadline: Instant,
    ) -> Option<FileLock> {
        let dir = self.dir(destination);
        fs::create_private_dir(&dir).ok()?;
        let path = dir.join(Threads::lock_file(key));
        loop {
            match FileLock::try_at(&path) {
                Ok(Some(lock)) => return Some(lock),
                Ok(None) if Instant::now() + CLAIM_POLL < deadline => {
                    tokio::time::sleep(CLAIM_POLL).await;
                }
                _ => return None,
            }
        }
    }

    /// Remembers where a delivered part went when its key is new, or, for an
    /// edit that had to post afresh, when its key pointed elsewhere; `known`
    /// is what the key pointed at when the part was sent.
    pub fn settle(
        &self,
        destination: &str,
        thread: &ThreadRef,
        known: Option<&Posted>,
        channel: &str,
        ts: &str,
    ) -> Result<(), SpoolError> {
        if known.is_some_and(|p| p.ts == ts || !thread.edit) {
            return Ok(());
        }
        self.remember(destination, &thread.key, channel, ts)
    }

    fn dir(&self, destination: &str) -> PathBuf {
        self.root.join(fs::dir_name(destination))
    }

    /// A key's record; a key too long for a file name is hashed.
    fn file(key: &str) -> String {
        fs::json_file_name(key)
    }

    /// The lock a first post under `key` holds; as long as its record's name.
    fn lock_file(key: &str) -> String {
        let file = Threads::file(key);
        format!("{}.lock", file.strip_suffix(".json").unwrap_or(&file))
    }

    /// What `key` points at on `destination`, unless unknown or expired.
    pub fn get(&self, destination: &str, key: &str) -> Option<Posted> {
        if let Some((shared, name)) = self.on_server("thread", destination, key)
            && let Some(found) = shared.get::<Posted>(&name)
        {
            return found;
        }
        let path = self.dir(destination).join(Threads::file(key));
        let bytes = fs::read_bounded(&path, MAX_RECORD_BYTES).ok()?;
        let posted: Posted = serde_json::from_slice(&bytes).ok()?;
        let age = now_secs().saturating_sub(posted.at);
        (age <= self.ttl.as_secs()).then_some(posted)
    }

    /// Remembers where `key`'s message went on `destination`.
    fn remember(
        &self,
        destination: &str,
        key: &str,
        channel: &str,
        ts: &str,
    ) -> Result<(), SpoolError> {
        let posted = Posted {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
            at: now_secs(),
        };
        if let Some((shared, name)) = self.on_server("thread", destination, key)
            && shared.put(&name, &posted, Some(self.ttl)).is_some()
        {
            return Ok(());
        }
        let dir = self.dir(destination);
        fs::create_private_dir(&dir)?;
        let json = serde_json::to_vec(&posted).expect("a thread record always serialises");
        let file = Threads::file(key);
        fs::write_atomic(&dir, &file, &json)?;
        self.forget_expired(&dir, &file);
        Ok(())
    }

    /// Removes records and locks untouched for longer than the keys live, so
    /// that a key per CI run does not pile up files forever. Done when a new
    /// key is remembered, which is rare enough to afford a directory listing.
    /// A lock is removed only when nobody holds it.
    fn forget_expired(&self, dir: &Path, keep: &str) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_str() == Some(keep) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() > self.ttl);
            if !old {
                continue;
            }
            match path.extension().and_then(|e| e.to_str()) {
                Some("json") => {
                    let _ = std::fs::remove_file(&path);
                }
                Some("lock") => {
                    if let Ok(Some(_free)) = FileLock::try_at(&path) {
                        let _ = std::fs::remove_file(&path);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The record of a channel's ID among the keys: a control character
/// starts it, which no key typed on a command line does.
fn channel_key(name: &str) -> String {
    format!("\u{1}channel {name}")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
