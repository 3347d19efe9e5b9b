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
//! - `.poll`: the lock whose holder polls for all of them, and `.offset`,
//!   the first update the next poll asks for, so that a new poller takes up
//!   where the last one stopped.
//!
//! The ask that owns a question removes both files when its wait ends. A
//! killed ask leaves them behind; they are a few hundred bytes, and a later
//! click on that question finds no one waiting and is told so.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::spool::lock::FileLock;
use crate::spool::{Spool, SpoolError, fs};

/// A record is a few ids and labels: a bigger file is not one.
const MAX_RECORD_BYTES: u64 = 64 << 10;

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

    /// Records an open question.
    pub fn open(&self, nonce: &str, question: &impl Serialize) -> Result<(), SpoolError> {
        fs::create_private_dir(&self.dir)?;
        let bytes = serde_json::to_vec(question).expect("a record serialises");
        fs::write_atomic(&self.dir, &format!("{nonce}.question"), &bytes)
    }

    /// The open question `nonce`, if it is one of this machine's.
    pub fn question<T: DeserializeOwned>(&self, nonce: &str) -> Option<T> {
        self.read(&format!("{nonce}.question"))
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

    /// Forgets the question and its answer.
    pub fn close(&self, nonce: &str) {
        for suffix in ["question", "answer"] {
            let _ = std::fs::remove_file(self.dir.join(format!("{nonce}.{suffix}")));
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

    fn read<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        let bytes = fs::read_bounded(&self.dir.join(name), MAX_RECORD_BYTES).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}
