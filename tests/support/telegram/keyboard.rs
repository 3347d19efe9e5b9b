//! Inline keyboards (`reply_markup`) as the Bot API reads, checks and echoes them.
//!
//! The refusals come from three places, checked in their order: the Bot API server's parse
//! of the JSON (`Client.cpp` `get_reply_markup`, `get_inline_keyboard_button`), TDLib's
//! check of each button (`td/telegram/ReplyMarkup.cpp`), and Telegram's servers, which
//! refuse `callback_data` outside 1–64 bytes with `BUTTON_DATA_INVALID` (the limit is the
//! documented one; the description is what bots are seen to get). Other markups (reply
//! keyboards, `remove_keyboard`, `force_reply`) are accepted and not kept: a message only
//! ever shows an inline keyboard (`set_message_reply_markup`).

use serde_json::{Value, json};

/// `InlineKeyboardButton.callback_data`: "1-64 bytes" (core.telegram.org/bots/api).
const DATA_MAX: usize = 64;

/// The keyboard a message shows: rows of buttons as Telegram echoes them in a message's
/// `reply_markup` (`{"text", "callback_data"}` or `{"text", "url"}`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Keyboard(pub Vec<Vec<Value>>);

impl Keyboard {
    /// Each button as (text, callback_data); a button of another kind has empty data.
    pub fn pairs(&self) -> Vec<Vec<(String, String)>> {
        let pair = |b: &Value| {
            let field = |k: &str| b[k].as_str().unwrap_or_default().to_owned();
            (field("text"), field("callback_data"))
        };
        self.0
            .iter()
            .map(|row| row.iter().map(pair).collect())
            .collect()
    }

    /// The message's `reply_markup`, or `None` for a message without buttons.
    pub fn markup(&self) -> Option<Value> {
        (!self.0.is_empty()).then(|| json!({"inline_keyboard": self.0}))
    }
}

/// The keyboard `reply_markup` asks for (an absent one asks for none), or the refusal's
/// description.
pub fn parse(markup: &Value) -> Result<Keyboard, String> {
    let parsed;
    let markup = match markup {
        Value::Null => return Ok(Keyboard::default()),
        // A form field or query parameter carries the markup as JSON text.
        Value::String(text) => {
            parsed = serde_json::from_str(text)
                .map_err(|_| bad("can't parse reply keyboard markup JSON object"))?;
            &parsed
        }
        markup => markup,
    };
    if !markup.is_object() {
        return Err(bad("object expected as reply markup"));
    }
    let rows = match &markup["inline_keyboard"] {
        Value::Null => return Ok(Keyboard::default()),
        Value::Array(rows) => rows,
        _ => return Err(bad("field \"inline_keyboard\" must be of type Array")),
    };
    let mut keyboard = vec![];
    for row in rows {
        let Some(row) = row.as_array() else {
            return Err(bad(
                "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays",
            ));
        };
        let buttons: Result<Vec<Value>, String> = row.iter().map(button).collect();
        keyboard.push(
            buttons.map_err(|why| bad(&format!("can't parse inline keyboard button: {why}")))?,
        );
    }
    check(&keyboard)?;
    // An inline keyboard of empty rows is no keyboard (`get_reply_markup`: `inline_rows`
    // empty gives no markup).
    keyboard.retain(|row| !row.is_empty());
    Ok(Keyboard(keyboard))
}

/// One button as the Bot API server parses it: its text, then its kind, the first of
/// `url` and `callback_data` that is not empty.
fn button(button: &Value) -> Result<Value, String> {
    if !button.is_object() {
        return Err("InlineKeyboardButton must be an Object".into());
    }
    let text = match &button["text"] {
        Value::Null => return Err("Can't find field \"text\"".into()),
        Value::String(text) => text,
        _ => return Err("Field \"text\" must be of type String".into()),
    };
    let string = |key: &str| match &button[key] {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(format!("Field \"{key}\" must be of type String")),
    };
    if let Some(url) = string("url")? {
        return Ok(json!({"text": text, "url": url}));
    }
    if let Some(data) = string("callback_data")? {
        return Ok(json!({"text": text, "callback_data": data}));
    }
    Err("Text buttons are unallowed in the inline keyboard".into())
}

/// TDLib's check of each button, then Telegram's of the callback data.
fn check(keyboard: &[Vec<Value>]) -> Result<(), String> {
    let buttons = || keyboard.iter().flatten();
    if buttons().any(|b| b["text"] == "") {
        return Err(bad("inline keyboard button text must be non-empty"));
    }
    let data = |b: &Value| b["callback_data"].as_str().map_or(0, str::len);
    if buttons().any(|b| data(b) > DATA_MAX) {
        return Err(bad("BUTTON_DATA_INVALID"));
    }
    Ok(())
}

fn bad(description: &str) -> String {
    format!("Bad Request: {description}")
}
