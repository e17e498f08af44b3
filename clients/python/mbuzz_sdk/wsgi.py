"""`TrackingMiddleware`: a first-party visitor id and a page view per HTML page, for any WSGI app.

    app.wsgi_app = TrackingMiddleware(app.wsgi_app, client)          # Flask
    application = TrackingMiddleware(get_wsgi_application(), client)  # Django (wsgi.py)

On every request it reads the visitor cookie (``_mbuzz_vid``, the name
mbuzz.js uses too) or makes a new id (a UUID) and sets the cookie on the
response: first-party, ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when the
request came over https, for 395 days (browsers cap cookie lifetimes at 400).
The id is in ``environ["mbuzz.visitor_id"]`` for the app (``request.environ``
in Flask, ``request.META`` in Django), e.g. to record a conversion for it.

A page view (``client.page``: url with its query, so UTMs and click ids,
referrer, user agent) is queued when the app starts a successful (2xx)
``text/html`` answer to a ``GET`` that is not a prefetch. Redirects, errors,
JSON, static files and other methods are not tracked. The response body is
passed through untouched (never read or buffered), so streaming responses and
``wsgi.file_wrapper`` keep working; recording never raises into the app.
"""

from __future__ import annotations

import logging
import re
import uuid
from http.cookies import SimpleCookie
from typing import Any, Callable, Iterable, List, Optional, Tuple
from wsgiref.util import request_uri

from mbuzz_sdk.client import Client

log = logging.getLogger("mbuzz_sdk")

ENVIRON_KEY = "mbuzz.visitor_id"
VISITOR_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


class TrackingMiddleware:
    """Wraps a WSGI app: visitor cookie, ``environ["mbuzz.visitor_id"]``, page views.

    ``cookie_name``, ``cookie_max_age`` (seconds), ``cookie_domain`` (e.g.
    ``".example.com"`` to share the id with subdomains), ``cookie_path`` and
    ``httponly`` (set it False when mbuzz.js runs on the same pages, so the
    script reads the same visitor id) shape the cookie. ``track_page_views``
    False only keeps the cookie and the environ key; ``should_track(environ)``
    can veto single page views (health checks, admin pages)."""

    def __init__(
        self,
        app: WSGIApp,
        client: Client,
        *,
        cookie_name: str = "_mbuzz_vid",
        cookie_max_age: int = 395 * 24 * 3600,
        cookie_domain: Optional[str] = None,
        cookie_path: str = "/",
        httponly: bool = True,
        track_page_views: bool = True,
        should_track: Optional[Callable[[dict], bool]] = None,
    ) -> None:
        self.app = app
        self.client = client
        self.cookie_name = cookie_name
        self.cookie_max_age = cookie_max_age
        self.cookie_domain = cookie_domain
        self.cookie_path = cookie_path
        self.httponly = httponly
        self.track_page_views = track_page_views
        self.should_track = should_track

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        visitor_id = self.visitor_id(environ)
        new = visitor_id is None
        if visitor_id is None:
            visitor_id = str(uuid.uuid4())
        environ[ENVIRON_KEY] = visitor_id
        trackable = self.track_page_views and environ.get("REQUEST_METHOD") == "GET" and not _prefetch(environ)

        def start(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
            if new:
                headers = list(headers) + [("Set-Cookie", self._cookie(visitor_id, environ))]
            if trackable and exc_info is None and _successful_html(status, headers):
                self._page_view(environ, visitor_id)
            return (
                start_response(status, headers, exc_info) if exc_info is not None else start_response(status, headers)
            )

        return self.app(environ, start)

    def visitor_id(self, environ: dict) -> Optional[str]:
        """The visitor id of the request's cookie, when it has a well-formed one."""
        value = _cookie_value(environ.get("HTTP_COOKIE", ""), self.cookie_name)
        return value if value is not None and VISITOR_ID.match(value) else None

    def _cookie(self, visitor_id: str, environ: dict) -> str:
        cookie: SimpleCookie = SimpleCookie()
        cookie[self.cookie_name] = visitor_id
        morsel = cookie[self.cookie_name]
        morsel["path"] = self.cookie_path
        morsel["max-age"] = str(self.cookie_max_age)
        morsel["samesite"] = "Lax"
        if self.httponly:
            morsel["httponly"] = True
        if self.cookie_domain:
            morsel["domain"] = self.cookie_domain
        if environ.get("wsgi.url_scheme") == "https":
            morsel["secure"] = True
        return morsel.OutputString()

    def _page_view(self, environ: dict, visitor_id: str) -> None:
        try:
            if self.should_track is not None and not self.should_track(environ):
                return
            context = {"userAgent": environ["HTTP_USER_AGENT"]} if environ.get("HTTP_USER_AGENT") else None
            self.client.page(
                visitor_id,
                request_uri(environ, include_query=True),
                referrer=environ.get("HTTP_REFERER") or None,
                context=context,
            )
        except Exception:  # the app's answer matters more than its page view
            log.exception("mbuzz: could not record a page view")


def _cookie_value(header: str, name: str) -> Optional[str]:
    """One cookie's value from a Cookie header (tolerant of the malformed cookies that stop
    http.cookies from parsing the rest)."""
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


def _successful_html(status: str, headers: List[Tuple[str, str]]) -> bool:
    if not status[:1] == "2":
        return False
    for key, value in headers:
        if key.lower() == "content-type":
            return value.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml")
    return False


def _prefetch(environ: dict) -> bool:
    """Prefetches and prerenders are not views (yet)."""
    purpose = (environ.get("HTTP_SEC_PURPOSE") or environ.get("HTTP_PURPOSE") or "").lower()
    return "prefetch" in purpose or "prerender" in purpose


__all__ = ["ENVIRON_KEY", "TrackingMiddleware"]
