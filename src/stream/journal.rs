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
//!
//! # Invariants
//!
//! 1. Bytes are journaled before anything else happens to them; the writes
//!    are not fsync'd (a killed process's writes survive it; bench/README.md
//!    has the cost), so only a power cut can lose the tail of a journal.
//! 2. A lane's settle is written only once its batch is on disk elsewhere or
//!    delivered, so a replay never misses a line, and repeats at most the
//!    batches whose settle a kill cut off.
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

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IoSlice, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::batch::Packer;
use super::lines::{Line, Shaper, Unfinished};
use crate::config::{Destination, Profile};
use crate::kinds::Target;
use crate::message::{Level, Link, Message};
use crate::spool::fs::{self, FileLock};
use crate::spool::{Entry, Spool, SpoolError, State};

const VERSION: u32 = 1;
/// A new segment starts past this size, so settled ones can go.
const SEGMENT_BYTES: u64 = 4 << 20;
/// A record larger than this was not written by chime (reads are 64 KiB; a
/// carried line at most a MiB).
const MAX_RECORD: usize = 4 << 20;

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
fn append(file: &mut File, kind: u8, parts: &[&[u8]]) -> std::io::Result<usize> {
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

fn segment_name(index: u32) -> String {
    format!("{index:08}.seg")
}

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(9 + payload.len());
    record.push(kind);
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    record.extend_from_slice(payload);
    record
}

/// A new segment file: its header and the carried line, written at once.
fn new_segment(
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

/// Replays every journal of the profile that no live pipe holds, into the
/// spool; gives warnings worth a line on stderr. `skip` is a journal not to
/// touch (the caller's own).
pub fn recover_all(profile_dir: &Path, profile: &Profile, spool: &Spool) -> Vec<String> {
    let root = profile_dir.join("journal");
    let Ok(names) = fs::list(&root) else {
        return vec![format!("cannot list {}", root.display())];
    };
    let mut warnings = Vec::new();
    for name in names {
        let dir = root.join(&name);
        let lock = match FileLock::try_at(&dir.join(".lock")) {
            Ok(Some(lock)) => lock,
            Ok(None) => continue,
            Err(err) => {
                warnings.push(format!("a pipe's journal cannot be used: {err}"));
                continue;
            }
        };
        match replay(&dir, profile, spool) {
            Ok(replayed) => {
                warnings.extend(replayed.warnings);
                drop(lock);
                let _ = std::fs::remove_dir_all(&dir);
            }
            Err(why) => warnings.push(format!(
                "what a stopped `chime pipe` read is kept in {} but cannot be queued yet: {why}",
                dir.display()
            )),
        }
    }
    warnings
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Spool entries it queued.
    pub queued: usize,
    pub warnings: Vec<String>,
}

/// Queues in the spool what the journal in `dir` holds and its lanes had
/// not settled. Fails, touching nothing, when a lane's destination is not
/// in the profile (the journal is then kept for a profile that has it).
pub fn replay(dir: &Path, profile: &Profile, spool: &Spool) -> Result<Replayed, String> {
    let mut replayed = Replayed::default();
    let read = read_segments(dir, spool, &mut replayed.warnings)?;
    let Some(header) = &read.header else {
        return Ok(replayed);
    };
    let mut destinations = Vec::new();
    for lane in &header.lanes {
        let destination = profile
            .destinations
            .get(&lane.destination)
            .ok_or_else(|| format!("the profile no longer defines `{}`", lane.destination))?;
        destinations.push(destination);
    }
    let mut packers = pack_unsettled(header, &read, &destinations);
    // Each batch queued is settled in the journal at once, so a replay cut
    // short by a kill is taken up where it stopped, not queued twice.
    let mut last = read.last.as_deref().and_then(|path| {
        std::fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .ok()
    });
    for (lane, packer) in packers.iter_mut().enumerate() {
        packer.close();
        let destination = destinations[lane];
        while let Some(batch) = packer.pop() {
            let message = header.message(batch.text, batch.level);
            let payloads = destination.platform.render(&message, &header.target(lane));
            let entry = Entry {
                identity: Some(destination.identity()),
                ..Entry::new(&destination.name, payloads.clone(), payloads.len())
            };
            let settled = [&(lane as u32).to_le_bytes()[..], &batch.end.to_le_bytes()];
            let mut note = || {
                if let Some(file) = last.as_mut() {
                    let _ = append(file, b'S', &settled);
                }
            };
            spool
                .add_noting(State::Pending, entry, &mut note)
                .map_err(|e| format!("cannot queue it: {e}"))?;
            replayed.queued += 1;
        }
    }
    Ok(replayed)
}

/// The reads replayed into lines, and each lane's lines it had not settled
/// packed as the pipe would have packed them.
fn pack_unsettled(header: &Header, read: &Read, destinations: &[&Destination]) -> Vec<Packer> {
    let mut settled = header.settled.clone();
    settled.resize(header.lanes.len(), 0);
    for &(lane, through) in &read.settles {
        if let Some(s) = settled.get_mut(lane) {
            *s = (*s).max(through);
        }
    }
    let shaper = header.shaper();
    let mut unfinished = Unfinished {
        bytes: read.carry.clone(),
        cut: header.carry_cut,
        offset: header.carry_offset,
    };
    let mut packers: Vec<Packer> = destinations
        .iter()
        .map(|d| Packer::new(d.platform.as_ref()))
        .collect();
    let mut route = |line: &Line| {
        for &lane in header.lanes_for(line.level) {
            if line.end > settled[lane] {
                packers[lane].push(destinations[lane].platform.as_ref(), line);
            }
        }
    };
    for (offset, bytes) in &read.reads {
        // A gap (a damaged segment) loses the line it cut; the rest go on.
        if *offset != unfinished.offset + unfinished.bytes.len() as u64 {
            unfinished = Unfinished {
                offset: *offset,
                ..Unfinished::default()
            };
        }
        shaper
            .split(&mut unfinished, bytes)
            .iter()
            .for_each(&mut route);
    }
    shaper.finish(&mut unfinished).iter().for_each(&mut route);
    packers
}

/// Everything the segments hold, in order.
#[derive(Default)]
struct Read {
    header: Option<Header>,
    /// The last segment read whole, where a replay notes what it queued.
    last: Option<PathBuf>,
    carry: Vec<u8>,
    reads: Vec<(u64, Vec<u8>)>,
    settles: Vec<(usize, u64)>,
}

fn read_segments(dir: &Path, spool: &Spool, warnings: &mut Vec<String>) -> Result<Read, String> {
    let mut names: Vec<String> = fs::list(dir)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|n| n.ends_with(".seg"))
        .collect();
    names.sort();
    let mut read = Read::default();
    for name in names {
        let path = dir.join(&name);
        let bytes = match fs::read_bounded(&path, SEGMENT_BYTES * 4) {
            Ok(bytes) => bytes,
            Err(_) => {
                warnings.push(format!(
                    "journal segment {} cannot be read; skipped",
                    path.display()
                ));
                continue;
            }
        };
        match read_records(&bytes, &mut read) {
            true => read.last = Some(path),
            false => warnings.push(quarantine(&path, spool)),
        }
    }
    Ok(read)
}

/// Reads one segment's records into `read`; false when it is damaged
/// (everything before the damage is kept).
fn read_records(mut bytes: &[u8], read: &mut Read) -> bool {
    let first = read.header.is_none();
    while !bytes.is_empty() {
        let Some((kind, payload, rest)) = record(bytes) else {
            return false;
        };
        bytes = rest;
        match kind {
            b'H' if first && read.header.is_none() => {
                match serde_json::from_slice::<Header>(payload) {
                    Ok(header) if header.version == VERSION => read.header = Some(header),
                    _ => return false,
                }
            }
            b'H' => {}
            b'C' if first => read.carry = payload.to_vec(),
            b'C' => {}
            b'D' if payload.len() >= 8 => {
                let offset = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
                read.reads.push((offset, payload[8..].to_vec()));
            }
            b'S' if payload.len() == 12 => {
                let lane = u32::from_le_bytes(payload[..4].try_into().expect("4 bytes"));
                let through = u64::from_le_bytes(payload[4..].try_into().expect("8 bytes"));
                read.settles.push((lane as usize, through));
            }
            _ => return false,
        }
    }
    true
}

/// One record off the front of `bytes`, checked: kind, payload, the rest.
fn record(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&kind, rest) = bytes.split_first()?;
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?);
    if len > MAX_RECORD {
        return None;
    }
    let payload = rest.get(8..8 + len)?;
    (crc32fast::hash(payload) == crc).then(|| (kind, payload, &rest[8 + len..]))
}

/// Moves a damaged segment to the spool's `corrupt/`, for a human.
fn quarantine(path: &Path, spool: &Spool) -> String {
    let corrupt = spool.root().join("corrupt");
    let name = path
        .parent()
        .and_then(Path::file_name)
        .map(|d| format!("journal-{}-", d.to_string_lossy()))
        .unwrap_or_default()
        + &path.file_name().unwrap_or_default().to_string_lossy();
    let target = corrupt.join(name);
    let moved = fs::create_private_dir(&corrupt)
        .and_then(|()| std::fs::rename(path, &target).map_err(|e| SpoolError::io("move", path, e)));
    match moved {
        Ok(()) => format!(
            "a pipe's journal segment is damaged; what was before the damage is queued, the segment moved to {}",
            target.display()
        ),
        Err(err) => format!("a pipe's journal segment is damaged and cannot be moved aside: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_framing_and_a_flipped_byte_is_refused() {
        let framed = frame(b'D', b"payload");
        let (kind, payload, rest) = record(&framed).unwrap();
        assert_eq!((kind, payload, rest.len()), (b'D', &b"payload"[..], 0));
        let mut flipped = framed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(record(&flipped).is_none());
        assert!(record(&framed[..framed.len() - 1]).is_none(), "torn");
    }
}
