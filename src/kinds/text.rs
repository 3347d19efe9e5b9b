//! Text measuring, cutting and splitting shared by every kind.
//!
//! Platforms count their limits differently — Slack in characters, Telegram and
//! Discord in UTF-16 code units, Google Chat and ntfy in bytes — so each
//! function takes the [`Measure`] the platform uses. Splitting never loses or
//! repeats a character: the pieces concatenate back to the input, except for
//! the single line break a split is made at.

/// How a platform counts the length of a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Unicode scalar values.
    Chars,
    /// UTF-16 code units (JavaScript's `length`).
    Utf16,
    /// UTF-8 bytes.
    Bytes,
}

impl Measure {
    pub fn of_char(self, c: char) -> usize {
        match self {
            Measure::Chars => 1,
            Measure::Utf16 => c.len_utf16(),
            Measure::Bytes => c.len_utf8(),
        }
    }

    pub fn of(self, text: &str) -> usize {
        match self {
            Measure::Chars => text.chars().count(),
            Measure::Utf16 => text.encode_utf16().count(),
            Measure::Bytes => text.len(),
        }
    }
}

/// Cuts `text` to at most `max`, ending with an ellipsis when cut; says whether it cut.
pub fn cut(text: &str, max: usize, measure: Measure) -> (String, bool) {
    if measure.of(text) <= max {
        return (text.to_owned(), false);
    }
    let room = max.saturating_sub(measure.of_char('…'));
    let end = prefix_end(text, room, measure);
    (format!("{}…", text[..end].trim_end()), true)
}

/// The byte index where the longest prefix of `text` measuring at most `max` ends.
///
/// Looks at no more of `text` than that prefix and the character after it,
/// so a split that asks this of every piece stays linear in the text.
fn prefix_end(text: &str, max: usize, measure: Measure) -> usize {
    match measure {
        // A character starts at every byte that does not continue one.
        Measure::Chars => text
            .bytes()
            .enumerate()
            .filter(|(_, b)| b & 0xC0 != 0x80)
            .nth(max)
            .map_or(text.len(), |(i, _)| i),
        Measure::Bytes if text.len() <= max => text.len(),
        Measure::Bytes => (0..=max)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0),
        Measure::Utf16 => {
            let mut used = 0;
            for (i, c) in text.char_indices() {
                used += c.len_utf16();
                if used > max {
                    return i;
                }
            }
            text.len()
        }
    }
}

/// Splits `text` into pieces of at most `max`, preferring line breaks, then
/// spaces, and never cutting an `&amp;`-style entity in half. A piece split at
/// a line break does not keep that break.
///
/// Linear in the text (issue 11): each piece is found within its own window
/// of `max` units and the rest of the text is never measured, so a 10 MB
/// text costs one walk over it, not one walk per piece.
pub fn split(text: &str, max: usize, measure: Measure) -> Vec<&str> {
    assert!(max >= 8, "a limit this small cannot hold an entity");
    Pieces {
        text,
        at: 0,
        max,
        measure,
    }
    .map(|range| &text[range])
    .collect()
}

/// The byte ranges [`split`] cuts a text into, front to back.
struct Pieces<'t> {
    text: &'t str,
    /// Where the next piece starts.
    at: usize,
    max: usize,
    measure: Measure,
}

impl Iterator for Pieces<'_> {
    type Item = std::ops::Range<usize>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.at;
        let rest = &self.text[start..];
        if rest.is_empty() {
            return None;
        }
        let fits = prefix_end(rest, self.max, self.measure);
        if fits == rest.len() {
            self.at = self.text.len();
            return Some(start..self.text.len());
        }
        let (end, skip) = cut_point(&rest[..fits], self.max, self.measure);
        self.at = start + end + skip;
        Some(start..start + end)
    }
}

/// Where a piece that must end within `window` ends, and how many bytes (the
/// line break it ends at) the next piece skips: at the last line break, else
/// after the last space, when that keeps at least half the window; else as
/// late as an entity allows.
fn cut_point(window: &str, max: usize, measure: Measure) -> (usize, usize) {
    let half = |i: &usize| measure.of(&window[..*i]) >= max / 2;
    if let Some(i) = window.rfind('\n').filter(half) {
        (i, 1)
    } else if let Some(i) = window.rfind(' ').filter(half) {
        (i + 1, 0)
    } else {
        (entity_safe(window), 0)
    }
}

/// What [`close_fences`] may add to a piece: "```\n" before, "\n```" after.
pub const FENCE_ROOM: usize = 8;

/// Pieces of a split text in which a ``` code block the user typed is closed
/// at the end of a piece and reopened at the start of the next, so every
/// piece renders as its author meant (issue 12). Split the text `FENCE_ROOM`
/// short of the limit; pieces outside a code block stay borrowed.
pub fn close_fences<'a>(pieces: Vec<&'a str>) -> Vec<std::borrow::Cow<'a, str>> {
    let mut open = false;
    pieces
        .into_iter()
        .map(|piece| {
            let starts_open = open;
            open ^= piece.matches("```").count() % 2 == 1;
            match (starts_open, open) {
                (false, false) => std::borrow::Cow::Borrowed(piece),
                (true, true) => format!("```\n{piece}\n```").into(),
                (true, false) => format!("```\n{piece}").into(),
                (false, true) => format!("{piece}\n```").into(),
            }
        })
        .collect()
}

/// [`split`] for markdown escaped with backslashes (Discord, Mattermost,
/// Teams): a piece never ends in the backslash that escapes the next piece's
/// first character, where it would escape nothing and that character would
/// lose it. The pieces concatenate back to the input, as [`split`]'s do.
pub fn split_escaped(text: &str, max: usize, measure: Measure) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    let mut carry = false;
    for piece in split(text, max - 1, measure) {
        let mut piece = if carry {
            format!("\\{piece}")
        } else {
            piece.to_owned()
        };
        carry = piece.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1;
        if carry {
            piece.pop();
        }
        pieces.push(piece);
    }
    if carry && let Some(last) = pieces.last_mut() {
        last.push('\\');
    }
    pieces
}

/// Backs a hard cut off an unfinished `&…;` entity.
fn entity_safe(window: &str) -> usize {
    let from = window.len().saturating_sub(7);
    let from = (from..window.len())
        .find(|i| window.is_char_boundary(*i))
        .unwrap_or(window.len());
    match window[from..].rfind('&') {
        Some(i) if !window[from + i..].contains(';') && from + i > 0 => from + i,
        _ => window.len(),
    }
}

/// One piece of a body and what joins it to the piece before; `None` starts
/// a new message, as the continuation of a split does.
pub type Block = (String, Option<&'static str>);

/// `blocks` joined by their separators into bodies of at most `max` bytes,
/// in order: a block that does not fit, or has no separator, starts the next.
pub fn pack_blocks(blocks: Vec<Block>, max: usize) -> Vec<String> {
    let mut bodies = vec![String::new()];
    for (block, separator) in blocks {
        let body = bodies.last_mut().expect("bodies is never empty");
        let fits = separator.filter(|sep| body.len() + sep.len() + block.len() <= max);
        if body.is_empty() {
            body.push_str(&block);
        } else if let Some(separator) = fits {
            body.push_str(separator);
            body.push_str(&block);
        } else {
            bodies.push(block);
        }
    }
    bodies
}

/// The longest run of `c` in `text`: a code fence longer than it cannot be
/// closed early.
pub fn longest_run(text: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for x in text.chars() {
        run = if x == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_code_block_cut_by_a_split_is_closed_and_reopened() {
        let pieces = close_fences(vec!["a\n```\nb", "c", "d\n```\ne", "f"]);
        assert_eq!(
            pieces,
            ["a\n```\nb\n```", "```\nc\n```", "```\nd\n```\ne", "f"]
        );
    }

    use super::*;

    #[test]
    fn split_prefers_line_breaks_and_keeps_every_character() {
        let text = "aaaa\nbbbb\ncccc";
        assert_eq!(split(text, 10, Measure::Chars), vec!["aaaa\nbbbb", "cccc"]);
        let long = "x".repeat(25);
        assert_eq!(split(&long, 10, Measure::Chars).concat(), long);
    }

    #[test]
    fn split_never_cuts_an_entity() {
        let text = format!("{}&amp;", "x".repeat(8));
        assert_eq!(split(&text, 10, Measure::Chars), vec!["xxxxxxxx", "&amp;"]);
    }

    #[test]
    fn split_counts_in_the_platforms_units() {
        let text = "é".repeat(10);
        assert_eq!(split(&text, 10, Measure::Chars).len(), 1);
        assert_eq!(split(&text, 10, Measure::Bytes), vec!["ééééé"; 2]);
        let emoji = "😀".repeat(6);
        assert_eq!(split(&emoji, 10, Measure::Utf16), vec!["😀😀😀😀😀", "😀"]);
    }

    #[test]
    fn split_escaped_never_parts_a_backslash_from_its_character() {
        let text = "\\*".repeat(25);
        let pieces = split_escaped(&text, 11, Measure::Chars);
        assert_eq!(pieces.concat(), text);
        for piece in &pieces {
            assert!(Measure::Chars.of(piece) <= 11);
            assert!(piece.starts_with('\\') && piece.len() % 2 == 0, "{piece}");
        }
    }

    /// Reproducible random text with what splitting must respect: line
    /// breaks, spaces, entities, backslash escapes, multibyte characters,
    /// characters outside the BMP, and long runs with nowhere to break.
    fn random_text(seed: u64, bytes: usize) -> String {
        const TOKENS: &[&str] = &[
            " ",
            " ",
            " ",
            "\n",
            "\n\n",
            "&amp;",
            "&lt;",
            "&quot;",
            "\\",
            "\\*",
            "\\\\",
            "é",
            "日本",
            "😀",
            "👩‍👩‍👧",
            "\t",
            "a",
            "&",
        ];
        let mut state = seed;
        let mut next = move || {
            // splitmix64
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as usize
        };
        let mut text = String::with_capacity(bytes + 64);
        while text.len() < bytes {
            // About half the bytes in runs of up to 5,000 with no break.
            match next() % 1000 {
                0..=499 => text.push_str(TOKENS[next() % TOKENS.len()]),
                500..=998 => text.push_str(&"word"[..1 + next() % 4]),
                _ => text.push_str(&"x".repeat(next() % 5000)),
            }
        }
        text
    }

    const MEASURES: [Measure; 3] = [Measure::Chars, Measure::Utf16, Measure::Bytes];

    /// The split as it was before issue 11, measuring the whole rest of the
    /// text for every piece: the reference the linear split must agree with.
    fn split_measuring_the_rest(text: &str, max: usize, measure: Measure) -> Vec<&str> {
        let prefix_end = |text: &str| {
            let mut used = 0;
            for (i, c) in text.char_indices() {
                used += measure.of_char(c);
                if used > max {
                    return i;
                }
            }
            text.len()
        };
        let mut pieces = Vec::new();
        let mut rest = text;
        while measure.of(rest) > max {
            let window = &rest[..prefix_end(rest)];
            let half = |i: &usize| measure.of(&window[..*i]) >= max / 2;
            let (end, skip) = if let Some(i) = window.rfind('\n').filter(half) {
                (i, 1)
            } else if let Some(i) = window.rfind(' ').filter(half) {
                (i + 1, 0)
            } else {
                (entity_safe(window), 0)
            };
            pieces.push(&rest[..end]);
            rest = &rest[end + skip..];
        }
        if !rest.is_empty() {
            pieces.push(rest);
        }
        pieces
    }

    #[test]
    fn split_cuts_exactly_where_measuring_the_rest_every_time_did() {
        let cases = [(8, 4_000), (11, 6_000), (64, 40_000), (3000, 400_000)];
        for (seed, (max, bytes)) in cases.into_iter().enumerate() {
            let text = random_text(seed as u64, bytes);
            for measure in MEASURES {
                assert_eq!(
                    split(&text, max, measure),
                    split_measuring_the_rest(&text, max, measure),
                    "max {max}, {measure:?}"
                );
            }
        }
    }

    #[test]
    fn prefix_end_is_the_longest_prefix_within_max_in_every_measure() {
        let text = random_text(7, 20_000);
        for measure in MEASURES {
            for max in [0, 1, 3, 4, 5, 100, 19_999, 20_000, 40_000] {
                let end = prefix_end(&text, max, measure);
                assert!(text.is_char_boundary(end));
                assert!(measure.of(&text[..end]) <= max, "{measure:?} {max}");
                if let Some(c) = text[end..].chars().next() {
                    assert!(measure.of(&text[..end]) + measure.of_char(c) > max);
                }
            }
        }
    }

    #[test]
    fn split_pieces_rejoin_to_large_random_text_and_keep_within_max() {
        let text = random_text(42, 3_000_000);
        for measure in MEASURES {
            for max in [8, 300, 3000, 4096] {
                let pieces = split(&text, max, measure);
                let mut at = 0;
                for piece in &pieces {
                    let start = piece.as_ptr() as usize - text.as_ptr() as usize;
                    // Either right after the previous piece, or after the one
                    // line break the split was made at.
                    let gap = &text[at..start];
                    assert!(gap.is_empty() || gap == "\n", "{measure:?} {max} at {at}");
                    assert!(!piece.is_empty() && measure.of(piece) <= max);
                    at = start + piece.len();
                }
                assert_eq!(at, text.len(), "{measure:?} {max}");
            }
        }
    }

    #[test]
    fn split_never_cuts_an_entity_in_large_random_text() {
        let text = random_text(5, 1_000_000);
        for measure in MEASURES {
            for max in [11, 3000] {
                let mut at = 0;
                for piece in split(&text, max, measure) {
                    at = piece.as_ptr() as usize - text.as_ptr() as usize + piece.len();
                    for entity in ["&amp;", "&lt;", "&quot;"] {
                        let inside = (1..entity.len()).any(|k| {
                            text[..at].ends_with(&entity[..k])
                                && text[at..].starts_with(&entity[k..])
                        });
                        assert!(!inside, "{measure:?} {max}: cut in {entity} at {at}");
                    }
                }
                assert_eq!(at, text.len());
            }
        }
    }

    #[test]
    fn split_escaped_pieces_rejoin_to_large_random_text_and_keep_escapes_whole() {
        let text = random_text(9, 2_000_000);
        for measure in MEASURES {
            for max in [11, 4000] {
                let pieces = split_escaped(&text, max, measure);
                let (last, firsts) = pieces.split_last().expect("pieces");
                for piece in firsts {
                    let backslashes = piece.chars().rev().take_while(|c| *c == '\\').count();
                    assert!(backslashes % 2 == 0, "{measure:?} {max}: {piece:?}");
                }
                for piece in &pieces {
                    assert!(measure.of(piece) <= max, "{measure:?} {max}");
                }
                assert!(!last.is_empty());
                // The pieces are the text, less some of the line breaks split at.
                let joined = pieces.concat();
                let mut text_chars = text.chars();
                let mut dropped = 0;
                for c in joined.chars() {
                    loop {
                        let t = text_chars.next().expect("joined is longer than the text");
                        if t == c {
                            break;
                        }
                        assert_eq!(t, '\n', "{measure:?} {max}: lost {t:?}");
                        dropped += 1;
                    }
                }
                dropped += text_chars.inspect(|t| assert_eq!(*t, '\n')).count();
                assert!(dropped < pieces.len(), "{measure:?} {max}");
            }
        }
    }

    #[test]
    fn cut_ends_with_an_ellipsis_within_the_limit() {
        let (cut_text, was_cut) = cut(&"t".repeat(200), 150, Measure::Chars);
        assert!(was_cut);
        assert_eq!(cut_text.chars().count(), 150);
        assert_eq!(cut("short", 150, Measure::Chars), ("short".into(), false));
    }
}
