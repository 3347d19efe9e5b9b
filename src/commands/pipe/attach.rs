//! `--file-over`: a batch whose text is over the size goes as one file — the
//! lines as they were read — with a short message naming their range,
//! instead of as many messages. Its file is a scratch file of the spool; the
//! outbox copies it as any file when the message goes on disk, and the
//! caller removes it once the message is sent or kept.

use std::io::Write;
use std::path::PathBuf;

use crate::kinds::files::human_size;
use crate::kinds::{FileRef, Platform};
use crate::message::Message;
use crate::spool::Spool;
use crate::stream::batch::Batch;
use crate::stream::journal::Header;

/// The message that carries `batch` (its lines numbered from `first`), and
/// the scratch file it attaches, if it goes as one.
pub(super) fn message(
    header: &Header,
    spool: &Spool,
    platform: &dyn Platform,
    batch: Batch,
    first: usize,
    over: usize,
) -> (Message, Option<PathBuf>) {
    let escaped = platform.escape(&batch.text);
    if escaped.len() <= over {
        return (header.message(escaped, batch.level), None);
    }
    let last = first + batch.lines.saturating_sub(1);
    let Ok((path, size)) = write(spool, &batch.text) else {
        // No room on disk for it: it goes as messages, as without --file-over.
        return (header.message(escaped, batch.level), None);
    };
    let note = format!(
        "lines {first}–{last} ({}) are in the attached file",
        human_size(size)
    );
    let mut message = header.message(platform.escape(&note), batch.level);
    message.code = false;
    message.files = vec![FileRef {
        path: path.clone(),
        name: format!("lines-{first}-{last}.log"),
        title: None,
        size,
        as_photo: false,
        crc32: None,
    }];
    (message, Some(path))
}

fn write(spool: &Spool, text: &str) -> std::io::Result<(PathBuf, u64)> {
    let (path, mut file) = spool.scratch("pipe").map_err(std::io::Error::other)?;
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(b'\n');
    file.write_all(&bytes)?;
    file.sync_all()?;
    Ok((path, bytes.len() as u64))
}
