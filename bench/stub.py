"""A minimal, fast stand-in for a Slack incoming webhook, for benchmarks only.

Answers every POST with `200 ok` on keep-alive connections, parsing just enough
HTTP/1.1 (Content-Length bodies) to stay out of the way of what is measured:
http.server costs about half a millisecond per request, more than chime does.
Runs in a thread; `count` is the number of requests answered.
"""

import asyncio
import threading

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nok"


class _Http(asyncio.Protocol):
    def __init__(self, stub):
        self.stub = stub
        self.buffer = b""

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
            self.stub.count += 1
            self.transport.write(ANSWER)


class Stub:
    def __init__(self):
        self.count = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve():
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(
                self.loop.create_server(lambda: _Http(self), "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait()

    def url(self):
        return f"http://127.0.0.1:{self.port}/services/T0BENCH/B0BENCH/benchbenchbenchbench"
