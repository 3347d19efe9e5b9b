//! Discord markdown in user text: escaping it so it shows as typed, undoing
//! that inside code blocks, and splitting or cutting escaped text without
//! parting a backslash from what it escapes.

use crate::kinds::markdown::Markdown;
use crate::kinds::text::{self, cut};

use super::{MEASURE, ZERO_WIDTH_SPACE};

/// Escapes Discord markdown, so user text shows exactly as typed.
///
/// Discord drops a backslash before any ASCII punctuation, so escaping is
/// always safe to display. `<` covers mentions, channels, custom emoji and
/// timestamps (`<@id>`, `<#id>`, `<t:…>`); `&` has no meaning in Discord but is
/// escaped like the other two control characters chime's kinds all treat
/// alike. `#`, `-` and `+` only mean something at the start of a line
/// (headings, `-#` subtext, lists), and so does a number followed by a dot.
const MARKDOWN: Markdown = Markdown {
    entities: &[],
    inline: &['\\', '*', '_', '~', '`', '|', '<', '>', '&', '[', ']', '@'],
    line_start: &['#', '-', '+'],
    after_number: &['.'],
    tab_indents: true,
};

pub fn escape(text: &str) -> String {
    MARKDOWN.escape(text)
}

/// Undoes [`escape`]: inside a code block Discord shows backslashes as they are.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && next.is_ascii_punctuation()
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// Text for a code block: unescaped, with any ``` broken by an invisible space
/// so it cannot close the block early.
pub(super) fn code_text(text: &str) -> String {
    let mut text = unescape(text);
    while text.contains("```") {
        text = text.replace("```", &format!("`{ZERO_WIDTH_SPACE}``"));
    }
    text
}

/// Splits escaped text, never parting a backslash from the character it escapes.
pub(super) fn split_escaped(text: &str, max: usize) -> Vec<String> {
    text::split_escaped(text, max, MEASURE)
}

/// Cuts escaped text without leaving a lone backslash before the ellipsis.
pub(super) fn cut_escaped(text: &str, max: usize) -> (String, bool) {
    let (cut_text, was_cut) = cut(text, max, MEASURE);
    if !was_cut {
        return (cut_text, false);
    }
    let body = cut_text.trim_end_matches('…');
    let backslashes = body.chars().rev().take_while(|c| *c == '\\').count();
    let body = if backslashes % 2 == 1 {
        &body[..body.len() - 1]
    } else {
        body
    };
    (format!("{body}…"), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_shows_markdown_and_mentions_as_typed() {
        assert_eq!(
            escape("<@123> **b** a&b"),
            "\\<\\@123\\> \\*\\*b\\*\\* a\\&b"
        );
        assert_eq!(escape("# h\n- x\n1. y\nv1.2"), "\\# h\n\\- x\n1\\. y\nv1.2");
        assert_eq!(unescape(&escape("a\\b *c* <d>")), "a\\b *c* <d>");
    }

    #[test]
    fn split_never_parts_a_backslash_from_its_character() {
        let text = escape(&"*".repeat(50));
        for piece in split_escaped(&text, 11) {
            assert!(MEASURE.of(&piece) <= 11);
            assert!(piece.starts_with('\\') && piece.len() % 2 == 0, "{piece}");
        }
    }
}
