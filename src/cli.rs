//! The command line as the user typed it (clap derive).
//!
//! Conventions: the first line of a `///` comment is the short help and the rest
//! the long help; every subcommand has examples in `after_help`; flags that
//! scripts set often have a `CHIME_*` variable, but those variables are read in
//! `settings.rs`, not through clap's `env`, so that a variable never conflicts
//! with a flag the user did type. Nothing here looks at the profile.
//!
//! Arguments whose value names are `ROUTE`, `DEST` or `TEMPLATE` complete
//! from the current profile in bash, zsh and fish, and those named `ID` from
//! the ids in its spool (`completions.rs` finds them by those names), so new
//! commands get that for free by using them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::message::Level;

const EXIT_CODES: &str = "\
Exit codes:
  0   delivered to every destination
  1   an unexpected error on chime's side
  2   usage error (bad flag, nothing to send)
  65  a destination rejected the message for good (kept as a dead letter)
  74  not delivered and not kept: --no-spool, or the spool could not be
      written (full or read-only disk); the message is gone unless you act
  75  not delivered for now: queued in the spool for retry; `chime flush`
      delivers it later
  78  configuration error (missing or invalid profile, unknown route)
  130 interrupted twice (chime pipe): what was left is in the spool
  chime run exits with the command's own code instead

Environment:
  CHIME_CONFIG    profile file to use (like --config)
  CHIME_PROFILE   profile name (like --profile)
  CHIME_ROUTE     route used when no --route or --to is given
  CHIME_TIMEOUT   per-destination timeout (like --timeout)
  CHIME_STATE_DIR where the spool lives (default: $XDG_STATE_HOME/chime);
                  it must be yours alone, or chime refuses it (78)";

/// `--version`: the version, then the commit, its date and the target when
/// known at build time (build.rs); `-V` and the man page show the version alone.
const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("CHIME_BUILD"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "chime",
    version,
    long_version = LONG_VERSION,
    about = "Send notifications from scripts, cron jobs and CI to Slack, Discord, Teams, Telegram, Mattermost, Google Chat, ntfy or a webhook, and never lose one",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Profile file to read [env: CHIME_CONFIG]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Profile name: reads <config dir>/chime/NAME.toml [env: CHIME_PROFILE] [default: config]
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Print nothing but errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log each request (secrets redacted) on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a message to routes or destinations
    #[command(after_help = SEND_EXAMPLES)]
    Send(Box<SendArgs>),

    /// Stream stdin into a channel, lines packed into as few messages as allowed
    #[command(after_help = PIPE_EXAMPLES)]
    Pipe(PipeArgs),

    /// Run a command as cron would, and report how it went
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),

    /// Deliver what the spool holds
    #[command(after_help = FLUSH_EXAMPLES)]
    Flush(FlushArgs),

    /// Look at and manage the spool of undelivered messages
    #[command(subcommand, after_help = SPOOL_EXAMPLES)]
    Spool(SpoolCommand),

    /// Create, locate, check or show the profile
    #[command(subcommand, after_help = CONFIG_EXAMPLES)]
    Config(ConfigCommand),

    /// Send a short test message to each destination and show what happened
    #[command(after_help = TEST_EXAMPLES)]
    Test(TestArgs),

    /// Print a shell completion script
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff), as install.sh installs it
    #[command(
        after_help = "Examples:\n  chime manpage | man -l -\n  chime manpage > ~/.local/share/man/man1/chime.1"
    )]
    Manpage,
}

/// Where a message goes; shared by send, pipe and run.
#[derive(Debug, Args)]
pub struct Where {
    /// Route to send through (repeatable) [env: CHIME_ROUTE]
    #[arg(short, long = "route", value_name = "ROUTE", help_heading = "Where")]
    pub routes: Vec<String>,

    /// Destination to send to, bypassing routes (repeatable), or a webhook URL [env: CHIME_URL]
    ///
    /// A URL (https://…) needs no profile: its kind is told by its host
    /// (Slack, Discord, Teams, Google Chat, ntfy.sh) or given with --kind. A
    /// URL typed here is never queued; one in CHIME_URL is, and `chime flush`
    /// reads CHIME_URL again to deliver it.
    #[arg(
        long = "to",
        value_name = "DEST",
        help_heading = "Where",
        conflicts_with = "routes"
    )]
    pub to: Vec<String>,

    /// The kind of a --to URL or CHIME_URL whose host does not tell it [env: CHIME_KIND]
    #[arg(long, value_name = "KIND", help_heading = "Where")]
    pub kind: Option<String>,

    /// Channel, overriding the route's and the destination's
    #[arg(long, value_name = "CHANNEL", help_heading = "Where")]
    pub channel: Option<String>,
}

const PIPE_EXAMPLES: &str = "\
Examples:
  tail -f /var/log/app.log | chime pipe -r logs
  make 2>&1 | chime pipe --tee --title \"build on $(hostname)\"
  journalctl -f | chime pipe --grep 'error|panic' --level-from-line

Lines go out as a code block, batched: a batch is sent --interval after its first
line, or as soon as it fills one message. Ctrl-C sends what is buffered; a second
Ctrl-C spools it and exits 130. Exit codes as for send.";

#[derive(Debug, Args)]
pub struct PipeArgs {
    #[command(flatten)]
    pub target: Where,

    /// Title of every message
    #[arg(short, long, help_heading = "What")]
    pub title: Option<String>,

    /// Level of every message (raised by --level-from-line)
    #[arg(short, long, value_enum, ignore_case = true, help_heading = "What")]
    pub level: Option<Level>,

    /// Send a batch this long after its first line
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub interval: std::time::Duration,

    /// Plain text instead of a code block
    #[arg(long, help_heading = "What")]
    pub no_code: bool,

    /// Copy stdin to stdout unchanged
    #[arg(long)]
    pub tee: bool,

    /// Send only lines matching this regular expression (all still go to --tee)
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub grep: Option<regex_lite::Regex>,

    /// Raise a message's level when a line looks like an error or a warning
    #[arg(long, help_heading = "What")]
    pub level_from_line: bool,

    /// A batch whose text is over SIZE goes as one file, with a message naming its lines,
    /// to kinds that take files (e.g. 100KiB); others get it as messages
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "What")]
    pub file_over: Option<usize>,

    /// Batches kept in memory before the rest go to the spool (e.g. 64MiB)
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_pending: usize,

    /// Give up on one batch after this long, retries included [env: CHIME_TIMEOUT]
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,

    /// Print each batch's requests as it closes (secrets redacted): send, spool and
    /// journal nothing
    #[arg(long, conflicts_with = "tee")]
    pub dry_run: bool,
}

const TEST_EXAMPLES: &str = "\
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

fn parse_regex(s: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(s).map_err(|e| e.to_string())
}

/// `64MiB`, `512KiB`, `1GiB`, `1000` (bytes).
fn parse_size(s: &str) -> Result<usize, String> {
    crate::kinds::files::parse_size(s).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  chime completions bash > ~/.local/share/bash-completion/completions/chime
  chime completions zsh > ~/.zfunc/_chime        # with fpath+=(~/.zfunc)
  chime completions fish > ~/.config/fish/completions/chime.fish

install.sh installs these for bash, zsh and fish. In those shells, route,
destination and template names complete from the current profile (the one
--profile or --config on the line names), and spool entry ids from its spool.";

const RUN_EXAMPLES: &str = "\
Examples:
  chime run -r cron -- /usr/local/bin/backup.sh
  chime run --on change --name disk-check -- ./check-disk.sh     # once when it breaks, once when it recovers
  chime run --on always --tail 50 --timeout 1h -- make release

chime exits with the command's own code (128+N when killed by signal N, 127 when
it is not found, 126 when it cannot be run); delivery trouble goes to stderr and
the spool, never into that code. A broken profile or an unknown route never
stops the command: chime says so on stderr once it has finished.

Environment: CHIME_CONFIG, CHIME_PROFILE, CHIME_ROUTE, CHIME_STATE_DIR";

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: Where,

    /// When to report
    #[arg(long, value_enum, default_value = "failure")]
    pub on: On,

    /// Lines of output to keep for the report
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub tail: usize,

    /// The job's name in the report and for --on change [default: the command line]
    #[arg(long)]
    pub name: Option<String>,

    /// Stop the command and all it started after this long (TERM, then KILL 5 s later)
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,

    /// Send the job's whole output with the report, as a file (NAME-START.log), kept on
    /// disk while the job runs
    #[arg(long, help_heading = "Files")]
    pub attach_output: bool,

    /// The most output --attach-output sends: the first and last halves of it, with a
    /// line where the middle was cut
    #[arg(long, value_name = "SIZE", default_value = "8MiB", value_parser = parse_size, help_heading = "Files")]
    pub attach_max: usize,

    /// Template from the profile's [templates] (variables: name, cmd, exit_code,
    /// signal, duration, started, tail, ok)
    #[arg(long, value_name = "TEMPLATE", help_heading = "Templates")]
    pub template: Option<String>,

    /// Run the command, then print the report's requests (secrets redacted):
    /// send nothing, spool nothing, and leave the --on change record alone
    #[arg(long)]
    pub dry_run: bool,

    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

const FLUSH_EXAMPLES: &str = "\
Examples:
  chime flush                     # deliver what is due (from cron: */5 * * * *)
  chime flush --all               # try everything now, ignoring backoff
  chime flush --wait 10m          # keep at it until empty, for at most 10 minutes
  chime flush --dest ops-hook
  chime --profile lab flush       # only that profile's messages

Without --profile or --config, every profile with messages waiting is flushed,
each with its own destinations.

Exit codes: 0 nothing left pending, 75 some remain, 65 something new was dead-lettered.

Environment: CHIME_CONFIG, CHIME_PROFILE, CHIME_TIMEOUT, CHIME_STATE_DIR";

#[derive(Debug, Args)]
pub struct FlushArgs {
    /// Only this destination (repeatable)
    #[arg(long = "dest", value_name = "DEST")]
    pub dest: Vec<String>,

    /// Try every pending entry now, ignoring next-attempt times
    #[arg(long)]
    pub all: bool,

    /// Keep going until the spool is empty or this long has passed
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<std::time::Duration>,

    /// Per-destination timeout for each entry [env: CHIME_TIMEOUT]
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
}

const SPOOL_EXAMPLES: &str = "\
Examples:
  chime spool list                # pending messages
  chime spool list --dead --json  # dead-lettered ones, for a script
  chime spool show 0193a5…        # one entry, payload included (ids may be shortened)
  chime spool retry --all         # dead-letter back to pending
  chime spool purge --dead --yes

Every profile's spool is shown unless --profile or --config names one.

Environment: CHIME_STATE_DIR (the spool lives in $CHIME_STATE_DIR/profiles/<profile>/spool)";

const SPOOL_LIST_EXAMPLES: &str = "\
Examples:
  chime spool list
  chime spool list --dead --json | jq length
  chime spool list --summary               # a line per destination
  chime spool list --dest ops-hook --limit 20
  chime spool list --quarantined           # damaged files moved aside";

#[derive(Debug, Args)]
pub struct SpoolListArgs {
    /// The dead-letter entries instead of the pending ones
    #[arg(long)]
    pub dead: bool,

    /// A JSON array, one object per entry (per destination with --summary)
    #[arg(long)]
    pub json: bool,

    /// Only this destination (repeatable)
    ///
    /// A name neither the profile nor the spool knows is a usage error (2).
    #[arg(long = "dest", value_name = "DEST")]
    pub dest: Vec<String>,

    /// At most N entries, the oldest; how many more there are goes to stderr
    #[arg(long, value_name = "N", conflicts_with = "summary")]
    pub limit: Option<usize>,

    /// One line per destination instead of one per entry: how many are
    /// pending, in flight and dead, how old the oldest is, when it is next tried
    ///
    /// Counts are of files, read without opening them; only each
    /// destination's oldest entry is read. With --dead, the oldest is the
    /// oldest dead letter.
    #[arg(long)]
    pub summary: bool,

    /// The damaged files reads moved aside (the spool's corrupt/ folder),
    /// never sent: path, size and when they were moved
    #[arg(long, conflicts_with_all = ["dead", "summary", "dest", "limit"])]
    pub quarantined: bool,
}

#[derive(Debug, Subcommand)]
pub enum SpoolCommand {
    /// List entries, oldest first
    ///
    /// Entries are read and printed one at a time, so a spool of any size
    /// lists in the same small memory. Pending entries include messages in
    /// flight, shown with what is happening to them. A damaged entry is moved
    /// to the spool's corrupt/ folder with a warning; `--quarantined` lists those.
    #[command(after_help = SPOOL_LIST_EXAMPLES)]
    List(SpoolListArgs),
    /// Show one entry, payloads included
    #[command(after_help = "Examples:\n  chime spool show 0193a5")]
    Show {
        /// Entry id, or a unique prefix of one
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Delete entries for good, pending or dead-letter
    #[command(
        after_help = "Ids are those `chime spool list` (and `--dead`) shows.\n\nExamples:\n  chime spool drop 0193a5 0193a6"
    )]
    Drop {
        /// Entry ids, or a unique prefix of each (repeatable)
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Move dead-letter entries back to pending, due now
    ///
    /// The entry keeps its id and its count of attempts; the next flush (or
    /// send to its destination) tries it again.
    #[command(
        after_help = "Ids are those `chime spool list --dead` shows.\n\nExamples:\n  chime spool retry 0193a5\n  chime spool retry --all && chime flush"
    )]
    Retry {
        /// Dead-letter entry ids, or a unique prefix of each (repeatable)
        #[arg(
            value_name = "ID",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        ids: Vec<String>,
        /// Every dead-letter entry
        #[arg(long)]
        all: bool,
    },
    /// Delete every pending (or, with --dead, every dead-letter) entry
    #[command(after_help = "Examples:\n  chime spool purge --dead --yes")]
    Purge {
        #[arg(long)]
        dead: bool,
        /// Do not ask (required when stdin is not a terminal)
        #[arg(long)]
        yes: bool,
    },
}

const CONFIG_EXAMPLES: &str = "\
Examples:
  chime config init            # write a starter profile
  chime config check           # every mistake at once, with file:line:column
  chime config show            # the profile as chime reads it, secrets redacted
  chime config path            # where is the profile?
  chime --profile work config init

Environment: CHIME_CONFIG, CHIME_PROFILE (and the variables the profile names)";

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a commented starter profile (0600) where chime looks for it
    #[command(
        after_help = "Examples:\n  chime config init\n  chime config init --force   # replace an existing one"
    )]
    Init {
        /// Replace an existing profile
        #[arg(long)]
        force: bool,
    },
    /// Print the path of the profile chime would use (-v: how it was chosen)
    #[command(
        after_help = "Examples:\n  chime config path\n  chime -v config path     # and why that one\n  $EDITOR \"$(chime config path)\""
    )]
    Path,
    /// Check the profile, its templates and rules; report every problem (exit 78 on any)
    #[command(
        after_help = "Examples:\n  chime config check\n  chime --config ./ci.toml config check && echo ok\n\nTemplates are rendered and rules evaluated against sample variables."
    )]
    Check,
    /// Print the profile as chime resolved it, secrets redacted
    #[command(
        after_help = "Examples:\n  chime config show\n  chime --profile work config show | less"
    )]
    Show,
    /// List the routes, destinations or templates the profile defines, or the
    /// ids in its spool, one a line
    #[command(
        after_help = "Examples:\n  chime config names destinations\n  for r in $(chime config names routes); do chime send -r \"$r\" hi; done\n  chime --profile work config names ids\n\nThe profile is read leniently (nothing is checked or resolved), and the spool\nonly listed (no entry is read); anything missing or unreadable lists nothing:\nshell completion uses this."
    )]
    Names {
        #[arg(value_enum)]
        what: Names,
    },
}

const SEND_EXAMPLES: &str = "\
Examples:
  chime send -r ops \"backup done\"
  chime send -l error -t \"Backup failed\" -f host=db1 -f size=12G \"see the log\"
  make 2>&1 | tail -50 | chime send --code -t \"build log\"
  chime send --to ops-hook --dry-run \"what would be sent?\"
  chime send --to bot --update \"ci-$RUN_ID\" \"deploying…\"   # later: --update \"ci-$RUN_ID\" \"✅ deployed\"
  chime send --to bot --thread \"ci-$RUN_ID\" \"step 2 done\"
  echo '{\"service\":\"api\",\"version\":\"1.4\"}' | chime send --template deploy

Environment: CHIME_ROUTE, CHIME_TIMEOUT, CHIME_CONFIG, CHIME_PROFILE, CHIME_STATE_DIR";

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

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

/// A `--file-url`: an http(s) URL, named by the last part of its path.
fn parse_file_url(s: &str) -> Result<(String, String), String> {
    let path = s.split(['?', '#']).next().unwrap_or(s);
    let name = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("file");
    let link = crate::message::Link::parse(&format!("📎 {name}"), s)?;
    Ok((link.label, link.url))
}

fn parse_link(s: &str) -> Result<(String, String), String> {
    let (label, url) = parse_pair(s).map_err(|_| format!("expected LABEL=URL, got `{s}`"))?;
    let link = crate::message::Link::parse(&label, &url)?;
    Ok((link.label, link.url))
}

/// A `--timeout`: a duration longer than zero, which would make every send
/// give up at once and queue.
pub fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    match parse_duration(s)? {
        zero if zero.is_zero() => Err(format!(
            "`{s}` must be longer than 0: every send would give up at once"
        )),
        timeout => Ok(timeout),
    }
}

pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let duration = humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 10s or 2m: {e}"))?;
    // Far past any wait worth having, and short of the clock's overflow.
    if duration > crate::config::MAX_DURATION {
        return Err(format!("`{s}` is too long: at most 100 years"));
    }
    Ok(duration)
}

/// When `chime run` sends a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum On {
    /// Non-zero exit, killed by a signal, timed out, or could not start.
    Failure,
    Success,
    Always,
    /// Only when the outcome differs from the previous run of the same --name.
    Change,
}

/// What `chime config names` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Names {
    Routes,
    Destinations,
    Templates,
    /// The ids of the spool's pending and dead-letter entries, as `chime spool
    /// list` shows them (every profile's when none is named, as there).
    Ids,
}

/// Parses the command line; clap's usage errors are told as chime tells its
/// own (`chime: error: ...`), and help and version are printed as they are.
pub fn parse() -> Result<Cli, std::process::ExitCode> {
    use clap::error::ErrorKind;
    Cli::try_parse().map_err(|err| {
        let code = err.exit_code().clamp(0, 255) as u8;
        match err.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                // A closed stdout is not an error.
                let _ = err.print();
            }
            _ => eprint!("chime: {}", err.render()),
        }
        std::process::ExitCode::from(code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_subcommand_help_has_examples() {
        fn walk(cmd: &clap::Command, path: &str) {
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                let path = format!("{path} {}", sub.get_name());
                let after = sub
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                assert!(
                    after.contains("Examples:"),
                    "`{path} --help` has no examples"
                );
                walk(sub, &path);
            }
        }
        walk(&Cli::command(), "chime");
    }

    #[test]
    fn pair_splits_at_the_first_equals_sign() {
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_pair("novalue").is_err());
    }
}
