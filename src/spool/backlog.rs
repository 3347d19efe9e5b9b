//! A destination's backlog as a drain and a send see it, without holding
//! it: whether anything waits, how much, the oldest ids a slice at a time,
//! and the `.due` hint, which lets a send behind a backlog that is not due
//! queue after one read (see "`.due`" in `spool/mod.rs`). Each costs one pass
//! over the destination's folder at most, in constant memory.

use std::time::{Duration, SystemTime};

use super::inflight::SENDING;
use super::{Spool, SpoolError, State, fs};

/// Where a drain notes when a destination's oldest pending entry is due.
const DUE_FILE: &str = ".due";

impl Spool {
    /// True when `destination` has pending entries, or messages in flight
    /// whose sender died, other than `own` (see `inflight.rs`).
    pub fn has_pending(&self, destination: &str, own: Option<&str>) -> bool {
        let Ok(dir) = self.checked_dir(State::Pending, destination) else {
            return false;
        };
        // Asked before every message a stream sends: an entry ends the
        // listing, so only a folder of messages in flight is read whole.
        let Ok(names) = fs::names(&dir) else {
            return false;
        };
        let mut sending = Vec::new();
        for name in names {
            if name.ends_with(".msg") {
                return true;
            }
            sending.push(name);
        }
        self.has_orphans(&dir, &sending, own)
    }

    /// How many entries `destination` has, counted without holding their
    /// names; pending ones include those in flight, whose sender may have
    /// died: a flush must look at a destination that has only such a one.
    pub fn count(&self, state: State, destination: &str) -> Result<usize, SpoolError> {
        let names = fs::names(&self.checked_dir(state, destination)?)?;
        let counted = |name: &String| {
            name.ends_with(".msg") || (state == State::Pending && name.ends_with(SENDING))
        };
        Ok(names.filter(counted).count())
    }

    /// The oldest `limit` of `destination`'s pending ids after `after` and
    /// before `before` (either bound open when `None`), oldest first, and
    /// how many more lie in that range: one pass over the directory holding
    /// at most `limit` ids, so that a drain of any backlog stays in constant
    /// memory, taking it a slice at a time.
    pub fn ids_between(
        &self,
        destination: &str,
        after: Option<&str>,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, usize), SpoolError> {
        let dir = self.checked_dir(State::Pending, destination)?;
        let mut oldest = std::collections::BinaryHeap::with_capacity(limit + 1);
        let mut more = 0;
        for name in fs::names(&dir)? {
            let Some(id) = name.strip_suffix(".msg") else {
                continue;
            };
            if after.is_some_and(|a| id <= a) || before.is_some_and(|b| id >= b) {
                continue;
            }
            // A max-heap of the `limit` smallest: the largest is dropped.
            oldest.push(id.to_owned());
            if oldest.len() > limit {
                oldest.pop();
                more += 1;
            }
        }
        Ok((oldest.into_sorted_vec(), more))
    }

    /// When `destination`'s oldest pending entry is next due, as the last
    /// drain left it (`.due`), if that drain saw the destination as
    /// `identity`: read in constant time, so that a send behind a backlog
    /// that is not due need not list the backlog. `None` when no drain said,
    /// or the backlog changed since in a way the hint could not follow.
    pub fn due(&self, destination: &str, identity: &str) -> Option<SystemTime> {
        let path = self.dir(State::Pending, destination).join(DUE_FILE);
        let text = String::from_utf8(fs::read_bounded(&path, 256).ok()?).ok()?;
        let (ms, seen_as) = text.trim().split_once(' ')?;
        if seen_as != identity {
            return None;
        }
        std::time::UNIX_EPOCH.checked_add(Duration::from_millis(ms.parse().ok()?))
    }

    /// Notes when `destination`'s oldest pending entry is next due (a drain
    /// that stopped at it, seeing the destination as `identity`), or forgets
    /// it (`None`: none pending, or one due now). Only a hint, so not
    /// fsync'd: lost, the next send lists the backlog as it always could.
    pub fn note_due(&self, destination: &str, identity: &str, due: Option<SystemTime>) {
        let Some(due) = due else {
            self.forget_due(destination);
            return;
        };
        let Ok(dir) = self.checked_dir(State::Pending, destination) else {
            return;
        };
        let ms = due
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let _ = fs::write_quick(&dir, DUE_FILE, format!("{ms} {identity}").as_bytes());
    }

    /// Forgets the hint: entries were added ahead of it, revived, or dropped.
    pub fn forget_due(&self, destination: &str) {
        let path = self.dir(State::Pending, destination).join(DUE_FILE);
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::Entry;

    fn spool_of(count: usize) -> (tempfile::TempDir, Spool, Vec<String>) {
        let root = tempfile::tempdir().unwrap();
        let spool = Spool::at(root.path().join("spool"), "test".into());
        let ids = (0..count)
            .map(|_| {
                let entry = Entry::new("ops", Vec::new(), 1);
                spool.write(State::Pending, &entry).unwrap();
                entry.id
            })
            .collect();
        (root, spool, ids)
    }

    #[test]
    fn ids_between_walks_a_backlog_a_slice_at_a_time_oldest_first() {
        let (_root, spool, ids) = spool_of(10);
        let mut walked = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (slice, more) = spool.ids_between("ops", after.as_deref(), None, 3).unwrap();
            assert_eq!(more, ids.len() - walked.len() - slice.len());
            walked.extend(slice.iter().cloned());
            match slice.last() {
                Some(last) if more > 0 => after = Some(last.clone()),
                _ => break,
            }
        }
        assert_eq!(walked, ids);
    }

    #[test]
    fn ids_between_stops_short_of_its_upper_bound_and_counts_what_lies_before_it() {
        let (_root, spool, ids) = spool_of(6);
        let (slice, more) = spool.ids_between("ops", None, Some(&ids[4]), 2).unwrap();
        assert_eq!((slice, more), (ids[..2].to_vec(), 2));
        let (none, counted) = spool.ids_between("ops", Some(&ids[0]), None, 0).unwrap();
        assert!(none.is_empty());
        assert_eq!(counted, 5);
    }
}
