//! What a stream says on stderr about its batches: each cause once, when it
//! first shows (a slow destination, one not taking batches, another chime
//! holding its spool, a batch not kept, a refusal), and one summary per
//! destination at the end that counts what is still in the spool. Nothing
//! is said per batch: a stream of thousands would bury the one line that
//! matters.

use std::cell::Cell;
use std::time::Duration;

use crate::config::Destination;
use crate::deliver::{Report, Status};
use crate::report;
use crate::settings::{Output, Pipe};

use super::lane::Lane;

/// The causes told already about a destination, shared by its lanes (its
/// channels): the destination is slow or down, not a channel of it.
#[derive(Default)]
pub(super) struct Told {
    slow: Cell<bool>,
    failing: Cell<bool>,
    locked: Cell<bool>,
    not_kept: Cell<bool>,
    refused: Cell<bool>,
    unusable: Cell<bool>,
}

/// Says what `text` makes on stderr the first time `said` is asked, unless
/// `quiet` (errors are said even then).
fn once(said: &Cell<bool>, quiet: bool, text: impl FnOnce() -> String) {
    if !said.replace(true) && !quiet {
        eprintln!("{}", text());
    }
}

impl Told {
    /// The destination answered a batch in `took`, past what a prompt one takes.
    pub(super) fn slow(&self, destination: &Destination, took: Duration, output: Output) {
        once(&self.slow, output.quiet, || {
            format!(
                "chime: pipe: {} is slow (a send took {:.1} s): batches beyond --max-pending go \
                 to the spool, and this pipe sends them from there, oldest first",
                destination.name,
                took.as_secs_f64()
            )
        });
    }

    /// A batch could not go (`why`) and is kept, or the oldest in the
    /// spool is not due yet: every later batch waits behind it, and the pipe
    /// tries again when it is due.
    pub(super) fn failing(&self, destination: &Destination, why: Option<&str>, output: Output) {
        once(&self.failing, output.quiet, || {
            format!(
                "chime: pipe: {} is not taking batches ({}): they wait in the spool, in order, \
                 and this pipe tries them again when they are due",
                destination.name,
                why.unwrap_or("failed")
            )
        });
    }

    /// Another process (`holder`) holds the destination's spool lock.
    pub(super) fn locked(&self, destination: &Destination, holder: &str, output: Output) {
        once(&self.locked, output.quiet, || {
            format!(
                "chime: pipe: {holder} is sending {}'s spooled messages: this pipe's \
                 batches wait in the spool behind them",
                destination.name
            )
        });
    }

    /// The spool cannot be used at all (`why`): batches go from memory.
    pub(super) fn unusable(&self, destination: &Destination, why: &str, output: Output) {
        if !self.unusable.replace(true) {
            let text = format!(
                "messages for {} wait in the spool, which cannot be used ({why}): this pipe's \
                 batches go out from memory, before them",
                destination.name
            );
            report::warning(output, &text);
        }
    }

    /// A batch could not be written to the spool: it is lost (the summary
    /// counts them all).
    pub(super) fn not_kept(&self, destination: &Destination, report: &Report) {
        let why = report.error.as_deref().unwrap_or("failed");
        once(&self.not_kept, false, || {
            format!(
                "chime: error: a batch for {} was not kept: {why}",
                destination.name
            )
        });
    }

    /// The destination refused a batch (or it could not be kept).
    pub(super) fn refused(&self, destination: &Destination, report: &Report) {
        let why = report.error.as_deref().unwrap_or("failed");
        once(&self.refused, false, || {
            format!(
                "chime: error: {} did not take a batch: {why}",
                destination.name
            )
        });
    }

    /// The destination refused `count` spooled messages, dead letters now.
    pub(super) fn dead_letters(&self, destination: &Destination, count: usize) {
        once(&self.refused, false, || {
            format!(
                "chime: error: {} refused {count} spooled message(s), kept as dead letters: \
                 see `chime spool list --dead`",
                destination.name
            )
        });
    }
}

/// One line per destination at the end: lines piped, messages made, and
/// what of this stream is still in the spool, or lost.
pub(super) fn summary(pipe: &Pipe, lanes: &[Lane]) {
    if pipe.output.quiet {
        return;
    }
    for lane in lanes {
        let name = match &lane.target.channel {
            Some(channel) => format!("{} ({channel})", lane.destination.name),
            None => lane.destination.name.clone(),
        };
        if lane.lost > 0 {
            // Never "piped N lines" when some of them are nowhere.
            eprintln!(
                "chime: error: {} of {} message(s) for {name} were neither delivered nor kept; \
                 their lines are lost",
                lane.lost, lane.messages
            );
            continue;
        }
        let (queued, lines) = lane.kept.count();
        if !(pipe.output.verbose || queued > 0 || lane.worst != Status::Delivered) {
            continue;
        }
        let mut text = format!(
            "chime: piped {} line(s) to {name} in {} message(s)",
            lane.lines, lane.messages
        );
        if lane.refused > 0 {
            text += &format!(
                "; {} refused, kept as dead letters (`chime spool list --dead`)",
                lane.refused
            );
        }
        if queued > 0 {
            text += &format!(
                "; {queued} batch(es) ({lines} line(s)) queued for {name}; `chime flush` sends them"
            );
        }
        eprintln!("{text}");
    }
}
