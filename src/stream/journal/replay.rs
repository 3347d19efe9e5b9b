//! Replaying a journal a pipe left: its reads made into lines again, the
//! lines its lanes had not settled packed and queued in the spool, in order,
//! each settled in the journal the moment it is queued.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::config::{Destination, Profile};
use crate::spool::fs;
use crate::spool::lock::FileLock;
use crate::spool::{Entry, Spool, SpoolError, State};
use crate::stream::batch::Packer;
use crate::stream::lines::{Line, Unfinished};

use super::{Header, MAX_RECORD, SEGMENT_BYTES, VERSION, append};

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
    // A batch already in the spool under the id its intent named is there,
    // whether or not its settle was written before the pipe died.
    let kept: Vec<(usize, (u64, u64))> = read
        .intents
        .iter()
        .filter(|(lane, _, id)| {
            header
                .lanes
                .get(*lane)
                .is_some_and(|l| spool.has_id(&l.destination, id))
        })
        .map(|(lane, range, _)| (*lane, *range))
        .collect();
    let mut packers = pack_unsettled(header, &read, &destinations, &kept);
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
fn pack_unsettled(
    header: &Header,
    read: &Read,
    destinations: &[&Destination],
    kept: &[(usize, (u64, u64))],
) -> Vec<Packer> {
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
    let in_spool = |lane: usize, end: u64| {
        kept.iter()
            .any(|&(l, (from, to))| l == lane && end > from && end <= to)
    };
    let mut route = |line: &Line| {
        for &lane in header.lanes_for(line.level) {
            if line.end > settled[lane] && !in_spool(lane, line.end) {
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
    /// Batches about to go on disk: lane, the range of their lines' ends, spool id.
    intents: Vec<(usize, (u64, u64), String)>,
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
            b'I' if payload.len() > 20 => {
                let lane = u32::from_le_bytes(payload[..4].try_into().expect("4 bytes"));
                let start = u64::from_le_bytes(payload[4..12].try_into().expect("8 bytes"));
                let end = u64::from_le_bytes(payload[12..20].try_into().expect("8 bytes"));
                let id = String::from_utf8_lossy(&payload[20..]).into_owned();
                read.intents.push((lane as usize, (start, end), id));
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

/// Copies a damaged segment to the spool's `corrupt/`, for a human. The
/// segment itself stays until the replay has queued what it could read of
/// it: moved away, a replay cut short (a kill, a full disk) would leave the
/// next one nothing to queue those lines from. A journal replayed whole goes
/// with all its segments.
fn quarantine(path: &Path, spool: &Spool) -> String {
    let corrupt = spool.root().join("corrupt");
    let name = path
        .parent()
        .and_then(Path::file_name)
        .map(|d| format!("journal-{}-", d.to_string_lossy()))
        .unwrap_or_default()
        + &path.file_name().unwrap_or_default().to_string_lossy();
    let target = corrupt.join(name);
    let copied = fs::create_private_dir(&corrupt).and_then(|()| {
        std::fs::copy(path, &target)
            .map(drop)
            .map_err(|e| SpoolError::io("copy", path, e))
    });
    match copied {
        Ok(()) => format!(
            "a pipe's journal segment is damaged; what was before the damage is queued, and a copy kept in {}",
            target.display()
        ),
        Err(err) => {
            format!("a pipe's journal segment is damaged and cannot be copied aside: {err}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::journal::frame;

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
