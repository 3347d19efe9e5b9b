//! Programs the tests run that a fresh machine may lack (a shell to
//! complete in; later a Redis or an SMTP server): found on PATH, or
//! installed with apt-get the first time a test asks, so that a clean
//! checkout needs nothing but `cargo test --locked`. A test never skips for
//! want of one: if it cannot be had, the test fails saying why.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// One installation at a time, within this test binary; apt-get's own lock
/// keeps other processes out.
static INSTALLING: Mutex<()> = Mutex::new(());

/// The path of `program`, installing Debian's `package` first if need be.
pub fn require(program: &str, package: &str) -> PathBuf {
    if let Some(path) = find(program) {
        return path;
    }
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = find(program) {
        return path;
    }
    let installed = apt_install(package);
    match find(program) {
        Some(path) => path,
        None => panic!(
            "this test needs `{program}`, which is not on PATH, and `apt-get install {package}` \
             {}: install it, then run the tests again",
            if installed {
                "did not provide it"
            } else {
                "failed"
            }
        ),
    }
}

/// Whether `apt-get install PACKAGE` went through, with an `update` first
/// if the lists are stale.
fn apt_install(package: &str) -> bool {
    let install = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|out| out.status.success())
    };
    let add = ["install", "-y", "--no-install-recommends", package];
    install(&add) || (install(&["update"]) && install(&add))
}

/// A Python 3 that can import `module`: the `python3` on PATH (a CI
/// image's pyenv, say) or Debian's /usr/bin/python3, with Debian's
/// `package` installed for the latter, or else `pip_name` installed with
/// pip for the former.
pub fn python_with(module: &str, package: &str, pip_name: &str) -> PathBuf {
    let system = PathBuf::from("/usr/bin/python3");
    let candidates: Vec<PathBuf> = find("python3")
        .into_iter()
        .chain([system.clone()])
        .collect();
    let imports = |python: &PathBuf| {
        Command::new(python)
            .args(["-c", &format!("import {module}")])
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|out| out.status.success())
    };
    let found = || candidates.iter().find(|p| imports(p)).cloned();
    if let Some(python) = found() {
        return python;
    }
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(python) = found() {
        return python;
    }
    if apt_install(package) && imports(&system) {
        return system;
    }
    let pip = |python: &PathBuf| {
        Command::new(python)
            .args(["-m", "pip", "install", "--quiet", pip_name])
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|out| out.status.success())
    };
    match candidates.iter().find(|p| pip(p) && imports(p)) {
        Some(python) => python.clone(),
        None => panic!(
            "this test needs the Python module `{module}`: neither `apt-get install {package}` \
             nor `python3 -m pip install {pip_name}` provided it; install it, then run the \
             tests again"
        ),
    }
}

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
