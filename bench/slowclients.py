"""Slow clients and the probes that watch them: what `python -m bench serving` measures each
serving model with, and what tests/test_front.py holds against the production front.

`SlowClients` keeps connections open that send a request a trickle at a time: slow-header ones
(a request line, then one header line per `gap`, never the blank line) and slow-body ones
(complete headers announcing a body, then one byte of it per `gap`). A connection the server
closes is opened again at once, as an attacker would. `probe` times complete requests on fresh
connections meanwhile: a probe that fails or times out counts as infinitely slow."""

import asyncio
import math
import socket
import threading
import time

SLOW_BODY_LENGTH = 60_000  # under the 64 KiB bound, so the front keeps waiting for the rest


class SlowClients:
    def __init__(self, host, port, slow_headers, slow_bodies, body_path="/api/slow", headers=None, gap=1.0):
        self.address = (host, port)
        self.counts = (slow_headers, slow_bodies)
        self.body_path = body_path
        self.extra_headers = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self.gap = gap
        self.open_now = 0
        self.opened = 0
        self._loop = asyncio.new_event_loop()
        self._stopping = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)

    def wait_until_open(self, timeout=10.0):
        """Block until every slow connection is open (or raise)."""
        deadline = time.monotonic() + timeout
        while self.open_now < sum(self.counts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.open_now} of {sum(self.counts)} slow connections opened")
            time.sleep(0.05)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self):
        self._stopping = asyncio.Event()
        slow_headers, slow_bodies = self.counts
        tasks = [asyncio.ensure_future(self._keep(self._slow_header)) for _ in range(slow_headers)]
        tasks += [asyncio.ensure_future(self._keep(self._slow_body)) for _ in range(slow_bodies)]
        await self._stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep(self, trickle):
        while not self._stopping.is_set():
            try:
                reader, writer = await asyncio.open_connection(*self.address)
            except OSError:
                await asyncio.sleep(self.gap)
                continue
            self.opened += 1
            self.open_now += 1
            try:
                await trickle(writer)
            except OSError:
                pass
            finally:
                self.open_now -= 1
                writer.close()

    async def _slow_header(self, writer):
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: slow\r\n{self.extra_headers}".encode())
        while True:
            await writer.drain()
            await asyncio.sleep(self.gap)
            writer.write(b"X-Slow: 1\r\n")

    async def _slow_body(self, writer):
        writer.write(
            f"POST {self.body_path} HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
            f"Content-Length: {SLOW_BODY_LENGTH}\r\n{self.extra_headers}\r\n{{".encode()
        )
        while True:
            await writer.drain()
            await asyncio.sleep(self.gap)
            writer.write(b" ")


def probe(host, port, path, seconds, interval=0.05, timeout=3.0):
    """GET `path` on a fresh connection every `interval` for `seconds`; the latencies in ms
    (math.inf for a probe that failed, timed out or was not answered 200)."""
    request = f"GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n".encode()
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        latencies.append(_one_probe(host, port, request, timeout, started))
        time.sleep(max(0.0, interval - (time.perf_counter() - started)))
    return latencies


def _one_probe(host, port, request, timeout, started):
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    except OSError:
        return math.inf
    if not answer.startswith(b"HTTP/1.1 200"):
        return math.inf
    return (time.perf_counter() - started) * 1000


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]
