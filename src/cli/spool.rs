//! `chime flush` and `chime spool`: what waits, and what to do with it.

use clap::{Args, Subcommand};

use super::values::{parse_duration, parse_timeout};

pub(super) const FLUSH_EXAMPLES: &str = "\
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

pub(super) const SPOOL_EXAMPLES: &str = "\
Examples:
  chime spool list                # pending messages
  chime spool list --dead --json  # dead-lettered ones, for a script
  chime spool show 0193a5…        # one entry, payload included (ids may be shortened)
  chime spool retry --all         # dead-letter back to pending
  chime spool purge --dead --yes

Every profile's spool is shown unless --profile or --config names one.

Environment: CHIME_STATE_DIR (the spool lives in $CHIME_STATE_DIR/profiles/<profile>/spool)";

pub(super) const SPOOL_LIST_EXAMPLES: &str = "\
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
