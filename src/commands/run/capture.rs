//! `--attach-output`: the job's whole combined output, kept on disk while it
//! runs (never in memory) and sent with the report as a file, within
//! `--attach-max`: the first half of that as it came, and the last half
//! kept in a ring on disk, with a line saying how much was cut between.
//!
//! Both files are private files of the spool, as everything chime keeps is;
//! the report's own copy is made from them when it is sent, and they go
//! once it is. A disk that refuses them stops the capture, said once; the
//! job goes on, and its report goes without the file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use crate::kinds::FileRef;
use crate::kinds::files::human_size;
use crate::spool::Spool;

pub(super) struct Capture {
    head: (PathBuf, File),
    ring: (PathBuf, File),
    /// Half of `--attach-max`: the head's size, and the ring's.
    half: u64,
    written: u64,
    broken: Option<String>,
}

impl Capture {
    pub(super) fn start(spool: &Spool, max: u64) -> Result<Capture, String> {
        let open = |label| spool.scratch(label).map_err(|e| e.to_string());
        Ok(Capture {
            head: open("output-head")?,
            ring: open("output-ring")?,
            half: (max / 2).max(1),
            written: 0,
            broken: None,
        })
    }

    /// Keeps `bytes`: in the head while it has room, else in the ring.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) {
        if self.broken.is_some() {
            return;
        }
        if let Err(err) = self.keep(&mut bytes) {
            self.broken = Some(err.to_string());
        }
    }

    fn keep(&mut self, bytes: &mut &[u8]) -> std::io::Result<()> {
        if self.written < self.half {
            let n = (self.half - self.written).min(bytes.len() as u64) as usize;
            self.head.1.write_all(&bytes[..n])?;
            self.written += n as u64;
            *bytes = &bytes[n..];
        }
        while !bytes.is_empty() {
            let at = (self.written - self.half) % self.half;
            let n = (self.half - at).min(bytes.len() as u64) as usize;
            self.ring.1.seek(SeekFrom::Start(at))?;
            self.ring.1.write_all(&bytes[..n])?;
            self.written += n as u64;
            *bytes = &bytes[n..];
        }
        Ok(())
    }

    /// The output as one file named `name`: the head, the marker if some was
    /// cut, the ring in order. `Err` says why there is none.
    pub(super) fn finish(mut self, spool: &Spool, name: String) -> Result<FileRef, String> {
        if let Some(why) = self.broken.take() {
            return Err(why);
        }
        let (path, mut out) = spool.scratch("output").map_err(|e| e.to_string())?;
        let size = self.assemble(&mut out).map_err(|e| e.to_string())?;
        Ok(FileRef {
            path,
            name,
            title: None,
            size,
            as_photo: false,
            crc32: None,
        })
    }

    fn assemble(&mut self, out: &mut File) -> std::io::Result<u64> {
        let copy = |from: &mut File, start: u64, len: u64, out: &mut File| {
            from.seek(SeekFrom::Start(start))?;
            std::io::copy(&mut Read::by_ref(from).take(len), out)
        };
        let mut size = copy(&mut self.head.1, 0, self.half.min(self.written), out)?;
        let in_ring = self.written.saturating_sub(self.half);
        if in_ring > self.half {
            let cut = in_ring - self.half;
            let marker = format!(
                "\n[… {} ({cut} bytes) cut here: --attach-max keeps the first and last halves …]\n",
                human_size(cut)
            );
            out.write_all(marker.as_bytes())?;
            size += marker.len() as u64;
            let at = in_ring % self.half;
            size += copy(&mut self.ring.1, at, self.half - at, out)?;
            size += copy(&mut self.ring.1, 0, at, out)?;
        } else {
            size += copy(&mut self.ring.1, 0, in_ring, out)?;
        }
        out.sync_all()?;
        Ok(size)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.head.0);
        let _ = std::fs::remove_file(&self.ring.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a capture of `max` bytes keeps of `output`, fed in pieces of `piece`.
    fn kept(max: u64, output: &[u8], piece: usize) -> String {
        let root = tempfile::tempdir().unwrap();
        let spool = Spool::at(root.path().join("spool"), "test".into());
        let mut capture = Capture::start(&spool, max).unwrap();
        output.chunks(piece).for_each(|c| capture.feed(c));
        let file = capture.finish(&spool, "job.log".into()).unwrap();
        let text = std::fs::read_to_string(&file.path).unwrap();
        assert_eq!(text.len() as u64, file.size);
        text
    }

    #[test]
    fn output_within_the_cap_is_kept_whole() {
        assert_eq!(kept(20, b"0123456789", 3), "0123456789");
        assert_eq!(kept(20, b"0123456789abcdefghij", 7), "0123456789abcdefghij");
    }

    #[test]
    fn output_past_the_cap_keeps_its_first_and_last_halves_and_says_what_was_cut() {
        let output: Vec<u8> = (b'a'..=b'z').collect();
        for piece in [1, 4, 26] {
            let text = kept(10, &output, piece);
            assert!(
                text.starts_with("abcde\n[… 16 B (16 bytes) cut here"),
                "{text}"
            );
            assert!(text.ends_with("…]\nvwxyz"), "{text}");
        }
    }
}
