//! The neutral message: what the user wants to say, before any platform shapes it.
//!
//! Rendering turns the user's input and the profile's templates into a
//! [`Message`]; each kind under `kinds/` turns a `Message` into its own payloads.
//! The text is already in the destination's markup (user values escaped, the
//! template's own markup kept), while the title, fields and links are plain and
//! escaped by the kind where its format needs it.

use std::time::SystemTime;

/// How serious a message is: picks the emoji and colour, and what rules match.
/// Ordered by severity, so a batch takes the level of its worst line.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Info,
    Success,
    Warning,
    Error,
    Critical,
}

impl Level {
    /// Every level, least severe first.
    pub const ALL: [Level; 5] = [
        Level::Info,
        Level::Success,
        Level::Warning,
        Level::Error,
        Level::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Success => "success",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Critical => "critical",
        }
    }

    /// The colour platforms with a coloured bar or border show, as 0xRRGGBB.
    pub fn colour(self) -> u32 {
        match self {
            Level::Info => 0x439FE0,
            Level::Success => 0x2EB67D,
            Level::Warning => 0xECB22E,
            Level::Error => 0xE01E5A,
            Level::Critical => 0x8B0000,
        }
    }

    /// A Unicode emoji for platforms without Slack's `:shortcodes:`.
    pub fn emoji(self) -> &'static str {
        match self {
            Level::Info => "ℹ️",
            Level::Success => "✅",
            Level::Warning => "⚠️",
            Level::Error => "❌",
            Level::Critical => "🚨",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        [
            Level::Info,
            Level::Success,
            Level::Warning,
            Level::Error,
            Level::Critical,
        ]
        .into_iter()
        .find(|level| level.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// A button or link attached to a message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Link {
    pub label: String,
    /// An absolute http(s) URL with only RFC 3986 characters (see [`Link::parse`]).
    pub url: String,
}

/// The longest link URL: Slack's button limit, and short enough that every
/// kind shows a link whole, in one embed, section or line (issue 12).
pub const LINK_MAX: usize = 3000;

impl Link {
    /// A link whose URL every platform takes as it is. The URL is parsed as a
    /// browser would (the `url` crate, WHATWG), so non-ASCII, spaces, quotes
    /// and `<>` come out percent-encoded; what WHATWG lets through and
    /// RFC 3986 does not (`|`, backticks, braces, `^`, brackets outside an IPv6
    /// host) is encoded too, since Teams' schema checks RFC 3986 and markdown
    /// and Slack's `<url|label>` would read them as markup; so are parentheses,
    /// which end a markdown link, so that the length checked here is the
    /// length every kind sends and a link is never cut. Line breaks and
    /// tabs, which a browser silently drops, are refused: they are a mistake
    /// in the link, not part of it.
    pub fn parse(label: &str, url: &str) -> Result<Link, String> {
        if url.contains(['\n', '\r', '\t']) {
            return Err(format!(
                "link `{}`: the URL has a line break or tab",
                url.escape_debug()
            ));
        }
        let parsed = url::Url::parse(url)
            .map_err(|e| format!("link `{url}` is not an absolute URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("link `{url}` must be an http or https URL"));
        }
        let host_end = parsed[..url::Position::AfterPort].len();
        let (head, tail) = parsed.as_str().split_at(host_end);
        let mut out = String::with_capacity(parsed.as_str().len());
        out.push_str(head);
        for c in tail.chars() {
            match c {
                '|' | '`' | '{' | '}' | '^' | '[' | ']' | '\\' | '"' | '<' | '>' | ' ' | '('
                | ')' => {
                    out.push_str(&format!("%{:02X}", c as u32));
                }
                c => out.push(c),
            }
        }
        if out.chars().count() > LINK_MAX {
            return Err(format!(
                "link `{label}`: the URL may be at most {LINK_MAX} characters (Slack's limit)"
            ));
        }
        Ok(Link {
            label: label.to_owned(),
            url: out,
        })
    }
}

/// One message, ready for a kind to render.
#[derive(Clone, Debug)]
pub struct Message {
    /// Plain text; kinds escape it where their format needs it.
    pub title: Option<String>,
    /// In the destination's markup already (see the module doc).
    pub text: String,
    pub level: Level,
    /// Plain key/value pairs, in the order given.
    pub fields: Vec<(String, String)>,
    pub links: Vec<Link>,
    /// Show `text` as a code block.
    pub code: bool,
    pub host: String,
    pub time: SystemTime,
    /// Short plain lines about where the message comes from (a CI run's
    /// repo@branch and commit), for kinds with a context or footer line.
    pub context: Vec<String>,
    /// Files that go with it (`--file`), for kinds that carry files; the
    /// others name them in the text.
    pub files: Vec<FileRef>,
    /// Files already online (`--file-url`): attached by kinds that can point
    /// at one (ntfy's `Attach`), a link everywhere else.
    pub file_urls: Vec<Link>,
}

impl Message {
    /// A message chime writes itself (a digest, a dedupe count): from this
    /// host, now, with nothing but its level, title and text.
    pub fn of_chime(level: Level, title: Option<String>, text: String) -> Message {
        Message {
            title,
            text,
            level,
            fields: Vec::new(),
            links: Vec::new(),
            code: false,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            time: crate::clock::now(),
            context: Vec::new(),
            files: Vec::new(),
            file_urls: Vec::new(),
        }
    }

    /// True when there is nothing a reader would see.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
            && self.title.as_deref().is_none_or(|t| t.trim().is_empty())
            && self.fields.is_empty()
            && self.files.is_empty()
            && self.file_urls.is_empty()
    }
}

/// One file of a message, as a payload carries it (and the spool keeps it).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileRef {
    /// Where its bytes are read from when the payload is sent.
    pub path: std::path::PathBuf,
    /// The name the channel shows (`--file-name`, else the file's own).
    pub name: String,
    /// What the channel shows above or beside it (`--file-title`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its size when it was accepted: the bytes sent are exactly these many.
    pub size: u64,
    /// `--photo`: an image shown as a picture where the kind can (Telegram's
    /// sendPhoto), not as a document.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub as_photo: bool,
    /// The CRC-32 of the spool's copy, taken as it was made: a copy damaged
    /// since is refused, never sent (`deliver/upload.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
}

impl FileRef {
    /// The content type its name suggests; octet-stream when it says nothing.
    pub fn content_type(&self) -> &'static str {
        let extension = self
            .name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase());
        match extension.as_deref() {
            Some("txt" | "log") => "text/plain; charset=utf-8",
            Some("csv") => "text/csv",
            Some("json") => "application/json",
            Some("html" | "htm") => "text/html",
            Some("xml") => "application/xml",
            Some("pdf") => "application/pdf",
            Some("png") => "image/png",
            Some("jpg" | "jpeg") => "image/jpeg",
            Some("gif") => "image/gif",
            Some("webp") => "image/webp",
            Some("svg") => "image/svg+xml",
            Some("zip") => "application/zip",
            Some("gz") => "application/gzip",
            _ => "application/octet-stream",
        }
    }

    /// Whether its name says it is a picture (JPEG, PNG, GIF, WebP).
    pub fn is_image(&self) -> bool {
        self.content_type().starts_with("image/")
            && !self.name.to_ascii_lowercase().ends_with(".svg")
    }

    /// "build.log (1.2 MiB)": what a kind that cannot carry files says instead.
    pub fn described(&self) -> String {
        format!("{} ({})", self.name, human_size(self.size))
    }
}

/// A size as people read it: `812 B`, `4.0 KiB`, `1.2 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_an_rfc_3986_http_url() {
        let link = |url| Link::parse("x", url).map(|l| l.url);
        assert_eq!(
            link("https://example.com/a b|c`d<e>\"f{g}^[h]?q=é x|y#frag ment").unwrap(),
            "https://example.com/a%20b%7Cc%60d%3Ce%3E%22f%7Bg%7D%5E%5Bh%5D?q=%C3%A9%20x%7Cy#frag%20ment"
        );
        assert_eq!(link("http://[::1]:8080/x").unwrap(), "http://[::1]:8080/x");
        assert_eq!(
            link("https://e.example/(a)").unwrap(),
            "https://e.example/%28a%29"
        );
        assert_eq!(
            link("https://bücher.example/").unwrap(),
            "https://xn--bcher-kva.example/"
        );
        assert!(link("https://example.com/a\nb").is_err());
        assert!(link("/relative").is_err());
        assert!(link("javascript:alert(1)").is_err());
        assert!(link("mailto:a@example.com").is_err());
        assert!(link(&format!("https://example.com/{}", "a".repeat(3000))).is_err());
    }
}
