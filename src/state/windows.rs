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
//! A dedupe window keeps what its first message said ([`Shown`]), so that
//! whoever closes the window — the next send under the key once it is over,
//! or a flush — can report the count: by editing the first message where the
//! kind edits, or in a message of its own.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::message::{Level, Link};
use crate::spool::lock::FileLock;
use crate::spool::{Spool, SpoolError, fs};

/// How long a chime waits for another to finish with a key before it goes
/// on without the window (it then posts: a repeat is better than a loss).
const LOCK_WAIT: Duration = Duration::from_secs(10);
const LOCK_POLL: Duration = Duration::from_millis(2);
const MAX_RECORD_BYTES: u64 = 256 << 10;

/// How a dedupe window's record is named, and a limit's count, so that no
/// key of one can name the other's file.
const DEDUPE: &str = "dedupe-";
const LIMIT: &str = "limit-";

/// The windows kept for one profile.
pub struct Windows {
    root: PathBuf,
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
    opens: Box<(PathBuf, String, Window)>,
    _lock: FileLock,
}

impl Guard {
    /// Opens the window, now that its first message is safe, and lets go
    /// of the key. A window that cannot be written is not open: the next
    /// message under the key posts.
    pub fn open(self) {
        let (dir, file, window) = &*self.opens;
        let _ = write(dir, file, window);
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
    pub fn beside(spool: &Spool) -> Windows {
        let state_dir = spool.root().parent().unwrap_or(spool.root());
        Windows {
            root: state_dir.join("windows"),
        }
    }

    /// Counts a message under `key` for `destination`, or opens a window for
    /// it when none is open, the open one is over, or it is of another level
    /// (an error after warnings is news). `window` is the one to open; a
    /// window it ends with repeats to report is handed to `report` first,
    /// under the lock, and an error there leaves it open.
    pub fn enter(
        &self,
        mut window: Window,
        length: Duration,
        report: &mut dyn FnMut(&Window) -> Result<(), SpoolError>,
    ) -> Result<Entered, SpoolError> {
        let (dir, file) = (
            self.dir(&window.destination),
            fs::json_file_name(&format!("{DEDUPE}{}", window.key)),
        );
        let lock = lock(&dir, &file)?;
        let open: Option<Window> = read(&dir.join(&file));
        let now = window.opened;
        if let Some(mut open) = open.clone()
            && now < open.until
            && open.level == window.level
            // A destination that changed since is not the one that posted.
            && open.identity == window.identity
        {
            open.repeats += 1;
            open.last = now;
            write(&dir, &file, &open)?;
            return Ok(Entered::Repeat(Box::new(open)));
        }
        if let Some(closed) = open {
            if closed.repeats > 0 {
                report(&closed)?;
            }
            // Reported: a kill from here on must not report it again.
            fs::remove_durably(&dir, &file)?;
        }
        window.until = now + length;
        Ok(Entered::First(Guard {
            _lock: lock,
            opens: Box::new((dir, file, window)),
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
        let Ok(dirs) = std::fs::read_dir(&self.root) else {
            return 0;
        };
        let mut reported = 0;
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
        destination: &str,
        scope: &str,
        count: u32,
        per: Duration,
        now: SystemTime,
    ) -> Result<Option<SystemTime>, SpoolError> {
        let dir = self.dir(destination);
        let file = fs::json_file_name(&format!("{LIMIT}{scope}"));
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
}

/// Whether `file` is a dedupe window's record.
pub fn is_window(file: &str) -> bool {
    file.ends_with(".json") && file.starts_with(DEDUPE)
}

/// Closes the window in `dir/file` under its lock if it is over by `now`;
/// true when it had repeats and `report` took them.
fn close(
    dir: &Path,
    file: &str,
    now: SystemTime,
    report: &mut dyn FnMut(&Window) -> Result<(), SpoolError>,
) -> bool {
    let Ok(_lock) = lock(dir, file) else {
        return false;
    };
    let Some(window) = read::<Window>(&dir.join(file)) else {
        return false;
    };
    if window.until > now {
        return false;
    }
    let reported = window.repeats > 0 && report(&window).is_ok();
    if reported || window.repeats == 0 {
        let _ = fs::remove_durably(dir, file);
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
