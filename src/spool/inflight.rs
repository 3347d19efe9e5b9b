//! Messages on their way: a message is on disk before chime waits for
//! anything, so that no way of stopping chime — SIGKILL included — loses it.
//!
//! Before it sends, or waits for a backlog, a `chime send` (and each batch of
//! `chime pipe`, and `chime run`'s report) writes its message as
//! `pending/<destination>/<id>.sending` and holds an exclusive `flock` on that
//! file for as long as the file lives. Delivered, the file is removed. Kept
//! (a failure, a refusal), the entry `<id>.msg` is written durably first, then
//! the file is removed. Stopped by a signal, or dropped in any other way, the
//! file is renamed `<id>.msg` as it is: a pending entry, due now.
//!
//! A `.sending` file whose lock nobody holds was left by a sender that died
//! (SIGKILL, a crash, a power cut): it is an orphan, and whoever drains the
//! destination (holding its lock) adopts it by renaming it `<id>.msg`. Its
//! message may have been delivered just before the sender died: that is the
//! one duplicate a crash may cost. While its sender lives, a message in flight
//! is no backlog — sends racing to a healthy destination do not wait for each
//! other — but a drain never passes it, so that a later entry cannot overtake
//! it should it fail.
//!
//! The file is not fsync'd: what a killed process wrote is the kernel's and
//! survives it, and the fsyncs would double what a send costs (bench/README.md).
//! Only a power cut while the message is in flight can lose it, as it loses
//! the sender, and a torn file is quarantined like any damaged entry.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Entry, Outline, Spool, SpoolError, State, fs};

/// The suffix of a message in flight.
pub const SENDING: &str = ".sending";

/// A message in flight, held by this process until it is settled.
pub struct InFlight {
    /// Holds the `flock` that says the sender lives; `None` once settled.
    file: Option<File>,
    dir: PathBuf,
    id: String,
}

impl Spool {
    /// Puts `entry` on disk as in flight, before anything is sent or awaited.
    pub fn begin(&self, entry: &Entry) -> Result<InFlight, SpoolError> {
        let dir = self.make_dir(State::Pending, &entry.destination)?;
        let name = format!("{}{SENDING}", entry.id);
        let (temp, mut file) = fs::create_temp(&dir, &name)?;
        let written = match fs::injected("write") {
            Some(err) => Err(err),
            None => file
                .try_lock()
                .map_err(std::io::Error::other)
                .and_then(|()| file.write_all(&entry.encode())),
        };
        let renamed = written.and_then(|()| std::fs::rename(&temp, dir.join(&name)));
        if let Err(err) = renamed {
            let _ = std::fs::remove_file(&temp);
            return Err(SpoolError::io("write", &temp, err));
        }
        Ok(InFlight {
            file: Some(file),
            dir,
            id: entry.id.clone(),
        })
    }

    /// Adopts `destination`'s orphaned messages in flight (see the module
    /// essay) and gives the oldest id still in flight by a live sender, if
    /// any: a drain does not pass it. Call with the destination's lock held.
    pub fn adopt_orphans(&self, destination: &str) -> Result<Option<String>, SpoolError> {
        let dir = self.checked_dir(State::Pending, destination)?;
        let mut live: Option<String> = None;
        for id in sending_ids(&dir)? {
            match Orphan::try_claim(&dir, &id) {
                Claim::Orphan(orphan) => orphan.adopt()?,
                Claim::Live => {
                    live = Some(live.map_or(id.clone(), |l| l.min(id)));
                }
                Claim::Gone => {}
            }
        }
        Ok(live)
    }

    /// True when `names`, listed from `dir`, hold a message in flight that
    /// no live sender holds (other than `own`): a backlog to deliver first.
    pub(super) fn has_orphans(&self, dir: &Path, names: &[String], own: Option<&str>) -> bool {
        names
            .iter()
            .filter_map(|name| name.strip_suffix(SENDING))
            .filter(|id| Some(*id) != own)
            .any(|id| matches!(Orphan::try_claim(dir, id), Claim::Orphan(_)))
    }

    /// `destination`'s messages in flight, oldest first, each readable as an
    /// entry, with whether a live sender holds it: for `chime spool purge`.
    pub fn in_flight(&self, destination: &str) -> Vec<(Entry, bool)> {
        let Ok(dir) = self.checked_dir(State::Pending, destination) else {
            return Vec::new();
        };
        sending_ids(&dir)
            .unwrap_or_default()
            .iter()
            .filter_map(|id| read_sending(&dir, id, Entry::decode))
            .collect()
    }

    /// `destination`'s message in flight `id` as `chime spool list` shows
    /// it, with whether a live sender holds it; `None` once it has settled,
    /// or while it cannot be read (its sender may be writing it: it is not
    /// quarantined, see `listing.rs`).
    pub fn in_flight_outline(&self, destination: &str, id: &str) -> Option<(Outline, bool)> {
        let dir = self.checked_dir(State::Pending, destination).ok()?;
        read_sending(&dir, id, Outline::decode)
    }
}

impl InFlight {
    pub fn id(&self) -> &str {
        &self.id
    }

    fn path(&self) -> PathBuf {
        self.dir.join(format!("{}{SENDING}", self.id))
    }

    /// Delivered: nothing to keep. The removal is not fsync'd either: a power
    /// cut that undoes it costs one duplicate, which a crash may.
    pub fn delivered(mut self) {
        let _ = std::fs::remove_file(self.path());
        self.file = None;
    }

    /// An entry under this id has been written durably, pending or dead:
    /// the copy in flight goes.
    pub fn replaced(mut self) {
        let _ = std::fs::remove_file(self.path());
        self.file = None;
    }

    /// Keeps the message as it was begun: a pending entry, due now. Used
    /// when it is stopped, and when a new copy could not be written (a full
    /// disk still has room for a rename). Gives the id it is kept under.
    pub fn keep(mut self) -> Result<String, SpoolError> {
        self.settle_as_pending()?;
        Ok(self.id.clone())
    }

    fn settle_as_pending(&mut self) -> Result<(), SpoolError> {
        if self.file.is_none() {
            return Ok(());
        }
        let target = self.dir.join(format!("{}.msg", self.id));
        let renamed = std::fs::rename(self.path(), &target);
        // The lock goes only once the file has its new name: an adopter that
        // got it before would find the in-flight name gone.
        self.file = None;
        renamed.map_err(|e| SpoolError::io("keep", &target, e))?;
        fs::sync_dir(&self.dir)
    }
}

impl Drop for InFlight {
    /// A message whose send was cancelled (a signal, a timeout of the whole
    /// stream) is kept as it was begun, never dropped.
    fn drop(&mut self) {
        let _ = self.settle_as_pending();
    }
}

/// The `.sending` file `id` in `dir` decoded, with whether a live sender holds it.
fn read_sending<T>(
    dir: &Path,
    id: &str,
    decode: fn(&[u8]) -> Result<T, String>,
) -> Option<(T, bool)> {
    let path = dir.join(format!("{id}{SENDING}"));
    let read = decode(&fs::read_bounded(&path, super::MAX_ENTRY_BYTES).ok()?).ok()?;
    Some((read, matches!(Orphan::try_claim(dir, id), Claim::Live)))
}

/// The ids of the `.sending` files in `dir`, oldest first.
fn sending_ids(dir: &Path) -> Result<Vec<String>, SpoolError> {
    let mut ids: Vec<String> = fs::names(dir)?
        .filter_map(|name| name.strip_suffix(SENDING).map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}

/// What a `.sending` file turned out to be.
enum Claim {
    /// Nobody holds it: its sender is gone. Holding this holds its lock.
    Orphan(Orphan),
    /// A live sender holds it.
    Live,
    /// It was settled (removed or renamed) meanwhile, or is not ours.
    Gone,
}

struct Orphan {
    _file: File,
    dir: PathBuf,
    id: String,
}

impl Orphan {
    fn try_claim(dir: &Path, id: &str) -> Claim {
        let path = dir.join(format!("{id}{SENDING}"));
        let Ok(file) = fs::open_nofollow(&path) else {
            return Claim::Gone;
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Claim::Live,
            Err(std::fs::TryLockError::Error(_)) => return Claim::Gone,
        }
        // Its sender may have settled it between our open and our lock: a
        // removed file has no links left, a renamed one no longer this name.
        let same = std::fs::symlink_metadata(&path)
            .ok()
            .zip(file.metadata().ok())
            .is_some_and(|(now, held)| now.ino() == held.ino() && held.nlink() > 0);
        if !same {
            return Claim::Gone;
        }
        Claim::Orphan(Orphan {
            _file: file,
            dir: dir.to_owned(),
            id: id.to_owned(),
        })
    }

    /// Makes the orphan an ordinary pending entry under its own id, so it
    /// keeps its place in the order.
    fn adopt(self) -> Result<(), SpoolError> {
        let from = self.dir.join(format!("{}{SENDING}", self.id));
        let to = self.dir.join(format!("{}.msg", self.id));
        std::fs::rename(&from, &to).map_err(|e| SpoolError::io("adopt", &from, e))?;
        fs::sync_dir(&self.dir)
    }
}
