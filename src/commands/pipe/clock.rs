//! The stream's two clocks: time as a send sees it ([`Work`], so that what
//! the main loop spends on its own work is not blamed on a destination),
//! and when each lane's time is up at the end of the stream ([`Ending`]).

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::lane::Lane;

/// Time as a send sees it. The main loop's own work (packing lines,
/// rendering and spooling batches) is synchronous, and while it runs no
/// request is polled: what it took is counted here and left out of what a
/// send, or an entry of the spool, seems to take, so that a disk slow to
/// take spilled batches is not called a slow destination.
#[derive(Default)]
pub(super) struct Work(Cell<Duration>);

/// A moment, on the wall and in the loop's work.
#[derive(Clone, Copy)]
pub(super) struct Mark {
    pub(super) at: Instant,
    work: Duration,
}

impl Work {
    pub(super) fn mark(&self) -> Mark {
        self.mark_at(Instant::now())
    }

    pub(super) fn mark_at(&self, at: Instant) -> Mark {
        Mark {
            at,
            work: self.0.get(),
        }
    }

    /// Counts the loop's work since `since`.
    pub(super) fn done_since(&self, since: Instant) {
        self.0.set(self.0.get() + since.elapsed());
    }

    /// What the sends have had since `mark`.
    pub(super) fn since(&self, mark: Mark) -> Duration {
        let worked = self.0.get().saturating_sub(mark.work);
        mark.at.elapsed().saturating_sub(worked)
    }
}

/// When each lane's time is up at the end of the stream.
#[derive(Clone, Copy)]
pub(super) struct Ending {
    /// A signal came: every lane's time is up at this deadline.
    pub(super) stopping: Option<Instant>,
    /// The input ended then.
    pub(super) input: Option<Instant>,
    /// How long a lane whose destination is not taking batches still has
    /// after the input ended (`--timeout`, else the default); after a
    /// signal, how long every lane has.
    pub(super) grace: Duration,
}

impl Ending {
    /// When what `lane` still holds goes to the spool. After a signal: the
    /// stopping deadline. After EOF: one grace after the destination stopped
    /// taking batches (or after EOF, if that was earlier), its retries due
    /// within it tried; never while it takes them, however slowly: a working
    /// destination gets every batch, its spooled ones included, at the pace
    /// it can take them.
    pub(super) fn deadline(&self, lane: &Lane) -> Option<Instant> {
        self.stopping.or_else(|| {
            let ended = self.input?;
            lane.failing.map(|since| since.max(ended) + self.grace)
        })
    }
}
