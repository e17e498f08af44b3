"""Helpers of the SDK's tests: a real fault-injecting HTTP proxy in front of `mbuzz serve`, and reads of raw.*."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional
from urllib.parse import urlsplit

FORWARDED_HEADERS = ("Authorization", "Content-Type", "User-Agent", "X-Retry-Count", "Content-Encoding")


@dataclass
class Recorded:
    """One request the proxy got, and what it answered."""

    at: float  # time.monotonic() on arrival
    path: str
    headers: dict
    body: bytes
    status: int = 0

    def events(self) -> list[dict]:
        return json.loads(self.body).get("events", [])


@dataclass
class Fault:
    status: int
    retry_after: Optional[str]
    forward: bool  # forward to mbuzz first (it stores the batch), then answer the fault: the answer is "lost"


@dataclass
class FaultProxy:
    """A real HTTP server on a free port of 127.0.0.1 forwarding every request to `upstream`
    (mbuzz serve). `fail_next(k, 503, retry_after="1")` answers the next k requests itself
    (or, with forward=True, after mbuzz stored them); `hold()` makes requests wait until
    `release()`. Every request is recorded in `requests`."""

    upstream: str
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._faults: deque[Fault] = deque()
        self._gate = threading.Event()
        self._gate.set()
        self._lock = threading.Lock()
        self.arrived = threading.Event()  # set when a request arrives
        target = urlsplit(self.upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                record = Recorded(time.monotonic(), self.path, dict(self.headers.items()), body)
                with proxy._lock:
                    proxy.requests.append(record)
                    fault = proxy._faults.popleft() if proxy._faults else None
                proxy.arrived.set()
                proxy._gate.wait(timeout=60)
                status, headers, answer = 0, {}, b""
                if fault is None or fault.forward:
                    upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                    upstream.request(
                        "POST",
                        self.path,
                        body,
                        {k: v for k, v in self.headers.items() if k.title() in FORWARDED_HEADERS},
                    )
                    response = upstream.getresponse()
                    status, answer = response.status, response.read()
                    headers = {k: v for k, v in response.getheaders() if k.lower() in ("content-type", "retry-after")}
                    upstream.close()
                if fault is not None:
                    status = fault.status
                    answer = json.dumps({"error": {"code": "injected", "message": f"fault {fault.status}"}}).encode()
                    headers = {"Content-Type": "application/json"}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = fault.retry_after
                record.status = status
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def fail_next(self, count: int, status: int = 503, retry_after: Optional[str] = "0", forward: bool = False) -> None:
        with self._lock:
            self._faults.extend(Fault(status, retry_after, forward) for _ in range(count))

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def close(self) -> None:
        self._gate.set()
        self._server.shutdown()
        self._server.server_close()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def rows(conn, table: str, account_id: str) -> list[dict]:
    """raw.events or raw.conversions of one account, oldest first."""
    assert table in ("events", "conversions")
    at = "occurred_at" if table == "events" else "converted_at"
    cursor = conn.execute(f"select * from raw.{table} where account_id = %s order by received_at, {at}", (account_id,))
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
