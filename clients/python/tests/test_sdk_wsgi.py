"""TrackingMiddleware in a small real Flask app, served by werkzeug's WSGI server on a free port
and hit with real HTTP; the page views and the conversion land in a live `mbuzz serve`."""

from __future__ import annotations

import threading

import pytest
import requests
from flask import Flask, Response, jsonify, request, stream_with_context
from mbuzz_sdk.wsgi import ENVIRON_KEY, TrackingMiddleware
from sdk_helpers import rows
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import make_server

CHUNKS = [f"<p>part {n}</p>".encode() for n in range(5)]


def shop(client) -> Flask:
    app = Flask("shop")

    @app.get("/")
    def home():
        return "<html><body>shop</body></html>"

    @app.get("/api/cart")
    def cart():
        return jsonify({"items": 0, "visitor": request.environ[ENVIRON_KEY]})

    @app.post("/checkout")
    def checkout():
        client.conversion("purchase", visitor_id=request.environ[ENVIRON_KEY], revenue=20, currency="EUR")
        return "<p>thanks</p>"

    @app.get("/stream")
    def stream():
        def generate():
            yield from CHUNKS

        return Response(stream_with_context(generate()), mimetype="text/html")

    @app.get("/old")
    def old():
        return "", 302, {"Location": "/"}

    @app.get("/missing")
    def missing():
        return "<p>no such page</p>", 404

    @app.get("/health")
    def health():
        return "<p>ok</p>"

    app.wsgi_app = ProxyFix(
        TrackingMiddleware(
            app.wsgi_app,
            client,  # ProxyFix outside: the middleware sees https
            should_track=lambda environ: environ["PATH_INFO"] != "/health",
        ),
        x_proto=1,
        x_host=1,
    )
    return app


@pytest.fixture
def site(live_server, tenant, make_client):
    client = make_client(tenant.live_key, live_server.url)
    server = make_server("127.0.0.1", 0, shop(client), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield client, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_the_cookie_is_set_once_and_page_views_carry_it_with_utms(site, conn, tenant):
    client, url = site
    browser = requests.Session()
    landing = f"{url}/?utm_source=newsletter&utm_medium=email&utm_campaign=nov&gclid=EAIa9"
    first = browser.get(landing, headers={"Referer": "https://mail.example.com/", "User-Agent": "test-browser/1"})
    assert first.status_code == 200
    cookie = first.headers["Set-Cookie"]
    visitor_id = browser.cookies["_mbuzz_vid"]
    assert cookie.startswith(f"_mbuzz_vid={visitor_id};")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert attributes == {"path", "max-age", "samesite", "httponly"}  # no Secure over http
    assert "Max-Age=34128000" in cookie and "SameSite=Lax" in cookie

    second = browser.get(f"{url}/")
    assert "Set-Cookie" not in second.headers  # known visitor: the cookie is kept, not renewed
    assert client.flush(timeout=30)

    views = rows(conn, "events", tenant.account_id)
    assert [(v["event_type"], v["visitor_id"]) for v in views] == [("page_view", visitor_id)] * 2
    assert views[0]["properties"] == {
        "url": landing,
        "referrer": "https://mail.example.com/",
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "nov",
    }
    assert views[0]["context"]["userAgent"] == "test-browser/1"
    assert views[1]["properties"] == {"url": f"{url}/"}


def test_json_redirects_errors_posts_and_vetoed_pages_are_not_page_views(site, conn, tenant):
    client, url = site
    browser = requests.Session()
    cart = browser.get(f"{url}/api/cart")
    visitor_id = browser.cookies["_mbuzz_vid"]
    assert cart.json() == {"items": 0, "visitor": visitor_id}  # the cookie is set on any answer
    assert browser.get(f"{url}/old", allow_redirects=False).status_code == 302
    assert browser.get(f"{url}/missing").status_code == 404
    assert browser.get(f"{url}/health").status_code == 200
    assert browser.get(f"{url}/", headers={"Sec-Purpose": "prefetch"}).status_code == 200
    assert browser.post(f"{url}/checkout").status_code == 200
    browser.get(f"{url}/")  # the one page view
    assert client.flush(timeout=30)

    assert [(r["event_type"], r["properties"]["url"]) for r in rows(conn, "events", tenant.account_id)] == [
        ("page_view", f"{url}/")
    ]


def test_the_app_records_a_conversion_for_the_environ_visitor_id(site, conn, tenant):
    client, url = site
    browser = requests.Session()
    browser.get(f"{url}/?utm_source=google&utm_medium=cpc")
    assert browser.post(f"{url}/checkout").text == "<p>thanks</p>"
    assert client.flush(timeout=30)

    [conversion] = rows(conn, "conversions", tenant.account_id)
    assert conversion["visitor_id"] == browser.cookies["_mbuzz_vid"]
    assert (conversion["conversion_type"], str(conversion["revenue"]), conversion["currency"]) == (
        "purchase",
        "20.0000",
        "EUR",
    )


def test_streaming_responses_pass_through_chunk_by_chunk_and_are_tracked(site, conn, tenant):
    client, url = site
    with requests.get(f"{url}/stream", stream=True) as answer:
        assert answer.headers.get("Transfer-Encoding") == "chunked"  # not buffered into one body
        assert b"".join(answer.iter_content(chunk_size=None)) == b"".join(CHUNKS)
    assert client.flush(timeout=30)
    assert [r["properties"]["url"] for r in rows(conn, "events", tenant.account_id)] == [f"{url}/stream"]


def test_https_requests_get_a_secure_cookie_and_bad_cookies_are_replaced(site, conn, tenant):
    client, url = site
    answer = requests.get(
        f"{url}/",
        headers={
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "shop.example",
            "Cookie": "other=1; _mbuzz_vid=<script>",
        },
    )
    cookie = answer.headers["Set-Cookie"]
    assert "; Secure" in cookie and "<script>" not in cookie
    assert client.flush(timeout=30)
    [view] = rows(conn, "events", tenant.account_id)
    assert view["properties"]["url"] == "https://shop.example/"
    assert view["visitor_id"] == cookie.split(";")[0].split("=", 1)[1]
