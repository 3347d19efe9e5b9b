//! The state directory: where chime keeps what outlives one process — the
//! spool, thread keys, job outcomes — one folder per profile, and the checks
//! that make the directory safe to trust.
//!
//! ```text
//! $CHIME_STATE_DIR (else <XDG state dir>/chime)
//! └── profiles/                   0700
//!     └── <profile>/              0700: `config`, a --profile NAME, or <stem>~<hash> for a --config PATH
//!         ├── .source             that PATH, so a `chime flush` can load the profile again
//!         ├── .name               a NAME too long for a file name, kept whole
//!         ├── spool/              see spool/mod.rs
//!         ├── threads/            see threads.rs
//!         ├── runs/               `chime run --on change` outcomes
//!         ├── scheduled/          messages a platform holds to post later, see scheduled.rs
//!         └── windows/            dedupe windows and limit counts, see windows/
//! ```
//!
//! Everything is kept per profile because destination names are the
//! profile's own: `ops-hook` in one profile is not `ops-hook` in another, and
//! a message queued for one must never be delivered to the other. A profile
//! chosen by name is keyed by that name; one chosen by path (`--config`,
//! `CHIME_CONFIG`) by the file's stem and a hash of its absolute path, unless
//! that path is where the named profile lives anyway.
//!
//! # Trust
//!
//! A spool entry is delivered with the profile's credentials, so whoever can
//! write into the state directory can make chime post, signed, anything they
//! like. chime therefore refuses (exit 78, naming the path and the fix) a state
//! directory that is a symbolic link, that belongs to another user, or that
//! others may write to (a sticky directory of ours excepted: others cannot
//! touch what is ours in it), and it refuses one whose parents another user
//! could swap (each must belong to us or root, and be writable by nobody else
//! unless sticky). Below it, every directory must be ours and private
//! (`spool::fs::check_own_dir`), and every file is opened without following
//! links.
//!
//! # The layout before profiles
//!
//! chime 0.1 kept `spool/`, `threads/` and `runs/` directly in the state
//! directory, for whichever profile. On first use they move, whole, to the
//! default profile `config`.

use std::path::{Path, PathBuf};

mod asks;
mod runs;
mod scheduled;
pub mod shared;
mod threads;
mod windows;

use sha2::{Digest, Sha256};

pub use asks::{Asks, Standing};
pub use runs::Runs;
pub use scheduled::{Record, Scheduled};
pub use threads::Threads;
pub use windows::{Entered, Guard, Shown, Window, Windows};

use crate::config::{EnvVars, Location};
use crate::spool::fs::{self, check_own_dir};
use crate::spool::{Spool, SpoolError};

/// What the state of a profile's folders hold, each of which moved from the
/// state directory's top into `profiles/config/` when profiles came.
const PER_PROFILE: [&str; 3] = ["spool", "threads", "runs"];

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "config";

/// A trusted state directory.
pub struct StateDir {
    root: PathBuf,
}

/// The folder of one profile's state.
#[derive(Clone, Debug)]
pub struct ProfileState {
    /// Its directory's name under `profiles/`.
    pub key: String,
    pub dir: PathBuf,
}

impl ProfileState {
    pub fn spool(&self) -> Spool {
        Spool::at(self.dir.join("spool"), self.label())
    }

    /// The folders chime keeps in it, checked where they exist.
    fn check(&self) -> Result<(), SpoolError> {
        for sub in [
            "spool",
            "spool/pending",
            "spool/dead",
            "spool/corrupt",
            "threads",
            "runs",
            "scheduled",
            "windows",
            "journal",
            "asks",
        ] {
            fs::check_if_there(&self.dir.join(sub))?;
        }
        Ok(())
    }

    /// Whether dedupe windows are open (a flush reports those that close).
    pub fn has_windows(&self) -> bool {
        // Open on a state server, where this profile's flush closes them.
        if self.dir.join("windows").join(windows::SHARED_MARK).exists() {
            return true;
        }
        let Ok(dirs) = std::fs::read_dir(self.dir.join("windows")) else {
            return false;
        };
        dirs.flatten().any(|dir| {
            fs::list(&dir.path()).is_ok_and(|files| files.iter().any(|f| windows::is_window(f)))
        })
    }

    /// What `chime run --on change` remembers.
    pub fn runs(&self) -> Runs {
        Runs::at(self.dir.join("runs"), shared::of(&self.dir))
    }

    /// The profile as people name it: `config`, `lab`, or a --config path.
    pub fn label(&self) -> String {
        let read = |file: &str| {
            fs::read_bounded(&self.dir.join(file), 4096)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        };
        if let Some(path) = read(SOURCE_FILE) {
            return path;
        }
        fs::decode_name(&self.key)
            .or_else(|| read(fs::NAME_FILE))
            .unwrap_or_else(|| self.key.clone())
    }

    /// The profile file to load for a `chime flush` of every profile: the
    /// recorded --config path, else the named profile's own place.
    pub fn location(&self, env: &EnvVars) -> Option<Location> {
        let recorded = fs::read_bounded(&self.dir.join(SOURCE_FILE), 4096).ok();
        if let Some(path) = recorded.and_then(|b| String::from_utf8(b).ok()) {
            return Some(Location {
                path: path.into(),
                origin: "recorded with its queued messages",
                name: None,
            });
        }
        let name = fs::decode_name(&self.key).or_else(|| {
            let bytes = fs::read_bounded(&self.dir.join(fs::NAME_FILE), 4096).ok()?;
            String::from_utf8(bytes).ok()
        })?;
        crate::config::locate(None, Some(&name), env).ok()
    }
}

/// Where a profile chosen by path recorded that path.
const SOURCE_FILE: &str = ".source";

impl StateDir {
    /// Finds the state directory, creates it if need be, checks it can be
    /// trusted, and moves a layout from before profiles into place.
    pub fn open(env: &EnvVars) -> Result<StateDir, SpoolError> {
        let root = locate(env)?;
        open_root(&root)?;
        fs::check_if_there(&root.join("profiles"))?;
        let state = StateDir { root };
        state.adopt_old_layout();
        Ok(state)
    }

    /// The state directory if it is there and can be trusted, with nothing
    /// created or moved: a shell's <TAB> (`chime config names ids`) must not
    /// leave a state directory behind, and has nothing to say when it fails.
    pub fn if_there(env: &EnvVars) -> Option<StateDir> {
        let root = locate(env).ok()?;
        let meta = std::fs::symlink_metadata(&root).ok()?;
        check_root(&root, &meta).ok()?;
        check_parents(&root).ok()?;
        fs::check_if_there(&root.join("profiles")).ok()?;
        Some(StateDir { root })
    }

    /// The state of the profile found at `location` if it has kept anything,
    /// created or recorded nothing: [`StateDir::if_there`]'s counterpart to
    /// [`StateDir::profile`].
    pub fn profile_if_there(&self, location: &Location) -> Option<ProfileState> {
        let (key, _, _) = key_of(location);
        let state = self.profile_dir(key);
        let meta = std::fs::symlink_metadata(&state.dir).ok()?;
        check_own_dir(&state.dir, &meta).ok()?;
        state.check().ok()?;
        Some(state)
    }

    /// The state folder a profile would have under the state directory, for
    /// when the directory cannot be used at all (not there and not makeable,
    /// read-only): chime still sends, and says what it could not keep when
    /// it has to keep something. Never for one that failed its trust checks.
    pub fn unusable(env: &EnvVars, location: &Location) -> Option<ProfileState> {
        let root = locate(env).ok()?;
        let (key, _, _) = key_of(location);
        Some(StateDir { root }.profile_dir(key))
    }

    /// The state of the profile found at `location`, created if need be.
    pub fn profile(&self, location: &Location) -> Result<ProfileState, SpoolError> {
        let (key, source, name) = key_of(location);
        let state = self.profile_dir(key);
        fs::create_private_dir(&state.dir)?;
        state.check()?;
        let remember = |file: &str, text: &str| -> Result<(), SpoolError> {
            let path = state.dir.join(file);
            match fs::read_bounded(&path, 4096) {
                Ok(known) if known == text.as_bytes() => Ok(()),
                _ => fs::write_atomic(&state.dir, file, text.as_bytes()),
            }
        };
        if let Some(source) = source {
            remember(SOURCE_FILE, &source.to_string_lossy())?;
        }
        if let Some(name) = name {
            remember(fs::NAME_FILE, &name)?;
        }
        Ok(state)
    }

    /// Every profile that has kept something, by key. One whose folder
    /// fails its checks stops them all: someone tampered with the state.
    pub fn profiles(&self) -> Result<Vec<ProfileState>, SpoolError> {
        let dir = self.root.join("profiles");
        let mut keys = fs::list(&dir)?;
        keys.sort();
        let profiles: Vec<ProfileState> =
            keys.into_iter().map(|key| self.profile_dir(key)).collect();
        for profile in &profiles {
            fs::check_if_there(&profile.dir)?;
            profile.check()?;
        }
        Ok(profiles)
    }

    fn profile_dir(&self, key: String) -> ProfileState {
        let dir = self.root.join("profiles").join(&key);
        ProfileState { key, dir }
    }

    /// Moves `spool/`, `threads/` and `runs/` from the top of the state
    /// directory (chime 0.1) into the default profile, each in one rename, so
    /// no entry is ever in neither place. Best effort: one that cannot move
    /// stays where it was, and is not used.
    fn adopt_old_layout(&self) {
        let old: Vec<&str> = PER_PROFILE
            .into_iter()
            .filter(|name| std::fs::symlink_metadata(self.root.join(name)).is_ok())
            .collect();
        if old.is_empty() {
            return;
        }
        let target = self.profile_dir(DEFAULT_PROFILE.to_owned());
        if fs::create_private_dir(&target.dir).is_err() {
            return;
        }
        for name in old {
            let from = self.root.join(name);
            let trusted = std::fs::symlink_metadata(&from)
                .ok()
                .is_some_and(|meta| check_own_dir(&from, &meta).is_ok());
            let to = target.dir.join(name);
            if trusted && std::fs::symlink_metadata(&to).is_err() {
                let _ = std::fs::rename(&from, &to);
            }
        }
        let _ = fs::sync_dir(&target.dir);
        let _ = fs::sync_dir(&self.root);
    }
}

/// `$CHIME_STATE_DIR`, else `<XDG state dir>/chime` (falling back to the
/// local data directory where there is no state dir).
fn locate(env: &EnvVars) -> Result<PathBuf, SpoolError> {
    match env.get("CHIME_STATE_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(dirs::state_dir()
            .or_else(dirs::data_local_dir)
            .ok_or(SpoolError::NoStateDir)?
            .join("chime")),
    }
}

/// Creates the state directory if need be, and checks it and its parents.
fn open_root(root: &Path) -> Result<(), SpoolError> {
    match std::fs::symlink_metadata(root) {
        Ok(meta) => check_root(root, &meta)?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => create_root(root)?,
        Err(err) => return Err(SpoolError::io("inspect", root, err)),
    }
    check_parents(root)
}

/// Checks every directory above the state directory ([`check_parent`]).
fn check_parents(root: &Path) -> Result<(), SpoolError> {
    let parent = root.parent().unwrap_or(Path::new("/"));
    let parent = std::fs::canonicalize(parent).map_err(|e| SpoolError::io("resolve", parent, e))?;
    for ancestor in parent.ancestors() {
        check_parent(ancestor)?;
    }
    Ok(())
}

/// The state directory itself: a directory of ours that nobody else may
/// write to, unless it is sticky. Unlike the folders chime makes inside, its
/// mode is left as the user chose.
fn check_root(root: &Path, meta: &std::fs::Metadata) -> Result<(), SpoolError> {
    fs::verify_own_dir(root, meta)
}

/// Makes the state directory and the parents it lacks, 0700, after checking
/// the directory they are made in.
fn create_root(root: &Path) -> Result<(), SpoolError> {
    let mut missing = Vec::new();
    let mut existing = root;
    while std::fs::symlink_metadata(existing).is_err() {
        missing.push(existing);
        existing = match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
    }
    let resolved =
        std::fs::canonicalize(existing).map_err(|e| SpoolError::io("resolve", existing, e))?;
    check_parent(&resolved)?;
    for dir in missing.into_iter().rev() {
        fs::create_private_dir(dir)?;
    }
    Ok(())
}

/// A directory above the state directory: it must belong to us or to root,
/// and others may write to it only when it is sticky, or they could swap the
/// state directory for their own.
fn check_parent(dir: &Path) -> Result<(), SpoolError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).map_err(|e| SpoolError::io("inspect", dir, e))?;
    let uid = meta.uid();
    if uid != 0 && uid != fs::euid() {
        return Err(SpoolError::untrusted(
            dir,
            format!("it belongs to user {uid}, who could replace the state directory inside"),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(SpoolError::untrusted(
            dir,
            format!(
                "others may write to it (mode {mode:04o}) and replace the state directory inside"
            ),
        ));
    }
    Ok(())
}

/// The key of the profile at `location`, with the path to record for a
/// profile chosen by path, and the name to record when the key is a hash.
fn key_of(location: &Location) -> (String, Option<PathBuf>, Option<String>) {
    if let Some(name) = &location.name {
        return named_key(name);
    }
    let path = std::path::absolute(&location.path).unwrap_or_else(|_| location.path.clone());
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // `--config ~/.config/chime/lab.toml` is the profile `lab`, however named.
    let home = dirs::config_dir()
        .map(|d| d.join("chime"))
        .and_then(|d| std::fs::canonicalize(d).ok());
    let at_home = home.is_some_and(|home| path.parent() == Some(home.as_path()));
    if at_home && path.extension().is_some_and(|e| e == "toml") {
        return named_key(&stem);
    }
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let short: String = fs::encode_name(&stem).chars().take(48).collect();
    // A stem that encodes with a `%` cut short still reads; the hash decides.
    (format!("{short}~{hash}"), Some(path), None)
}

fn named_key(name: &str) -> (String, Option<PathBuf>, Option<String>) {
    let key = fs::dir_name(name);
    let hashed = fs::is_hashed(&key).then(|| name.to_owned());
    (key, None, hashed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_name(name: &str) -> Location {
        Location {
            path: PathBuf::from(format!("/nowhere/{name}.toml")),
            origin: "test",
            name: Some(name.to_owned()),
        }
    }

    #[test]
    fn a_named_profile_is_keyed_by_its_name() {
        assert_eq!(key_of(&by_name("config")).0, "config");
        assert_eq!(key_of(&by_name("lab")).0, "lab");
    }

    #[test]
    fn profiles_chosen_by_path_differ_by_path_and_never_meet_a_name() {
        let at = |path: &str| Location {
            path: PathBuf::from(path),
            origin: "test",
            name: None,
        };
        let (a, source, _) = key_of(&at("/srv/a/chime.toml"));
        let (b, _, _) = key_of(&at("/srv/b/chime.toml"));
        assert_ne!(a, b);
        assert!(a.starts_with("chime~") && fs::is_hashed(&a), "{a}");
        assert_eq!(source, Some(PathBuf::from("/srv/a/chime.toml")));
    }

    #[test]
    fn a_name_too_long_for_a_file_is_hashed_and_kept_whole() {
        let long = "п".repeat(96);
        let (key, source, name) = key_of(&by_name(&long));
        assert!(key.len() < 255 && fs::is_hashed(&key));
        assert_eq!(source, None);
        assert_eq!(name, Some(long));
    }
}
