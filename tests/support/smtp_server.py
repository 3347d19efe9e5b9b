"""A real SMTP server for chime's email tests (aiosmtpd), on 127.0.0.1.

    smtp_server.py DIR MODE [CERT KEY] [--user U --password P] [--token T]

MODE is `plain`, `starttls` (STARTTLS offered and required before
anything else) or `implicit` (TLS from the first byte). It prints the port
it listens on, then serves until killed.

Every message taken is written to DIR/messages/NNNN.json, every message
refused at the end of DATA to DIR/refused/NNNN.json: the envelope, who
logged in, the raw data, and what Python's `email` package (a real mail
reader) makes of it: the decoded headers and the text and HTML parts.

Replies are steered by files a test writes: DIR/answer-rcpt and
DIR/answer-data hold a reply line ("451 4.7.1 Greylisted, try again
later") given at RCPT TO or at the end of DATA in place of 250; a second
line "once" has the file removed once used.
"""

import asyncio
import base64
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Recorder:
    def __init__(self, root, user, password, token):
        self.root = root
        self.user = user
        self.password = password
        self.token = token
        self.count = 0
        for sub in ("messages", "refused"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)

    def answer(self, stage):
        path = os.path.join(self.root, "answer-" + stage)
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return None
        if len(lines) > 1 and lines[1].strip() == "once":
            os.remove(path)
        return lines[0].strip() if lines else None

    def write(self, sub, record):
        self.count += 1
        path = os.path.join(self.root, sub, "%04d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        said = self.answer("rcpt")
        if said:
            return said
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        said = self.answer("data")
        record = read(envelope, session)
        if said:
            record["answer"] = said
            self.write("refused", record)
            return said
        self.write("messages", record)
        return "250 2.0.0 OK: queued as %04d" % self.count

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.password is not None
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    # XOAUTH2 as Google and Microsoft define it: base64 of
    # "user=U\x01auth=Bearer T\x01\x01" in one line after the mechanism.
    async def auth_XOAUTH2(self, server, args):
        try:
            said = base64.b64decode(args[1]).decode()
            fields = dict(p.split("=", 1) for p in said.split("\x01") if p)
        except Exception:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Cannot decode")
        ok = (
            self.token is not None
            and fields.get("user") == self.user
            and fields.get("auth") == "Bearer " + self.token
        )
        if not ok:
            # Google's documented failure: a 334 challenge of base64 JSON,
            # an empty client response, then 535.
            error = {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}
            challenge = base64.b64encode(json.dumps(error).encode()).decode()
            await server.challenge_auth(challenge, encode_to_b64=False)
            return AuthResult(
                success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
            )
        return AuthResult(success=True, auth_data=LoginPassword(self.user.encode(), b""))


def read(envelope, session):
    raw = envelope.original_content or envelope.content
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    headers = {}
    for name, value in parsed.items():
        headers.setdefault(name.lower(), str(value))
    part = lambda kind: parsed.get_body(preferencelist=(kind,))
    text, html = part("plain"), part("html")
    return {
        "mail_from": envelope.mail_from,
        "rcpt_tos": envelope.rcpt_tos,
        "login": session.login_data.decode() if session.login_data else None,
        "raw": raw.decode("ascii", "replace"),
        "headers": headers,
        "content_type": parsed.get_content_type(),
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
        "attachments": [
            {
                "filename": a.get_filename(),
                "content_type": a.get_content_type(),
                "base64": base64.b64encode(a.get_payload(decode=True)).decode(),
            }
            for a in parsed.iter_attachments()
        ],
    }


def main():
    args = sys.argv[1:]
    options = {}
    while len(args) >= 2 and args[-2].startswith("--"):
        options[args[-2][2:]] = args[-1]
        args = args[:-2]
    root, mode = args[0], args[1]
    context = None
    if mode != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args[2], args[3])
    handler = Recorder(root, options.get("user"), options.get("password"), options.get("token"))

    def factory():
        return SMTP(
            handler,
            hostname="mx.test",
            tls_context=context if mode == "starttls" else None,
            require_starttls=mode == "starttls",
            # Over implicit TLS the connection is secure from the start;
            # aiosmtpd only knows STARTTLS's.
            auth_require_tls=mode == "starttls",
            authenticator=handler.authenticate,
        )

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(
            factory, "127.0.0.1", 0, ssl=context if mode == "implicit" else None
        )
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
