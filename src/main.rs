//! chime: send notifications from scripts, cron jobs and CI, and never lose one.
//!
//! `main` only parses the command line, runs the command and turns the result
//! into an exit code; everything else lives in the modules below.

mod ci;
mod cli;
mod completions;
mod config;
mod deliver;
mod exit;
mod fields;
mod flush;
mod kinds;
mod message;
mod outbox;
mod pipe;
mod probe;
mod report;
mod run;
mod secret;
mod send;
mod settings;
mod spool;
mod state;
mod stream;
mod template;
mod threads;

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
        Command::Send(args) => send::run(settings::send(&cli.global, *args)?),
        Command::Run(args) => run::run(settings::job(&cli.global, args)),
        Command::Pipe(args) => pipe::run(settings::pipe(&cli.global, args)?),
        Command::Flush(args) => flush::run(settings::flush(&cli.global, args)?),
        Command::Spool(command) => {
            let spools = settings::spools(&cli.global)?;
            spool::command(&spools, command, settings::output(&cli.global))
        }
        Command::Config(command) => config::command(&cli.global, command),
        Command::Test(args) => probe::run(settings::probe(&cli.global, args)?),
        Command::Completions { shell } => completions::print(shell),
        Command::Manpage => completions::print_manpage(),
    }
}
