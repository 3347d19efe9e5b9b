//! The state server (`[state] url`, `CHIME_STATE_URL`): a Redis, or a
//! Valkey, that the hosts of a fleet and the runners of a CI run share, so
//! that thread keys, job outcomes, dedupe windows, limit counts and pacing
//! are the fleet's rather than one host's.
//!
//! Every change two hosts may race on is one atomic operation on the
//! server: `SET NX PX` for a claim or a lock, `SET … GET` for a job's
//! outcome, a Lua script for a limit's count and for a pacing bucket —
//! never a read, a decision and a write from here.
//!
//! Keys are `<prefix>:<what>:<destination identity>:<key>`. The identity is
//! a hash of the destination's kind, URL and account (`Destination::identity`),
//! the same on every host that has the same destination however it names
//! it, and never a secret. The profile's name is not part of a key: the
//! runners of one CI run name a profile by a path of their own; `prefix`
//! keeps apart what should not meet.
//!
//! The spool stays on each host's disk: a message must survive the network
//! and the server being down. When the server cannot be reached (or refuses
//! chime), that is said once, and the process keeps its state on the host
//! from then on: coordination is lost, never a message.
//!
//! The client is the `redis` crate's blocking connection, one per server
//! and process, opened on first use and bounded by `connect_timeout` for
//! every call: chime's state interface is synchronous and each call is one
//! round trip, which on the current-thread runtime costs less than
//! handing it to an async client.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use redis::{Commands, Connection, RedisResult};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::StateServer;

/// A call that takes longer than this is a server that is not there.
const MIN_CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a lock is held at most: a killed chime's lock frees itself.
const LOCK_LEASE: Duration = Duration::from_secs(30);
const LOCK_POLL: Duration = Duration::from_millis(5);
/// A record is a few hundred bytes; a bigger value is not chime's.
const MAX_VALUE_BYTES: usize = 256 << 10;

/// The state servers of this process, by the profile state folder they
/// serve (a flush of every profile serves several).
static SERVERS: LazyLock<Mutex<HashMap<PathBuf, Arc<Shared>>>> = LazyLock::new(Default::default);
/// One connection per server, whichever profiles name it.
static BY_SERVER: LazyLock<Mutex<HashMap<String, Arc<Shared>>>> = LazyLock::new(Default::default);

/// Says that the profile whose state is in `profile_dir` shares it through
/// `server`; `quiet` (`-q`) keeps its failure unsaid. Nothing is connected
/// until a first call needs it.
pub fn attach(profile_dir: &Path, server: Option<&StateServer>, quiet: bool) {
    let Some(server) = server else {
        return;
    };
    let shared = BY_SERVER
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(server.key())
        .or_insert_with(|| Arc::new(Shared::new(server.clone(), quiet)))
        .clone();
    SERVERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(profile_dir.to_owned(), shared);
}

/// The state server of the profile whose state is in `profile_dir`, unless
/// it has none or it failed this process.
pub fn of(profile_dir: &Path) -> Option<Arc<Shared>> {
    let servers = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    servers.get(profile_dir).filter(|s| s.is_up()).cloned()
}

/// One state server, as this process talks to it.
pub struct Shared {
    server: StateServer,
    connection: Mutex<Option<Connection>>,
    /// Set by the first failure: from then on this process keeps its
    /// state on the host, and says so once.
    down: AtomicBool,
    quiet: bool,
}

impl Shared {
    fn new(server: StateServer, quiet: bool) -> Shared {
        Shared {
            server,
            connection: Mutex::new(None),
            down: AtomicBool::new(false),
            quiet,
        }
    }

    pub fn is_up(&self) -> bool {
        !self.down.load(Ordering::Relaxed)
    }

    /// `<prefix>:<what>:<identity>:<key>`; a key too long or too odd to
    /// read is hashed.
    pub fn key(&self, what: &str, identity: &str, key: &str) -> String {
        let readable = key.len() <= 128 && key.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        let key = match readable {
            true => key.to_owned(),
            false => format!("#{}", short_hash(key.as_bytes())),
        };
        format!("{}:{what}:{identity}:{key}", self.server.prefix)
    }

    /// The pattern of every key of `what` for `identity`.
    pub fn pattern(&self, what: &str, identity: &str) -> String {
        format!("{}:{what}:{identity}:*", self.server.prefix)
    }

    /// A record, `Some(None)` when there is none; `None` when the server failed.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<Option<T>> {
        let bytes: Option<Vec<u8>> = self.call(|c| c.get(key))?;
        Some(bytes.and_then(|b| decode(&b)))
    }

    /// Writes a record, expiring after `ttl` when given.
    pub fn put<T: Serialize>(&self, key: &str, record: &T, ttl: Option<Duration>) -> Option<()> {
        let json = serde_json::to_vec(record).expect("a record serialises");
        self.call(|c| match ttl {
            Some(ttl) => c.pset_ex(key, json, millis(ttl)),
            None => c.set(key, json),
        })
    }

    /// Writes a record and gives the one it replaced, in one step.
    pub fn swap<T: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        record: &T,
    ) -> Option<Option<T>> {
        let json = serde_json::to_vec(record).expect("a record serialises");
        let old: Option<Vec<u8>> =
            self.call(|c| redis::cmd("SET").arg(key).arg(json).arg("GET").query(c))?;
        Some(old.and_then(|b| decode(&b)))
    }

    pub fn remove(&self, key: &str) -> Option<()> {
        self.call(|c| c.del::<_, ()>(key))
    }

    /// The keys matching `pattern`, at most `limit` of them.
    pub fn keys(&self, pattern: &str, limit: usize) -> Option<Vec<String>> {
        self.call(|c| {
            let iter = c.scan_match::<_, String>(pattern)?;
            iter.take(limit).collect()
        })
    }

    /// Takes the lock `key`, waiting until `deadline` at most: `Some(None)`
    /// when another holds it still. A lock not let go of (a kill) lapses
    /// after [`LOCK_LEASE`].
    pub fn lock(self: &Arc<Self>, key: &str, deadline: Instant) -> Option<Option<Lock>> {
        let token = short_hash(format!("{:?} {}", Instant::now(), std::process::id()).as_bytes());
        loop {
            let taken: Option<String> = self.call(|c| {
                redis::cmd("SET")
                    .arg(key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(LOCK_LEASE))
                    .query(c)
            })?;
            if taken.is_some() {
                let lock = Lock {
                    shared: self.clone(),
                    key: key.to_owned(),
                    token,
                };
                return Some(Some(lock));
            }
            if Instant::now() + LOCK_POLL >= deadline {
                return Some(None);
            }
            std::thread::sleep(LOCK_POLL);
        }
    }

    /// Counts one under `key` in a window of `per` that starts with the
    /// first: `Some(None)` when it was one of `count`, else how long until
    /// the window ends.
    pub fn count(&self, key: &str, count: u32, per: Duration) -> Option<Option<Duration>> {
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(COUNT));
        let left: i64 = self.call(|c| SCRIPT.key(key).arg(count).arg(millis(per)).invoke(c))?;
        Some((left >= 0).then(|| Duration::from_millis(left.unsigned_abs())))
    }

    /// Takes the next turn of the bucket `key`, one per `interval` for
    /// every host, if it comes within `within`: `Ok(wait)` until it is this
    /// turn (zero: now), `Err(wait)` until the next when that is later (no
    /// turn taken). The server's clock decides, so the hosts' clocks need
    /// not agree.
    pub fn take_turn(
        &self,
        key: &str,
        interval: Duration,
        within: Duration,
    ) -> Option<Result<Duration, Duration>> {
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(TURN));
        let (taken, wait): (i64, i64) = self.call(|c| {
            SCRIPT
                .key(key)
                .arg(micros(interval))
                .arg(micros(within))
                .invoke(c)
        })?;
        let wait = Duration::from_micros(wait.max(0).unsigned_abs());
        Some(if taken == 1 { Ok(wait) } else { Err(wait) })
    }

    /// For `chime test`: whether the server answers, as whom, and how fast.
    pub fn check(server: &StateServer) -> Result<Duration, String> {
        let shared = Shared::new(server.clone(), true);
        let started = Instant::now();
        let mut connection = shared.connect().map_err(|e| describe(&e))?;
        redis::cmd("PING")
            .query::<String>(&mut connection)
            .map_err(|e| describe(&e))?;
        Ok(started.elapsed())
    }

    /// Runs `f` on the connection, opening it first if need be; a failure
    /// marks the server down for this process, said once.
    fn call<T>(&self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> Option<T> {
        if !self.is_up() {
            return None;
        }
        let mut slot = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            match self.connect() {
                Ok(connection) => *slot = Some(connection),
                Err(err) => return self.failed(&err),
            }
        }
        let connection = slot.as_mut().expect("connected just now");
        match f(connection) {
            Ok(value) => Some(value),
            Err(err) => {
                *slot = None;
                self.failed(&err)
            }
        }
    }

    fn connect(&self) -> RedisResult<Connection> {
        let server = &self.server;
        let mut info = redis::IntoConnectionInfo::into_connection_info(server.url.expose())?;
        let mut settings = info.redis_settings().clone().set_skip_set_lib_name();
        if let Some(user) = &server.user {
            settings = settings.set_username(user);
        }
        if let Some(password) = &server.password {
            settings = settings.set_password(password.expose());
        }
        info = info.set_redis_settings(settings);
        let client = match &server.ca_file {
            Some(ca) => {
                let pem = std::fs::read(&ca.path)?;
                let certs = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(info, certs)?
            }
            None => redis::Client::open(info)?,
        };
        let connection = client.get_connection_with_timeout(server.connect_timeout)?;
        let timeout = server.connect_timeout.max(MIN_CALL_TIMEOUT);
        connection.set_read_timeout(Some(timeout))?;
        connection.set_write_timeout(Some(timeout))?;
        Ok(connection)
    }

    fn failed<T>(&self, err: &redis::RedisError) -> Option<T> {
        if !self.down.swap(true, Ordering::Relaxed) && !self.quiet {
            eprintln!(
                "chime: warning: the state server {} failed ({}): this run keeps its state on this \
                 host from now on, so a thread may fork, a repeat may pass a dedupe window, and \
                 pacing is this host's alone; messages are delivered or spooled as ever",
                self.server.shown(),
                describe(err)
            );
        }
        None
    }
}

/// A lock on the state server, let go of when dropped.
pub struct Lock {
    shared: Arc<Shared>,
    key: String,
    token: String,
}

impl Drop for Lock {
    fn drop(&mut self) {
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(UNLOCK));
        let _: Option<i64> = self
            .shared
            .call(|c| SCRIPT.key(&self.key).arg(&self.token).invoke(c));
    }
}

/// What went wrong, without the URL (which messages give, redacted).
fn describe(err: &redis::RedisError) -> String {
    if err.is_timeout() {
        return "it did not answer in time".into();
    }
    if err.is_io_error() || err.is_connection_dropped() {
        return format!("cannot reach it: {err}");
    }
    err.to_string()
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    (bytes.len() <= MAX_VALUE_BYTES)
        .then(|| serde_json::from_slice(bytes).ok())
        .flatten()
}

fn short_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Lets go of a lock only if it is still this holder's.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// A fixed window's count: -1 when counted, else the window's milliseconds left.
const COUNT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if n <= tonumber(ARGV[1]) then
  return -1
end
redis.call('DECR', KEYS[1])
return redis.call('PTTL', KEYS[1])";

/// A bucket of one turn per ARGV[1] microseconds (a GCRA without burst):
/// the key holds when the next turn is, by the server's clock. A caller
/// whose turn comes within ARGV[2] microseconds is given it ({1, wait});
/// one that could not wait that long takes nothing ({0, wait}).
const TURN: &str = r"
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local next = tonumber(redis.call('GET', KEYS[1]) or '0')
if next < now then
  next = now
end
if next - now > tonumber(ARGV[2]) then
  return {0, next - now}
end
redis.call('SET', KEYS[1], next + interval, 'PX', math.ceil((next + interval - now) / 1000) + 1000)
return {1, next - now}";
