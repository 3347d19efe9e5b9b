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
fn prefix_end(text: &str, max: usize, measure: Measure) -> usize {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += measure.of_char(c);
        if used > max {
            return i;
        }
    }
    text.len()
}

/// Splits `text` into pieces of at most `max`, preferring line breaks, then
/// spaces, and never cutting an `&amp;`-style entity in half. A piece split at
/// a line break does not keep that break.
pub fn split(text: &str, max: usize, measure: Measure) -> Vec<&str> {
    assert!(max >= 8, "a limit this small cannot hold an entity");
    let mut pieces = Vec::new();
    let mut rest = text;
    while measure.of(rest) > max {
        let window = &rest[..prefix_end(rest, max, measure)];
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

#[cfg(test)]
mod tests {
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

    #[test]
    fn cut_ends_with_an_ellipsis_within_the_limit() {
        let (cut_text, was_cut) = cut(&"t".repeat(200), 150, Measure::Chars);
        assert!(was_cut);
        assert_eq!(cut_text.chars().count(), 150);
        assert_eq!(cut("short", 150, Measure::Chars), ("short".into(), false));
    }
}
