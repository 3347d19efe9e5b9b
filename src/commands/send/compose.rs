//! One destination's message, composed from the input and its template.

use minijinja::value::Value;

use super::Delivery;
use crate::exit::Failure;
use crate::message::Message;
use crate::settings::{Input, Send};
use crate::template::Renderer;

/// Renders the message for one destination's markup; `typed` is its text as
/// the user gave it. A report that must not be lost (`chime run`'s) whose
/// template fails goes as it would without the template, with a warning.
pub(super) fn compose(
    send: &Send,
    delivery: &Delivery,
    vars: &Value,
    typed: &str,
) -> Result<Message, Failure> {
    let template = delivery.template.map(|name| &send.profile.templates[name]);
    match compose_with(send, delivery, template, vars, typed) {
        Err(failure) if send.template_fallback && template.is_some() => {
            let text = format!("{}; the default report was sent instead", failure.message);
            crate::report::fate(send.output, &text);
            compose_with(send, delivery, None, vars, typed)
        }
        composed => composed,
    }
}

fn compose_with(
    send: &Send,
    delivery: &Delivery,
    template: Option<&crate::config::Template>,
    vars: &Value,
    typed: &str,
) -> Result<Message, Failure> {
    let input: &Input = &send.input;
    // An event is shown as one only when no template renders the message.
    let event = input.event.as_ref().filter(|_| template.is_none());
    let (title, text) = title_and_text(send, delivery, template, vars, typed)?;
    let mut fields = event.map(|e| e.fields.clone()).unwrap_or_default();
    fields.extend(input.fields.iter().cloned());
    let mut message = Message {
        title: title.filter(|t| !t.trim().is_empty()),
        text,
        level: input.level,
        fields,
        links: input.links.clone(),
        code: input.code,
        host: vars
            .get_attr("host")
            .ok()
            .map(|h| h.to_string())
            .unwrap_or_default(),
        time: std::time::SystemTime::now(),
        context: Vec::new(),
        files: input.files.clone(),
        file_urls: input.file_urls.clone(),
    };
    super::files::name_in_text(&mut message, delivery.destination);
    super::files::urls_as_links(&mut message, delivery.destination);
    if let Some(ci) = &send.ci {
        ci.annotate(&mut message);
    }
    if message.is_empty() {
        return Err(
            Failure::usage("nothing to send: the message has no text and no title")
                .with_hint("give TEXT, pipe text on stdin, or set --title"),
        );
    }
    Ok(message)
}

/// The message's title and text: the template's where it has them, else
/// the input's (an event's title, and no text for an event without one).
fn title_and_text(
    send: &Send,
    delivery: &Delivery,
    template: Option<&crate::config::Template>,
    vars: &Value,
    typed: &str,
) -> Result<(Option<String>, String), Failure> {
    let input: &Input = &send.input;
    let event = input.event.as_ref().filter(|_| template.is_none());
    let platform = &delivery.destination.platform;
    let renderer = Renderer::new(platform.markup());
    let render_error = |part: &str, err: String| {
        let name = delivery.template.unwrap_or_default();
        Failure::config(format!(
            "template `{name}`: the {part} failed to render: {err}"
        ))
        .with_hint("fix the template in the profile, or check the variables it uses")
    };
    // User text is never interpreted as a template: a log line's template
    // braces stay as they are.
    let text = match template.and_then(|t| t.text.as_deref()) {
        Some(source) => renderer
            .text(source, vars)
            .map_err(|e| render_error("text", e))?,
        // An event without text of its own shows its fields, not its JSON.
        None if event.is_some_and(|e| !e.has_text) => String::new(),
        None => platform.escape(typed),
    };
    let title = match template.and_then(|t| t.title.as_deref()) {
        Some(source) => Some(
            renderer
                .title(source, vars)
                .map_err(|e| render_error("title", e))?,
        ),
        // `--event NAME` names the message even through a template without a title.
        None => input
            .title
            .clone()
            .or_else(|| event.and_then(|e| e.title.clone()))
            .or_else(|| input.event_name.clone()),
    };
    Ok((title, text))
}
