//! `--file`, `--file-name`, `--file-title`: the files a send carries,
//! checked as they are named, so a typo is a usage error before anything is
//! rendered or sent. `--file -` keeps stdin in a private file of the spool
//! first (never in memory), which the send removes once it is done.

use std::path::{Path, PathBuf};

use crate::exit::Failure;
use crate::kinds::FileRef;
use crate::spool::Spool;

/// The largest file chime takes from stdin: larger than any platform
/// accepts, so the platform's own limit is what a user meets.
const MAX_STDIN_FILE: u64 = 4 << 30;

/// The files, in order, and the stash `--file -` made, if any.
pub struct Attachments {
    pub files: Vec<FileRef>,
    pub stash: Option<PathBuf>,
}

/// `photos`: images go as pictures where the kind can show them (`--photo`).
pub fn attachments(
    paths: &[PathBuf],
    (names, titles): (&[String], &[String]),
    photos: bool,
    spool: &Spool,
) -> Result<Attachments, Failure> {
    for (flag, count) in [("--file-name", names.len()), ("--file-title", titles.len())] {
        if count > paths.len() {
            return Err(Failure::usage(format!(
                "{count} {flag} for {} --file: each names the --file in the same place",
                paths.len()
            )));
        }
    }
    if paths.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err(Failure::usage(
            "--file - appears twice: stdin can be read once",
        ));
    }
    let mut out = Attachments {
        files: Vec::with_capacity(paths.len()),
        stash: None,
    };
    for (i, path) in paths.iter().enumerate() {
        let (path, size, name) = match path.as_os_str() == "-" {
            true => {
                let (stash, size) = from_stdin(spool)?;
                out.stash = Some(stash.clone());
                (stash, size, "stdin".to_owned())
            }
            false => {
                let (path, size) = regular_file(path)?;
                let name = path
                    .file_name()
                    .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
                (path, size, name)
            }
        };
        let file = FileRef {
            path,
            name: names.get(i).cloned().unwrap_or(name),
            title: titles.get(i).cloned(),
            size,
            as_photo: false,
            crc32: None,
        };
        out.files.push(FileRef {
            as_photo: photos && file.is_image(),
            ..file
        });
    }
    Ok(out)
}

/// `path`, made absolute, when it is a file chime can read; its size.
fn regular_file(path: &Path) -> Result<(PathBuf, u64), Failure> {
    let problem = |why: String| {
        Failure::usage(format!("--file {}: {why}", path.display()))
            .with_hint("name a file that exists and that you can read")
    };
    let meta = std::fs::metadata(path).map_err(|e| problem(e.to_string()))?;
    if !meta.is_file() {
        return Err(problem("not a regular file".into()));
    }
    std::fs::File::open(path).map_err(|e| problem(e.to_string()))?;
    let absolute = std::path::absolute(path).map_err(|e| problem(e.to_string()))?;
    Ok((absolute, meta.len()))
}

fn from_stdin(spool: &Spool) -> Result<(PathBuf, u64), Failure> {
    spool
        .stash(std::io::stdin().lock(), MAX_STDIN_FILE)
        .map_err(|e| Failure::from(e).caused_by("while keeping --file - from stdin"))
}
