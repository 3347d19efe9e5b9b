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
    let install = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
    };
    let add = ["install", "-y", "--no-install-recommends", package];
    let installed = install(&add).is_ok_and(|out| out.status.success())
        || (install(&["update"]).is_ok_and(|out| out.status.success())
            && install(&add).is_ok_and(|out| out.status.success()));
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

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
