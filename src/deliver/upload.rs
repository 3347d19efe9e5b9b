//! Request bodies that carry files, streamed from disk a slice at a time: a
//! 5 GiB log costs the memory of one slice. The length is known before the
//! first byte goes (every part's size is), so the body is sent with a
//! `Content-Length`, as every platform's upload endpoint wants.

use std::collections::VecDeque;
use std::io::Read;

use crate::kinds::Upload;
use crate::kinds::files::Piece;

/// How much of a file is read at a time.
const SLICE: usize = 64 * 1024;
/// Uploads this big show a progress bar, when the run may show one.
const SHOWN_FROM: u64 = 4 << 20;

/// A body ready to stream: its length and, for a form, its content type.
pub(super) struct Streamed {
    pub body: reqwest::Body,
    pub length: u64,
    pub content_type: Option<String>,
}

/// Checks that every file is still there, as big as when it was accepted:
/// a file that is gone or changed would be sent cut or padded, so the
/// message is refused instead (a retry cannot bring it back).
pub(super) fn check(upload: &Upload) -> Result<(), String> {
    for file in upload.files() {
        let size = std::fs::metadata(&file.path).map(|m| m.len());
        match size {
            Ok(size) if size == file.size => unchanged(file)?,
            Ok(size) => {
                return Err(format!(
                    "the file {} is {size} bytes now, not the {} it was when the message was accepted",
                    file.name, file.size
                ));
            }
            Err(err) => return Err(format!("the file {} cannot be read: {err}", file.name)),
        }
    }
    Ok(())
}

/// A copy the spool summed must sum the same: a damaged one is refused.
fn unchanged(file: &crate::kinds::FileRef) -> Result<(), String> {
    let Some(expected) = file.crc32 else {
        return Ok(());
    };
    let mut crc = crc32fast::Hasher::new();
    let mut reader = std::fs::File::open(&file.path)
        .map_err(|e| format!("the file {} cannot be read: {e}", file.name))?;
    let mut slice = vec![0u8; SLICE];
    loop {
        match reader.read(&mut slice) {
            Ok(0) => break,
            Ok(n) => crc.update(&slice[..n]),
            Err(e) => return Err(format!("the file {} cannot be read: {e}", file.name)),
        }
    }
    match crc.finalize() == expected {
        true => Ok(()),
        false => Err(format!(
            "the spool's copy of {} is damaged (its checksum no longer matches): it was not sent",
            file.name
        )),
    }
}

/// The body of `upload`, to stream; with a progress bar on stderr when
/// `progress` and the body is large.
pub(super) fn stream(upload: &Upload, progress: bool) -> Streamed {
    let pieces: VecDeque<Piece> = upload.pieces().into();
    let length = pieces.iter().map(Piece::len).sum();
    let bar = (progress && length >= SHOWN_FROM).then(|| bar(upload, length));
    let reading = Reading {
        pieces,
        open: None,
        bar,
    };
    let stream = futures_util::stream::unfold(reading, |mut reading| async {
        let next = reading.next();
        if let (Some(bar), Some(Ok(slice))) = (&reading.bar, &next) {
            bar.inc(slice.len() as u64);
        }
        if next.is_none()
            && let Some(bar) = reading.bar.take()
        {
            bar.finish_and_clear();
        }
        Some((next?, reading))
    });
    Streamed {
        body: reqwest::Body::wrap_stream(stream),
        length,
        content_type: upload.content_type(),
    }
}

/// The body's pieces still to send, and the file being read, with what is
/// left of it.
struct Reading {
    pieces: VecDeque<Piece>,
    open: Option<(std::fs::File, u64)>,
    bar: Option<indicatif::ProgressBar>,
}

/// `uploading build.log [=====>    ] 2.1 MiB/5.0 MiB 12 MiB/s`
fn bar(upload: &Upload, length: u64) -> indicatif::ProgressBar {
    let names: Vec<&str> = upload.files().iter().map(|f| f.name.as_str()).collect();
    let bar = indicatif::ProgressBar::new(length);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "uploading {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.set_message(names.join(", "));
    bar
}

impl Reading {
    /// The next slice of the body; `None` at its end.
    fn next(&mut self) -> Option<Result<Vec<u8>, std::io::Error>> {
        loop {
            if let Some((file, left)) = &mut self.open {
                if *left == 0 {
                    self.open = None;
                    continue;
                }
                let mut slice = vec![0; SLICE.min(*left as usize)];
                return Some(match file.read(&mut slice) {
                    Ok(0) => Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file ended before its size",
                    )),
                    Ok(n) => {
                        slice.truncate(n);
                        *left -= n as u64;
                        Ok(slice)
                    }
                    Err(err) => Err(err),
                });
            }
            match self.pieces.pop_front()? {
                Piece::Bytes(bytes) => return Some(Ok(bytes)),
                Piece::File(path, size) => match std::fs::File::open(&path) {
                    Ok(file) => self.open = Some((file, size)),
                    Err(err) => return Some(Err(err)),
                },
            }
        }
    }
}
