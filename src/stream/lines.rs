//! Lines out of a byte stream, as `chime pipe` reads them: split at line
//! breaks, invalid UTF-8 replaced, ANSI colour codes stripped, kept or left
//! out by `--grep`, raised in level by `--level-from-line`, and a runaway line
//! cut into pieces so that no line can take all memory before it ends.
//!
//! Every piece knows where it ends in the input (a byte offset), so the
//! journal (`journal.rs`) can say which lines a destination has had, and a
//! replay of the same bytes makes the same lines at the same offsets.

use crate::message::Level;

/// A line longer than this without a newline is handed over in pieces, so a
/// runaway line cannot take all memory before it ends.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// One line of input, or a piece of a runaway one, and the level it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub text: String,
    pub level: Level,
    /// This piece continues the line before it: a runaway line that was
    /// cut, to be joined again without a line break.
    pub joins: bool,
    /// The input's byte offset just past this piece (its newline included).
    pub end: u64,
}

/// The line being read.
#[derive(Clone, Debug, Default)]
pub struct Unfinished {
    pub bytes: Vec<u8>,
    /// Set once a runaway line was cut: whether its first piece was kept,
    /// and at which level, which every later piece follows.
    pub cut: Option<Option<Level>>,
    /// The input's offset of `bytes[0]`.
    pub offset: u64,
}

/// How bytes become lines: `--grep`, `--level-from-line`, ANSI and UTF-8.
#[derive(Clone, Debug)]
pub struct Shaper {
    pub grep: Option<regex_lite::Regex>,
    pub level: Level,
    pub level_from_line: bool,
}

impl Shaper {
    /// The whole lines `bytes` completes after `unfinished`, and a piece of
    /// a runaway line; what is left waits in `unfinished`.
    pub fn split(&self, unfinished: &mut Unfinished, bytes: &[u8]) -> Vec<Line> {
        let Unfinished {
            bytes: partial,
            cut,
            offset,
        } = unfinished;
        partial.extend_from_slice(bytes);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(i) = partial[start..].iter().position(|b| *b == b'\n') {
            let end = *offset + (start + i + 1) as u64;
            lines.extend(self.piece(&partial[start..start + i], cut, true, end));
            start += i + 1;
        }
        partial.drain(..start);
        *offset += start as u64;
        if partial.len() >= MAX_LINE_BYTES {
            let rest = partial.split_off(char_boundary(partial));
            let piece = std::mem::replace(partial, rest);
            *offset += piece.len() as u64;
            lines.extend(self.piece(&piece, cut, false, *offset));
        }
        lines
    }

    /// The last line, unfinished when the input ended or a signal came.
    pub fn finish(&self, unfinished: &mut Unfinished) -> Option<Line> {
        let mut taken = std::mem::take(unfinished);
        // What follows starts where this ends.
        unfinished.offset = taken.offset + taken.bytes.len() as u64;
        if taken.bytes.is_empty() {
            return None;
        }
        let end = unfinished.offset;
        self.piece(&taken.bytes, &mut taken.cut, true, end)
    }

    /// One piece of a line as it goes out, or `None` when `--grep` leaves it
    /// out. The pieces of a runaway line follow its first: kept or left out
    /// together, at one level, joined again (`cut` carries that decision).
    fn piece(
        &self,
        bytes: &[u8],
        cut: &mut Option<Option<Level>>,
        ends_line: bool,
        end: u64,
    ) -> Option<Line> {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let line = match *cut {
            Some(None) => None,
            Some(Some(level)) => Some(Line {
                text: clean(bytes),
                level,
                joins: true,
                end,
            }),
            None => self.line(bytes, end),
        };
        *cut = (!ends_line).then(|| line.as_ref().map(|l| l.level));
        line
    }

    fn line(&self, bytes: &[u8], end: u64) -> Option<Line> {
        let text = clean(bytes);
        if self.grep.as_ref().is_some_and(|re| !re.is_match(&text)) {
            return None;
        }
        let level = if self.level_from_line {
            self.level.max(level_of(&text))
        } else {
            self.level
        };
        Some(Line {
            text,
            level,
            joins: false,
            end,
        })
    }
}

/// Text out of bytes: invalid UTF-8 replaced, ANSI escapes removed.
fn clean(bytes: &[u8]) -> String {
    plain(&String::from_utf8_lossy(bytes))
}

/// `text` without its ANSI escapes (colours, cursor moves, terminal titles):
/// a chat shows them as garbage. `send --code` and `run`'s tail use it too.
pub fn plain(text: &str) -> String {
    if text.contains('\u{1b}') {
        strip_ansi(text)
    } else {
        text.to_owned()
    }
}

/// Where to cut `bytes` without breaking a UTF-8 character: the end, unless
/// the last character has not fully arrived yet.
fn char_boundary(bytes: &[u8]) -> usize {
    let Some(lead) = bytes.iter().rposition(|b| b & 0xC0 != 0x80) else {
        return bytes.len();
    };
    let width = match bytes[lead] {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    };
    if lead > 0 && lead + width > bytes.len() {
        lead
    } else {
        bytes.len()
    }
}

/// The level a log line looks like it reports.
pub fn level_of(line: &str) -> Level {
    let lower = line.to_ascii_lowercase();
    if ["fatal", "panic", "critical", "crit]", "emerg"]
        .iter()
        .any(|w| lower.contains(w))
    {
        Level::Critical
    } else if lower.contains("error") || lower.contains("[err]") {
        Level::Error
    } else if lower.contains("warn") {
        Level::Warning
    } else {
        Level::Info
    }
}

/// Removes ANSI escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ESC \`)
/// and two-byte escapes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_colours_and_titles_are_stripped() {
        assert_eq!(strip_ansi("\u{1b}[31;1mred\u{1b}[0m plain"), "red plain");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}after"), "after");
    }

    #[test]
    fn a_cut_never_falls_inside_a_character() {
        let euro = "€".as_bytes();
        assert_eq!(char_boundary(b"abc"), 3);
        assert_eq!(char_boundary(&[b'a', euro[0], euro[1]]), 1);
        assert_eq!(char_boundary(&[b'a', euro[0], euro[1], euro[2]]), 4);
        assert_eq!(char_boundary(&[b'a', 0xF0, 0x9F]), 1);
    }

    fn shaper() -> Shaper {
        Shaper {
            grep: None,
            level: Level::Info,
            level_from_line: false,
        }
    }

    #[test]
    fn lines_know_where_they_end_whatever_the_reads() {
        let shaper = shaper();
        let mut unfinished = Unfinished::default();
        let mut lines = shaper.split(&mut unfinished, b"ab\ncd");
        lines.extend(shaper.split(&mut unfinished, b"e\n\nf"));
        lines.extend(shaper.finish(&mut unfinished));
        let ends: Vec<(&str, u64)> = lines.iter().map(|l| (l.text.as_str(), l.end)).collect();
        assert_eq!(ends, [("ab", 3), ("cde", 7), ("", 8), ("f", 9)]);
    }

    #[test]
    fn log_levels_are_recognised() {
        assert_eq!(level_of("2026-11-24 ERROR disk full"), Level::Error);
        assert_eq!(level_of("[warn] slow"), Level::Warning);
        assert_eq!(level_of("panic: oops"), Level::Critical);
        assert_eq!(level_of("all good"), Level::Info);
    }
}
