//! Build information for `chime --version`: the commit and its date when the
//! source is a git checkout (nothing otherwise, as in a crate tarball), and
//! the target. Only the long version carries it, so the committed man page
//! does not change with every commit.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for path in ["HEAD", "refs/heads"] {
        if let Some(path) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    let commit = git(&["log", "-1", "--format=%h %cs"]);
    let build = match commit {
        Some(commit) => format!("{commit}, {target}"),
        None => target,
    };
    println!("cargo:rustc-env=CHIME_BUILD={build}");
}
