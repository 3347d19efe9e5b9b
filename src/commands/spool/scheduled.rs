//! `chime spool list` and `chime spool drop` of the messages a platform
//! holds for chime (Slack's scheduled messages, `state::Scheduled`): listed
//! after the spool's entries, and dropped by cancelling them there.

use std::time::SystemTime;

use crate::clock;
use crate::config::Profile;
use crate::deliver::{self, Job, Status};
use crate::exit::{ExitCode, Failure};
use crate::report::Output;
use crate::spool::{Spool, short_id};
use crate::state::{Record, Scheduled};

/// Loads the profile whose state holds a spool (`settings::profile_of`).
pub type Loader<'a> = &'a dyn Fn(&Spool) -> Result<Profile, Failure>;

fn now() -> u64 {
    clock::epoch_secs(SystemTime::now())
}

/// Every message the spools' platforms hold, soonest first, for the
/// destinations named (all when none).
pub fn records<'s>(spools: &'s [Spool], only: &[String]) -> Vec<(&'s Spool, Record)> {
    let mut out = Vec::new();
    for spool in spools {
        let records = Scheduled::beside(spool).list(now());
        let wanted = |r: &Record| only.is_empty() || only.contains(&r.destination);
        out.extend(records.into_iter().filter(wanted).map(|r| (spool, r)));
    }
    out
}

/// The one record whose id starts with `prefix`, if any; several are refused.
pub fn find<'s>(spools: &'s [Spool], prefix: &str) -> Result<Option<(&'s Spool, Record)>, Failure> {
    let mut found: Vec<(&Spool, Record)> = Vec::new();
    for spool in spools {
        let hits = Scheduled::beside(spool).find(prefix, now());
        found.extend(hits.into_iter().map(|r| (spool, r)));
    }
    match found.len() {
        0 | 1 => Ok(found.pop()),
        _ => Err(
            Failure::usage(format!("`{prefix}` names several scheduled messages"))
                .with_hint("give more of the id, as `chime spool list` shows it"),
        ),
    }
}

/// Cancels a message its platform holds, then forgets it. One the platform
/// no longer knows (posted, or deleted there) is forgotten too.
pub fn cancel(spool: &Spool, record: &Record, load: Loader, output: Output) -> Result<(), Failure> {
    let id = short_id(&record.id);
    let profile = load(spool).map_err(|f| f.caused_by(format!("cannot cancel {id}")))?;
    let Some(destination) = profile.destinations.get(&record.destination) else {
        return Err(Failure::config(format!(
            "cannot cancel {id}: its destination `{}` is no longer in the profile",
            record.destination
        )));
    };
    // Another workspace or token would not know the message, and its answer
    // would make chime forget one that still posts.
    if record.identity != destination.identity() {
        return Err(Failure::config(format!(
            "cannot cancel {id}: `{}` is no longer the destination that scheduled it \
             (its kind, URL or credentials changed)",
            record.destination
        ))
        .with_hint(format!(
            "delete it in {} itself; chime forgets it once its time has passed",
            record.holder
        )));
    }
    let platform = destination.platform.as_ref();
    let Some(payload) = platform.unschedule(&record.channel, &record.scheduled_message_id) else {
        return Err(Failure::config(format!(
            "cannot cancel {id} on {}",
            record.holder
        )));
    };
    let timeout = destination.timeout.or(profile.timeout);
    let report = send_one(destination, payload, timeout, output)?;
    let gone = report.error.as_deref() == Some("invalid_scheduled_message_id");
    if report.status != Status::Delivered && !gone {
        let error = report.error.unwrap_or_default();
        return Err(Failure::new(
            ExitCode::TempFail,
            format!("{} did not cancel {id}: {error}", record.holder),
        )
        .with_hint("it is still scheduled; try `chime spool drop` again"));
    }
    Scheduled::beside(spool)
        .remove(record)
        .map_err(Failure::from)?;
    if !output.quiet {
        let what = match gone {
            true => format!("{} no longer held it", record.holder),
            false => format!("cancelled on {}", record.holder),
        };
        eprintln!("chime: dropped {id} ({}): {what}", record.destination);
    }
    Ok(())
}

/// Sends the one request that cancels a message, with the destination's
/// own client settings, and gives how it fared.
fn send_one(
    destination: &crate::config::Destination,
    payload: crate::kinds::Payload,
    timeout: Option<std::time::Duration>,
    output: Output,
) -> Result<deliver::Report, Failure> {
    let runtime = deliver::runtime()?;
    let clients = deliver::Clients::showing(output);
    let timeout = timeout.unwrap_or(crate::config::DEFAULT_TIMEOUT);
    let job = Job::alone(destination, vec![payload], timeout);
    Ok(runtime.block_on(deliver::deliver_one(&clients, job, output.verbose)))
}
