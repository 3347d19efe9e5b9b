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
            Ok(size) if size == file.size => {}
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

/// The body of `upload`, to stream.
pub(super) fn stream(upload: &Upload) -> Streamed {
    let pieces: VecDeque<Piece> = upload.pieces().into();
    let length = pieces.iter().map(Piece::len).sum();
    let stream =
        futures_util::stream::unfold(Reading { pieces, open: None }, |mut reading| async {
            let next = reading.next()?;
            Some((next, reading))
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
