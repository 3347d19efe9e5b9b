//! Tests of the Telegram stand-in's side of `chime ask`: inline keyboards, getUpdates long
//! polls and their conflicts, callback queries and their answers (PLATFORMS.md §5 and the
//! Bot API server's `Client.cpp`).

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Client, JSON_UTF8, Reply};
use crate::support::bed::Bed;
use crate::support::telegram::{PREFIX, Telegram};

const TOKEN: &str = "123456:bed-selftest";
const CHAT: i64 = 42;
const TOO_OLD: &str =
    "Bad Request: query is too old and response timeout expired or query ID is invalid";

/// A bed with the stand-in mounted, the token valid and `CHAT` a private chat.
fn bed() -> (Bed, Arc<Telegram>) {
    let bed = Bed::start();
    bed.no_rate_limit();
    let telegram = Telegram::new();
    bed.mount(PREFIX, telegram.clone());
    telegram.add_token(TOKEN);
    telegram.add_chat(CHAT, None);
    (bed, telegram)
}

fn call(bed: &Bed, method: &str, params: &Value) -> Reply {
    let url = format!("{}/telegram/bot{TOKEN}/{method}", bed.url());
    let body = params.to_string();
    let headers = [("content-type", JSON_UTF8)];
    Client::to(&url)
        .post(&url, &headers, body.as_bytes())
        .unwrap()
}

/// A getUpdates that may wait, on a client that waits longer than any poll.
fn poll(bed: &Bed, params: Value) -> Reply {
    let url = format!("{}/telegram/bot{TOKEN}/getUpdates", bed.url());
    let mut client = Client::to(&url);
    let timeout = Some(Duration::from_secs(60));
    client.0.get_mut().set_read_timeout(timeout).unwrap();
    let body = params.to_string();
    let headers = [("content-type", JSON_UTF8)];
    client.post(&url, &headers, body.as_bytes()).unwrap()
}

fn keyboard(buttons: &[(&str, &str)]) -> Value {
    let button = |(text, data): &(&str, &str)| json!({"text": text, "callback_data": data});
    let row: Vec<Value> = buttons.iter().map(button).collect();
    json!({"inline_keyboard": [row]})
}

fn send(bed: &Bed, markup: Value) -> Reply {
    let message = json!({"chat_id": CHAT, "text": "Deploy?", "reply_markup": markup});
    call(bed, "sendMessage", &message)
}

/// Asks "Deploy?" with Approve and Deny; returns the message ID.
fn ask(bed: &Bed) -> i64 {
    let sent = send(bed, keyboard(&[("Approve", "a:1"), ("Deny", "d:1")]));
    assert_eq!(sent.status, 200, "{}", sent.body);
    sent.json()["result"]["message_id"].as_i64().unwrap()
}

/// A refusal's status and description, checked to be Telegram's envelope.
fn refusal(reply: &Reply) -> (u16, String) {
    let body = reply.json();
    assert_eq!(body["ok"], false, "{}", reply.body);
    assert_eq!(body["error_code"], reply.status);
    (
        reply.status,
        body["description"].as_str().unwrap().to_owned(),
    )
}

fn updates(reply: &Reply) -> Vec<Value> {
    let body = reply.json();
    assert_eq!(body["ok"], true, "{}", reply.body);
    body["result"].as_array().unwrap().clone()
}

#[test]
fn send_message_keeps_the_keyboard_and_echoes_it_in_the_result() {
    let (bed, telegram) = bed();
    let id = ask(&bed);
    let pair = |t: &str, d: &str| (t.to_owned(), d.to_owned());
    let keys = vec![vec![pair("Approve", "a:1"), pair("Deny", "d:1")]];
    assert_eq!(telegram.posted()[0].keyboard, keys);
    let sent: Value = serde_json::from_str(&bed.requests()[0].response).unwrap();
    let result = &sent["result"];
    assert_eq!(result["message_id"], id);
    let markup = keyboard(&[("Approve", "a:1"), ("Deny", "d:1")]);
    assert_eq!(result["reply_markup"], markup);
    assert_eq!(result["from"]["is_bot"], true);
}

#[test]
fn send_message_refuses_keyboards_as_telegram_does() {
    let (bed, telegram) = bed();
    let refused = |markup: Value| refusal(&send(&bed, markup));
    let bad = |d: &str| (400, format!("Bad Request: {d}"));
    let long = "x".repeat(65);
    assert_eq!(
        refused(keyboard(&[("Go", &long)])),
        bad("BUTTON_DATA_INVALID")
    );
    // Bytes, not characters: 33 two-byte letters are 66 bytes.
    let wide = "é".repeat(33);
    assert_eq!(
        refused(keyboard(&[("Go", &wide)])),
        bad("BUTTON_DATA_INVALID")
    );
    let textless = json!({"inline_keyboard": [[{"callback_data": "x"}]]});
    let no_text = "can't parse inline keyboard button: Can't find field \"text\"";
    assert_eq!(refused(textless), bad(no_text));
    let plain =
        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard";
    assert_eq!(refused(keyboard(&[("Go", "")])), bad(plain));
    let empty = "inline keyboard button text must be non-empty";
    assert_eq!(refused(keyboard(&[("", "x")])), bad(empty));
    let flat = json!({"inline_keyboard": [{"text": "x"}]});
    let rows = "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays";
    assert_eq!(refused(flat), bad(rows));
    let unparsed = "can't parse reply keyboard markup JSON object";
    assert_eq!(refused(json!("{not json")), bad(unparsed));
    assert!(telegram.posted().is_empty());
    let at_limit = "x".repeat(64);
    let sent = send(&bed, keyboard(&[("Go", &at_limit)]));
    assert_eq!(sent.status, 200, "64 bytes is allowed: {}", sent.body);
}

#[test]
fn edit_message_text_without_reply_markup_removes_the_keyboard() {
    let (bed, telegram) = bed();
    let id = ask(&bed);
    let edit = json!({"chat_id": CHAT, "message_id": id, "text": "Deploy?"});
    let edited = call(&bed, "editMessageText", &edit);
    assert_eq!(
        edited.status, 200,
        "dropping the keyboard is a change: {}",
        edited.body
    );
    assert!(edited.json()["result"].get("reply_markup").is_none());
    assert!(telegram.posted()[0].keyboard.is_empty());
    let unchanged = "Bad Request: message is not modified: specified new message content and \
                     reply markup are exactly the same as a current content and reply markup \
                     of the message";
    let again = call(&bed, "editMessageText", &edit);
    assert_eq!(refusal(&again), (400, unchanged.to_owned()));
}

#[test]
fn edit_message_reply_markup_replaces_or_removes_the_keyboard_alone() {
    let (bed, telegram) = bed();
    let id = ask(&bed);
    let markup = keyboard(&[("Undo", "u:1")]);
    let edit = json!({"chat_id": CHAT, "message_id": id, "reply_markup": markup});
    let replaced = call(&bed, "editMessageReplyMarkup", &edit);
    assert_eq!(replaced.json()["result"]["reply_markup"], markup);
    let posted = &telegram.posted()[0];
    assert_eq!(posted.text, "Deploy?");
    assert_eq!(posted.button("Undo"), Some(("Undo".into(), "u:1".into())));
    let edit = json!({"chat_id": CHAT, "message_id": id});
    let removed = call(&bed, "editMessageReplyMarkup", &edit);
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(telegram.posted()[0].keyboard.is_empty());
    let edit = json!({"chat_id": CHAT, "message_id": 99});
    let missing = call(&bed, "editMessageReplyMarkup", &edit);
    assert_eq!(
        refusal(&missing).1,
        "Bad Request: message to edit not found"
    );
}

#[test]
#[should_panic(expected = "has no button \"Approve\"")]
fn click_panics_on_a_button_the_message_no_longer_shows() {
    let (bed, telegram) = bed();
    let id = ask(&bed);
    let edit = json!({"chat_id": CHAT, "message_id": id, "text": "Approved"});
    assert_eq!(call(&bed, "editMessageText", &edit).status, 200);
    telegram.click(CHAT, id, "Approve", 7, None);
}

#[test]
fn long_poll_returns_as_soon_as_a_click_arrives() {
    let (bed, telegram) = bed();
    let id = ask(&bed);
    let started = Instant::now();
    let (reply, query_id) = thread::scope(|s| {
        let poller = s.spawn(|| poll(&bed, json!({"timeout": 30})));
        assert!(
            telegram.wait_for_poll(Duration::from_secs(5)),
            "the poll waits"
        );
        thread::sleep(Duration::from_millis(100));
        let query_id = telegram.click(CHAT, id, "Approve", 7, Some("alice"));
        (poller.join().unwrap(), query_id)
    });
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered when the click came"
    );
    let updates = updates(&reply);
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert!(updates[0]["update_id"].as_i64().unwrap() > 0);
    let query = &updates[0]["callback_query"];
    assert_eq!(query["id"], query_id.as_str());
    assert_eq!(query["data"], "a:1");
    let alice = json!({"id": 7, "is_bot": false, "first_name": "alice", "username": "alice"});
    assert_eq!(query["from"], alice);
    let message = &query["message"];
    assert_eq!(
        (
            &message["message_id"],
            &message["chat"]["id"],
            &message["text"]
        ),
        (&json!(id), &json!(CHAT), &json!("Deploy?"))
    );
    assert_eq!(
        message["reply_markup"]["inline_keyboard"][0][1]["text"],
        "Deny"
    );
    assert!(query["chat_instance"].is_string());
}

#[test]
fn long_poll_without_updates_answers_an_empty_list_at_its_timeout() {
    let (bed, _telegram) = bed();
    let started = Instant::now();
    let reply = poll(&bed, json!({"timeout": 1}));
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(reply.json(), json!({"ok": true, "result": []}));
}

#[test]
fn a_second_waiting_get_updates_ends_the_first_with_409() {
    let (bed, telegram) = bed();
    let (first, second) = thread::scope(|s| {
        let first = s.spawn(|| poll(&bed, json!({"timeout": 30})));
        assert!(telegram.wait_for_poll(Duration::from_secs(5)));
        let second = s.spawn(|| poll(&bed, json!({"timeout": 1})));
        (first.join().unwrap(), second.join().unwrap())
    });
    let conflict = "Conflict: terminated by other getUpdates request; \
                    make sure that only one bot instance is running";
    assert_eq!(refusal(&first), (409, conflict.to_owned()));
    assert!(updates(&second).is_empty());
}

#[test]
fn get_updates_answers_409_while_a_webhook_is_set() {
    let (bed, telegram) = bed();
    telegram.set_webhook(Some("https://example.invalid/hook"));
    let webhook = "Conflict: can't use getUpdates method while webhook is active; \
                   use deleteWebhook to delete the webhook first";
    assert_eq!(refusal(&poll(&bed, json!({}))), (409, webhook.to_owned()));
    let deleted = call(&bed, "deleteWebhook", &json!({}));
    let done = json!({"ok": true, "result": true, "description": "Webhook was deleted"});
    assert_eq!(deleted.json(), done);
    assert!(updates(&poll(&bed, json!({}))).is_empty());
    let hook = json!({"url": "https://example.invalid/hook"});
    let set = call(&bed, "setWebhook", &hook);
    assert_eq!(set.json()["description"], "Webhook was set");
    assert_eq!(refusal(&poll(&bed, json!({}))).0, 409);
}

fn plain(text: &str) -> Value {
    let chat = json!({"id": CHAT, "type": "private"});
    json!({"message": {"message_id": 900, "date": 1, "chat": chat, "text": text}})
}

#[test]
fn an_offset_confirms_and_forgets_the_updates_before_it() {
    let (bed, telegram) = bed();
    let first = telegram.queue_update(plain("one")).unwrap();
    let second = telegram.queue_update(plain("two")).unwrap();
    assert_eq!(second, first + 1);
    assert_eq!(
        updates(&poll(&bed, json!({}))).len(),
        2,
        "nothing confirmed yet"
    );
    let url = bed.url();
    let query = format!("{url}/telegram/bot{TOKEN}/getUpdates?offset={second}&limit=10");
    let rest = updates(&Client::to(&query).send("GET", &query, &[], b"").unwrap());
    assert_eq!(rest.len(), 1);
    assert_eq!(
        (&rest[0]["update_id"], &rest[0]["message"]["text"]),
        (&json!(second), &json!("two"))
    );
    assert_eq!(
        telegram.pending_updates().len(),
        1,
        "the first is forgotten"
    );
    assert_eq!(updates(&poll(&bed, json!({})))[0]["update_id"], second);
    poll(&bed, json!({"offset": second + 1}));
    assert!(telegram.pending_updates().is_empty());
}

#[test]
fn allowed_updates_is_remembered_and_filters_updates_made_after_it() {
    let (bed, telegram) = bed();
    let id = ask(&bed);
    let by_default = telegram.queue_update(plain("hi"));
    assert!(by_default.is_some(), "every type but a few by default");
    poll(&bed, json!({"allowed_updates": ["callback_query"]}));
    assert_eq!(telegram.queue_update(plain("hi")), None);
    telegram.click(CHAT, id, "Deny", 7, None);
    let all = updates(&poll(&bed, json!({})));
    let kinds: Vec<bool> = all
        .iter()
        .map(|u| u.get("callback_query").is_some())
        .collect();
    assert_eq!(
        kinds,
        [false, true],
        "the message queued before stays; none since"
    );
    poll(&bed, json!({"allowed_updates": []}));
    assert!(
        telegram.queue_update(plain("hi")).is_some(),
        "an empty list is the default"
    );
}

#[test]
fn answer_callback_query_answers_once_then_400() {
    let (bed, telegram) = bed();
    let id = ask(&bed);
    let query = telegram.click(CHAT, id, "Approve", 7, None);
    let answer = json!({"callback_query_id": query, "text": "Approved", "show_alert": true});
    let first = call(&bed, "answerCallbackQuery", &answer);
    assert_eq!(first.json(), json!({"ok": true, "result": true}));
    let again = call(&bed, "answerCallbackQuery", &answer);
    assert_eq!(refusal(&again), (400, TOO_OLD.to_owned()));
    let unknown = json!({"callback_query_id": "12345"});
    assert_eq!(
        refusal(&call(&bed, "answerCallbackQuery", &unknown)).1,
        TOO_OLD
    );
    let late = telegram.click(CHAT, id, "Deny", 7, None);
    telegram.expire_callbacks();
    let expired = json!({"callback_query_id": late});
    assert_eq!(
        refusal(&call(&bed, "answerCallbackQuery", &expired)).1,
        TOO_OLD
    );
    let answers = [(query, Some("Approved".to_owned()), true)];
    assert_eq!(telegram.callback_answers(), answers);
}

#[test]
fn get_me_names_the_bot_of_the_token() {
    let (bed, _telegram) = bed();
    let me = call(&bed, "getMe", &json!({})).json();
    assert_eq!(me["ok"], true);
    let bot = &me["result"];
    assert_eq!(
        (&bot["id"], &bot["is_bot"]),
        (&json!(123_456), &json!(true))
    );
    assert!(bot["username"].is_string() && bot["can_join_groups"].is_boolean());
}
