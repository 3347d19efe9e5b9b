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
    /// Every try, by any chime, over the entry's life.
    pub attempts: u32,
    /// The attempts spent before the last `chime spool retry`: `max_attempts`
    /// counts the tries since, so a retried entry gets its full allowance
    /// while `attempts` keeps its history.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retried_after: u32,
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
    /// Until when, and why, a held entry waits (`held.rs`); absent for
    /// every other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<super::Hold>,
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
            retried_after: 0,
            next_attempt: now,
            last_error: None,
            parts,
            payloads,
            identity: None,
            hold: None,
        }
    }

    pub fn file_name(&self) -> String {
        format!("{}.msg", self.id)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).expect("an entry always serialises");
        let crc = crc32fast::hash(&bytes);
        let header = format!("{MAGIC} {VERSION} {crc:08x} {}\n", bytes.len());
        // Into the JSON's own buffer: a large message is not held twice more.
        bytes.splice(0..0, header.into_bytes());
        bytes
    }

    /// Decodes a spool file, or says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<Entry, String> {
        let entry: Entry = decode_as(bytes)?;
        within_calendar([entry.created, entry.next_attempt])?;
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

/// An entry as `chime spool list` shows it: all but its payloads, which are
/// only counted. Reading one checks the file as [`Entry::decode`] does (its
/// header, checksum, every payload's shape, its dates), so what a list shows
/// is what a drain would send, and what it leaves out a drain would
/// quarantine too; but each payload is dropped as soon as it is read, so a
/// listing of 50,000 entries never holds more than one file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Outline {
    pub id: String,
    pub destination: String,
    #[serde(with = "millis")]
    pub created: SystemTime,
    pub attempts: u32,
    #[serde(with = "millis")]
    pub next_attempt: SystemTime,
    pub last_error: Option<String>,
    pub parts: usize,
    /// How many parts are still to send: the entry's `payloads`, counted.
    #[serde(rename = "payloads", deserialize_with = "count_payloads")]
    pub parts_left: usize,
    #[serde(default)]
    pub hold: Option<super::Hold>,
}

impl Outline {
    /// Decodes a spool file as [`Entry::decode`] would, keeping the outline.
    pub fn decode(bytes: &[u8]) -> Result<Outline, String> {
        let outline: Outline = decode_as(bytes)?;
        within_calendar([outline.created, outline.next_attempt])?;
        Ok(outline)
    }
}

impl From<&Entry> for Outline {
    fn from(entry: &Entry) -> Outline {
        Outline {
            id: entry.id.clone(),
            destination: entry.destination.clone(),
            created: entry.created,
            attempts: entry.attempts,
            next_attempt: entry.next_attempt,
            last_error: entry.last_error.clone(),
            parts: entry.parts,
            parts_left: entry.payloads.len(),
            hold: entry.hold.clone(),
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Counts a list of payloads, reading each as a [`Payload`] (so a malformed
/// one fails as it would in an entry) and dropping it at once.
fn count_payloads<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    struct Count;
    impl<'de> serde::de::Visitor<'de> for Count {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of payloads")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut count = 0;
            while seq.next_element::<Payload>()?.is_some() {
                count += 1;
            }
            Ok(count)
        }
    }
    d.deserialize_seq(Count)
}

/// A spool file's JSON, once its header, length and checksum are right,
/// read as `T`: an [`Entry`], or an [`Outline`] of one.
fn decode_as<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
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
    serde_json::from_slice(rest).map_err(|e| {
        // serde_json quotes what it did not expect; say only where.
        format!("undecodable at line {} column {}", e.line(), e.column())
    })
}

/// An entry that claims a time past [`latest`] is damaged.
fn within_calendar(times: [SystemTime; 2]) -> Result<(), String> {
    if times.iter().any(|time| *time > latest()) {
        return Err("a time after the year 9999".into());
    }
    Ok(())
}

/// The last moment dates are written for (RFC 3339 stops at 9999): an entry
/// that claims a later one is damaged, not a reason to panic.
fn latest() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(253_402_300_799)
}

/// Milliseconds since the epoch, a number any tool can read.
pub(super) mod millis {
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
            retried_after: 0,
            next_attempt: UNIX_EPOCH + Duration::from_millis(1_700_000_060_000),
            last_error: Some("503 Service Unavailable".into()),
            parts: 1,
            payloads: vec![Payload::json(&serde_json::json!({"text": "hi"}))],
            identity: Some("0123456789abcdef".into()),
            hold: None,
        }
    }

    #[test]
    fn an_entry_survives_encoding() {
        let e = entry();
        assert_eq!(Entry::decode(&e.encode()).unwrap(), e);
    }

    #[test]
    fn an_outline_is_the_entry_without_its_payloads() {
        let mut e = entry();
        e.payloads
            .push(Payload::json(&serde_json::json!({"text": "more"})));
        let outline = Outline::decode(&e.encode()).unwrap();
        assert_eq!(outline, Outline::from(&e));
        assert_eq!(outline.parts_left, 2);
    }

    #[test]
    fn an_outline_refuses_what_an_entry_refuses() {
        let bytes = entry().encode();
        let mut flipped = bytes.clone();
        let last = flipped.len() - 5;
        flipped[last] ^= 0x20;
        assert_eq!(Outline::decode(&flipped).unwrap_err(), "checksum mismatch");
        let mut late = entry();
        late.next_attempt = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert!(
            Outline::decode(&late.encode())
                .unwrap_err()
                .contains("9999")
        );
        // A payload of the wrong shape, under a checksum that holds.
        let json = String::from_utf8(bytes).unwrap();
        let json = json
            .split_once('\n')
            .unwrap()
            .1
            .replace(r#"[{"body""#, r#"[{"bodie""#);
        let crc = crc32fast::hash(json.as_bytes());
        let file = format!("chime-spool 1 {crc:08x} {}\n{json}", json.len());
        assert!(Entry::decode(file.as_bytes()).is_err());
        assert!(Outline::decode(file.as_bytes()).is_err());
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
