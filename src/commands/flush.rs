//! `chime flush`: delivering what waits in the spool, for every destination
//! of the profile named, or of every profile with messages waiting, at once.
//! The draining itself is delivery's (`deliver/drain.rs`).

use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;

use crate::config::{Destination, Profile};
use crate::deliver::{self, Context, Drained, Due, drain};
use crate::exit::{ExitCode, Failure};
use crate::settings::{Flush, Flushable, Output};
use crate::spool::{DestinationLock, Spool, SpoolError, State};
use crate::state::Threads;
use crate::stream::journal;

/// Totals over every destination and pass.
#[derive(Default)]
struct Totals {
    delivered: usize,
    dead: usize,
    remaining: usize,
    /// When the first remaining entry is due, if one waits out a backoff.
    next_due: Option<SystemTime>,
}

pub fn run(flush: Flush) -> Result<ExitCode, Failure> {
    let runtime = deliver::runtime()?;
    let totals = runtime.block_on(flush_all(&flush))?;
    if !flush.output.quiet
        && (totals.delivered + totals.dead + totals.remaining > 0 || flush.output.verbose)
    {
        eprintln!(
            "chime: flushed {} delivered, {} dead-lettered, {} still pending",
            totals.delivered, totals.dead, totals.remaining
        );
    }
    if !flush.output.quiet {
        tell_backoff(&totals);
    }
    if flush.output.verbose || flush.output.stderr_is_terminal && !flush.output.quiet {
        tell_held(&flush);
    }
    Ok(if totals.dead > 0 {
        ExitCode::Rejected
    } else if totals.remaining > 0 {
        ExitCode::TempFail
    } else {
        ExitCode::Ok
    })
}

/// Entries left because their next attempt is later: a person running
/// `chime flush` by hand wants to know it, and how to send them now.
fn tell_backoff(totals: &Totals) {
    let Some(due) = totals.next_due else { return };
    if totals.remaining == 0 {
        return;
    }
    let wait = due
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .as_secs()
        .max(1);
    eprintln!(
        "chime: entries wait out a backoff after failed tries (the first is next tried in {}); \
         `chime flush --all` sends them now",
        humantime::format_duration(Duration::from_secs(wait))
    );
}

/// One destination of one profile.
struct Lane<'f> {
    profile: &'f Profile,
    spool: &'f Spool,
    name: String,
}

async fn flush_all(flush: &Flush) -> Result<Totals, Failure> {
    let client = deliver::Clients::new();
    let started = Instant::now();
    let mut totals = Totals::default();
    let bar = progress_bar(flush);
    let mut waiting = 0;
    for target in &flush.profiles {
        match &target.profile {
            Ok(profile) => recover_journals(flush, profile, &target.spool),
            Err(why) => waiting += tell_unloadable(flush, target, why),
        }
        target.spool.sweep_files();
    }
    loop {
        totals.dead += settle_timing(flush);
        let lanes = lanes(flush, flush.output);
        let passes = lanes
            .iter()
            .map(|lane| flush_one(flush, lane, &client, &bar));
        let mut next_due: Option<SystemTime> = None;
        totals.remaining = waiting;
        for drained in join_all(passes).await {
            totals.delivered += drained.delivered;
            totals.dead += drained.dead;
            totals.remaining += drained.remaining;
            next_due = match (next_due, drained.next_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        totals.next_due = next_due.filter(|due| *due > SystemTime::now());
        let Some(wait) = flush.wait else { break };
        let left = wait.saturating_sub(started.elapsed());
        // A held message due within the wait is waited for too.
        let held = next_held(flush)
            .filter(|due| due.duration_since(SystemTime::now()).unwrap_or_default() <= left);
        if (totals.remaining == waiting && held.is_none()) || left.is_zero() {
            break;
        }
        let next_due = match (next_due, held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Sleep until the first entry is due (or a second, when another process
        // holds a destination), but never past --wait.
        let until_due = next_due
            .and_then(|t| t.duration_since(SystemTime::now()).ok())
            .unwrap_or(Duration::from_secs(1));
        tokio::time::sleep(until_due.clamp(Duration::from_millis(50), left)).await;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(totals)
}

/// Reports the dedupe windows that are over and releases the held messages
/// that are due, of every profile flushed (`commands/timing.rs`).
/// Gives how many held messages were dead-lettered.
fn settle_timing(flush: &Flush) -> usize {
    let mut dead = 0;
    for target in &flush.profiles {
        if let Ok(profile) = &target.profile {
            let settled = super::timing::settle(profile, &target.spool);
            for warning in &settled.warnings {
                crate::report::warning(flush.output, warning);
            }
            dead += settled.dead;
        }
    }
    dead
}

/// Messages held to go later: a person running `chime flush` by hand
/// wants to know they are there, and that this flush did not forget them.
fn tell_held(flush: &Flush) {
    let count: usize = flush
        .profiles
        .iter()
        .map(|target| count_in(&target.spool, State::Held))
        .sum();
    let Some(first) = next_held(flush).filter(|_| count > 0) else {
        return;
    };
    eprintln!(
        "chime: {count} message(s) held to go later, the first {}; `chime spool list` shows them",
        crate::spool::when(first)
    );
}

/// When the first held message of the profiles flushed is due.
fn next_held(flush: &Flush) -> Option<SystemTime> {
    flush
        .profiles
        .iter()
        .filter_map(|t| t.spool.next_held())
        .min()
}

/// Queues what `chime pipe`s that died had read and not settled, so this
/// flush delivers it with the rest (see `stream/journal.rs`).
fn recover_journals(flush: &Flush, profile: &Profile, spool: &Spool) {
    let dir = spool.root().parent().unwrap_or(spool.root());
    for warning in journal::recover_all(dir, profile, spool) {
        crate::report::warning(flush.output, &warning);
    }
}

/// Says why a profile's messages wait; gives how many do.
fn tell_unloadable(flush: &Flush, broken: &Flushable, why: &Failure) -> usize {
    let spool = &broken.spool;
    let count = count_in(spool, State::Pending);
    if count > 0 {
        let text = format!(
            "{count} message(s) queued under the profile {} wait, as it cannot be loaded: {}",
            spool.profile(),
            why.message.lines().next().unwrap_or_default()
        );
        crate::report::warning(flush.output, &text);
    }
    count
}

/// How many entries `spool` has in `state`, every destination counted.
fn count_in(spool: &Spool, state: State) -> usize {
    let names = spool.destinations(state).unwrap_or_default();
    let count = |name: &String| spool.count(state, name).unwrap_or(0);
    names.iter().map(count).sum()
}

/// The destinations this flush looks at: in each profile, every one with
/// pending entries, or `--dest`. A spool whose folders cannot be listed is
/// said so, and the others go on.
fn lanes(flush: &Flush, output: Output) -> Vec<Lane<'_>> {
    let mut lanes = Vec::new();
    for target in &flush.profiles {
        let Ok(profile) = &target.profile else {
            continue;
        };
        let names = match target.spool.destinations(State::Pending) {
            Ok(names) => names,
            Err(err) => {
                crate::report::warning(output, &format!("{err}; its messages wait"));
                continue;
            }
        };
        for name in names {
            if flush.only.is_empty() || flush.only.contains(&name) {
                let spool = &target.spool;
                lanes.push(Lane {
                    profile,
                    spool,
                    name,
                });
            }
        }
    }
    lanes
}

async fn flush_one(
    flush: &Flush,
    lane: &Lane<'_>,
    client: &deliver::Clients,
    bar: &Option<indicatif::ProgressBar>,
) -> Drained {
    let (name, spool, profile) = (lane.name.as_str(), lane.spool, lane.profile);
    let pending = match spool.count(State::Pending, name) {
        Ok(count) => count,
        Err(err) => return unreadable(flush, err),
    };
    if pending == 0 {
        return Drained::default();
    }
    let Some(destination) = profile.destinations.get(name) else {
        crate::report::warning(
            flush.output,
            &format!(
                "{pending} spooled message(s) for `{name}`, which the profile no longer defines; \
                 they stay pending (restore the destination, or remove them with `chime spool drop`)"
            ),
        );
        return waiting(pending);
    };
    let Some(lock) = lock(flush, spool, name) else {
        return waiting(pending);
    };
    if let Some(bar) = bar {
        bar.set_message(name.to_owned());
    }
    let threads = Threads::beside(spool, profile).searching(flush.in_ci);
    let ctx = Context {
        client,
        spool,
        threads: &threads,
        policy: &profile.spool,
        timeout: timeout(flush, profile, destination),
        deadline: None,
        older_than: None,
        verbose: flush.output.verbose,
    };
    let due = if flush.all { Due::Now } else { Due::Scheduled };
    let progress = || {
        if let Some(bar) = bar {
            bar.inc(1);
        }
    };
    let drained = match drain(&ctx, destination, &lock, due, progress).await {
        Ok(drained) => drained,
        Err(err) => {
            let mut drained = unreadable(flush, err);
            drained.remaining = pending;
            return drained;
        }
    };
    tell(flush, name, &drained);
    drained
}

/// Each entry's time to go: `--timeout`, else the destination's, else the profile's.
fn timeout(flush: &Flush, profile: &Profile, destination: &Destination) -> Duration {
    flush
        .timeout
        .or(destination.timeout)
        .or(profile.timeout)
        .unwrap_or(crate::settings::DEFAULT_TIMEOUT)
}

/// The destination's lock; none, and said why, when another chime holds it
/// or it cannot be taken: its entries wait.
fn lock(flush: &Flush, spool: &Spool, name: &str) -> Option<DestinationLock> {
    match spool.try_lock(name) {
        Ok(Some(lock)) => Some(lock),
        Ok(None) => {
            if flush.output.verbose {
                let holder = spool.lock_holder(name);
                eprintln!("chime: {name}: {holder} is sending to it; skipped");
            }
            None
        }
        Err(err) => {
            unreadable(flush, err);
            None
        }
    }
}

/// What a drain has to say on stderr.
fn tell(flush: &Flush, name: &str, drained: &Drained) {
    for warning in &drained.warnings {
        crate::report::warning(flush.output, warning);
    }
    for fate in &drained.fates {
        crate::report::fate(flush.output, fate);
    }
    if let Some(err) = &drained.error {
        let text = format!("{name}: {err}; its messages wait as they were");
        crate::report::warning(flush.output, &text);
    }
    if let (Some(why), Some(hint)) = (&drained.blocked, &drained.hint) {
        // Retrying will not help until this is fixed: said without -v.
        let text = format!("{name}: {why}; its messages wait\nhint: {hint}");
        crate::report::warning(flush.output, &text);
    } else if flush.output.verbose
        && let Some(why) = &drained.blocked
    {
        eprintln!("chime: {name}: {} left ({why})", drained.remaining);
    }
}

/// A destination left alone this time, its `pending` entries waiting.
fn waiting(pending: usize) -> Drained {
    Drained {
        remaining: pending,
        ..Drained::default()
    }
}

/// A destination whose folder or lock cannot be used: said, and left for
/// later, while the others go on.
fn unreadable(flush: &Flush, err: SpoolError) -> Drained {
    crate::report::warning(flush.output, &format!("{err}; its messages wait"));
    Drained {
        remaining: 1,
        ..Drained::default()
    }
}

/// A progress bar on a terminal; nothing in cron.
fn progress_bar(flush: &Flush) -> Option<indicatif::ProgressBar> {
    if flush.output.quiet || !flush.output.stderr_is_terminal {
        return None;
    }
    let quiet = Output {
        quiet: true,
        ..flush.output
    };
    let total: usize = lanes(flush, quiet)
        .iter()
        .map(|lane| lane.spool.count(State::Pending, &lane.name).unwrap_or(0))
        .sum();
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} flushing {pos}/{len} [{bar:30}] {msg}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    Some(bar)
}
