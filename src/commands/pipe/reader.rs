//! The stdin side: what is read is journaled, copied with `--tee`, and
//! handed over as lines, on a thread of its own.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::report;
use crate::settings::Output;
use crate::stream::journal::Journal;
use crate::stream::lines::{Shaper, Unfinished};

use super::{Chunk, READ_CHUNK};

/// The stdin side: lines out of bytes, on a thread of its own.
pub(super) struct Reader {
    pub(super) tee: bool,
    pub(super) shaper: Shaper,
    /// Set on a signal: hand over what has been read, and read no more.
    pub(super) stop: Arc<AtomicBool>,
    /// Bytes read since the last line break, shared so that a signal can take
    /// them while the reader waits for more.
    pub(super) unfinished: Arc<Mutex<Unfinished>>,
    /// Where every read goes first.
    pub(super) journal: Arc<Mutex<Option<Journal>>>,
    pub(super) output: Output,
}

/// What the main loop keeps of the reader, to stop it and take the rest.
pub(super) struct ReaderHandle {
    pub(super) shaper: Shaper,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) unfinished: Arc<Mutex<Unfinished>>,
}

impl Reader {
    pub(super) fn handle(&self) -> ReaderHandle {
        ReaderHandle {
            shaper: self.shaper.clone(),
            stop: Arc::clone(&self.stop),
            unfinished: Arc::clone(&self.unfinished),
        }
    }

    pub(super) fn run(self, tx: &mpsc::Sender<Chunk>) {
        let mut stdin = std::io::stdin().lock();
        let mut stdout = std::io::stdout();
        let mut tee = self.tee;
        let mut buf = vec![0u8; READ_CHUNK];
        while !self.stop.load(Ordering::SeqCst) {
            let n = match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let Ok(mut unfinished) = self.unfinished.lock() else {
                return;
            };
            self.journal(&buf[..n], &unfinished);
            // A closed stdout ends the copy, not the stream.
            if tee
                && stdout
                    .write_all(&buf[..n])
                    .and_then(|()| stdout.flush())
                    .is_err()
            {
                tee = false;
            }
            let lines = self.shaper.split(&mut unfinished, &buf[..n]);
            let end = unfinished.offset + unfinished.bytes.len() as u64;
            drop(unfinished);
            if tx.blocking_send(Chunk { lines, end }).is_err() {
                return;
            }
        }
        let last = self.unfinished.lock().ok().map(|mut unfinished| {
            let line = self.shaper.finish(&mut unfinished);
            Chunk {
                lines: line.into_iter().collect(),
                end: unfinished.offset,
            }
        });
        if let Some(chunk) = last {
            let _ = tx.blocking_send(chunk);
        }
    }

    /// Journals a read before anything else happens to it. A journal the
    /// disk refuses now only costs what a kill would cost: the stream goes on.
    pub(super) fn journal(&self, bytes: &[u8], unfinished: &Unfinished) {
        let Ok(mut journal) = self.journal.lock() else {
            return;
        };
        if let Some(writer) = journal.as_mut() {
            let offset = unfinished.offset + unfinished.bytes.len() as u64;
            if writer.read(offset, bytes, unfinished).is_err()
                && let Some(writer) = journal.take()
            {
                report::warning(self.output, &writer.abandon());
            }
        }
    }
}
