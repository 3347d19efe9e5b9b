//! The spool's file-system primitives: private directories, atomic durable
//! writes, durable removals, and per-destination locks. Everything that
//! touches the disk for the spool goes through here.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::SpoolError;

/// A sortable id: milliseconds, process id, per-process counter (24 hex digits).
pub fn new_id(now: SystemTime) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let ms = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let seq = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff;
    format!("{ms:012x}{:08x}{seq:04x}", std::process::id())
}

/// The longest encoded name kept whole in a file name: NAME_MAX (255) less
/// `.json` and `write_atomic`'s temporary `.{file}.{pid}.tmp` (a pid has at
/// most 7 digits on Linux).
const MAX_PLAIN_NAME: usize = 255 - ".json".len() - "..4194304.tmp".len();
/// How much of a longer encoded name is kept, for a reader, before its hash.
const NAME_PREFIX: usize = 64;

/// The file that keeps what chime remembers under `name` (a job's last
/// outcome, a thread key): the name itself, encoded, while that fits a file
/// name; else a readable start of it and a hash of all of it. A `--name`
/// defaults to a command line, and a key is whatever a script made it, both
/// far longer than a file name may be. `~` never occurs in an encoded name,
/// so the two forms cannot meet, and every name that fits keeps its file.
pub fn json_file_name(name: &str) -> String {
    let encoded = encode_name(name);
    if encoded.len() <= MAX_PLAIN_NAME {
        return format!("{encoded}.json");
    }
    let mut cut = NAME_PREFIX;
    // Never end inside a `%XX`.
    if let Some(percent) = encoded[cut - 2..cut].find('%') {
        cut -= 2 - percent;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}~{hash}.json", &encoded[..cut])
}

/// A destination name as a directory name: `[A-Za-z0-9._-]` kept, the rest `%XX`.
pub fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => out.push(byte as char),
            b'.' if !out.is_empty() => out.push('.'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

pub fn decode_name(encoded: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// Creates `dir` and its parents, private to this user (0700), and fsyncs the
/// parent of each one it creates: without that, a crash could forget a new
/// `pending/<destination>/` together with the entry just renamed into it.
pub fn create_private_dir(dir: &Path) -> Result<(), SpoolError> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = match dir.parent() {
        Some(parent) if parent.as_os_str().is_empty() => Path::new("."),
        Some(parent) => parent,
        None => return Ok(()),
    };
    create_private_dir(parent)?;
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Ok(()) => {}
        // Another chime made it first; its fsync may not have happened yet.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(err) => return Err(SpoolError::io("create", dir, err)),
    }
    sync_dir(parent)
}

/// Names in `dir` that are not dot-files; an absent directory is empty.
pub fn list(dir: &Path) -> Result<Vec<String>, SpoolError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        // A stray file where a destination's directory belongs holds no entries,
        // and must not stop the others from being listed or flushed.
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Vec::new());
        }
        Err(err) => return Err(SpoolError::io("list", dir, err)),
    };
    Ok(entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.'))
        .collect())
}

/// Temp file in the same directory → write → fsync → rename → fsync the directory.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SpoolError> {
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let target = dir.join(name);
    let result = (|| {
        let mut file = private_file(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(err) = result {
        let _ = fs::remove_file(&temp);
        return Err(SpoolError::io("write", &temp, err));
    }
    fs::rename(&temp, &target).map_err(|e| {
        let _ = fs::remove_file(&temp);
        SpoolError::io("rename into", &target, e)
    })?;
    sync_dir(dir)
}

fn private_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Removes `dir/name` and makes the removal durable; an absent file is fine.
pub fn remove_durably(dir: &Path, name: &str) -> Result<(), SpoolError> {
    let path = dir.join(name);
    match fs::remove_file(&path) {
        Ok(()) => sync_dir(dir),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(SpoolError::io("remove", &path, err)),
    }
}

/// True for errors of the process or the system rather than of the file:
/// trying again later may work, so the file is left alone.
pub fn is_transient(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::OutOfMemory
    ) || (cfg!(unix) && matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)))
}

pub fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SpoolError::io("sync", dir, e))
}

/// Deletes dot-file temps older than `age` in `dir`; best effort.
pub fn sweep_temp_files(dir: &Path, age: Duration) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_temp = name
            .to_str()
            .is_some_and(|n| n.starts_with('.') && n.ends_with(".tmp"));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() > age);
        if is_temp && old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

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

    /// The lock on `path` (created 0600 if need be), or `None` if another holds it.
    pub fn try_at(path: &Path) -> Result<Option<FileLock>, SpoolError> {
        let file = private_file_keep(path).map_err(|e| SpoolError::io("open", path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(FileLock { _file: file })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(err)) => Err(SpoolError::io("lock", path, err)),
        }
    }
}

/// Opens (creating) a file without truncating it.
fn private_file_keep(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_file_is_the_encoded_name_while_that_fits() {
        assert_eq!(json_file_name("disk-check"), "disk-check.json");
        assert_eq!(
            json_file_name("sh -c ./backup"),
            "sh%20-c%20.%2Fbackup.json"
        );
        let longest = "x".repeat(MAX_PLAIN_NAME);
        assert_eq!(json_file_name(&longest), format!("{longest}.json"));
    }

    #[test]
    fn a_long_name_keeps_its_start_and_a_stable_hash_of_all_of_it() {
        let name = "sh -c ".to_owned() + &"/srv/data ".repeat(30);
        let file = json_file_name(&name);
        assert_eq!(
            file,
            "sh%20-c%20%2Fsrv%2Fdata%20%2Fsrv%2Fdata%20%2Fsrv%2Fdata%20%2Fsrv~3e9a74be3d490695.json"
        );
        let temp = format!(".{file}.4194304.tmp");
        assert!(temp.len() <= 255, "{temp}");
        let other = name.clone() + "x";
        assert_ne!(
            json_file_name(&other),
            file,
            "names differing at the end differ"
        );
        assert_ne!(
            json_file_name(&"x".repeat(MAX_PLAIN_NAME + 1)),
            "x".repeat(MAX_PLAIN_NAME + 1) + ".json"
        );
    }

    #[test]
    fn a_long_name_is_never_cut_inside_an_escape() {
        for shift in 0..3 {
            let name = "a".repeat(shift) + &" ".repeat(200);
            let file = json_file_name(&name);
            let prefix = file.split('~').next().unwrap();
            assert!(decode_name(prefix).is_some(), "{prefix}");
        }
    }

    #[test]
    fn names_round_trip_and_stay_safe() {
        for name in ["ops-hook", "a/b", "..", "spaces here", "émoji🎉", ".hidden"] {
            let encoded = encode_name(name);
            assert!(
                !encoded.starts_with('.') && !encoded.contains('/'),
                "{encoded}"
            );
            assert_eq!(decode_name(&encoded).as_deref(), Some(name));
        }
    }

    #[test]
    fn ids_sort_in_creation_order_within_a_process() {
        let now = SystemTime::now();
        let a = new_id(now);
        let b = new_id(now);
        assert!(a < b && a.len() == 24);
    }

    #[test]
    fn a_held_lock_is_not_granted_twice() {
        let dir = tempfile::tempdir().unwrap();
        let first = DestinationLock::try_acquire(dir.path()).unwrap();
        assert!(first.is_some());
        assert!(DestinationLock::try_acquire(dir.path()).unwrap().is_none());
        drop(first);
        assert!(DestinationLock::try_acquire(dir.path()).unwrap().is_some());
    }
}
