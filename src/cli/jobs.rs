//! `chime pipe` and `chime run`: a stream of lines and a wrapped job.

use clap::Args;

use super::Where;
use super::values::{parse_duration, parse_regex, parse_size, parse_timeout};
use crate::message::Level;

pub(super) const PIPE_EXAMPLES: &str = "\
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

pub(super) const RUN_EXAMPLES: &str = "\
Examples:
  chime run -r cron -- /usr/local/bin/backup.sh
  chime run --on change --name disk-check -- ./check-disk.sh     # once when it breaks, once when it recovers
  chime run --on always --tail 50 --timeout 1h -- make release
  chime run --ping https://hc-ping.com/<uuid> -- ./nightly.sh      # a dead-man's switch

chime exits with the command's own code (128+N when killed by signal N, 127 when
it is not found, 126 when it cannot be run); delivery trouble goes to stderr and
the spool, never into that code. A broken profile or an unknown route never
stops the command: chime says so on stderr once it has finished.

Environment: CHIME_CONFIG, CHIME_PROFILE, CHIME_ROUTE, CHIME_STATE_DIR, CHIME_STATE_URL";

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

    /// Post a report once per window and count the repeats (a job failing every minute
    /// makes one message and a count); KEY defaults to the job's name
    #[arg(long, value_name = "KEY", num_args = 0..=1, default_missing_value = "")]
    pub dedupe: Option<String>,

    /// The window --dedupe counts repeats in [default: the route's `dedupe`, else 1h]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "dedupe")]
    pub dedupe_window: Option<std::time::Duration>,

    /// Ping a dead-man's switch (the healthchecks.io protocol) each run, whatever --on
    /// says: URL/start as the command starts, URL or URL/<exit code> as it ends, with the
    /// tail; a ping URL or a healthchecks destination (repeatable; a route's `ping` too)
    #[arg(long, value_name = "URL|DESTINATION", value_hint = clap::ValueHint::Url, help_heading = "Heartbeats")]
    pub ping: Vec<String>,

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
