//! A real SMTP server for the email tests: aiosmtpd, run by
//! `smtp_server.py` on a free loopback port, with STARTTLS or TLS from the
//! start on a certificate of a test CA ([`TestCa`]), a test account, and
//! replies a test can steer. What it took (or refused at the end of DATA)
//! is read back as Python's `email` package parsed it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::tls::TestCa;
use super::tools;

pub const USER: &str = "alerts@example.com";
pub const PASSWORD: &str = "correct-horse-battery";
pub const TOKEN: &str = "ya29.fake-oauth2-access-token";

/// How the server secures its connections.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    StartTls,
    Implicit,
}

pub struct Smtp {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    /// The CA that signs its certificate, for `ca_file` (TLS modes only).
    pub ca: Option<PathBuf>,
}

/// One message as the server got it.
#[derive(Debug)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// Who logged in, if anyone.
    pub login: Option<String>,
    pub raw: String,
    pub content_type: String,
    pub text: String,
    pub html: String,
    headers: Value,
    /// Each attachment's file name, content type and bytes.
    pub attachments: Vec<(String, String, Vec<u8>)>,
    /// The reply it was refused with, for a refused one.
    pub answer: Option<String>,
}

impl Received {
    /// A header, decoded (RFC 2047) as a reader shows it.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers[name.to_ascii_lowercase()]
            .as_str()
            .map(str::to_owned)
    }
}

impl Smtp {
    /// A server in `dir` (its records and steering files) with the test account.
    pub fn start(dir: &Path, mode: Mode) -> Smtp {
        let python = tools::python_with("aiosmtpd", "python3-aiosmtpd", "aiosmtpd");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let root = dir.join("smtp");
        std::fs::create_dir_all(&root).unwrap();
        let mut cmd = Command::new(python);
        cmd.arg(&script).arg(&root);
        let ca = match mode {
            Mode::Plain => {
                cmd.arg("plain");
                None
            }
            Mode::StartTls | Mode::Implicit => {
                let ca = TestCa::new(dir, "smtp-ca.pem");
                let (cert, key) = (dir.join("smtp-cert.pem"), dir.join("smtp-key.pem"));
                std::fs::write(&cert, &ca.leaf_pem).unwrap();
                std::fs::write(&key, &ca.key_pem).unwrap();
                let name = if mode == Mode::StartTls {
                    "starttls"
                } else {
                    "implicit"
                };
                cmd.arg(name).arg(cert).arg(key);
                Some(ca.pem_path)
            }
        };
        cmd.args(["--user", USER, "--password", PASSWORD, "--token", TOKEN]);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the SMTP server did not start: {line:?}"));
        Smtp {
            child,
            port,
            dir: root,
            ca,
        }
    }

    /// Replies `line` at `stage` ("rcpt" or "data") in place of 250: always,
    /// or only the next time when `once`.
    pub fn answer(&self, stage: &str, line: &str, once: bool) {
        let text = if once {
            format!("{line}\nonce\n")
        } else {
            format!("{line}\n")
        };
        std::fs::write(self.dir.join(format!("answer-{stage}")), text).unwrap();
    }

    /// Back to taking every message.
    pub fn accept(&self) {
        for stage in ["rcpt", "data"] {
            let _ = std::fs::remove_file(self.dir.join(format!("answer-{stage}")));
        }
    }

    /// The messages it took, in order.
    pub fn messages(&self) -> Vec<Received> {
        read_all(&self.dir.join("messages"))
    }

    /// The messages it refused at the end of DATA, in order.
    pub fn refused(&self) -> Vec<Received> {
        read_all(&self.dir.join("refused"))
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_all(dir: &Path) -> Vec<Received> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    paths
        .iter()
        .map(|p| parse(&std::fs::read_to_string(p).unwrap()))
        .collect()
}

fn parse(json: &str) -> Received {
    let v: Value = serde_json::from_str(json).unwrap();
    let s = |key: &str| v[key].as_str().unwrap_or_default().to_owned();
    // A part's lines end in CRLF on the wire; a reader sees lines.
    let lines = |key: &str| s(key).replace("\r\n", "\n");
    Received {
        mail_from: s("mail_from"),
        rcpt_tos: v["rcpt_tos"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        login: v["login"].as_str().map(str::to_owned),
        raw: s("raw"),
        content_type: s("content_type"),
        text: lines("text"),
        html: lines("html"),
        headers: v["headers"].clone(),
        attachments: v["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let field = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
                (
                    field("filename"),
                    field("content_type"),
                    unbase64(&field("base64")),
                )
            })
            .collect(),
        answer: v["answer"].as_str().map(str::to_owned),
    }
}

/// Standard base64, as Python wrote it.
fn unbase64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let value = ALPHABET.iter().position(|a| *a == c).expect("base64") as u32;
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
