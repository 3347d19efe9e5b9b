//! The processes the command started, when it runs in chime's own process
//! group at a terminal: there no group id names the job alone, so a timeout
//! finds the job's descendants by walking `/proc` down from the command.
//!
//! A pid names a process only until that process is reaped; then another may
//! get it. So each descendant is held by a pidfd as soon as it is found, and
//! signalled through it: a pidfd never names anyone else. The walk starts at
//! the command, which chime has not reaped yet, so its pid is still its own;
//! a process listed under a parent is kept only if, with its pidfd open, it
//! still names that parent, and both are still unreaped: then the listing and
//! the pidfd are of the same process, a true descendant.
//!
//! What the walk cannot see is left alone: a process that had left the tree
//! before the walk (a daemon, or the child of a shell that already died)
//! belongs to init now, like anyone else's. Without pidfds (Linux before 5.3)
//! or `/proc/PID/task/TID/children`, the tree is empty and the command is
//! stopped alone, as chime did before it walked the tree.

use std::os::fd::OwnedFd;

/// The command's descendants found so far, each held by a pidfd.
#[derive(Default)]
pub(super) struct Tree {
    members: Vec<Member>,
}

struct Member {
    pid: libc::pid_t,
    pidfd: OwnedFd,
}

impl Tree {
    /// Adds the descendants of `command` not held yet. `command` must be
    /// chime's child, not yet reaped: only then is its pid its own.
    pub(super) fn grow(&mut self, command: libc::pid_t) {
        // Each pid to list the children of, with the member holding it
        // (`None` for the command, which needs no pidfd to be itself).
        let mut parents: Vec<(libc::pid_t, Option<usize>)> = vec![(command, None)];
        // Listings taken at different moments, pids reused in between, could
        // seem to loop: each pid is listed once per walk.
        let mut seen = vec![command];
        while let Some((parent, held)) = parents.pop() {
            for pid in children(parent) {
                if seen.contains(&pid) {
                    continue;
                }
                seen.push(pid);
                if let Some(at) = self.hold(pid, parent, held) {
                    parents.push((pid, Some(at)));
                }
            }
        }
    }

    /// Where `pid`, listed under `parent` (held at `held`), is among the
    /// members: already, or from now on if it still is that parent's child.
    fn hold(
        &mut self,
        pid: libc::pid_t,
        parent: libc::pid_t,
        held: Option<usize>,
    ) -> Option<usize> {
        if let Some(known) = self.members.iter().position(|m| m.pid == pid) {
            return Some(known);
        }
        let member = Member::take(pid, parent)?;
        // Checked after the listing: a parent reaped meanwhile may have lent
        // its pid, and its listing, to a stranger.
        if held.is_some_and(|i| !self.members[i].unreaped()) {
            return None;
        }
        self.members.push(member);
        Some(self.members.len() - 1)
    }

    /// Sends `signal` to every member; whether any took it (0 asks whether
    /// any is still there, unreaped).
    pub(super) fn signal(&self, signal: libc::c_int) -> bool {
        let mut any = false;
        for member in &self.members {
            any |= member.signal(signal);
        }
        any
    }
}

impl Member {
    /// `pid`, listed as a child of `parent`, if it still is once held.
    fn take(pid: libc::pid_t, parent: libc::pid_t) -> Option<Member> {
        // A pid read from /proc is only a number: chime is never its own job.
        if pid <= 1 || pid == std::process::id() as libc::pid_t {
            return None;
        }
        let member = Member {
            pid,
            pidfd: pidfd_open(pid)?,
        };
        let still = parent_of(pid) == Some(parent) && member.unreaped();
        still.then_some(member)
    }

    fn unreaped(&self) -> bool {
        self.signal(0)
    }

    fn signal(&self, signal: libc::c_int) -> bool {
        pidfd_send_signal(&self.pidfd, signal)
    }
}

/// The children of every thread of `pid`, as `/proc` lists them.
fn children(pid: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The parent's pid, from `/proc/PID/stat`: the field after the state, which
/// follows the command name's closing parenthesis (a name may hold spaces).
fn parent_of(pid: libc::pid_t) -> Option<libc::pid_t> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, fields) = stat.rsplit_once(')')?;
    fields.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(target_os = "linux")]
fn pidfd_open(pid: libc::pid_t) -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = libc::c_int::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the fd was just opened, and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(target_os = "linux")]
fn pidfd_send_signal(pidfd: &OwnedFd, signal: libc::c_int) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal(2) with no siginfo has no memory effects.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    sent == 0
}

/// Elsewhere there is no `/proc` to walk either: the tree stays empty.
#[cfg(not(target_os = "linux"))]
fn pidfd_open(_pid: libc::pid_t) -> Option<OwnedFd> {
    None
}

#[cfg(not(target_os = "linux"))]
fn pidfd_send_signal(_pidfd: &OwnedFd, _signal: libc::c_int) -> bool {
    false
}
