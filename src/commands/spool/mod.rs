//! `chime spool …`: looking at and managing what the spool holds.
//!
//! These commands read and move entries; they never send. An entry whose
//! destination is being sent to right now (its lock is held) is not touched.
//! They cover every profile's spool unless a profile is named (`--profile`,
//! `--config`, or their variables); ids are unique across all of them.

use std::io::{BufRead, IsTerminal, Write};
use std::time::SystemTime;

use serde_json::json;

use crate::cli::SpoolCommand;
use crate::exit::{ExitCode, Failure};
use crate::report;
use crate::settings::Output;
use crate::spool::{DestinationLock, Entry, Outline, Read, Spool, SpoolError, State, short_id};

mod list;
mod quarantined;
mod scheduled;
mod summary;

pub use list::ids;

pub use scheduled::Loader;

pub fn run(
    spools: &[Spool],
    command: SpoolCommand,
    output: Output,
    load: Loader,
) -> Result<ExitCode, Failure> {
    match command {
        SpoolCommand::List(args) => list::list(spools, &args, output),
        SpoolCommand::Show { id } => show(spools, &id),
        SpoolCommand::Drop { ids } => drop_entries(spools, &ids, output, load),
        SpoolCommand::Retry { ids, all } => retry(spools, &ids, all, output),
        SpoolCommand::Purge { dead, yes } => purge(spools, state(dead), yes, output),
    }
}

fn state(dead: bool) -> State {
    if dead { State::Dead } else { State::Pending }
}

/// Every readable entry in `state`, oldest first, with the spool it is in,
/// payloads and all (for `retry --all` and `purge`; `list` reads one at a
/// time, see `list.rs`); damaged files are quarantined with a warning, and a
/// folder that cannot be read is said so while the rest are listed.
fn entries(spools: &[Spool], state: State, output: Output) -> Vec<(&Spool, Entry)> {
    let mut out = Vec::new();
    for spool in spools {
        let destinations = match spool.destinations(state) {
            Ok(destinations) => destinations,
            Err(err) => {
                report::warning(output, &format!("{err}; its entries are not shown"));
                continue;
            }
        };
        for destination in destinations {
            let ids = match spool.ids(state, &destination) {
                Ok(ids) => ids,
                Err(err) => {
                    report::warning(output, &format!("{err}; its entries are not shown"));
                    continue;
                }
            };
            if state == State::Pending {
                out.extend(in_flight(spool, &destination));
            }
            for id in ids {
                match spool.read(state, &destination, &id) {
                    Ok(Read::Entry(entry)) => out.push((spool, entry)),
                    Ok(Read::Damaged(why)) => {
                        let id = short_id(&id);
                        report::warning(output, &format!("spool entry {id} is damaged: {why}"))
                    }
                    Err(SpoolError::NotFound(_)) => {}
                    Err(err) => report::warning(output, &err.to_string()),
                }
            }
        }
    }
    out.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    out
}

/// Messages on their way, shown as pending with what is happening to them.
fn in_flight<'s>(spool: &'s Spool, destination: &str) -> Vec<(&'s Spool, Entry)> {
    let shown = |(mut entry, live): (Entry, bool)| {
        entry.last_error = Some(match live {
            true => "being sent now".into(),
            false => "its sender stopped; the next flush sends it".into(),
        });
        (spool, entry)
    };
    spool
        .in_flight(destination)
        .into_iter()
        .map(shown)
        .collect()
}

/// RFC 3339, or a plain count of seconds for a time RFC 3339 cannot write.
fn timestamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if secs > 253_402_300_799 {
        return format!("@{secs}");
    }
    humantime::format_rfc3339_seconds(time).to_string()
}

/// An entry as `--json` shows it (`spool list`, and `spool show` with its
/// payloads added).
fn as_json(spool: &Spool, entry: &Outline, state: State) -> serde_json::Value {
    let time = timestamp;
    let mut value = json!({
        "id": short_id(&entry.id),
        "profile": spool.profile(),
        "destination": entry.destination,
        "state": state_name(state),
        "created": time(entry.created),
        "attempts": entry.attempts,
        "next_attempt": time(entry.next_attempt),
        "last_error": entry.last_error,
        "parts": entry.parts,
        "parts_left": entry.parts_left,
    });
    // Only a held entry has it: the fields a script reads stay as they were.
    if let Some(hold) = &entry.hold {
        value["held"] = json!({ "until": time(hold.until), "why": hold.describe() });
    }
    value
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Dead => "dead",
        State::Pending => "pending",
        State::Held => "held",
    }
}

/// Finds an entry by id or unique prefix, pending or dead, in any of the
/// spools; a prefix that matches several is refused with the list (see
/// `Spool::find`).
fn find<'s>(spools: &'s [Spool], id: &str) -> Result<(&'s Spool, State, Entry), Failure> {
    let mut found = Vec::new();
    for spool in spools {
        match spool.find(id) {
            Ok(hit) => found.push((spool, hit)),
            Err(SpoolError::NotFound(_)) => {}
            Err(err) => return Err(Failure::from(err)),
        }
    }
    let (spool, hit) = match found.len() {
        0 => return Err(Failure::from(SpoolError::NotFound(id.to_owned()))),
        1 => found.swap_remove(0),
        _ => {
            let matches = found
                .iter()
                .map(|(spool, hit)| format!("{} (profile {})", hit.id, spool.profile()))
                .collect();
            let prefix = id.to_owned();
            return Err(Failure::from(SpoolError::Ambiguous { prefix, matches }));
        }
    };
    match spool
        .read(hit.state, &hit.destination, &hit.id)
        .map_err(Failure::from)?
    {
        Read::Entry(entry) => Ok((spool, hit.state, entry)),
        Read::Damaged(why) => Err(Failure::new(
            ExitCode::Failure,
            format!("entry {} is damaged: {why}", short_id(&hit.id)),
        )),
    }
}

fn show(spools: &[Spool], id: &str) -> Result<ExitCode, Failure> {
    let (spool, state, entry) = find(spools, id)?;
    let mut value = as_json(spool, &Outline::from(&entry), state);
    let payloads: Vec<serde_json::Value> = entry
        .payloads
        .iter()
        .map(|p| serde_json::from_str(&p.body).unwrap_or_else(|_| json!(p.body)))
        .collect();
    value["payloads"] = json!(payloads);
    report::line(&serde_json::to_string_pretty(&value).unwrap_or_default())?;
    Ok(ExitCode::Ok)
}

/// An id `spool drop` was given: a spool entry, or a message a platform holds.
enum Chosen<'s> {
    Entry(&'s Spool, State, Entry),
    Scheduled(&'s Spool, crate::state::Record),
}

fn drop_entries(
    spools: &[Spool],
    ids: &[String],
    output: Output,
    load: Loader,
) -> Result<ExitCode, Failure> {
    // Every id resolved before any is dropped: one typo deletes nothing.
    let mut chosen = Vec::new();
    for id in ids {
        chosen.push(match find(spools, id) {
            Ok((spool, state, entry)) => Chosen::Entry(spool, state, entry),
            Err(failure) => match scheduled::find(spools, id)? {
                Some((spool, record)) => Chosen::Scheduled(spool, record),
                None => return Err(failure),
            },
        });
    }
    for chosen in chosen {
        let (spool, state, entry) = match chosen {
            Chosen::Entry(spool, state, entry) => (spool, state, entry),
            Chosen::Scheduled(spool, record) => {
                scheduled::cancel(spool, &record, load, output)?;
                continue;
            }
        };
        let _lock = lock_for(spool, state, &entry.destination)?;
        remove(spool, state, &entry)?;
        if !output.quiet {
            let id = short_id(&entry.id);
            eprintln!("chime: dropped {id} ({})", entry.destination);
        }
    }
    Ok(ExitCode::Ok)
}

/// Removes an entry, and its files unless its other copy (pending and dead
/// at once, after an interrupted move) still needs them.
fn remove(spool: &Spool, state: State, entry: &Entry) -> Result<(), Failure> {
    spool.remove(state, entry).map_err(Failure::from)?;
    let others = match state {
        State::Pending => [State::Dead, State::Held],
        State::Dead => [State::Pending, State::Held],
        State::Held => [State::Pending, State::Dead],
    };
    if !others.iter().any(|other| spool.holds(*other, entry)) {
        spool.forget_files(&entry.id);
    }
    Ok(())
}

/// A pending entry may be in flight, and a held one being released: take
/// its destination's lock first.
fn lock_for(
    spool: &Spool,
    state: State,
    destination: &str,
) -> Result<Option<DestinationLock>, Failure> {
    if state == State::Dead {
        return Ok(None);
    }
    match spool.try_lock(destination).map_err(Failure::from)? {
        Some(lock) => Ok(Some(lock)),
        None => Err(Failure::new(
            ExitCode::TempFail,
            format!(
                "{} is sending to {destination} right now",
                spool.lock_holder(destination)
            ),
        )
        .with_hint("try again when it is done")),
    }
}

fn retry(spools: &[Spool], ids: &[String], all: bool, output: Output) -> Result<ExitCode, Failure> {
    let chosen = if all {
        entries(spools, State::Dead, output)
    } else {
        let mut chosen = Vec::new();
        for id in ids {
            match find(spools, id)? {
                (spool, State::Dead, entry) => chosen.push((spool, entry)),
                (_, state, entry) => {
                    let hint = match state {
                        State::Held => "it goes at its time; `chime spool drop` cancels it",
                        _ => "`chime flush --all` tries pending entries now",
                    };
                    let state = state_name(state);
                    return Err(Failure::usage(format!(
                        "{} is {state}, not dead-lettered",
                        short_id(&entry.id)
                    ))
                    .with_hint(hint));
                }
            }
        }
        chosen
    };
    for (spool, entry) in chosen {
        let entry = spool
            .revive(entry.clone())
            .map_err(|err| revive_failure(spool, &entry, err))?;
        if !output.quiet {
            eprintln!(
                "chime: {} ({}) is pending again; `chime flush` will send it",
                short_id(&entry.id),
                entry.destination
            );
        }
    }
    Ok(ExitCode::Ok)
}

/// Says where an entry a failed revive left is: still dead-lettered, and
/// perhaps pending as well (the pending copy is written first).
fn revive_failure(spool: &Spool, entry: &Entry, err: SpoolError) -> Failure {
    if !spool.holds(State::Dead, entry) {
        return Failure::from(err);
    }
    let id = short_id(&entry.id);
    let what = format!("{id} ({})", entry.destination);
    let failure = if spool.holds(State::Pending, entry) {
        Failure::new(
            ExitCode::Failure,
            format!("{what} is pending again, but its dead-letter copy could not be removed"),
        )
        .with_hint(format!(
            "`chime spool drop {id}` removes the dead-letter copy; the pending one stays"
        ))
    } else {
        Failure::new(
            ExitCode::Failure,
            format!("{what} could not be moved back to pending; it is still dead-lettered"),
        )
        .with_hint(
            "check free space and permissions under the state directory (CHIME_STATE_DIR), \
             then run `chime spool retry` again",
        )
    };
    failure.caused_by(err)
}

fn purge(spools: &[Spool], state: State, yes: bool, output: Output) -> Result<ExitCode, Failure> {
    let mut chosen: Vec<_> = entries(spools, state, output)
        .into_iter()
        .map(|(spool, entry)| (spool, state, entry))
        .collect();
    // Held messages wait to go as pending ones do, and go with them.
    if state == State::Pending {
        let held = entries(spools, State::Held, output);
        chosen.extend(
            held.into_iter()
                .map(|(spool, entry)| (spool, State::Held, entry)),
        );
    }
    let entries = chosen;
    let what = if state == State::Dead {
        "dead-letter"
    } else {
        "pending"
    };
    if entries.is_empty() {
        if !output.quiet {
            eprintln!("chime: no {what} message(s) to delete");
        }
        return Ok(ExitCode::Ok);
    }
    if !yes
        && !confirm(&format!(
            "delete {} {what} message(s) for good?",
            entries.len()
        ))?
    {
        return Err(
            Failure::usage("nothing deleted").with_hint("pass --yes to purge without asking")
        );
    }
    for (spool, state, entry) in &entries {
        let _lock = lock_for(spool, *state, &entry.destination)?;
        remove(spool, *state, entry)?;
    }
    if !output.quiet {
        eprintln!("chime: deleted {} {what} message(s)", entries.len());
    }
    Ok(ExitCode::Ok)
}

/// Asks on a terminal; anywhere else the answer is no.
fn confirm(question: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("chime: {question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
