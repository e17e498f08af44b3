"""The background sender: a bounded queue, batches, and retries that can never store twice.

Calls are serialised when they are made (a snapshot of the caller's dicts) and
appended to a deque. When it is full the OLDEST call is dropped (and counted),
so the host thread never waits. One daemon thread per process takes the calls
in order: consecutive events travel together to ``POST /api/v1/events`` (up to
``max_batch_size`` events and ~480 KB per request), conversions one by one to
``POST /api/v1/conversions``. A batch is sent when it is full, when
``flush_interval`` seconds have passed since its first call, or at once on
``flush()``.

429, 5xx, timeouts and connection errors are retried with exponential backoff
and full jitter (``uniform(0, min(backoff_max, backoff * 2**attempt))``), or
after exactly ``Retry-After`` seconds when the server says so. Every call
carries the id made when it was called (``event_id``; for a conversion its
``event_id`` or ``visitor_id`` + ``timestamp``), so a retry of a request the
server did store is answered as a duplicate. Other 4xx are not retried: logged,
counted as failed and handed to ``on_error``. Per-item rejections inside a 202
are counted as rejected and handed to ``on_error`` with the rejected calls.

The key is never logged. Redirects are not followed (they would carry the key
to another URL): a 3xx is a failure telling you to fix ``host``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Union

log = logging.getLogger("mbuzz_sdk")

MAX_BATCH_EVENTS = 500  # the API's limit per request
MAX_BODY_BYTES = 480 * 1024  # under the API's 512 KB, with room for the envelope
MAX_EVENT_BYTES = 32 * 1024  # the API's limit per stored event
MAX_RETRY_AFTER = 300.0  # a Retry-After above this is waited for this long only


@dataclass(frozen=True)
class Response:
    """An HTTP answer handed to ``on_error``: status, headers and the decoded JSON body (or None)."""

    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def error(self) -> str:
        """``HTTP 401 unauthorized: …``: the status and the API's error code and message."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            error = self.body["error"]
            return f"HTTP {self.status} {error.get('code')}: {error.get('message')}"
        return f"HTTP {self.status}"


class DeliveryError(Exception):
    """Why calls were given up: retries exhausted, a refusing answer, or an invalid call.

    ``response`` is the last HTTP answer when there was one."""

    def __init__(self, message: str, response: Optional[Response] = None) -> None:
        super().__init__(message)
        self.response = response


ErrorCallback = Callable[[Union[BaseException, Response], List[Dict[str, Any]]], None]


@dataclass(frozen=True)
class Stats:
    """Counters of one client since it was made. Every call ends up in exactly one of
    sent, rejected, failed or dropped, or is still pending:
    ``calls == sent + rejected + failed + dropped + pending``."""

    calls: int = 0  # every track/page/identify/alias/conversion call
    sent: int = 0  # accepted by the server (stored, or already stored: see duplicates)
    duplicates: int = 0  # of sent: the server had them already (a retry of a stored call)
    rejected: int = 0  # refused item by item (the 202's ``rejected``, a conversion's 422)
    failed: int = 0  # given up: invalid call, non-retryable answer, retries exhausted, not sent at close
    dropped: int = 0  # pushed out of a full queue (the oldest first), or made after close()
    retried: int = 0  # HTTP requests sent again after a 429, 5xx, timeout or connection error
    pending: int = 0  # queued or in flight now


@dataclass
class Item:
    """One call, serialised: ``kind`` is "event" or "conversion"."""

    kind: str
    body: bytes
    seq: int = 0

    def message(self) -> Dict[str, Any]:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None  # urllib then raises HTTPError with the 3xx


@dataclass
class Settings:
    host: str
    api_key: str
    user_agent: str
    max_queue_size: int = 10_000
    max_batch_size: int = 100
    flush_interval: float = 0.5
    timeout: float = 10.0
    max_retries: int = 10
    backoff: float = 0.5
    backoff_max: float = 30.0
    on_error: Optional[ErrorCallback] = None


class Sender:
    """The queue and its sender thread (started on the first call, again after a fork)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._cond = threading.Condition()
        self._items: Deque[Item] = deque()
        self._seq = 0
        self._inflight: Optional[int] = None  # seq of the first call in flight
        self._inflight_count = 0
        self._flush_upto = 0  # send everything up to this seq without waiting for the interval
        self._closed = False  # no new calls
        self._abort = threading.Event()  # close() ran out of time: stop retrying
        self._thread: Optional[threading.Thread] = None
        self._counts = {name: 0 for name in Stats.__dataclass_fields__ if name != "pending"}
        _SENDERS.add(self)

    # -- the host's side ---------------------------------------------------------------

    def count(self, **increments: int) -> None:
        with self._cond:
            for name, n in increments.items():
                self._counts[name] += n

    def put(self, item: Item) -> bool:
        """Queue a call; never blocks. False when the client is closed (the call is dropped)."""
        with self._cond:
            self._counts["calls"] += 1
            if self._closed:
                self._counts["dropped"] += 1
                return False
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="mbuzz-sdk-sender", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # "can't create new thread at interpreter shutdown"
                    self._counts["dropped"] += 1
                    return False
                self._thread = thread
            if len(self._items) >= self.settings.max_queue_size:
                self._items.popleft()
                self._counts["dropped"] += 1
                if self._counts["dropped"] == 1 or self._counts["dropped"] % 1000 == 0:
                    log.warning(
                        "mbuzz: the queue is full (%d calls); dropping the oldest (%d dropped so far)",
                        self.settings.max_queue_size,
                        self._counts["dropped"],
                    )
            self._seq += 1
            item.seq = self._seq
            self._items.append(item)
            if len(self._items) == 1 or len(self._items) >= self.settings.max_batch_size:
                self._cond.notify_all()
        return True

    def stats(self) -> Stats:
        with self._cond:
            pending = len(self._items) + (self._inflight_count if self._inflight is not None else 0)
            return Stats(pending=pending, **self._counts)

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Send everything queued so far now; wait until it is delivered or given up.
        True when it all was, False when `timeout` seconds passed first."""
        with self._cond:
            target = self._seq
            self._flush_upto = max(self._flush_upto, target)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: not self._pending_upto(target), timeout)

    def close(self, timeout: Optional[float]) -> None:
        """Refuse new calls, deliver the queued ones within `timeout`, then stop."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
        delivered = self.flush(timeout)
        self._abort.set()
        with self._cond:
            self._cond.notify_all()
            left = len(self._items) + (self._inflight_count if self._inflight is not None else 0)
            self._counts["failed"] += len(self._items)
            self._items.clear()
        if not delivered:
            log.warning("mbuzz: %d calls were not delivered within %.1f s of close()", left, timeout or 0)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    # -- the sender thread -----------------------------------------------------------

    def _after_fork(self) -> None:
        """In a forked child (gunicorn --preload, multiprocessing): a fresh lock and queue; the
        parent's calls stay the parent's, and the child's first call starts its own thread."""
        self._cond = threading.Condition()
        self._items = deque()
        self._inflight, self._inflight_count, self._thread = None, 0, None
        self._abort = threading.Event()

    def _pending_upto(self, seq: int) -> bool:
        if self._inflight is not None and self._inflight <= seq:
            return True
        return bool(self._items) and self._items[0].seq <= seq

    def _take(self) -> Optional[List[Item]]:
        """The next batch, when it is due; None when closed and empty."""
        settings = self.settings
        with self._cond:
            while not self._items:
                if self._closed:
                    return None
                self._cond.wait()
            deadline = time.monotonic() + settings.flush_interval
            while (
                len(self._items) < settings.max_batch_size
                and not self._closed
                and self._flush_upto < self._items[0].seq
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
                if not self._items:
                    return []
            batch: List[Item] = []
            size = 0
            while self._items and len(batch) < min(settings.max_batch_size, MAX_BATCH_EVENTS):
                head = self._items[0]
                if head.kind == "conversion" or (batch and size + len(head.body) + 1 > MAX_BODY_BYTES):
                    if not batch:  # a conversion travels alone
                        batch.append(self._items.popleft())
                    break
                batch.append(self._items.popleft())
                size += len(head.body) + 1
            self._inflight = batch[0].seq
            self._inflight_count = len(batch)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            if not batch:
                continue
            try:
                self._deliver(batch)
            except Exception:  # never let the thread die: the calls are failed, the next ones go on
                log.exception("mbuzz: unexpected error while sending %d calls", len(batch))
                self.count(failed=len(batch))
            finally:
                with self._cond:
                    self._inflight = None
                    self._inflight_count = 0
                    self._cond.notify_all()

    def _deliver(self, batch: List[Item]) -> None:
        if batch[0].kind == "conversion":
            path, body = "/api/v1/conversions", batch[0].body
        else:
            path, body = "/api/v1/events", b'{"events":[' + b",".join(item.body for item in batch) + b"]}"
        response = self._post(path, body, batch)
        if response is None:
            return
        if batch[0].kind == "conversion":
            if response.status in (200, 201):
                self.count(sent=1, duplicates=int(response.status == 200))
            elif response.status == 422:
                self._give_up(batch, response, "rejected", f"conversion rejected ({response.error})")
            else:
                self._give_up(batch, response, "failed", f"conversion refused ({response.error})")
            return
        if not 200 <= response.status < 300:
            self._give_up(batch, response, "failed", f"{len(batch)} events refused ({response.error})")
            return
        result = response.body if isinstance(response.body, dict) else {}
        indexes = sorted(
            {r.get("index") for r in result.get("rejected") or [] if isinstance(r, dict)} & set(range(len(batch)))
        )
        self.count(sent=len(batch) - len(indexes), duplicates=int(result.get("duplicates") or 0))
        if indexes:
            reasons = "; ".join(f"#{r.get('index')}: {', '.join(r.get('errors') or [])}" for r in result["rejected"])
            self._give_up(
                [batch[i] for i in indexes],
                response,
                "rejected",
                f"{len(indexes)} of {len(batch)} events rejected ({reasons})",
            )

    def _post(self, path: str, body: bytes, batch: List[Item]) -> Optional[Response]:
        """POST until an answer that is not retried; None when given up (already counted)."""
        settings = self.settings
        url = settings.host + path
        headers = {
            "Authorization": f"Bearer {settings.api_key}",
            "Content-Type": "application/json",
            "User-Agent": settings.user_agent,
        }
        attempt = 0
        while True:
            if attempt:
                headers["X-Retry-Count"] = str(attempt)
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            error: Union[BaseException, Response]
            retry_after: Optional[float] = None
            try:
                with self._opener.open(request, timeout=settings.timeout) as answer:
                    return Response(answer.status, dict(answer.headers.items()), _json(answer.read()))
            except urllib.error.HTTPError as exc:
                error = Response(exc.code, dict(exc.headers.items()) if exc.headers else {}, _read_json(exc))
                if not (exc.code == 429 or exc.code >= 500):
                    return error
                retry_after = _retry_after(error.headers.get("Retry-After"))
            except (OSError, ValueError) as exc:  # URLError, timeouts, resets, http.client errors
                error = exc
            except Exception as exc:  # http.client.HTTPException and friends are not OSErrors
                error = exc
            if attempt >= settings.max_retries or self._abort.is_set():
                what = error.error if isinstance(error, Response) else f"{type(error).__name__}: {error}"
                self._give_up(
                    batch, error, "failed", f"{len(batch)} calls not delivered after {attempt + 1} attempts ({what})"
                )
                return None
            delay = (
                retry_after
                if retry_after is not None
                else random.uniform(0, min(settings.backoff_max, settings.backoff * 2**attempt))
            )
            attempt += 1
            self.count(retried=1)
            log.info(
                "mbuzz: %s; retry %d in %.2f s",
                error.error if isinstance(error, Response) else type(error).__name__,
                attempt,
                delay,
            )
            if self._abort.wait(min(delay, MAX_RETRY_AFTER)):
                continue  # closing: one last attempt, then give up

    def _give_up(self, items: List[Item], error: Union[BaseException, Response], counter: str, message: str) -> None:
        self.count(**{counter: len(items)})
        log.warning("mbuzz: %s", message)
        notify(self.settings.on_error, error, [item.message() for item in items])


_SENDERS: "weakref.WeakSet[Sender]" = weakref.WeakSet()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: [sender._after_fork() for sender in list(_SENDERS)])


def notify(
    on_error: Optional[ErrorCallback], error: Union[BaseException, Response], messages: List[Dict[str, Any]]
) -> None:
    """Call the host's on_error; its own exceptions are logged, never raised."""
    if on_error is None:
        return
    try:
        on_error(error, messages)
    except Exception:
        log.exception("mbuzz: the on_error callback raised")


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


def _read_json(answer: Any) -> Any:
    try:
        return _json(answer.read())
    except Exception:  # a body cut short: the status is what counts
        return None


def _retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
