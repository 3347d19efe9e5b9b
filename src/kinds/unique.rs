//! Ids a kind makes for what it sends — an email's `Message-ID`, a Matrix
//! transaction id, a heartbeat's run id — that no other message, run or
//! host picks.
//!
//! Each is fixed when its message is rendered and kept with it in the spool,
//! so a retry is recognisable as the same; none guards anything. std's
//! randomly keyed hasher (its keys come from the operating system, anew for
//! each hasher) over the time, the process and a counter is random enough,
//! and needs no crate.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// 64 bits no other call, process or host is expected to repeat.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    RandomState::new().hash_one((nanos, count, std::process::id()))
}

/// 128 of those bits, as 32 hex digits.
pub fn random_hex128() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_ids_made_at_once_differ() {
        assert_ne!(random_u64(), random_u64());
        assert_eq!(random_hex128().len(), 32);
    }
}
