"""A minimal stand-in for the Slack Web API and Socket Mode, for `ask.py` only.

Like `stub.py`, an asyncio responder in a thread, parsing just enough HTTP/1.1
(Content-Length bodies, keep-alive) to stay out of the way of what is
measured. It answers the methods `chime ask` calls as Slack does, with JSON:

- `apps.connections.open`: `{"ok":true,"url":"ws://127.0.0.1:WSPORT/link/?ticket=N"}`,
  the WebSocket on a listener of its own (Slack's is another host, so chime
  cannot reuse its API connection for it);
- `chat.postMessage`: keeps the message (`text`, `blocks`, `metadata`) under a
  new `ts` in C0DEPLOYS and answers with it;
- `chat.update`, `chat.postEphemeral`, `conversations.replies` (the kept
  message with its metadata); anything else: `unknown_method`.

The WebSocket is the least of RFC 6455 chime needs: the upgrade with its
`Sec-WebSocket-Accept`, `hello`, text frames out (unmasked), client frames in
(masked: unmasked here), pings answered with pongs, a close answered with a
close. `click()` sends a `block_actions` envelope for a kept message on the
newest connection still open; `ping()` pings it; `flood()` sends it other
envelopes; `close_after_hello` makes every new connection hang up after hello.

Every request, upgrade, acknowledgement and pong is logged with its
`time.perf_counter()` (the clock the bench's processes are started by), and
`wait_for()` lets the bench's thread wait for one.
"""

import asyncio
import base64
import hashlib
import json
import struct
import threading
import time
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CHANNEL = "C0DEPLOYS"
USER = {"id": "U0ALICE01", "name": "alice", "username": "alice", "team_id": "T0BENCH"}


def _http(status, body, extra=b""):
    data = json.dumps(body).encode()
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json; charset=utf-8\r\n"
            f"content-length: {len(data)}\r\n").encode() + extra + b"\r\n" + data


def _frame(opcode, payload):
    """A server frame: FIN, never masked."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


class _Conn(asyncio.Protocol):
    """One connection: HTTP/1.1 requests until an upgrade, then WebSocket frames."""

    def __init__(self, stub):
        self.stub = stub
        self.buffer = b""
        self.ws = False
        self.partial = b""

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY

    def connection_lost(self, exc):
        if self in self.stub.sockets:
            self.stub.sockets.remove(self)
            self.stub.log("ws-lost")

    def data_received(self, data):
        self.buffer += data
        while self.buffer:
            progressed = self.frame() if self.ws else self.request()
            if not progressed:
                return

    # HTTP

    def request(self):
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(self.buffer) < end + 4 + length:
            return False
        body = self.buffer[end + 4:end + 4 + length]
        self.buffer = self.buffer[end + 4 + length:]
        if headers.get("upgrade", "").lower() == "websocket":
            self.upgrade(headers)
            return True
        path = urllib.parse.urlsplit(target).path
        self.transport.write(self.stub.answer(path.rsplit("/", 1)[-1], headers, body))
        return True

    def upgrade(self, headers):
        key = headers.get("sec-websocket-key", "").encode()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
                             b"connection: Upgrade\r\nsec-websocket-accept: " + accept + b"\r\n\r\n")
        self.ws = True
        self.stub.sockets.append(self)
        self.stub.log("upgrade")
        self.text({"type": "hello", "num_connections": len(self.stub.sockets),
                   "debug_info": {"host": "applink-bench", "approximate_connection_time": 18060},
                   "connection_info": {"app_id": "A0BENCH"}})
        if self.stub.close_after_hello:
            self.transport.write(_frame(0x8, struct.pack("!H", 1000)))
            self.transport.close()

    # WebSocket

    def text(self, value):
        self.transport.write(_frame(0x1, json.dumps(value).encode()))

    def frame(self):
        b = self.buffer
        if len(b) < 2:
            return False
        fin, opcode = b[0] & 0x80, b[0] & 0x0F
        masked, n = b[1] & 0x80, b[1] & 0x7F
        at = 2
        if n == 126:
            if len(b) < 4:
                return False
            n, at = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return False
            n, at = struct.unpack("!Q", b[2:10])[0], 10
        mask = b""
        if masked:
            if len(b) < at + 4:
                return False
            mask, at = b[at:at + 4], at + 4
        if len(b) < at + n:
            return False
        payload = b[at:at + n]
        self.buffer = b[at + n:]
        if masked:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        else:
            self.stub.log("unmasked-client-frame")  # RFC 6455 §5.1: a client always masks
        if opcode == 0x9:
            self.transport.write(_frame(0xA, payload))
        elif opcode == 0xA:
            self.stub.log("pong")
        elif opcode == 0x8:
            self.stub.log("ws-close")
            if self in self.stub.sockets:
                self.stub.sockets.remove(self)
            self.transport.write(_frame(0x8, payload[:2]))
            self.transport.close()
        elif opcode in (0x0, 0x1):
            self.partial += payload
            if fin:
                message, self.partial = self.partial, b""
                try:
                    value = json.loads(message)
                except ValueError:
                    value = {}
                if "envelope_id" in value:
                    self.stub.log("ack", value["envelope_id"])
        return True


class SlackStub:
    def __init__(self):
        self.events = []  # (perf_counter, kind, detail)
        self.messages = {}  # ts -> message
        self.sockets = []
        self.serial = 0
        self.close_after_hello = False  # a relay that hangs up on every connection
        self.changed = threading.Condition()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve():
            asyncio.set_event_loop(self.loop)
            api = self.loop.run_until_complete(self.loop.create_server(lambda: _Conn(self), "127.0.0.1", 0))
            link = self.loop.run_until_complete(self.loop.create_server(lambda: _Conn(self), "127.0.0.1", 0))
            self.port = api.sockets[0].getsockname()[1]
            self.ws_port = link.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait()

    def api_url(self):
        return f"http://127.0.0.1:{self.port}/api"

    def log(self, kind, detail=None):
        with self.changed:
            self.events.append((time.perf_counter(), kind, detail))
            self.changed.notify_all()

    def wait_for(self, kind, after=0, timeout=10.0):
        """The first event of `kind` at index ≥ `after`: (index, time, detail)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for i in range(after, len(self.events)):
                    if self.events[i][1] == kind:
                        return i, self.events[i][0], self.events[i][2]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {kind} within {timeout} s")
                self.changed.wait(left)

    def count(self, kind, after=0):
        with self.changed:
            return sum(1 for e in self.events[after:] if e[1] == kind)

    # The API

    def answer(self, method, headers, body):
        if headers.get("content-type", "").startswith("application/json"):
            try:
                args = json.loads(body)
            except ValueError:
                return _http("200 OK", {"ok": False, "error": "invalid_json"})
        else:
            args = dict(urllib.parse.parse_qsl(body.decode()))
        if not headers.get("authorization", "").startswith("Bearer "):
            return _http("200 OK", {"ok": False, "error": "not_authed"})
        self.log(method, args)
        if method == "apps.connections.open":
            self.serial += 1
            return _http("200 OK", {"ok": True, "url": f"ws://127.0.0.1:{self.ws_port}/link/?ticket={self.serial}"})
        if method == "chat.postMessage":
            self.serial += 1
            ts = f"1700000000.{self.serial:06d}"
            message = {"type": "message", "user": "U0BENCHBOT", "bot_id": "B0BENCH", "ts": ts,
                       "text": args.get("text", ""), "blocks": args.get("blocks", [])}
            if args.get("metadata"):
                message["metadata"] = args["metadata"]
            self.messages[ts] = message
            self.log("posted", ts)
            return _http("200 OK", {"ok": True, "channel": CHANNEL, "ts": ts, "message": message})
        if method == "chat.update":
            message = self.messages.get(args.get("ts"))
            if message is None:
                return _http("200 OK", {"ok": False, "error": "message_not_found"})
            for key in ("text", "blocks"):
                if key in args:
                    message[key] = args[key]
            if "metadata" in args:
                message["metadata"] = args["metadata"]
            return _http("200 OK", {"ok": True, "channel": CHANNEL, "ts": message["ts"],
                                    "text": message["text"], "message": message})
        if method == "chat.postEphemeral":
            return _http("200 OK", {"ok": True, "message_ts": "1700000000.999999"})
        if method == "conversations.replies":
            message = self.messages.get(args.get("ts"))
            if message is None:
                return _http("200 OK", {"ok": False, "error": "thread_not_found"})
            return _http("200 OK", {"ok": True, "messages": [message], "has_more": False})
        return _http("200 OK", {"ok": False, "error": "unknown_method"})

    # Socket Mode, from the bench's thread

    def click(self, ts, label="Approve", user=USER):
        """Sends a click on `label` of the question kept at `ts`, on the newest
        open connection; returns when the frame is written, with its time."""
        done = threading.Event()
        sent = {}

        def go():
            message = self.messages[ts]
            actions = next(b for b in message["blocks"] if b.get("type") == "actions")
            button = next(e for e in actions["elements"] if e["text"]["text"] == label)
            self.serial += 1
            envelope_id = f"bench-envelope-{self.serial}"
            envelope = {
                "envelope_id": envelope_id, "type": "interactive", "accepts_response_payload": False,
                "payload": {
                    "type": "block_actions", "user": user, "api_app_id": "A0BENCH", "token": "bench",
                    "container": {"type": "message", "message_ts": ts, "channel_id": CHANNEL, "is_ephemeral": False},
                    "trigger_id": "0.0.bench", "team": {"id": "T0BENCH", "domain": "bench"},
                    "channel": {"id": CHANNEL, "name": "deploys"},
                    "message": json.loads(json.dumps(message)),
                    "actions": [{"action_id": button["action_id"], "block_id": actions["block_id"],
                                 "value": button["value"], "text": button["text"], "type": "button",
                                 "action_ts": "1700000001.000000"}],
                },
            }
            frame = _frame(0x1, json.dumps(envelope).encode())
            socket = self.sockets[-1]
            sent["at"] = time.perf_counter()
            socket.transport.write(frame)
            sent["id"] = envelope_id
            self.log("click", envelope_id)
            done.set()

        self.loop.call_soon_threadsafe(go)
        if not done.wait(5):
            raise TimeoutError("the click was not sent")
        return sent["at"], sent["id"]

    def flood(self, n):
        """Sends `n` events_api envelopes (what an app subscribed to events
        gets) on the newest open connection."""
        def go():
            socket = self.sockets[-1]
            for i in range(n):
                envelope = {"envelope_id": f"bench-event-{i:08d}-0000-4000-8000-000000000000",
                            "type": "events_api", "accepts_response_payload": False,
                            "payload": {"type": "event_callback",
                                        "event": {"type": "message", "channel": CHANNEL, "text": "hi"}}}
                socket.transport.write(_frame(0x1, json.dumps(envelope).encode()))
        self.loop.call_soon_threadsafe(go)

    def ping(self):
        def go():
            if self.sockets:
                self.sockets[-1].transport.write(_frame(0x9, b"bench"))
                self.log("ping")
        self.loop.call_soon_threadsafe(go)
