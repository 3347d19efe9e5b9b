//! `chime send` and `chime test`: what a message is, where it goes, how it is delivered.

use clap::Args;

use super::Where;
use super::values::{parse_duration, parse_file_url, parse_link, parse_pair, parse_timeout};
use crate::message::Level;

pub(super) const SEND_EXAMPLES: &str = "\
Examples:
  chime send -r ops \"backup done\"
  chime send -l error -t \"Backup failed\" -f host=db1 -f size=12G \"see the log\"
  make 2>&1 | tail -50 | chime send --code -t \"build log\"
  chime send --to ops-hook --dry-run \"what would be sent?\"
  chime send --to bot --update \"ci-$RUN_ID\" \"deploying…\"   # later: --update \"ci-$RUN_ID\" \"✅ deployed\"
  chime send --to bot --thread \"ci-$RUN_ID\" \"step 2 done\"
  chime send -r team --at 09:00 \"stand-up in 5 minutes\"
  chime send -r ops --dedupe disk-full -l warning \"/var is 97% full\"
  chime send -r oncall --dedupe db1-down --resolve \"db1 is back\"  # closes its PagerDuty alert
  echo '{\"service\":\"api\",\"version\":\"1.4\"}' | chime send --template deploy
  echo '{\"event\":\"user.signed_up\",\"plan\":\"pro\"}' | chime send -r growth   # titled, with fields
  chime send --event user.signed_up -f plan=pro -r growth                        # the same, without JSON

Environment: CHIME_ROUTE, CHIME_TIMEOUT, CHIME_CONFIG, CHIME_PROFILE, CHIME_STATE_DIR,
CHIME_STATE_URL";

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Message text; `-` (or no TEXT with piped stdin) reads stdin
    #[arg(value_name = "TEXT")]
    pub text: Vec<String>,

    #[command(flatten)]
    pub target: Where,

    /// Title shown as the message header
    #[arg(short, long, help_heading = "What")]
    pub title: Option<String>,

    /// Level: sets the emoji, the colour and what rules match
    #[arg(short, long, value_enum, ignore_case = true, help_heading = "What")]
    pub level: Option<Level>,

    /// A field shown as a key/value pair, also a template variable (repeatable)
    #[arg(short, long = "field", value_name = "KEY=VALUE", value_parser = parse_pair, help_heading = "What")]
    pub fields: Vec<(String, String)>,

    /// Send an event: NAME is the title and the `event` variable, -f its fields
    ///
    /// `--event user.signed_up -f email=ada@acme.com -f plan=pro` sends what
    /// `{"event":"user.signed_up","email":"ada@acme.com","plan":"pro"}` on
    /// stdin sends: a message titled NAME with a field for each key (a JSON
    /// object on stdin with no template is shown so too). --title, if given,
    /// is the title instead; rules see NAME as `event` either way.
    #[arg(long, value_name = "NAME", help_heading = "What")]
    pub event: Option<String>,

    /// A link shown as a button (repeatable)
    #[arg(long = "link", value_name = "LABEL=URL", value_parser = parse_link, help_heading = "What")]
    pub links: Vec<(String, String)>,

    /// Show the text as a code block
    #[arg(long, help_heading = "What")]
    pub code: bool,

    /// Attach a file (repeatable; `-` reads it from stdin, the text then from
    /// TEXT); kinds that take no files get its name and size in the text
    #[arg(long = "file", value_name = "PATH", help_heading = "Files")]
    pub files: Vec<std::path::PathBuf>,

    /// The name the channel shows for the file (repeatable: the first names the
    /// first --file, and so on)
    #[arg(long = "file-name", value_name = "NAME", help_heading = "Files")]
    pub file_names: Vec<String>,

    /// A title shown with the file (repeatable, in --file order)
    #[arg(long = "file-title", value_name = "TEXT", help_heading = "Files")]
    pub file_titles: Vec<String>,

    /// Send image files (JPEG, PNG, GIF, WebP) as pictures where the kind shows them
    /// inline (Telegram's sendPhoto, up to 10 MB), not as documents
    #[arg(long, help_heading = "Files")]
    pub photo: bool,

    /// A file already online (repeatable): ntfy attaches it (Attach:), other kinds show a
    /// link to it
    #[arg(long = "file-url", value_name = "URL", value_parser = parse_file_url, help_heading = "Files")]
    pub file_urls: Vec<(String, String)>,

    /// Template from the profile's [templates] to render with
    #[arg(long, value_name = "TEMPLATE", help_heading = "Templates")]
    pub template: Option<String>,

    /// A template variable (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_pair, help_heading = "Templates")]
    pub vars: Vec<(String, String)>,

    /// Read stdin as a JSON object whose keys become template variables
    #[arg(long, help_heading = "Templates")]
    pub json_input: bool,

    /// Print the requests that would be sent (secrets redacted) and send nothing
    #[arg(long, help_heading = "Output")]
    pub dry_run: bool,

    /// Print one JSON object per destination on stdout
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    /// Reply in the thread of the first message sent with KEY (slack-api; google-chat by
    /// key); in CI, KEY defaults to the run, so every step of a run shares a thread
    #[arg(
        long,
        value_name = "KEY",
        help_heading = "Threads",
        conflicts_with = "update",
        num_args = 0..=1,
        default_missing_value = ""
    )]
    pub thread: Option<String>,

    /// Edit the message last posted with KEY instead of posting (slack-api)
    #[arg(long, value_name = "KEY", help_heading = "Threads")]
    pub update: Option<String>,

    /// Show a thread reply in the channel too
    #[arg(long, help_heading = "Threads", requires = "thread")]
    pub broadcast: bool,

    /// Send at TIME instead of now: 09:30 (today, or tomorrow once past), 2026-12-24 09:00
    /// (local), or RFC 3339. slack-api and ntfy schedule it themselves; elsewhere it waits
    /// in the spool and goes with the first `chime flush` after TIME
    #[arg(
        long,
        value_name = "TIME",
        help_heading = "When",
        conflicts_with = "in_"
    )]
    pub at: Option<String>,

    /// Send after DURATION instead of now (e.g. 2h, 30m); as --at
    #[arg(long = "in", value_name = "DURATION", value_parser = parse_duration, help_heading = "When")]
    pub in_: Option<std::time::Duration>,

    /// Post the first message with KEY once per window and count the repeats; the count
    /// goes when the window ends (the original edited where the platform edits)
    #[arg(long, value_name = "KEY", help_heading = "When")]
    pub dedupe: Option<String>,

    /// The window --dedupe counts repeats in [default: the route's `dedupe`, else 1h]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "When", requires = "dedupe")]
    pub dedupe_window: Option<std::time::Duration>,

    /// Resolve the alert KEY names on alerting kinds (pagerduty, opsgenie): the KEY of --dedupe,
    /// --thread or --update, as its trigger was sent with; other kinds post the message
    #[arg(long, help_heading = "Alerts", conflicts_with = "acknowledge")]
    pub resolve: bool,

    /// Acknowledge the alert KEY names on alerting kinds (pagerduty, opsgenie): it stays open and
    /// pages no one further; as --resolve
    #[arg(long, help_heading = "Alerts")]
    pub acknowledge: bool,

    /// Write the message to the spool without trying to send it now (exit 0 once it is kept)
    #[arg(long, help_heading = "Delivery", conflicts_with_all = ["no_spool", "dry_run"])]
    pub queue: bool,

    /// Fail instead of keeping an undelivered message in the spool
    #[arg(long, help_heading = "Delivery")]
    pub no_spool: bool,

    /// Give up on a destination after this long, retries included (e.g. 5s, 1m) [env: CHIME_TIMEOUT]
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, help_heading = "Delivery")]
    pub timeout: Option<std::time::Duration>,
}

pub(super) const TEST_EXAMPLES: &str = "\
Examples:
  chime test                      # every destination in the profile
  chime test ops-hook bot         # just these
  chime --profile work test --timeout 5s

Nothing is queued: a destination that fails the test shows why and what to do.
Exit codes: 0 all delivered, 65 one was rejected, 75 one could not be reached.

Environment: CHIME_CONFIG, CHIME_PROFILE, CHIME_TIMEOUT";

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Destinations to test (default: all)
    #[arg(value_name = "DEST")]
    pub dests: Vec<String>,

    /// Test a webhook URL instead of the profile's destinations [env: CHIME_URL]
    #[arg(long, value_name = "URL", conflicts_with = "dests")]
    pub to: Option<String>,

    /// The kind of the URL when its host does not tell it [env: CHIME_KIND]
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,

    /// Give up on a destination after this long [env: CHIME_TIMEOUT]
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,

    /// One JSON object per destination on stdout, as `chime send --json`, instead of the table
    #[arg(long)]
    pub json: bool,
}
