"""GET /mbuzz.js: the tracker is served small, cacheable (ETag, short max-age), gzipped and to any origin.

What the script does in a browser is tested in tests/browser/test_browser_clients.py.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess

import pytest

from ingest_api.tracker import SOURCE

MAX_BYTES = 20 * 1024  # the readable source, comments included
MAX_GZIPPED_BYTES = 6 * 1024  # what a browser downloads


def test_the_script_is_served_with_cache_headers_and_cors(client):
    response = client.get("/mbuzz.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.data == SOURCE.read_bytes()
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.headers["ETag"].startswith('"') and "Content-Encoding" not in response.headers


def test_the_etag_revalidates_per_encoding(client):
    plain = client.get("/mbuzz.js")
    zipped = client.get("/mbuzz.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] != plain.headers["ETag"]  # different bytes, different tags

    again = client.get("/mbuzz.js", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == zipped.headers["ETag"]
    stale = client.get("/mbuzz.js", headers={"If-None-Match": '"an-older-version"'})
    assert stale.status_code == 200 and stale.data == plain.data
    other_encoding = client.get("/mbuzz.js", headers={"If-None-Match": zipped.headers["ETag"]})
    assert other_encoding.status_code == 200  # the gzip tag does not validate the plain bytes


def test_the_script_is_small():
    body = SOURCE.read_bytes()
    assert len(body) <= MAX_BYTES, f"mbuzz.js is {len(body)} bytes"
    assert len(gzip.compress(body, 9)) <= MAX_GZIPPED_BYTES


def test_the_script_is_one_self_contained_iife():
    code = re.sub(r"/\*.*?\*/", "", SOURCE.read_text(), flags=re.S).strip()  # without the header comment
    assert code.startswith("(function (window, document) {") and code.endswith("}(window, document));")
    assert not re.search(r"^\s*(import|export)\b|\brequire\(", code, flags=re.M)  # no modules, no dependencies
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the syntax check needs it)")
    done = subprocess.run([node, "--check", str(SOURCE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_cache_lifetime_is_configurable(database_url):
    from ingest_api import create_app

    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "TRACKER_MAX_AGE": 60})
    try:
        assert app.test_client().get("/mbuzz.js").headers["Cache-Control"] == "public, max-age=60"
    finally:
        app.extensions["mbuzz.db"].dispose()


def test_only_get_and_head(client):
    assert client.head("/mbuzz.js").status_code == 200
    response = client.post("/mbuzz.js", data="x")
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"
    assert client.get("/static/mbuzz.js").status_code == 404  # one home: /mbuzz.js
