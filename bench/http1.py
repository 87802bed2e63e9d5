"""A minimal HTTP/1.1 keep-alive client for the crowd generator: raw requests out, responses
parsed by httptools (the C parser uvicorn uses).

At 25,000 viewers the crowd sends over 5,000 requests a second from the same 2 cores the service
runs on, so every microsecond the generator spends is taken from the service. aiohttp spent
about twice what this client does for the same crowd; this one does only what the crowd needs:
one request at a time per connection, and of the answer its status, ETag and body.
"""

import asyncio
import collections
import time

import httptools

# Close a connection idle this long rather than reuse it: gunicorn closes idle keep-alive
# connections after 5 s (gunicorn.conf.py), and a request sent just then would be lost.
IDLE_SECONDS = 3.0


class Answer:
    __slots__ = ("status", "etag", "body")

    def __init__(self, status, etag, body):
        self.status, self.etag, self.body = status, etag, body


class _Connection(asyncio.Protocol):
    def __init__(self):
        self.transport = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter = None
        self.closed = False
        self.used_at = time.monotonic()
        self._etag, self._body = None, []

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.transport.close()
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(ConnectionError(f"bad response: {exc}"))

    # httptools callbacks
    def on_header(self, name, value):
        if name.lower() == b"etag":
            self._etag = value.decode()

    def on_body(self, body):
        self._body.append(body)

    def on_message_complete(self):
        answer = Answer(self.parser.get_status_code(), self._etag, b"".join(self._body))
        self._etag, self._body = None, []
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(answer)

    @property
    def usable(self):
        return not self.closed and not self.transport.is_closing()

    def send(self, raw):
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self.waiter


class Pool:
    """At most `size` keep-alive connections to one server; a request waits for a free one.

    Requests take the connection that has been idle longest, so the load is spread over all open
    connections and thereby over all of gunicorn's workers: a worker serves the connections it
    accepted, and handing out the most recently used connection (as a proxy's keep-alive cache
    does) would put nearly every request on the one or two workers that accepted those few."""

    def __init__(self, host, port, size, timeout):
        self.host, self.port, self.size, self.timeout = host, port, size, timeout
        self.idle = collections.deque()
        self.waiting = collections.deque()
        self.opened = 0

    async def request(self, method, path, headers, body=None):
        """The Answer, or an exception (TimeoutError, ConnectionError) as the transport's error."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        connection = await self._acquire(deadline)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
        waiter = connection.send(raw)
        timer = loop.call_at(deadline, _expire, connection)
        try:
            return await waiter
        finally:
            timer.cancel()
            connection.waiter = None
            connection.used_at = time.monotonic()
            self._release(connection)

    async def open(self):
        """Open every connection now, at once, so that the workers accept them evenly."""
        connections = await asyncio.gather(
            *(asyncio.get_running_loop().create_connection(_Connection, self.host, self.port) for _ in range(self.size))
        )
        self.opened += len(connections)
        self.idle.extend(connection for _, connection in connections)

    async def _acquire(self, deadline):
        while self.idle:
            connection = self.idle.popleft()
            if connection.usable and time.monotonic() - connection.used_at < IDLE_SECONDS:
                return connection
            self._discard(connection)
        if self.opened < self.size:
            self.opened += 1
            try:
                _, connection = await asyncio.get_running_loop().create_connection(_Connection, self.host, self.port)
            except OSError:
                self.opened -= 1
                raise
            return connection
        turn = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        return await asyncio.wait_for(turn, deadline - asyncio.get_running_loop().time())

    def _release(self, connection):
        if not connection.usable:
            self._discard(connection)
            return
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(connection)
                return
        self.idle.append(connection)

    def _discard(self, connection):
        connection.transport.close()
        self.opened -= 1
        # A request waiting for a connection may now open its own.
        while self.waiting and self.opened < self.size:
            turn = self.waiting.popleft()
            if not turn.done():
                self.opened += 1
                asyncio.ensure_future(self._open_for(turn))
                return

    async def _open_for(self, turn):
        try:
            _, connection = await asyncio.get_running_loop().create_connection(_Connection, self.host, self.port)
        except OSError as exc:
            self.opened -= 1
            if not turn.done():
                turn.set_exception(exc)
            return
        if turn.done():
            self._release(connection)
        else:
            turn.set_result(connection)

    def close(self):
        for connection in self.idle:
            connection.transport.close()


def _expire(connection):
    if connection.waiter is not None and not connection.waiter.done():
        connection.waiter.set_exception(TimeoutError("no answer in time"))
    connection.transport.close()
