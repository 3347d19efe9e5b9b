//! The spool's own copies of the files a message carries.
//!
//! ```text
//! <profile>/spool/files/<id>/<n>     0600, file n of entry <id>, as it was accepted
//! <profile>/spool/files/.stdin-…     0600, a `--file -` read from stdin, until sent
//! ```
//!
//! A message with files is copied here before it is put on disk in flight,
//! so that from then on it is sent from the copy: the original may be gone
//! by the time a flush runs (a CI workspace, a rotated log), and a file that
//! changed is not a message that changed. Each copy is written as an entry
//! is — a temp file created anew, its bytes synced, renamed into place, the
//! folder synced — and is as private. The copies of an entry live as long as
//! it does, pending or dead (an id does not change between the two), and go
//! when it is delivered, dropped or purged. A crash between the copy and the
//! entry leaves a folder no entry names: harmless, and swept by age.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{Spool, SpoolError, fs};
use crate::kinds::Payload;

/// How old a leftover must be before a flush removes it: older than any
/// send or run that could still be using it would have waited to start.
const SWEEP_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

impl Spool {
    fn files_root(&self) -> PathBuf {
        self.root().join("files")
    }

    /// Copies every file of `payloads` into the spool under entry `id`, and
    /// points the payloads at the copies. Those already there are left.
    pub fn keep_files(&self, id: &str, payloads: &mut [Payload]) -> Result<(), SpoolError> {
        let dir = self.files_root().join(id);
        let mut copied = false;
        // Named by place among all the entry's files, so a copy made now
        // never takes the name of one made earlier.
        let files = payloads.iter_mut().flat_map(|p| p.files.iter_mut());
        for (n, file) in files.enumerate() {
            if file.path.starts_with(&dir) {
                continue;
            }
            if !copied {
                fs::create_private_dir(&dir)?;
                copied = true;
            }
            let name = n.to_string();
            file.crc32 = Some(copy_in(&file.path, file.size, &dir, &name)?);
            file.path = dir.join(name);
        }
        if copied {
            fs::sync_dir(&dir)?;
        }
        Ok(())
    }

    /// Removes entry `id`'s copies, once it is delivered, dropped or purged.
    pub fn forget_files(&self, id: &str) {
        let dir = self.files_root().join(id);
        if std::fs::remove_dir_all(&dir).is_ok() {
            let _ = fs::sync_dir(&self.files_root());
        }
    }

    /// Removes what no entry needs any more, once it is an hour old: the
    /// copies of an entry that is gone (a crash between the copy and the
    /// entry) and the scratch files of a send or run that was killed.
    pub fn sweep_files(&self) {
        let root = self.files_root();
        let Ok(dir) = std::fs::read_dir(&root) else {
            return;
        };
        let old = |meta: &std::fs::Metadata| {
            meta.modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= SWEEP_AFTER)
        };
        let mut live: Option<std::collections::HashSet<String>> = None;
        for item in dir.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            let Ok(meta) = item.metadata() else { continue };
            if !old(&meta) {
                continue;
            }
            if meta.is_file() && name.starts_with('.') {
                let _ = std::fs::remove_file(item.path());
            } else if meta.is_dir() {
                let ids = live.get_or_insert_with(|| self.all_ids());
                if !ids.contains(&name) {
                    let _ = std::fs::remove_dir_all(item.path());
                }
            }
        }
    }

    /// Every entry's id, pending, in flight or dead, of every destination.
    fn all_ids(&self) -> std::collections::HashSet<String> {
        let mut ids = std::collections::HashSet::new();
        for state in [super::State::Pending, super::State::Dead] {
            for destination in self.destinations(state).unwrap_or_default() {
                let names = self.names(state, &destination).unwrap_or_default();
                ids.extend(names.into_iter().map(|n| n.id));
            }
        }
        ids
    }

    /// A new private file of the spool to write and read back (`chime run
    /// --attach-output` keeps the job's output in such files), named after
    /// `label`; the caller removes it.
    pub fn scratch(&self, label: &str) -> Result<(PathBuf, File), SpoolError> {
        use std::os::unix::fs::OpenOptionsExt;
        let root = self.files_root();
        fs::create_private_dir(&root)?;
        let (path, _) = fs::create_temp(&root, label)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| SpoolError::io("open", &path, e))?;
        Ok((path, file))
    }

    /// Keeps what `reader` gives (stdin, for `--file -`) in a private file of
    /// the spool, at most `max` bytes; its path and size. The caller removes
    /// it once the message's own copies are made.
    pub fn stash(&self, reader: impl Read, max: u64) -> Result<(PathBuf, u64), SpoolError> {
        let (temp, mut file) = self.scratch("stdin")?;
        let copied = std::io::copy(&mut reader.take(max + 1), &mut file)
            .map_err(|e| SpoolError::io("write", &temp, e))?;
        if copied > max {
            let _ = std::fs::remove_file(&temp);
            return Err(SpoolError::io(
                "write",
                &temp,
                std::io::Error::other(format!("stdin holds more than {max} bytes")),
            ));
        }
        Ok((temp, copied))
    }
}

/// Copies `size` bytes of `from` into `dir/name`, durably: exactly the file
/// as it was accepted, or an error (it shrank or grew since). Gives the
/// copy's CRC-32.
fn copy_in(from: &Path, size: u64, dir: &Path, name: &str) -> Result<u32, SpoolError> {
    let mut source = File::open(from).map_err(|e| SpoolError::io("read", from, e))?;
    let (temp, mut file) = fs::create_temp(dir, name)?;
    let mut crc = crc32fast::Hasher::new();
    let copied = copy_summing(&mut (&mut source).take(size), &mut file, &mut crc);
    let more = source.read(&mut [0u8; 1]).is_ok_and(|n| n > 0);
    let written = match copied {
        Ok(n) if n == size && !more => file.flush().and_then(|()| file.sync_all()),
        Ok(n) => Err(std::io::Error::other(format!(
            "it changed while being copied ({n}{} bytes, not {size})",
            if more { " and more" } else { "" }
        ))),
        Err(err) => Err(err),
    };
    let placed = written.and_then(|()| std::fs::rename(&temp, dir.join(name)));
    match placed {
        Ok(()) => Ok(crc.finalize()),
        Err(err) => {
            let _ = std::fs::remove_file(&temp);
            Err(SpoolError::io("copy", from, err))
        }
    }
}

/// `std::io::copy`, summing what passes.
fn copy_summing(
    from: &mut impl Read,
    to: &mut impl Write,
    crc: &mut crc32fast::Hasher,
) -> std::io::Result<u64> {
    let mut slice = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = match from.read(&mut slice) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        to.write_all(&slice[..n])?;
        crc.update(&slice[..n]);
        total += n as u64;
    }
}
