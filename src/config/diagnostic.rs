//! Problems found in a profile, shown the way rustc and cargo show them:
//! the message, `path:line:column`, the offending line with a caret, and help.
//!
//! A snippet may show a line holding a secret, so every quoted string in it that
//! looks like a URL or sits under a secret-looking key is redacted before printing.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use crate::secret;

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

    /// Renders the problem against the source it was found in.
    pub fn render(&self, path: &Path, source: &str) -> String {
        let mut out = format!("error: {}\n", self.message);
        match self.span.as_ref().map(|span| within(source, span)) {
            Some(span) => {
                let (line_no, col, line) = locate(source, span.start);
                let shown = redact_line(line);
                let width = line_no.to_string().len();
                let pad = " ".repeat(width);
                let _ = writeln!(out, "{pad}--> {}:{line_no}:{col}", path.display());
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{line_no} | {shown}");
                let shown_len = shown.chars().count();
                let wanted = source[span.clone()]
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .count();
                let len = wanted.clamp(1, shown_len.saturating_sub(col - 1).max(1));
                let _ = writeln!(out, "{pad} | {}{}", " ".repeat(col - 1), "^".repeat(len));
                if let Some(help) = &self.help {
                    let _ = writeln!(out, "{pad} = help: {help}");
                }
            }
            None => {
                let _ = writeln!(out, "  --> {}", path.display());
                if let Some(help) = &self.help {
                    let _ = writeln!(out, "   = help: {help}");
                }
            }
        }
        out
    }
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

/// Line number (1-based), column (1-based, in characters) and the line's text.
fn locate(source: &str, offset: usize) -> (usize, usize, &str) {
    let offset = offset.min(source.len());
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    let line_no = source[..offset].matches('\n').count() + 1;
    let col = source[line_start..offset].chars().count() + 1;
    (
        line_no,
        col,
        source[line_start..line_end].trim_end_matches('\r'),
    )
}

/// Parts of key names that say the value is a secret; matched anywhere in the
/// key, so a misspelt `tokn` or `webhook_url` is covered too.
const SECRET_KEYS: &[&str] = &[
    "url", "tok", "pass", "secret", "key", "hook", "auth", "cred",
];

/// Hides secrets in one line of a profile shown in an error. The line may be
/// broken TOML (that is often why it is shown), so values are found whether
/// quoted with `"`, with `'`, or not at all: any URL, any value of a
/// secret-sounding key, and anything shaped like a token are masked.
fn redact_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find(['"', '\'']) {
        let quote = &rest[open..=open];
        out.push_str(&redact_bare(&out, &rest[..open]));
        out.push_str(quote);
        let key = key_before(&out);
        rest = &rest[open + 1..];
        let close = rest.find(quote).unwrap_or(rest.len());
        out.push_str(&redact_value(&key, &rest[..close]));
        rest = &rest[close..];
        if let Some(stripped) = rest.strip_prefix(quote) {
            out.push_str(quote);
            rest = stripped;
        }
    }
    let tail = redact_bare(&out, rest);
    out.push_str(&tail);
    out
}

/// Unquoted text that follows `before` on its line: words after `=` are
/// values (broken TOML), masked like quoted ones; after a secret key's `=`,
/// every word is (a URL a stray quote broke in two leaves part of it bare).
fn redact_bare(before: &str, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let seen = format!("{before}{out}");
        let after_secret_key = seen.contains('=') && is_secret_key(&key_before(&seen));
        let value = seen.trim_end().ends_with('=') || word.contains("://") || after_secret_key;
        if value && !word.is_empty() && !word.starts_with('{') && !word.starts_with('[') {
            let key = key_before(&seen);
            out.push_str(&redact_value(&key, word));
            out.push_str(&piece[word.len()..]);
        } else {
            out.push_str(piece);
        }
    }
    out
}

/// The key whose value starts at the end of `text`, lowercased.
fn key_before(text: &str) -> String {
    let Some(eq) = text.rfind('=') else {
        return String::new();
    };
    text[..eq]
        .trim_end()
        .rsplit(|c: char| c.is_whitespace() || c == '{' || c == ',')
        .next()
        .unwrap_or("")
        .trim_matches(['"', '\''])
        .to_ascii_lowercase()
}

fn redact_value(key: &str, value: &str) -> String {
    let is_reference = value.starts_with("${") && value.ends_with('}');
    if value.is_empty() || is_reference {
        value.to_owned()
    } else if value.contains("://") {
        secret::redact_url(value)
    } else if is_secret_key(key) || looks_like_token(value) {
        secret::redact_token(value)
    } else {
        value.to_owned()
    }
}

fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|k| key.contains(k))
}

/// Long unbroken runs of letters and digits, or a Slack/ntfy token prefix.
fn looks_like_token(value: &str) -> bool {
    let prefixed = ["xox", "tk_", "ghp_", "glpat-"]
        .iter()
        .any(|p| value.starts_with(p));
    let has = |f: fn(&char) -> bool| value.chars().any(|c| f(&c));
    let long = value.len() >= 16
        && !value.contains(char::is_whitespace)
        && has(char::is_ascii_alphabetic)
        && has(char::is_ascii_digit);
    prefixed || long
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
        let text = Problem::new(Some(start..start + 5), "unknown destination `opz`")
            .render(Path::new("p.toml"), src);
        assert!(text.contains("--> p.toml:2:7"), "{text}");
        assert!(text.contains("2 | to = [\"opz\"]"), "{text}");
        assert!(text.contains("|       ^^^^^"), "{text}");
    }

    #[test]
    fn snippet_never_shows_a_webhook_url_or_token() {
        let line = r#"url = "https://hooks.slack.com/services/T1/B2/sekrit""#;
        assert_eq!(
            redact_line(line),
            r#"url = "https://hooks.slack.com/services/T…/B…/****""#
        );
        assert_eq!(
            redact_line(r#"token = "xoxb-99-sekrit""#),
            r#"token = "xoxb-****""#
        );
        assert_eq!(redact_line(r#"url = "${HOOK}""#), r#"url = "${HOOK}""#);
    }

    #[test]
    fn snippet_masks_secrets_however_they_are_quoted_or_keyed() {
        for line in [
            "url = https://hooks.slack.com/services/T0/B0/RAWSECRET7",
            "url = 'https://hooks.slack.com/services/T0/B0/RAWSECRET14'",
            "webhook_url = 'hooks.slack.com/services/T0/B0/RAWSECRET13'",
            r#"tokn = "xoxb-1234-RAWSECRET19""#,
            r#"pass = "RAWSECRET18""#,
            r#"pass = RAWSECRET18"#,
            r#"headers = { Authorization = "Bearer RAWSECRET20" }"#,
            r#"note = "a1b2c3d4e5f6g7h8RAWSECRET""#,
            r#"url = "https://hooks.sl"ack.com/services/T000/B000/RAWSECRET21"#,
        ] {
            let shown = redact_line(line);
            assert!(!shown.contains("RAWSECRET"), "{line} → {shown}");
        }
    }

    #[test]
    fn snippet_keeps_what_is_not_secret() {
        for line in [
            r#"kind = "slack""#,
            r#"to = ["ops-hook", 'bot']"#,
            r##"channel = "#deploys"  # where"##,
            r#"when = "level in ['error', 'critical']""#,
            r#"timeout = 10s"#,
        ] {
            assert_eq!(redact_line(line), line);
        }
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("urll", ["url", "channel"]), Some("url"));
        assert_eq!(suggest("zzzzzz", ["url", "channel"]), None);
    }
}
