//! One spool entry and its on-disk encoding (see the format in `spool/mod.rs`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::kinds::Payload;

const MAGIC: &str = "chime-spool";
const VERSION: u32 = 1;

/// A message for one destination, waiting in the spool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// The destination's name in the profile; never its URL or token.
    pub destination: String,
    #[serde(with = "millis")]
    pub created: SystemTime,
    pub attempts: u32,
    #[serde(with = "millis")]
    pub next_attempt: SystemTime,
    pub last_error: Option<String>,
    /// How many parts the message had when it was first rendered.
    pub parts: usize,
    /// The parts still to send, in order.
    pub payloads: Vec<Payload>,
    /// Who accepted it: a hash of the destination's kind and address when it
    /// was queued (see `config::Destination::identity`), so that a profile
    /// whose `ops-hook` now points elsewhere never delivers it there. Absent
    /// in entries from before it was kept, and once `chime spool retry` has
    /// accepted the destination as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

impl Entry {
    /// A new entry for `destination`: not tried yet, due now.
    pub fn new(destination: &str, payloads: Vec<Payload>, parts: usize) -> Entry {
        let now = SystemTime::now();
        Entry {
            id: super::fs::new_id(now),
            destination: destination.to_owned(),
            created: now,
            attempts: 0,
            next_attempt: now,
            last_error: None,
            parts,
            payloads,
            identity: None,
        }
    }

    pub fn file_name(&self) -> String {
        format!("{}.msg", self.id)
    }

    pub fn encode(&self) -> Vec<u8> {
        let json = serde_json::to_string(self).expect("an entry always serialises");
        let crc = crc32fast::hash(json.as_bytes());
        format!("{MAGIC} {VERSION} {crc:08x} {}\n{json}", json.len()).into_bytes()
    }

    /// Decodes a spool file, or says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<Entry, String> {
        let newline = bytes
            .iter()
            .position(|b| *b == b'\n')
            .ok_or("no header line")?;
        let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| "header is not text")?;
        let rest = &bytes[newline + 1..];
        let fields: Vec<&str> = header.split(' ').collect();
        // What a damaged file holds is never shown: it may be anything, a
        // secret among it, when the file is not chime's at all.
        let [magic, version, crc, len] = fields[..] else {
            return Err("bad header line".into());
        };
        if magic != MAGIC {
            return Err("not a chime spool file".into());
        }
        if version != VERSION.to_string() {
            let version: String = version
                .chars()
                .filter(char::is_ascii_digit)
                .take(9)
                .collect();
            return Err(format!(
                "spool format version {version}, this chime reads {VERSION}"
            ));
        }
        let len: usize = len.parse().map_err(|_| "bad length")?;
        if rest.len() != len {
            return Err(format!(
                "truncated or extended: {} bytes, expected {len}",
                rest.len()
            ));
        }
        let crc = u32::from_str_radix(crc, 16).map_err(|_| "bad checksum field")?;
        if crc32fast::hash(rest) != crc {
            return Err("checksum mismatch".into());
        }
        let entry: Entry = serde_json::from_slice(rest).map_err(|e| {
            // serde_json quotes what it did not expect; say only where.
            format!("undecodable at line {} column {}", e.line(), e.column())
        })?;
        for time in [entry.created, entry.next_attempt] {
            if time > latest() {
                return Err("a time after the year 9999".into());
            }
        }
        Ok(entry)
    }

    /// True when the entry may be tried now.
    pub fn is_due(&self, now: SystemTime) -> bool {
        self.next_attempt <= now
    }

    pub fn age(&self, now: SystemTime) -> Duration {
        now.duration_since(self.created).unwrap_or_default()
    }
}

/// The last moment dates are written for (RFC 3339 stops at 9999): an entry
/// that claims a later one is damaged, not a reason to panic.
fn latest() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(253_402_300_799)
}

/// Milliseconds since the epoch, a number any tool can read.
mod millis {
    use super::*;

    pub fn serialize<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let ms = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        s.serialize_u64(ms)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let ms = u64::deserialize(d)?;
        UNIX_EPOCH
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| serde::de::Error::custom("a time out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            id: "0000000000010000000a0001".into(),
            destination: "ops-hook".into(),
            created: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            attempts: 2,
            next_attempt: UNIX_EPOCH + Duration::from_millis(1_700_000_060_000),
            last_error: Some("503 Service Unavailable".into()),
            parts: 1,
            payloads: vec![Payload::json(&serde_json::json!({"text": "hi"}))],
            identity: Some("0123456789abcdef".into()),
        }
    }

    #[test]
    fn an_entry_survives_encoding() {
        let e = entry();
        assert_eq!(Entry::decode(&e.encode()).unwrap(), e);
    }

    #[test]
    fn truncated_extended_and_flipped_files_are_refused() {
        let bytes = entry().encode();
        assert!(
            Entry::decode(&bytes[..bytes.len() - 3])
                .unwrap_err()
                .contains("truncated")
        );
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"garbage");
        assert!(Entry::decode(&longer).is_err());
        let mut flipped = bytes.clone();
        let last = flipped.len() - 5;
        flipped[last] ^= 0x20;
        assert_eq!(Entry::decode(&flipped).unwrap_err(), "checksum mismatch");
        assert!(Entry::decode(b"").is_err());
        assert!(Entry::decode(b"something else\n{}").is_err());
    }

    #[test]
    fn a_damaged_file_is_described_without_quoting_it() {
        let why = Entry::decode(b"https://hooks.example/SECRET\nmore").unwrap_err();
        assert!(!why.contains("SECRET"), "{why}");
        let json = br#"{"id": "SECRET"}"#;
        let crc = crc32fast::hash(json);
        let file = [
            format!("chime-spool 1 {crc:08x} {}\n", json.len()).as_bytes(),
            json,
        ]
        .concat();
        let why = Entry::decode(&file).unwrap_err();
        assert!(!why.contains("SECRET"), "{why}");
    }

    #[test]
    fn a_time_past_the_year_9999_is_damage_not_a_panic() {
        let mut e = entry();
        e.created = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert!(Entry::decode(&e.encode()).unwrap_err().contains("9999"));
    }
}
