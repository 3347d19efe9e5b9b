//! `chime pipe --dry-run`: the stream read, routed and packed as it would
//! be, each batch printed as the requests it would make (secrets redacted)
//! the moment it closes — when full, `--interval` after its first line, or
//! at the end of the input. Nothing is sent, spooled or journaled, so the
//! destinations' pace and health play no part.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::commands::outcome;
use crate::exit::{ExitCode, Failure};
use crate::settings::Pipe;
use crate::spool::Spool;
use crate::stream::journal::Header;

use super::moves::render;
use super::router::Router;

pub(super) async fn run(pipe: &Pipe) -> Result<ExitCode, Failure> {
    let mut router = Router::new(pipe)?;
    let header = router.header();
    let (mut rx, _reader) = super::start_reader(pipe, &header, &Arc::new(Mutex::new(None)));
    loop {
        let wake = router
            .next_wakeup(pipe.interval)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            chunk = rx.recv() => match chunk {
                Some(chunk) => router.ingest(chunk),
                None => {
                    router.close_all();
                    print_closed(&header, &pipe.spool, &mut router)?;
                    return Ok(ExitCode::Ok);
                }
            },
            () = tokio::time::sleep_until(wake.into()) => {}
        }
        router.close_due(pipe.interval, Instant::now());
        print_closed(&header, &pipe.spool, &mut router)?;
    }
}

/// Prints every closed batch, and forgets it.
fn print_closed(header: &Header, spool: &Spool, router: &mut Router) -> Result<(), Failure> {
    for lane in &mut router.lanes {
        while let Some((batch, ticket)) = lane.take() {
            let (payloads, scratch) = render(header, spool, lane, batch);
            outcome::dry_run(&[(lane.destination, payloads)], false)?;
            if let Some(scratch) = scratch {
                let _ = std::fs::remove_file(scratch);
            }
            lane.settle(ticket);
        }
    }
    Ok(())
}
