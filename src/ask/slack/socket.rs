//! One Socket Mode connection: `apps.connections.open` with the app-level
//! token gives a WebSocket URL for one connection; Slack says `hello`, then
//! sends envelopes, each to be acknowledged within 3 seconds or sent again,
//! and a `disconnect` when it wants the client to reconnect (PLATFORMS.md
//! §2.8).
//!
//! The WebSocket goes through the destination's own HTTP client (its
//! `ca_file`, its proxy): the URL is opened as an HTTP/1.1 upgrade and the
//! upgraded connection handed to tungstenite. A `ws://` URL is taken only
//! from an `api_url` that is itself `http://` (a test bed, a local relay):
//! from Slack it would mean clicks in clear.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::ask::Context;
use crate::secret::Secret;

/// A frame larger than this is no envelope of Slack's (a block_actions
/// payload with the whole message is some tens of KiB).
const MAX_FRAME: usize = 1 << 20;
/// How often chime pings a quiet connection; one that stays silent for
/// two of these (no pong, no frame) is taken for broken, as a half-open
/// TCP connection would otherwise wait out the whole question.
const PING_EVERY: Duration = Duration::from_secs(30);
/// How many envelope ids are remembered to tell a retry from a new one.
const SEEN: usize = 256;

/// What opening a connection came to, when it did not.
#[derive(Debug)]
pub enum OpenError {
    /// Slack refused the token or the app: `error` is its code.
    Refused(String),
    /// The network or Slack failed: worth trying again.
    Failed(String),
}

/// What the connection brought.
pub enum Event {
    /// An envelope, already acknowledged: its type and payload.
    Envelope { kind: String, payload: Value },
    /// Slack asks for a new connection (`refresh_requested`, `warning`), or
    /// has turned Socket Mode off (`link_disabled`).
    Disconnect(String),
    /// The connection ended, or broke.
    Closed(String),
}

pub struct Socket {
    ws: WebSocketStream<reqwest::Upgraded>,
    /// The last envelope ids seen, so a retry of one already handled is
    /// only acknowledged; Slack retries within seconds, so a few hundred
    /// cover it, and an app that also receives events grows nothing.
    seen: std::collections::VecDeque<String>,
    /// When the last frame of any kind arrived, and when chime last pinged.
    heard: Instant,
    pinged: Instant,
}

/// An event, and the connection (numbered by the asker) it came on.
pub type Tagged = (u64, Event);

/// Reads `socket` in a task of its own until it closes, handing each event
/// to `events`: envelopes are acknowledged there the moment they arrive,
/// whatever the asker is busy with (a call waiting out a rate limit), and
/// no frame is lost to a wait that ends for another reason.
pub fn listen(
    mut socket: Socket,
    id: u64,
    events: mpsc::UnboundedSender<Tagged>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let event = socket.next().await;
            let closed = matches!(event, Event::Closed(_));
            if events.send((id, event)).is_err() || closed {
                break;
            }
        }
        socket.close().await;
    })
}

/// Opens a connection and waits for Slack's `hello`.
pub async fn open(
    ctx: &Context<'_>,
    api_url: &str,
    app_token: &Secret,
) -> Result<Socket, OpenError> {
    let url = connection_url(ctx, api_url, app_token).await?;
    let http_url = match url.split_once("://") {
        Some(("wss", rest)) => format!("https://{rest}"),
        Some(("ws", rest)) if api_url.starts_with("http://") => format!("http://{rest}"),
        _ => {
            return Err(OpenError::Refused(format!(
                "unexpected URL from Slack: {url}"
            )));
        }
    };
    let client = crate::deliver::client(ctx.clients, ctx.destination, &http_url)
        .map_err(OpenError::Failed)?;
    let key = generate_key();
    let response = client
        .get(&http_url)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", &key)
        .timeout(ctx.timeout)
        .send()
        .await
        .map_err(|e| OpenError::Failed(format!("cannot reach Socket Mode: {}", e.without_url())))?;
    let accepted = response
        .headers()
        .get("sec-websocket-accept")
        .and_then(|v| v.to_str().ok())
        == Some(derive_accept_key(key.as_bytes()).as_str());
    if response.status() != reqwest::StatusCode::SWITCHING_PROTOCOLS || !accepted {
        let status = response.status();
        return Err(OpenError::Failed(format!(
            "Socket Mode answered {status}, not a WebSocket"
        )));
    }
    let upgraded = response.upgrade().await.map_err(|e| {
        OpenError::Failed(format!("Socket Mode upgrade failed: {}", e.without_url()))
    })?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME));
    let ws = WebSocketStream::from_raw_socket(upgraded, Role::Client, Some(config)).await;
    let mut socket = Socket {
        ws,
        seen: std::collections::VecDeque::new(),
        heard: Instant::now(),
        pinged: Instant::now(),
    };
    socket.hello(ctx.timeout).await?;
    Ok(socket)
}

/// `apps.connections.open`: the URL of a new connection.
async fn connection_url(
    ctx: &Context<'_>,
    api_url: &str,
    app_token: &Secret,
) -> Result<String, OpenError> {
    let app = super::api::Api {
        url: api_url.to_owned(),
        token: app_token.clone(),
    };
    let form = "application/x-www-form-urlencoded";
    let request = app.request("apps.connections.open", "", form);
    let answer = ctx.call(&request).await.map_err(OpenError::Failed)?;
    if answer.status == 429 || answer.status >= 500 {
        return Err(OpenError::Failed(format!(
            "apps.connections.open answered {}",
            answer.status
        )));
    }
    let body: Value = serde_json::from_str(&answer.body).unwrap_or_default();
    match body["url"].as_str() {
        Some(url) if body["ok"] == true => Ok(url.to_owned()),
        _ => {
            let code = body["error"].as_str().unwrap_or("not a Slack API answer");
            Err(OpenError::Refused(code.to_owned()))
        }
    }
}

impl Socket {
    async fn hello(&mut self, timeout: Duration) -> Result<(), OpenError> {
        let waited = tokio::time::timeout(timeout, async {
            loop {
                match self.frame().await {
                    Ok(Some(value)) if value["type"] == "hello" => return Ok(()),
                    Ok(Some(_)) => continue,
                    Ok(None) => return Err("closed before hello".to_owned()),
                    Err(why) => return Err(why),
                }
            }
        })
        .await;
        match waited {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(OpenError::Failed(format!("Socket Mode: {why}"))),
            Err(_) => Err(OpenError::Failed("Socket Mode sent no hello".into())),
        }
    }

    /// The next thing that happens on the connection. Every envelope is
    /// acknowledged the moment it arrives, before anything is done about
    /// it: Slack sends it again after 3 seconds otherwise, and a click
    /// handled twice would be settled twice.
    pub async fn next(&mut self) -> Event {
        loop {
            let value = match self.frame().await {
                Ok(Some(value)) => value,
                Ok(None) => return Event::Closed("Slack closed the connection".into()),
                Err(why) => return Event::Closed(why),
            };
            if value["type"] == "disconnect" {
                let reason = value["reason"].as_str().unwrap_or("unknown");
                return Event::Disconnect(reason.to_owned());
            }
            let Some(id) = value["envelope_id"].as_str() else {
                continue;
            };
            if let Err(why) = self.ack(id).await {
                return Event::Closed(why);
            }
            if self.seen.iter().any(|seen| seen == id) {
                continue;
            }
            if self.seen.len() == SEEN {
                self.seen.pop_front();
            }
            self.seen.push_back(id.to_owned());
            let kind = value["type"].as_str().unwrap_or_default().to_owned();
            return Event::Envelope {
                kind,
                payload: value["payload"].clone(),
            };
        }
    }

    async fn ack(&mut self, id: &str) -> Result<(), String> {
        let ack = json!({ "envelope_id": id }).to_string();
        self.ws
            .send(Frame::text(ack))
            .await
            .map_err(|e| format!("cannot acknowledge: {e}"))
    }

    /// The next text frame as JSON; Slack's pings are answered by
    /// tungstenite as it reads, and a quiet connection is pinged.
    async fn frame(&mut self) -> Result<Option<Value>, String> {
        loop {
            let quiet = tokio::time::sleep_until((self.heard.max(self.pinged) + PING_EVERY).into());
            let next = tokio::select! {
                next = self.ws.next() => next,
                () = quiet => {
                    if self.heard.elapsed() >= PING_EVERY * 2 {
                        return Err("Socket Mode went quiet: no answer to a ping".into());
                    }
                    self.pinged = Instant::now();
                    let _ = self.ws.send(Frame::Ping(Vec::new().into())).await;
                    continue;
                }
            };
            self.heard = Instant::now();
            match next {
                None | Some(Ok(Frame::Close(_))) => return Ok(None),
                Some(Ok(Frame::Text(text))) => {
                    return Ok(Some(serde_json::from_str(&text).unwrap_or_default()));
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(format!("Socket Mode connection broke: {err}")),
            }
        }
    }

    /// Closes the connection politely; a failure to is no concern.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}
