"""The docs site (/docs/): every guide of docs/api rendered, navigation, links as on GitHub, 404s,
escaping, and a signed-in reader's own host, account and key id in place of the placeholders."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dashboard_helpers import PASSWORD, csrf_token
from mbuzz.accounts import create_key

GUIDES = Path(__file__).resolve().parents[2] / "docs" / "api"
HREF = re.compile(r'href="([^"]+)"')
IDS = re.compile(r'id="([^"]+)"')
TAG = re.compile(r"<[^>]+>")


def _text(html: str) -> str:
    """What the reader sees (highlighting splits code into spans)."""
    import html as entities

    return entities.unescape(TAG.sub("", html))


def _guides() -> list[str]:
    return sorted(p.stem for p in GUIDES.glob("*.md"))


def test_index_lists_every_guide_getting_started_first_and_the_reference(client):
    page = client.get("/docs/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.data.decode()
    listed = re.findall(r'<li><a href="/docs/([a-z_]+)">', html)
    assert listed[0] == "getting_started"
    assert set(_guides()) <= set(listed)
    assert 'href="/api/v1/docs"' in html and 'href="/api/v1/openapi.yml"' in html
    assert client.get("/docs").status_code == 308  # → /docs/


def test_pages_carry_the_dashboards_security_headers(client):
    response = client.get("/docs/getting_started")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Cookie" in response.headers["Vary"]


@pytest.mark.parametrize("name", _guides())
def test_every_guide_renders_with_anchors_and_the_sidebar(client, name):
    page = client.get(f"/docs/{name}")
    assert page.status_code == 200
    html = page.data.decode()
    assert re.search(r'<h1 id="[a-z0-9-]+">', html)
    assert f'href="/docs/{name}" aria-current="page"' in html  # the sidebar marks where the reader is
    assert 'class="header-anchor"' in html


def test_every_link_between_guides_resolves(client):
    """Links written for GitHub (`events.md`, `examples/x.sh`, `openapi.yml`, `#anchor`) all work on the site."""
    checked = set()
    for name in _guides():
        html = client.get(f"/docs/{name}").data.decode()
        for href in HREF.findall(html):
            parts = urlsplit(href.replace("&amp;", "&"))
            if parts.scheme or href.startswith("/dashboard"):
                continue
            path = parts.path or f"/docs/{name}"
            assert path.startswith(("/docs/", "/api/v1/")), f"{name}: {href} does not point into the site"
            if (path, parts.fragment) in checked:
                continue
            target = client.get(path)
            assert target.status_code == 200, f"{name}: {href} answers {target.status_code}"
            if parts.fragment:
                assert parts.fragment in IDS.findall(target.data.decode()), f"{name}: no anchor for {href}"
            checked.add((path, parts.fragment))
    assert ("/docs/events", "") in checked and ("/api/v1/openapi.yml", "") in checked
    assert ("/docs/examples/send_events.sh", "") in checked


def test_tables_and_highlighted_code(client):
    html = client.get("/docs/errors").data.decode()
    assert "<table>" in html and "<th>" in html
    getting_started = client.get("/docs/getting_started").data.decode()
    assert '<code class="language-sh">' in getting_started and '<span class="c1">' in getting_started
    css = client.get("/docs/highlight.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and b".doc pre .c1" in css.data


@pytest.mark.parametrize(
    "path",
    [
        "/docs/no_such_guide",
        "/docs/getting_started.md",
        "/docs/..%2fREADME",
        "/docs/examples/nope.sh",
        "/docs/examples/..%2f..%2fpyproject.toml",
        "/docs/examples/",
        "/docs/a/b/c",
        "/docs/openapi",
        "/docs/project/pyproject.toml",
        "/docs/project/docs/api/events.md",
        "/docs/project/..%2fpyproject.toml",
        "/docs/project/docs/../README.md",
    ],
)
def test_unknown_pages_are_html_404s(client, path):
    page = client.get(path)
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert b"There is no guide here" in page.data and b'href="/docs/getting_started"' in page.data


def test_the_projects_own_docs_the_guides_link_to_render_on_the_site(client):
    """docs/attribution.md and the SDK's README are linked from the guides; their own links work too."""
    page = client.get("/docs/project/docs/attribution.md")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.data.decode()
    assert re.search(r'<h1 id="[a-z0-9-]+">', html) and 'id="the-dsl"' in html
    readme = client.get("/docs/project/clients/python/README.md").data.decode()
    assert "TrackingMiddleware" in readme
    for href in HREF.findall(readme):
        parts = urlsplit(href.replace("&amp;", "&"))
        if not parts.scheme and parts.path.startswith("/docs/"):
            assert client.get(parts.path).status_code == 200, href


def test_markdown_is_escaped_and_bad_links_dropped(app, tmp_path):
    (tmp_path / "evil.md").write_text(
        "# Evil <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        "[click](javascript:alert(1)) [ok](other.md#x) [gone](../secrets.md)\n"
    )
    (tmp_path / "other.md").write_text("# Other\n\n## X\n")
    app.config["GUIDES_PATH"] = str(tmp_path)
    try:
        client = app.test_client()
        html = client.get("/docs/evil").data.decode()
        assert "<script>alert" not in html and "&lt;script&gt;" in html
        assert "<img" not in html and "&lt;img src=x" in html
        assert 'href="javascript' not in html
        assert 'href="/docs/other#x"' in html and 'href="../secrets.md"' in html  # unknown targets stay as written
        assert client.get("/docs/getting_started").status_code == 404  # only the configured folder
    finally:
        app.config.pop("GUIDES_PATH")


# -- the reader's own values ------------------------------------------------------------------------------------------


def test_signed_out_readers_see_the_placeholders(client):
    html = client.get("/docs/getting_started").data.decode()
    assert "http://127.0.0.1:8000/api/v1/validate" in html and "acct_…" in html and "key_…" in html
    assert "Sign in to see your own host and keys" in html
    assert "http://localhost/api" not in html


def test_signed_in_readers_see_their_host_account_and_key_id_never_the_secret(signed_in, conn, admin, other_admin):
    secret = create_key(conn, admin.account_id, "test", "backend")
    theirs = create_key(conn, other_admin.account_id, "test", "theirs")
    response = signed_in.get("/docs/getting_started")
    html = response.data.decode()
    assert "http://localhost/api/v1/validate" in html and "http://127.0.0.1:8000" not in html
    assert f"mbuzz keys revoke {secret.key.id}" in html
    assert f"--account {admin.account_id}" in _text(html) and "acct_…" not in html
    assert secret.plaintext not in html and secret.key.key_prefix not in html
    assert theirs.key.id not in html and other_admin.account_id not in html
    assert "sk_test_…" in html  # secret keys stay placeholders
    assert "Set-Cookie" not in response.headers  # the docs read the session, never write it
    assert response.headers["Cache-Control"] == "private, no-cache"
    example = signed_in.get("/docs/examples/send_events.sh").data.decode()
    assert "MBUZZ_API_URL=http://localhost" in example and secret.plaintext not in example


def test_revoked_keys_are_not_shown(signed_in, conn, admin):
    from mbuzz.accounts import revoke_key

    old = create_key(conn, admin.account_id, "test", "old").key
    revoke_key(conn, old.id, admin.account_id)
    html = signed_in.get("/docs/getting_started").data.decode()
    assert old.id not in html and "mbuzz keys revoke key_…" in html


@pytest.mark.parametrize("host", ['evil.example"><script>x', "evil.example/`x`", "a b"])
def test_a_strange_host_header_is_never_substituted(signed_in, host):
    response = signed_in.get("/docs/getting_started", headers={"Host": host})
    html = response.data.decode()
    assert "<script>x" not in html and "http://127.0.0.1:8000/api/v1/validate" in html


def test_sign_in_from_the_docs_comes_back_to_the_docs(client, admin):
    page = client.get("/dashboard/login?next=/docs/events")
    response = client.post(
        "/dashboard/login?next=/docs/events",
        data={"csrf_token": csrf_token(page.data), "email": admin.email, "password": PASSWORD},
    )
    assert response.status_code == 302 and response.location == "/docs/events"
    assert admin.account_name.encode() in client.get("/docs/events").data


def test_signed_in_readers_see_their_publishable_key(signed_in, conn, admin):
    live = create_key(conn, admin.account_id, "live", "shop", publishable=True, origins=["https://shop.example"])
    html = signed_in.get("/docs/getting_started").data.decode()
    assert f'data-key="{live.plaintext}"' in _text(html) and "pk_live_…" not in html
    assert "http://localhost/mbuzz.js" in _text(html)
    assert "No active publishable key" not in html


def test_without_a_publishable_key_the_reader_is_told_where_to_make_one(signed_in):
    html = signed_in.get("/docs/getting_started").data.decode()
    assert "pk_live_…" in html and "There is no active publishable key yet" in html
    assert 'href="/dashboard/keys"' in html
