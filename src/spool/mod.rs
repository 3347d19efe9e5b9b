//! The spool: messages chime accepted but could not deliver yet, kept on disk
//! until they go through. Its promise is sendmail's: a message chime accepted
//! is delivered or still here, visibly — never silently lost, and never posted
//! twice in normal operation.
//!
//! # Layout
//!
//! ```text
//! <state dir>/profiles/<profile>/                     0700, see state.rs
//! └── spool/
//!     ├── pending/<destination>/                       0700, one per destination
//!     │   ├── .lock                                    flock'd by whoever sends to it
//!     │   ├── .due                                     when the oldest entry is next due (a hint)
//!     │   ├── <id>.msg                                 0600, one message for that destination
//!     │   ├── .<id>.done                               delivered, being unlinked (reaper.rs)
//!     │   └── <id>.sending                             0600, a message in flight (inflight.rs)
//!     ├── held/<destination>/<id>.msg                  accepted to go later (held.rs)
//!     │   └── .next                                    when the first is due (a hint)
//!     ├── dead/<destination>/<id>.msg                  refused for good, too old, or its
//!     │                                                destination is no longer the same
//!     └── corrupt/<destination>.<id>.msg               damaged or unreadable; kept for a human
//! ```
//!
//! Each profile has a spool of its own: a destination's name means something
//! only in its profile. A destination's directory name is its name with
//! anything outside `[A-Za-z0-9._-]` percent-encoded, or, when that is too
//! long for a file name, its start and a hash, the whole name kept inside in
//! `.name`. An id is 24 hex digits: milliseconds since the epoch, the process
//! id and a per-process counter, so ids sort in arrival order and the parts a
//! process writes keep their order. People see, type and script with
//! [`short_id`] instead, which differs from its first digit where these
//! differ only at the end. Every folder is checked before it is used
//! (`fs::check_own_dir`: ours, private, not a link) and every file is opened
//! without following a link.
//!
//! # Entry format (version 1)
//!
//! ```text
//! chime-spool 1 <crc32 of the rest, 8 hex digits> <length of the rest>\n
//! <one JSON object: id, destination, created, attempts, retried_after,
//!  next_attempt, last_error, parts, payloads, identity, hold>
//! ```
//!
//! `attempts` counts every try over the entry's life; `retried_after` (absent
//! when 0) is what it was at the last `chime spool retry`, so `max_attempts`
//! counts the tries since while the history stays.
//!
//! `identity` is a hash of the kind, URL and credentials of the destination
//! that accepted the message (`config::Destination::identity`): a drain
//! dead-letters, rather than sends, an entry whose destination has changed.
//!
//! The JSON holds the destination's *name* and the rendered payloads — never a
//! URL or a token: secrets stay in the profile and are read from it at flush
//! time. A webhook body template's `${NAME}` stays a name in its payload, with
//! its place in a payload's `secrets` (`[{"at": 7, "name": "NAME"}]`), and is
//! filled in from the profile as the request is built. `payloads` are the
//! parts still to send, in order; a partly delivered message is rewritten
//! with only what is left.
//!
//! A profile-less send (`CHIME_URL`, see `settings/url.rs`) has a profile
//! too, made by chime: `@url`, whose one destination `CHIME_URL` names its
//! URL as `${CHIME_URL}`. Its entries are kept in `profiles/@url/` like any
//! other's; `chime flush` builds that profile again from the environment, so
//! the identity check sends an entry only to the webhook it was queued for,
//! and without the variable the entries wait. A URL typed after `--to` is
//! never queued by `send` or `run`; what a `pipe` to it spills is kept in a
//! profile `@url-<identity>` that only a later send or pipe to the same URL
//! drains.
//!
//! # Invariants
//!
//! 1. Every write is atomic and durable: write `.<name>.<random>.tmp` (created
//!    anew, never through a link) in the target's own directory, fsync it,
//!    rename it over the target, fsync the directory.
//!    Readers skip dot-files, so a temp file left by a crash is never read
//!    (and is swept by the next flush once it is an hour old).
//! 2. Only the holder of a destination's `.lock` (an exclusive `flock`) sends
//!    that destination's entries, rewrites or removes them. The kernel drops the
//!    lock when its holder dies, so a killed flush's claim is free for the very
//!    next one — no lease to wait out. Two flushers never send the same entry.
//! 3. An entry is removed only after its platform confirmed delivery. A drain
//!    takes each delivered entry out at once — renamed to `.<id>.done`, which
//!    no reader sees, then unlinked by a few threads of its own while the next
//!    entries go (`reaper.rs`) — and fsyncs the directory once for up to 64
//!    removals or 25 ms (group commit, `deliver/drain.rs`), and always before
//!    it returns: so before a send's own message goes, and before a flush says
//!    what it delivered. The argument: a rename is in the kernel the moment it
//!    returns, so a killed process (even by SIGKILL) can repeat at most the one
//!    entry that was in flight, as before. Only a power cut or a kernel crash
//!    can undo renames not yet fsync'd, and what it undoes is a *removal*: the
//!    entry comes back, whole (it was written durably, 1), and is sent again —
//!    at most 64 duplicates per destination being drained. It can never make
//!    a loss: nothing is removed before its delivery was confirmed, and nothing
//!    not yet delivered depends on the unsynced state. (One directory fsync per
//!    message, ≈ 320 µs, and one unlink in line, 0.3–1.8 ms with `discard`,
//!    capped a flush at 1,000–2,600 messages/s.)
//! 4. Within a destination, entries go out in id order, and a later entry
//!    never overtakes an earlier one that is still pending, nor one still in
//!    flight (`inflight.rs`). (A file that cannot be read is not an entry to
//!    wait for: see 5.)
//! 5. A file that fails its checksum, does not parse, or cannot be read at all
//!    (a directory named `<id>.msg`, a file without read permission) is moved
//!    to `corrupt/` with a warning — never deleted, never a panic — and the rest
//!    go on. One that cannot even be moved stays where it is and is skipped with
//!    a warning at every read, so it never blocks its destination. Only errors
//!    of the process rather than of the file (out of file descriptors or memory)
//!    stop a read, since trying again later may work.
//! 6. An entry changes state (pending → dead, dead → pending) by writing the
//!    new copy durably before removing the old one, so a failure or a crash in
//!    between leaves it in both places, never in neither. Creating a directory
//!    fsyncs its parent, so a new `pending/<destination>/` survives with the
//!    entry renamed into it.
//!
//! # What a crash leaves, step by step
//!
//! - A send killed before its message settled: its `<id>.sending` is
//!   adopted as a pending entry by the next drain (the one duplicate allowed).
//! - While writing the temp file, or before the rename: a stray dot-file; the
//!   entry does not exist yet, and the sender has not reported "queued".
//! - After the rename, before the directory fsync: the entry may or may not
//!   survive a power loss; a process kill keeps it.
//! - While sending: the lock is released; the entry is still pending; the next
//!   flush sends it again (the one duplicate allowed).
//! - After delivery, before the removal: as above, one duplicate at most.
//! - After removals, before their shared fsync: a kill keeps them; a power cut
//!   may bring up to 64 delivered entries back, sent again (3). A kill before
//!   the reaper unlinked them leaves `.done` files, swept by the next drain.
//!
//! `.due` is a hint, not an entry: written without fsync by a drain that
//! stopped at an entry not yet due, removed when a removal, a revive or a
//! drain could make it wrong, and ignored when the destination's identity
//! changed. Lost, stale or missing, it costs a send the listing it saves
//! (a send reads it to queue behind a backlog that is not due without
//! listing it). Wrong, it can only make a new message queue behind older
//! ones for the next flush: never lose one, nor change the order.
//! - While rewriting after a failure: the old version or the new one stays.
//! - While moving an entry between pending and dead (dead-lettering, or
//!   `chime spool retry`): once the new copy is written and before the old one
//!   is removed, the entry is pending and dead under one id, and both
//!   `spool list` and `spool list --dead` show it. The next flush sends (or
//!   dead-letters again) the pending copy. An id naming both acts on the dead
//!   copy: `chime spool retry ID` finishes an interrupted retry, and
//!   `chime spool drop ID` removes the dead copy and keeps the pending one.

mod backlog;
mod entry;
mod error;
mod files;
pub(crate) mod fs;
mod held;
mod inflight;
mod listing;
pub(crate) mod lock;
mod policy;
mod reaper;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use entry::{Entry, Outline};
pub use error::SpoolError;
pub use held::{Heading, Hold, Note, Why};
pub use inflight::InFlight;
pub use listing::{Kind, Name};
pub use lock::DestinationLock;
pub use policy::{Policy, jitter, when};
pub use reaper::Reaper;

/// Where an entry sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Pending,
    Dead,
    /// Accepted to go later: see `held.rs`.
    Held,
}

impl State {
    fn dir(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Dead => "dead",
            State::Held => "held",
        }
    }
}

impl Found {
    /// `ID (state, destination)`, for a list of matches.
    fn describe(&self) -> String {
        let id = short_id(&self.id);
        format!("{id} ({}, {})", self.state.dir(), self.destination)
    }
}

/// How many hex digits of an id's hash people see: 48 bits, so that 50,000
/// entries share one by chance about once in 200,000 spools.
const SHORT_ID: usize = 12;

/// An entry's id as people see and type it: the start of its hash, so that
/// ids made a minute apart (or by one process) differ from the first digit,
/// where the id itself, made to sort in arrival order (invariant 4), differs
/// only at the end. [`Spool::find`] takes any unique start of it.
pub fn short_id(id: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(id.as_bytes());
    let hex: String = hash[..SHORT_ID / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    hex
}

/// A spool file read back (as an entry, or as an [`Outline`] of one), or
/// why it could not be.
pub enum Read<T = Entry> {
    Entry(T),
    /// Not usable as an entry: moved to `corrupt/`, or skipped where it is when
    /// it cannot be moved. The string says why and which.
    Damaged(String),
}

/// Where `Spool::find` found an entry.
#[derive(Debug)]
pub struct Found {
    pub state: State,
    pub destination: String,
    pub id: String,
}

/// The most a spool file may hold: far more than any message chime renders
/// (stdin is read up to 16 MiB), so only a file chime did not write is bigger.
const MAX_ENTRY_BYTES: u64 = 256 << 20;

/// One profile's spool.
pub struct Spool {
    root: PathBuf,
    /// The profile it belongs to, as people name it.
    profile: String,
    /// Folders that passed their checks in this process: checked once, as
    /// only this user could change them since (a stream checks its
    /// destination's folder once, not at every batch).
    trusted: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
}

impl Spool {
    /// The spool kept in `root` for the profile people call `profile`; see
    /// `state.rs` for where that is and why it is trusted.
    pub fn at(root: PathBuf, profile: String) -> Spool {
        Spool {
            root,
            profile,
            trusted: Default::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn profile(&self) -> &str {
        &self.profile
    }

    fn dir(&self, state: State, destination: &str) -> PathBuf {
        self.root.join(state.dir()).join(fs::dir_name(destination))
    }

    /// `destination`'s folder in `state`, once it and the folders above it
    /// in the spool passed their checks (`fs::check_own_dir`): a folder
    /// someone swapped for a link, or made their own, is never read,
    /// written or emptied. One that does not exist yet holds nothing.
    fn checked_dir(&self, state: State, destination: &str) -> Result<PathBuf, SpoolError> {
        let dir = self.dir(state, destination);
        let known = |dir: &PathBuf| self.trusted.lock().is_ok_and(|t| t.contains(dir));
        if known(&dir) {
            return Ok(dir);
        }
        for folder in [self.root.as_path(), &self.root.join(state.dir()), &dir] {
            fs::check_if_there(folder)?;
        }
        // Only a folder that exists is vouched for: one made later is
        // checked when it is made.
        if dir.is_dir()
            && let Ok(mut trusted) = self.trusted.lock()
        {
            trusted.insert(dir.clone());
        }
        Ok(dir)
    }

    /// Creates `destination`'s folder in `state` if need be; one whose name
    /// had to be hashed keeps the name whole inside.
    fn make_dir(&self, state: State, destination: &str) -> Result<PathBuf, SpoolError> {
        let dir = self.checked_dir(state, destination)?;
        fs::create_private_dir(&dir)?;
        let encoded = fs::dir_name(destination);
        if fs::is_hashed(&encoded) && !dir.join(fs::NAME_FILE).exists() {
            fs::write_atomic(&dir, fs::NAME_FILE, destination.as_bytes())?;
        }
        Ok(dir)
    }

    /// Writes a new entry (see [`Entry::new`]) and gives it back, calling
    /// `noted` the moment it is there, before the directory's fsync (see
    /// `fs::write_atomic_noting`).
    pub fn add_noting(
        &self,
        state: State,
        entry: Entry,
        noted: &mut dyn FnMut(),
    ) -> Result<Entry, SpoolError> {
        let dir = self.make_dir(state, &entry.destination)?;
        fs::write_atomic_noting(&dir, &entry.file_name(), &entry.encode(), noted)?;
        Ok(entry)
    }

    /// Writes (or rewrites) `entry` atomically and durably.
    pub fn write(&self, state: State, entry: &Entry) -> Result<(), SpoolError> {
        let dir = self.make_dir(state, &entry.destination)?;
        fs::write_atomic(&dir, &entry.file_name(), &entry.encode())
    }

    /// Removes a delivered entry, durably, before anything else is sent.
    pub fn remove(&self, state: State, entry: &Entry) -> Result<(), SpoolError> {
        let dir = self.checked_dir(state, &entry.destination)?;
        if state == State::Pending {
            self.forget_due(&entry.destination);
        }
        fs::remove_durably(&dir, &entry.file_name())
    }

    /// Takes a delivered entry out of the spool: renamed to a dot-file at
    /// once, so that nothing reads or sends it again, and unlinked by
    /// `reaper` while the next entries go (see `reaper.rs`). Durable only
    /// with the next [`Spool::sync`]: a power cut before that can only bring
    /// a delivered entry back — a duplicate, never a loss (invariant 3).
    pub fn retire_delivered(&self, entry: &Entry, reaper: &Reaper) -> Result<(), SpoolError> {
        let dir = self.checked_dir(State::Pending, &entry.destination)?;
        let path = dir.join(entry.file_name());
        let done = dir.join(format!(".{}{}", entry.id, reaper::DONE));
        match std::fs::rename(&path, &done) {
            Ok(()) => {
                reaper.unlink(done);
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(SpoolError::io("remove", &path, err)),
        }
    }

    /// Makes what was removed from `destination`'s pending folder durable.
    pub fn sync(&self, destination: &str) -> Result<(), SpoolError> {
        fs::sync_dir(&self.checked_dir(State::Pending, destination)?)
    }

    /// Moves `entry` from pending to dead, recording why.
    pub fn bury(&self, mut entry: Entry, reason: String) -> Result<Entry, SpoolError> {
        entry.last_error = Some(reason);
        self.write(State::Dead, &entry)?;
        self.remove(State::Pending, &entry)?;
        Ok(entry)
    }

    /// Moves a dead entry back to pending, due now: the pending copy first,
    /// then the dead one goes (invariant 6). On an error the dead copy is
    /// still there, and perhaps a pending one as well.
    pub fn revive(&self, entry: Entry) -> Result<Entry, SpoolError> {
        // Asking for it again accepts the destination as it is now, should
        // it have changed since (see `Entry::identity`).
        let revived = Entry {
            next_attempt: SystemTime::now(),
            retried_after: entry.attempts,
            identity: None,
            ..entry.clone()
        };
        // A pending copy already there is what an interrupted revive left; a
        // flush may be sending it, and only its lock holder may rewrite it.
        if !self.holds(State::Pending, &entry) {
            self.write(State::Pending, &revived)?;
        }
        self.forget_due(&entry.destination);
        self.remove(State::Dead, &entry)?;
        Ok(revived)
    }

    /// True when `state` has a file for `entry`'s id.
    pub fn holds(&self, state: State, entry: &Entry) -> bool {
        let path = self.dir(state, &entry.destination).join(entry.file_name());
        std::fs::symlink_metadata(path).is_ok()
    }

    /// Destinations with at least one entry in `state`, by profile name.
    pub fn destinations(&self, state: State) -> Result<Vec<String>, SpoolError> {
        let dir = self.root.join(state.dir());
        fs::check_if_there(&self.root)?;
        fs::check_if_there(&dir)?;
        let mut names: Vec<String> = fs::list(&dir)?
            .into_iter()
            .filter_map(|encoded| {
                fs::decode_name(&encoded).or_else(|| {
                    let path = dir.join(&encoded).join(fs::NAME_FILE);
                    let name = String::from_utf8(fs::read_bounded(&path, 4096).ok()?).ok()?;
                    // The name must be the one the folder was made for.
                    (fs::dir_name(&name) == encoded).then_some(name)
                })
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// The file names of `destination`'s entries, oldest first.
    pub fn ids(&self, state: State, destination: &str) -> Result<Vec<String>, SpoolError> {
        let mut names: Vec<String> = fs::list(&self.checked_dir(state, destination)?)?
            .into_iter()
            .filter_map(|name| name.strip_suffix(".msg").map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    /// True when any destination has pending entries.
    pub fn has_any_pending(&self) -> bool {
        let names = self.destinations(State::Pending).unwrap_or_default();
        names.iter().any(|name| self.has_pending(name, None))
    }

    /// Reads one entry, quarantining it when it is damaged or unreadable
    /// (invariant 5).
    pub fn read(&self, state: State, destination: &str, id: &str) -> Result<Read, SpoolError> {
        let dir = self.checked_dir(state, destination)?;
        let path = dir.join(format!("{id}.msg"));
        let bytes = match fs::read_bounded(&path, MAX_ENTRY_BYTES) {
            Ok(bytes) => bytes,
            Err(fs::Unreadable::Missing) => return Err(SpoolError::NotFound(id.to_owned())),
            Err(fs::Unreadable::Transient(err)) => return Err(SpoolError::io("read", &path, err)),
            Err(fs::Unreadable::Unusable(why)) => {
                return Ok(self.quarantine(&path, destination, id, why));
            }
        };
        match Entry::decode(&bytes) {
            Ok(entry) if entry.id == id && entry.destination == destination => {
                Ok(Read::Entry(entry))
            }
            Ok(_) => Ok(self.quarantine(
                &path,
                destination,
                id,
                "its contents do not match its name".into(),
            )),
            Err(why) => Ok(self.quarantine(&path, destination, id, why)),
        }
    }

    /// Moves a damaged file to `corrupt/`, or leaves it and says so when it
    /// cannot be moved: either way the caller goes on with the rest.
    fn quarantine<T>(&self, path: &Path, destination: &str, id: &str, why: String) -> Read<T> {
        let corrupt = self.root.join("corrupt");
        let target = corrupt.join(format!("{}.{id}.msg", fs::dir_name(destination)));
        let moved = fs::create_private_dir(&corrupt).and_then(|()| {
            std::fs::rename(path, &target).map_err(|e| SpoolError::io("move", path, e))
        });
        if let Err(err) = moved {
            return Read::Damaged(format!(
                "{why}; skipped, as it cannot be moved aside: {err}"
            ));
        }
        // The new name made durable before the old one's removal, so no crash
        // keeps the removal without the new name. Once renamed the file is safe
        // in either place, so a failed fsync is not worth a failure.
        let _ = fs::sync_dir(&corrupt);
        let _ = fs::sync_dir(path.parent().unwrap_or(&self.root));
        Read::Damaged(format!("{why}; moved to {}", target.display()))
    }

    /// Finds the one entry whose id as shown ([`short_id`]) starts with
    /// `prefix`, or whose whole id is `prefix`, pending or dead.
    ///
    /// Several ids matching is an error that lists them, never a guess. One id
    /// both pending and dead is what an interrupted move leaves (invariant 6);
    /// the dead copy is the one found, so a retry finishes the move and a drop
    /// keeps the pending copy.
    pub fn find(&self, prefix: &str) -> Result<Found, SpoolError> {
        if prefix.is_empty() {
            return Err(SpoolError::NotFound(String::new()));
        }
        let mut found = Vec::new();
        for state in [State::Dead, State::Pending, State::Held] {
            for destination in self.destinations(state)? {
                for id in self.ids(state, &destination)? {
                    if short_id(&id).starts_with(prefix) || id == prefix {
                        found.push(Found {
                            state,
                            destination: destination.clone(),
                            id,
                        });
                    }
                }
            }
        }
        // Stable: for one id, the dead copy stays ahead of the pending one.
        found.sort_by(|a, b| a.id.cmp(&b.id));
        let mut ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
        ids.dedup();
        match ids.len() {
            0 => Err(SpoolError::NotFound(prefix.to_owned())),
            1 => Ok(found.swap_remove(0)),
            _ => Err(SpoolError::Ambiguous {
                prefix: prefix.to_owned(),
                matches: found.iter().map(Found::describe).collect(),
            }),
        }
    }

    /// Takes `destination`'s lock if no one else holds it.
    pub fn try_lock(&self, destination: &str) -> Result<Option<DestinationLock>, SpoolError> {
        let dir = self.make_dir(State::Pending, destination)?;
        lock::DestinationLock::try_acquire(&dir)
    }

    /// Whether an entry `id` of `destination` is on disk: pending, in
    /// flight or dead.
    pub fn has_id(&self, destination: &str, id: &str) -> bool {
        let there = |state: State, suffix: &str| {
            let path = self.dir(state, destination).join(format!("{id}{suffix}"));
            std::fs::symlink_metadata(path).is_ok()
        };
        there(State::Pending, ".msg")
            || there(State::Pending, inflight::SENDING)
            || there(State::Dead, ".msg")
    }

    /// Who holds `destination`'s lock (see [`lock::FileLock::holder`]), for
    /// a message saying why its entries wait.
    pub fn lock_holder(&self, destination: &str) -> String {
        lock::DestinationLock::holder(&self.dir(State::Pending, destination))
    }

    /// Removes temp files a crash left behind, once they are old enough that no
    /// live writer can still own them.
    pub fn sweep(&self, destination: &str) {
        reaper::sweep(
            &self.dir(State::Pending, destination),
            Duration::from_secs(3600),
        );
    }
}
