//! How long and how often the spool keeps trying: backoff with jitter,
//! never sooner than a platform asked, and when to give up.

use std::time::{Duration, SystemTime};

use super::Entry;

/// How long and how often the spool keeps trying (`[spool]` in the profile).
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// An entry older than this goes to dead-letter.
    pub max_age: Duration,
    /// An entry tried this many times goes to dead-letter.
    pub max_attempts: Option<u32>,
    /// The first retry waits up to this long; each later one up to twice as long…
    pub backoff_base: Duration,
    /// …but never more than this.
    pub backoff_cap: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            max_age: Duration::from_secs(3 * 24 * 3600),
            max_attempts: None,
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(15 * 60),
        }
    }
}

impl Policy {
    /// When to try again after `attempts` failures: exponential backoff with
    /// full jitter (so fifty cron jobs do not retry in lockstep), but never
    /// sooner than the platform asked.
    pub fn next_attempt(
        &self,
        now: SystemTime,
        attempts: u32,
        retry_after: Option<Duration>,
    ) -> SystemTime {
        let exp = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        let ceiling = self.backoff_base.saturating_mul(exp).min(self.backoff_cap);
        let wait = ceiling
            .mul_f64(jitter())
            .max(retry_after.unwrap_or_default());
        now + wait
    }

    /// Why an entry should stop being retried, if it should.
    pub fn expired(&self, entry: &Entry, now: SystemTime) -> Option<String> {
        if entry.age(now) > self.max_age {
            return Some(format!(
                "gave up after {}",
                humantime::format_duration(self.max_age)
            ));
        }
        match self.max_attempts {
            Some(max) if entry.attempts.saturating_sub(entry.retried_after) >= max => {
                Some(format!("gave up after {max} attempts"))
            }
            _ => None,
        }
    }
}

/// A number in [0, 1) that differs between processes and calls; good enough to
/// keep fifty cron jobs from retrying in lockstep, no RNG crate needed.
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let hash = RandomState::new().hash_one(nanos);
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// "in 2m 3s" or "now", for people.
pub fn when(time: SystemTime) -> String {
    match time.duration_since(SystemTime::now()) {
        Ok(wait) if wait >= Duration::from_secs(1) => {
            format!(
                "in {}",
                humantime::format_duration(Duration::from_secs(wait.as_secs()))
            )
        }
        _ => "now".to_owned(),
    }
}
