//! What `chime run --on change` remembers: each job's last outcome, by
//! name, in the profile's `runs/` folder, written atomically like the rest
//! of the state.

use std::path::PathBuf;

use serde_json::json;

use crate::spool::fs;

/// The outcomes of one profile's jobs.
pub struct Runs {
    dir: PathBuf,
}

impl Runs {
    pub fn at(dir: PathBuf) -> Runs {
        Runs { dir }
    }

    /// Whether `ok` differs from the last recorded outcome of the job `name`
    /// (a job seen for the first time counts as changed only when it fails),
    /// recording the new one. A record that cannot be written is said, and
    /// the answer stands.
    pub fn changed(&self, name: &str, ok: bool) -> bool {
        let file = fs::json_file_name(name);
        let previous = fs::read_bounded(&self.dir.join(&file), 64 << 10)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
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
