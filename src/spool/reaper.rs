//! Taking delivered entries out of the spool at the pace of the sends, not
//! of the disk.
//!
//! Unlinking a small file is the slowest thing a drain does to the disk:
//! freeing its blocks costs 0.3–1.8 ms on an ext4 mounted with `discard`
//! (a synchronous discard per file), more than the request that delivered
//! it. Renaming it is a directory update (≈ 65 µs). So a delivered entry is
//! renamed out of the spool's sight at once, `<id>.msg` → `.<id>.done` (a
//! dot-file: never read as an entry, never sent again), and a few threads of
//! the [`Reaper`] unlink it while the next entries are sent; several at once,
//! since each mostly waits for the device. Dropping the reaper waits for
//! them all, so a drain leaves no `.done` behind; a drain killed first does,
//! and the next one sweeps them ([`sweep`], with the temp files a killed
//! writer left).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The ending of a delivered entry's name while it waits to be unlinked.
pub(crate) const DONE: &str = ".done";

/// Unlinks across this many threads…
const THREADS: usize = 4;
/// …with at most this many files waiting, so memory stays flat and a disk
/// slower than the sends slows the sends rather than piling up names.
const WAITING: usize = 256;

/// A few threads unlinking delivered entries; see the module essay.
pub struct Reaper {
    files: Option<SyncSender<PathBuf>>,
    threads: Vec<JoinHandle<()>>,
}

impl Reaper {
    pub fn new() -> Reaper {
        let (files, waiting) = mpsc::sync_channel::<PathBuf>(WAITING);
        let waiting = Arc::new(Mutex::new(waiting));
        let threads = (0..THREADS)
            .filter_map(|_| {
                let waiting = Arc::clone(&waiting);
                std::thread::Builder::new()
                    .name("chime-reaper".into())
                    .spawn(move || unlink_all(&waiting))
                    .ok()
            })
            .collect();
        Reaper {
            files: Some(files),
            threads,
        }
    }

    /// Unlinks `path` soon (now, when no thread could be started). A file
    /// that cannot be unlinked stays a `.done`, for the next sweep.
    pub fn unlink(&self, path: PathBuf) {
        let sent = match (&self.files, self.threads.is_empty()) {
            (Some(files), false) => files.send(path).map_err(|e| e.0),
            _ => Err(path),
        };
        if let Err(path) = sent {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Default for Reaper {
    fn default() -> Self {
        Reaper::new()
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        // Closing the channel ends each thread once it is empty.
        self.files = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn unlink_all(waiting: &Mutex<Receiver<PathBuf>>) {
    loop {
        // The lock is held only to take one name, never while unlinking.
        let next = match waiting.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(path) = next else { return };
        let _ = std::fs::remove_file(path);
    }
}

/// Deletes dot-file temps older than `age` in `dir`, and what a drain that
/// died left of delivered entries (`.<id>.done`, see [`Reaper`]);
/// best effort. Only a temp's name is worth a `stat`: entries are never
/// looked at.
pub fn sweep(dir: &Path, age: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str().filter(|n| n.starts_with('.')) else {
            continue;
        };
        let remove = if name.ends_with(DONE) {
            true
        } else if name.ends_with(".tmp") {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() > age)
        } else {
            false
        };
        if remove {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
