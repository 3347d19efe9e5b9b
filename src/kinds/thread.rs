//! What a kind's threads are made of: the key a part is sent under, the
//! message a key points at once posted, how a kind threads, and what a look
//! on the platform for a key's first message found (`Platform::thread_search`).

use serde::{Deserialize, Serialize};

use super::Payload;

/// The key a part is sent under, as `--thread` or `--update` gave it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRef {
    pub key: String,
    /// Replace the message remembered under the key (`--update`, first part).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub edit: bool,
    /// Show a reply in the channel too (`--broadcast`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub broadcast: bool,
}

/// A message a platform accepted, as it identifies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
    /// Seconds since the epoch when it was first posted.
    pub at: u64,
}

/// What one step of a look for a thread's first message found
/// ([`Platform::thread_found`]).
#[derive(Debug)]
pub enum Search {
    Found(Posted),
    Missing,
    /// Another request to make: the next page of a list.
    Next(Payload),
    /// The ID of the channel the message goes to (given by name), worth
    /// remembering, and the request to make next.
    ChannelId(String, Payload),
}

/// How a kind can honour `--thread KEY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threading {
    /// It cannot: the message is posted normally, with a warning.
    Unsupported,
    /// The platform threads by a key of ours (Google Chat's `threadKey`).
    ByKey,
    /// The platform threads by the id of the first message, which chime remembers
    /// (Slack's `thread_ts`).
    ByMessage,
    /// Every message already goes into the one thread the profile names
    /// (Discord's `thread_id`); a key changes nothing, and needs no warning.
    Fixed,
}
