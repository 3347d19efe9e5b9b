//! The state directory's file-system primitives: private directories,
//! atomic durable writes, bounded reads, durable removals and locks.
//! Everything chime keeps on disk goes through here, so this is where it
//! refuses to be led astray: every file is opened without following a
//! symbolic link and without blocking on a FIFO, read only when it is a
//! regular file of ours and of a bounded size, and every temp file is created
//! anew (`O_EXCL`) under a name nobody can guess. A directory chime uses must
//! be its own and writable by nobody else, or chime stops with
//! [`SpoolError::Untrusted`]. A fault seam ([`injected`]) lets the tests make
//! writes fail as a full or read-only disk would.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// The longest file name Linux takes (NAME_MAX).
const NAME_MAX: usize = 255;
/// What a temp file's name adds to the name it stands for: `.NAME.` and
/// eight hex digits and `.tmp`.
const TEMP_EXTRA: usize = "..12345678.tmp".len();
/// The longest encoded name kept whole in a state file's name: room is left
/// for `.json` and for its temp file.
const MAX_PLAIN_NAME: usize = NAME_MAX - ".json".len() - TEMP_EXTRA;
/// The longest encoded name kept whole as a directory's name: room is left
/// for the quarantined file `corrupt/<dir>.<id>.msg`.
const MAX_DIR_NAME: usize = NAME_MAX - ".0123456789abcdef01234567.msg".len();
/// How much of a longer encoded name is kept, for a reader, before its hash.
const NAME_PREFIX: usize = 64;

/// The file that keeps what chime remembers under `name` (a job's last
/// outcome, a thread key): the name itself, encoded, while that fits a file
/// name; else a readable start of it and a hash of all of it. A `--name`
/// defaults to a command line, and a key is whatever a script made it, both
/// far longer than a file name may be. `~` never occurs in an encoded name,
/// so the two forms cannot meet, and every name that fits keeps its file.
pub fn json_file_name(name: &str) -> String {
    format!("{}.json", fitted(name, MAX_PLAIN_NAME))
}

/// The directory that holds what belongs to `name` (a destination, a
/// profile): its encoded name, or, when that is too long for a file name
/// (96 Cyrillic letters are 576 encoded bytes), its start and a hash, as
/// [`json_file_name`] does. Such a name cannot be decoded; [`NAME_FILE`]
/// inside keeps it.
pub fn dir_name(name: &str) -> String {
    fitted(name, MAX_DIR_NAME)
}

/// Where a directory whose name is hashed keeps the name it stands for.
pub const NAME_FILE: &str = ".name";

/// True when [`dir_name`] had to shorten the name into a hash.
pub fn is_hashed(encoded: &str) -> bool {
    encoded.contains('~')
}

fn fitted(name: &str, room: usize) -> String {
    let encoded = encode_name(name);
    if encoded.len() <= room {
        return encoded;
    }
    let mut cut = NAME_PREFIX;
    // Never end inside a `%XX`.
    if let Some(percent) = encoded[cut - 2..cut].find('%') {
        cut -= 2 - percent;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}~{hash}", &encoded[..cut])
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
    if is_hashed(encoded) {
        return None;
    }
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

/// This process's effective user: the only owner chime trusts below its
/// state directory.
pub fn euid() -> u32 {
    static EUID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    // SAFETY: geteuid(2) cannot fail and touches no memory of ours.
    *EUID.get_or_init(|| unsafe { libc::geteuid() })
}

/// Whether a directory that exists may hold chime's state: a directory, not
/// a link to one, ours, and writable by nobody else (unless it is sticky,
/// where others cannot touch what is ours).
pub fn verify_own_dir(dir: &Path, meta: &fs::Metadata) -> Result<(), SpoolError> {
    let untrusted = |why: String| SpoolError::untrusted(dir, why);
    if meta.file_type().is_symlink() {
        return Err(untrusted("it is a symbolic link".into()));
    }
    if meta.uid() != euid() {
        return Err(untrusted(format!(
            "it belongs to user {}, not to this user ({})",
            meta.uid(),
            euid()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(untrusted(format!(
            "others may write to it (mode {mode:04o})"
        )));
    }
    Ok(())
}

/// [`verify_own_dir`] for a folder chime made: read and search rights others
/// have on it are taken away too.
pub fn check_own_dir(dir: &Path, meta: &fs::Metadata) -> Result<(), SpoolError> {
    verify_own_dir(dir, meta)?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 && mode & 0o1000 == 0 {
        // Best effort: a folder that others may only read is still safe to use.
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// [`check_own_dir`] for a folder that may not exist yet (then it is fine).
pub fn check_if_there(dir: &Path) -> Result<(), SpoolError> {
    match fs::symlink_metadata(dir) {
        Ok(meta) => check_own_dir(dir, &meta),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(SpoolError::io("inspect", dir, err)),
    }
}

/// Creates `dir` and its parents, private to this user (0700), and fsyncs the
/// parent of each one it creates: without that, a crash could forget a new
/// `pending/<destination>/` together with the entry just renamed into it.
/// One that exists must pass [`check_own_dir`].
pub fn create_private_dir(dir: &Path) -> Result<(), SpoolError> {
    match fs::symlink_metadata(dir) {
        Ok(meta) => return check_own_dir(dir, &meta),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(SpoolError::io("inspect", dir, err)),
    }
    let parent = match dir.parent() {
        Some(parent) if parent.as_os_str().is_empty() => Path::new("."),
        Some(parent) => parent,
        None => return Ok(()),
    };
    create_private_dir(parent)?;
    let mut builder = fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let made = match injected("mkdir") {
        Some(err) => Err(err),
        None => builder.create(dir),
    };
    match made {
        Ok(()) => {}
        // Another chime made it first; its fsync may not have happened yet.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = fs::symlink_metadata(dir).map_err(|e| SpoolError::io("inspect", dir, e))?;
            check_own_dir(dir, &meta)?;
        }
        Err(err) => return Err(SpoolError::io("create", dir, err)),
    }
    sync_dir(parent)
}

/// Names in `dir` that are not dot-files; an absent directory is empty.
pub fn list(dir: &Path) -> Result<Vec<String>, SpoolError> {
    Ok(names(dir)?.collect())
}

/// The names in `dir` that are not dot-files, read as the directory gives
/// them: a caller that needs one or a few never holds all of them.
pub fn names(dir: &Path) -> Result<impl Iterator<Item = String> + use<>, SpoolError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => Some(entries),
        // A stray file where a destination's directory belongs holds no entries,
        // and must not stop the others from being listed or flushed.
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            None
        }
        Err(err) => return Err(SpoolError::io("list", dir, err)),
    };
    Ok(entries
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.')))
}

/// Temp file in the same directory → write → fsync → rename → fsync the directory.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SpoolError> {
    write_atomic_noting(dir, name, bytes, &mut || {})
}

/// [`write_atomic`], calling `noted` the moment the file has its name, before
/// the directory's fsync: what the caller notes elsewhere (a journal's
/// settle) then follows the file within microseconds, not a disk's flush.
pub fn write_atomic_noting(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    noted: &mut dyn FnMut(),
) -> Result<(), SpoolError> {
    let (temp, mut file) = create_temp(dir, name)?;
    let written = match injected("write") {
        Some(err) => Err(err),
        None => file.write_all(bytes).and_then(|()| file.sync_all()),
    };
    if let Err(err) = written {
        let _ = fs::remove_file(&temp);
        return Err(SpoolError::io("write", &temp, err));
    }
    let target = dir.join(name);
    fs::rename(&temp, &target).map_err(|e| {
        let _ = fs::remove_file(&temp);
        SpoolError::io("rename into", &target, e)
    })?;
    noted();
    sync_dir(dir)
}

/// Temp file → write → rename, without fsyncs: for a hint that may be lost
/// to a power cut, never for an entry.
pub fn write_quick(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SpoolError> {
    let (temp, mut file) = create_temp(dir, name)?;
    let target = dir.join(name);
    let done = file
        .write_all(bytes)
        .and_then(|()| fs::rename(&temp, &target));
    done.map_err(|e| {
        let _ = fs::remove_file(&temp);
        SpoolError::io("write", &target, e)
    })
}

/// A new file beside `name` in `dir`, `.NAME.<random>.tmp`, created anew
/// (never through a link or into someone's planted file) under a name no one
/// can guess ahead.
pub fn create_temp(dir: &Path, name: &str) -> Result<(std::path::PathBuf, File), SpoolError> {
    let mut last = None;
    for _ in 0..8 {
        let temp = dir.join(format!(".{name}.{:08x}.tmp", random_u32()));
        let mut options = OpenOptions::new();
        options
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        let opened = match injected("write") {
            Some(err) => Err(err),
            None => options.open(&temp),
        };
        match opened {
            Ok(file) => return Ok((temp, file)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => last = Some(err),
            Err(err) => return Err(SpoolError::io("create", &temp, err)),
        }
    }
    let err = last.unwrap_or_else(|| std::io::ErrorKind::AlreadyExists.into());
    Err(SpoolError::io("create a temp file in", dir, err))
}

/// 32 bits no other process can predict: std's per-process random hash keys
/// over the time and a counter.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    RandomState::new().hash_one((nanos, count, std::process::id())) as u32
}

/// Why a state file could not be read.
#[derive(Debug)]
pub enum Unreadable {
    Missing,
    /// Not something chime wrote: a link, a FIFO, a device, another user's
    /// file, or too big. The text says which, never what it holds.
    Unusable(String),
    /// A trouble of the process, not of the file (out of descriptors):
    /// trying again later may work.
    Transient(std::io::Error),
}

/// Opens a file for reading without following a link or blocking on a FIFO.
pub fn open_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

/// Reads a state file chime wrote: a regular file of ours, at most `max`
/// bytes, opened without following a link and without blocking on a FIFO.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, Unreadable> {
    let file = match open_nofollow(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(Unreadable::Missing),
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Unreadable::Unusable("it is a symbolic link".into()));
        }
        Err(err) if is_transient(&err) => return Err(Unreadable::Transient(err)),
        Err(err) => return Err(Unreadable::Unusable(format!("cannot open it: {err}"))),
    };
    let meta = file
        .metadata()
        .map_err(|e| Unreadable::Unusable(format!("cannot inspect it: {e}")))?;
    if !meta.is_file() {
        return Err(Unreadable::Unusable("it is not a regular file".into()));
    }
    if meta.uid() != euid() {
        return Err(Unreadable::Unusable(format!(
            "it belongs to user {}, not to this user",
            meta.uid()
        )));
    }
    if meta.len() > max {
        return Err(Unreadable::Unusable(format!(
            "it holds {} bytes, more than the {max} chime ever writes there",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    match file.take(max + 1).read_to_end(&mut bytes) {
        Ok(_) if bytes.len() as u64 > max => Err(Unreadable::Unusable(format!(
            "it grew past the {max} bytes chime ever writes there"
        ))),
        Ok(_) => Ok(bytes),
        Err(err) if is_transient(&err) => Err(Unreadable::Transient(err)),
        Err(err) => Err(Unreadable::Unusable(format!("cannot read it: {err}"))),
    }
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
    ) || matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

pub fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SpoolError::io("sync", dir, e))
}

/// The test seam: `CHIME_FAULT=write:ENOSPC,lock:EROFS` makes each named
/// operation (`write`, `mkdir`, `lock`) fail as a full or read-only disk
/// would, so the tests walk those paths on any machine. Debug builds only: a
/// release build never looks.
#[cfg(debug_assertions)]
pub fn injected(op: &str) -> Option<std::io::Error> {
    static FAULTS: std::sync::OnceLock<Vec<(String, i32)>> = std::sync::OnceLock::new();
    let faults = FAULTS.get_or_init(|| {
        let spec = std::env::var("CHIME_FAULT").unwrap_or_default();
        spec.split(',')
            .filter_map(|item| {
                let (op, name) = item.split_once(':')?;
                let errno = match name {
                    "ENOSPC" => libc::ENOSPC,
                    "EROFS" => libc::EROFS,
                    "EDQUOT" => libc::EDQUOT,
                    "EACCES" => libc::EACCES,
                    "EIO" => libc::EIO,
                    _ => return None,
                };
                Some((op.to_owned(), errno))
            })
            .collect()
    });
    let (_, errno) = faults.iter().find(|(name, _)| name == op)?;
    Some(std::io::Error::from_raw_os_error(*errno))
}

#[cfg(not(debug_assertions))]
pub fn injected(_op: &str) -> Option<std::io::Error> {
    None
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
        let temp = format!(".{file}.12345678.tmp");
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
}
