//! What the `chime ask`s of one machine share about one bot, for platforms
//! where only one process may listen at a time (Telegram's `getUpdates`).
//!
//! Under `<profile>/asks/<destination identity>/`:
//!
//! - `<nonce>.question`: an open question, written by the ask that posted
//!   it: whoever polls judges its clicks by what it says (who may answer,
//!   what each option is called);
//! - `<nonce>.answer`: its answer, written by whoever polled it, once (the
//!   first answer wins: it is created, never replaced);
//! - `<nonce>.lock`: held by the ask that posted it for as long as it
//!   waits, taken before the question is written: a question whose lock is
//!   free is a killed ask's;
//! - `<nonce>.closed`: the tombstone of a question whose wait has ended,
//!   written before anything else is removed, so that a late click on it (a
//!   second tap before the keyboard went) is known as one on an ended
//!   question rather than on one not written yet or another machine's;
//! - `.poll`: the lock whose holder polls for all of them, `.offset`, the
//!   first update the next poll asks for, so that a new poller takes up
//!   where the last one stopped, and `.held`, when the poll first held back
//!   each update it could not place, so that no later poller holds it
//!   longer than the first would have.
//!
//! The ask that owns a question writes its tombstone and removes the rest
//! when its wait ends. A killed ask's question is found so by the first
//! click on it, which is told no one is waiting, and retired the same way.
//! Tombstones are a few bytes; each close removes those older than any
//! update that could still name their question.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::spool::lock::FileLock;
use crate::spool::{Spool, SpoolError, fs};

/// A record is a few ids and labels: a bigger file is not one.
const MAX_RECORD_BYTES: u64 = 64 << 10;
/// How long a tombstone is kept: Telegram keeps an unconfirmed update 24 h,
/// so no click on the question can come later.
const TOMBSTONE_LIFE: Duration = Duration::from_secs(48 * 3600);

/// Where a question stands, for whoever polls.
#[derive(Debug, PartialEq)]
pub enum Standing<T> {
    /// Open, its ask waiting for an answer.
    Open(T),
    /// Its ask has ended, or was killed: no one will hear an answer.
    Ended,
    /// Not known here: another machine's, or one being written.
    Unknown,
}

pub struct Asks {
    dir: PathBuf,
}

impl Asks {
    /// The shared records of the bot `identity` names, in the state
    /// directory that holds `spool`.
    pub fn beside(spool: &Spool, identity: &str) -> Asks {
        let state_dir = spool.root().parent().unwrap_or(spool.root());
        Asks {
            dir: state_dir.join("asks").join(fs::dir_name(identity)),
        }
    }

    #[cfg(test)]
    pub fn at(dir: PathBuf) -> Asks {
        Asks { dir }
    }

    /// Records an open question; the lock returned says its ask waits, and
    /// is kept until [`Asks::close`].
    pub fn open(&self, nonce: &str, question: &impl Serialize) -> Result<FileLock, SpoolError> {
        fs::create_private_dir(&self.dir)?;
        let path = self.dir.join(format!("{nonce}.lock"));
        let waiting = FileLock::try_at(&path)?
            .ok_or_else(|| SpoolError::io("lock", &path, std::io::ErrorKind::WouldBlock.into()))?;
        let bytes = serde_json::to_vec(question).expect("a record serialises");
        fs::write_atomic(&self.dir, &format!("{nonce}.question"), &bytes)?;
        Ok(waiting)
    }

    /// Where question `nonce` stands. A killed ask's is retired on the way.
    pub fn standing<T: DeserializeOwned>(&self, nonce: &str) -> Standing<T> {
        if self.dir.join(format!("{nonce}.closed")).exists() {
            return Standing::Ended;
        }
        let Some(question) = self.read(&format!("{nonce}.question")) else {
            return Standing::Unknown;
        };
        // A chime from before these locks writes none: its question is
        // taken as waiting, as it was then.
        let lock = self.dir.join(format!("{nonce}.lock"));
        if lock.exists()
            && let Ok(Some(_free)) = FileLock::try_at(&lock)
        {
            self.close(nonce);
            return Standing::Ended;
        }
        Standing::Open(question)
    }

    /// Its answer, once someone recorded one.
    pub fn answer<T: DeserializeOwned>(&self, nonce: &str) -> Option<T> {
        self.read(&format!("{nonce}.answer"))
    }

    /// Records `answer` unless the question has one already; whether it did.
    pub fn settle(&self, nonce: &str, answer: &impl Serialize) -> Result<bool, SpoolError> {
        let name = format!("{nonce}.answer");
        if self.dir.join(&name).exists() {
            return Ok(false);
        }
        let bytes = serde_json::to_vec(answer).expect("a record serialises");
        // Written aside, then linked into place: a link fails if the name
        // exists, so two pollers never both settle one question.
        let (temp, mut file) = fs::create_temp(&self.dir, &name)?;
        if let Err(err) = std::io::Write::write_all(&mut file, &bytes) {
            let _ = std::fs::remove_file(&temp);
            return Err(SpoolError::io("write", &temp, err));
        }
        let linked = std::fs::hard_link(&temp, self.dir.join(&name));
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(err) => Err(SpoolError::io("write", &self.dir.join(&name), err)),
        }
    }

    /// Marks the question ended, then forgets it and its answer; tombstones
    /// old enough that no click can name their question go too.
    pub fn close(&self, nonce: &str) {
        let _ = fs::write_quick(&self.dir, &format!("{nonce}.closed"), b"");
        for suffix in ["question", "answer", "lock"] {
            let _ = std::fs::remove_file(self.dir.join(format!("{nonce}.{suffix}")));
        }
        self.prune_tombstones();
    }

    fn prune_tombstones(&self) {
        let Ok(names) = fs::names(&self.dir) else {
            return;
        };
        // Against the files' own clock, the system's, not `clock::now`.
        let now = std::time::SystemTime::now();
        for name in names.filter(|n| n.ends_with(".closed")) {
            let path = self.dir.join(&name);
            let age = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|at| now.duration_since(at).ok());
            if age.is_some_and(|age| age > TOMBSTONE_LIFE) {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// The turn to poll, if no other ask of this machine has it.
    pub fn take_turn(&self) -> Result<Option<FileLock>, SpoolError> {
        fs::create_private_dir(&self.dir)?;
        FileLock::try_at(&self.dir.join(".poll"))
    }

    /// Where the next poll starts (0: wherever the platform is).
    pub fn offset(&self) -> i64 {
        self.read(".offset").unwrap_or(0)
    }

    /// Notes where the next poll starts; a lost note costs a repeat of
    /// updates already handled, which are handled once anyway.
    pub fn set_offset(&self, offset: i64) {
        let _ = fs::write_quick(&self.dir, ".offset", offset.to_string().as_bytes());
    }

    /// The updates held back for a question not known here, each with
    /// when (epoch seconds) a poll first held it.
    pub fn held(&self) -> BTreeMap<i64, u64> {
        self.read(".held").unwrap_or_default()
    }

    /// Notes the updates held back; a lost note costs a longer hold.
    pub fn set_held(&self, held: &BTreeMap<i64, u64>) {
        let bytes = serde_json::to_vec(held).expect("a map serialises");
        let _ = fs::write_quick(&self.dir, ".held", &bytes);
    }

    fn read<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        let bytes = fs::read_bounded(&self.dir.join(name), MAX_RECORD_BYTES).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asks() -> (tempfile::TempDir, Asks) {
        let dir = tempfile::tempdir().unwrap();
        let asks = Asks::at(dir.path().join("bot"));
        (dir, asks)
    }

    const NONCE: &str = "0123456789abcdef";

    #[test]
    fn a_question_is_unknown_until_written_open_while_its_ask_waits_and_ended_once_closed() {
        let (_dir, asks) = asks();
        assert_eq!(asks.standing::<u32>(NONCE), Standing::Unknown);
        let waiting = asks.open(NONCE, &7u32).unwrap();
        assert_eq!(asks.standing::<u32>(NONCE), Standing::Open(7));
        asks.close(NONCE);
        drop(waiting);
        assert_eq!(asks.standing::<u32>(NONCE), Standing::Ended);
    }

    #[test]
    fn a_killed_asks_question_is_ended_and_retired() {
        let (_dir, asks) = asks();
        let waiting = asks.open(NONCE, &7u32).unwrap();
        asks.settle(NONCE, &1u32).unwrap();
        drop(waiting);
        assert_eq!(asks.standing::<u32>(NONCE), Standing::Ended);
        assert_eq!(asks.answer::<u32>(NONCE), None);
        assert_eq!(asks.standing::<u32>(NONCE), Standing::Ended);
    }

    #[test]
    fn a_close_removes_tombstones_older_than_any_click_that_could_name_them() {
        let (_dir, asks) = asks();
        let old = "00000000000000aa";
        drop(asks.open(old, &1u32).unwrap());
        asks.close(old);
        let three_days = std::time::Duration::from_secs(3 * 24 * 3600);
        let tombstone = std::fs::File::options()
            .write(true)
            .open(asks.dir.join(format!("{old}.closed")))
            .unwrap();
        let then = std::time::SystemTime::now() - three_days;
        tombstone.set_modified(then).unwrap();
        let waiting = asks.open(NONCE, &7u32).unwrap();
        asks.close(NONCE);
        drop(waiting);
        assert_eq!(asks.standing::<u32>(old), Standing::Unknown);
        assert_eq!(asks.standing::<u32>(NONCE), Standing::Ended);
    }

    #[test]
    fn held_updates_are_read_back_as_noted() {
        let (_dir, asks) = asks();
        fs::create_private_dir(&asks.dir).unwrap();
        assert!(asks.held().is_empty());
        let held = BTreeMap::from([(41, 1_000), (-1, 2)]);
        asks.set_held(&held);
        assert_eq!(asks.held(), held);
    }
}
