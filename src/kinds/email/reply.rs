//! What an SMTP server's reply means for the message (RFC 5321 §4.2): 2xx
//! delivered, 4xx "not now" (kept and retried), 5xx refused for good, with
//! the server's own words and what the user can do about them.
//!
//! The answer `deliver/smtp/` gives has the reply code as its status and
//! the server's text as its body; status 0 is chime's SMTP client stopping
//! before the server said no (a server that offers no STARTTLS or no login
//! mechanism chime may use), which no retry changes.

use crate::kinds::{Answer, Verdict};

pub fn classify(answer: &Answer) -> Verdict {
    let code = answer.status;
    let said = answer.body.trim();
    match code {
        200..=299 => Verdict::Delivered {
            channel: None,
            ts: None,
        },
        // A 3yz asks for more of a command, never ends the message: a
        // server that says one there is not speaking SMTP as chime does.
        300..=399 => Verdict::Rejected {
            error: format!("{code} {said} (not a reply that ends a message)"),
            hint: Some("check `host` and `port`: they must name an SMTP server".to_owned()),
        },
        // 421 closing, 450 mailbox busy (greylisting), 451 local error,
        // 452 storage or too many recipients, 454 TLS or login not
        // available now: all of RFC 5321's 4yz are worth another try.
        400..=499 => Verdict::Retry {
            after: None,
            error: format!("{code} {said}"),
        },
        0 => Verdict::Rejected {
            error: said.to_owned(),
            hint: Some(client_hint(said).to_owned()),
        },
        _ => Verdict::Rejected {
            error: format!("{code} {said}"),
            hint: hint(code, said).map(str::to_owned),
        },
    }
}

/// What to do about a permanent refusal: by the enhanced status code
/// (RFC 3463) where providers say more, else by the reply code.
fn hint(code: u16, said: &str) -> Option<&'static str> {
    // Exchange Online's words (learn.microsoft.com, "Authenticated client
    // SMTP submission" and the Basic auth retirement for SMTP AUTH).
    if said.contains("SmtpClientAuthentication") {
        return Some(
            "SMTP AUTH is turned off for this mailbox or tenant, for tokens too: an admin turns \
             it on (Set-CASMailbox -SmtpClientAuthenticationDisabled $false)",
        );
    }
    if said.contains("5.7.30") || said.contains("asic auth") {
        return Some(
            "Exchange Online takes no password for SMTP AUTH any more: log in with an OAuth 2.0 \
             token (oauth2_token, scope https://outlook.office.com/SMTP.Send)",
        );
    }
    if said.contains("5.7.60") || said.contains("SendAsDenied") {
        return Some(
            "the account may not send as `from`: set `from` to the address of `user`, or grant it Send As",
        );
    }
    Some(match code {
        530 => "the server wants a login first: set `user` and `password` (or `oauth2_token`)",
        534 => {
            "the server wants a stronger login: for Gmail, an app password or an OAuth 2.0 token (oauth2_token)"
        }
        535 => {
            "the server did not accept the login: check `user` and `password` (or that `oauth2_token` is current and has the SMTP.Send scope)"
        }
        538 => "the server wants TLS before a login: use tls = \"starttls\" or \"implicit\"",
        550 | 551 | 553 => {
            "the server refused an address: check `to` (or the route's channel) and `from`, \
             and that the account may send from `from` and relay to those recipients"
        }
        501 => "an address is not one the server takes: check `from`, `to` and `cc`",
        552 => "the message is larger than the server takes",
        554 | 541 => {
            "the server refused the message itself (a policy or spam filter): its words above say which"
        }
        521 | 556 => "the recipient's domain takes no mail: check the address",
        500 | 502 | 503 | 504 => {
            "the server did not understand chime: please report this with the output of -v"
        }
        _ => return None,
    })
}

/// What to do when chime's client could not go on with this server.
fn client_hint(said: &str) -> &'static str {
    if said.starts_with("the file") || said.starts_with("the spool's copy") {
        "a file of the message changed or went after it was accepted: send it again"
    } else if said.contains("XOAUTH2") {
        "check `user` and that `oauth2_token` is current (access tokens last about an hour) and \
         has the SMTP scope: https://outlook.office.com/SMTP.Send for Microsoft 365, \
         https://mail.google.com/ for Gmail"
    } else if said.contains("is not an email address") || said.contains("no recipient") {
        "check `to`, `cc` and the recipients --channel or the route gave"
    } else if said.contains("STARTTLS") {
        "the server offers no STARTTLS: use tls = \"implicit\" (port 465) if it speaks TLS from \
         the start, or check `host` and `port`"
    } else if said.contains("authentication") {
        "the server offers no login mechanism chime speaks (PLAIN, LOGIN, XOAUTH2): check `port` \
         (submission is 587 or 465) and that the server takes logins there"
    } else {
        "check `host`, `port` and `tls` with `chime config show`"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: body.into(),
        }
    }

    #[test]
    fn a_4xx_reply_is_retried_and_a_5xx_refused_with_the_servers_words() {
        for code in [421, 450, 451, 452] {
            assert!(matches!(
                classify(&answer(code, "later")),
                Verdict::Retry { .. }
            ));
        }
        let Verdict::Rejected { error, hint } = classify(&answer(550, "5.1.1 no such user")) else {
            panic!("550 is permanent");
        };
        assert_eq!(error, "550 5.1.1 no such user");
        assert!(hint.unwrap().contains("`to`"));
    }

    #[test]
    fn a_refused_login_says_to_check_the_credentials() {
        let Verdict::Rejected { hint, .. } = classify(&answer(535, "5.7.8 bad credentials")) else {
            panic!("535 is permanent");
        };
        assert!(hint.unwrap().contains("`password`"));
        let Verdict::Rejected { hint, .. } = classify(&answer(
            550,
            "5.7.30 Basic authentication is not supported for Client Submission.",
        )) else {
            panic!("550 is permanent");
        };
        assert!(hint.unwrap().contains("oauth2_token"));
    }
}
