//! Locks between chime processes: an exclusive `flock` on a file of its
//! own (a destination's `.lock`, a thread key's, a journal's), which the
//! kernel releases when the holder dies, so a killed chime never blocks the
//! next. Each holder writes its pid there, so that whoever finds the lock
//! taken can say by whom.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::SpoolError;
use super::fs::{euid, injected};

/// An exclusive `flock` on a file; released on drop, and by the kernel if
/// the process dies, so a killed holder never blocks the next one.
pub struct FileLock {
    _file: File,
}

/// The exclusive right to send one destination's entries.
pub type DestinationLock = FileLock;

impl FileLock {
    /// The lock of the destination whose entries are in `dir`.
    pub fn try_acquire(dir: &Path) -> Result<Option<FileLock>, SpoolError> {
        FileLock::try_at(&dir.join(".lock"))
    }

    /// The lock on `path` (created 0600 if need be), or `None` if another
    /// holds it. A lock that is a link, or not a regular file of ours, is
    /// refused rather than followed.
    pub fn try_at(path: &Path) -> Result<Option<FileLock>, SpoolError> {
        let mut file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => {
                // Who holds it, for a message of whoever finds it taken: a
                // hint, neither synced nor relied on.
                let _ = file.set_len(0);
                let _ = file.write_all(std::process::id().to_string().as_bytes());
                Ok(Some(FileLock { _file: file }))
            }
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(err)) => Err(SpoolError::io("lock", path, err)),
        }
    }

    /// Who holds the destination's lock in `dir`, as it wrote when it took
    /// it: "another chime (pid 4242)", or "this chime" when it is this
    /// process (a pipe whose own earlier batches are being sent).
    pub fn holder(dir: &Path) -> String {
        let mut text = String::new();
        let pid = File::open(dir.join(".lock"))
            .and_then(|file| file.take(16).read_to_string(&mut text))
            .ok()
            .and_then(|_| text.trim().parse::<u32>().ok());
        match pid {
            Some(pid) if pid == std::process::id() => "this chime".to_owned(),
            Some(pid) => format!("another chime (pid {pid})"),
            None => "another chime".to_owned(),
        }
    }
}

fn open_lock_file(path: &Path) -> Result<File, SpoolError> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    let opened = match injected("lock") {
        Some(err) => Err(err),
        None => options.open(path),
    };
    let file = opened.map_err(|err| match err.raw_os_error() {
        Some(libc::ELOOP) => SpoolError::untrusted(path, "it is a symbolic link".into()),
        _ => SpoolError::io("open", path, err),
    })?;
    let meta = file
        .metadata()
        .map_err(|e| SpoolError::io("inspect", path, e))?;
    if !meta.is_file() || meta.uid() != euid() {
        return Err(SpoolError::untrusted(
            path,
            "it is not a regular file of this user's".into(),
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_not_granted_twice() {
        let dir = tempfile::tempdir().unwrap();
        let first = DestinationLock::try_acquire(dir.path()).unwrap();
        assert!(first.is_some());
        assert!(DestinationLock::try_acquire(dir.path()).unwrap().is_none());
        assert_eq!(DestinationLock::holder(dir.path()), "this chime");
        drop(first);
        assert!(DestinationLock::try_acquire(dir.path()).unwrap().is_some());
    }
}
