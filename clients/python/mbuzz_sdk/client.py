"""`Client`: the calls a backend makes, turned into mbuzz events and conversions.

Each call is checked, given its ids and its time *when it is made*, serialised
and queued (see `_delivery`); it returns at once and never raises. What each
call sends to ``POST /api/v1/events`` (docs/api/events.md):

- ``track(visitor_id, "Order Completed", {...})`` → ``event_type: order_completed``
  (the name as a slug, as the Segment door does) with ``properties.event_name``
- ``page(visitor_id, url, referrer=…)`` → ``page_view`` with ``properties.url``,
  ``referrer`` and the URL's ``utm_*`` parameters (click ids stay in the URL,
  where the warehouse reads them)
- ``identify(user_id, traits)`` → ``identify`` with ``properties.traits``
- ``alias(previous_id, user_id)`` → ``alias`` (visitor_id = previous_id), which
  links the anonymous visitor to the user for identity stitching
- ``group(user_id, group_id, traits)`` → ``group`` with ``properties.group_id``
  and ``properties.traits`` (the user's company or account)

and ``conversion(…)`` goes to ``POST /api/v1/conversions`` (docs/api/conversions.md).
"""

from __future__ import annotations

import atexit
import json
import logging
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Union
from urllib.parse import parse_qsl, urlsplit

from mbuzz_sdk import __version__
from mbuzz_sdk._delivery import MAX_EVENT_BYTES, DeliveryError, ErrorCallback, Item, Sender, Settings, Stats, notify

log = logging.getLogger("mbuzz_sdk")

UTM_PARAMETERS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
Timestamp = Union[datetime, str, None]


def slug(name: str) -> str:
    """An event or conversion name as the API's slug: ``"Order Completed"`` → ``order_completed``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:64].strip("_")


def new_event_id() -> str:
    """A fresh client-side event id (``evt_`` + 32 hex digits)."""
    return f"evt_{uuid.uuid4().hex}"


def utm_parameters(url: str) -> Dict[str, str]:
    """The ``utm_*`` parameters of a URL's query string (the first value of each)."""
    found: Dict[str, str] = {}
    try:
        query = urlsplit(url).query
    except ValueError:
        return found
    for name, value in parse_qsl(query):
        if name in UTM_PARAMETERS and value and name not in found:
            found[name] = value
    return found


def _iso(timestamp: Timestamp) -> str:
    """ISO 8601 for the wire: now when None; a naive datetime is UTC, as the API reads it."""
    if timestamp is None:
        return datetime.now(timezone.utc).isoformat()
    if isinstance(timestamp, datetime):
        return timestamp.isoformat()
    return str(timestamp)


def _identifier(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 255


class Client:
    """Sends tracking calls to an mbuzz server in the background.

    ``api_key`` is a secret (``sk_…``) or publishable (``pk_…``) key; ``host``
    the server's base URL. Every call returns at once and never raises: see
    `stats` and ``on_error`` for what happened to it.

    Options: ``max_queue_size`` calls wait at most (the oldest are dropped
    beyond it); up to ``max_batch_size`` events go per request, sent at the
    latest ``flush_interval`` seconds after the first one was queued;
    ``timeout`` is per HTTP request; ``max_retries``, ``backoff`` and
    ``backoff_max`` shape the retries; ``shutdown_timeout`` bounds `close()`
    (called at interpreter exit too); ``context`` is merged into every
    event's context; ``on_error(error, calls)`` is called (on the sender
    thread) with an exception or a `Response` and the calls concerned.
    """

    def __init__(
        self,
        api_key: str,
        host: str = "http://127.0.0.1:8000",
        *,
        max_queue_size: int = 10_000,
        max_batch_size: int = 100,
        flush_interval: float = 0.5,
        timeout: float = 10.0,
        max_retries: int = 10,
        backoff: float = 0.5,
        backoff_max: float = 30.0,
        shutdown_timeout: float = 10.0,
        context: Optional[Mapping[str, Any]] = None,
        on_error: Optional[ErrorCallback] = None,
    ) -> None:
        self.host = host.rstrip("/")
        self.shutdown_timeout = shutdown_timeout
        self.on_error = on_error
        self.context: Dict[str, Any] = {
            "library": {"name": "mbuzz-sdk-python", "version": __version__},
            **(context or {}),
        }
        self._sender = Sender(
            Settings(
                host=self.host,
                api_key=api_key,
                user_agent=f"mbuzz-sdk-python/{__version__}",
                max_queue_size=max(1, max_queue_size),
                max_batch_size=max(1, min(max_batch_size, 500)),
                flush_interval=flush_interval,
                timeout=timeout,
                max_retries=max(0, max_retries),
                backoff=backoff,
                backoff_max=backoff_max,
                on_error=on_error,
            )
        )
        atexit.register(self.close)

    def __repr__(self) -> str:  # never the key
        return f"<mbuzz_sdk.Client host={self.host!r}>"

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- calls ---------------------------------------------------------------------

    def track(
        self,
        visitor_id: str,
        event: str,
        properties: Optional[Mapping[str, Any]] = None,
        *,
        user_id: Optional[str] = None,
        timestamp: Timestamp = None,
        context: Optional[Mapping[str, Any]] = None,
        session_id: Optional[str] = None,
        event_id: Optional[str] = None,
    ) -> Optional[str]:
        """Record that `visitor_id` did `event` ("Signed Up", "mql", "order.completed").

        Sent as ``event_type`` = the name's slug, with the name in
        ``properties.event_name``. Returns the event id (made here unless
        given), or None when the call is invalid (logged and counted)."""
        event_type = slug(event) if isinstance(event, str) else ""
        if not event_type:
            return self._invalid(f"track: the event name {event!r} needs a letter or digit", event=event)
        props = dict(properties or {})
        props.setdefault("event_name", event)
        return self._event(
            event_type,
            visitor_id,
            props,
            user_id=user_id,
            timestamp=timestamp,
            context=context,
            session_id=session_id,
            event_id=event_id,
        )

    def page(
        self,
        visitor_id: str,
        url: str,
        *,
        referrer: Optional[str] = None,
        name: Optional[str] = None,
        properties: Optional[Mapping[str, Any]] = None,
        user_id: Optional[str] = None,
        timestamp: Timestamp = None,
        context: Optional[Mapping[str, Any]] = None,
        session_id: Optional[str] = None,
        event_id: Optional[str] = None,
    ) -> Optional[str]:
        """Record a page view of `url` (with its ``utm_*`` parameters copied into properties).

        Returns the event id, or None when the call is invalid."""
        if not isinstance(url, str) or not url:
            return self._invalid("page: url is required", visitor_id=visitor_id)
        props: Dict[str, Any] = {**utm_parameters(url), "url": url}
        if referrer:
            props["referrer"] = referrer
        if name:
            props["name"] = name
        props.update(properties or {})
        return self._event(
            "page_view",
            visitor_id,
            props,
            user_id=user_id,
            timestamp=timestamp,
            context=context,
            session_id=session_id,
            event_id=event_id,
        )

    def identify(
        self,
        user_id: str,
        traits: Optional[Mapping[str, Any]] = None,
        *,
        visitor_id: Optional[str] = None,
        timestamp: Timestamp = None,
        context: Optional[Mapping[str, Any]] = None,
        event_id: Optional[str] = None,
    ) -> Optional[str]:
        """Tell mbuzz who `user_id` is (``traits``: email, plan…) and, with `visitor_id`,
        that this visitor is that user. Without `visitor_id`, the user id stands in for it."""
        if not _identifier(user_id):
            return self._invalid("identify: user_id must be a string of 1-255 characters", user_id=user_id)
        return self._event(
            "identify",
            visitor_id if visitor_id is not None else user_id,
            {"traits": dict(traits or {})},
            user_id=user_id,
            timestamp=timestamp,
            context=context,
            event_id=event_id,
        )

    def alias(
        self,
        previous_id: str,
        user_id: str,
        *,
        timestamp: Timestamp = None,
        context: Optional[Mapping[str, Any]] = None,
        event_id: Optional[str] = None,
    ) -> Optional[str]:
        """Link the anonymous visitor `previous_id` to `user_id`, so the user's journey includes
        that visitor's sessions (on any device)."""
        if not _identifier(user_id):
            return self._invalid("alias: user_id must be a string of 1-255 characters", previous_id=previous_id)
        return self._event(
            "alias", previous_id, None, user_id=user_id, timestamp=timestamp, context=context, event_id=event_id
        )

    def group(
        self,
        user_id: str,
        group_id: str,
        traits: Optional[Mapping[str, Any]] = None,
        *,
        visitor_id: Optional[str] = None,
        timestamp: Timestamp = None,
        context: Optional[Mapping[str, Any]] = None,
        event_id: Optional[str] = None,
    ) -> Optional[str]:
        """Say that `user_id` belongs to the company or account `group_id` (``traits``: its name,
        plan…), for account-level journeys. Without `visitor_id`, the user id stands in for it."""
        if not _identifier(user_id):
            return self._invalid("group: user_id must be a string of 1-255 characters", group_id=group_id)
        if not _identifier(group_id):
            return self._invalid("group: group_id must be a string of 1-255 characters", user_id=user_id)
        return self._event(
            "group",
            visitor_id if visitor_id is not None else user_id,
            {"group_id": group_id, "traits": dict(traits or {})},
            user_id=user_id,
            timestamp=timestamp,
            context=context,
            event_id=event_id,
        )

    def conversion(
        self,
        conversion_type: str,
        *,
        visitor_id: Optional[str] = None,
        user_id: Optional[str] = None,
        event_id: Optional[str] = None,
        revenue: Union[float, int, str, None] = None,
        currency: Optional[str] = None,
        properties: Optional[Mapping[str, Any]] = None,
        timestamp: Timestamp = None,
    ) -> bool:
        """Record a conversion ("purchase", "signup") of `visitor_id` now (or at `timestamp`),
        or of the event `event_id` you sent before (its visitor and time are used).

        Sent on its own to ``POST /api/v1/conversions``, after every call made
        before it. A retry is answered as the same conversion: its time is fixed
        here. Returns True when queued, False when invalid."""
        kind = slug(conversion_type) if isinstance(conversion_type, str) else ""
        if not kind:
            return self._refuse(
                f"conversion: the type {conversion_type!r} needs a letter or digit", visitor_id=visitor_id
            )
        body: Dict[str, Any] = {"conversion_type": kind}
        if event_id is not None:
            if timestamp is not None:
                return self._refuse(
                    "conversion: give event_id or timestamp, not both (the event's time is used)", event_id=event_id
                )
            body["event_id"] = event_id
        elif _identifier(visitor_id):
            body["timestamp"] = _iso(timestamp)
        else:
            return self._refuse(
                "conversion: visitor_id (a string of 1-255 characters) or event_id is required", visitor_id=visitor_id
            )
        if visitor_id is not None:
            body["visitor_id"] = visitor_id
        for key, value in (("user_id", user_id), ("revenue", revenue), ("currency", currency)):
            if value is not None:
                body[key] = value
        if properties:
            body["properties"] = dict(properties)
        return self._queue("conversion", body)

    # -- delivery ----------------------------------------------------------------

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Send every call made so far now, and wait until each is delivered or given up
        (at most `timeout` seconds). True when none is left pending."""
        return self._sender.flush(timeout)

    def close(self, timeout: Optional[float] = None) -> None:
        """Deliver what is queued (within `timeout`, default ``shutdown_timeout``) and stop.
        Calls made afterwards are dropped. Runs at interpreter exit too."""
        atexit.unregister(self.close)
        self._sender.close(self.shutdown_timeout if timeout is None else timeout)

    @property
    def stats(self) -> Stats:
        """A snapshot of the counters: calls, sent, duplicates, rejected, failed, dropped, retried, pending."""
        return self._sender.stats()

    # -- internals ---------------------------------------------------------------

    def _event(
        self,
        event_type: str,
        visitor_id: Any,
        properties: Optional[Dict[str, Any]],
        *,
        user_id: Any,
        timestamp: Timestamp,
        context: Optional[Mapping[str, Any]],
        session_id: Any = None,
        event_id: Any = None,
    ) -> Optional[str]:
        if not _identifier(visitor_id):
            return self._invalid(
                f"{event_type}: visitor_id must be a string of 1-255 characters", visitor_id=visitor_id
            )
        event_id = event_id if event_id is not None else new_event_id()
        event: Dict[str, Any] = {
            "event_type": event_type,
            "visitor_id": visitor_id,
            "event_id": event_id,
            "timestamp": _iso(timestamp),
            "context": {**self.context, **(context or {})},
        }
        if user_id is not None:
            event["user_id"] = user_id
        if session_id is not None:
            event["session_id"] = session_id
        if properties is not None:
            event["properties"] = properties
        return event_id if self._queue("event", event) else None

    def _queue(self, kind: str, body: Dict[str, Any]) -> bool:
        try:
            data = json.dumps(body, default=str, separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError) as exc:  # e.g. a circular structure in properties
            return self._refuse(f"{kind}: cannot be sent as JSON ({exc})")
        if kind == "event" and len(data) > MAX_EVENT_BYTES:
            return self._refuse(
                f"{body['event_type']}: {len(data)} bytes, over the API's {MAX_EVENT_BYTES} bytes per event",
                event_id=body.get("event_id"),
            )
        return self._sender.put(Item(kind, data))

    def _invalid(self, message: str, **call: Any) -> None:
        """An invalid call: logged, counted as failed, handed to on_error; never raised."""
        log.warning("mbuzz: %s (not sent)", message)
        self._sender.count(calls=1, failed=1)
        notify(self.on_error, DeliveryError(message), [dict(call)])
        return None

    def _refuse(self, message: str, **call: Any) -> bool:
        self._invalid(message, **call)
        return False


__all__: List[str] = ["Client", "slug", "utm_parameters", "new_event_id"]
