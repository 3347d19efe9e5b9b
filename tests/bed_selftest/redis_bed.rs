//! Tests of the Redis harness (`support/redis.rs`): the shared-state tests trust it to
//! start a real server, read back what chime left there, and take the server away and
//! bring it back on the same port, so each of those is checked here without chime.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::support::redis::{Redis, Reply};
use crate::support::tools;

/// One RESP command written by hand on a connection of its own, so a check of the
/// password does not go through the harness's client, which authenticates. The first
/// line of the answer; empty when the server hung up instead.
fn raw(port: u16, command: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(format!("{command}\r\n").as_bytes());
    let mut line = String::new();
    let _ = BufReader::new(stream).read_line(&mut line);
    line.trim_end().to_owned()
}

#[test]
fn a_started_redis_keeps_what_it_is_given_and_reads_back_every_type() {
    let redis = Redis::start();
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}", redis.port()));
    redis.set("chime:a", "one");
    assert_eq!(redis.get("chime:a").as_deref(), Some("one"));
    assert_eq!(redis.get("chime:missing"), None);
    redis.command(&["HSET", "chime:h", "field", "value"]);
    redis.command(&["RPUSH", "chime:l", "x", "y"]);
    redis.command(&["ZADD", "chime:z", "2", "member"]);
    redis.command(&["XADD", "chime:s", "*", "line", "streamed"]);
    redis.set("other", "two");
    assert_eq!(
        redis.keys("chime:*"),
        ["chime:a", "chime:h", "chime:l", "chime:s", "chime:z"]
    );
    assert_eq!(redis.dump("chime:h"), "field\nvalue");
    assert_eq!(redis.dump("chime:l"), "x\ny");
    assert_eq!(redis.dump("chime:z"), "member\n2");
    assert!(redis.dump("chime:s").ends_with("line\nstreamed"));
    assert_eq!(redis.dump("chime:missing"), "");
    assert_eq!(redis.everything().len(), 6);
}

#[test]
fn a_stopped_redis_refuses_connections_at_once_and_restarts_empty_on_the_same_port() {
    let mut redis = Redis::start();
    let url = redis.url();
    redis.set("k", "v");
    redis.stop();
    assert!(!redis.is_up());
    let refused = TcpStream::connect_timeout(
        &([127, 0, 0, 1], redis.port()).into(),
        Duration::from_secs(1),
    );
    let error = refused.expect_err("nothing listens while it is stopped");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(redis.try_command(&["PING"]).is_err());
    redis.restart();
    assert!(redis.is_up());
    assert_eq!(redis.url(), url, "the same port");
    assert_eq!(redis.command(&["PING"]), Reply::Status("PONG".into()));
    assert!(redis.keys("*").is_empty(), "nothing was kept on disk");
    // Twice, as a test that takes the server away more than once does.
    redis.stop();
    redis.restart();
    assert_eq!(redis.get("k"), None);
}

#[test]
fn dropping_redis_kills_the_server() {
    let redis = Redis::start();
    let port = redis.port();
    let pid = redis.command(&["INFO", "server"]).text();
    let pid = pid
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .unwrap()
        .trim()
        .to_owned();
    drop(redis);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "redis-server {pid} is gone"
    );
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_redis_with_a_password_answers_only_those_who_give_it() {
    let redis = Redis::start_with_password("FAKESTATEPASSWORD1");
    redis.set("k", "v");
    assert_eq!(redis.get("k").as_deref(), Some("v"));
    assert!(raw(redis.port(), "GET k").starts_with("-NOAUTH"));
    assert!(raw(redis.port(), "AUTH wrong").starts_with("-WRONGPASS"));
    assert_eq!(raw(redis.port(), "AUTH FAKESTATEPASSWORD1"), "+OK");
    let mut redis = redis;
    redis.stop();
    redis.restart();
    assert!(
        raw(redis.port(), "GET k").starts_with("-NOAUTH"),
        "still asks after a restart"
    );
}

#[test]
fn a_tls_redis_answers_over_tls_to_a_client_that_trusts_its_ca() {
    let redis = Redis::start_tls();
    assert!(redis.url().starts_with("rediss://127.0.0.1:"));
    redis.set("k", "over plain, for the tests");
    let cli = tools::require("redis-cli", "redis-server");
    let port = redis.port().to_string();
    let ca = redis.ca_file().display().to_string();
    let over_tls = |extra: &[&str]| {
        let mut cmd = Command::new(&cli);
        cmd.args(["-h", "127.0.0.1", "-p", &port, "--tls"])
            .args(extra)
            .args(["GET", "k"]);
        crate::support::run_within(cmd, Duration::from_secs(20))
    };
    let trusted = over_tls(&["--cacert", &ca]).code(0);
    assert_eq!(
        trusted.stdout.trim(),
        "over plain, for the tests",
        "{trusted}"
    );
    let untrusted = over_tls(&[]);
    assert!(
        !untrusted.stdout.contains("over plain"),
        "a client without the CA is refused\n{untrusted}"
    );
    let plain = raw(redis.port(), "PING");
    assert_ne!(plain, "+PONG", "the TLS port does not speak plain RESP");
}
