//! Windows and counters: what deduplication and a route's `limit` remember
//! between processes, one small JSON file per destination and key under the
//! profile's `windows/`, each changed only under the key's own lock.
//!
//! Every change is read, decided and written while holding the key's
//! `flock` (`<key>.lock` beside the record), so fifty chimes sending the same
//! alert at the same second see each other's counts: one is first and posts,
//! forty-nine count. The record is written atomically but not fsync'd: a power
//! cut may cost a count, a kill never does, and a repeat costs no disk flush.
//!
//! With a state server (`state/shared.rs`), the records are kept there
//! instead, each changed under a lock of the server's (`SET NX PX`), and a
//! limit's count is one script on the server (`place.rs` says where each
//! record is): the hosts of a fleet share one window per alert and one count
//! per route.
//!
//! A dedupe window keeps what its first message said ([`Shown`]), so that
//! whoever closes the window — the next send under the key once it is over,
//! or a flush — can report the count: by editing the first message where the
//! kind edits, or in a message of its own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::shared::{self, Shared};

mod place;

use crate::config::Profile;
use crate::message::{Level, Link};
use crate::spool::lock::FileLock;
use crate::spool::{Spool, SpoolError, fs};
use place::{Held, Place};

/// How long a chime waits for another to finish with a key before it goes
/// on without the window (it then posts: a repeat is better than a loss).
const LOCK_WAIT: Duration = Duration::from_secs(10);
const LOCK_POLL: Duration = Duration::from_millis(2);
const MAX_RECORD_BYTES: u64 = 256 << 10;

/// How a dedupe window's record is named, and a limit's count, so that no
/// key of one can name the other's file.
const DEDUPE: &str = "dedupe";
const LIMIT: &str = "limit";

/// A window a host opened stays on the state server this long past its end
/// at most, for a flush to report; then the server forgets it.
const SHARED_KEEP: Duration = Duration::from_secs(7 * 86_400);
/// Beside the windows, while some are open on a state server: what tells a
/// `chime flush` of every profile that this one has windows to close.
pub(super) const SHARED_MARK: &str = ".shared";

/// The windows kept for one profile.
pub struct Windows {
    root: PathBuf,
    shared: Option<Arc<Shared>>,
    /// The profile's destinations by state key, which names their records
    /// on the server: a host names a destination as its profile does.
    names: HashMap<String, String>,
}

/// An open dedupe window.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Window {
    pub key: String,
    pub destination: String,
    pub level: Level,
    #[serde(with = "millis")]
    pub opened: SystemTime,
    #[serde(with = "millis")]
    pub until: SystemTime,
    /// Repeats counted since the first message.
    pub repeats: u64,
    #[serde(with = "millis")]
    pub last: SystemTime,
    /// The thread key the first message carried, for an edit of it.
    pub thread: Option<String>,
    pub shown: Shown,
    /// Who took the first message (`config::Destination::identity`): the
    /// count goes to no other.
    pub identity: String,
}

/// What a window's first message said, to say it again with its count.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Shown {
    pub title: Option<String>,
    /// In the destination's markup, as it was posted.
    pub text: String,
    /// Its first line as typed, for a follow-up that names it.
    pub line: String,
    pub fields: Vec<(String, String)>,
    pub links: Vec<Link>,
    pub code: bool,
    pub channel: Option<String>,
}

/// What [`Windows::enter`] decided.
pub enum Entered {
    /// The first message of a new window: post it, and open the window
    /// with the guard once it is kept or delivered.
    First(Guard),
    /// A repeat inside the window, counted; `window` as it is now.
    Repeat(Box<Window>),
}

/// A key's lock, held while its first message goes on disk. The window
/// opens only when [`Guard::open`] is called, once the message is kept or
/// delivered; a guard dropped without it (a kill, a failure, a message
/// neither sent nor kept) leaves no window, and the next message under the
/// key is a first one: posted twice perhaps, never counted against a
/// message that never went.
pub struct Guard {
    opens: Box<(Place, Window)>,
    _lock: Held,
}

impl Guard {
    /// Opens the window, now that its first message is safe, and lets go
    /// of the key. A window that cannot be written is not open: the next
    /// message under the key posts.
    pub fn open(self) {
        let (place, window) = &*self.opens;
        let _ = place.open(window);
    }
}

/// A limit's count in its current window.
#[derive(Serialize, Deserialize)]
struct Counter {
    #[serde(with = "millis")]
    start: SystemTime,
    count: u32,
}

impl Windows {
    /// The windows kept in the state directory that holds `spool`, or on
    /// its profile's state server.
    pub fn beside(spool: &Spool) -> Windows {
        let state_dir = spool.root().parent().unwrap_or(spool.root());
        Windows {
            root: state_dir.join("windows"),
            shared: shared::of(state_dir),
            names: HashMap::new(),
        }
    }

    /// [`Windows::beside`], knowing `profile`'s destinations, so that
    /// [`Windows::close_due`] closes theirs on the state server too.
    pub fn of_profile(spool: &Spool, profile: &Profile) -> Windows {
        let names = profile
            .destinations
            .iter()
            .map(|(name, d)| (d.state_key(), name.clone()))
            .collect();
        Windows {
            names,
            ..Windows::beside(spool)
        }
    }

    /// Where the record `key` of kind `what` for the destination whose
    /// state key is `scope` (named `destination` here) is kept: on the
    /// state server while it answers, else in a file named by `what` and
    /// the key.
    fn place(&self, what: &str, scope: &str, destination: &str, key: &str) -> Place {
        match self.shared.as_ref().filter(|s| s.is_up()) {
            Some(shared) => Place::Server {
                key: shared.key(what, scope, key),
                due: shared.key(DUE, scope, ""),
                shared: shared.clone(),
            },
            None => Place::File {
                dir: self.dir(destination),
                file: fs::json_file_name(&format!("{what}-{key}")),
            },
        }
    }

    /// The record's place, locked: on the state server, or, if the server
    /// fails now, in the state directory from here on.
    fn locked(
        &self,
        what: &str,
        scope: &str,
        destination: &str,
        key: &str,
    ) -> Result<(Place, Held), SpoolError> {
        let place = self.place(what, scope, destination, key);
        match place.lock() {
            Ok(lock) => Ok((place, lock)),
            Err(_) if matches!(place, Place::Server { ref shared, .. } if !shared.is_up()) => {
                let place = self.place(what, scope, destination, key);
                let lock = place.lock()?;
                Ok((place, lock))
            }
            Err(err) => Err(err),
        }
    }

    /// Counts a message under `key` for `destination`, or opens a window for
    /// it when none is open, the open one is over, or it is of another level
    /// (an error after warnings is news). `window` is the one to open; a
    /// window it ends with repeats to report is handed to `report` first,
    /// under the lock, and an error there leaves it open. `scope` is the
    /// destination's state key (`Destination::state_key`).
    pub fn enter(
        &self,
        mut window: Window,
        scope: &str,
        length: Duration,
        report: &mut dyn FnMut(&Window) -> Result<(), SpoolError>,
    ) -> Result<Entered, SpoolError> {
        let (place, lock) = self.locked(DEDUPE, scope, &window.destination, &window.key)?;
        let open: Option<Window> = place.read();
        let now = window.opened;
        if let Some(mut open) = open.clone()
            && now < open.until
            && open.level == window.level
            // A destination that changed since is not the one that posted.
            && open.identity == window.identity
        {
            open.repeats += 1;
            open.last = now;
            place.write(&open, open.until)?;
            return Ok(Entered::Repeat(Box::new(open)));
        }
        if let Some(closed) = open {
            if closed.repeats > 0 {
                report(&closed)?;
            }
            // Reported: a kill from here on must not report it again.
            place.remove()?;
        }
        window.until = now + length;
        if matches!(place, Place::Server { .. }) {
            fs::create_private_dir(&self.root)?;
            fs::write_quick(&self.root, SHARED_MARK, b"")?;
        }
        Ok(Entered::First(Guard {
            _lock: lock,
            opens: Box::new((place, window)),
        }))
    }

    /// Closes every window over by `now`: one with repeats is handed to
    /// `report`, under its lock, and forgotten once that succeeded; one
    /// without is forgotten. Gives how many were reported.
    pub fn close_due(
        &self,
        now: SystemTime,
        report: &mut dyn FnMut(&Window) -> Result<(), SpoolError>,
    ) -> usize {
        let mut reported = self.close_due_shared(now, report);
        let Ok(dirs) = std::fs::read_dir(&self.root) else {
            return reported;
        };
        for dir in dirs.flatten().map(|d| d.path()) {
            for file in fs::list(&dir).unwrap_or_default() {
                if is_window(&file) {
                    reported += usize::from(close(&dir, &file, now, report));
                } else if let Some(record) = file.strip_suffix(".lock") {
                    forget_lock(&dir, &file, record);
                }
            }
        }
        reported
    }

    /// Takes one of `count` places in the window of `per` open for `scope`
    /// on `destination`: `None` when there was one, else when the window ends.
    pub fn take(
        &self,
        destination: &crate::config::Destination,
        scope: &str,
        count: u32,
        per: Duration,
        now: SystemTime,
    ) -> Result<Option<SystemTime>, SpoolError> {
        let state_key = destination.state_key();
        let (dir, file) = match self.place(LIMIT, &state_key, &destination.name, scope) {
            Place::Server { shared, key, .. } => match shared.count(&key, count, per) {
                Some(left) => return Ok(left.map(|left| now + left)),
                // Failed just now: counted here from now on.
                None => (
                    self.dir(&destination.name),
                    fs::json_file_name(&format!("{LIMIT}-{scope}")),
                ),
            },
            Place::File { dir, file } => (dir, file),
        };
        let _lock = lock(&dir, &file)?;
        let mut counter = read::<Counter>(&dir.join(&file))
            .filter(|c| now < c.start + per)
            .unwrap_or(Counter {
                start: now,
                count: 0,
            });
        if counter.count >= count {
            return Ok(Some(counter.start + per));
        }
        counter.count += 1;
        write(&dir, &file, &counter)?;
        Ok(None)
    }

    fn dir(&self, destination: &str) -> PathBuf {
        self.root.join(fs::dir_name(destination))
    }

    /// [`Windows::close_due`] on the state server, for the windows of this
    /// profile's destinations, whichever host opened them: each is reported
    /// to the destination as this profile names it.
    fn close_due_shared(
        &self,
        now: SystemTime,
        report: &mut dyn FnMut(&Window) -> Result<(), SpoolError>,
    ) -> usize {
        let Some(shared) = self.shared.as_ref().filter(|s| s.is_up()) else {
            return 0;
        };
        let mut reported = 0;
        for (scope, name) in &self.names {
            let due = shared.key(DUE, scope, "");
            let keys = shared
                .due(&due, now, MAX_SHARED_WINDOWS)
                .unwrap_or_default();
            for key in keys {
                let place = Place::Server {
                    shared: shared.clone(),
                    key: key.clone(),
                    due: due.clone(),
                };
                reported += usize::from(close_at(&place, now, Some(name), report));
                // Gone by itself (expired) or closed: out of the index too.
                if matches!(shared.get::<Window>(&key), Some(None)) {
                    let _ = shared.unindex(&due, &key);
                }
            }
        }
        reported
    }
}

/// The windows one flush closes on a state server at most, per destination:
/// the rest wait for the next.
const MAX_SHARED_WINDOWS: usize = 1000;
/// What names a destination's index of open windows on the server.
const DUE: &str = "dedupe-due";

/// Whether `file` is a dedupe window's record.
pub fn is_window(file: &str) -> bool {
    file.ends_with(".json")
        && file
            .strip_prefix(DEDUPE)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// Closes the window in `dir/file` under its lock if it is over by `now`;
/// true when it had repeats and `report` took them.
fn close(
    dir: &Path,
    file: &str,
    now: SystemTime,
    report: &mut dyn FnMut(&Window) -> Result<(), SpoolError>,
) -> bool {
    let place = Place::File {
        dir: dir.to_owned(),
        file: file.to_owned(),
    };
    close_at(&place, now, None, report)
}

/// [`close`] for a record wherever it is; `name`, when given, is what the
/// window's destination is called here.
fn close_at(
    place: &Place,
    now: SystemTime,
    name: Option<&str>,
    report: &mut dyn FnMut(&Window) -> Result<(), SpoolError>,
) -> bool {
    let Ok(_lock) = place.lock() else {
        return false;
    };
    let Some(mut window) = place.read::<Window>() else {
        return false;
    };
    if window.until > now {
        return false;
    }
    if let Some(name) = name {
        window.destination = name.to_owned();
    }
    let reported = window.repeats > 0 && report(&window).is_ok();
    if reported || window.repeats == 0 {
        let _ = place.remove();
    }
    reported
}

/// Removes the lock of a record that is gone, once it is a day old and
/// free, so that a key per CI run does not leave a file each forever. A
/// day after its record went, nobody is still waiting on it.
fn forget_lock(dir: &Path, lock: &str, record: &str) {
    let path = dir.join(lock);
    let old = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(86_400));
    if old
        && !dir.join(record).exists()
        && let Ok(Some(_free)) = FileLock::try_at(&path)
    {
        let _ = std::fs::remove_file(&path);
    }
}

/// The lock of the record `file` in `dir`, waited for up to [`LOCK_WAIT`].
fn lock(dir: &Path, file: &str) -> Result<FileLock, SpoolError> {
    fs::create_private_dir(dir)?;
    let path = dir.join(format!("{file}.lock"));
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        if let Some(lock) = FileLock::try_at(&path)? {
            return Ok(lock);
        }
        if Instant::now() > deadline {
            return Err(SpoolError::io(
                "lock",
                &path,
                std::io::Error::new(std::io::ErrorKind::TimedOut, "held by another chime"),
            ));
        }
        std::thread::sleep(LOCK_POLL);
    }
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = fs::read_bounded(path, MAX_RECORD_BYTES).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write<T: Serialize>(dir: &Path, file: &str, record: &T) -> Result<(), SpoolError> {
    let json = serde_json::to_vec(record).expect("a window always serialises");
    fs::write_quick(dir, file, &json)
}

/// Seconds since the epoch, as the other records keep time.
mod millis {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::Deserialize;

    pub fn serialize<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let ms = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        s.serialize_u64(ms as u64)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let ms = u64::deserialize(d)?;
        UNIX_EPOCH
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| serde::de::Error::custom("a time out of range"))
    }
}
