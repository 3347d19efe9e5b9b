//! Reading the files a profile is made of: the profile itself, and the secret
//! files it names with `{ file = "…" }`.
//!
//! Both are read whole into memory, so both are bounded: a path that leads to
//! `/dev/zero` must cost an error, not the machine's memory. A secret file is
//! also opened without blocking and must be a regular file, checked on the
//! opened file itself so nothing can be swapped in between: a FIFO nobody
//! writes to would otherwise hang `chime config check` for ever. Symlinks are
//! followed, because that is how Kubernetes mounts secrets; where they lead is
//! what is checked. The profile may be a pipe (`--config <(make-profile)`),
//! so it is bounded in size only.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A profile is a page or two of TOML; a megabyte is a mistake.
const MAX_PROFILE: u64 = 1 << 20;
const MAX_PROFILE_SHOWN: &str = "1 MiB";
/// A secret is a URL, a token or a password: a few hundred bytes. 64 KiB
/// leaves room for a PEM bundle, should a kind ever want one.
const MAX_SECRET: u64 = 64 << 10;
const MAX_SECRET_SHOWN: &str = "64 KiB";

/// Why a profile or secret file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("it is not a regular file")]
    NotRegular,
    #[error("it is larger than {0}")]
    TooLarge(&'static str),
    #[error("it is not UTF-8 text")]
    NotText,
}

impl ReadError {
    /// Whether there is simply nothing at the path.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(err) if err.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The profile's text, at most 1 MiB of it.
pub fn read_profile(path: &Path) -> Result<String, ReadError> {
    read_bounded(File::open(path)?, MAX_PROFILE, MAX_PROFILE_SHOWN)
}

/// A secret file's text: a regular file of at most 64 KiB.
pub fn read_secret(path: &Path) -> Result<String, ReadError> {
    // Non-blocking, so opening a FIFO returns at once and fstat can refuse it.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(ReadError::NotRegular);
    }
    read_bounded(file, MAX_SECRET, MAX_SECRET_SHOWN)
}

fn read_bounded(file: File, max: u64, shown: &'static str) -> Result<String, ReadError> {
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(shown));
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_of_exactly_the_limit_is_read_and_one_byte_more_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "a".repeat(64 << 10)).unwrap();
        assert_eq!(read_secret(&path).unwrap().len(), 64 << 10);
        std::fs::write(&path, "a".repeat((64 << 10) + 1)).unwrap();
        assert!(matches!(read_secret(&path), Err(ReadError::TooLarge(_))));
    }

    #[test]
    fn a_directory_or_binary_file_is_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_secret(dir.path()),
            Err(ReadError::NotRegular)
        ));
        let path = dir.path().join("bin");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_secret(&path), Err(ReadError::NotText)));
    }
}
