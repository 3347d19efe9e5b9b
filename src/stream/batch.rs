//! Packing lines into batches for one destination: each line escaped for the
//! destination's markup and appended to the open batch, which closes when the
//! next line would not fit one message (the kind's `batch_limit`, counted as
//! the platform counts), or when the caller says its time is up. A line longer
//! than a whole message is split across messages.
//!
//! `chime pipe` packs what it reads this way; the journal packs what a dead
//! pipe left the same way, so both make the messages the platform allows.
//!
//! Memory: a closed batch holds exactly its text. The open batch is given
//! room for a whole message when it opens (growing a string by doubling
//! would leave up to half of every closed batch's allocation unused, which
//! `--max-pending` does not see), and its spare room is given back when it
//! closes. [`Packer::ready_bytes`] counts what the closed batches hold, not
//! just their length, so the bound the caller keeps is on real memory.

use std::collections::VecDeque;
use std::time::Instant;

use super::lines::Line;
use crate::kinds::Platform;
use crate::kinds::text::{Measure, split};
use crate::message::Level;

/// The most room an open batch is given at once: a kind whose messages are
/// larger still (none is) grows its batch as a string grows.
const MAX_RESERVE: usize = 256 * 1024;

/// A closed batch, escaped for its destination.
#[derive(Debug)]
pub struct Batch {
    pub text: String,
    pub level: Level,
    /// The input's offset just past its last line.
    pub end: u64,
    /// The offset just past the packer's batch before it (0 for the first):
    /// this batch holds the packer's lines ending after it, up to `end`.
    pub start: u64,
    /// The lines that start in it (a runaway line's pieces count once, where
    /// it starts).
    pub lines: usize,
}

/// Lines on their way into batches for one destination.
pub struct Packer {
    limit: usize,
    measure: Measure,
    /// Lines kept as read, escaped only when sent (`chime pipe --file-over`:
    /// a large batch goes as a file, which must hold the lines themselves).
    raw: bool,
    open: String,
    open_len: usize,
    open_level: Level,
    open_end: u64,
    open_lines: usize,
    /// Where the last batch closed ended.
    closed_end: u64,
    /// When the open batch got its first line; `None` when there is none.
    pub opened: Option<Instant>,
    ready: VecDeque<Batch>,
    ready_bytes: usize,
}

impl Packer {
    pub fn new(platform: &dyn Platform) -> Packer {
        Packer::with(platform.batch_limit(), platform.measure(), false)
    }

    /// A packer of batches of up to `limit` bytes of lines as they were
    /// read, escaped by whoever sends them.
    pub fn raw(limit: usize) -> Packer {
        Packer::with(limit.max(2), Measure::Bytes, true)
    }

    fn with(limit: usize, measure: Measure, raw: bool) -> Packer {
        Packer {
            limit,
            measure,
            raw,
            open: String::new(),
            open_len: 0,
            open_level: Level::Info,
            open_end: 0,
            open_lines: 0,
            closed_end: 0,
            opened: None,
            ready: VecDeque::new(),
            ready_bytes: 0,
        }
    }

    /// Appends one line, escaped by `platform` (unless raw), closing the
    /// open batch first when it would not fit.
    pub fn push(&mut self, platform: &dyn Platform, line: &Line) {
        let escaped = match self.raw {
            true => line.text.clone(),
            false => platform.escape(&line.text),
        };
        // Bytes bound every measure from above: most lines need no splitting.
        if escaped.len() < self.limit {
            let len = self.measure.of(&escaped);
            self.append(&escaped, len, line.level, line.joins);
        } else {
            // A line longer than a whole message is split across messages.
            let pieces = split(&escaped, self.limit - 1, self.measure);
            for (i, piece) in pieces.into_iter().enumerate() {
                let len = self.measure.of(piece);
                self.append(piece, len, line.level, line.joins || i > 0);
            }
        }
        self.open_end = line.end;
    }

    /// Appends a piece that fits one message, after a line break unless it
    /// `joins` the piece before (a message boundary is then the only break).
    fn append(&mut self, piece: &str, len: usize, level: Level, joins: bool) {
        let gap = usize::from(!joins);
        if self.opened.is_some() && self.open_len + gap + len > self.limit {
            self.close();
        }
        if self.opened.is_none() {
            self.opened = Some(Instant::now());
            // Room for a whole message at once (bytes bound the measure from
            // below for most text): no doubling, and no half-empty tail.
            self.open.reserve(self.limit.min(MAX_RESERVE));
        } else if !joins {
            self.open.push('\n');
            self.open_len += 1;
        }
        self.open.push_str(piece);
        self.open_len += len;
        self.open_lines += usize::from(!joins);
        self.open_level = self.open_level.max(level);
    }

    /// Closes the open batch, if there is one.
    pub fn close(&mut self) {
        if self.opened.take().is_none() {
            return;
        }
        let mut text = std::mem::take(&mut self.open);
        // A batch closed by its interval, or holding wide characters, gives
        // back the room it did not use.
        text.shrink_to_fit();
        self.ready_bytes += text.capacity();
        let level = std::mem::take(&mut self.open_level);
        self.ready.push_back(Batch {
            text,
            level,
            end: self.open_end,
            start: std::mem::replace(&mut self.closed_end, self.open_end),
            lines: std::mem::take(&mut self.open_lines),
        });
        self.open_len = 0;
    }

    /// The oldest closed batch.
    pub fn pop(&mut self) -> Option<Batch> {
        let batch = self.ready.pop_front()?;
        self.ready_bytes -= batch.text.capacity();
        Some(batch)
    }

    /// Bytes of memory the closed batches waiting hold.
    pub fn ready_bytes(&self) -> usize {
        self.ready_bytes
    }

    /// Closed batches waiting.
    pub fn ready(&self) -> usize {
        self.ready.len()
    }

    /// Nothing open and nothing waiting.
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.opened.is_none()
    }
}
