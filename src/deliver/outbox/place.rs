//! Where a message is while the outbox has it: its place in its
//! destination's order, and where it is kept should it not go.

use crate::spool::{InFlight, State};

/// A message's place in its destination's order, taken before anything is
/// awaited, so that whatever becomes of it, it keeps that place.
pub enum Place {
    /// On disk in flight (`spool/inflight.rs`): a kill loses nothing.
    OnDisk(InFlight),
    /// Only an id, for a message something else keeps safe meanwhile (a
    /// stream's journal): should it have to be kept, it is kept under it.
    Reserved(String),
    /// Nowhere: `--no-spool`, or a disk that would not take it.
    None,
}

impl Place {
    pub(super) fn id(&self) -> Option<&str> {
        match self {
            Place::OnDisk(journal) => Some(journal.id()),
            Place::Reserved(id) => Some(id),
            Place::None => None,
        }
    }
}

/// Where and how [`super::Outbox`] keeps a message.
pub(super) struct Kept<'n> {
    pub state: State,
    pub place: Place,
    /// Called the moment the entry is on disk.
    pub noted: Option<&'n mut dyn FnMut()>,
}

impl Kept<'_> {
    pub fn new(state: State, place: Place) -> Kept<'static> {
        Kept {
            state,
            place,
            noted: None,
        }
    }
}

impl From<Option<InFlight>> for Place {
    fn from(journal: Option<InFlight>) -> Place {
        journal.map_or(Place::None, Place::OnDisk)
    }
}
