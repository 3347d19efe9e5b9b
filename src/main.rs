//! chime: send notifications from scripts, cron jobs and CI, and never lose one.
//!
//! `main` only parses the command line, runs the command and turns the result
//! into an exit code. The layers, each using only those below it:
//!
//! 1. `cli` (what was typed) and `settings` (it, the environment and the profile, resolved once);
//! 2. `commands`: one module per subcommand, turning its settings into calls of the domain;
//! 3. the domain: `deliver` (sending, the outbox, draining a backlog), `stream` (pipe's lines) and `ask` (a person's answer);
//! 4. `config` (the profile), `kinds` (one per platform), `spool`, `state` (keyed memory);
//! 5. the ground: `message`, `template`, `fields`, `ci`, `secret`, and the edges `report`, `exit`.
//!
//! ARCHITECTURE.md walks one message through them.

// The edges: what was typed, what is resolved from it, what is told.
mod cli;
mod exit;
mod report;
mod settings;

// The subcommands.
mod commands;

// The domain.
mod ask;
mod ci;
mod clock;
mod config;
mod deliver;
mod event;
mod fields;
mod kinds;
mod message;
mod secret;
mod spool;
mod state;
mod stream;
mod template;
mod timing;

use crate::cli::{Cli, Command};
use crate::exit::{ExitCode, Failure};

fn main() -> std::process::ExitCode {
    report::quiet_panics();
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let output = settings::output(&cli.global);
    let code = match run(cli) {
        Ok(code) => code,
        Err(failure) => {
            report::failure(output, &failure);
            failure.code
        }
    };
    std::process::ExitCode::from(code.code())
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Send(args) => commands::send::run(settings::send(&cli.global, *args)?),
        Command::Ask(args) => commands::ask::run(settings::ask(&cli.global, *args)?),
        Command::Run(args) => commands::run::run(settings::job(&cli.global, args)),
        Command::Pipe(args) => commands::pipe::run(settings::pipe(&cli.global, args)?),
        Command::Flush(args) => commands::flush::run(settings::flush(&cli.global, args)?),
        Command::Spool(command) => {
            let spools = settings::spools(&cli.global)?;
            settings::check_dest(&cli.global, &spools, &command)?;
            let output = settings::output(&cli.global);
            commands::spool::run(&spools, command, output, &settings::profile_of)
        }
        Command::Config(command) => commands::config::command(&cli.global, command),
        Command::Test(args) => commands::probe::run(settings::probe(&cli.global, args)?),
        Command::Completions { shell } => commands::completions::print(shell),
        Command::Manpage => commands::completions::print_manpage(),
    }
}
