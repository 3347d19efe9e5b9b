//! The command line as the user typed it (clap derive).
//!
//! Conventions: the first line of a `///` comment is the short help and the rest
//! the long help; every subcommand has examples in `after_help`; flags that
//! scripts set often have a `CHIME_*` variable, but those variables are read in
//! `settings.rs`, not through clap's `env`, so that a variable never conflicts
//! with a flag the user did type. Nothing here looks at the profile.
//!
//! This file holds the top (`Cli`, the global flags, the subcommands, where a
//! message goes); each group of subcommands has its arguments and examples
//! in a file of its own (`send`, `jobs`, `spool`, `setup`), and the values
//! clap cannot read alone are parsed in `values`.
//!
//! Arguments whose value names are `ROUTE`, `DEST` or `TEMPLATE` complete
//! from the current profile in bash, zsh and fish, and those named `ID` from
//! the ids in its spool (`completions.rs` finds them by those names), so new
//! commands get that for free by using them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod ask;
mod jobs;
mod send;
mod setup;
mod spool;
mod values;

use ask::ASK_EXAMPLES;
pub use ask::AskArgs;
pub use jobs::{On, PipeArgs, RunArgs};
use jobs::{PIPE_EXAMPLES, RUN_EXAMPLES};
use send::{SEND_EXAMPLES, TEST_EXAMPLES};
pub use send::{SendArgs, TestArgs};
use setup::{COMPLETIONS_EXAMPLES, CONFIG_EXAMPLES};
pub use setup::{ConfigCommand, Names};
use spool::{FLUSH_EXAMPLES, SPOOL_EXAMPLES};
pub use spool::{FlushArgs, SpoolCommand, SpoolListArgs};
pub use values::parse_timeout;

const EXIT_CODES: &str = "\
Exit codes:
  0   delivered to every destination, or accepted to go later (--at, a
      counted repeat, held for a digest), or dropped by a rule
  1   an unexpected error on chime's side
  2   usage error (bad flag, nothing to send)
  65  a destination rejected the message for good (kept as a dead letter)
  74  not delivered and not kept: --no-spool, or the spool could not be
      written (full or read-only disk); the message is gone unless you act
  75  not delivered for now: queued in the spool for retry; `chime flush`
      delivers it later
  78  configuration error (missing or invalid profile, unknown route)
  130 interrupted twice (chime pipe): what was left is in the spool
  chime run exits with the command's own code instead; chime ask has its
  own (see `chime ask --help`)

Environment:
  CHIME_CONFIG    profile file to use (like --config)
  CHIME_PROFILE   profile name (like --profile)
  CHIME_ROUTE     route used when no --route or --to is given
  CHIME_TIMEOUT   per-destination timeout (like --timeout)
  CHIME_STATE_DIR where the spool lives (default: $XDG_STATE_HOME/chime);
                  it must be yours alone, or chime refuses it (78)
  CHIME_STATE_URL a Redis or Valkey (redis://, rediss://) that hosts share
                  threads, job outcomes, dedupe and pacing through (like
                  [state] url); the spool stays on each host";

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

    /// Ask a question with buttons and wait for a person's answer
    #[command(after_help = ASK_EXAMPLES)]
    Ask(Box<AskArgs>),

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

/// Where a message goes; shared by send, ask, pipe and run.
#[derive(Debug, Args)]
pub struct Where {
    /// Route to send through (repeatable) [env: CHIME_ROUTE]
    ///
    /// Without --route or --to, the profile's [[rules]] pick the route, and a
    /// rule with `drop = true` drops the message (exit 0, nothing sent).
    /// Rules, drop rules too, do not apply to a route or destination named.
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
}
