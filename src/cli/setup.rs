//! `chime config` and `chime completions`: the profile and the shell.

use clap::Subcommand;

pub(super) const CONFIG_EXAMPLES: &str = "\
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

pub(super) const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  chime completions bash > ~/.local/share/bash-completion/completions/chime
  chime completions zsh > ~/.zfunc/_chime        # with fpath+=(~/.zfunc)
  chime completions fish > ~/.config/fish/completions/chime.fish

install.sh installs these for bash, zsh and fish. In those shells, route,
destination and template names complete from the current profile (the one
--profile or --config on the line names), and spool entry ids from its spool.";

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
