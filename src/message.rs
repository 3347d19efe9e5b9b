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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub label: String,
    pub url: String,
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
}

impl Message {
    /// True when there is nothing a reader would see.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
            && self.title.as_deref().is_none_or(|t| t.trim().is_empty())
            && self.fields.is_empty()
    }
}
