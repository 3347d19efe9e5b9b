//! This stream's batches in the spool: what the summary counts at the end
//! and what makes the stream "queued". One small record per batch while it
//! is in the spool, forgotten once it leaves: a pipe that runs for days
//! behind a down destination holds 16 bytes for each batch of some 40 KB
//! the spool holds for it (0.04 %), and nothing for what went out.
//!
//! A drain goes oldest first and stops where it cannot go on: every entry
//! older than the oldest one still pending has left the spool (delivered,
//! or dead-lettered), and none after it has. So one look at the oldest
//! pending id tells which of this stream's batches are gone, without
//! listing the backlog.

use std::collections::VecDeque;

/// A spool id (24 hex digits: milliseconds, process, counter) in 12 bytes,
/// ordered as the id is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Id([u8; 12]);

impl Id {
    pub(super) fn parse(id: &str) -> Option<Id> {
        let mut bytes = [0u8; 12];
        if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&id[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Id(bytes))
    }

    /// The id as the spool writes it.
    pub(super) fn text(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// This stream's batches in the spool, oldest first, with their lines.
#[derive(Default)]
pub(super) struct Kept(VecDeque<(Id, u32)>);

impl Kept {
    /// A batch of `lines` lines is in the spool under `id`. In id order: a
    /// batch in flight took its id before those spilled behind it, and may
    /// be kept after them.
    pub(super) fn add(&mut self, id: &str, lines: usize) {
        let Some(id) = Id::parse(id) else {
            return;
        };
        let lines = u32::try_from(lines).unwrap_or(u32::MAX);
        let at = self.0.partition_point(|(kept, _)| *kept < id);
        self.0.insert(at, (id, lines));
    }

    /// Forgets the batches older than `oldest`, the oldest id still pending
    /// (`None`: nothing is), and gives them.
    pub(super) fn gone_before(&mut self, oldest: Option<Id>) -> Vec<Id> {
        let gone = match oldest {
            Some(oldest) => self.0.partition_point(|(id, _)| *id < oldest),
            None => self.0.len(),
        };
        self.0.drain(..gone).map(|(id, _)| id).collect()
    }

    /// How many batches, and how many lines in them.
    pub(super) fn count(&self) -> (usize, usize) {
        let lines = self.0.iter().map(|&(_, lines)| lines as usize).sum();
        (self.0.len(), lines)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_as_the_spool_orders_them_and_read_back() {
        let a = "019ad2c3e4f5000030390001";
        let b = "019ad2c3e4f5000030390002";
        let c = "019ad2c3e4f6000000010000";
        let (ia, ib, ic) = (
            Id::parse(a).unwrap(),
            Id::parse(b).unwrap(),
            Id::parse(c).unwrap(),
        );
        assert!(ia < ib && ib < ic);
        assert_eq!(ia.text(), a);
        assert_eq!(Id::parse("not-an-id-of-24-letters!"), None);
        assert_eq!(Id::parse("019ad2c3e4f500003039"), None);
    }

    #[test]
    fn batches_older_than_the_oldest_pending_are_gone() {
        let mut kept = Kept::default();
        kept.add("000000000000000000000002", 20);
        kept.add("000000000000000000000003", 30);
        // The batch in flight, kept after those spilled behind it.
        kept.add("000000000000000000000001", 10);
        assert_eq!(kept.count(), (3, 60));
        let gone = kept.gone_before(Id::parse("000000000000000000000003"));
        assert_eq!(gone.len(), 2);
        assert_eq!(kept.count(), (1, 30));
        assert_eq!(kept.gone_before(None).len(), 1);
        assert!(kept.is_empty());
    }
}
