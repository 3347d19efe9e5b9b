//! The state server (`[state] url`, `CHIME_STATE_URL`): a Redis (5 or
//! later), or a Valkey, that the hosts of a fleet and the runners of a CI
//! run share, so that thread keys, job outcomes, dedupe windows, limit
//! counts and pacing are the fleet's rather than one host's.
//!
//! Every change two hosts may race on is one atomic operation on the
//! server: `SET NX PX` for a claim or a lock (released by a script that
//! checks it is still the holder's), `GETSET` for a job's outcome, a Lua
//! script for a limit's count and for a pacing bucket — never a read, a
//! decision and a write from here.
//!
//! Keys are `<prefix>:<what>:<scope>:<hash of the key>`. The scope is the
//! destination's `state_key` (a hash of its kind, URL, account and where it
//! posts), the same on every host that has the same destination however it
//! names it; the key is hashed too. So no key or value holds a secret. The
//! profile's name is not part of a key: the runners of one CI run name a
//! profile by a path of their own; `prefix` keeps apart what should not
//! meet.
//!
//! The spool stays on each host's disk: a message must survive the network
//! and the server being down. When the server cannot be reached (or refuses
//! chime), that is said once, and the process keeps its state on the host
//! for [`RETRY_AFTER`] before it asks the server again: coordination is
//! lost for a while, never a message.
//!
//! The client is the `redis` crate's blocking connection, one per server,
//! login and process, opened on first use and bounded by `connect_timeout`
//! for every call: chime's state interface is synchronous and each call is
//! one round trip, which on the current-thread runtime costs less than
//! handing it to an async client.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime};

use redis::{Commands, Connection, RedisResult};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::StateServer;

/// A call that takes longer than this is a server that is not there.
const MIN_CALL_TIMEOUT: Duration = Duration::from_secs(2);
const LOCK_POLL: Duration = Duration::from_millis(5);
/// How long a process that lost the server keeps its state on the host
/// before it tries the server again: a `chime pipe` runs for days.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// A record is a few hundred bytes; a bigger value is not chime's.
const MAX_VALUE_BYTES: usize = 256 << 10;
/// As a destination's `ca_file` is bounded.
const MAX_CA_BYTES: u64 = 4 << 20;

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

/// The state server of the profile whose state is in `profile_dir`, if it
/// has one; whether to ask it now is [`Shared::is_up`]'s, at each call.
pub fn of(profile_dir: &Path) -> Option<Arc<Shared>> {
    let servers = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    servers.get(profile_dir).cloned()
}

/// One state server, as this process talks to it.
pub struct Shared {
    server: StateServer,
    connection: Mutex<Option<Connection>>,
    /// When it last failed: from then on, for [`RETRY_AFTER`], this process
    /// keeps its state on the host.
    down: Mutex<Option<Instant>>,
    /// Whether the failure was said: once a process.
    said: AtomicBool,
    quiet: bool,
}

impl Shared {
    fn new(server: StateServer, quiet: bool) -> Shared {
        Shared {
            server,
            connection: Mutex::new(None),
            down: Mutex::new(None),
            said: AtomicBool::new(false),
            quiet,
        }
    }

    /// Whether to ask the server: not for a while after it failed.
    pub fn is_up(&self) -> bool {
        let down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        down.is_none_or(|at| at.elapsed() >= RETRY_AFTER)
    }

    /// `<prefix>:<what>:<scope>:<hash of the key>`. The key is hashed: a
    /// thread or dedupe key may be any text, and a job's name is its
    /// command line, which may hold a token; the server is read by more
    /// people than a private state directory.
    pub fn key(&self, what: &str, scope: &str, key: &str) -> String {
        let hashed = short_hash(key.as_bytes());
        format!("{}:{what}:{scope}:{hashed}", self.server.prefix)
    }

    /// A record, `Some(None)` when there is none; `None` when the server
    /// failed. At most [`MAX_VALUE_BYTES`] are read: a bigger value is not
    /// chime's.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<Option<T>> {
        let end = isize::try_from(MAX_VALUE_BYTES).unwrap_or(isize::MAX);
        let bytes: Vec<u8> = self.call(|c| c.getrange(key, 0, end))?;
        Some(decode(&bytes))
    }

    /// Files `member` in the index `index` under when it falls due.
    pub fn index(&self, index: &str, member: &str, due: SystemTime) -> Option<()> {
        let score = epoch_millis(due);
        self.call(|c| c.zadd::<_, _, _, ()>(index, member, score))
    }

    pub fn unindex(&self, index: &str, member: &str) -> Option<()> {
        self.call(|c| c.zrem::<_, _, ()>(index, member))
    }

    /// The members of `index` due by `now`, at most `limit` of them.
    pub fn due(&self, index: &str, now: SystemTime, limit: usize) -> Option<Vec<String>> {
        let limit = isize::try_from(limit).unwrap_or(isize::MAX);
        let score = epoch_millis(now);
        self.call(|c| c.zrangebyscore_limit(index, "-inf", score, 0, limit))
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
        // GETSET, not SET … GET: that needs Redis 6.2, which managed
        // servers do not all run.
        let old: Option<Vec<u8>> =
            self.call(|c| redis::cmd("GETSET").arg(key).arg(json).query(c))?;
        Some(old.and_then(|b| decode(&b)))
    }

    pub fn remove(&self, key: &str) -> Option<()> {
        self.call(|c| c.del::<_, ()>(key))
    }

    /// Takes the lock `key`, waiting until `deadline` at most: `Some(None)`
    /// when another holds it still. A lock not let go of (a kill) lapses
    /// after `lease`, which must outlast what it guards.
    pub fn lock(
        self: &Arc<Self>,
        key: &str,
        deadline: Instant,
        lease: Duration,
    ) -> Option<Option<Lock>> {
        let token = short_hash(format!("{:?} {}", Instant::now(), std::process::id()).as_bytes());
        loop {
            let taken: Option<String> = self.call(|c| {
                redis::cmd("SET")
                    .arg(key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(lease))
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

    /// For `chime test`: whether the server answers chime, as whom, and
    /// how fast: a connection, then each kind of operation chime makes, on
    /// a key of the test's own (an ACL user without them would pass a PING
    /// and fail every send).
    pub fn check(server: &StateServer) -> Result<Duration, String> {
        let shared = Shared::new(server.clone(), true);
        let started = Instant::now();
        let mut c = shared.connect().map_err(|e| describe(&e))?;
        let key = shared.key("test", "chime-test", &std::process::id().to_string());
        exercise(&mut c, &key).map_err(|e| describe(&e))?;
        Ok(started.elapsed())
    }

    /// Runs `f` on the connection, opening it first if need be; a failure
    /// marks the server down for [`RETRY_AFTER`], said once a process.
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
            Ok(value) => {
                *self.down.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Some(value)
            }
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
                // Checked when the profile loaded; bounded again, as read now.
                let pem = crate::spool::fs::read_bounded(&ca.path, MAX_CA_BYTES)
                    .map_err(|e| std::io::Error::other(format!("ca_file: {e:?}")))?;
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
        *self.down.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        if !self.said.swap(true, Ordering::Relaxed) && !self.quiet {
            eprintln!(
                "chime: warning: the state server {} failed ({}): this run keeps its state on this \
                 host meanwhile, so a thread may fork, a repeat may pass a dedupe window, and \
                 pacing is this host's alone; messages are delivered or spooled as ever \
                 (`chime test` checks the server)",
                self.server.shown(),
                describe(err)
            );
        }
        None
    }
}

/// Each kind of operation chime makes, once, on `key`, and the key gone.
fn exercise(c: &mut Connection, key: &str) -> RedisResult<()> {
    let _: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg("1")
        .arg("NX")
        .arg("PX")
        .arg(10_000)
        .query(c)?;
    let _: Option<String> = redis::cmd("GETSET").arg(key).arg("2").query(c)?;
    let _: Vec<u8> = c.getrange(key, 0, 16)?;
    c.del::<_, ()>(key)?;
    let _: i64 = redis::Script::new(COUNT)
        .key(key)
        .arg(1)
        .arg(1000)
        .invoke(c)?;
    let _: (i64, i64) = redis::Script::new(TURN)
        .key(format!("{key}:turn"))
        .arg(1)
        .arg(1)
        .invoke(c)?;
    let _: i64 = redis::Script::new(UNLOCK).key(key).arg("-").invoke(c)?;
    c.zadd::<_, _, _, ()>(format!("{key}:due"), "m", 1.0)?;
    c.del::<_, ()>(&[key.to_owned(), format!("{key}:turn"), format!("{key}:due")])?;
    Ok(())
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

fn epoch_millis(at: SystemTime) -> f64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
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
