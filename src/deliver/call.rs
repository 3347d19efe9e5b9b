//! Requests that are not messages: what `chime ask` reads and asks of a
//! platform beside posting (a user list, a channel's history, an update
//! poll), and the clients its long-lived connections go through. One try
//! each, within its time, the answer bounded; trying again is the caller's
//! call, since only it knows whether the request may be repeated.

use std::time::Duration;

use super::Clients;
use super::wire::{Reply, send_reading};
use crate::config::Destination;
use crate::kinds::{Answer, HttpRequest};

/// The most of an answer a read keeps: a page of a workspace's users is a
/// few hundred KiB.
const MAX_READ_BYTES: usize = 1 << 20;

/// Sends `request` once through `destination`'s client and reads its
/// answer, or says why none came.
pub async fn call(
    clients: &Clients,
    destination: &Destination,
    request: &HttpRequest,
    timeout: Duration,
) -> Result<Answer, String> {
    let client = client(clients, destination, request.url.expose())?;
    match send_reading(&client, request, timeout, false, MAX_READ_BYTES).await {
        // A read cut at the bound is no answer to act on: half a list of
        // updates would confirm what was never read.
        Reply::Answered(answer) if answer.body.len() >= MAX_READ_BYTES => Err(format!(
            "the answer is longer than {} KiB",
            MAX_READ_BYTES >> 10
        )),
        Reply::Answered(answer) => Ok(answer),
        Reply::Cut(_, why) | Reply::NotSent(why) | Reply::Unanswered(why) => Err(why),
    }
}

/// The client `destination`'s settings pick for `url` (its CA, its proxy).
pub fn client(
    clients: &Clients,
    destination: &Destination,
    url: &str,
) -> Result<reqwest::Client, String> {
    let proxy = destination.proxy.as_ref();
    let plain = url.starts_with("http://") && !proxy.is_some_and(|p| p.key().starts_with("https:"));
    clients.get(destination.ca_file.as_ref(), proxy, plain)
}
