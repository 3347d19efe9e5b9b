//! `chime spool …`: looking at and managing what the spool holds.
//!
//! These commands read and move entries; they never send. An entry whose
//! destination is being sent to right now (its lock is held) is not touched.

use std::io::{BufRead, IsTerminal, Write};
use std::time::SystemTime;

use serde_json::json;

use super::{Entry, Read, Spool, SpoolError, State};
use crate::cli::SpoolCommand;
use crate::exit::{ExitCode, Failure};
use crate::flush::{spool_failure, when};
use crate::report;
use crate::settings::Output;

pub fn run(spool: &Spool, command: SpoolCommand, output: Output) -> Result<ExitCode, Failure> {
    match command {
        SpoolCommand::List { dead, json } => list(spool, state(dead), json, output),
        SpoolCommand::Show { id } => show(spool, &id),
        SpoolCommand::Drop { ids } => drop_entries(spool, &ids, output),
        SpoolCommand::Retry { ids, all } => retry(spool, &ids, all, output),
        SpoolCommand::Purge { dead, yes } => purge(spool, state(dead), yes, output),
    }
}

fn state(dead: bool) -> State {
    if dead { State::Dead } else { State::Pending }
}

/// Every readable entry in `state`, oldest first per destination; damaged
/// files are quarantined with a warning.
fn entries(spool: &Spool, state: State, output: Output) -> Result<Vec<Entry>, SpoolError> {
    let mut out = Vec::new();
    for destination in spool.destinations(state)? {
        for id in spool.ids(state, &destination)? {
            match spool.read(state, &destination, &id) {
                Ok(Read::Entry(entry)) => out.push(entry),
                Ok(Read::Damaged(why)) => {
                    report::warning(output, &format!("spool entry {id} is damaged: {why}"))
                }
                Err(SpoolError::NotFound(_)) => {}
                Err(err) => return Err(err),
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

fn list(spool: &Spool, state: State, as_json: bool, output: Output) -> Result<ExitCode, Failure> {
    let entries = entries(spool, state, output).map_err(spool_failure)?;
    if as_json {
        let items: Vec<_> = entries.iter().map(|e| summary(e, state)).collect();
        report::line(&serde_json::to_string(&items).unwrap_or_default())?;
        return Ok(ExitCode::Ok);
    }
    if entries.is_empty() {
        let what = if state == State::Dead {
            "dead-letter"
        } else {
            "pending"
        };
        if !output.quiet {
            eprintln!("chime: no {what} messages in {}", spool.root().display());
        }
        return Ok(ExitCode::Ok);
    }
    let mut text = format!(
        "{:<24}  {:<16}  {:<20}  {:>8}  {:<12}  LAST ERROR\n",
        "ID", "DESTINATION", "CREATED", "ATTEMPTS", "NEXT"
    );
    for e in &entries {
        let next = if state == State::Dead {
            "-".to_owned()
        } else {
            when(e.next_attempt)
        };
        text.push_str(&format!(
            "{:<24}  {:<16}  {:<20}  {:>8}  {:<12}  {}\n",
            e.id,
            e.destination,
            humantime::format_rfc3339_seconds(e.created).to_string(),
            e.attempts,
            next,
            e.last_error.as_deref().unwrap_or("-")
        ));
    }
    report::line(text.trim_end())?;
    Ok(ExitCode::Ok)
}

fn summary(entry: &Entry, state: State) -> serde_json::Value {
    let time = |t: SystemTime| humantime::format_rfc3339_seconds(t).to_string();
    json!({
        "id": entry.id,
        "destination": entry.destination,
        "state": if state == State::Dead { "dead" } else { "pending" },
        "created": time(entry.created),
        "attempts": entry.attempts,
        "next_attempt": time(entry.next_attempt),
        "last_error": entry.last_error,
        "parts": entry.parts,
        "parts_left": entry.payloads.len(),
    })
}

/// Finds an entry by id or unique prefix, pending or dead; a prefix that
/// matches several is refused with the list (see `Spool::find`).
fn find(spool: &Spool, id: &str) -> Result<(State, Entry), Failure> {
    let found = spool.find(id).map_err(spool_failure)?;
    match spool
        .read(found.state, &found.destination, &found.id)
        .map_err(spool_failure)?
    {
        Read::Entry(entry) => Ok((found.state, entry)),
        Read::Damaged(why) => Err(Failure::new(
            ExitCode::Failure,
            format!("entry {} is damaged: {why}", found.id),
        )),
    }
}

fn show(spool: &Spool, id: &str) -> Result<ExitCode, Failure> {
    let (state, entry) = find(spool, id)?;
    let mut value = summary(&entry, state);
    let payloads: Vec<serde_json::Value> = entry
        .payloads
        .iter()
        .map(|p| serde_json::from_str(&p.body).unwrap_or_else(|_| json!(p.body)))
        .collect();
    value["payloads"] = json!(payloads);
    report::line(&serde_json::to_string_pretty(&value).unwrap_or_default())?;
    Ok(ExitCode::Ok)
}

fn drop_entries(spool: &Spool, ids: &[String], output: Output) -> Result<ExitCode, Failure> {
    // Every id resolved before any is dropped: one typo deletes nothing.
    let chosen = ids
        .iter()
        .map(|id| find(spool, id))
        .collect::<Result<Vec<_>, _>>()?;
    for (state, entry) in chosen {
        let _lock = lock_for(spool, state, &entry.destination)?;
        spool.remove(state, &entry).map_err(spool_failure)?;
        if !output.quiet {
            eprintln!("chime: dropped {} ({})", entry.id, entry.destination);
        }
    }
    Ok(ExitCode::Ok)
}

/// A pending entry may be in flight: take its destination's lock first.
fn lock_for(
    spool: &Spool,
    state: State,
    destination: &str,
) -> Result<Option<super::DestinationLock>, Failure> {
    if state == State::Dead {
        return Ok(None);
    }
    match spool.try_lock(destination).map_err(spool_failure)? {
        Some(lock) => Ok(Some(lock)),
        None => Err(Failure::new(
            ExitCode::TempFail,
            format!("another chime is sending to {destination} right now"),
        )
        .with_hint("try again when it is done")),
    }
}

fn retry(spool: &Spool, ids: &[String], all: bool, output: Output) -> Result<ExitCode, Failure> {
    let chosen = if all {
        entries(spool, State::Dead, output).map_err(spool_failure)?
    } else {
        let mut chosen = Vec::new();
        for id in ids {
            match find(spool, id)? {
                (State::Dead, entry) => chosen.push(entry),
                (State::Pending, entry) => {
                    return Err(Failure::usage(format!(
                        "{} is pending, not dead-lettered",
                        entry.id
                    ))
                    .with_hint("`chime flush --all` tries pending entries now"));
                }
            }
        }
        chosen
    };
    for entry in chosen {
        let entry = spool
            .revive(entry.clone())
            .map_err(|err| revive_failure(spool, &entry, err))?;
        if !output.quiet {
            eprintln!(
                "chime: {} ({}) is pending again; `chime flush` will send it",
                entry.id, entry.destination
            );
        }
    }
    Ok(ExitCode::Ok)
}

/// Says where an entry a failed revive left is: still dead-lettered, and
/// perhaps pending as well (the pending copy is written first).
fn revive_failure(spool: &Spool, entry: &Entry, err: SpoolError) -> Failure {
    if !spool.holds(State::Dead, entry) {
        return spool_failure(err);
    }
    let what = format!("{} ({})", entry.id, entry.destination);
    let failure = if spool.holds(State::Pending, entry) {
        Failure::new(
            ExitCode::Failure,
            format!("{what} is pending again, but its dead-letter copy could not be removed"),
        )
        .with_hint(format!(
            "`chime spool drop {}` removes the dead-letter copy; the pending one stays",
            entry.id
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

fn purge(spool: &Spool, state: State, yes: bool, output: Output) -> Result<ExitCode, Failure> {
    let entries = entries(spool, state, output).map_err(spool_failure)?;
    let what = if state == State::Dead {
        "dead-letter"
    } else {
        "pending"
    };
    if entries.is_empty() {
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
    for entry in &entries {
        let _lock = lock_for(spool, state, &entry.destination)?;
        spool.remove(state, entry).map_err(spool_failure)?;
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
