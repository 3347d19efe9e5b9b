//! Messages a platform holds to post later (Slack's chat.scheduleMessage),
//! remembered so that `chime spool list` can show them and `chime spool
//! drop` cancel them.
//!
//! One small JSON file per message under `<profile>/scheduled/<destination>/`,
//! named by an id made as spool ids are (and shown as they are, by
//! `spool::short_id`), written atomically. A record says where the platform
//! holds the message (channel and its id there) and when it posts; once that
//! moment is past there is nothing left to cancel, and the record is
//! forgotten the next time the records are read. The platform, not this
//! record, holds the message: losing a record loses only the means to cancel
//! it from chime. Only messages that can be cancelled are recorded.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::spool::{Spool, SpoolError, fs};

/// A record is a few ids: a file bigger than this is not one.
const MAX_RECORD_BYTES: u64 = 16 << 10;

/// One message a platform holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// chime's id for it, as spool ids are made.
    pub id: String,
    pub destination: String,
    /// Where the platform holds it, and its id there.
    pub channel: String,
    pub scheduled_message_id: String,
    /// When it posts, and when it was scheduled, in seconds since the epoch.
    pub post_at: u64,
    pub created: u64,
    /// Who holds it, for people: "Slack".
    pub holder: String,
    /// Who took it (`config::Destination::identity`): only the same
    /// destination, with the same credentials, may cancel it.
    #[serde(default)]
    pub identity: String,
}

/// The records of one profile.
pub struct Scheduled {
    root: PathBuf,
}

impl Scheduled {
    /// The records kept in the state directory that holds `spool`.
    pub fn beside(spool: &Spool) -> Scheduled {
        let state_dir = spool.root().parent().unwrap_or(spool.root());
        Scheduled {
            root: state_dir.join("scheduled"),
        }
    }

    fn dir(&self, destination: &str) -> PathBuf {
        self.root.join(fs::dir_name(destination))
    }

    pub fn add(&self, record: &Record) -> Result<(), SpoolError> {
        let dir = self.dir(&record.destination);
        fs::create_private_dir(&self.root)?;
        fs::create_private_dir(&dir)?;
        let json = serde_json::to_vec(record).expect("a record always serialises");
        fs::write_atomic(&dir, &fs::json_file_name(&record.id), &json)
    }

    pub fn remove(&self, record: &Record) -> Result<(), SpoolError> {
        let dir = self.dir(&record.destination);
        fs::remove_durably(&dir, &fs::json_file_name(&record.id))
    }

    /// Every record still to post at `now`, soonest first; those past are
    /// forgotten, and a file that is not a record is left alone, unread.
    pub fn list(&self, now: u64) -> Vec<Record> {
        let mut records = Vec::new();
        let destinations = fs::list(&self.root).unwrap_or_default();
        for destination in destinations {
            let dir = self.root.join(&destination);
            for name in fs::list(&dir).unwrap_or_default() {
                let Ok(bytes) = fs::read_bounded(&dir.join(&name), MAX_RECORD_BYTES) else {
                    continue;
                };
                let Ok(record) = serde_json::from_slice::<Record>(&bytes) else {
                    continue;
                };
                match record.post_at <= now {
                    true => drop(fs::remove_durably(&dir, &name)),
                    false => records.push(record),
                }
            }
        }
        records.sort_by(|a, b| (a.post_at, &a.id).cmp(&(b.post_at, &b.id)));
        records
    }

    /// The records whose shown id starts with `prefix`.
    pub fn find(&self, prefix: &str, now: u64) -> Vec<Record> {
        let prefix = prefix.to_ascii_lowercase();
        let shown = |r: &Record| crate::spool::short_id(&r.id).starts_with(&prefix);
        self.list(now).into_iter().filter(shown).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, post_at: u64) -> Record {
        Record {
            id: id.into(),
            destination: "slack-ops".into(),
            channel: "C0DEPLOYS".into(),
            scheduled_message_id: "Q123".into(),
            post_at,
            created: 1,
            holder: "Slack".into(),
            identity: String::new(),
        }
    }

    #[test]
    fn a_record_is_listed_until_it_posts_then_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::at(dir.path().join("spool"), "config".into());
        let scheduled = Scheduled::beside(&spool);
        scheduled.add(&record("a1", 100)).unwrap();
        scheduled.add(&record("b2", 50)).unwrap();
        let ids: Vec<_> = scheduled.list(10).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["b2", "a1"]);
        assert_eq!(scheduled.list(60), [record("a1", 100)]);
        assert_eq!(scheduled.list(10), [record("a1", 100)], "b2 is forgotten");
        let shown = crate::spool::short_id("a1");
        assert_eq!(scheduled.find(&shown[..4], 10).len(), 1);
        scheduled.remove(&record("a1", 100)).unwrap();
        assert!(scheduled.list(10).is_empty());
    }
}
