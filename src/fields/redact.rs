//! What a message about a profile may show of the profile.
//!
//! A problem is shown with the line it is on, and that line may hold a secret:
//! a webhook URL, a token, a password, perhaps under a misspelt key, perhaps
//! one line of a multi-line string. [`Redacted`] reads the whole source once
//! with a forgiving TOML lexer (the file is often broken: that is why it is
//! shown), and keeps every line with its secret-looking values masked, along
//! with each value it masked, so that a message quoting one (the parser's
//! "invalid type: string …", an "unknown kind `…`") is masked the same way.
//!
//! Secret-looking is: any URL (cut to its scheme, host and shape, see
//! [`secret::redact_url`]); anything shaped like a token; and every value under
//! a key that reads like a secret, misspelt or not (`pasword`, `pwd`,
//! `X-Api-Kye`). Inside a multi-line string each line is masked as a whole
//! when the key is secret, word by word otherwise. Masking too much costs a
//! less helpful snippet; masking too little costs a leaked credential, so
//! every doubt is resolved towards masking.

use crate::secret;

/// A profile's source with every secret-looking value masked, line by line.
pub struct Redacted {
    lines: Vec<String>,
    /// Values masked somewhere in the source, with their masks, longest first.
    masked: Vec<(String, String)>,
}

/// Values shorter than this are not looked for in messages: they would match
/// ordinary words (`file`, `true`), and a secret that short protects nothing.
const MIN_MASKED_LEN: usize = 6;

impl Redacted {
    pub fn new(source: &str) -> Redacted {
        let mut masker = Masker::default();
        let mut open = None;
        let lines = source
            .split('\n')
            .map(|line| masker.line(line.trim_end_matches('\r'), &mut open))
            .collect();
        let mut masked = masker.masked;
        masked.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        masked.dedup_by(|a, b| a.0 == b.0);
        Redacted { lines, masked }
    }

    /// Line `number` (from 1), masked; empty past the end.
    pub fn line(&self, number: usize) -> &str {
        number
            .checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .map_or("", String::as_str)
    }

    /// A message or a help text about the profile, masked as its snippets
    /// are: every value masked anywhere in the source is masked here too, and
    /// anything quoted in it (`…` or "…") that looks like a URL or a token.
    pub fn text(&self, text: &str) -> String {
        let mut out = mask_quoted(text);
        for (value, mask) in &self.masked {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), mask);
            }
        }
        out
    }
}

/// A multi-line string that goes on past the end of a line.
struct Open {
    quote: char,
    key: String,
}

#[derive(Default)]
struct Masker {
    masked: Vec<(String, String)>,
}

impl Masker {
    /// Masks one line, given the multi-line string it starts in, if any, and
    /// leaves `open` as the string it ends in.
    fn line(&mut self, line: &str, open: &mut Option<Open>) -> String {
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        if let Some(string) = open.take() {
            match find_close(rest, string.quote, true) {
                Some(end) => {
                    out.push_str(&self.inner(&string.key, &rest[..end]));
                    out.push_str(&rest[end..end + 3]);
                    rest = &rest[end + 3..];
                }
                None => {
                    out.push_str(&self.inner(&string.key, rest));
                    *open = Some(string);
                    return out;
                }
            }
        }
        while let Some(at) = rest.find(['"', '\'', '#']) {
            let bare = self.bare(&out, &rest[..at]);
            out.push_str(&bare);
            rest = &rest[at..];
            if rest.starts_with('#') {
                // A comment: no strings in it, but a URL or token may be.
                out.push_str(&self.words(rest));
                return out;
            }
            let quote = if rest.starts_with('"') { '"' } else { '\'' };
            let key = key_before(&out);
            let triple = rest.starts_with(if quote == '"' { "\"\"\"" } else { "'''" });
            let width = if triple { 3 } else { 1 };
            out.push_str(&rest[..width]);
            rest = &rest[width..];
            let end = find_close(rest, quote, triple);
            let inside = &rest[..end.unwrap_or(rest.len())];
            let shown = match triple {
                true => self.inner(&key, inside),
                false => self.value(&key, inside),
            };
            out.push_str(&shown);
            rest = &rest[inside.len()..];
            match end {
                Some(_) => {
                    out.push_str(&rest[..width]);
                    rest = &rest[width..];
                }
                None if triple => {
                    *open = Some(Open { quote, key });
                    return out;
                }
                None => {}
            }
        }
        let bare = self.bare(&out, rest);
        out.push_str(&bare);
        out
    }

    /// One line of a multi-line string under `key`.
    fn inner(&mut self, key: &str, text: &str) -> String {
        if text.trim().is_empty() || !is_secret_key(key) {
            return self.words(text);
        }
        let indent = &text[..text.len() - text.trim_start().len()];
        format!("{indent}{}", self.value(key, text.trim_start()))
    }

    /// A whole string value (or an unquoted word standing for one) under `key`.
    fn value(&mut self, key: &str, value: &str) -> String {
        if value.is_empty() || is_reference(value) {
            return value.to_owned();
        }
        if value.contains("$\u{7b}") {
            return self.with_references(key, value);
        }
        let whole_url = value.contains("://") && !value.contains(char::is_whitespace);
        let shown = if is_secret_key(key) || whole_url {
            if value.contains("://") {
                secret::redact_url(value)
            } else {
                secret::redact_token(value)
            }
        } else {
            return self.words(value);
        };
        self.remember(value, &shown);
        shown
    }

    /// A value built from text and `${NAME}`s: the names are shown, since
    /// they are no secret and say where the value comes from; the text
    /// around them is masked as a value of its own. Before a reference, a
    /// URL's text keeps its path, which is where a secret would be if the
    /// reference were not.
    fn with_references(&mut self, key: &str, value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        for piece in super::pieces(value) {
            let text = match piece {
                super::Piece::Var(name) => {
                    out.push_str(&format!("${{{name}}}"));
                    continue;
                }
                super::Piece::Text(text) => text,
            };
            let shown = if text.chars().all(is_separator) {
                text.to_owned()
            } else if out.is_empty() && text.contains("://") {
                let masked = secret::redact_url(&format!("{text}x"));
                masked.strip_suffix("****").unwrap_or(&masked).to_owned()
            } else if out.is_empty() && !is_secret_key(key) {
                self.words(text)
            } else {
                "****".to_owned()
            };
            if shown != text {
                self.remember(text, &shown);
            }
            out.push_str(&shown);
        }
        out
    }

    /// Free text: each URL and each token-shaped word in it is masked.
    fn words(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while !rest.is_empty() {
            let gap = rest.find(|c| !is_word_break(c)).unwrap_or(rest.len());
            out.push_str(&rest[..gap]);
            rest = &rest[gap..];
            let end = rest.find(is_word_break).unwrap_or(rest.len());
            let word = &rest[..end];
            let shown = mask_word(word);
            if shown != word {
                self.remember(word, &shown);
            }
            out.push_str(&shown);
            rest = &rest[end..];
        }
        out
    }

    /// Unquoted text on a line, which may be broken TOML: words right after
    /// `=` are values, masked like quoted ones; after a secret key's `=`,
    /// every word is (a URL a stray quote broke in two leaves part of it bare).
    fn bare(&mut self, before: &str, text: &str) -> String {
        let mut key = key_before(before);
        let mut secret_key = before.contains('=') && is_secret_key(&key);
        let mut after_equals = before.trim_end().ends_with('=');
        let mut previous = "";
        let mut out = String::with_capacity(text.len());
        for piece in text.split_inclusive(char::is_whitespace) {
            let word = piece.trim_end();
            let space = &piece[word.len()..];
            if let Some(eq) = word.find('=') {
                // `key=value` unspaced, as broken TOML may have it.
                let (named, value) = (&word[..eq], &word[eq + 1..]);
                key = normalise_key(if named.is_empty() { previous } else { named });
                secret_key = is_secret_key(&key);
                let shown = self.value(&key, value);
                out.push_str(&format!("{named}={shown}{space}"));
                after_equals = value.is_empty();
                previous = named;
                continue;
            }
            if word.starts_with(['{', ',']) {
                // An inline table or its next entry: a key comes next, not a value.
                (secret_key, after_equals) = (false, false);
                out.push_str(piece);
                continue;
            }
            let is_value = after_equals || secret_key || word.contains("://");
            if is_value && !word.is_empty() && !word.starts_with('[') {
                let shown = self.value(&key, word);
                out.push_str(&shown);
            } else {
                // Not a value by its place, but quotes gone astray may have
                // left a URL or a token bare anywhere on the line.
                out.push_str(&self.words(word));
            }
            out.push_str(space);
            if !word.is_empty() {
                after_equals = false;
                previous = word;
            }
        }
        out
    }

    fn remember(&mut self, value: &str, mask: &str) {
        if value.len() >= MIN_MASKED_LEN && value != mask {
            self.masked.push((value.to_owned(), mask.to_owned()));
        }
    }
}

/// Where the string opened just before `text` closes, if on this line: the
/// offset of its closing quote(s). Basic strings skip escaped characters.
fn find_close(text: &str, quote: char, triple: bool) -> Option<usize> {
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' && quote == '"' {
            chars.next();
        } else if c == quote && (!triple || text[i..].starts_with(&quote.to_string().repeat(3))) {
            return Some(i);
        }
    }
    None
}

/// Splits words for masking: URLs and tokens never hold these.
fn is_word_break(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | '{' | '}' | '[' | ']')
}

fn mask_word(word: &str) -> String {
    if is_reference(word) || is_path(word) {
        word.to_owned()
    } else if word.contains("://") {
        secret::redact_url(word)
    } else if looks_like_token(word) || looks_like_address(word) {
        secret::redact_token(word)
    } else {
        word.to_owned()
    }
}

/// A URL without its scheme (`//host/path`, `hooks.slack.com/services/…`),
/// as a stray quote or a line break can leave one: the path may hold the key.
fn looks_like_address(word: &str) -> bool {
    let mut parts = word.trim_start_matches('/').split('/');
    let host = parts.next().unwrap_or("");
    let is_host = host.contains('.') && host.chars().any(|c| c.is_ascii_alphanumeric());
    let rooted = word.starts_with("//") && !host.is_empty();
    (rooted || (is_host && !host.starts_with('.'))) && parts.any(|p| !p.is_empty())
}

/// What a message quotes between backticks or double quotes, masked when it
/// looks like a URL or a token.
fn mask_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = &rest[open..=open];
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let Some(close) = rest.find(quote) else {
            break;
        };
        let inside = &rest[..close];
        let whole_url = inside.contains("://") && !inside.contains(char::is_whitespace);
        match whole_url {
            true => out.push_str(&secret::redact_url(inside)),
            false => out.push_str(&Masker::default().words(inside)),
        }
        out.push_str(quote);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A file's path (`/run/secrets/hook`, `./x`, `~/x`): where a secret is kept,
/// not the secret, and what a user must see to fix it — even when a temporary
/// directory's random name in it looks like a token.
fn is_path(word: &str) -> bool {
    let rooted = word.starts_with('/') && !word.starts_with("//");
    let relative = ["./", "../", "~/"].iter().any(|p| word.starts_with(p));
    (rooted || relative) && !word.contains("://")
}

/// `${NAME}`: a reference to a secret kept elsewhere, safe and useful to show.
/// What joins the parts of a URL or a key, and tells nothing of a secret.
fn is_separator(c: char) -> bool {
    matches!(c, '/' | ':' | '.' | '-' | '_' | '?' | '&' | '=' | '@' | '$')
}

fn is_reference(value: &str) -> bool {
    value.starts_with("$\u{7b}") && value.ends_with('}') && !value[2..].contains(['$', '\u{7b}'])
}

/// The key whose value starts at the end of `text`, lowercased.
fn key_before(text: &str) -> String {
    let Some(eq) = text.rfind('=') else {
        return String::new();
    };
    let key = text[..eq]
        .trim_end()
        .rsplit(|c: char| c.is_whitespace() || c == '{' || c == ',')
        .next()
        .unwrap_or("");
    normalise_key(key)
}

fn normalise_key(key: &str) -> String {
    key.trim_matches(['"', '\'']).to_ascii_lowercase()
}

/// Parts of key names that say the value is a secret, wherever they appear
/// in the key once its separators are dropped (`webhook_url`, `X-Auth-Tok`).
const SECRET_PARTS: &[&str] = &[
    "url", "uri", "tok", "tkn", "pass", "pwd", "secret", "key", "hook", "auth", "cred", "bearer",
    "cookie", "session", "private", "sign", "proxy",
];

/// Words that say the value is a secret even misspelt: a word of the key
/// within a typo or two of one of these (`pasword`, `toekn`, `kye`) counts.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "token",
    "secret",
    "key",
    "apikey",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "signature",
    "url",
];

/// Whether values under `key` are secrets. Anything not a key at all (a
/// very long "key" is a value the lexer mistook) counts as secret too.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if key.len() > 64 {
        return true;
    }
    let squashed: String = key.chars().filter(char::is_ascii_alphanumeric).collect();
    if SECRET_PARTS.iter().any(|part| squashed.contains(part)) {
        return true;
    }
    let mut words = key.split(|c: char| !c.is_ascii_alphanumeric());
    let misspelt = |word: &str| {
        word == "pw"
            || SECRET_WORDS.iter().any(|secret| {
                let typos = if secret.len() <= 5 { 1 } else { 2 };
                word.len().abs_diff(secret.len()) <= typos && typo_distance(word, secret) <= typos
            })
    };
    words.any(|w| !w.is_empty() && misspelt(w)) || misspelt(&squashed)
}

/// Edit distance counting a swap of two neighbours as one typo, as people make them.
fn typo_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![(0..=b.len()).collect::<Vec<usize>>()];
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (rows[i - 1][j] + 1)
                .min(row[j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(rows[i - 2][j - 2] + 1);
            }
        }
        rows.push(row);
    }
    rows[a.len()][b.len()]
}

/// A Slack/ntfy/GitHub token prefix, or a long unbroken word that mixes
/// letters and digits the way generated keys do (`a1b2c3…`, hex, base64) but
/// names do not (`ops-hook-2024-primary` switches between them only twice).
fn looks_like_token(value: &str) -> bool {
    let prefixed = ["xox", "tk_", "ghp_", "glpat-"]
        .iter()
        .any(|p| value.starts_with(p));
    if prefixed {
        return true;
    }
    if value.len() < 16 || value.contains(char::is_whitespace) {
        return false;
    }
    value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|run| run.len() >= 32 || (run.len() >= 8 && switches(run) >= 3))
}

/// How often a run of letters and digits switches between the two.
fn switches(run: &str) -> usize {
    let digits: Vec<bool> = run.chars().map(|c| c.is_ascii_digit()).collect();
    digits.windows(2).filter(|w| w[0] != w[1]).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> String {
        Redacted::new(text).line(1).to_owned()
    }

    #[test]
    fn a_webhook_url_or_token_keeps_only_its_shape() {
        let url = r#"url = "https://hooks.slack.com/services/T1/B2/sekrit""#;
        assert_eq!(
            line(url),
            r#"url = "https://hooks.slack.com/services/T…/B…/****""#
        );
        assert_eq!(
            line(r#"token = "xoxb-99-sekrit""#),
            r#"token = "xoxb-****""#
        );
        assert_eq!(line(r#"url = "${HOOK}""#), r#"url = "${HOOK}""#);
    }

    #[test]
    fn variable_names_and_comments_are_shown_and_only_the_text_around_them_masked() {
        assert_eq!(
            line(r#"url = "https://hooks.slack.com/services/${TEAM}/${HOOK}" # ops channel"#),
            r#"url = "https://hooks.slack.com/services/${TEAM}/${HOOK}" # ops channel"#
        );
        assert_eq!(
            line(r#"password = "RAWSECRET${SUFFIX}-x""#),
            r#"password = "****${SUFFIX}****""#
        );
        assert_eq!(
            line(r#"url = "https://ops:RAWSECRET@example.com/${PATH}?t=RAWSECRET""#),
            r#"url = "https://****@example.com/${PATH}****""#
        );
    }

    #[test]
    fn secrets_are_masked_however_they_are_quoted_or_keyed() {
        for text in [
            "url = https://hooks.slack.com/services/T0/B0/RAWSECRET7",
            "url = 'https://hooks.slack.com/services/T0/B0/RAWSECRET14'",
            "webhook_url = 'hooks.slack.com/services/T0/B0/RAWSECRET13'",
            r#"tokn = "xoxb-1234-RAWSECRET19""#,
            r#"pass = "RAWSECRET18""#,
            r#"pass = RAWSECRET18"#,
            r#"pasword = "RAWSECRET""#,
            r#"pwd = 'RAWSECRET'"#,
            r#"X-Api-Kye = "RAWSECRET""#,
            r#"headers = { Authorization = "Bearer RAWSECRET20" }"#,
            r#"note = "a1b2c3d4e5f6g7h8RAWSECRET""#,
            r#"url = "https://hooks.sl"ack.com/services/T000/B000/RAWSECRET21"#,
            r#"text = "see https://x.example/T0/RAWSECRET for more""#,
            r#"password = "quoted \" RAWSECRET""#,
            "timeout = 1 # was https://hooks.slack.com/services/T0/B0/RAWSECRET",
            "//127.0.0.1:9/services/T0/B0/RAWSECRET\"",
            r#"kind = "slack-an = "xoxb-1111-RAWSECRET""#,
            "see hooks.slack.com/services/T0/B0/RAWSECRET for it",
        ] {
            let shown = line(text);
            assert!(!shown.contains("RAWSECRET"), "{text} → {shown}");
        }
    }

    #[test]
    fn what_is_not_secret_is_kept() {
        for text in [
            r#"kind = "slack""#,
            r#"to = ["ops-hook", 'bot']"#,
            r#"to = ["ops-hook-2024-primary"]"#,
            r##"channel = "#deploys"  # where"##,
            r#"when = "level in ['error', 'critical']""#,
            r#"timeout = 10s"#,
            r#"user = "deploy-bot""#,
            r#"text = "{{ level | upper }}: {{ text }}""#,
            r#"url = { file = "/run/secrets/hook" }"#,
            r#"url = { file = "./secrets/hook" }"#,
            r#"url = { file = "/tmp/.tmp8NDg52/hook.fifo" }"#,
            "# see the README.md file",
        ] {
            assert_eq!(line(text), text);
        }
    }

    #[test]
    fn every_line_of_a_multi_line_secret_is_masked_and_what_follows_is_not() {
        let source = "password = \"\"\"\nLINEONE\nLINETWO\"\"\"\nkind = \"x\"\n";
        let redacted = Redacted::new(source);
        assert_eq!(redacted.line(2), "****");
        assert_eq!(redacted.line(3), "****\"\"\"");
        assert_eq!(redacted.line(4), "kind = \"x\"");
    }

    #[test]
    fn a_message_is_masked_like_the_snippets() {
        let redacted = Redacted::new("pasword = \"PLAINWORDS\"\nkind = \"ok\"\n");
        assert_eq!(
            redacted.text("unknown kind `PLAINWORDS`, or `https://h.example/T0/KEY`"),
            "unknown kind `****`, or `https://h.example/T…/****`"
        );
        assert_eq!(
            redacted.text("did you mean `slack`?"),
            "did you mean `slack`?"
        );
    }

    #[test]
    fn misspelt_secret_keys_count_and_ordinary_keys_do_not() {
        for key in [
            "pasword",
            "pwd",
            "pw",
            "toekn",
            "secert",
            "auht",
            "api_kye",
            "X-Api-Kye",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "kind", "user", "text", "title", "topic", "channel", "pace", "path", "to",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }
}
