//! What `--at`, `--in`, `--dedupe` and a route's timing (`timing/`) decide
//! for one destination's message in a send, and what a flush does with what
//! they kept: closed dedupe windows reported, held messages released, held
//! digests composed.

use std::time::{Duration, SystemTime};

use minijinja::Value;
use sha2::{Digest, Sha256};

use crate::clock;
use crate::config::{Destination, Profile};
use crate::deliver::{Held, Report};
use crate::kinds::{Payload, Target, ThreadRef};
use crate::message::Message;
use crate::spool::{Entry, Heading, Hold, Spool, SpoolError, State, Why};
use crate::state::{Entered, Guard, Shown, Window, Windows};
use crate::timing::{self, Timing};

/// The start of the thread key a window's first message carries, so that
/// its count can edit it later.
pub const THREAD_PREFIX: &str = "chime-dedupe:";

/// The window `--dedupe KEY` opens when its route sets none.
pub const DEFAULT_DEDUPE: Duration = Duration::from_secs(3600);

/// A first message's text kept for an edit with its count only up to this;
/// a longer one is reported in a message of its own.
const MAX_SHOWN: usize = 64 << 10;

/// What deduplication decided for one destination.
pub enum Deduped {
    /// Not deduplicated, or the first of its window: it goes, holding the
    /// guard until it is on disk; `thread` is the key to edit it by later.
    Go(Option<Guard>, Option<String>),
    /// Counted as a repeat.
    Counted(Box<Report>),
}

/// `--dedupe KEY` (with its window) or the route's `dedupe`.
pub struct Asked<'a> {
    pub key: Option<&'a str>,
    pub window: Option<Duration>,
    /// Whether the first message may carry a key of the window's own, to
    /// edit it with its count: not when it carries `--thread`/`--update`'s,
    /// nor when it is scheduled (a platform schedules no edit).
    pub may_edit: bool,
}

/// Counts `message` as a repeat, or opens its window. A window it ends is
/// reported first, queued in the spool for the send to deliver before it.
pub fn dedupe(
    spool: &Spool,
    destination: &Destination,
    target: &Target,
    message: &Message,
    asked: Asked,
) -> Result<Deduped, SpoolError> {
    let windows = Windows::beside(spool);
    let key = asked.key.map_or_else(
        || default_key(&destination.name, target, message),
        str::to_owned,
    );
    let length = asked.window.unwrap_or(DEFAULT_DEDUPE);
    let now = clock::now();
    let edits = asked.may_edit && destination.platform.edits() && message.text.len() <= MAX_SHOWN;
    let thread = edits.then(|| format!("{THREAD_PREFIX}{key}:{}", clock::epoch_secs(now)));
    let window = Window {
        key: key.clone(),
        destination: destination.name.clone(),
        level: message.level,
        opened: now,
        until: now,
        repeats: 0,
        last: now,
        thread: thread.clone(),
        shown: shown(message, target),
        identity: destination.identity(),
    };
    let mut report = |closed: &Window| queue_report(spool, destination, closed);
    match windows.enter(window, &destination.state_key(), length, &mut report)? {
        Entered::First(guard) => Ok(Deduped::Go(Some(guard), thread)),
        Entered::Repeat(open) => {
            let note = format!(
                "a repeat of a message posted at {} (repeat {} in this window); not posted — \
                 the count goes when the window ends at {}",
                clock::clock_time(open.opened, &clock::local()),
                open.repeats,
                clock::stamp(open.until),
            );
            let held = Held {
                reason: "repeat",
                until: Some(clock::stamp(open.until)),
                repeats: Some(open.repeats),
                scheduled_message_id: None,
                note,
            };
            Ok(Deduped::Counted(Box::new(Report::held(
                destination,
                0,
                held,
            ))))
        }
    }
}

/// The key a message is deduplicated by when none was given: where it
/// goes (destination, channel, thread) and what it says (title, text,
/// fields). Not its level: a message like the last but of another level
/// ends the window (an error after warnings is news).
fn default_key(destination: &str, target: &Target, message: &Message) -> String {
    let mut hash = Sha256::new();
    let fields = message
        .fields
        .iter()
        .flat_map(|(k, v)| [k.as_str(), v.as_str()]);
    let parts = [
        destination,
        target.channel.as_deref().unwrap_or(""),
        target.thread_key.as_deref().unwrap_or(""),
        message.title.as_deref().unwrap_or(""),
        &message.text,
    ];
    for part in parts.into_iter().chain(fields) {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A `dedupe_key` template rendered with the message's variables.
pub fn key_from(template: &str, vars: &Value) -> Result<String, String> {
    fn plain(text: &str) -> String {
        text.to_owned()
    }
    crate::template::Renderer::new(plain).title(template, vars)
}

fn shown(message: &Message, target: &Target) -> Shown {
    Shown {
        title: message.title.clone(),
        text: match message.text.len() <= MAX_SHOWN {
            true => message.text.clone(),
            false => String::new(),
        },
        line: timing::note_line(&message.text),
        fields: message.fields.clone(),
        links: message.links.clone(),
        code: message.code,
        channel: target.channel.clone(),
    }
}

/// Queues the count of a closed window for `destination`: an edit of its
/// first message (×37, last 10:42) where the kind edits and the edit fits
/// one part, else a message of its own (repeated 36 times in the last 10 min).
fn queue_report(
    spool: &Spool,
    destination: &Destination,
    window: &Window,
) -> Result<(), SpoolError> {
    // The count of messages another destination took is not this one's to tell.
    if window.identity != destination.identity() {
        return Ok(());
    }
    let platform = destination.platform.as_ref();
    let target = Target {
        channel: window.shown.channel.clone(),
        ..Target::default()
    };
    let edit = window.thread.as_ref().and_then(|key| {
        let mut parts = platform.render(&counted(window, platform), &target);
        let part = parts.pop().filter(|_| parts.is_empty())?;
        let thread = ThreadRef {
            key: key.clone(),
            edit: true,
            broadcast: false,
        };
        Some(vec![Payload {
            thread: Some(thread),
            ..part
        }])
    });
    let payloads = edit.unwrap_or_else(|| platform.render(&follow_up(window, platform), &target));
    spool.write(State::Pending, &destination.entry(payloads))
}

/// The window's first message again, with its count below it.
fn counted(window: &Window, platform: &dyn crate::kinds::Platform) -> Message {
    let last = clock::clock_time(window.last, &clock::local());
    let count = platform.escape(&format!("×{}, last {last}", window.repeats + 1));
    let shown = &window.shown;
    let text = match shown.text.is_empty() {
        true => count,
        false => format!("{}\n\n{count}", shown.text),
    };
    Message {
        title: shown.title.clone(),
        text,
        fields: shown.fields.clone(),
        links: shown.links.clone(),
        code: shown.code,
        ..report_message(window)
    }
}

/// "Repeated: disk full" — "repeated 36 times in the last 10 min (last at 10:42)".
fn follow_up(window: &Window, platform: &dyn crate::kinds::Platform) -> Message {
    let last = clock::clock_time(window.last, &clock::local());
    // The window's length, or up to its last repeat when another level
    // closed it early.
    let over = clock::now() >= window.until;
    let end = if over { window.until } else { window.last };
    let span = end.duration_since(window.opened).unwrap_or_default();
    let span = match over {
        true => span.as_secs(),
        false => span.as_secs().div_ceil(60).max(1) * 60,
    };
    let shown = &window.shown;
    let what = shown.title.clone().unwrap_or_else(|| shown.line.clone());
    Message {
        title: Some(format!("Repeated: {what}")),
        text: platform.escape(&format!(
            "repeated {} in the last {} (last at {last})",
            times(window.repeats),
            clock::span(Duration::from_secs(span))
        )),
        links: shown.links.clone(),
        ..report_message(window)
    }
}

/// "once", "twice", "36 times".
fn times(count: u64) -> String {
    match count {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    }
}

/// What both reports of a window share: its level, and nothing else yet.
fn report_message(window: &Window) -> Message {
    Message::of_chime(window.level, None, String::new())
}

/// Whether a route's quiet hours, digest or limit hold this message, and
/// until when and how: `None` lets it go now.
pub fn hold_for(
    spool: &Spool,
    destination: &Destination,
    route: (&str, &Timing),
    message: &Message,
    typed: &str,
    target: &Target,
) -> Result<Option<Hold>, SpoolError> {
    let (name, timing) = route;
    let now = clock::now();
    // Messages for different channels never share a digest.
    let channel = target.channel.as_deref().unwrap_or("");
    let held = |until: SystemTime, heading: Heading, group: String| {
        let why = match message.files.is_empty() {
            // Files do not fit in a digest's lines: such a message goes alone.
            false => Why::Scheduled,
            true => {
                let title = message.title.as_deref();
                let channel = target.channel.as_deref();
                let note = timing::note(title, message.level, typed, channel, heading);
                Why::Digest { group, note }
            }
        };
        Some(Hold { until, why })
    };
    if let Some(quiet) = &timing.quiet
        && let Some(until) = quiet.holds_until(message.level, now)
    {
        let heading = Heading::Quiet {
            hours: quiet.hours.clone(),
        };
        let group = format!("quiet:{name}:{channel}:{}", clock::epoch_secs(until));
        return Ok(held(until, heading, group));
    }
    if let Some(interval) = timing.digest {
        let (_, until) = timing::window(interval, now);
        let heading = Heading::Interval {
            secs: interval.as_secs(),
        };
        let group = format!("digest:{name}:{channel}:{}", clock::epoch_secs(until));
        return Ok(held(until, heading, group));
    }
    if let Some(limit) = timing
        .limit
        .as_ref()
        .filter(|l| l.levels.contains(&message.level))
    {
        let windows = Windows::beside(spool);
        let scope = format!("route:{name}");
        if let Some(until) = windows.take(destination, &scope, limit.count, limit.per, now)? {
            let heading = Heading::Limit {
                secs: limit.per.as_secs(),
            };
            let group = format!("limit:{name}:{channel}:{}", clock::epoch_secs(until));
            return Ok(held(until, heading, group));
        }
    }
    Ok(None)
}

/// Keeps `payloads` held in the spool (their files copied in first).
pub fn keep_held(
    spool: &Spool,
    destination: &Destination,
    payloads: Vec<Payload>,
    hold: Hold,
) -> Result<Report, SpoolError> {
    let mut entry = destination.entry(payloads);
    spool.keep_files(&entry.id, &mut entry.payloads)?;
    let parts = entry.parts;
    let until = hold.until;
    let (reason, note) = match &hold.why {
        Why::Scheduled => (
            "scheduled",
            format!(
                "scheduled for {} ({}); it waits in the spool, so a `chime flush` must run \
                 then (cron `* * * * * chime flush`, or `chime flush --wait`)",
                clock::stamp(until),
                crate::spool::when(until)
            ),
        ),
        Why::Digest { note, .. } => {
            let reason = match note.heading {
                Heading::Limit { .. } => "limit",
                Heading::Interval { .. } => "digest",
                Heading::Quiet { .. } => "quiet",
            };
            let text = format!(
                "{}; it goes in one digest at {} with the next `chime flush`",
                hold.describe(),
                clock::stamp(until)
            );
            (reason, text)
        }
    };
    let kept = spool.hold(entry, hold)?;
    let held = Held {
        reason,
        until: Some(clock::stamp(until)),
        repeats: None,
        scheduled_message_id: None,
        note,
    };
    let mut report = Report::held(destination, parts, held);
    report.spool_id = Some(kept.id);
    Ok(report)
}

/// For a flush: reports the profile's closed dedupe windows, and releases
/// what its destinations hold that is due (`release` per destination, under
/// its lock).
pub fn settle(profile: &Profile, spool: &Spool) -> Settled {
    let mut settled = Settled::default();
    let now = clock::now();
    let windows = Windows::of_profile(spool, profile);
    windows.close_due(now, &mut |window| {
        match profile.destinations.get(&window.destination) {
            Some(destination) => queue_report(spool, destination, window),
            // Its destination is gone: nothing to report to.
            None => Ok(()),
        }
    });
    for name in spool.destinations(State::Held).unwrap_or_default() {
        if let Some(destination) = profile.destinations.get(&name) {
            release_locked(spool, destination, now, &mut settled);
        }
    }
    settled
}

/// For a send: releases what `destination` holds that is due, when the
/// hint says something is, so that the send delivers it first (a digest
/// whose window ended goes with the next message, not only the next flush).
pub fn release_for_send(spool: &Spool, destination: &Destination) -> Settled {
    let mut settled = Settled::default();
    let now = clock::now();
    if spool
        .next_due_hint(&destination.name)
        .is_some_and(|next| next <= now)
    {
        release_locked(spool, destination, now, &mut settled);
    }
    settled
}

/// [`release`] under the destination's lock; left to its holder (a flush
/// or a send at it) when another has it.
fn release_locked(
    spool: &Spool,
    destination: &Destination,
    now: SystemTime,
    settled: &mut Settled,
) {
    let Ok(Some(_lock)) = spool.try_lock(&destination.name) else {
        return;
    };
    if let Err(err) = release(spool, destination, now, settled) {
        let text = format!("{}: {err}; its held messages wait", destination.name);
        settled.warnings.push(text);
    }
}

/// What settling a profile's timing has to tell.
#[derive(Default)]
pub struct Settled {
    pub warnings: Vec<String>,
    /// Held messages dead-lettered, their destination changed since.
    pub dead: usize,
}

/// Moves `destination`'s due scheduled entries to pending, and makes each
/// due digest one pending message in place of the entries it gathers.
fn release(
    spool: &Spool,
    destination: &Destination,
    now: SystemTime,
    settled: &mut Settled,
) -> Result<(), SpoolError> {
    let due = spool.release_due(&destination.name, now)?;
    settled.warnings.extend(due.warnings);
    let platform = destination.platform.as_ref();
    let identity = destination.identity();
    for held in due.digests {
        // A message accepted by what the destination's name meant then goes
        // nowhere else: dead-lettered, as a drain would.
        let (held, changed): (Vec<Entry>, Vec<Entry>) = held
            .into_iter()
            .partition(|entry| entry.identity.as_deref().is_none_or(|id| id == identity));
        for entry in changed {
            let reason = format!(
                "not sent: `{}` is no longer the destination that accepted it (its kind, URL \
                 or credentials changed)",
                destination.name
            );
            let id = crate::spool::short_id(&entry.id);
            settled
                .warnings
                .push(format!("held message {id}: {reason}; dead-lettered"));
            spool.bury_held(entry, reason)?;
            settled.dead += 1;
        }
        let notes: Vec<_> = held
            .iter()
            .filter_map(|entry| match &entry.hold.as_ref()?.why {
                Why::Digest { note, .. } => Some(note),
                Why::Scheduled => None,
            })
            .collect();
        let Some(first) = notes.first() else { continue };
        let target = Target {
            channel: first.channel.clone(),
            ..Target::default()
        };
        let message = timing::digest(&notes, &|text| platform.escape(text));
        let digest = destination.entry(platform.render(&message, &target));
        spool.settle_digest(&digest, &held)?;
    }
    Ok(())
}
