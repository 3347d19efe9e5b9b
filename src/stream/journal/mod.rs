//! The journal: what `chime pipe` has read, on disk before it is batched, so
//! that a pipe killed at any moment (kill -9 included) loses no line it had
//! read. It is the spool's sibling: private, checksummed, and what is damaged
//! is quarantined, never trusted.
//!
//! # Layout
//!
//! ```text
//! profiles/<profile>/journal/<id>/       0700, one per pipe
//! ├── .lock                              flock'd by the pipe while it lives
//! └── <n>.seg                            0600, segments, oldest first
//! ```
//!
//! A segment is a run of records, each `kind (1 byte) · length (u32 LE) ·
//! crc32 of the payload (u32 LE) · payload`:
//!
//! - `H` the header (JSON, [`Header`]): where each lane goes, how lines are
//!   shaped and routed, what messages say besides the lines, and how far each
//!   lane had settled when the segment began. Every segment starts with one.
//! - `C` the unfinished line carried into the segment (raw bytes).
//! - `D` a read: its offset in the input (u64 LE) and the bytes, exactly as
//!   read, written before `--tee` copies them and before they are split.
//! - `S` a lane settled: lane (u32 LE) and an offset (u64 LE); every line of
//!   that lane ending at or before it is delivered or on disk in the spool
//!   (in flight or queued).
//! - `I` a lane's batch is about to go on disk: lane (u32 LE), the offsets
//!   its lines end after and at (u64 LE each), and the spool id it goes
//!   under. Written before the spool's write, it closes the window invariant
//!   2 leaves: a replay skips the batch whose id is in the spool.
//!
//! # Invariants
//!
//! 1. Bytes are journaled before anything else happens to them; the writes
//!    are not fsync'd (a killed process's writes survive it; bench/README.md
//!    has the cost), so only a power cut can lose the tail of a journal.
//! 2. A lane's settle is written only once its batch is on disk elsewhere or
//!    delivered, so a replay never misses a line. A kill between the two
//!    would leave the batch both in the spool and unsettled; its intent
//!    (`I`) names its spool id, so the replay finds it there and skips it.
//!    Only a batch delivered before its settle was written can repeat.
//! 3. A segment is deleted only when every lane has settled past its end.
//!    Memory and disk stay bounded by what is unsettled (`--max-pending` and
//!    the open batches) plus one segment.
//! 4. A replay makes the same lines at the same offsets: the reads are
//!    replayed with the same boundaries, from the carried line on.
//!
//! # Recovery
//!
//! A journal whose lock nobody holds was left by a pipe that died. The next
//! `chime flush`, or the next `chime pipe` of the profile, replays it: the
//! lines each lane had not settled are packed as the pipe would have packed
//! them and queued in the spool, in order, and the journal goes.

mod replay;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IoSlice, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Profile;
use crate::kinds::Target;
use crate::message::{Level, Link, Message};
use crate::spool::fs;
use crate::spool::lock::FileLock;
use crate::spool::{Spool, SpoolError};
use crate::stream::lines::{Shaper, Unfinished};

pub use replay::{recover_all, replay};

pub(super) const VERSION: u32 = 1;
/// A new segment starts past this size, so settled ones can go.
pub(super) const SEGMENT_BYTES: u64 = 4 << 20;
/// A record larger than this was not written by chime (reads are 64 KiB; a
/// carried line at most a MiB).
pub(super) const MAX_RECORD: usize = 4 << 20;

/// What a replay needs to know about the pipe besides its input.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    pub version: u32,
    /// Where each lane goes: a destination, and the channel of its route.
    pub lanes: Vec<LaneSpec>,
    /// The lanes a line of each level goes to (by `Level::as_str`), or
    /// `all` for every level.
    pub routes: BTreeMap<String, Vec<usize>>,
    pub grep: Option<String>,
    pub level: Level,
    pub level_from_line: bool,
    /// What every message says besides its lines.
    pub title: Option<String>,
    pub code: bool,
    pub host: String,
    pub context: Vec<String>,
    pub links: Vec<(String, String)>,
    /// How far each lane had settled when this segment began.
    #[serde(default)]
    pub settled: Vec<u64>,
    /// The input's offset of the unfinished line carried in (`C`).
    #[serde(default)]
    pub carry_offset: u64,
    #[serde(default)]
    pub carry_cut: Option<Option<Level>>,
}

/// One lane of a pipe.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LaneSpec {
    pub destination: String,
    pub channel: Option<String>,
}

/// The key under [`Header::routes`] for a pipe that sends every line to
/// the same lanes.
pub const ALL_LEVELS: &str = "all";

impl Header {
    /// The lanes a line of `level` goes to.
    pub fn lanes_for(&self, level: Level) -> &[usize] {
        self.routes
            .get(ALL_LEVELS)
            .or_else(|| self.routes.get(level.as_str()))
            .map_or(&[], Vec::as_slice)
    }

    /// The message that carries a batch's `text`.
    pub fn message(&self, text: String, level: Level) -> Message {
        Message {
            title: self.title.clone(),
            text,
            level,
            fields: Vec::new(),
            links: self
                .links
                .iter()
                .map(|(label, url)| Link {
                    label: label.clone(),
                    url: url.clone(),
                })
                .collect(),
            code: self.code,
            host: self.host.clone(),
            time: std::time::SystemTime::now(),
            context: self.context.clone(),
            files: Vec::new(),
            file_urls: Vec::new(),
        }
    }

    pub fn shaper(&self) -> Shaper {
        Shaper {
            grep: self
                .grep
                .as_deref()
                .and_then(|g| regex_lite::Regex::new(g).ok()),
            level: self.level,
            level_from_line: self.level_from_line,
        }
    }

    pub fn target(&self, lane: usize) -> Target {
        Target {
            channel: self.lanes[lane].channel.clone(),
            ..Target::default()
        }
    }
}

/// A live pipe's journal.
pub struct Journal {
    dir: PathBuf,
    _lock: FileLock,
    header: Header,
    segment: File,
    index: u32,
    written: u64,
    /// Segments before the current one: index, and the offset it ends at.
    older: Vec<(u32, u64)>,
    /// How far each lane has settled, as last told.
    floors: Vec<u64>,
    /// The input's offset past the last read journaled.
    end: u64,
}

impl Journal {
    /// Starts a journal for a pipe under the profile's state folder.
    pub fn create(profile_dir: &Path, header: Header) -> Result<Journal, SpoolError> {
        let id = fs::new_id(std::time::SystemTime::now());
        let dir = profile_dir.join("journal").join(id);
        fs::create_private_dir(&dir)?;
        let lock = FileLock::try_at(&dir.join(".lock"))?
            .ok_or_else(|| SpoolError::io("lock", &dir, std::io::ErrorKind::WouldBlock.into()))?;
        let floors = vec![0; header.lanes.len()];
        let segment = new_segment(&dir, 0, &header, &Unfinished::default())?;
        Ok(Journal {
            dir,
            _lock: lock,
            header,
            segment,
            index: 0,
            written: 0,
            older: Vec::new(),
            floors,
            end: 0,
        })
    }

    /// Journals one read, as read, at `offset` in the input; `unfinished` is
    /// the line carried from earlier reads, for a new segment to begin with.
    pub fn read(
        &mut self,
        offset: u64,
        bytes: &[u8],
        unfinished: &Unfinished,
    ) -> std::io::Result<()> {
        if self.written > SEGMENT_BYTES {
            self.rotate(unfinished)?;
        }
        // Written from where it was read: a copy of every read would cost
        // the stream more than the write itself.
        self.write(b'D', &[&offset.to_le_bytes(), bytes])?;
        self.end = offset + bytes.len() as u64;
        Ok(())
    }

    /// Lane `lane` has settled every line ending at or before `through`.
    /// Written the moment a batch is on disk or delivered: a kill between
    /// the two then costs at most that one batch twice.
    pub fn settle(&mut self, lane: usize, through: u64) -> std::io::Result<()> {
        self.write(
            b'S',
            &[&(lane as u32).to_le_bytes(), &through.to_le_bytes()],
        )
    }

    /// Lane `lane`'s batch of lines ending after `start` and at or before
    /// `end` is about to go on disk under spool id `id`.
    pub fn intend(
        &mut self,
        lane: usize,
        (start, end): (u64, u64),
        id: &str,
    ) -> std::io::Result<()> {
        self.write(
            b'I',
            &[
                &(lane as u32).to_le_bytes(),
                &start.to_le_bytes(),
                &end.to_le_bytes(),
                id.as_bytes(),
            ],
        )
    }

    /// `floors` is how far each lane is done with the input (an idle lane is
    /// done with all of it): the segments every lane has passed go.
    pub fn trim(&mut self, floors: &[u64]) {
        self.floors = floors.to_vec();
        self.drop_settled_segments();
    }

    /// True when every lane has settled everything journaled.
    pub fn settled(&self, floors: &[u64]) -> bool {
        floors.iter().all(|f| *f >= self.end)
    }

    fn write(&mut self, kind: u8, parts: &[&[u8]]) -> std::io::Result<()> {
        self.written += append(&mut self.segment, kind, parts)? as u64;
        Ok(())
    }

    fn rotate(&mut self, unfinished: &Unfinished) -> std::io::Result<()> {
        let mut header = self.header.clone();
        header.settled = self.floors.clone();
        header.carry_offset = unfinished.offset;
        header.carry_cut = unfinished.cut;
        let next = self.index + 1;
        let segment = new_segment(&self.dir, next, &header, unfinished)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.older.push((self.index, self.end));
        self.segment = segment;
        self.index = next;
        self.written = 0;
        self.drop_settled_segments();
        Ok(())
    }

    /// Deletes the segments every lane has settled past.
    fn drop_settled_segments(&mut self) {
        let floor = self.floors.iter().copied().min().unwrap_or(u64::MAX);
        self.older.retain(|&(index, end)| {
            let done = end <= floor;
            if done {
                let _ = std::fs::remove_file(self.dir.join(segment_name(index)));
            }
            !done
        });
    }

    /// The disk refused a write: a journal that no longer says what was
    /// settled would make a replay send lines twice, so it goes. What it
    /// held is still in the pipe's memory; only a kill could now cost lines.
    pub fn abandon(self) -> String {
        let _ = std::fs::remove_dir_all(&self.dir);
        "the journal of what is read cannot be written: from now on, if chime is killed, \
         lines not yet sent are lost"
            .into()
    }

    /// The pipe is ending: what the journal holds beyond how far the lanes
    /// settled (`floors`: bytes read after a stop signal, never batched) is
    /// queued, with the journal's lock still held, and the journal goes.
    pub fn finish(self, floors: &[u64], profile: &Profile, spool: &Spool) -> Result<(), String> {
        if !self.settled(floors) {
            replay(&self.dir, profile, spool).map_err(|why| {
                format!(
                    "the end of the input is kept in {} ({why})",
                    self.dir.display()
                )
            })?;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }
}

/// Appends one record whose payload is `parts` to `file`, in one write;
/// gives its size.
pub(super) fn append(file: &mut File, kind: u8, parts: &[&[u8]]) -> std::io::Result<usize> {
    if let Some(err) = fs::injected("journal") {
        return Err(err);
    }
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut crc = crc32fast::Hasher::new();
    parts.iter().for_each(|p| crc.update(p));
    let mut head = [0u8; 9];
    head[0] = kind;
    head[1..5].copy_from_slice(&(len as u32).to_le_bytes());
    head[5..].copy_from_slice(&crc.finalize().to_le_bytes());
    let mut slices: Vec<IoSlice> = std::iter::once(&head[..])
        .chain(parts.iter().copied())
        .map(IoSlice::new)
        .collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        let written = file.write_vectored(slices)?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, written);
    }
    Ok(head.len() + len)
}

pub(super) fn segment_name(index: u32) -> String {
    format!("{index:08}.seg")
}

pub(super) fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(9 + payload.len());
    record.push(kind);
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    record.extend_from_slice(payload);
    record
}

/// A new segment file: its header and the carried line, written at once.
pub(super) fn new_segment(
    dir: &Path,
    index: u32,
    header: &Header,
    carry: &Unfinished,
) -> Result<File, SpoolError> {
    let name = segment_name(index);
    let (temp, mut file) = fs::create_temp(dir, &name)?;
    let json = serde_json::to_vec(header).expect("a header always serialises");
    let mut bytes = frame(b'H', &json);
    bytes.extend(frame(b'C', &carry.bytes));
    let done = match fs::injected("journal") {
        Some(err) => Err(err),
        None => file.write_all(&bytes),
    };
    let target = dir.join(&name);
    if let Err(err) = done.and_then(|()| std::fs::rename(&temp, &target)) {
        let _ = std::fs::remove_file(&temp);
        return Err(SpoolError::io("write", &target, err));
    }
    Ok(file)
}
