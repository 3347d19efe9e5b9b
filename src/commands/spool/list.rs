//! `chime spool list`: every entry, oldest first, printed as it is read.
//!
//! The order is the one a list always had: by id (arrival) across every
//! destination and profile shown. Each destination's folder is listed once,
//! by name (`Spool::names`), and the names are merged oldest first; only then
//! is each entry read, as an outline, printed and dropped. So a listing holds
//! the names of what it lists and one entry at a time, never the spool: the
//! 50,000-entry spool of bench/spool_list.py lists in the memory of an empty
//! one plus its names. `--json` is the same JSON array as ever, written an
//! object at a time.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::{as_json, timestamp};
use crate::cli::SpoolListArgs;
use crate::exit::{ExitCode, Failure};
use crate::report::{self, Output, Stream};
use crate::spool::{Kind, Name, Outline, Read, Spool, State, when};
use crate::state::Record;

pub fn list(spools: &[Spool], args: &SpoolListArgs, output: Output) -> Result<ExitCode, Failure> {
    let state = if args.dead {
        State::Dead
    } else {
        State::Pending
    };
    if args.summary {
        return super::summary::summary(spools, state, args, output);
    }
    if args.quarantined {
        return super::quarantined::list(spools, args.json, output);
    }
    let mut sources = sources(spools, state, &args.dest, output);
    // Held messages (scheduled, or for a digest) are waiting too: they are
    // listed among the pending, with when they go and why.
    if state == State::Pending {
        sources.extend(super::list::sources(
            spools,
            State::Held,
            &args.dest,
            output,
        ));
    }
    let mut merge = Merge::new(sources);
    let mut printer = Printer::new(state, args.json, merge.profiles() > 1);
    let limit = args.limit.unwrap_or(usize::MAX);
    while printer.shown < limit
        && let Some((source, name)) = merge.pop()
    {
        let source = &merge.sources[source];
        let Some(entry) = read(
            source.spool,
            &source.destination,
            source.state,
            &name,
            output,
        ) else {
            continue;
        };
        if !printer.entry(source.spool, &entry)? {
            // The reader went away (`| head`): nothing more to say.
            return Ok(ExitCode::Ok);
        }
    }
    if state == State::Pending && !scheduled(spools, &args.dest, &mut printer, limit)? {
        return Ok(ExitCode::Ok);
    }
    let shown = printer.finish()?;
    if !output.quiet {
        tell(state, args, shown, merge.left());
    }
    Ok(ExitCode::Ok)
}

/// Then what platforms hold for chime (`state::Scheduled`): no spool entry
/// stands for it, but it still waits to be posted. False once the reader
/// has gone.
fn scheduled(
    spools: &[Spool],
    only: &[String],
    printer: &mut Printer,
    limit: usize,
) -> Result<bool, Failure> {
    for (spool, record) in super::scheduled::records(spools, only) {
        if printer.shown >= limit {
            break;
        }
        if !printer.scheduled(spool, &record)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// An entry's id as the listing shows it, and as shell completion offers it
/// (`ids`): one function, so the two cannot drift apart.
fn shown_id(id: &str) -> String {
    crate::spool::short_id(id)
}

/// The ids a `chime spool list` and a `chime spool list --dead` of `spools`
/// would show, oldest first, each once (an entry being retried is in both
/// states for a moment), for `chime config names ids`. Only the folders are
/// listed: an entry's id is its file's name (a read refuses one whose
/// contents say otherwise), so no entry is opened, and a big spool lists as
/// fast as its directories. Nothing is said about what cannot be listed.
pub fn ids(spools: &[Spool]) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for spool in spools {
        for state in [State::Pending, State::Dead, State::Held] {
            for destination in spool.destinations(state).unwrap_or_default() {
                let names = spool.names(state, &destination).unwrap_or_default();
                ids.extend(names.iter().map(|name| shown_id(&name.id)));
            }
        }
    }
    ids
}

/// Says on stderr that nothing was listed, or how much `--limit` left out.
fn tell(state: State, args: &SpoolListArgs, shown: usize, left: usize) {
    if left > 0 {
        let limit = args.limit.unwrap_or_default();
        eprintln!(
            "chime: … and {} more, left out by --limit {limit} (--summary counts them)",
            thousands(left)
        );
    } else if shown == 0 && !args.json {
        say_none(state, &args.dest);
    }
}

/// "chime: no pending messages", for the destinations asked about.
pub(super) fn say_none(state: State, only: &[String]) {
    let what = if state == State::Dead {
        "dead-letter"
    } else {
        "pending"
    };
    match only.is_empty() {
        true => eprintln!("chime: no {what} messages"),
        false => eprintln!("chime: no {what} messages for {}", only.join(", ")),
    }
}

/// 49990 as 49,990.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// One destination's folder, listed: what is left of it to read.
pub(super) struct Source<'s> {
    pub spool: &'s Spool,
    pub destination: String,
    pub state: State,
    names: std::vec::IntoIter<Name>,
}

/// The destinations of `spools` with a folder in `state` (those of `only`,
/// when it names any), each listed once. A folder that cannot be listed is
/// said so and the others are shown.
fn sources<'s>(
    spools: &'s [Spool],
    state: State,
    only: &[String],
    output: Output,
) -> Vec<Source<'s>> {
    let mut sources = Vec::new();
    for spool in spools {
        for destination in destinations(spool, state, only, output) {
            if let Some(names) = names(spool, state, &destination, output) {
                let names = names.into_iter();
                sources.push(Source {
                    spool,
                    destination,
                    state,
                    names,
                });
            }
        }
    }
    sources
}

/// `spool`'s destinations in `state`, those of `only` if it names any, or
/// none, with a warning, when the spool cannot be listed.
pub(super) fn destinations(
    spool: &Spool,
    state: State,
    only: &[String],
    output: Output,
) -> Vec<String> {
    match spool.destinations(state) {
        Ok(mut names) => {
            names.retain(|name| only.is_empty() || only.contains(name));
            names
        }
        Err(err) => {
            report::warning(output, &format!("{err}; its entries are not shown"));
            Vec::new()
        }
    }
}

/// What `destination`'s folder in `state` holds, or `None`, with a warning,
/// when it cannot be listed.
pub(super) fn names(
    spool: &Spool,
    state: State,
    destination: &str,
    output: Output,
) -> Option<Vec<Name>> {
    match spool.names(state, destination) {
        Ok(names) => Some(names),
        Err(err) => {
            report::warning(output, &format!("{err}; its entries are not shown"));
            None
        }
    }
}

/// One entry as a listing shows it, or `None` when it is not to be shown: it
/// is gone since it was listed, or damaged (quarantined with a warning, as
/// every reader does, see `spool/mod.rs`), or in flight and not readable yet.
pub(super) fn read(
    spool: &Spool,
    destination: &str,
    state: State,
    name: &Name,
    output: Output,
) -> Option<Outline> {
    if name.kind == Kind::InFlight {
        let (mut entry, live) = spool.in_flight_outline(destination, &name.id)?;
        entry.last_error = Some(match live {
            true => "being sent now".into(),
            false => "its sender stopped; the next flush sends it".into(),
        });
        return Some(entry);
    }
    match spool.read_outline(state, destination, &name.id) {
        Ok(Some(Read::Entry(entry))) => Some(entry),
        Ok(Some(Read::Damaged(why))) => {
            let id = shown_id(&name.id);
            report::warning(output, &format!("spool entry {id} is damaged: {why}"));
            None
        }
        Ok(None) => None,
        Err(err) => {
            report::warning(output, &err.to_string());
            None
        }
    }
}

/// The next file of one source, ordered as a list always was: by id, then
/// by where it was found (profile, then destination), a message in flight
/// before an entry of the same id.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Head {
    id: String,
    source: usize,
    kind: Kind,
}

/// The sources' names merged oldest first: one head per source is compared,
/// so merging costs nothing beyond the names themselves.
struct Merge<'s> {
    sources: Vec<Source<'s>>,
    heads: BinaryHeap<Reverse<Head>>,
}

impl<'s> Merge<'s> {
    fn new(sources: Vec<Source<'s>>) -> Merge<'s> {
        let mut merge = Merge {
            heads: BinaryHeap::with_capacity(sources.len()),
            sources,
        };
        for source in 0..merge.sources.len() {
            merge.advance(source);
        }
        merge
    }

    fn advance(&mut self, source: usize) {
        if let Some(Name { id, kind }) = self.sources[source].names.next() {
            self.heads.push(Reverse(Head { id, source, kind }));
        }
    }

    /// The oldest name left, and the source it is from.
    fn pop(&mut self) -> Option<(usize, Name)> {
        let Reverse(Head { id, source, kind }) = self.heads.pop()?;
        self.advance(source);
        Some((source, Name { id, kind }))
    }

    /// How many names are left.
    fn left(&self) -> usize {
        self.heads.len() + self.sources.iter().map(|s| s.names.len()).sum::<usize>()
    }

    /// How many profiles have something to show.
    fn profiles(&self) -> usize {
        let heads = self
            .heads
            .iter()
            .map(|Reverse(head)| self.sources[head.source].spool);
        heads.map(Spool::profile).collect::<BTreeSet<_>>().len()
    }
}

/// Writes entries as they come: a table, or a JSON array.
struct Printer {
    out: Stream,
    state: State,
    json: bool,
    /// The profile is worth a column only when it tells entries apart.
    profile_column: bool,
    shown: usize,
}

impl Printer {
    fn new(state: State, json: bool, profile_column: bool) -> Printer {
        Printer {
            out: Stream::stdout(),
            state,
            json,
            profile_column,
            shown: 0,
        }
    }

    /// Writes one entry; false once the reader has gone.
    fn entry(&mut self, spool: &Spool, entry: &Outline) -> Result<bool, Failure> {
        let first = self.shown == 0;
        self.shown += 1;
        let text = if self.json {
            let state = if entry.hold.is_some() {
                State::Held
            } else {
                self.state
            };
            let value = as_json(spool, entry, state);
            format!("{}{value}", if first { "[" } else { "," })
        } else if first {
            format!("{}{}", self.header(), self.row(spool, entry))
        } else {
            self.row(spool, entry)
        };
        self.out.write(&text)
    }

    /// Writes one message a platform holds; false once the reader has gone.
    fn scheduled(&mut self, spool: &Spool, record: &Record) -> Result<bool, Failure> {
        let first = self.shown == 0;
        self.shown += 1;
        let post_at = UNIX_EPOCH + Duration::from_secs(record.post_at);
        let created = UNIX_EPOCH + Duration::from_secs(record.created);
        let text = if self.json {
            let value = json!({
                "id": shown_id(&record.id),
                "profile": spool.profile(),
                "destination": record.destination,
                "state": "scheduled",
                "created": timestamp(created),
                "post_at": timestamp(post_at),
                "channel": record.channel,
                "scheduled_message_id": record.scheduled_message_id,
            });
            format!("{}{value}", if first { "[" } else { "," })
        } else {
            let profile = match self.profile_column {
                true => format!("{:<12}  ", spool.profile()),
                false => String::new(),
            };
            let row = format!(
                "{profile}{:<24}  {:<16}  {:<20}  {:>8}  {:<12}  scheduled on {}\n",
                shown_id(&record.id),
                record.destination,
                timestamp(created),
                0,
                when(post_at),
                record.holder,
            );
            match first {
                true => format!("{}{row}", self.header()),
                false => row,
            }
        };
        self.out.write(&text)
    }

    fn header(&self) -> String {
        let profile = match self.profile_column {
            true => format!("{:<12}  ", "PROFILE"),
            false => String::new(),
        };
        format!(
            "{profile}{:<24}  {:<16}  {:<20}  {:>8}  {:<12}  LAST ERROR\n",
            "ID", "DESTINATION", "CREATED", "ATTEMPTS", "NEXT"
        )
    }

    fn row(&self, spool: &Spool, e: &Outline) -> String {
        let (next, why) = match (&e.hold, self.state) {
            (Some(hold), _) => (when(hold.until), Some(hold.describe())),
            (None, State::Dead) => ("-".to_owned(), None),
            (None, _) => (when(e.next_attempt), None),
        };
        let profile = match self.profile_column {
            true => format!("{:<12}  ", spool.profile()),
            false => String::new(),
        };
        format!(
            "{profile}{:<24}  {:<16}  {:<20}  {:>8}  {:<12}  {}\n",
            shown_id(&e.id),
            e.destination,
            timestamp(e.created),
            e.attempts,
            next,
            why.as_deref().or(e.last_error.as_deref()).unwrap_or("-")
        )
    }

    /// Ends the output (the JSON array's bracket) and gives how many were shown.
    fn finish(mut self) -> Result<usize, Failure> {
        if self.json {
            self.out
                .write(if self.shown == 0 { "[]\n" } else { "]\n" })?;
        }
        self.out.finish()?;
        Ok(self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(49_990), "49,990");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
