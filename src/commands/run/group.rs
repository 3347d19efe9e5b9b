//! The job's process group and the signals chime passes on to it while it
//! runs; at a terminal, the job stays in chime's foreground group instead.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::report;
use crate::settings::Output;

use super::RELAYED;

/// The command's process group, as far as chime may signal it: from its
/// start until chime has done waiting for it. Before the start, a relayed
/// signal is kept, to be passed on as soon as there is a group.
///
/// It also remembers whether chime was sent SIGINT: a Ctrl-C by the user, not
/// how the job went (see `Outcome::interrupted`).
#[derive(Clone, Default)]
pub(super) struct Group(Arc<Mutex<Target>>, Arc<AtomicBool>);

#[derive(Default)]
pub(super) enum Target {
    #[default]
    Starting,
    /// Not started yet, and this was relayed meanwhile.
    Missed(libc::c_int),
    /// The command's group of its own (its leader's pid).
    Group(libc::pid_t),
    /// The command alone, in chime's group at the terminal.
    Alone(libc::pid_t),
    /// Waited for: its id may belong to someone else some day.
    Done,
}

impl Group {
    pub(super) fn started(&self, pid: libc::pid_t, own_group: bool) {
        let running = match own_group {
            true => Target::Group(pid),
            false => Target::Alone(pid),
        };
        let missed = match self.0.lock() {
            Ok(mut target) => std::mem::replace(&mut *target, running),
            Err(_) => return,
        };
        if let Target::Missed(signal) = missed {
            self.relay(signal);
        }
    }

    /// Sends `signal` to every process of the group; whether any was there.
    pub(super) fn signal(&self, signal: libc::c_int) -> bool {
        match self.0.lock().as_deref() {
            Ok(Target::Group(pgid)) => kill(-pgid, signal),
            Ok(Target::Alone(pid)) => kill(*pid, signal),
            _ => false,
        }
    }

    /// Passes on a signal chime received, and SIGCONT after it, as a shell's
    /// `kill %1` does, so that a job stopped for reading the terminal ends too.
    pub(super) fn relay(&self, signal: libc::c_int) {
        if signal == libc::SIGINT {
            self.1.store(true, Ordering::SeqCst);
        }
        let Ok(mut target) = self.0.lock() else {
            return;
        };
        match *target {
            Target::Starting | Target::Missed(_) => *target = Target::Missed(signal),
            Target::Group(pgid) => {
                kill(-pgid, signal);
                kill(-pgid, libc::SIGCONT);
            }
            // The terminal's own signals reached the command with chime's.
            Target::Alone(pid) if signal == libc::SIGTERM => {
                kill(pid, signal);
            }
            Target::Alone(_) => {}
            Target::Done => {}
        }
    }

    /// Whether chime was sent SIGINT while the command ran.
    pub(super) fn interrupted(&self) -> bool {
        self.1.load(Ordering::SeqCst)
    }

    pub(super) fn owns_group(&self) -> bool {
        matches!(self.0.lock().as_deref(), Ok(Target::Group(_)))
    }

    pub(super) fn done(&self) {
        if let Ok(mut target) = self.0.lock() {
            *target = Target::Done;
        }
    }
}

/// Whether chime runs by hand in the terminal's foreground, where the command
/// must stay in the foreground too, to read the terminal and hear Ctrl-C.
/// That is the controlling terminal, whatever stdin is: a job run with
/// `</dev/null` may still ask for a password on `/dev/tty`.
pub(super) fn at_the_terminal() -> bool {
    use std::os::fd::AsRawFd;
    let Ok(tty) = std::fs::File::open("/dev/tty") else {
        return false;
    };
    // SAFETY: tcgetpgrp(3) and getpgrp(2) only read process state.
    unsafe { libc::tcgetpgrp(tty.as_raw_fd()) == libc::getpgrp() }
}

/// kill(2): whether `signal` reached any process.
pub(super) fn kill(pid: libc::pid_t, signal: libc::c_int) -> bool {
    // SAFETY: kill(2) with a valid signal number has no memory effects.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Passes the signals meant for the job on to its process group while it runs.
///
/// A terminal sends Ctrl-C (SIGINT), Ctrl-\ (SIGQUIT) and its hangup (SIGHUP)
/// to its foreground process group only, and a service manager or `timeout`
/// stops chime with SIGTERM: the command, in a group of its own, would hear
/// none of them. A signal chime was started with ignored (`nohup`, `cmd &` in a script) is
/// left alone: the command inherits that, as it did before chime listened.
pub(super) struct Relay {
    pub(super) group: Group,
    listening: Vec<libc::c_int>,
}

impl Relay {
    pub(super) fn start(output: Output) -> Relay {
        let group = Group::default();
        let wanted: Vec<libc::c_int> = RELAYED.into_iter().filter(|s| !ignored(*s)).collect();
        let listening = match listen(&wanted, &group) {
            Ok(()) => wanted,
            Err(err) => {
                report::warning(
                    output,
                    &format!("cannot pass signals on to the command: {err}"),
                );
                Vec::new()
            }
        };
        Relay { group, listening }
    }

    /// Stops relaying; the signals have their usual effect on chime again, so
    /// a Ctrl-C while the report goes out ends chime as it always did.
    pub(super) fn stop(self) {
        self.group.done();
        for signal in self.listening {
            // SAFETY: restoring the default disposition of a valid signal number.
            unsafe {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
    }
}

/// Whether `signal` was ignored when chime started.
pub(super) fn ignored(signal: libc::c_int) -> bool {
    // SAFETY: sigaction(2) only reads the current disposition into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Listens for `signals` on a thread of its own (the same tokio signal
/// handling `chime pipe` uses) and relays each to `group`.
pub(super) fn listen(signals: &[libc::c_int], group: &Group) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for &number in signals {
        let mut stream = {
            let _inside = runtime.enter();
            signal(SignalKind::from_raw(number))?
        };
        let group = group.clone();
        runtime.spawn(async move {
            while stream.recv().await.is_some() {
                group.relay(number);
            }
        });
    }
    std::thread::spawn(move || runtime.block_on(std::future::pending::<()>()));
    Ok(())
}
