"""A minimal, fast stand-in for a Slack incoming webhook, for benchmarks only.

Answers every POST with `200 ok` on keep-alive connections, parsing just enough
HTTP/1.1 (Content-Length bodies) to stay out of the way of what is measured:
http.server costs about half a millisecond per request, more than chime does.
Runs in a thread; `count` is the number of requests answered.

`Stub(delay=3.0)` answers each request that many seconds after it arrived, as a
slow but working destination does (requests on other connections wait in
parallel, each its own delay); `count` then counts only the answers written to
a connection still open, so a request its client gave up on is not delivered.

`Stub(arrivals=True)` also keeps, in `arrivals`, each answer's
`time.perf_counter()` and the connection it went on (a number per connection), for
a rate over time.
"""

import asyncio
import itertools
import ssl
import threading
import time

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nok"


class _Http(asyncio.Protocol):
    def __init__(self, stub):
        self.stub = stub
        self.buffer = b""
        self.serial = next(stub.connections)

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            for line in head.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            if self.stub.delay:
                self.stub.loop.call_later(self.stub.delay, self.answer)
            else:
                self.answer()

    def answer(self):
        if not self.transport.is_closing():
            self.stub.count += 1
            if self.stub.arrivals is not None:
                self.stub.arrivals.append((time.perf_counter(), self.serial))
            self.transport.write(ANSWER)


class Stub:
    """`tls=(cert, key)` serves HTTPS with that certificate chain and key (PEM files)."""

    def __init__(self, delay=0.0, tls=None, arrivals=False):
        self.count = 0
        self.arrivals = [] if arrivals else None
        self.connections = itertools.count()
        self.delay = delay
        self.scheme = "https" if tls else "http"
        context = None
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve():
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(
                self.loop.create_server(lambda: _Http(self), "127.0.0.1", 0, ssl=context))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait()

    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}/services/T0BENCH/B0BENCH/benchbenchbenchbench"
