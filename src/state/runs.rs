//! What `chime run --on change` remembers: each job's last outcome, by
//! name, on the profile's state server when it shares one (so that the
//! host that runs a job next sees how it ended on another), else in the
//! profile's `runs/` folder, written atomically like the rest of the state.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

use super::shared::Shared;
use crate::spool::fs;

/// The outcomes of one profile's jobs.
pub struct Runs {
    dir: PathBuf,
    shared: Option<Arc<Shared>>,
}

impl Runs {
    pub fn at(dir: PathBuf, shared: Option<Arc<Shared>>) -> Runs {
        Runs { dir, shared }
    }

    /// The last outcome of `name` on the state server, the new one recorded
    /// in the same step: `None` when there is no server or it failed.
    fn swap_shared(&self, name: &str, ok: bool) -> Option<Option<bool>> {
        let shared = self.shared.as_deref()?;
        let key = shared.key("run", "job", name);
        let previous = shared.swap::<Value>(&key, &json!({ "ok": ok }))?;
        Some(previous.and_then(|v| v["ok"].as_bool()))
    }

    /// Whether `ok` differs from the last recorded outcome of the job `name`
    /// (a job seen for the first time counts as changed only when it fails),
    /// recording the new one. A record that cannot be written is said, and
    /// the answer stands.
    pub fn changed(&self, name: &str, ok: bool) -> bool {
        if let Some(previous) = self.swap_shared(name, ok) {
            return previous.map_or(!ok, |was| was != ok);
        }
        let file = fs::json_file_name(name);
        let previous = fs::read_bounded(&self.dir.join(&file), 64 << 10)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["ok"].as_bool());
        let record = serde_json::to_vec(&json!({ "ok": ok })).expect("a bool serialises");
        let written = fs::create_private_dir(&self.dir)
            .and_then(|()| fs::write_atomic(&self.dir, &file, &record));
        if let Err(err) = written {
            eprintln!("chime: warning: cannot remember how `{name}` ended: {err}");
        }
        previous.map_or(!ok, |was| was != ok)
    }
}
