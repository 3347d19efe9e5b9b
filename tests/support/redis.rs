//! A real Redis for the tests of state shared across machines: `redis-server`
//! started by the test on a loopback port of its own, in a temporary directory,
//! keeping nothing on disk, and killed when the test lets go of it.
//!
//! A stand-in would only say what we believe Redis does; chime's shared state
//! leans on Redis's own atomicity (locks, expiries, counters), so the tests use
//! the real server. What chime keeps there, and how, is the tests' to check;
//! this module only runs the server and reads it back with a tiny RESP client of
//! its own, so no client library's habits (pooling, retries) sit between a test
//! and what Redis holds.
//!
//! The port is held by a bound socket that never listens, from the start until
//! the end: while the server is stopped a connection is refused at once, as one
//! to a machine whose Redis is down is, and no other test can take the port
//! before [`Redis::restart`] brings the server back there. Every wait is
//! bounded: a server that does not come up or answer fails the test.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tools;

/// How long a server may take to answer PING after it was started.
const START_LIMIT: Duration = Duration::from_secs(20);
/// How long one command of ours may take; Redis answers in microseconds.
const COMMAND_LIMIT: Duration = Duration::from_secs(5);

/// One reply of Redis's RESP2 protocol.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    /// `None` is RESP's null bulk string (a missing key's GET).
    Bulk(Option<Vec<u8>>),
    /// `None` is RESP's null array.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// A status or bulk string as text (lossy UTF-8); an integer in decimal.
    /// Panics on anything else, naming it.
    pub fn text(&self) -> String {
        match self {
            Reply::Status(s) => s.clone(),
            Reply::Bulk(Some(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
            Reply::Int(n) => n.to_string(),
            other => panic!("redis: expected a string, got {other:?}"),
        }
    }

    /// Every string inside, nested arrays flattened (a stream's entries, a
    /// hash's fields and values), each as [`Reply::text`] does.
    pub fn strings(&self) -> Vec<String> {
        match self {
            Reply::Array(Some(items)) => items.iter().flat_map(Reply::strings).collect(),
            Reply::Array(None) | Reply::Bulk(None) => vec![],
            Reply::Error(e) => panic!("redis: error reply: {e}"),
            other => vec![other.text()],
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

/// TLS files a `rediss://` server uses, written beside it.
struct Tls {
    /// The plain port our own client reads through; chime gets the TLS one.
    plain: Reserved,
    ca: PathBuf,
}

/// A `redis-server` on 127.0.0.1; dropping it kills the server.
pub struct Redis {
    program: PathBuf,
    reserved: Reserved,
    dir: tempfile::TempDir,
    password: Option<String>,
    tls: Option<Tls>,
    child: Option<Child>,
}

/// A loopback TCP socket bound to a port and never listening.
struct Reserved {
    _fd: OwnedFd,
    port: u16,
}

impl Redis {
    /// A server without a password, answering PING before this returns.
    pub fn start() -> Redis {
        Redis::launch(None, false)
    }

    /// A server that refuses every command until `AUTH password`
    /// (`--requirepass`, the `default` user's password).
    pub fn start_with_password(password: &str) -> Redis {
        Redis::launch(Some(password.to_owned()), false)
    }

    /// A server that speaks only TLS on [`Redis::url`] (`rediss://`), with a
    /// certificate for 127.0.0.1 signed by a CA made for the test, whose PEM
    /// file is [`Redis::ca_file`]. Clients need no certificate of their own.
    pub fn start_tls() -> Redis {
        Redis::launch(None, true)
    }

    fn launch(password: Option<String>, tls: bool) -> Redis {
        let program = tools::require("redis-server", "redis-server");
        let dir = tempfile::tempdir().expect("a temporary directory for redis");
        let tls = tls.then(|| Tls {
            plain: Reserved::new(),
            ca: write_certificates(dir.path()),
        });
        let mut redis = Redis {
            program,
            reserved: Reserved::new(),
            dir,
            password,
            tls,
            child: None,
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:PORT`, or `rediss://…` for [`Redis::start_tls`];
    /// never with the password in it.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.reserved.port)
    }

    /// The port chime connects to.
    pub fn port(&self) -> u16 {
        self.reserved.port
    }

    /// The CA that signed a TLS server's certificate.
    pub fn ca_file(&self) -> &Path {
        let tls = self
            .tls
            .as_ref()
            .expect("redis: ca_file of a TLS server only");
        &tls.ca
    }

    /// True while the server runs.
    pub fn is_up(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (SIGKILL, as a machine that died): what it held is
    /// gone, the port is still ours, and connections to it are refused.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty (it keeps nothing on
    /// disk), and waits until it answers PING. Stops it first if it runs.
    pub fn restart(&mut self) {
        self.stop();
        let mut cmd = Command::new(&self.program);
        cmd.args(self.arguments())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The server dies with the test thread that started it, even when the
        // test binary itself is killed and no Drop runs: no Redis outlives the
        // suite. The test that starts a server is the one that stops it.
        // SAFETY: prctl(2) is async-signal-safe and touches no memory of ours.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("redis-server starts");
        self.child = Some(child);
        self.wait_until_up();
    }

    fn arguments(&self) -> Vec<String> {
        let dir = self.dir.path();
        let port = self.reserved.port.to_string();
        let mut args: Vec<String> = [
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "no",
            "--daemonize",
            "no",
            // Nothing on disk: a restart comes back empty, as a replaced
            // server does, and no test leaves a dump behind.
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        .map(str::to_owned)
        .into();
        args.extend(["--dir".into(), dir.display().to_string()]);
        let log = dir.join("redis.log").display().to_string();
        args.extend(["--logfile".into(), log]);
        match &self.tls {
            None => args.extend(["--port".into(), port]),
            Some(tls) => args.extend([
                "--port".into(),
                tls.plain.port.to_string(),
                "--tls-port".into(),
                port,
                "--tls-cert-file".into(),
                dir.join("server.pem").display().to_string(),
                "--tls-key-file".into(),
                dir.join("server.key").display().to_string(),
                "--tls-ca-cert-file".into(),
                tls.ca.display().to_string(),
                "--tls-auth-clients".into(),
                "no".into(),
            ]),
        }
        if let Some(password) = &self.password {
            args.extend(["--requirepass".into(), password.clone()]);
        }
        args
    }

    fn wait_until_up(&mut self) {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Ok(Reply::Status(pong)) = self.try_command(&["PING"])
                && pong == "PONG"
            {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                panic!(
                    "redis-server exited ({status}) before answering PING; its log:\n{}",
                    self.log()
                );
            }
            if Instant::now() > deadline {
                self.stop();
                panic!(
                    "redis-server did not answer PING within {START_LIMIT:?}; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What the server logged, for a failure message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    /// The port our own client uses: the plain one, also for a TLS server.
    fn admin_addr(&self) -> SocketAddr {
        let port = self
            .tls
            .as_ref()
            .map_or(self.reserved.port, |t| t.plain.port);
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Runs one command on a connection of its own (authenticated when the
    /// server has a password): its reply, or why there was none.
    pub fn try_command(&self, args: &[&str]) -> io::Result<Reply> {
        let stream = TcpStream::connect_timeout(&self.admin_addr(), COMMAND_LIMIT)?;
        stream.set_read_timeout(Some(COMMAND_LIMIT))?;
        stream.set_write_timeout(Some(COMMAND_LIMIT))?;
        let mut conn = Conn(BufReader::new(stream));
        if let Some(password) = &self.password {
            let reply = conn.call(&["AUTH", password])?;
            if reply.is_error() {
                return Ok(reply);
            }
        }
        conn.call(args)
    }

    /// Runs one command; panics, with the server's log, when there is no reply.
    #[track_caller]
    pub fn command(&self, args: &[&str]) -> Reply {
        self.try_command(args)
            .unwrap_or_else(|e| panic!("redis {args:?}: {e}; its log:\n{}", self.log()))
    }

    /// The keys matching `pattern` (Redis's glob: `*`, `chime:*`), sorted.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let mut keys = self.command(&["KEYS", pattern]).strings();
        keys.sort();
        keys
    }

    /// A string key's value; `None` when it is missing.
    pub fn get(&self, key: &str) -> Option<String> {
        match self.command(&["GET", key]) {
            Reply::Bulk(None) => None,
            reply => Some(reply.text()),
        }
    }

    pub fn set(&self, key: &str, value: &str) {
        let reply = self.command(&["SET", key, value]);
        assert_eq!(reply, Reply::Status("OK".into()), "redis SET {key}");
    }

    /// Whatever `key` holds, whatever its type, as text: a string's value, a
    /// hash's fields and values, a list's, set's or sorted set's members (with
    /// scores), a stream's entries; one item a line. Empty for a missing key.
    pub fn dump(&self, key: &str) -> String {
        let kind = self.command(&["TYPE", key]).text();
        let reply = match kind.as_str() {
            "none" => return String::new(),
            "string" => self.command(&["GET", key]),
            "hash" => self.command(&["HGETALL", key]),
            "list" => self.command(&["LRANGE", key, "0", "-1"]),
            "set" => self.command(&["SMEMBERS", key]),
            "zset" => self.command(&["ZRANGE", key, "0", "-1", "WITHSCORES"]),
            "stream" => self.command(&["XRANGE", key, "-", "+"]),
            other => panic!("redis: key {key:?} has a type the tests cannot read: {other}"),
        };
        reply.strings().join("\n")
    }

    /// Every key and what it holds ([`Redis::dump`]), sorted by key.
    pub fn everything(&self) -> Vec<(String, String)> {
        let keys = self.keys("*");
        keys.into_iter()
            .map(|key| {
                let value = self.dump(&key);
                (key, value)
            })
            .collect()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Reserved {
    /// A free loopback port, bound with `SO_REUSEADDR` and never listened
    /// on. Linux lets a socket that also sets `SO_REUSEADDR` (redis-server
    /// does) bind and listen beside one that does not listen; a port picked
    /// by the kernel for anyone else's bind never shares ours.
    fn new() -> Reserved {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: plain socket calls on a descriptor this function owns; the
        // address structures are zeroed and sized as the calls expect.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "redis: socket: {}", io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(fd);
            let raw = fd.as_raw_fd();
            let one: libc::c_int = 1;
            let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                (&raw const one).cast(),
                size,
            );
            let mut sin: libc::sockaddr_in = std::mem::zeroed();
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(raw, (&raw const sin).cast(), len);
            assert!(bound == 0, "redis: bind: {}", io::Error::last_os_error());
            let mut got = len;
            let named = libc::getsockname(raw, (&raw mut sin).cast(), &mut got);
            assert!(
                named == 0,
                "redis: getsockname: {}",
                io::Error::last_os_error()
            );
            Reserved {
                _fd: fd,
                port: u16::from_be(sin.sin_port),
            }
        }
    }
}

/// One connection speaking RESP2.
struct Conn(BufReader<TcpStream>);

impl Conn {
    fn call(&mut self, args: &[&str]) -> io::Result<Reply> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        self.0.get_mut().write_all(&request)?;
        self.read()
    }

    fn read(&mut self) -> io::Result<Reply> {
        let line = self.line()?;
        let (kind, rest) = line.split_at(1);
        let number = || {
            rest.parse::<i64>()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, line.clone()))
        };
        Ok(match kind {
            "+" => Reply::Status(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => Reply::Int(number()?),
            "$" => match number()? {
                n if n < 0 => Reply::Bulk(None),
                n => {
                    let mut bytes = vec![0; n as usize + 2];
                    self.0.read_exact(&mut bytes)?;
                    bytes.truncate(n as usize);
                    Reply::Bulk(Some(bytes))
                }
            },
            "*" => match number()? {
                n if n < 0 => Reply::Array(None),
                n => {
                    let items = (0..n).map(|_| self.read()).collect::<io::Result<_>>()?;
                    Reply::Array(Some(items))
                }
            },
            _ => return Err(io::Error::new(io::ErrorKind::InvalidData, line)),
        })
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.0.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "empty reply line",
            ));
        }
        Ok(line)
    }
}

/// A CA made for the test and a certificate for 127.0.0.1 it signs, written
/// to `dir` as `ca.pem`, `server.pem` and `server.key`; the CA's path.
fn write_certificates(dir: &Path) -> PathBuf {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "chime test Redis CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    ca_path
}
