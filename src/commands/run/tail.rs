//! The job's output: passed through untouched while its last lines are kept
//! in a bounded ring, stderr's among them.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use super::MAX_TAIL_LINE;

/// Copies a child's stream to ours, feeding the tail, on a thread of its own.
pub(super) fn copy(
    from: Option<Box<dyn Read + Send>>,
    mut to: Box<dyn Write + Send>,
    stream: Stream,
    tail: &Arc<Mutex<Tail>>,
) -> Option<std::thread::JoinHandle<()>> {
    let mut from = from?;
    let tail = Arc::clone(tail);
    Some(std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let mut passing = true;
        loop {
            let n = match from.read(&mut buf) {
                // Relayed signals restart reads (SA_RESTART), but should one
                // interrupt a read anyway, the copy must go on.
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // A closed stdout stops the copy, not the job.
            if passing && to.write_all(&buf[..n]).and_then(|()| to.flush()).is_err() {
                passing = false;
            }
            if let Ok(mut tail) = tail.lock() {
                tail.feed(stream, &buf[..n]);
            }
        }
    }))
}

/// Which of the command's streams a piece of output came from.
#[derive(Clone, Copy)]
pub(super) enum Stream {
    Out = 0,
    Err = 1,
}

/// The last lines of output, bounded in count and in length.
///
/// stdout and stderr come through two pipes read by two threads, so when a
/// command writes to both faster than they are read, the order between them is
/// unknowable: a last "error: disk full" on stderr can be read before the
/// screenful of stdout printed ahead of it, and be pushed out of the tail by
/// it. Since stderr is where a failing job says why, its last lines are kept
/// apart (up to half the tail) and always shown; the rest of the tail is the
/// newest output of either stream. Each stream has its own unfinished line, so
/// the two never splice into one.
pub(super) struct Tail {
    /// Where the whole output goes too, with `--attach-output`.
    pub(super) capture: Option<super::capture::Capture>,
    keep: usize,
    arrived: u64,
    lines: VecDeque<(u64, String)>,
    errors: VecDeque<(u64, String)>,
    partial: [Partial; 2],
}

/// A line still being read: its bytes so far, and whether some were cut.
#[derive(Default)]
pub(super) struct Partial {
    bytes: Vec<u8>,
    cut: bool,
}

impl Tail {
    pub(super) fn new(keep: usize) -> Tail {
        Tail {
            capture: None,
            keep,
            arrived: 0,
            lines: VecDeque::with_capacity(keep + 1),
            errors: VecDeque::with_capacity(keep / 2 + 1),
            partial: Default::default(),
        }
    }

    pub(super) fn feed(&mut self, stream: Stream, bytes: &[u8]) {
        if let Some(capture) = &mut self.capture {
            capture.feed(bytes);
        }
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let (body, ended) = match piece.strip_suffix(b"\n") {
                Some(body) => (body, true),
                None => (piece, false),
            };
            let partial = &mut self.partial[stream as usize];
            let room = MAX_TAIL_LINE.saturating_sub(partial.bytes.len());
            partial
                .bytes
                .extend_from_slice(&body[..body.len().min(room)]);
            partial.cut |= body.len() > room;
            if ended {
                self.end_line(stream);
            }
        }
    }

    pub(super) fn end_line(&mut self, stream: Stream) {
        let partial = std::mem::take(&mut self.partial[stream as usize]);
        let decoded = String::from_utf8_lossy(&partial.bytes);
        let mut line = crate::stream::lines::plain(decoded.trim_end_matches('\r'));
        if partial.cut {
            line.push('…');
        }
        self.arrived += 1;
        let entry = (self.arrived, line);
        if matches!(stream, Stream::Err) {
            push_bounded(&mut self.errors, entry.clone(), self.keep / 2);
        }
        push_bounded(&mut self.lines, entry, self.keep);
    }

    pub(super) fn text(&mut self) -> String {
        for stream in [Stream::Out, Stream::Err] {
            if !self.partial[stream as usize].bytes.is_empty() {
                self.end_line(stream);
            }
        }
        let mut chosen: Vec<&(u64, String)> = self.errors.iter().collect();
        let room = self.keep.saturating_sub(chosen.len());
        let kept_errors: Vec<u64> = chosen.iter().map(|(at, _)| *at).collect();
        chosen.extend(
            self.lines
                .iter()
                .rev()
                .filter(|(at, _)| !kept_errors.contains(at))
                .take(room),
        );
        chosen.sort_by_key(|(at, _)| *at);
        chosen
            .iter()
            .map(|(_, line)| line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub(super) fn push_bounded<T>(ring: &mut VecDeque<T>, item: T, keep: usize) {
    if keep == 0 {
        return;
    }
    if ring.len() == keep {
        ring.pop_front();
    }
    ring.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines_and_cuts_long_ones() {
        let mut tail = Tail::new(2);
        tail.feed(Stream::Out, b"one\ntwo\nthr");
        tail.feed(Stream::Out, b"ee\n");
        tail.feed(Stream::Out, &vec![b'x'; 5000]);
        let text = tail.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "three");
        assert_eq!(lines[1].chars().count(), MAX_TAIL_LINE + 1);
        assert!(lines[1].ends_with('…'));
    }

    #[test]
    fn stderr_read_before_a_flood_of_stdout_stays_in_the_tail() {
        let mut tail = Tail::new(4);
        tail.feed(Stream::Err, b"error: disk full\n");
        for i in 1..=10 {
            tail.feed(Stream::Out, format!("line {i}\n").as_bytes());
        }
        assert_eq!(tail.text(), "error: disk full\nline 8\nline 9\nline 10");
    }

    #[test]
    fn stderr_keeps_at_most_half_the_tail() {
        let mut tail = Tail::new(4);
        for i in 1..=5 {
            tail.feed(Stream::Err, format!("warn {i}\n").as_bytes());
        }
        tail.feed(Stream::Out, b"a\nb\nc\n");
        assert_eq!(tail.text(), "warn 4\nwarn 5\nb\nc");
    }

    #[test]
    fn unfinished_lines_of_the_two_streams_never_splice() {
        let mut tail = Tail::new(4);
        tail.feed(Stream::Out, b"progress ");
        tail.feed(Stream::Err, b"oops\n");
        tail.feed(Stream::Out, b"done\n");
        assert_eq!(tail.text(), "oops\nprogress done");
    }
}
