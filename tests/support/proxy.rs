//! A local HTTP proxy the test starts: `CONNECT host:port` tunnels (for https), an
//! absolute-URI request (`POST http://host:port/path`) is forwarded in origin form (for
//! http). It records each request line and its `Proxy-Authorization`, so a test can
//! assert what went through it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// What one client asked of the proxy.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `CONNECT 127.0.0.1:PORT HTTP/1.1` or `POST http://… HTTP/1.1`.
    pub line: String,
    pub authorization: Option<String>,
}

pub struct Proxy {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Proxy {
    pub fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let record = Arc::clone(&record);
                thread::spawn(move || serve(stream, &record));
            }
        });
        Proxy { url, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(client: TcpStream, record: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    let mut authorization = None;
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("proxy-authorization:") {
            authorization = Some(header[header.len() - value.len()..].trim().to_owned());
            continue;
        }
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if !lower.starts_with("connection:") && !lower.starts_with("proxy-connection:") {
            headers.push(header);
        }
    }
    let line = line.trim_end().to_owned();
    record.lock().unwrap().push(Seen {
        line: line.clone(),
        authorization,
    });
    let mut words = line.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let mut client = client;
    if method == "CONNECT" {
        let Ok(upstream) = TcpStream::connect(target) else {
            return;
        };
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
        let mut down_write = client.try_clone().unwrap();
        thread::spawn(move || {
            let _ = std::io::copy(&mut up_read, &mut down_write);
        });
        let _ = std::io::copy(&mut reader, &mut up_write);
        return;
    }
    let rest = target.trim_start_matches("http://");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let mut upstream = TcpStream::connect(host).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    headers.iter().for_each(|h| head.push_str(h));
    head.push_str("Connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes()).unwrap();
    upstream.write_all(&body).unwrap();
    let mut answer = Vec::new();
    let _ = upstream.read_to_end(&mut answer);
    let _ = client.write_all(&answer);
}
