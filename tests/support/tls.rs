//! A private CA and a TLS front for the test bed: the front terminates TLS with a
//! certificate for 127.0.0.1 signed by a CA made for the test (rcgen), and hands each
//! request on to the bed over plain HTTP, so chime can be tested against a server that
//! only a private CA vouches for. One request per connection: the front closes after
//! each answer, which a keep-alive client takes in its stride.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA made for one test, and the file its certificate is written to.
pub struct TestCa {
    pub pem_path: PathBuf,
    config: Arc<rustls::ServerConfig>,
    /// The server's certificate and key, as PEM, for a server that is not
    /// this front (the SMTP server of the email tests).
    pub leaf_pem: String,
    pub key_pem: String,
}

impl TestCa {
    /// A CA whose certificate is written to `dir/name`, and a server certificate for
    /// 127.0.0.1 that it signs.
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "chime test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let pem_path = dir.join(name);
        std::fs::write(&pem_path, ca.pem()).unwrap();
        let (leaf_pem, key_pem) = (leaf.pem(), leaf_key.serialize_pem());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        TestCa {
            pem_path,
            config: Arc::new(config),
            leaf_pem,
            key_pem,
        }
    }

    /// Starts a front on 127.0.0.1 that forwards to `backend` (`http://HOST:PORT`);
    /// gives its `https://127.0.0.1:PORT`.
    pub fn front(&self, backend: &str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = backend.trim_start_matches("http://").to_owned();
        let config = Arc::clone(&self.config);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (config, backend) = (Arc::clone(&config), backend.clone());
                thread::spawn(move || forward(stream, config, &backend));
            }
        });
        format!("https://{addr}")
    }
}

/// Reads one request off TLS, has the bed answer it, writes the answer back.
fn forward(tcp: TcpStream, config: Arc<rustls::ServerConfig>, backend: &str) {
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        // A client that refused the certificate ends here.
        if tls.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") {
            continue;
        }
        if line == "\r\n" {
            head.push_str("Connection: close\r\n\r\n");
            break;
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    if tls.read_exact(&mut body).is_err() {
        return;
    }
    let mut bed = TcpStream::connect(backend).unwrap();
    bed.write_all(head.as_bytes()).unwrap();
    bed.write_all(&body).unwrap();
    let mut answer = Vec::new();
    let _ = bed.read_to_end(&mut answer);
    let tls = tls.get_mut();
    let _ = tls.write_all(&answer);
    tls.conn.send_close_notify();
    let _ = tls.flush();
}
