//! chime: send notifications from scripts, cron jobs and CI, and never lose one.
//!
//! `main` only parses the command line, runs the command and turns the result
//! into an exit code; everything else lives in the modules below.

mod ci;
mod cli;
mod commands;
mod config;
mod deliver;
mod exit;
mod fields;
mod kinds;
mod message;
mod report;
mod secret;
mod settings;
mod spool;
mod state;
mod stream;
mod template;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::{ExitCode, Failure};

fn main() -> std::process::ExitCode {
    report::quiet_panics();
    let cli = Cli::parse();
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
        Command::Run(args) => commands::run::run(settings::job(&cli.global, args)),
        Command::Pipe(args) => commands::pipe::run(settings::pipe(&cli.global, args)?),
        Command::Flush(args) => commands::flush::run(settings::flush(&cli.global, args)?),
        Command::Spool(command) => {
            let spools = settings::spools(&cli.global)?;
            commands::spool::run(&spools, command, settings::output(&cli.global))
        }
        Command::Config(command) => commands::config::command(&cli.global, command),
        Command::Test(args) => commands::probe::run(settings::probe(&cli.global, args)?),
        Command::Completions { shell } => commands::completions::print(shell),
        Command::Manpage => commands::completions::print_manpage(),
    }
}
