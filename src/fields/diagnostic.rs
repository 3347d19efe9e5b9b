//! Problems found in a profile, shown the way rustc and cargo show them:
//! the message, `path:line:column`, the offending line with a caret, and help.
//!
//! A snippet may show a line holding a secret, and a message may quote one, so
//! both are masked first (see `redact`); a long line is cut to a window
//! around the mistake.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use super::redact::Redacted;

/// One thing wrong with a profile, located by a byte span in its source.
#[derive(Clone, Debug)]
pub struct Problem {
    pub span: Option<Range<usize>>,
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(span: Option<Range<usize>>, message: impl Into<String>) -> Problem {
        Problem {
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }

    /// Renders the problem against the source it was found in: the message,
    /// the help and the line all masked as `redacted` masks the source.
    pub fn render(&self, path: &Path, source: &str, redacted: &Redacted) -> String {
        let mut out = format!("error: {}\n", redacted.text(&self.message));
        let help = self.help.as_deref().map(|help| redacted.text(help));
        let Some(span) = self.span.as_ref().map(|span| within(source, span)) else {
            let _ = writeln!(out, "  --> {}", path.display());
            if let Some(help) = help {
                let _ = writeln!(out, "   = help: {help}");
            }
            return out;
        };
        let (line_no, col) = locate(source, span.start);
        let (shown, at) = window(redacted.line(line_no), col);
        let width = line_no.to_string().len();
        let pad = " ".repeat(width);
        let _ = writeln!(out, "{pad}--> {}:{line_no}:{col}", path.display());
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{line_no} | {shown}");
        let shown_len = shown.chars().count();
        let wanted = source[span].lines().next().unwrap_or("").chars().count();
        let len = wanted.clamp(1, shown_len.saturating_sub(at - 1).max(1));
        // Tabs stay tabs under the line, so the caret lands where a terminal
        // shows the column whatever its tab width.
        let lead: String = shown
            .chars()
            .take(at - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(len));
        if let Some(help) = help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
        out
    }
}

/// How many characters of a line a snippet shows: a line of a hundred
/// thousand brackets is a mistake worth pointing at, not printing.
const SNIPPET_WIDTH: usize = 120;

/// The part of `line` a snippet shows around column `col` (from 1), and the
/// column within it; `…` marks what was left out.
fn window(line: &str, col: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    // The masked line may be shorter than the one the column counts in.
    let col = col.min(chars.len() + 1);
    if chars.len() <= SNIPPET_WIDTH {
        return (line.to_owned(), col);
    }
    let start = (col - 1)
        .saturating_sub(SNIPPET_WIDTH / 2)
        .min(chars.len() - SNIPPET_WIDTH);
    let end = start + SNIPPET_WIDTH;
    let mut shown: String = chars[start..end].iter().collect();
    let mut at = col - start;
    if start > 0 {
        shown.insert(0, '…');
        at += 1;
    }
    if end < chars.len() {
        shown.push('…');
    }
    (shown, at)
}

/// `span` inside `source` and on character boundaries, whatever it was: a
/// position that is off must cost a caret's place, never a panic.
fn within(source: &str, span: &Range<usize>) -> Range<usize> {
    let floor = |mut i: usize| {
        i = i.min(source.len());
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(span.start);
    start..floor(span.end).max(start)
}

/// Line number and column (both from 1, the column in characters).
fn locate(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_no = source[..offset].matches('\n').count() + 1;
    let col = source[line_start..offset].chars().count() + 1;
    (line_no, col)
}

/// The closest candidate to a misspelt word, if one is close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_points_at_line_and_column() {
        let src = "a = 1\nto = [\"opz\"]\n";
        let start = src.find("\"opz\"").unwrap();
        let text = Problem::new(Some(start..start + 5), "unknown destination `opz`").render(
            Path::new("p.toml"),
            src,
            &Redacted::new(src),
        );
        assert!(text.contains("--> p.toml:2:7"), "{text}");
        assert!(text.contains("2 | to = [\"opz\"]"), "{text}");
        assert!(text.contains("|       ^^^^^"), "{text}");
    }

    #[test]
    fn a_caret_under_a_tab_indented_line_keeps_its_tabs() {
        let src = "[destinations.t]\n\tkind = \"slakc\"\n";
        let start = src.find("\"slakc\"").unwrap();
        let text = Problem::new(Some(start..start + 7), "unknown kind").render(
            Path::new("p.toml"),
            src,
            &Redacted::new(src),
        );
        assert!(text.contains("2 | \tkind = \"slakc\""), "{text}");
        assert!(text.contains("  | \t       ^^^^^^^"), "{text}");
    }

    #[test]
    fn a_long_line_is_cut_to_a_window_that_keeps_the_caret_on_its_column() {
        let line = format!("{}X{}", "a".repeat(500), "b".repeat(500));
        let (shown, at) = window(&line, 501);
        assert_eq!(shown.chars().nth(at - 1), Some('X'), "{shown}");
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert_eq!(window("short", 3), ("short".to_owned(), 3));
        assert_eq!(window("short", 99), ("short".to_owned(), 6));
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("urll", ["url", "channel"]), Some("url"));
        assert_eq!(suggest("zzzzzz", ["url", "channel"]), None);
    }
}
