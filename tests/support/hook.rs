//! A generic HTTP receiver for the `webhook` kind, mounted on the bed under `/hook/`.
//!
//! It accepts any method, answers 2xx with a small JSON body, and can be told to require a
//! header (401 otherwise) or to refuse bodies over a size (413), as receivers commonly do.
//! Throttling answers 429 with `Retry-After`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::json;

use super::bed::{Answer, Bed, Request, Surface};

#[derive(Default)]
pub struct Hook {
    rules: Mutex<Rules>,
}

#[derive(Default, Clone)]
struct Rules {
    header: Option<(String, String)>,
    max_bytes: Option<usize>,
}

impl Hook {
    pub fn mount(bed: &Bed) -> Arc<Hook> {
        let hook = Arc::new(Hook::default());
        bed.mount("/hook/", Arc::clone(&hook) as Arc<dyn Surface>);
        hook
    }

    fn rules(&self) -> MutexGuard<'_, Rules> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Requests without `name: value` get 401.
    pub fn require_header(&self, name: &str, value: &str) {
        self.rules().header = Some((name.to_owned(), value.to_owned()));
    }

    /// Bodies over `max` bytes get 413.
    pub fn max_bytes(&self, max: usize) {
        self.rules().max_bytes = Some(max);
    }
}

impl Surface for Hook {
    fn answer(&self, request: &Request, limit: &mut dyn FnMut(&str) -> Result<(), u64>) -> Answer {
        let rules = self.rules().clone();
        if let Some((name, value)) = &rules.header
            && request.header(name) != Some(value.as_str())
        {
            return Answer::json_status(401, &json!({"error": "invalid credentials"}));
        }
        if let Err(secs) = limit(&request.path) {
            return self.throttled(secs);
        }
        if rules.max_bytes.is_some_and(|max| request.body.len() > max) {
            return Answer::json_status(413, &json!({"error": "payload too large"}));
        }
        Answer::json(&json!({"ok": true})).delivered()
    }

    fn throttled(&self, secs: u64) -> Answer {
        Answer::json_status(429, &json!({"error": "slow down"})).retry_after(secs)
    }
}
