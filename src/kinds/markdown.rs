//! Escaping user text for the markdown dialects of chat platforms.
//!
//! Discord, Mattermost, Teams and ntfy all render a CommonMark-like markdown,
//! where a backslash before any punctuation shows that character as typed. They
//! differ in which characters mean something (Mattermost links `#hashtags`,
//! Discord mentions with `@`), which only do at the start of a line (headings,
//! lists), and which must become entities instead (a Slack-compatible `<!here>`
//! rewrite that a backslash would not stop). Each kind describes its dialect as
//! a [`Markdown`]; the escaping itself is written once, here.

/// One platform's markdown: what to escape, where, and how.
pub struct Markdown {
    /// Replaced by an entity wherever they appear.
    pub entities: &'static [(char, &'static str)],
    /// Backslash-escaped wherever they appear.
    pub inline: &'static [char],
    /// Backslash-escaped as the first character of a line, after indentation.
    pub line_start: &'static [char],
    /// Backslash-escaped right after a line's leading digits (`1.` lists).
    pub after_number: &'static [char],
    /// Whether a tab counts as indentation (CommonMark) or ends it.
    pub tab_indents: bool,
}

impl Markdown {
    pub fn escape(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + text.len() / 8);
        // Only indentation so far on this line; only indentation and digits.
        let (mut line_start, mut digits_only, mut digits_seen) = (true, true, false);
        for c in text.chars() {
            if let Some((_, entity)) = self.entities.iter().find(|(e, _)| *e == c) {
                out.push_str(entity);
            } else {
                let special = self.inline.contains(&c)
                    || (line_start && self.line_start.contains(&c))
                    || (digits_only && digits_seen && self.after_number.contains(&c));
                if special {
                    out.push('\\');
                }
                out.push(c);
            }
            (line_start, digits_only, digits_seen) = match c {
                '\n' => (true, true, false),
                ' ' if line_start => (true, true, false),
                '\t' if line_start && self.tab_indents => (true, true, false),
                '0'..='9' if digits_only => (false, true, true),
                _ => (false, false, false),
            };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: Markdown = Markdown {
        entities: &[('&', "&amp;")],
        inline: &['*', '\\'],
        line_start: &['#', '-'],
        after_number: &['.'],
        tab_indents: true,
    };

    #[test]
    fn escapes_inline_line_start_and_list_numbers_only_where_they_mean_something() {
        assert_eq!(SAMPLE.escape("a*b & c"), "a\\*b &amp; c");
        assert_eq!(
            SAMPLE.escape("# h\n  - item\nx-y"),
            "\\# h\n  \\- item\nx-y"
        );
        assert_eq!(SAMPLE.escape("12. twelve\nv1.2"), "12\\. twelve\nv1.2");
    }
}
