//! Reading the spool to show it (`chime spool list`), in constant memory
//! whatever its size: a destination's folder is listed once, by name, and its
//! entries are then read one at a time, as outlines ([`Outline`]: no
//! payloads kept), each dropped before the next is read. What a listing holds
//! is the names of the folders it walks — about 60 bytes an entry — never
//! their contents.
//!
//! Reading for a listing follows invariant 5 of `spool/mod.rs` as a drain's
//! reading does: a damaged or unreadable entry is quarantined with the reason,
//! never shown and never a panic. A message in flight is shown but never
//! quarantined: its sender may still be writing it.

use super::inflight::SENDING;
use super::{Outline, Read, Spool, SpoolError, State, fs};

/// What a file in a destination's folder is to a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `<id>.sending`: a message on its way (`inflight.rs`). First of the
    /// two when a settle leaves both names for a moment, as it is the older.
    InFlight,
    /// `<id>.msg`: an entry.
    Queued,
}

/// One file a listing will read, by id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name {
    pub id: String,
    pub kind: Kind,
}

impl Spool {
    /// What `destination`'s folder in `state` holds, oldest first: its
    /// entries and, when pending, its messages in flight. One listing of the
    /// folder; nothing is read.
    pub fn names(&self, state: State, destination: &str) -> Result<Vec<Name>, SpoolError> {
        let dir = self.checked_dir(state, destination)?;
        let mut names: Vec<Name> = fs::list(&dir)?
            .into_iter()
            .filter_map(|file| {
                let (id, kind) = match file.strip_suffix(".msg") {
                    Some(id) => (id, Kind::Queued),
                    None if state == State::Pending => {
                        (file.strip_suffix(SENDING)?, Kind::InFlight)
                    }
                    None => return None,
                };
                Some(Name {
                    id: id.to_owned(),
                    kind,
                })
            })
            .collect();
        names.sort_unstable();
        Ok(names)
    }

    /// Reads the entry `id` of `destination` in `state` as an outline,
    /// quarantining it when it is damaged or unreadable (invariant 5), as
    /// [`Spool::read`] does. `None` when it has gone since it was listed.
    pub fn read_outline(
        &self,
        state: State,
        destination: &str,
        id: &str,
    ) -> Result<Option<Read<Outline>>, SpoolError> {
        let path = self
            .checked_dir(state, destination)?
            .join(format!("{id}.msg"));
        let why = match fs::read_bounded(&path, super::MAX_ENTRY_BYTES) {
            Err(fs::Unreadable::Missing) => return Ok(None),
            Err(fs::Unreadable::Transient(err)) => return Err(SpoolError::io("read", &path, err)),
            Err(fs::Unreadable::Unusable(why)) => why,
            Ok(bytes) => match Outline::decode(&bytes) {
                Ok(o) if o.id == id && o.destination == destination => {
                    return Ok(Some(Read::Entry(o)));
                }
                Ok(_) => "its contents do not match its name".to_owned(),
                Err(why) => why,
            },
        };
        Ok(Some(self.quarantine(&path, destination, id, why)))
    }
}
