//! Draining the spool: sending a destination's pending entries, oldest first,
//! and the `chime flush` command that does it for every destination at once.
//!
//! Whoever drains a destination holds its lock (see `spool/mod.rs`), so two
//! flushers, or a flusher and a `chime send`, never send the same entry. An
//! entry that fails again is rescheduled and stops its destination there:
//! later entries wait behind it, so order is kept.

use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;

use crate::config::{Destination, Profile};
use crate::deliver::{self, Job, Status};
use crate::exit::{ExitCode, Failure};
use crate::settings::Output;
use crate::spool::{DestinationLock, Entry, Policy, Read, Spool, SpoolError, State};
use crate::stream::journal;
use crate::threads::Threads;

/// How a drain treats entries that are not due yet.
#[derive(Clone, Copy, Debug)]
pub enum Due {
    /// Only entries whose next attempt has come: a plain flush, and a send,
    /// which waits for that time only while its own timeout lasts.
    Scheduled,
    /// Every entry: `flush --all`.
    Now,
}

/// What one drain of one destination did.
#[derive(Debug, Default)]
pub struct Drained {
    pub delivered: usize,
    pub dead: usize,
    /// Entries still pending when the drain stopped.
    pub remaining: usize,
    /// Why it stopped early, when it did.
    pub blocked: Option<String>,
    /// When the first remaining entry is due.
    pub next_due: Option<SystemTime>,
    /// Warnings worth a line on stderr (quarantined files).
    pub warnings: Vec<String>,
    /// The spool could not be written (a full disk): the drain stopped, and
    /// the entry it was on is still pending as it was.
    pub error: Option<String>,
}

/// Everything a drain needs besides the destination.
pub struct Context<'a> {
    pub client: &'a reqwest::Client,
    pub spool: &'a Spool,
    pub threads: &'a Threads,
    pub policy: &'a Policy,
    /// For each entry.
    pub timeout: Duration,
    /// No entry starts after this: a send that drains a backlog first stops
    /// starting older messages once its own timeout has passed, and leaves the
    /// rest for later. One that starts gets the whole `timeout`: cut short, a
    /// slow platform could take it and chime count it failed, and send it twice.
    pub deadline: Option<Instant>,
    /// Only entries older than this are sent: a send's own message, on disk
    /// in flight, and whatever came after it wait for it.
    pub older_than: Option<&'a str>,
    pub verbose: bool,
}

/// Sends `destination`'s pending entries in order while `_lock` is held.
pub async fn drain(
    ctx: &Context<'_>,
    destination: &Destination,
    _lock: &DestinationLock,
    due: Due,
    mut progress: impl FnMut(),
) -> Result<Drained, SpoolError> {
    let name = destination.name.as_str();
    let identity = destination.identity();
    ctx.spool.sweep(name);
    // What a dead sender left in flight becomes pending in its place; what a
    // live one is sending is not passed, lest a later entry overtake it.
    let in_flight = ctx.spool.adopt_orphans(name)?;
    let mut ids = ctx.spool.ids(State::Pending, name)?;
    if let Some(own) = ctx.older_than {
        ids.retain(|id| id.as_str() < own);
    }
    let mut held = 0;
    if let Some(live) = &in_flight {
        let before = ids.partition_point(|id| id < live);
        held = ids.len() - before;
        ids.truncate(before);
        // A send's own message waits for one before it, too.
        if ctx.older_than.is_some_and(|own| live.as_str() < own) {
            held += 1;
        }
    }
    let mut drained = drain_ids(ctx, destination, &identity, &ids, due, &mut progress).await;
    if held > 0 {
        drained.remaining += held;
        drained
            .blocked
            .get_or_insert_with(|| "an older message is being sent by another chime".into());
    }
    Ok(drained)
}

/// Sends the entries `ids`, in order, stopping at the first that fails. A
/// spool that cannot be written stops it too, with everything counted so
/// far and the rest still pending (`Drained::error`).
async fn drain_ids(
    ctx: &Context<'_>,
    destination: &Destination,
    identity: &str,
    ids: &[String],
    due: Due,
    progress: &mut impl FnMut(),
) -> Drained {
    let mut drained = Drained::default();
    let mut last_sent: Option<Instant> = None;
    for (index, id) in ids.iter().enumerate() {
        let step = Step {
            ctx,
            destination,
            identity,
            due,
        };
        match step.one(id, &mut drained, &mut last_sent).await {
            Ok(true) => progress(),
            Ok(false) => {
                drained.remaining = ids.len() - index;
                break;
            }
            Err(err) => {
                drained.error = Some(err.to_string());
                drained.remaining = ids.len() - index;
                break;
            }
        }
    }
    drained
}

/// What one entry of a drain needs.
struct Step<'s, 'c> {
    ctx: &'s Context<'c>,
    destination: &'s Destination,
    identity: &'s str,
    due: Due,
}

impl Step<'_, '_> {
    /// Sends, buries or skips entry `id`; false when the drain must stop
    /// here (not due, no time left, a failure), leaving this entry pending.
    async fn one(
        &self,
        id: &str,
        drained: &mut Drained,
        last_sent: &mut Option<Instant>,
    ) -> Result<bool, SpoolError> {
        let name = self.destination.name.as_str();
        let entry = match self.ctx.spool.read(State::Pending, name, id) {
            Ok(Read::Entry(entry)) => entry,
            Ok(Read::Damaged(why)) => {
                drained
                    .warnings
                    .push(format!("spool entry {id} for {name} is damaged: {why}"));
                return Ok(true);
            }
            Err(SpoolError::NotFound(_)) => return Ok(true),
            Err(err) => return Err(err),
        };
        let Some(entry) = self.retire(entry, drained)? else {
            return Ok(true);
        };
        if !self.its_turn(&entry, drained, last_sent).await {
            return Ok(false);
        }
        self.send(entry, drained).await
    }

    /// Dead-letters an entry that must not be sent any more: its destination
    /// is not the one that accepted it, or it is too old or tried too often.
    /// Gives it back when it may still go.
    fn retire(&self, entry: Entry, drained: &mut Drained) -> Result<Option<Entry>, SpoolError> {
        let name = self.destination.name.as_str();
        let reason = if entry
            .identity
            .as_deref()
            .is_some_and(|id| id != self.identity)
        {
            let reason = format!(
                "not sent: `{name}` is no longer the destination that accepted it (its kind, \
                 URL or credentials changed); `chime spool retry {}` sends it to `{name}` as it is now",
                entry.id
            );
            drained
                .warnings
                .push(format!("spool entry {}: {reason}", entry.id));
            reason
        } else if let Some(reason) = self.ctx.policy.expired(&entry, SystemTime::now()) {
            let last = entry.last_error.clone().unwrap_or_default();
            format!("{reason} (last error: {last})")
        } else {
            return Ok(Some(entry));
        };
        self.ctx.spool.bury(entry, reason)?;
        drained.dead += 1;
        Ok(None)
    }

    /// Waits until `entry` may go — its next attempt (for a send, only
    /// within its timeout) and the destination's pace — or says it may not
    /// go now (false).
    async fn its_turn(
        &self,
        entry: &Entry,
        drained: &mut Drained,
        last_sent: &mut Option<Instant>,
    ) -> bool {
        let ctx = self.ctx;
        let now = SystemTime::now();
        if !entry.is_due(now) && matches!(self.due, Due::Scheduled) {
            // A send waits for its backlog's time when that comes within its
            // own timeout; a flush leaves it for the next pass.
            let soon = ctx.deadline.and_then(|deadline| {
                let wait = entry.next_attempt.duration_since(now).ok()?;
                (Instant::now() + wait < deadline).then_some(wait)
            });
            let Some(wait) = soon else {
                drained.blocked = Some(format!("next attempt {}", when(entry.next_attempt)));
                drained.next_due = Some(entry.next_attempt);
                return false;
            };
            tokio::time::sleep(wait).await;
        }
        // Keep to the platform's sustained rate rather than meet its 429s.
        // (A timer, even one already due, costs a millisecond of timer wheel.)
        let wait = last_sent.map_or(Duration::ZERO, |last| {
            (last + self.destination.pace).saturating_duration_since(Instant::now())
        });
        let left = ctx
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left <= wait) {
            drained.blocked = Some("no time left to send them".into());
            return false;
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        *last_sent = Some(Instant::now());
        true
    }

    /// Sends `entry` and settles it: removed once delivered, dead-lettered
    /// when refused, rescheduled (and the drain stopped) when it failed.
    async fn send(&self, mut entry: Entry, drained: &mut Drained) -> Result<bool, SpoolError> {
        let ctx = self.ctx;
        let job = Job {
            name: &self.destination.name,
            platform: self.destination.platform.as_ref(),
            payloads: entry.payloads.clone(),
            timeout: ctx.timeout,
            threads: Some(ctx.threads),
        };
        let mut report = deliver::deliver_one(ctx.client, job, ctx.verbose).await;
        drained.warnings.append(&mut report.warnings);
        entry.payloads.drain(..report.parts_delivered);
        match report.status {
            Status::Delivered => {
                ctx.spool.remove(State::Pending, &entry)?;
                drained.delivered += 1;
                Ok(true)
            }
            Status::Rejected => {
                ctx.spool.bury(entry, report.error.unwrap_or_default())?;
                drained.dead += 1;
                Ok(true)
            }
            Status::Failed | Status::Queued => {
                entry.attempts += 1;
                entry.next_attempt =
                    ctx.policy
                        .next_attempt(SystemTime::now(), entry.attempts, report.retry_after);
                entry.last_error = report.error.clone();
                drained.blocked = report.error;
                drained.next_due = Some(entry.next_attempt);
                ctx.spool.write(State::Pending, &entry)?;
                Ok(false)
            }
        }
    }
}

/// "in 2m 3s" or "now", for people.
pub fn when(time: SystemTime) -> String {
    match time.duration_since(SystemTime::now()) {
        Ok(wait) if wait >= Duration::from_secs(1) => {
            format!(
                "in {}",
                humantime::format_duration(Duration::from_secs(wait.as_secs()))
            )
        }
        _ => "now".to_owned(),
    }
}

/// `chime flush` as resolved from the command line.
pub struct Flush {
    /// The profiles whose spools this flush delivers: the one named, or
    /// every profile that has messages waiting.
    pub profiles: Vec<Flushable>,
    pub only: Vec<String>,
    pub all: bool,
    pub wait: Option<Duration>,
    pub timeout: Option<Duration>,
    pub output: Output,
}

/// One profile's spool, and the profile to deliver it with, or why that
/// profile could not be loaded (its messages then wait).
pub struct Flushable {
    pub spool: Spool,
    pub profile: Result<Profile, Failure>,
}

/// Totals over every destination and pass.
#[derive(Default)]
struct Totals {
    delivered: usize,
    dead: usize,
    remaining: usize,
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
    Ok(if totals.dead > 0 {
        ExitCode::Rejected
    } else if totals.remaining > 0 {
        ExitCode::TempFail
    } else {
        ExitCode::Ok
    })
}

/// One destination of one profile.
struct Lane<'f> {
    profile: &'f Profile,
    spool: &'f Spool,
    name: String,
}

async fn flush_all(flush: &Flush) -> Result<Totals, Failure> {
    let client = deliver::client();
    let started = Instant::now();
    let mut totals = Totals::default();
    let bar = progress_bar(flush);
    let mut waiting = 0;
    for target in &flush.profiles {
        match &target.profile {
            Ok(profile) => recover_journals(flush, profile, &target.spool),
            Err(why) => waiting += tell_unloadable(flush, target, why),
        }
    }
    loop {
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
        let Some(wait) = flush.wait else { break };
        let left = wait.saturating_sub(started.elapsed());
        if totals.remaining == waiting || left.is_zero() {
            break;
        }
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
    let count = pending_count(spool);
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

fn pending_count(spool: &Spool) -> usize {
    let names = spool.destinations(State::Pending).unwrap_or_default();
    let count = |name: &String| spool.ids(State::Pending, name).map_or(0, |ids| ids.len());
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
    client: &reqwest::Client,
    bar: &Option<indicatif::ProgressBar>,
) -> Drained {
    let (name, spool, profile) = (lane.name.as_str(), lane.spool, lane.profile);
    let pending = match spool.ids(State::Pending, name) {
        Ok(ids) => ids.len(),
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
        return Drained {
            remaining: pending,
            ..Drained::default()
        };
    };
    let lock = match lock(flush, spool, name, pending) {
        Ok(lock) => lock,
        Err(waiting) => return waiting,
    };
    if let Some(bar) = bar {
        bar.set_message(name.to_owned());
    }
    let threads = Threads::beside(spool, profile.thread_ttl);
    let ctx = Context {
        client,
        spool,
        threads: &threads,
        policy: &profile.spool,
        timeout: flush
            .timeout
            .or(destination.timeout)
            .or(profile.timeout)
            .unwrap_or(crate::settings::DEFAULT_TIMEOUT),
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

/// The destination's lock, or what its entries are when another chime
/// holds it, or it cannot be taken.
fn lock(
    flush: &Flush,
    spool: &Spool,
    name: &str,
    pending: usize,
) -> Result<DestinationLock, Drained> {
    let waiting = Drained {
        remaining: pending,
        ..Drained::default()
    };
    match spool.try_lock(name) {
        Ok(Some(lock)) => Ok(lock),
        Ok(None) => {
            if flush.output.verbose {
                eprintln!("chime: {name}: another chime is sending to it; skipped");
            }
            Err(waiting)
        }
        Err(err) => {
            unreadable(flush, err);
            Err(waiting)
        }
    }
}

/// What a drain has to say on stderr.
fn tell(flush: &Flush, name: &str, drained: &Drained) {
    for warning in &drained.warnings {
        crate::report::warning(flush.output, warning);
    }
    if let Some(err) = &drained.error {
        let text = format!("{name}: {err}; its messages wait as they were");
        crate::report::warning(flush.output, &text);
    }
    if flush.output.verbose
        && let Some(why) = &drained.blocked
    {
        eprintln!("chime: {name}: {} left ({why})", drained.remaining);
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
        .map(|lane| {
            lane.spool
                .ids(State::Pending, &lane.name)
                .map_or(0, |ids| ids.len())
        })
        .sum();
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} flushing {pos}/{len} [{bar:30}] {msg}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    Some(bar)
}

pub fn spool_failure(err: SpoolError) -> Failure {
    let (code, hint) = match &err {
        SpoolError::Untrusted { path, .. } => (
            ExitCode::Config,
            format!(
                "chime delivers what it finds there with the profile's credentials, so it \
                 must be yours alone: make {} a directory of your own, writable only by you \
                 (chown, chmod 700), or point CHIME_STATE_DIR at one",
                path.display()
            ),
        ),
        SpoolError::Io { .. } => (
            ExitCode::Failure,
            "check free space and permissions under the state directory (CHIME_STATE_DIR)".into(),
        ),
        SpoolError::NoStateDir => (
            ExitCode::Failure,
            "set CHIME_STATE_DIR to a writable directory".into(),
        ),
        SpoolError::NotFound(_) => (
            ExitCode::Failure,
            "list entries with `chime spool list` (and `--dead`)".into(),
        ),
        SpoolError::Ambiguous { .. } => (
            ExitCode::Failure,
            "give more characters of the id; `chime spool list` (and `--dead`) shows them in full"
                .into(),
        ),
    };
    Failure::new(code, err.to_string()).with_hint(hint)
}
