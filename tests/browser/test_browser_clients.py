"""Real browser tracking clients against a real `mbuzz serve`, from a shop on ANOTHER origin.

One module-scoped set of parts: a database of its own, `mbuzz serve` (gunicorn) on a free port
of 127.0.0.1, two tiny shop servers on two other ports (two more origins: one allowed by the
publishable key, one not), one headless Chromium (tests/chromium.py) and one dbt build.

- Segment's analytics.js 2.0, the real `@segment/analytics-next` from npm (pinned in
  tests/browser/package.json, locked by package-lock.json, installed by `npm ci` here when
  node_modules/ is missing or older than the lock): its standalone UMD build is served by the
  shop and loaded with `AnalyticsBrowser.load({writeKey: pk, cdnURL: <mbuzz>})`, so its settings
  come from mbuzz and it posts to mbuzz's /v1/p, /v1/t, /v1/i, /v1/a (one call per request) and
  /v1/b (batching), as text/plain with the key in the body and as Basic auth.
- /mbuzz.js, loaded with the documented snippet (a queue stub, then the async script tag).

Both: a landing with UTMs, a second landing with other UTMs, identify (and alias), page views
on two page loads keeping the same visitor id; then the dbt build classifies each session by its
UTMs and the user's conversion journey holds the sessions from before the user was known.
From the disallowed origin the browser gets 403 and nothing is stored. With Global Privacy
Control and `data-respect-dnt="true"` mbuzz.js sends nothing and sets no cookie. A send answered
503 is retried with the same messageIds and stored once.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from tests.chromium import CHROMIUM, CHROMIUM_FLAGS, install_chromium
from tests.live_server import free_port, start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
ANALYTICS_NEXT = HERE / "node_modules" / "@segment" / "analytics-next"
ANALYTICS_NEXT_UMD = ANALYTICS_NEXT / "dist" / "umd"
TIMEOUT_MS = 20_000  # how long the browser waits for an element or a response (never asserted on)
ROWS_TIMEOUT = 30  # seconds to wait for sent events to be stored


# ---------------------------------------------------------------- the shop: static pages on their own origin

SNIPPET = """<script>
  !function(){{var m=window.mbuzz=window.mbuzz||[];if(m.loaded)return;
  ["page","track","identify","alias","conversion"].forEach(function(k){{m[k]=m[k]||function(){{
  m.push([k].concat([].slice.call(arguments)))}}}})}}();
</script>
<script src="{api}/mbuzz.js" data-key="{key}"{attributes} async></script>"""

MBUZZ_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shop · {path}</title>
<script>window.mbuzz = []; window.mbuzz.push(["track", "Queued Before Load", {{"step": 1}}]);</script>
{snippet}
</head><body><h1>Shop</h1></body></html>"""

AJS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shop · {path}</title>
<script src="/vendor/analytics-next/index.js"></script>
<script>
  window.ajs = AnalyticsNext.AnalyticsBrowser.load({{writeKey: {key}, cdnURL: {api}}}, {options});
</script>
</head><body><h1>Shop</h1></body></html>"""

# analytics.js 2.0 batching (one POST /v1/b per 10 calls or 300 ms), per the load options
BATCHING = {
    "integrations": {
        "Segment.io": {"deliveryStrategy": {"strategy": "batching", "config": {"size": 10, "timeout": 300}}}
    }
}


class ShopHandler(BaseHTTPRequestHandler):
    """/vendor/analytics-next/<file>: the npm package's UMD build; any other path: the page the
    shop's `render` makes for it (a single-page app answers every path with its page)."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        if path.startswith("/vendor/analytics-next/"):
            name = path.rsplit("/", 1)[1]
            file = ANALYTICS_NEXT_UMD / name
            if not name or not file.is_file():
                return self._answer(404, "text/plain", b"not found")
            return self._answer(200, "text/javascript", file.read_bytes())
        page = self.server.render(path)
        if page is None:
            return self._answer(404, "text/plain", b"not found")
        return self._answer(200, "text/html; charset=utf-8", page.encode())

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@dataclass
class Shop:
    origin: str
    server: ThreadingHTTPServer


def start_shop(render) -> Shop:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), ShopHandler)
    server.daemon_threads = True
    server.render = render
    threading.Thread(target=server.serve_forever, daemon=True, name="shop").start()
    return Shop(f"http://127.0.0.1:{server.server_address[1]}", server)


# ---------------------------------------------------------------- the parts, once per module


@pytest.fixture(scope="module")
def chromium_path() -> str:
    reason = install_chromium()
    if reason:
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def analytics_next() -> Path:
    """The npm package, installed from the lock (`npm ci`) when needed."""
    from tests.timescale import TimescaleUnavailable, _ensure_node_modules, _node_and_npm

    try:
        _, npm = _node_and_npm()
    except TimescaleUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the browser tier needs Node.js and npm: {exc}")
        pytest.skip(f"the browser tier needs Node.js and npm: {exc}")
    _ensure_node_modules(npm, HERE)
    version = json.loads((ANALYTICS_NEXT / "package.json").read_text())["version"]
    pinned = json.loads((HERE / "package.json").read_text())["dependencies"]["@segment/analytics-next"]
    assert version == pinned, f"node_modules has analytics-next {version}, package.json pins {pinned}"
    assert (ANALYTICS_NEXT_UMD / "index.js").is_file()
    return ANALYTICS_NEXT_UMD


@pytest.fixture(scope="module")
def warehouse(new_database) -> str:
    """A database of its own: the dbt build below sees only this module's rows."""
    with new_database() as url:
        yield url


@dataclass
class Site:
    api: str
    shop: Shop
    other_shop: Shop
    database_url: str
    account_id: str
    pk: str
    sk: str


@pytest.fixture(scope="module")
def site(warehouse, tmp_path_factory):
    """The API, the allowed shop and a disallowed shop; an account with a publishable key allowed
    on the shop's origin (and a secret key for the shop's backend)."""
    from mbuzz.accounts import create_account, create_key

    state: dict = {}

    def render(origin_name: str):
        def page(path: str) -> str | None:
            api, key = state["api"], state["pk"]
            if path.startswith("/app"):
                attributes = ' data-respect-dnt="true"' if path.startswith("/app/private") else ""
                snippet = SNIPPET.format(api=api, key=key, attributes=attributes)
                return MBUZZ_PAGE.format(path=path, snippet=snippet)
            if path.startswith("/ajs"):
                options = BATCHING if path.startswith("/ajs/batched") else {}
                return AJS_PAGE.format(path=path, key=json.dumps(key), api=json.dumps(api), options=json.dumps(options))
            return None

        return page

    shop, other = start_shop(render("shop")), start_shop(render("other"))
    live = start_server(
        warehouse,
        tmp_path_factory.mktemp("browser-clients") / "server.log",
        {
            "MBUZZ_RATELIMIT_KEY_PREFIX": f"browser-{secrets.token_hex(4)}",
            "MBUZZ_RATE_LIMIT_TIERS": '{"standard": "1000/second", "default": "1000/second"}',
        },
        workers=1,
        threads=8,
    )
    with psycopg.connect(warehouse, autocommit=True) as conn:
        account = create_account(conn, f"Browser shop {secrets.token_hex(3)}")
        pk = create_key(conn, account.id, "live", "website", publishable=True, origins=[shop.origin]).plaintext
        sk = create_key(conn, account.id, "live", "backend").plaintext
    state.update(api=live.url, pk=pk)
    yield Site(live.url, shop, other, warehouse, account.id, pk, sk)
    stop_server(live)
    for each in (shop, other):
        each.server.shutdown()
        each.server.server_close()


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class Recorder:
    """Every request a browser context makes, and what the pages logged."""

    def __init__(self, context) -> None:
        self.requests: list[dict] = []
        self.console: list[str] = []
        context.on("request", self._request)

    def _request(self, request) -> None:
        self.requests.append(
            {"method": request.method, "url": request.url, "headers": request.headers, "body": request.post_data}
        )

    def watch(self, page) -> None:
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))

    def posts(self, origin: str, path: str | None = None) -> list[dict]:
        return [
            r
            for r in self.requests
            if r["method"] == "POST"
            and r["url"].startswith(origin)
            and (path is None or urlsplit(r["url"]).path == path)
        ]


def watched_page(browser):
    """A new context (the tests' timeout) whose requests and console a Recorder keeps, and its page."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    recorder = Recorder(context)
    page = context.new_page()
    recorder.watch(page)
    return context, recorder, page


def rows(url: str, query: str, params=()) -> list[dict]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def events_of(url: str, account_id: str, visitor_id: str) -> list[dict]:
    return rows(
        url,
        "select * from raw.events where account_id = %s and (visitor_id = %s or user_id in "
        "(select user_id from raw.events where account_id = %s and visitor_id = %s and user_id is not null)) "
        "order by occurred_at, event_id",
        (account_id, visitor_id, account_id, visitor_id),
    )


def wait_for_events(url: str, account_id: str, visitor_id: str, expected: dict[str, int]) -> list[dict]:
    """The visitor's stored events once at least `expected` ({event_type: count}) are there."""
    deadline = time.monotonic() + ROWS_TIMEOUT
    while True:
        found = events_of(url, account_id, visitor_id)
        counts = {kind: sum(1 for e in found if e["event_type"] == kind) for kind in expected}
        if all(counts[kind] >= n for kind, n in expected.items()):
            return found
        if time.monotonic() > deadline:
            pytest.fail(
                f"after {ROWS_TIMEOUT} s, stored {counts}, expected {expected}: "
                f"{[(e['event_type'], e['properties'].get('url')) for e in found]}"
            )
        time.sleep(0.2)


def record_conversion(site: Site, user_id: str) -> str:
    """The shop's backend records the user's purchase (another device: its own visitor id)."""
    response = requests.post(
        f"{site.api}/api/v1/conversions",
        timeout=20,
        headers={"Authorization": f"Bearer {site.sk}"},
        json={
            "visitor_id": f"backend_{user_id}",
            "user_id": user_id,
            # milliseconds: a whole-second "now" can fall before the visit's
            # first page view when the three page loads take under a second
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "conversion_type": "purchase",
            "revenue": 120,
            "currency": "EUR",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["conversion_id"]


# ---------------------------------------------------------------- analytics.js 2.0 (@segment/analytics-next)

AJS_FIRST_VISIT = """async () => {
  const [analytics] = await window.ajs;
  const contexts = [await analytics.page(), await analytics.track('Product Viewed', {sku: 'SKU-1', price: 20})];
  return {anonymousId: analytics.user().anonymousId(),
          failures: contexts.map((ctx) => ctx.failedDelivery()).filter(Boolean).map((f) => String(f.reason))};
}"""

AJS_SECOND_VISIT = """async (userId) => {
  const [analytics] = await window.ajs;
  await analytics.page();
  await analytics.alias(userId);              // previousId: this browser's anonymousId
  await analytics.identify(userId, {email: userId + '@example.com', plan: 'pro'});
  return {anonymousId: analytics.user().anonymousId(), userId: analytics.user().id()};
}"""

AJS_BATCHED_VISIT = """async () => {
  const [analytics] = await window.ajs;
  await analytics.page();
  await analytics.track('Checkout Started', {cart_value: 120});
  return {anonymousId: analytics.user().anonymousId(), userId: analytics.user().id()};
}"""


@dataclass
class Run:
    visitor_id: str
    user_id: str
    events: list[dict]
    recorder: Recorder
    conversion_id: str
    extra: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def ajs_run(site, browser, analytics_next) -> Run:
    user_id = f"ajs_user_{secrets.token_hex(3)}"
    context, recorder, page = watched_page(browser)
    page.goto(f"{site.shop.origin}/ajs/landing?utm_source=newsletter&utm_medium=email&utm_campaign=winter_sale")
    first = page.evaluate(AJS_FIRST_VISIT)
    assert not first["failures"], (first, recorder.console)
    page.goto(f"{site.shop.origin}/ajs/cart?utm_source=google&utm_medium=cpc&utm_campaign=brand")
    second = page.evaluate(AJS_SECOND_VISIT, user_id)
    page.goto(f"{site.shop.origin}/ajs/batched/checkout")
    third = page.evaluate(AJS_BATCHED_VISIT)
    cookies = {c["name"]: c["value"] for c in context.cookies(site.shop.origin)}
    events = wait_for_events(
        site.database_url,
        site.account_id,
        first["anonymousId"],
        {"page_view": 3, "product_viewed": 1, "alias": 1, "identify": 1, "checkout_started": 1},
    )
    context.close()
    return Run(
        first["anonymousId"],
        user_id,
        events,
        recorder,
        record_conversion(site, user_id),
        {"visits": [first, second, third], "cookies": cookies},
    )


def test_analytics_next_loads_its_settings_from_mbuzz_and_sends_nothing_elsewhere(site, ajs_run):
    gets = [r["url"] for r in ajs_run.recorder.requests if r["method"] == "GET" and r["url"].startswith(site.api)]
    assert f"{site.api}/v1/projects/{site.pk}/settings" in gets
    elsewhere = [r["url"] for r in ajs_run.recorder.requests if not r["url"].startswith((site.api, site.shop.origin))]
    assert elsewhere == []  # not Segment's CDN, not api.segment.io


def test_analytics_next_posts_each_call_and_a_batch_as_text_plain(site, ajs_run):
    posts = ajs_run.recorder.posts(site.api)
    paths = [urlsplit(r["url"]).path for r in posts]
    assert {"/v1/p", "/v1/t", "/v1/a", "/v1/i", "/v1/b"} <= set(paths), paths
    basic = "Basic " + base64.b64encode(f"{site.pk}:".encode()).decode()
    for post in posts:
        assert post["headers"]["content-type"].startswith("text/plain")
        assert post["headers"]["authorization"] == basic  # the key as Basic auth too
        assert json.loads(post["body"])["writeKey"] == site.pk
    batch = json.loads(next(r["body"] for r in posts if r["url"].endswith("/v1/b")))
    assert [m["type"] for m in batch["batch"]] == ["page", "track"]


def test_analytics_next_calls_land_with_one_visitor_id_across_page_loads(ajs_run):
    run = ajs_run
    first, second, third = run.extra["visits"]
    assert first["anonymousId"] == second["anonymousId"] == third["anonymousId"] == run.visitor_id
    assert third["userId"] == run.user_id  # remembered on the next page load
    assert run.extra["cookies"]["ajs_anonymous_id"].strip('"') == run.visitor_id
    kinds = sorted(e["event_type"] for e in run.events)
    assert kinds == [
        "alias",
        "checkout_started",
        "identify",
        "page_view",
        "page_view",
        "page_view",
        "product_viewed",
    ], kinds
    assert {e["visitor_id"] for e in run.events} == {run.visitor_id}
    alias = next(e for e in run.events if e["event_type"] == "alias")
    assert alias["user_id"] == run.user_id and alias["properties"]["previous_id"] == run.visitor_id
    identify = next(e for e in run.events if e["event_type"] == "identify")
    assert identify["user_id"] == run.user_id and identify["properties"]["traits"]["plan"] == "pro"
    assert next(e for e in run.events if e["event_type"] == "checkout_started")["user_id"] == run.user_id


def test_analytics_next_page_view_carries_the_landing_utms_and_context(site, ajs_run):
    landing = next(e for e in ajs_run.events if e["event_type"] == "page_view")
    assert landing["properties"]["utm_source"] == "newsletter"
    assert landing["properties"]["utm_medium"] == "email"
    assert landing["properties"]["utm_campaign"] == "winter_sale"
    assert landing["context"]["campaign"] == {"source": "newsletter", "medium": "email", "name": "winter_sale"}
    assert landing["context"]["page"]["url"].startswith(f"{site.shop.origin}/ajs/landing?utm_source=newsletter")
    assert "Chrome" in landing["context"]["userAgent"] and landing["context"]["locale"]


# ---------------------------------------------------------------- /mbuzz.js

MBUZZ_VISIT = """async (userId) => {
  await new Promise((resolve) => { const t = setInterval(() => { if (window.mbuzz && window.mbuzz.loaded) { clearInterval(t); resolve(); } }, 20); });
  return {visitorId: mbuzz.visitorId(), userId: mbuzz.userId()};
}"""

MBUZZ_CONVERT = """async (userId) => {
  mbuzz.track('Add To Cart', {sku: 'SKU-9', price: 49.9});
  mbuzz.identify(userId, {plan: 'pro'});
  return await mbuzz.conversion('purchase', {revenue: 49.9, currency: 'EUR', properties: {order_id: 'A-1'}});
}"""


@pytest.fixture(scope="module")
def mbuzz_run(site, browser) -> Run:
    user_id = f"js_user_{secrets.token_hex(3)}"
    context, recorder, page = watched_page(browser)
    landing = f"{site.shop.origin}/app/?utm_source=newsletter&utm_medium=email&utm_campaign=spring&fbclid=FB-1"
    page.goto(landing)
    first = page.evaluate(MBUZZ_VISIT)
    page.evaluate("() => history.pushState({}, '', '/app/pricing')")  # a single-page-app route change
    page.evaluate("() => history.replaceState({}, '', '/app/pricing#reviews')")  # an anchor: no page view
    page.goto(f"{site.shop.origin}/app/?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=G-1")
    second = page.evaluate(MBUZZ_VISIT)
    # the second visit's page view is stored before the purchase is sent, so its time is before
    # the purchase's: both are skew-corrected (time + received − sent), and a page view received
    # before the purchase was sent lands before it on the server's clock. Without this wait a
    # page view delayed in flight under load lands up to its delay later than it happened (the
    # correction adds the latency), and the journey twice lost the second session (issue 14)
    wait_for_events(site.database_url, site.account_id, first["visitorId"], {"page_view": 3})
    answer = page.evaluate(MBUZZ_CONVERT, user_id)
    page.goto(f"{site.shop.origin}/app/thanks")
    third = page.evaluate(MBUZZ_VISIT)
    cookies = {c["name"]: c["value"] for c in context.cookies(site.shop.origin)}
    events = wait_for_events(
        site.database_url,
        site.account_id,
        first["visitorId"],
        {"page_view": 4, "queued_before_load": 3, "add_to_cart": 1, "identify": 1},
    )
    context.close()
    conversions = rows(
        site.database_url,
        "select * from raw.conversions where account_id = %s and visitor_id = %s",
        (site.account_id, first["visitorId"]),
    )
    return Run(
        first["visitorId"],
        user_id,
        events,
        recorder,
        answer and answer.get("conversion_id"),
        {
            "visits": [first, second, third],
            "answer": answer,
            "cookies": cookies,
            "landing": landing,
            "conversions": conversions,
        },
    )


def test_mbuzz_js_keeps_one_first_party_visitor_id(mbuzz_run):
    visits = mbuzz_run.extra["visits"]
    assert len({v["visitorId"] for v in visits}) == 1
    assert mbuzz_run.extra["cookies"]["_mbuzz_vid"] == mbuzz_run.visitor_id
    assert {e["visitor_id"] for e in mbuzz_run.events} == {mbuzz_run.visitor_id}
    assert visits[2]["userId"] == mbuzz_run.user_id  # remembered on the next page load


def test_mbuzz_js_page_views_on_load_and_on_route_changes(site, mbuzz_run):
    pages = [e for e in mbuzz_run.events if e["event_type"] == "page_view"]
    urls = [urlsplit(e["properties"]["url"]) for e in pages]
    assert [u.path for u in urls] == ["/app/", "/app/pricing", "/app/", "/app/thanks"]
    landing, route_change = pages[0], pages[1]
    assert landing["properties"]["url"] == mbuzz_run.extra["landing"]  # click ids stay in the url
    assert "fbclid=FB-1" in landing["properties"]["url"] and "gclid=G-1" in pages[2]["properties"]["url"]
    assert landing["context"]["campaign"] == {"source": "newsletter", "medium": "email", "name": "spring"}
    assert landing["properties"]["utm_source"] == "newsletter" and landing["properties"]["utm_medium"] == "email"
    assert route_change["properties"]["referrer"] == mbuzz_run.extra["landing"]
    assert "Chrome" in landing["context"]["userAgent"] and landing["context"]["locale"]
    assert landing["context"]["library"]["name"] == "mbuzz.js"
    assert pages[3]["user_id"] == mbuzz_run.user_id


def test_mbuzz_js_track_identify_and_the_queue_snippet(site, mbuzz_run):
    events = mbuzz_run.events
    queued = [e for e in events if e["event_type"] == "queued_before_load"]
    assert len(queued) == 3  # one per page load, sent once the script had loaded
    assert queued[0]["properties"]["step"] == 1 and queued[0]["properties"]["event_name"] == "Queued Before Load"
    cart = next(e for e in events if e["event_type"] == "add_to_cart")
    assert cart["properties"]["sku"] == "SKU-9" and cart["properties"]["event_name"] == "Add To Cart"
    identify = next(e for e in events if e["event_type"] == "identify")
    assert identify["user_id"] == mbuzz_run.user_id and identify["properties"]["traits"] == {"plan": "pro"}
    posts = mbuzz_run.recorder.posts(site.api, "/v1/b")
    assert posts and all(p["headers"]["content-type"].startswith("text/plain") for p in posts)
    sent = [m["messageId"] for p in posts for m in json.loads(p["body"])["batch"]]
    assert len(set(sent)) == len(sent)  # nothing failed, so nothing was sent twice
    # every stored event has the id the browser made (a uuid; the server would have made evt_…),
    # including those beaconed while a page was going away (which the recorder may not see)
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", e["event_id"])
        for e in events
    ), [e["event_id"] for e in events]
    assert len({e["event_id"] for e in events}) == len(events)


def test_mbuzz_js_conversion_is_recorded_with_the_visitor_and_user(mbuzz_run):
    answer = mbuzz_run.extra["answer"]
    assert answer is not None and set(answer) == {"conversion_id"}  # a publishable key gets the id only
    [conversion] = mbuzz_run.extra["conversions"]
    assert conversion["conversion_id"] == answer["conversion_id"] and conversion["user_id"] == mbuzz_run.user_id
    assert float(conversion["revenue"]) == 49.9 and conversion["currency"] == "EUR"
    assert conversion["properties"] == {"order_id": "A-1"}


BROWSER_CLOCK_BEHIND_MS = 2 * 3600 * 1000
SKEWED_CLOCK = (
    """(() => {
  const RealDate = Date, skew = -%d;
  class SkewedDate extends RealDate {
    constructor(...args) { if (args.length) super(...args); else super(RealDate.now() + skew); }
    static now() { return RealDate.now() + skew; }
  }
  window.Date = SkewedDate;
})();"""
    % BROWSER_CLOCK_BEHIND_MS
)


def test_mbuzz_js_conversion_lands_after_its_page_view_when_the_browser_clock_is_wrong(site, browser):
    """The page's clock is two hours behind: mbuzz.js's page view (sentAt) and its conversion
    (sent_at) are both corrected to the server's clock, so the conversion follows the page view
    and is credited to its session, not dated two hours before it (unassigned)."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(SKEWED_CLOCK)
    page = context.new_page()
    page.goto(f"{site.shop.origin}/app/skewed?utm_source=skew_test&utm_medium=email&utm_campaign=clock")
    visitor = page.evaluate(MBUZZ_VISIT)["visitorId"]
    behind_ms = time.time() * 1000 - page.evaluate("() => Date.now()")
    stored = wait_for_events(site.database_url, site.account_id, visitor, {"page_view": 1})
    view = next(e for e in stored if e["event_type"] == "page_view")
    before = datetime.now(timezone.utc)
    answer = page.evaluate("() => mbuzz.conversion('purchase', {revenue: 10, currency: 'EUR'})")
    after = datetime.now(timezone.utc)
    context.close()
    assert abs(behind_ms - BROWSER_CLOCK_BEHIND_MS) < 60_000, behind_ms  # the page's clock is skewed
    assert answer and answer["conversion_id"].startswith("conv_"), answer
    assert view["original_timestamp"] < before - timedelta(hours=1)  # the browser's time, as sent
    [conversion] = rows(
        site.database_url,
        "select converted_at from raw.conversions where account_id = %s and visitor_id = %s",
        (site.account_id, visitor),
    )
    assert view["occurred_at"] < conversion["converted_at"] <= after, (view["occurred_at"], conversion)
    assert conversion["converted_at"] > before - timedelta(seconds=5)  # on the server's clock
    credits = requests.get(
        f"{site.api}/api/v1/conversions/{answer['conversion_id']}",
        headers={"Authorization": f"Bearer {site.sk}"},
        timeout=20,
    ).json()["attribution_credits"]
    assert [t["channel"] for t in credits["linear"]] == ["email"], credits["linear"]


def test_mbuzz_js_retries_a_failed_send_with_the_same_message_ids(site, browser):
    """The first batch reaches the server and is stored, but the answer is lost (503): the retry
    carries the same messageIds and the page view is stored once."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    attempts: list[dict] = []

    def first_answer_lost(route):
        attempts.append(json.loads(route.request.post_data))
        upstream = route.fetch()
        if len(attempts) == 1:
            assert upstream.status == 200
            return route.fulfill(
                status=503, headers={"Access-Control-Allow-Origin": site.shop.origin, "Retry-After": "1"}, body="{}"
            )
        return route.fulfill(response=upstream)

    context.route(f"{site.api}/v1/b", first_answer_lost)
    page = context.new_page()
    page.goto(f"{site.shop.origin}/app/retry?utm_source=retry_test&utm_medium=email")
    visitor = page.evaluate(MBUZZ_VISIT)["visitorId"]
    deadline = time.monotonic() + ROWS_TIMEOUT
    while len(attempts) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    context.unroute_all(behavior="ignoreErrors")  # a later retry still in the handler must not outlive the page
    context.close()
    assert len(attempts) >= 2, attempts
    first_ids = [m["messageId"] for m in attempts[0]["batch"]]
    assert first_ids and set(first_ids) <= {m["messageId"] for m in attempts[1]["batch"]}
    events = wait_for_events(site.database_url, site.account_id, visitor, {"page_view": 1, "queued_before_load": 1})
    assert sorted(e["event_type"] for e in events) == ["page_view", "queued_before_load"]  # once each


def test_mbuzz_js_honours_global_privacy_control_when_asked(site, browser):
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script("Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})")
    recorder = Recorder(context)
    page = context.new_page()
    page.goto(f"{site.shop.origin}/app/private?utm_source=gpc&utm_medium=email")
    state = page.evaluate(MBUZZ_VISIT)
    answer = page.evaluate("() => mbuzz.conversion('purchase', {revenue: 1, currency: 'EUR'})")
    page.evaluate("() => { mbuzz.track('should_not_send'); mbuzz.identify('gpc_user'); mbuzz.flush(); }")
    page.wait_for_timeout(300)
    cookies = context.cookies(site.shop.origin)
    context.close()
    assert state == {"visitorId": None, "userId": None} and answer is None
    assert recorder.posts(site.api) == [] and not [c for c in cookies if c["name"].startswith("_mbuzz")]
    assert (
        rows(
            site.database_url,
            "select count(*) as n from raw.events where account_id = %s and properties->>'utm_source' = 'gpc'",
            (site.account_id,),
        )[0]["n"]
        == 0
    )


def test_a_disallowed_origin_is_refused_and_nothing_is_stored(site, browser):
    context, recorder, page = watched_page(browser)
    with page.expect_response(lambda r: r.url == f"{site.api}/v1/b") as refused:
        page.goto(f"{site.other_shop.origin}/app/?utm_source=elsewhere&utm_medium=email")
    visitor = page.evaluate(MBUZZ_VISIT)["visitorId"]
    answer = page.evaluate("() => mbuzz.conversion('purchase', {revenue: 5, currency: 'EUR'})")
    # what analytics.js would send from there: text/plain with the key, to a short path
    seen = page.evaluate(
        """async ([api, key]) => {
      const response = await fetch(api + '/v1/p', {method: 'POST', headers: {'Content-Type': 'text/plain'},
        body: JSON.stringify({writeKey: key, type: 'page', anonymousId: 'elsewhere', messageId: 'm-elsewhere'})});
      return {status: response.status, body: await response.json()};
    }""",
        [site.api, site.pk],
    )
    page.wait_for_timeout(300)
    context.close()
    assert refused.value.status == 403
    assert seen["status"] == 403 and seen["body"]["error"]["code"] == "origin_not_allowed"
    assert site.other_shop.origin in seen["body"]["error"]["message"]
    assert answer is None
    assert any("403" in line for line in recorder.console), recorder.console  # mbuzz.js says why
    assert events_of(site.database_url, site.account_id, visitor) == []
    assert events_of(site.database_url, site.account_id, "elsewhere") == []
    assert (
        rows(
            site.database_url,
            "select count(*) as n from raw.conversions where account_id = %s and visitor_id = %s",
            (site.account_id, visitor),
        )[0]["n"]
        == 0
    )


# ---------------------------------------------------------------- the warehouse: one dbt build over both runs

SESSIONS = """
select session_id, visitor_id, user_id, identity_key, channel, utm_source, utm_medium, utm_campaign, started_at
from marts.fct_sessions where account_id = %s and visitor_id = %s order by started_at
"""
JOURNEY = """
select touch_index, session_id, channel, utm_source, utm_medium, identity_key
from marts.fct_conversion_journeys where account_id = %s and conversion_id = %s order by touch_index
"""


@pytest.fixture(scope="module")
def built(site, ajs_run, mbuzz_run, tmp_path_factory) -> str:
    from mbuzz.warehouse import run_dbt

    target = tmp_path_factory.mktemp("browser-dbt")
    run_dbt(
        [
            "build",
            "--select",
            "+fct_sessions",
            "+fct_conversion_journeys",
            "--indirect-selection",
            "cautious",
            "--target-path",
            str(target / "target"),
            "--log-path",
            str(target / "logs"),
        ],
        url=site.database_url,
        target="postgres",
        subprocess_mode=True,
    )
    return site.database_url


@pytest.mark.parametrize("client", ["analytics_next", "mbuzz_js"])
def test_sessions_are_classified_by_their_utms_and_the_journey_joins_up(request, site, built, client):
    run: Run = request.getfixturevalue({"analytics_next": "ajs_run", "mbuzz_js": "mbuzz_run"}[client])
    sessions = rows(built, SESSIONS, (site.account_id, run.visitor_id))
    assert [(s["utm_source"], s["utm_medium"], s["channel"]) for s in sessions] == [
        ("newsletter", "email", "email"),
        ("google", "cpc", "paid_search"),
    ], sessions
    assert {s["identity_key"] for s in sessions} == {f"user:{run.user_id}"}  # identified after the first
    journey = rows(built, JOURNEY, (site.account_id, run.conversion_id))
    assert [t["session_id"] for t in journey] == [s["session_id"] for s in sessions], journey
    assert [t["channel"] for t in journey] == ["email", "paid_search"]
    assert journey[0]["identity_key"] == f"user:{run.user_id}"
