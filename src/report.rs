//! What a run tells its user: results on stdout, diagnostics on stderr.
//!
//! stdout carries what a script parses (`--json` lines, `--dry-run` requests);
//! stderr carries errors with hints and, for a person at a terminal, a short
//! confirmation. A closed stdout (`chime … | head -1`) is not an error.

use std::io::Write;

use crate::exit::Failure;

/// Writes to stdout; a reader that went away ends the output quietly.
fn emit(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}

/// One line of result on stdout.
pub fn line(text: &str) -> Result<(), Failure> {
    emit(&format!("{text}\n"))
}

/// Text on stdout, as it is.
pub fn text(text: &str) -> Result<(), Failure> {
    emit(text)
}

/// Results on stdout as they are made, buffered, for output too long to
/// build first (`chime spool list` of a large spool). A reader that went away
/// ends them quietly: [`Stream::write`] says so, and the caller stops.
pub struct Stream {
    out: std::io::BufWriter<std::io::Stdout>,
    closed: bool,
}

impl Stream {
    pub fn stdout() -> Stream {
        Stream {
            out: std::io::BufWriter::with_capacity(64 << 10, std::io::stdout()),
            closed: false,
        }
    }

    /// Writes `text`; false once the reader has gone, from then on.
    pub fn write(&mut self, text: &str) -> Result<bool, Failure> {
        if !self.closed {
            let written = self.out.write_all(text.as_bytes());
            self.closed = gone(written)?;
        }
        Ok(!self.closed)
    }

    /// Writes out what is buffered.
    pub fn finish(mut self) -> Result<(), Failure> {
        if !self.closed {
            let flushed = self.out.flush();
            gone(flushed)?;
        }
        Ok(())
    }
}

/// True when a write failed because the reader went away; any other failure is one.
fn gone(result: std::io::Result<()>) -> Result<bool, Failure> {
    match result {
        Ok(()) => Ok(false),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(true),
        Err(err) => Err(err.into()),
    }
}

/// A panic's message can quote what chime was working on (a profile line, a
/// request), and so a secret: a bug is reported by where it happened only,
/// unless `CHIME_DEBUG` asks for everything.
pub fn quiet_panics() {
    if std::env::var_os("CHIME_DEBUG").is_some_and(|v| !v.is_empty()) {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "chime: internal error{place}: this is a bug, please report it \
             (CHIME_DEBUG=1 shows the details, which may include secrets)"
        );
    }));
}

/// Says, when stdin is a terminal, that chime waits for what is typed there:
/// otherwise `chime pipe` typed by hand looks hung.
pub fn reading_stdin(output: Output) {
    use std::io::IsTerminal;
    if !output.quiet && std::io::stdin().is_terminal() {
        eprintln!("chime: reading from stdin; Ctrl-D to end");
    }
}

/// `chime: warning: …` on stderr, unless `-q`.
pub fn warning(output: Output, text: &str) {
    if !output.quiet {
        eprintln!("chime: {}: {text}", paint(output, "warning", YELLOW));
    }
}

/// `chime: …` on stderr with `-v` only: what a person debugging wants to see.
pub fn verbose(output: Output, text: &str) {
    if output.verbose {
        eprintln!("chime: {text}");
    }
}

/// What became of a message (dead-lettered, quarantined): `chime: warning:`
/// on stderr even under `-q`, which silences progress, never a message's
/// fate — cron mails output, not exit codes.
pub fn fate(output: Output, text: &str) {
    eprintln!("chime: {}: {text}", paint(output, "warning", YELLOW));
}

/// A failure on stderr, `error:` in colour when that is wanted.
pub fn failure(output: Output, failure: &Failure) {
    let text = failure.to_string();
    match text.strip_prefix("chime: error:") {
        Some(rest) if output.colour => eprintln!("chime: {}:{rest}", paint(output, "error", RED)),
        _ => eprintln!("{text}"),
    }
}

const RED: &str = "1;31";
const YELLOW: &str = "1;33";

/// Colour is for a person: only on a terminal and never with `NO_COLOR`
/// (decided in `settings::output`).
fn paint(output: Output, word: &str, colour: &str) -> String {
    if output.colour {
        format!("\x1b[{colour}m{word}\x1b[0m")
    } else {
        word.to_owned()
    }
}

/// Output choices shared by every command.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output {
    pub quiet: bool,
    pub verbose: bool,
    /// Diagnostics go to a person, not a log: confirmations are worth printing.
    pub stderr_is_terminal: bool,
    /// `error:` and `warning:` in colour: stderr is a terminal and `NO_COLOR` is unset.
    pub colour: bool,
}
